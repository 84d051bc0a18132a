//! The data types of the index API.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Default page size of [`crate::Store::search`], [`crate::Store::timeline`] and
/// [`crate::Store::list_quarantine`].
pub const DEFAULT_LIMIT: u32 = 100;
/// Largest accepted page size.
pub const MAX_LIMIT: u32 = 1000;

/// The kind of a ledger entry, with the same wire names as the ledger's `EntryKind`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// An event from a source (`"event"`).
    Event,
    /// An administrative action of mamori itself (`"admin"`).
    Admin,
    /// Input that could not be parsed, kept verbatim (`"quarantine"`).
    Quarantine,
    /// A record that a payload was erased after its retention period (`"tombstone"`).
    Tombstone,
    /// A signing-key rotation (`"key"`).
    Key,
    /// Any other kind, by its wire name.
    Other(String),
}

impl EventKind {
    /// The wire name (`"event"`, `"admin"`, `"quarantine"`, `"tombstone"`, `"key"` or the
    /// `Other` string).
    pub fn as_str(&self) -> &str {
        match self {
            EventKind::Event => "event",
            EventKind::Admin => "admin",
            EventKind::Quarantine => "quarantine",
            EventKind::Tombstone => "tombstone",
            EventKind::Key => "key",
            EventKind::Other(s) => s,
        }
    }

    /// Parses a wire name; unknown names become [`EventKind::Other`].
    pub fn from_name(name: &str) -> EventKind {
        match name {
            "event" => EventKind::Event,
            "admin" => EventKind::Admin,
            "quarantine" => EventKind::Quarantine,
            "tombstone" => EventKind::Tombstone,
            "key" => EventKind::Key,
            other => EventKind::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for EventKind {
    fn from(s: &str) -> Self {
        EventKind::from_name(s)
    }
}

impl Serialize for EventKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(EventKind::from_name(&s))
    }
}

/// One ledgered event handed to [`crate::Store::index_batch`].
#[derive(Debug, Clone)]
pub struct IndexEvent<'a> {
    /// The ledger index of the event (its stable id).
    pub id: u64,
    /// When the ledger accepted it, microseconds since the Unix epoch.
    pub ingested_micros: i64,
    /// The entry kind.
    pub kind: EventKind,
    /// The ECS 8.x document (nested objects; dotted top-level keys such as `"user.name"` are
    /// understood too).
    pub doc: &'a Value,
    /// The JSON text `doc` was parsed from, if the caller has it (the ledger payload). It is
    /// stored as the event's document instead of serializing `doc` again, which saves a
    /// noticeable share of indexing time. It must be exactly the bytes `doc` was parsed from
    /// (so valid UTF-8 JSON); it is not checked again.
    pub raw: Option<&'a [u8]>,
}

/// Search parameters for [`crate::Store::search`]. All filters are optional and combined with AND;
/// empty strings count as absent. Deserializable, so an HTTP layer can take it straight from a
/// query string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Query {
    /// Exact `user.name`.
    pub user: Option<String>,
    /// Exact `host.name`.
    pub host: Option<String>,
    /// Exact `event.action`.
    pub action: Option<String>,
    /// Prefix of `file.path` (case-sensitive, byte-wise).
    pub path: Option<String>,
    /// Full text: whitespace-separated terms, each matched as a literal substring (case-insensitive,
    /// at least 3 characters) of `message`, `event.original`, `file.path`, `user.name` and the
    /// other fields listed in the crate docs; all terms must match. There is no operator syntax.
    pub q: Option<String>,
    /// Entry kind wire name (`event`, `admin`, `quarantine`, `tombstone` …).
    pub kind: Option<String>,
    /// Inclusive lower bound on `@timestamp`, RFC 3339.
    pub from: Option<String>,
    /// Exclusive upper bound on `@timestamp`, RFC 3339.
    pub to: Option<String>,
    /// Page size, 1..=1000, default 100.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One indexed event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// Ledger index.
    pub id: u64,
    /// `@timestamp` in microseconds since the Unix epoch (the ingest time if the document had no
    /// valid `@timestamp`).
    pub timestamp_micros: i64,
    /// When the ledger accepted the event, microseconds since the Unix epoch.
    pub ingested_micros: i64,
    /// Entry kind.
    pub kind: EventKind,
    /// The document as indexed.
    pub doc: Value,
}

/// A page of results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    /// The hits of this page, in the documented order of the call.
    pub events: Vec<Hit>,
    /// Pass this as `cursor` to get the next page; `None` when this is the last page.
    pub next_cursor: Option<String>,
}

/// How a quarantined record was re-ingested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reingest {
    /// The ledger id of the Admin event recording the re-ingest (`None` if marked directly with
    /// [`crate::Store::mark_reingested`]).
    pub admin_event_id: Option<u64>,
    /// The ledger ids of the events produced by re-ingesting it.
    pub new_ids: Vec<u64>,
}

/// One quarantined record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantineItem {
    /// The quarantine event itself (its `doc` holds `mamori.quarantine`).
    pub hit: Hit,
    /// `mamori.quarantine.reason`.
    pub reason: Option<String>,
    /// `mamori.quarantine.source`.
    pub source: Option<String>,
    /// Set once the record has been re-ingested.
    pub reingested: Option<Reingest>,
}

/// A page of quarantined records, newest (highest id) first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantinePage {
    /// The records of this page.
    pub items: Vec<QuarantineItem>,
    /// Pass this as `cursor` to get the next page; `None` when this is the last page.
    pub next_cursor: Option<String>,
}

/// Small counters for /metrics, maintained incrementally (reading them is O(kinds)).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Total indexed rows.
    pub total: u64,
    /// Rows per kind wire name.
    pub by_kind: BTreeMap<String, u64>,
    /// Quarantined records (all).
    pub quarantine_total: u64,
    /// Quarantined records not yet re-ingested.
    pub quarantine_pending: u64,
    /// Highest indexed id.
    pub indexed_upto: Option<u64>,
}
