//! Deleting the index and re-feeding the same events gives identical results.
mod common;

use common::*;
use mamori_store::{EventKind, Query, Store};
use serde_json::json;

fn queries() -> Vec<Query> {
    vec![
        Query::default(),
        Query {
            user: Some("sato".into()),
            limit: Some(7),
            ..Default::default()
        },
        Query {
            host: Some("pc-02".into()),
            action: Some("file-copy".into()),
            ..Default::default()
        },
        Query {
            path: Some("/共有/".into()),
            limit: Some(1000),
            ..Default::default()
        },
        Query {
            q: Some("住民基本台帳".into()),
            limit: Some(1000),
            ..Default::default()
        },
        Query {
            kind: Some("quarantine".into()),
            ..Default::default()
        },
        Query {
            from: Some(ts(30)),
            to: Some(ts(90)),
            limit: Some(13),
            ..Default::default()
        },
    ]
}

#[test]
fn rebuild_into_a_fresh_database_gives_identical_results() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("i.db");
    let mut docs = corpus(400);
    docs[50] = (
        EventKind::Quarantine,
        json!({"mamori": {"quarantine": {"reason": "bad syslog", "source": "syslog", "line": 1, "offset": 0, "raw_b64": "eA=="}}}),
    );
    docs[300] = (
        EventKind::Admin,
        json!({"mamori": {"reingest": {"quarantine_id": 50, "new_ids": [299]}}}),
    );

    let snapshot = |s: &Store| {
        let mut out = Vec::new();
        for q in queries() {
            // Follow every query through all its pages.
            let mut q = q;
            loop {
                let p = s.search(&q).unwrap();
                let next = p.next_cursor.clone();
                out.push(p);
                match next {
                    Some(c) => q.cursor = Some(c),
                    None => break,
                }
            }
        }
        out.push(mamori_store::Page {
            events: s
                .timeline("ito", None, None, Some(1000), None)
                .unwrap()
                .events,
            next_cursor: None,
        });
        (
            out,
            s.stats().unwrap(),
            s.list_quarantine(None, None, false).unwrap(),
        )
    };

    let first = {
        let mut s = Store::open(&path).unwrap();
        index_all(&mut s, &docs, 37);
        snapshot(&s)
    };
    Store::remove_files(&path).unwrap();
    let second = {
        let mut s = Store::open(&path).unwrap();
        assert_eq!(s.indexed_upto().unwrap(), None);
        index_all(&mut s, &docs, 4096);
        snapshot(&s)
    };
    assert_eq!(first.1.total, 400);
    assert_eq!(
        first.2.items[0].reingested.as_ref().unwrap().new_ids,
        vec![299]
    );
    assert!(first.0.iter().map(|p| p.events.len()).sum::<usize>() > 400);
    assert_eq!(first, second);
}
