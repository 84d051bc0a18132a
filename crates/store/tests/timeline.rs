//! Per-person timelines: oldest first, bounded, isolated per user.
mod common;

use common::*;
use mamori_store::{EventKind, IndexEvent};

#[test]
fn timeline_is_oldest_first_by_timestamp_then_id_and_only_that_user() {
    let (_d, mut s) = fresh();
    let docs = corpus(400);
    index_all(&mut s, &docs, 33);
    let p = s.timeline("tanaka", None, None, Some(1000), None).unwrap();
    assert_eq!(p.events.len(), 80);
    assert!(p.next_cursor.is_none());
    assert!(p.events.iter().all(|h| h.doc["user"]["name"] == "tanaka"));
    for w in p.events.windows(2) {
        assert!((w[0].timestamp_micros, w[0].id) < (w[1].timestamp_micros, w[1].id));
    }
    // The corpus has late events, so time order differs from id order somewhere.
    let ids: Vec<u64> = p.events.iter().map(|h| h.id).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_ne!(
        ids, sorted,
        "test corpus should contain out-of-order timestamps"
    );
    // Timestamps come from @timestamp, not ingest time.
    let first = &p.events[0];
    let want = chrono::DateTime::parse_from_rfc3339(first.doc["@timestamp"].as_str().unwrap())
        .unwrap()
        .timestamp_micros();
    assert_eq!(first.timestamp_micros, want);
}

#[test]
fn timeline_bounds_and_cursor_interact() {
    let (_d, mut s) = fresh();
    // One user, one event per second 0..100, plus another user interleaved.
    let docs: Vec<_> = (0..200)
        .map(|i| {
            let u = if i % 2 == 0 { "kato" } else { "mori" };
            (EventKind::Event, doc(i / 2, u, "pc", "logon", "/", "x"))
        })
        .collect();
    index_all(&mut s, &docs, 64);
    let (from, to) = (ts(10), ts(20));
    let p = s
        .timeline("kato", Some(&from), Some(&to), Some(4), None)
        .unwrap();
    let secs = |p: &mamori_store::Page| -> Vec<i64> {
        p.events
            .iter()
            .map(|h| (h.timestamp_micros - BASE_MICROS) / 1_000_000)
            .collect()
    };
    assert_eq!(secs(&p), vec![10, 11, 12, 13]);
    let p2 = s
        .timeline(
            "kato",
            Some(&from),
            Some(&to),
            Some(4),
            p.next_cursor.as_deref(),
        )
        .unwrap();
    assert_eq!(secs(&p2), vec![14, 15, 16, 17]);
    let p3 = s
        .timeline(
            "kato",
            Some(&from),
            Some(&to),
            Some(4),
            p2.next_cursor.as_deref(),
        )
        .unwrap();
    assert_eq!(secs(&p3), vec![18, 19]);
    assert!(p3.next_cursor.is_none());
    assert!(
        s.timeline("nobody", None, None, None, None)
            .unwrap()
            .events
            .is_empty()
    );
}

#[test]
fn missing_or_bad_timestamp_falls_back_to_ingest_time() {
    let (_d, mut s) = fresh();
    let d0 = serde_json::json!({"user": {"name": "abe"}});
    let d1 = serde_json::json!({"user": {"name": "abe"}, "@timestamp": "not a time"});
    s.index_batch(&[
        IndexEvent {
            id: 0,
            ingested_micros: 2_000,
            kind: EventKind::Event,
            doc: &d0,
            raw: None,
        },
        IndexEvent {
            id: 1,
            ingested_micros: 1_000,
            kind: EventKind::Event,
            doc: &d1,
            raw: None,
        },
    ])
    .unwrap();
    let p = s.timeline("abe", None, None, None, None).unwrap();
    let got: Vec<(u64, i64)> = p
        .events
        .iter()
        .map(|h| (h.id, h.timestamp_micros))
        .collect();
    assert_eq!(got, vec![(1, 1_000), (0, 2_000)]);
}
