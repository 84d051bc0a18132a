//! The backend-independent test suite: the same events, the same queries, checked against a
//! reference computed here from the events themselves, for any [`IndexBackend`].
#![allow(dead_code)]

use mamori_store::extract;
use mamori_store::{EventKind, IndexBackend, IndexEvent, Query, StoreError};
use serde_json::{Value, json};

/// 2024-04-01T00:00:00Z in micros.
pub const BASE_MICROS: i64 = 1_711_929_600_000_000;

/// An RFC 3339 timestamp `secs` after BASE.
pub fn ts(secs: i64) -> String {
    chrono::DateTime::from_timestamp_micros(BASE_MICROS + secs * 1_000_000)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// A deterministic corpus with Japanese paths, equal and out-of-order timestamps, documents
/// without a timestamp, quarantined records, re-ingest admin events and a tombstone. `salt`
/// changes the users and messages (a second tenant's corpus).
pub fn corpus(n: usize, salt: &str) -> Vec<(EventKind, Value)> {
    let users = ["tanaka", "suzuki", "sato", "takahashi", "ito"];
    let hosts = ["pc-01", "pc-02", "srv-01"];
    let actions = ["file-read", "file-copy", "logon", "print"];
    let paths = [
        "/共有/住民課/住民基本台帳/2024.xlsx",
        "/共有/税務課/課税台帳/r6.csv",
        "/共有/住民課/転入届/a.pdf",
        "/home/tanaka/memo.txt",
    ];
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let secs = (i / 3) as i64 - if i % 7 == 0 { 10 } else { 0 };
        let user = format!("{}{salt}", users[i % 5]);
        let (kind, doc) = match i % 23 {
            5 => (
                EventKind::Quarantine,
                json!({"@timestamp": ts(secs), "message": format!("garbled line {i} {salt}"),
                       "mamori": {"quarantine": {"reason": "not JSON", "source": format!("syslog:{salt}")}}}),
            ),
            17 if i > 30 => (
                EventKind::Admin,
                json!({"@timestamp": ts(secs), "event": {"action": "reingest"}, "user": {"name": "admin"},
                       "mamori": {"reingest": {"quarantine_id": (i - 12) as u64, "new_ids": [i as u64 + 1000]}}}),
            ),
            11 => (
                EventKind::Event,
                // No @timestamp: the ingest time is used. A \u escape and mixed case in the text.
                json!({"user": {"name": user}, "host": {"name": hosts[i % 3]},
                       "message": format!("Logon ÄRGER \u{0007} Ｔａｎａｋａ {i} {salt}")}),
            ),
            19 => (EventKind::Tombstone, json!({"mamori": {"erased": true}})),
            _ => (
                EventKind::Event,
                json!({
                    "@timestamp": ts(secs),
                    "user": {"name": user},
                    "host": {"name": hosts[i % 3]},
                    "event": {"action": actions[i % 4], "original": format!("orig {salt} {i}")},
                    "file": {"path": paths[i % 4]},
                    "message": format!("event {i}: {} {} {salt}", actions[i % 4], paths[i % 4]),
                }),
            ),
        };
        out.push((kind, doc));
    }
    out
}

/// Ingest time of event `i`.
pub fn ingested(i: usize) -> i64 {
    BASE_MICROS + 5_000_000 + i as i64
}

/// The events as `IndexEvent`s (raw text given for even ids, absent for odd ones).
pub fn events<'a>(docs: &'a [(EventKind, Value)], raws: &'a [String]) -> Vec<IndexEvent<'a>> {
    docs.iter()
        .enumerate()
        .map(|(i, (k, d))| IndexEvent {
            id: i as u64,
            ingested_micros: ingested(i),
            kind: k.clone(),
            doc: d,
            raw: (i % 2 == 0).then(|| raws[i].as_bytes()),
        })
        .collect()
}

