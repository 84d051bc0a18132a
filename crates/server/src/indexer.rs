//! The index follows the ledger: it reads payload records in ledger order and indexes them in
//! batches. It resumes from the index's own high-water mark, so after a crash, or after
//! `mamori reindex` deleted the index, it catches up by itself.

use mamori_ledger::{EntryKind, Ledger, Record};
use mamori_store::{EventKind, IndexEvent, Store};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BATCH: usize = 4096;

fn kind_of(k: EntryKind) -> EventKind {
    EventKind::from_name(k.as_str())
}

/// Decodes a record's payload as the JSON document to index. Erased payloads index as a stub.
pub fn doc_of(r: &Record) -> Value {
    if r.erased {
        return serde_json::json!({"mamori": {"erased": true}});
    }
    serde_json::from_slice(&r.payload).unwrap_or_else(|e| {
        serde_json::json!({"message": String::from_utf8_lossy(&r.payload), "mamori": {"undecodable_payload": e.to_string()}})
    })
}

/// Indexes one batch from the ledger; returns how many records were indexed.
pub fn step(ledger: &Ledger, store: &mut Store, cursor: &mut mamori_ledger::wal::RecordCursor) -> Result<usize, mamori_store::StoreError> {
    let bound = ledger.durable_size();
    let records = match cursor.read(bound, BATCH) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "indexer cannot read the payload store");
            return Ok(0);
        }
    };
    if records.is_empty() {
        return Ok(0);
    }
    let docs: Vec<Value> = records.iter().map(doc_of).collect();
    let events: Vec<IndexEvent<'_>> = records
        .iter()
        .zip(&docs)
        .map(|(r, d)| IndexEvent { id: r.index, ingested_micros: r.ingested_micros, kind: kind_of(r.kind), doc: d })
        .collect();
    store.index_batch(&events)?;
    Ok(records.len())
}

/// Brings the index up to the ledger's durable size (synchronously).
pub fn catch_up(ledger: &Ledger, store: &mut Store) -> Result<(), mamori_store::StoreError> {
    let from = store.indexed_upto()?.map_or(0, |i| i + 1);
    let mut cursor = ledger.records_from(from);
    while cursor.position() < ledger.durable_size() {
        if step(ledger, store, &mut cursor)? == 0 {
            break;
        }
    }
    Ok(())
}

/// Runs the follower on its own thread until `stop` is set.
pub fn spawn(ledger: Ledger, store: Arc<Mutex<Store>>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("indexer".into())
        .spawn(move || {
            let from = store.lock().unwrap().indexed_upto().ok().flatten().map_or(0, |i| i + 1);
            let mut cursor = ledger.records_from(from);
            while !stop.load(Ordering::SeqCst) {
                let n = {
                    let mut s = store.lock().unwrap();
                    match step(&ledger, &mut s, &mut cursor) {
                        Ok(n) => n,
                        Err(e) => {
                            // The batch was not indexed: rewind to the index's own high-water
                            // mark so nothing is skipped, and retry after a pause.
                            tracing::error!(error = %e, "indexing failed; retrying");
                            let from = s.indexed_upto().ok().flatten().map_or(0, |i| i + 1);
                            cursor = ledger.records_from(from);
                            std::thread::sleep(Duration::from_millis(500));
                            0
                        }
                    }
                };
                if n == 0 {
                    ledger.wait_durable_beyond(cursor.position(), Duration::from_millis(200));
                }
            }
        })
        .expect("spawn indexer")
}
