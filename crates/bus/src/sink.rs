//! The indexer's sink: bus records into any [`IndexBackend`].

use mamori_store::{EventKind, IndexBackend, IndexEvent};
use serde_json::Value;

use crate::{BusRecord, Sink};

/// Feeds bus records to an index backend (SQLite or ClickHouse), in ledger order.
///
/// Documents are decoded as the server's ledger follower does: the payload's JSON, a stub
/// `{"mamori":{"erased":true}}` for erased payloads, and for undecodable payloads a document
/// holding the text and the parse error.
#[derive(Debug)]
pub struct IndexSink<B> {
    /// The backend.
    pub backend: B,
}

impl<B> IndexSink<B> {
    /// A sink writing to `backend`.
    pub fn new(backend: B) -> Self {
        IndexSink { backend }
    }
}

fn decode(r: &BusRecord) -> (Value, bool) {
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

impl<B: IndexBackend + Send + 'static> Sink for IndexSink<B> {
    fn position(&mut self) -> Result<Option<u64>, String> {
        self.backend.indexed_upto().map_err(|e| e.to_string())
    }

    fn deliver(&mut self, records: &[BusRecord]) -> Result<(), String> {
        let docs: Vec<(Value, bool)> = records.iter().map(decode).collect();
        let events: Vec<IndexEvent<'_>> = records
            .iter()
            .zip(&docs)
            .map(|(r, (d, is_payload))| IndexEvent {
                id: r.id,
                ingested_micros: r.ingested_micros,
                kind: EventKind::from_name(&r.kind),
                doc: d,
                raw: is_payload.then_some(r.payload.as_slice()),
            })
            .collect();
        self.backend.index_batch(&events).map_err(|e| e.to_string())
    }
}