/// Indexes the corpus in batches of `batch`, with a replay of the previous batch each time
/// (must be skipped) and one gap attempt (must be refused, nothing written).
pub fn index_corpus<B: IndexBackend>(b: &mut B, docs: &[(EventKind, Value)], batch: usize) {
    let raws: Vec<String> = docs.iter().map(|(_, d)| d.to_string()).collect();
    let evs = events(docs, &raws);
    assert_eq!(
        b.indexed_upto().unwrap(),
        None,
        "{}: fresh index",
        b.backend_name()
    );
    let mut prev: Option<&[IndexEvent<'_>]> = None;
    for (n, chunk) in evs.chunks(batch).enumerate() {
        if n == 1 {
            let gap = &evs[batch + 1..batch + 3];
            let e = b.index_batch(gap).unwrap_err();
            assert!(
                matches!(e, StoreError::Gap { expected, got, .. } if expected == batch as u64 && got == batch as u64 + 1),
                "{e}"
            );
        }
        if let Some(p) = prev {
            // A replay overlapping the new chunk: old ids skipped, new ones indexed once.
            let mut both: Vec<IndexEvent<'_>> = p.to_vec();
            both.extend_from_slice(chunk);
            b.index_batch(&both).unwrap();
        } else {
            b.index_batch(chunk).unwrap();
        }
        b.index_batch(chunk).unwrap();
        prev = Some(chunk);
    }
    assert_eq!(b.indexed_upto().unwrap(), Some(docs.len() as u64 - 1));
}

struct Ref {
    id: u64,
    ts: i64,
    kind: EventKind,
    user: Option<String>,
    host: Option<String>,
    action: Option<String>,
    path: Option<String>,
    body: String,
    doc: Value,
}

fn reference(docs: &[(EventKind, Value)]) -> Vec<Ref> {
    docs.iter()
        .enumerate()
        .map(|(i, (k, d))| {
            let mut buf = String::new();
            extract::full_text(d, &mut buf);
            Ref {
                id: i as u64,
                ts: extract::timestamp_micros(d).unwrap_or(ingested(i)),
                kind: k.clone(),
                user: extract::str_field(d, &["user", "name"]).map(str::to_owned),
                host: extract::str_field(d, &["host", "name"]).map(str::to_owned),
                action: extract::str_field(d, &["event", "action"]).map(str::to_owned),
                path: extract::str_field(d, &["file", "path"]).map(str::to_owned),
                body: extract::fold(&buf),
                doc: d.clone(),
            }
        })
        .collect()
}

fn micros(s: &Option<String>) -> Option<i64> {
    s.as_deref().map(|s| extract::rfc3339_micros(s).unwrap())
}

fn expected_search(refs: &[Ref], q: &Query) -> Vec<u64> {
    let terms: Vec<String> =
        q.q.as_deref()
            .map(|t| t.split_whitespace().map(extract::fold).collect())
            .unwrap_or_default();
    let (from, to) = (micros(&q.from), micros(&q.to));
    let mut hits: Vec<&Ref> = refs
        .iter()
        .filter(|r| q.user.as_ref().is_none_or(|u| r.user.as_ref() == Some(u)))
        .filter(|r| q.host.as_ref().is_none_or(|u| r.host.as_ref() == Some(u)))
        .filter(|r| {
            q.action
                .as_ref()
                .is_none_or(|u| r.action.as_ref() == Some(u))
        })
        .filter(|r| q.kind.as_ref().is_none_or(|k| r.kind.as_str() == k))
        .filter(|r| {
            q.path
                .as_ref()
                .is_none_or(|p| r.path.as_ref().is_some_and(|f| f.starts_with(p.as_str())))
        })
        .filter(|r| from.is_none_or(|f| r.ts >= f) && to.is_none_or(|t| r.ts < t))
        .filter(|r| terms.iter().all(|t| r.body.contains(t.as_str())))
        .collect();
    hits.sort_by_key(|r| std::cmp::Reverse((r.ts, r.id)));
    hits.into_iter().map(|r| r.id).collect()
}

/// All pages of a search, following cursors.
pub fn search_all<B: IndexBackend>(b: &B, q: &Query) -> Vec<u64> {
    let mut q = q.clone();
    let mut ids = Vec::new();
    loop {
        let page = b
            .search(&q)
            .unwrap_or_else(|e| panic!("{}: {q:?}: {e}", b.backend_name()));
        assert!(page.events.len() <= q.limit.unwrap_or(100) as usize);
        ids.extend(page.events.iter().map(|h| h.id));
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => return ids,
        }
    }
}

