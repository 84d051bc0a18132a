//! mamori's server: the one place where events come in and go out.
//!
//! What it does: opens a data directory ([`DataDir`]: config, keys, ledger, index), runs the
//! ingest paths (NDJSON, an Elasticsearch `_bulk`-compatible API for Beats/Fluent Bit/rsyslog,
//! syslog over TCP/UDP), writes every accepted record to the ledger *before* acknowledging it,
//! keeps the SQLite index following the ledger, and serves queries, proofs, tlog-tiles, the
//! tlog-witness endpoint and Prometheus metrics, each endpoint checking the caller's role.
//!
//! What it does not do: Merkle math or storage formats (mamori-ledger), parsing of log formats
//! (mamori-sources), SQL (mamori-store). There is no endpoint that edits or deletes an event.
#![deny(missing_docs)]

pub mod case_http;
pub mod config;
pub mod datadir;
pub mod detection;
pub mod directory_http;
pub mod es;
pub mod fingerprint;
pub mod health;
pub mod http;
pub mod indexer;
pub mod mappings;
pub mod pipeline;
pub mod syslog;
pub mod tls;
pub mod witness_client;

pub use config::Config;
pub use datadir::DataDir;
pub use http::{AppState, router, serve};
