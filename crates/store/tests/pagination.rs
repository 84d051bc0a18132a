//! Keyset pagination: walking every page yields every matching event once, in order.
mod common;

use std::collections::HashSet;

use common::*;
use mamori_store::{EventKind, Hit, Query};

fn walk_search(s: &mamori_store::Store, base: Query, limit: u32) -> Vec<Hit> {
    let mut out = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let p = s
            .search(&Query {
                limit: Some(limit),
                cursor: cursor.clone(),
                ..base.clone()
            })
            .unwrap();
        assert!(p.events.len() <= limit as usize);
        pages += 1;
        assert!(pages < 10_000, "pagination does not terminate");
        out.extend(p.events);
        match p.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    out
}

fn assert_complete_and_ordered(hits: &[Hit], expected_len: usize, newest_first: bool) {
    let ids: HashSet<u64> = hits.iter().map(|h| h.id).collect();
    assert_eq!(ids.len(), hits.len(), "duplicate hits across pages");
    assert_eq!(hits.len(), expected_len, "missing hits");
    for w in hits.windows(2) {
        let (a, b) = (
            (w[0].timestamp_micros, w[0].id),
            (w[1].timestamp_micros, w[1].id),
        );
        if newest_first {
            assert!(a > b, "out of order: {a:?} then {b:?}");
        } else {
            assert!(a < b, "out of order: {a:?} then {b:?}");
        }
    }
}

#[test]
fn search_pages_cover_everything_once_for_many_page_sizes() {
    let (_d, mut s) = fresh();
    index_all(&mut s, &corpus(257), 50);
    for limit in [1, 2, 3, 7, 100, 256, 257, 1000] {
        let hits = walk_search(&s, Query::default(), limit);
        assert_complete_and_ordered(&hits, 257, true);
    }
    // With a filter and a full-text term too.
    let hits = walk_search(
        &s,
        Query {
            user: Some("ito".into()),
            ..Default::default()
        },
        4,
    );
    assert_complete_and_ordered(&hits, (0..257).filter(|i| i % 5 == 4).count(), true);
    assert!(hits.iter().all(|h| h.doc["user"]["name"] == "ito"));
    let hits = walk_search(
        &s,
        Query {
            q: Some("課税台帳".into()),
            ..Default::default()
        },
        6,
    );
    assert_complete_and_ordered(&hits, 64, true);
}

#[test]
fn exact_multiple_has_no_trailing_empty_page() {
    let (_d, mut s) = fresh();
    index_all(&mut s, &corpus(20), 20);
    let p1 = s
        .search(&Query {
            limit: Some(10),
            ..Default::default()
        })
        .unwrap();
    let p2 = s
        .search(&Query {
            limit: Some(10),
            cursor: p1.next_cursor.clone(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(p2.events.len(), 10);
    assert_eq!(p2.next_cursor, None);
}

#[test]
fn pages_stay_consistent_while_new_events_arrive() {
    let (_d, mut s) = fresh();
    let docs = corpus(60);
    index_all(&mut s, &docs[..40], 40);
    let p1 = s
        .search(&Query {
            limit: Some(15),
            ..Default::default()
        })
        .unwrap();
    // New events are newer than everything: they must not shift the following pages.
    let more: Vec<(EventKind, serde_json::Value)> = (0..20)
        .map(|i| {
            (
                EventKind::Event,
                doc(10_000 + i, "tanaka", "pc-01", "logon", "/x", "late"),
            )
        })
        .collect();
    let evs: Vec<_> = more
        .iter()
        .enumerate()
        .map(|(i, (k, d))| mamori_store::IndexEvent {
            id: 40 + i as u64,
            ingested_micros: 0,
            kind: k.clone(),
            doc: d,
            raw: None,
        })
        .collect();
    s.index_batch(&evs).unwrap();
    let mut rest = Vec::new();
    let mut c = p1.next_cursor.clone();
    while let Some(cur) = c {
        let p = s
            .search(&Query {
                limit: Some(15),
                cursor: Some(cur),
                ..Default::default()
            })
            .unwrap();
        rest.extend(p.events);
        c = p.next_cursor;
    }
    let mut all = p1.events;
    all.extend(rest);
    assert_complete_and_ordered(&all, 40, true);
    assert!(all.iter().all(|h| h.id < 40));
}

#[test]
fn timeline_pages_cover_everything_once() {
    let (_d, mut s) = fresh();
    index_all(&mut s, &corpus(500), 128);
    for limit in [1, 9, 100] {
        let mut all = Vec::new();
        let mut c: Option<String> = None;
        loop {
            let p = s
                .timeline("suzuki", None, None, Some(limit), c.as_deref())
                .unwrap();
            all.extend(p.events);
            match p.next_cursor {
                Some(n) => c = Some(n),
                None => break,
            }
        }
        assert_complete_and_ordered(&all, 100, false);
    }
}
