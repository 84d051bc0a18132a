//! mamori's search index: a rebuildable SQLite cache over the events of the ledger.
//!
//! What it does: the follower feeds it ledgered events (ECS 8.x JSON documents) in ledger order
//! and in batches ([`Store::index_batch`], one transaction per batch); it records the highest
//! indexed ledger id in the same transaction ([`Store::indexed_upto`]), so after a crash indexing
//! resumes exactly where it stopped, and replays of already-indexed ids are skipped. It answers
//! filtered, paginated searches newest first ([`Store::search`]: `user.name`, `host.name`,
//! `event.action`, `file.path` prefix, kind, time range, full text), per-person timelines oldest
//! first ([`Store::timeline`]), single events ([`Store::get`]), /metrics counters
//! ([`Store::stats`]) and the quarantine list with re-ingest state ([`Store::list_quarantine`]).
//!
//! Full text uses a contentless FTS5 table with the trigram tokenizer and `detail=none` (which
//! trigrams each event contains, no positions): it proposes candidates holding all trigrams of
//! the terms, and each candidate is verified exactly against the text recomputed from its stored
//! document, so any substring of 3 or more characters matches, case-insensitively, including
//! Japanese (`住民基本台帳` finds `住民基本台帳の閲覧`), with no false positives; shorter terms
//! are rejected. Indexed text: `message`, `event.original`
//! (when it differs from `message`), `file.path`, `file.target_path`, `user.name`,
//! `user.target.name`, `host.name`, `event.action`, `process.name`, `process.command_line`,
//! `url.original`, `error.message`, `mamori.quarantine.reason`.
//!
//! What it does not do: it is not a source of truth and not durable on its own (`synchronous=NORMAL`;
//! the ledger is durable and the index can always be deleted with [`Store::remove_files`] and
//! rebuilt by re-feeding the ledger); it does not verify ledger proofs, does not follow the ledger
//! itself (the caller does), and does not apply retention erasure (tombstones are indexed as
//! events of kind `tombstone`, earlier rows are not redacted). Schema changes are handled by
//! refusing the old file ([`StoreError::UnsupportedSchema`]) and rebuilding, not by migration.
//!
//! Backends: [`IndexBackend`] is the query API every index implements; [`Store`] (SQLite) is the
//! default, `mamori-store-clickhouse` the prefecture-scale one (docs/scale.md).
#![deny(missing_docs)]

pub mod backend;
mod cursor;
pub mod error;
pub mod extract;
mod store;
pub mod types;

pub use backend::IndexBackend;
pub use error::{Result, StoreError};
pub use store::{SCHEMA_VERSION, Store};
pub use types::{
    DEFAULT_LIMIT, EventKind, Hit, IndexEvent, MAX_LIMIT, Page, QuarantineItem, QuarantinePage,
    Query, Reingest, Stats,
};