fn timeline_all<B: IndexBackend>(
    b: &B,
    user: &str,
    from: Option<&str>,
    to: Option<&str>,
    limit: u32,
) -> Vec<u64> {
    let mut cursor: Option<String> = None;
    let mut ids = Vec::new();
    loop {
        let page = b
            .timeline(user, from, to, Some(limit), cursor.as_deref())
            .unwrap();
        ids.extend(page.events.iter().map(|h| h.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return ids,
        }
    }
}

fn q(f: impl FnOnce(&mut Query)) -> Query {
    let mut q = Query {
        limit: Some(7),
        ..Query::default()
    };
    f(&mut q);
    q
}

/// The query suite over the corpus of [`corpus`]`(n, salt)` indexed in `b`. Every result is
/// compared with the reference computed from the events; returns a transcript of all results
/// (ids, cursors, counters) so two backends can also be compared with each other.
pub fn check_queries<B: IndexBackend>(
    b: &B,
    docs: &[(EventKind, Value)],
    salt: &str,
) -> Vec<String> {
    let refs = reference(docs);
    let name = b.backend_name();
    let mut transcript = Vec::new();
    let tanaka = format!("tanaka{salt}");
    let queries = vec![
        q(|_| {}),
        q(|q| q.user = Some(tanaka.clone())),
        q(|q| {
            q.host = Some("pc-02".into());
            q.action = Some("file-copy".into());
        }),
        q(|q| q.path = Some("/共有/住民課".into())),
        q(|q| q.path = Some("/共有/住民課/住民基本台帳/2024.xlsx".into())),
        q(|q| q.q = Some("住民基本台帳".into())),
        q(|q| q.q = Some("ｔａｎａｋａ ärger".into())),
        q(|q| q.q = Some(format!("file-copy 住民課 {salt}"))),
        q(|q| {
            q.user = Some(tanaka.clone());
            q.q = Some("memo.txt".into());
        }),
        q(|q| {
            q.from = Some(ts(20));
            q.to = Some(ts(60));
        }),
        q(|q| {
            q.from = Some(ts(20));
            q.to = Some(ts(60));
            q.user = Some(format!("sato{salt}"));
            q.limit = Some(3);
        }),
        q(|q| q.kind = Some("quarantine".into())),
        q(|q| q.kind = Some("tombstone".into())),
        q(|q| q.q = Some("garbled".into())),
        q(|q| q.q = Some("no-such-text-anywhere".into())),
        q(|q| q.user = Some("nobody".into())),
        q(|q| {
            q.limit = Some(1000);
            q.q = Some("event".into());
        }),
    ];
    let mut non_empty = 0;
    for query in &queries {
        let want = expected_search(&refs, query);
        non_empty += usize::from(!want.is_empty());
        let got = search_all(b, query);
        assert_eq!(got, want, "{name}: search {query:?}");
        transcript.push(format!("search {query:?} -> {got:?}"));
    }
    assert!(
        non_empty >= 13,
        "the suite's queries should mostly have hits ({non_empty})"
    );
    // Each hit carries the document as indexed and the right timestamp.
    let first = b.search(&q(|q| q.limit = Some(50))).unwrap();
    assert_eq!(first.events.len(), 50);
    for h in &first.events {
        let r = &refs[h.id as usize];
        assert_eq!(h.doc, r.doc, "{name}: doc of {}", h.id);
        assert_eq!(
            (h.timestamp_micros, h.kind.clone(), h.ingested_micros),
            (r.ts, r.kind.clone(), ingested(h.id as usize))
        );
    }
    transcript.push(format!("page cursor {:?}", first.next_cursor));

    for user in ["tanaka", "sato", "ito"] {
        let user = format!("{user}{salt}");
        for (from, to) in [(None, None), (Some(ts(10)), Some(ts(70)))] {
            let mut want: Vec<&Ref> = refs
                .iter()
                .filter(|r| r.user.as_deref() == Some(user.as_str()))
                .filter(|r| {
                    from.as_deref()
                        .is_none_or(|f| r.ts >= extract::rfc3339_micros(f).unwrap())
                })
                .filter(|r| {
                    to.as_deref()
                        .is_none_or(|t| r.ts < extract::rfc3339_micros(t).unwrap())
                })
                .collect();
            want.sort_by_key(|r| (r.ts, r.id));
            let want: Vec<u64> = want.into_iter().map(|r| r.id).collect();
            let got = timeline_all(b, &user, from.as_deref(), to.as_deref(), 4);
            assert!(!want.is_empty());
            assert_eq!(got, want, "{name}: timeline {user} {from:?}..{to:?}");
            transcript.push(format!("timeline {user} {from:?} {to:?} -> {got:?}"));
        }
    }

    for id in [0u64, 5, 11, 19, docs.len() as u64 - 1] {
        let h = b
            .get(id)
            .unwrap()
            .unwrap_or_else(|| panic!("{name}: get {id}"));
        assert_eq!(h.doc, refs[id as usize].doc);
        transcript.push(format!("get {id} -> {}", h.doc));
    }
    assert!(b.get(docs.len() as u64 + 5).unwrap().is_none());
    assert!(b.get(u64::MAX).unwrap().is_none());

    // Counters and the quarantine list with its re-ingest state.
    let stats = b.stats().unwrap();
    assert_eq!(stats.total, docs.len() as u64);
    let nq = docs
        .iter()
        .filter(|(k, _)| *k == EventKind::Quarantine)
        .count() as u64;
    assert_eq!(stats.quarantine_total, nq);
    let reingested: std::collections::BTreeMap<u64, (u64, Vec<u64>)> = docs
        .iter()
        .enumerate()
        .filter(|(_, (k, _))| *k == EventKind::Admin)
        .filter_map(|(i, (_, d))| {
            let re = extract::field(d, &["mamori", "reingest"])?;
            let qid = re.get("quarantine_id")?.as_u64()?;
            let new: Vec<u64> = re["new_ids"]
                .as_array()?
                .iter()
                .filter_map(Value::as_u64)
                .collect();
            (docs[qid as usize].0 == EventKind::Quarantine).then_some((qid, (i as u64, new)))
        })
        .collect();
    assert!(!reingested.is_empty(), "corpus has re-ingests");
    assert_eq!(
        stats.quarantine_pending,
        nq - reingested.len() as u64,
        "{name}: {stats:?}"
    );
    assert_eq!(stats.indexed_upto, Some(docs.len() as u64 - 1));
    transcript.push(format!("stats {stats:?}"));

    for pending_only in [false, true] {
        let mut cursor: Option<String> = None;
        let mut seen = Vec::new();
        loop {
            let page = b
                .list_quarantine(Some(2), cursor.as_deref(), pending_only)
                .unwrap();
            for item in &page.items {
                assert_eq!(item.hit.kind, EventKind::Quarantine);
                assert_eq!(item.reason.as_deref(), Some("not JSON"));
                assert_eq!(item.source, Some(format!("syslog:{salt}")));
                match reingested.get(&item.hit.id) {
                    Some((admin, new)) => {
                        assert!(!pending_only);
                        let re = item.reingested.as_ref().expect("re-ingest state");
                        assert_eq!((re.admin_event_id, &re.new_ids), (Some(*admin), new));
                    }
                    None => assert!(item.reingested.is_none()),
                }
                seen.push(item.hit.id);
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let want: Vec<u64> = (0..docs.len() as u64)
            .rev()
            .filter(|i| docs[*i as usize].0 == EventKind::Quarantine)
            .filter(|i| !pending_only || !reingested.contains_key(i))
            .collect();
        assert_eq!(seen, want, "{name}: quarantine pending_only={pending_only}");
        transcript.push(format!("quarantine {pending_only} -> {seen:?}"));
    }

    // Invalid parameters: the same typed errors from every backend.
    let bad = |query: Query, param: &str| {
        let e = b.search(&query).unwrap_err();
        assert!(
            matches!(&e, StoreError::InvalidParam { param: p, .. } if *p == param),
            "{name}: {e}"
        );
        e.to_string()
    };
    transcript.push(bad(q(|q| q.limit = Some(0)), "limit"));
    transcript.push(bad(q(|q| q.limit = Some(1001)), "limit"));
    transcript.push(bad(q(|q| q.q = Some("abc de".into())), "q"));
    transcript.push(bad(q(|q| q.cursor = Some("t00".into())), "cursor"));
    transcript.push(bad(q(|q| q.from = Some("yesterday".into())), "from"));
    transcript.push(bad(
        q(|q| {
            q.from = Some(ts(9));
            q.to = Some(ts(1));
        }),
        "to",
    ));
    let e = b.timeline("", None, None, None, None).unwrap_err();
    assert!(e.is_invalid_input(), "{e}");
    let e = b.list_quarantine(Some(5), Some("s123"), false).unwrap_err();
    assert!(e.is_invalid_input(), "{e}");
    // A search cursor is not a timeline cursor.
    let c = b.search(&q(|_| {})).unwrap().next_cursor.unwrap();
    assert!(
        b.timeline(&tanaka, None, None, None, Some(&c))
            .unwrap_err()
            .is_invalid_input()
    );
    transcript
}
