//! Octet-counting framing, RFC 6587 §3.4.1:
//!
//! ```text
//! SYSLOG-FRAME = MSG-LEN SP SYSLOG-MSG
//! MSG-LEN      = NONZERO-DIGIT *DIGIT
//! ```
//!
//! The frame carries its own length, so messages may contain LF. The flip
//! side: there is no trailer to resynchronise on, so a bad prefix is fatal
//! for the connection (see [`super::FramingError::is_fatal`]).
//!
//! Tolerance: LF, CR, NUL, space and tab between frames are skipped. Some
//! senders (older syslog-ng, appliances) append LF after an octet-counted
//! message, and rsyslog accepts that too.

use super::{Buffer, Frame, FramingError, is_separator};

/// `u64::MAX` has 20 digits; a longer MSG-LEN cannot be meant seriously.
const MAX_DIGITS: usize = 20;

/// Decoder state for octet counting. Stateless apart from the buffer: the
/// prefix is at most a few bytes, so it is re-read when more data arrives.
#[derive(Debug, Default)]
pub struct OctetCountingDecoder {
    _private: (),
}

enum Prefix {
    /// Need more bytes to know.
    Incomplete,
    /// `MSG-LEN SP` parsed: message length and index of its first byte.
    Complete {
        len: usize,
        payload: usize,
    },
    Invalid(FramingError),
}

/// Parses `MSG-LEN SP` at `buf.start` (separators already skipped).
fn parse_prefix(buf: &Buffer, max: usize) -> Prefix {
    let data = &buf.data;
    let start = buf.start;
    let offset = buf.offset_of(start);
    // Errors carry the prefix bytes up to and including the offending one,
    // never "whatever happened to be buffered": that keeps the error
    // identical however the stream was split into reads (found by fuzzing).
    let sample = |end: usize| data[start..end].to_vec();
    let mut value: u64 = 0;
    let mut i = start;
    while i < data.len() && data[i].is_ascii_digit() {
        if i - start >= MAX_DIGITS {
            // Only reachable with an enormous configured maximum; keeps the
            // prefix (and the buffer) bounded regardless.
            return Prefix::Invalid(FramingError::InvalidLengthPrefix {
                offset,
                reason: "more than 20 digits in message length",
                bytes: sample(i + 1),
            });
        }
        if i == start && data[i] == b'0' {
            // MSG-LEN = NONZERO-DIGIT *DIGIT: a zero length is meaningless and
            // a leading zero means we are not looking at a length at all.
            return Prefix::Invalid(FramingError::InvalidLengthPrefix {
                offset,
                reason: "length starts with 0 (RFC 6587 §3.4.1 requires NONZERO-DIGIT)",
                bytes: sample(i + 1),
            });
        }
        value = value
            .saturating_mul(10)
            .saturating_add(u64::from(data[i] - b'0'));
        if value > max as u64 {
            // Detected while the digits are still arriving, so an absurd
            // length cannot make us wait for (or buffer) gigabytes. The
            // error covers the digits up to this point only, so it is the
            // same however the stream was split into reads.
            return Prefix::Invalid(FramingError::LengthTooLarge {
                offset,
                declared: value,
                max,
                bytes: sample(i + 1),
            });
        }
        i += 1;
    }
    if i == data.len() {
        return Prefix::Incomplete;
    }
    if i == start {
        return Prefix::Invalid(FramingError::InvalidLengthPrefix {
            offset,
            reason: "expected a decimal message length",
            bytes: sample(i + 1),
        });
    }
    if data[i] != b' ' {
        return Prefix::Invalid(FramingError::InvalidLengthPrefix {
            offset,
            reason: "message length not followed by a single space",
            bytes: sample(i + 1),
        });
    }
    Prefix::Complete {
        // value <= max, which is a usize.
        len: value as usize,
        payload: i + 1,
    }
}

impl OctetCountingDecoder {
    fn skip_separators(buf: &mut Buffer) {
        while buf.start < buf.data.len() && is_separator(buf.data[buf.start]) {
            buf.start += 1;
        }
    }

    pub(crate) fn decode(
        &mut self,
        buf: &mut Buffer,
        max: usize,
    ) -> Option<Result<Frame, FramingError>> {
        Self::skip_separators(buf);
        if buf.start == buf.data.len() {
            return None;
        }
        match parse_prefix(buf, max) {
            Prefix::Incomplete => None,
            Prefix::Invalid(e) => Some(Err(e)),
            Prefix::Complete { len, payload } => {
                if buf.data.len() - payload < len {
                    return None;
                }
                let frame = Frame {
                    offset: buf.offset_of(payload),
                    data: buf.data[payload..payload + len].to_vec(),
                };
                buf.start = payload + len;
                Some(Ok(frame))
            }
        }
    }

