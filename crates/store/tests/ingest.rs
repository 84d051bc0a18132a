//! Indexing: idempotent replay, gap detection, atomicity, reopen, schema versions, stats.
mod common;

use common::*;
use mamori_store::{EventKind, IndexEvent, Query, Store, StoreError};
use serde_json::Value;

fn evs(docs: &[(EventKind, Value)], ids: std::ops::Range<usize>) -> Vec<IndexEvent<'_>> {
    ids.map(|i| IndexEvent {
        id: i as u64,
        ingested_micros: i as i64,
        kind: docs[i].0.clone(),
        doc: &docs[i].1,
        raw: None,
    })
    .collect()
}

#[test]
fn replay_is_idempotent_and_indexed_upto_is_exact() {
    let (_d, mut s) = fresh();
    let docs = corpus(50);
    assert_eq!(s.indexed_upto().unwrap(), None);
    s.index_batch(&evs(&docs, 0..20)).unwrap();
    assert_eq!(s.indexed_upto().unwrap(), Some(19));
    // Full replay, then an overlapping batch.
    s.index_batch(&evs(&docs, 0..20)).unwrap();
    s.index_batch(&evs(&docs, 10..30)).unwrap();
    assert_eq!(s.indexed_upto().unwrap(), Some(29));
    let st = s.stats().unwrap();
    assert_eq!(st.total, 30);
    assert_eq!(st.by_kind.get("event"), Some(&30));
    let all = s
        .search(&Query {
            limit: Some(1000),
            ..Default::default()
        })
        .unwrap()
        .events;
    assert_eq!(all.len(), 30);
    s.index_batch(&[]).unwrap();
    assert_eq!(s.indexed_upto().unwrap(), Some(29));
}

#[test]
fn gaps_are_errors_and_roll_back_the_whole_batch() {
    let (_d, mut s) = fresh();
    let docs = corpus(50);
    // An empty index starts at id 0.
    let e = s.index_batch(&evs(&docs, 1..5)).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Gap {
                indexed_upto: None,
                expected: 0,
                got: 1
            }
        ),
        "{e}"
    );
    s.index_batch(&evs(&docs, 0..10)).unwrap();
    let e = s.index_batch(&evs(&docs, 11..20)).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Gap {
                indexed_upto: Some(9),
                expected: 10,
                got: 11
            }
        ),
        "{e}"
    );
    // A gap in the middle of a batch: nothing of the batch is kept.
    let mut b = evs(&docs, 10..20);
    b.remove(5);
    let e = s.index_batch(&b).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Gap {
                indexed_upto: Some(14),
                expected: 15,
                got: 16
            }
        ),
        "{e}"
    );
    assert_eq!(s.indexed_upto().unwrap(), Some(9));
    assert!(s.get(10).unwrap().is_none());
    assert_eq!(s.stats().unwrap().total, 10);
    // The store is still usable afterwards.
    s.index_batch(&evs(&docs, 10..20)).unwrap();
    assert_eq!(s.indexed_upto().unwrap(), Some(19));
}

#[test]
fn state_survives_reopen_and_get_returns_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("i.db");
    let docs = corpus(12);
    {
        let mut s = Store::open(&path).unwrap();
        s.index_batch(&evs(&docs, 0..12)).unwrap();
    }
    let s = Store::open(&path).unwrap();
    assert_eq!(s.indexed_upto().unwrap(), Some(11));
    let h = s.get(7).unwrap().unwrap();
    assert_eq!(h.id, 7);
    assert_eq!(h.doc, docs[7].1);
    assert_eq!(h.ingested_micros, 7);
    assert_eq!(h.kind, EventKind::Event);
    assert!(s.get(12).unwrap().is_none());
    assert!(s.get(u64::MAX).unwrap().is_none());
    // A read-only connection sees the same data and cannot write.
    let mut ro = Store::open_read_only(&path).unwrap();
    assert_eq!(ro.get(7).unwrap().unwrap(), h);
    assert!(ro.index_batch(&evs(&corpus(13), 12..13)).is_err());
}

#[test]
fn wal_mode_and_schema_version_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("i.db");
    drop(Store::open(&path).unwrap());
    let c = rusqlite::Connection::open(&path).unwrap();
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let v: i64 = c
        .query_row(
            "SELECT value FROM meta WHERE key='schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(v, mamori_store::SCHEMA_VERSION);
}

#[test]
fn newer_schema_version_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("i.db");
    drop(Store::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("UPDATE meta SET value = 99 WHERE key='schema_version'", [])
        .unwrap();
    let e = Store::open(&path).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::UnsupportedSchema {
                found: 99,
                supported: 2,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("rebuil"), "{e}");
    assert!(matches!(
        Store::open_read_only(&path).unwrap_err(),
        StoreError::UnsupportedSchema { found: 99, .. }
    ));
    // remove_files makes room for a rebuild.
    Store::remove_files(&path).unwrap();
    assert!(!path.exists());
    Store::remove_files(&path).unwrap();
    assert_eq!(Store::open(&path).unwrap().indexed_upto().unwrap(), None);
}

#[test]
fn read_only_open_of_a_missing_or_foreign_file_fails() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        Store::open_read_only(&dir.path().join("nope.db")).unwrap_err(),
        StoreError::Open { .. }
    ));
    let foreign = dir.path().join("foreign.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute("CREATE TABLE t (x)", [])
        .unwrap();
    assert!(matches!(
        Store::open_read_only(&foreign).unwrap_err(),
        StoreError::NotInitialised { .. }
    ));
}

#[test]
fn dotted_ecs_keys_are_understood() {
    let (_d, mut s) = fresh();
    let d = serde_json::json!({"@timestamp": ts(1), "user.name": "hayashi", "host.name": "pc-9", "event.action": "print", "file.path": "/a/b"});
    s.index_batch(&[IndexEvent {
        id: 0,
        ingested_micros: 0,
        kind: EventKind::Event,
        doc: &d,
        raw: None,
    }])
    .unwrap();
    for q in [
        Query {
            user: Some("hayashi".into()),
            ..Default::default()
        },
        Query {
            host: Some("pc-9".into()),
            ..Default::default()
        },
        Query {
            action: Some("print".into()),
            ..Default::default()
        },
        Query {
            path: Some("/a/".into()),
            ..Default::default()
        },
        Query {
            q: Some("hayash".into()),
            ..Default::default()
        },
    ] {
        assert_eq!(s.search(&q).unwrap().events.len(), 1, "{q:?}");
    }
}
