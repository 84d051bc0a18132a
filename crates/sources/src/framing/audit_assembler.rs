//! Grouping Linux audit records into events by their serial number.
//!
//! The kernel writes one audit *event* as several *records* (`SYSCALL`, `EXECVE`, `CWD`,
//! `PATH`…, then `PROCTITLE`), all with the same `msg=audit(<secs>.<ms>:<serial>)` stamp.
//! Records of different events may interleave (several CPUs), and auditd 3.x does not write the
//! kernel's `EOE` (end of event) record to `audit.log`, so an event is complete when:
//!
//! - an `EOE` record with its stamp arrives (streams that keep it, e.g. audisp);
//! - or [`Assembler::window`] further records have arrived since its last record (the bounded
//!   window: auditd flushes an event's records together, so a stamp that has not been seen
//!   for that many records will not come back);
//! - or the input ends ([`Assembler::finish`]).
//!
//! Completed groups come out in the order of their first record, so a file's events keep
//! their log order. The assembler only looks at the stamp; parsing the records is
//! [`crate::format::auditd`]'s job.

use std::collections::VecDeque;

/// `(seconds, milliseconds, serial)` of `msg=audit(1700000000.123:456)`.
pub type Stamp = (u64, u32, u64);

/// Default bounded window, in records.
pub const DEFAULT_WINDOW: usize = 64;

/// Groups items (records) with the same [`Stamp`].
#[derive(Debug)]
pub struct Assembler<T> {
    window: usize,
    /// Open groups, oldest first: stamp, records, record count at the last record.
    open: VecDeque<(Stamp, Vec<T>, u64)>,
    seen: u64,
    done: VecDeque<Vec<T>>,
}

impl<T> Assembler<T> {
    /// An assembler that closes a group after `window` records without its stamp
    /// (at least 1).
    pub fn new(window: usize) -> Self {
        Assembler { window: window.max(1), open: VecDeque::new(), seen: 0, done: VecDeque::new() }
    }

    /// The bounded window in records.
    pub fn window(&self) -> usize {
        self.window
    }

    /// Adds one record. `end_of_event` is true for an `EOE` record, which closes its group
    /// (and is itself not kept).
    pub fn push(&mut self, stamp: Stamp, item: Option<T>, end_of_event: bool) {
        self.seen += 1;
        let at = self.open.iter().position(|(s, _, _)| *s == stamp);
        let idx = match at {
            Some(i) => i,
            None => {
                self.open.push_back((stamp, Vec::new(), self.seen));
                self.open.len() - 1
            }
        };
        let g = &mut self.open[idx];
        g.2 = self.seen;
        if let Some(it) = item {
            g.1.push(it);
        }
        if end_of_event {
            // Closed; emitted in first-record order by `drain_ready`.
            g.2 = 0;
        }
        self.drain_ready();
    }

    /// Moves groups that are complete (closed by EOE or out of the window) to the output,
    /// keeping first-record order: a complete group waits for older open ones.
    fn drain_ready(&mut self) {
        let seen = self.seen;
        let window = self.window as u64;
        while let Some((_, _, last)) = self.open.front() {
            let complete = *last == 0 || seen - *last >= window;
            if !complete {
                break;
            }
            let (_, items, _) = self.open.pop_front().expect("front exists");
            if !items.is_empty() {
                self.done.push_back(items);
            }
        }
        // Bound memory even when an old group keeps the front busy: a group never waits for
        // more than `window` records after its own last one, so force the front out.
        while self.open.len() > self.window {
            let (_, items, _) = self.open.pop_front().expect("non-empty");
            if !items.is_empty() {
                self.done.push_back(items);
            }
        }
    }

    /// The next completed group, if any.
    pub fn next_group(&mut self) -> Option<Vec<T>> {
        self.done.pop_front()
    }

    /// End of input: every open group is complete.
    pub fn finish(&mut self) {
        while let Some((_, items, _)) = self.open.pop_front() {
            if !items.is_empty() {
                self.done.push_back(items);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(a: &mut Assembler<&'static str>) -> Vec<Vec<&'static str>> {
        std::iter::from_fn(|| a.next_group()).collect()
    }

    #[test]
    fn groups_by_stamp_in_first_record_order() {
        let mut a = Assembler::new(4);
        a.push((1, 0, 10), Some("syscall10"), false);
        a.push((1, 0, 11), Some("user11"), false);
        a.push((1, 0, 10), Some("path10"), false);
        assert!(a.next_group().is_none());
        a.finish();
        assert_eq!(all(&mut a), vec![vec!["syscall10", "path10"], vec!["user11"]]);
    }

    #[test]
    fn eoe_closes_and_window_bounds() {
        let mut a = Assembler::new(2);
        a.push((1, 0, 1), Some("a"), false);
        a.push((1, 0, 1), None, true);
        assert_eq!(all(&mut a), vec![vec!["a"]]);
        a.push((1, 0, 2), Some("b"), false);
        a.push((1, 0, 3), Some("c"), false);
        assert!(a.next_group().is_none());
        a.push((1, 0, 4), Some("d"), false);
        assert_eq!(all(&mut a), vec![vec!["b"]]);
        // Same serial but another second: another event.
        a.push((2, 0, 4), Some("e"), false);
        a.finish();
        assert_eq!(all(&mut a), vec![vec!["c"], vec!["d"], vec!["e"]]);
    }
}
