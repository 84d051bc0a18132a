//! The index follows the ledger: it reads payload records in ledger order and indexes them in
//! batches. It resumes from the index's own high-water mark, so after a crash, or after
//! `mamori reindex` deleted the index, it catches up by itself.

use mamori_ledger::{EntryKind, Ledger, Record};
use mamori_store::{EventKind, IndexEvent, Store};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Records per index transaction when catching up. 16384 rather than 4096: fewer commits and
/// FTS segments per event and each user's index page is dirtied once for more rows; +10–15%
/// indexing throughput in `crates/store/benches/index_bench.rs` (docs/benchmarks-store.md).
const BATCH: usize = 16384;

fn kind_of(k: EntryKind) -> EventKind {
    EventKind::from_name(k.as_str())
}

/// Decodes a record's payload as the JSON document to index. Erased payloads index as a stub.
pub fn doc_of(r: &Record) -> Value {
    decode(r).0
}

/// The document to index and whether it is the payload itself (then the payload bytes can be
/// stored as they are instead of serializing the document again).
fn decode(r: &Record) -> (Value, bool) {
    if r.erased {
        return (serde_json::json!({"mamori": {"erased": true}}), false);
    }
    match serde_json::from_slice(&r.payload) {
        Ok(v) => (v, true),
        Err(e) => (
            serde_json::json!({"message": String::from_utf8_lossy(&r.payload), "mamori": {"undecodable_payload": e.to_string()}}),
            false,
        ),
    }
}

/// Records read from the ledger with their decoded documents, ready to index.
pub struct Decoded {
    records: Vec<Record>,
    docs: Vec<(Value, bool)>,
}

impl Decoded {
    /// Decodes a batch of records.
    pub fn new(records: Vec<Record>) -> Decoded {
        let docs = records.iter().map(decode).collect();
        Decoded { records, docs }
    }

    fn first(&self) -> Option<u64> {
        self.records.first().map(|r| r.index)
    }

    /// Indexes the batch.
    pub fn index_into(&self, store: &mut Store) -> Result<usize, mamori_store::StoreError> {
        let events: Vec<IndexEvent<'_>> = self
            .records
            .iter()
            .zip(&self.docs)
            .map(|(r, (d, is_payload))| IndexEvent {
                id: r.index,
                ingested_micros: r.ingested_micros,
                kind: kind_of(r.kind),
                doc: d,
                raw: is_payload.then_some(r.payload.as_slice()),
            })
            .collect();
        store.index_batch(&events)?;
        Ok(self.records.len())
    }
}

fn read_batch(ledger: &Ledger, cursor: &mut mamori_ledger::wal::RecordCursor) -> Vec<Record> {
    match cursor.read(ledger.durable_size(), BATCH) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "indexer cannot read the payload store");
            Vec::new()
        }
    }
}

/// Indexes one batch from the ledger; returns how many records were indexed.
pub fn step(ledger: &Ledger, store: &mut Store, cursor: &mut mamori_ledger::wal::RecordCursor) -> Result<usize, mamori_store::StoreError> {
    let records = read_batch(ledger, cursor);
    if records.is_empty() {
        return Ok(0);
    }
    Decoded::new(records).index_into(store)
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

/// Runs the follower until `stop` is set, as a two-stage pipeline so both cores work: a reader
/// thread reads payload records and parses their JSON (about half the cost), the indexer thread
/// writes SQLite. After a failed batch the indexer asks the reader to rewind to the index's own
/// high-water mark and drops batches that no longer follow it, so nothing is skipped.
/// Streaming detection follows the ledger on its own (crate::detection), not this index: an
/// alert never waits for an FTS batch to commit.
pub fn spawn(ledger: Ledger, store: Arc<Mutex<Store>>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    const NO_REWIND: u64 = u64::MAX;
    let from = store.lock().unwrap().indexed_upto().ok().flatten().map_or(0, |i| i + 1);
    let (tx, rx) = std::sync::mpsc::sync_channel::<Decoded>(2);
    let rewind = Arc::new(std::sync::atomic::AtomicU64::new(NO_REWIND));
    let reader = {
        let (ledger, stop, rewind) = (ledger.clone(), stop.clone(), rewind.clone());
        std::thread::Builder::new()
            .name("index-reader".into())
            .spawn(move || {
                let mut cursor = ledger.records_from(from);
                while !stop.load(Ordering::SeqCst) {
                    let r = rewind.swap(NO_REWIND, Ordering::SeqCst);
                    if r != NO_REWIND {
                        cursor = ledger.records_from(r);
                    }
                    let records = read_batch(&ledger, &mut cursor);
                    if records.is_empty() {
                        ledger.wait_durable_beyond(cursor.position(), Duration::from_millis(200));
                        continue;
                    }
                    if tx.send(Decoded::new(records)).is_err() {
                        return;
                    }
                }
            })
            .expect("spawn index reader")
    };
    std::thread::Builder::new()
        .name("indexer".into())
        .spawn(move || {
            let mut expected = from;
            while !stop.load(Ordering::SeqCst) {
                let Ok(batch) = rx.recv_timeout(Duration::from_millis(200)) else { continue };
                if batch.first() != Some(expected) {
                    continue; // read before a rewind; the reader is re-reading from `expected`
                }
                let mut s = store.lock().unwrap();
                match batch.index_into(&mut s) {
                    Ok(n) => expected += n as u64,
                    Err(e) => {
                        tracing::error!(error = %e, "indexing failed; retrying");
                        expected = s.indexed_upto().ok().flatten().map_or(0, |i| i + 1);
                        rewind.store(expected, Ordering::SeqCst);
                        drop(s);
                        std::thread::sleep(Duration::from_millis(500));
                    }
                }
            }
            drop(rx);
            let _ = reader.join();
        })
        .expect("spawn indexer")
}
