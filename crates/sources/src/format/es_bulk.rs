//! Elasticsearch `_bulk` bodies: pairing action lines (`index`, `create`, `update`, `delete`)
//! with the document line that follows them. The server's `_bulk` handler only stores what this
//! returns and writes the answer; keeping the pairing here (pure, bytes in) lets a fuzz target
//! (`fuzz/fuzz_targets/es_bulk_pairing.rs`) reach it without an HTTP server.
//!
//! mamori never updates or deletes: `update` and `delete` items are refused one by one (the rest
//! of the body still goes through), as Elasticsearch does for a failed item.

use super::ndjson::{LineError, NdjsonRecord, ndjson_lines};
use serde_json::{Value, json};

/// One item of a `_bulk` body, in input order (one per action line).
#[derive(Debug, Clone, PartialEq)]
pub enum BulkItem {
    /// An `index`/`create` action and its parsed document: to be ingested.
    Doc {
        /// `index` or `create`, as the client wrote it (echoed in the answer).
        action: String,
        /// `_index` of the action, else the URL's index, else `mamori`.
        index: String,
        /// The document line (line number and byte offset within the body).
        record: NdjsonRecord,
    },
    /// Bytes that could not be parsed (a broken action line, or a broken document after an
    /// `index`/`create`): kept in quarantine, answered as a failed item.
    Quarantine {
        /// The action the answer item is keyed by (`index` when the action line itself is broken).
        action: String,
        /// The index echoed in the answer.
        index: String,
        /// The unparsable line: where it is and its raw bytes.
        error: LineError,
        /// Why it was rejected (stored with the quarantined bytes).
        reason: String,
    },
    /// An item refused without storing anything (update/delete, unknown or empty action, an
    /// action with no document after it).
    Refused(BulkRefusal),
}

/// An item refused without storing anything, with what Elasticsearch would answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkRefusal {
    /// The action the answer item is keyed by.
    pub action: String,
    /// The index echoed in the answer.
    pub index: String,
    /// 1-based line number of the action line in the body.
    pub line: usize,
    /// HTTP status of the item (400 or 405).
    pub status: u16,
    /// Elasticsearch error type, e.g. `illegal_argument_exception`.
    pub kind: &'static str,
    /// Human-readable reason.
    pub reason: String,
}

impl BulkRefusal {
    /// The item in Elasticsearch's `_bulk` response shape:
    /// `{action: {"_index", "status", "error": {"type", "reason"}}}`.
    pub fn to_es_item(&self) -> Value {
        json!({ self.action.as_str(): {"_index": self.index, "status": self.status, "error": {"type": self.kind, "reason": self.reason}} })
    }
}

fn refuse(action: &str, index: &str, line: usize, status: u16, kind: &'static str, reason: impl Into<String>) -> BulkItem {
    BulkItem::Refused(BulkRefusal { action: action.to_owned(), index: index.to_owned(), line, status, kind, reason: reason.into() })
}

/// Pairs the action and document lines of a `_bulk` body (lines over `max_line` bytes are
/// errors). `default_index` is the `{index}` of `POST /{index}/_bulk`. Never fails as a whole:
/// every action line yields exactly one item.
pub fn pair_bulk(body: &[u8], max_line: usize, default_index: Option<&str>) -> Vec<BulkItem> {
    let mut items = Vec::new();
    let mut lines = ndjson_lines(body, max_line);
    while let Some(meta) = lines.next() {
        let meta = match meta {
            Ok(m) => m,
            Err(e) => {
                // A broken action line: the document that follows cannot be attributed; keep the
                // bytes in quarantine and report one failed item.
                let reason = format!("bad bulk action line: {e}");
                items.push(BulkItem::Quarantine { action: "index".into(), index: default_index.unwrap_or_default().to_owned(), error: e, reason });
                continue;
            }
        };
        let Some((action, params)) = meta.doc.iter().next() else {
            items.push(refuse("index", "", meta.line, 400, "action_request_validation_exception", "empty action line"));
            continue;
        };
        let action = action.clone();
        let index = params.get("_index").and_then(Value::as_str).or(default_index).unwrap_or("mamori").to_owned();
        match action.as_str() {
            "index" | "create" => match lines.next() {
                Some(Ok(record)) => items.push(BulkItem::Doc { action, index, record }),
                Some(Err(error)) => {
                    let reason = error.to_string();
                    items.push(BulkItem::Quarantine { action, index, error, reason });
                }
                None => items.push(refuse(&action, &index, meta.line, 400, "action_request_validation_exception", "the action line is not followed by a document")),
            },
            "update" => {
                // The partial document that follows belongs to this item; skip it.
                let _ = lines.next();
                items.push(refuse("update", &index, meta.line, 405, "illegal_argument_exception", "mamori's ledger is append-only: update is not supported"));
            }
            "delete" => items.push(refuse("delete", &index, meta.line, 405, "illegal_argument_exception", "mamori's ledger is append-only: delete is not supported")),
            other => items.push(refuse(other, &index, meta.line, 400, "illegal_argument_exception", format!("unknown bulk action {other:?}"))),
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(items: &[BulkItem]) -> Vec<String> {
        items
            .iter()
            .map(|i| match i {
                BulkItem::Doc { action, index, record } => format!("doc {action} {index} L{}", record.line),
                BulkItem::Quarantine { action, index, error, .. } => format!("quarantine {action} {index} L{}", error.line),
                BulkItem::Refused(r) => format!("refused {} {} L{} {}", r.action, r.index, r.line, r.status),
            })
            .collect()
    }

    #[test]
    fn pairs_actions_with_documents_and_refuses_update_delete_per_item() {
        let body = b"{\"index\":{\"_index\":\"winlogbeat-8\"}}\n{\"a\":1}\n{\"delete\":{\"_id\":\"x\"}}\n{\"update\":{}}\n{\"doc\":{}}\n{\"create\":{}}\n{\"b\":2}\n";
        let items = pair_bulk(body, 1024, Some("logs"));
        assert_eq!(kinds(&items), ["doc index winlogbeat-8 L2", "refused delete logs L3 405", "refused update logs L4 405", "doc create logs L7"]);
        let BulkItem::Refused(r) = &items[1] else { panic!("delete not refused") };
        assert_eq!(r.to_es_item()["delete"]["error"]["type"], "illegal_argument_exception");
    }

    #[test]
    fn broken_lines_are_quarantined_with_their_line_and_the_rest_goes_through() {
        let body = b"{not json\n{\"index\":{}}\n{broken doc\n{\"create\":{}}\n{\"ok\":true}\n{\"index\":{}}\n";
        let items = pair_bulk(body, 1024, None);
        assert_eq!(kinds(&items), ["quarantine index  L1", "quarantine index mamori L3", "doc create mamori L5", "refused index mamori L6 400"]);
        let BulkItem::Quarantine { error, reason, .. } = &items[0] else { panic!() };
        assert_eq!(error.raw, b"{not json");
        assert!(reason.starts_with("bad bulk action line: line 1"), "{reason}");
    }

    #[test]
    fn empty_and_unknown_actions_are_refused() {
        let items = pair_bulk(b"{}\n{\"upsert\":{}}\n", 1024, Some("x"));
        assert_eq!(kinds(&items), ["refused index  L1 400", "refused upsert x L2 400"]);
    }
}