    pub(crate) fn finish(&mut self, buf: &mut Buffer) -> Result<(), FramingError> {
        Self::skip_separators(buf);
        let expected = match parse_prefix(buf, usize::MAX) {
            Prefix::Complete { len, .. } => Some(len),
            _ => None,
        };
        let (offset, bytes) = buf.take_pending();
        if bytes.is_empty() {
            return Ok(());
        }
        Err(FramingError::Truncated {
            offset,
            expected,
            bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::framing::{Framer, FramingError, FramingMode};

    fn run(input: &[u8], max: usize) -> Vec<Result<(u64, Vec<u8>), FramingError>> {
        crate::framing::frame_all(FramingMode::OctetCounting, input, max)
    }

    #[test]
    fn frames_with_embedded_newlines() {
        let got = run(b"7 <13>a\nb3 xyz", 100);
        assert_eq!(
            got,
            vec![Ok((2, b"<13>a\nb".to_vec())), Ok((11, b"xyz".to_vec()))]
        );
    }

    #[test]
    fn tolerates_lf_between_frames() {
        let got = run(b"1 a\n1 b\r\n", 100);
        assert_eq!(got, vec![Ok((2, b"a".to_vec())), Ok((6, b"b".to_vec()))]);
    }

    #[test]
    fn absurd_length_is_fatal_before_all_digits_arrive() {
        let mut f = Framer::with_max_frame_length(FramingMode::OctetCounting, 65536);
        f.push(b"99999");
        // 99999 > 65536 is already known: no need to wait for the space.
        let err = f.next_frame().unwrap().unwrap_err();
        assert!(err.is_fatal());
        assert!(matches!(
            err,
            FramingError::LengthTooLarge {
                offset: 0,
                declared: 99999,
                max: 65536,
                ..
            }
        ));
        assert!(f.next_frame().is_none());
    }

    #[test]
    fn huge_digit_run_is_rejected_without_overflow() {
        let got = run(&[b'9'; 100], 65536);
        assert!(matches!(
            got[0],
            Err(FramingError::LengthTooLarge {
                declared: 99999,
                ..
            })
        ));
        // Even with no practical maximum the digit run is bounded.
        let got = run(&[b'9'; 100], usize::MAX);
        assert!(matches!(
            got[0],
            Err(FramingError::InvalidLengthPrefix { reason, .. }) if reason.contains("20 digits")
        ));
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn invalid_prefixes() {
        for (input, reason_part, sample) in [
            (&b"0 x"[..], "starts with 0", &b"0"[..]),
            (&b"<13>msg"[..], "expected a decimal", &b"<"[..]),
            (&b"12x"[..], "not followed", &b"12x"[..]),
        ] {
            let got = run(input, 100);
            match &got[0] {
                Err(FramingError::InvalidLengthPrefix {
                    offset,
                    reason,
                    bytes,
                }) => {
                    assert_eq!(*offset, 0);
                    assert!(reason.contains(reason_part), "{reason}");
                    assert_eq!(bytes, sample);
                }
                other => panic!("unexpected {other:?}"),
            }
            assert_eq!(got.len(), 1, "no truncation after fatal error");
        }
    }

    /// Regression (cargo fuzz `framing`): the error used to carry "up to 32
    /// buffered bytes", so it differed with the read boundaries.
    #[test]
    fn invalid_prefix_error_is_independent_of_read_boundaries() {
        let stream = [0xD3u8; 40];
        let whole = run(&stream, 8);
        let mut f = Framer::with_max_frame_length(FramingMode::OctetCounting, 8);
        let mut split = Vec::new();
        for c in stream.chunks(3) {
            f.push(c);
            split.extend(std::iter::from_fn(|| f.next_frame()));
        }
        let split: Vec<_> = split
            .into_iter()
            .map(|r| r.map(|fr| (fr.offset, fr.data)))
            .collect();
        assert_eq!(whole, split);
        assert_eq!(whole[0].as_ref().unwrap_err().bytes(), &[0xD3]);
    }

    #[test]
    fn truncated_payload_reports_declared_length_and_bytes() {
        let got = run(b"3 abc10 <13>", 100);
        assert_eq!(
            got,
            vec![
                Ok((2, b"abc".to_vec())),
                Err(FramingError::Truncated {
                    offset: 5,
                    expected: Some(10),
                    bytes: b"10 <13>".to_vec()
                })
            ]
        );
    }

    #[test]
    fn truncated_prefix() {
        let got = run(b"12", 100);
        assert_eq!(
            got,
            vec![Err(FramingError::Truncated {
                offset: 0,
                expected: None,
                bytes: b"12".to_vec()
            })]
        );
    }

    #[test]
    fn frame_of_exactly_max() {
        assert_eq!(run(b"4 abcd", 4), vec![Ok((2, b"abcd".to_vec()))]);
        assert!(matches!(
            run(b"5 abcde", 4)[0],
            Err(FramingError::LengthTooLarge { declared: 5, .. })
        ));
    }
}
