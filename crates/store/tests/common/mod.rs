//! Shared helpers for the integration tests.
#![allow(dead_code)]

use mamori_store::{EventKind, IndexEvent, Store};
use serde_json::{Value, json};

/// 2024-04-01T00:00:00Z in micros.
pub const BASE_MICROS: i64 = 1_711_929_600_000_000;

/// An RFC 3339 timestamp `secs` after BASE.
pub fn ts(secs: i64) -> String {
    chrono::DateTime::from_timestamp_micros(BASE_MICROS + secs * 1_000_000)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// An ECS event document.
pub fn doc(secs: i64, user: &str, host: &str, action: &str, path: &str, message: &str) -> Value {
    json!({
        "@timestamp": ts(secs),
        "user": {"name": user},
        "host": {"name": host},
        "event": {"action": action, "original": format!("orig {message}")},
        "file": {"path": path},
        "message": message,
    })
}

/// A temp dir with a fresh store inside.
pub fn fresh() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("index.db")).unwrap();
    (dir, store)
}

/// Indexes `docs` (ids 0..) in batches of `batch`.
pub fn index_all(store: &mut Store, docs: &[(EventKind, Value)], batch: usize) {
    let evs: Vec<IndexEvent<'_>> = docs
        .iter()
        .enumerate()
        .map(|(i, (k, d))| IndexEvent {
            id: i as u64,
            ingested_micros: BASE_MICROS + i as i64,
            kind: k.clone(),
            doc: d,
            raw: None,
        })
        .collect();
    for chunk in evs.chunks(batch) {
        store.index_batch(chunk).unwrap();
    }
}

/// A deterministic corpus: `n` events over 5 users, 3 hosts, 4 actions, several Japanese paths,
/// with many equal timestamps (to exercise the id tie-break) and timestamps not in id order.
pub fn corpus(n: usize) -> Vec<(EventKind, Value)> {
    let users = ["tanaka", "suzuki", "sato", "takahashi", "ito"];
    let hosts = ["pc-01", "pc-02", "srv-01"];
    let actions = ["file-read", "file-copy", "logon", "print"];
    let paths = [
        "/共有/住民課/住民基本台帳/2024.xlsx",
        "/共有/税務課/課税台帳/r6.csv",
        "/共有/住民課/転入届/a.pdf",
        "/home/tanaka/memo.txt",
    ];
    (0..n)
        .map(|i| {
            // 3 events per second, and every 7th event is late by 10 s.
            let secs = (i / 3) as i64 - if i % 7 == 0 { 10 } else { 0 };
            let msg = format!("event {i}: {} {}", actions[i % 4], paths[i % 4]);
            (
                EventKind::Event,
                doc(
                    secs,
                    users[i % 5],
                    hosts[i % 3],
                    actions[i % 4],
                    paths[i % 4],
                    &msg,
                ),
            )
        })
        .collect()
}
