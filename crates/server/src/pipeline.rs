//! From parsed input to ledger entries: accepted documents become `event` entries, rejected input
//! becomes a `quarantine` entry holding the raw bytes, the reason and where it was — so nothing
//! that reached mamori is lost, and an officer can re-ingest it after a parser fix.

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use chrono::{DateTime, Utc};
use mamori_event::{Doc, normalize};
use mamori_ledger::{EntryKind, NewEntry};
use serde_json::{Value, json};

/// Where a record came from (for quarantine and error messages).
#[derive(Clone, Debug)]
pub struct Origin {
    /// Ingest path: `ndjson`, `bulk`, `syslog-tcp`, `syslog-udp`, `cli:<file>` …
    pub source: String,
    /// Format to re-parse quarantined bytes with (`ecs-ndjson`, `syslog`).
    pub format: String,
}

/// One input record's fate, in input order.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Accepted as an event.
    Accepted,
    /// Rejected, with the reason; its raw bytes are quarantined.
    Rejected(String),
}

/// A batch being assembled: entries to append and each input's outcome.
#[derive(Default)]
pub struct Batch {
    /// Entries to append, in order.
    pub entries: Vec<NewEntry>,
    /// Per input: outcome and the position of its entry in `entries`.
    pub outcomes: Vec<(Outcome, usize)>,
}

impl Batch {
    /// Adds a parsed document (normalised here; a normalisation error quarantines `raw`).
    // Each argument is one fact about the input a quarantine record must carry.
    #[allow(clippy::too_many_arguments)]
    pub fn push_doc(&mut self, doc: Doc, raw: &[u8], received: DateTime<Utc>, origin: &Origin, line: usize, offset: u64, extra: Option<&dyn Fn(&mut Doc)>) {
        match normalize(doc, received) {
            Ok(mut d) => {
                if let Some(f) = extra {
                    f(&mut d);
                }
                let payload = serde_json::to_vec(&Value::Object(d)).expect("serializable");
                self.outcomes.push((Outcome::Accepted, self.entries.len()));
                self.entries.push(NewEntry { kind: EntryKind::Event, payload });
            }
            Err(e) => self.push_rejected(raw, &e.to_string(), received, origin, line, offset),
        }
    }

    /// Adds a rejected input: a quarantine entry with its raw bytes.
    pub fn push_rejected(&mut self, raw: &[u8], reason: &str, received: DateTime<Utc>, origin: &Origin, line: usize, offset: u64) {
        let doc = quarantine_doc(raw, reason, received, origin, line, offset);
        self.outcomes.push((Outcome::Rejected(reason.to_owned()), self.entries.len()));
        self.entries.push(NewEntry { kind: EntryKind::Quarantine, payload: serde_json::to_vec(&doc).expect("serializable") });
    }

    /// Number of accepted inputs.
    pub fn accepted(&self) -> usize {
        self.outcomes.iter().filter(|(o, _)| matches!(o, Outcome::Accepted)).count()
    }
}

/// The quarantine document: ECS `event.kind: pipeline_error` with `mamori.quarantine`.
pub fn quarantine_doc(raw: &[u8], reason: &str, received: DateTime<Utc>, origin: &Origin, line: usize, offset: u64) -> Value {
    json!({
        "@timestamp": mamori_event::format_ts(received),
        "event": {"kind": "pipeline_error", "module": "mamori", "dataset": "mamori.quarantine"},
        "message": reason,
        "mamori": {"quarantine": {
            "reason": reason,
            "source": origin.source,
            "format": origin.format,
            "line": line,
            "offset": offset,
            "raw_b64": BASE64_STANDARD.encode(raw),
        }}
    })
}
