//! The demo city (デモ市 あおば市): a deterministic synthetic municipality for `mamori demo
//! generate` and `mamori serve --demo`, and the data of the end-to-end acceptance test.
//!
//! What it does: from a seed and sizes it writes, byte-identically for the same arguments,
//! - the organisation (部/課/係), an HR roster in the directory's layout with April 1 transfers,
//!   hires and March 31 retirements, accounts, access grants (with Kamaishi's over-broad register
//!   access), the entitlement policy, the USB 管理台帳, vendors and takeout requests as the
//!   `mamori` commands that file them;
//! - fictional residents (names, addresses in the fictional 架空県あおば市, birth dates,
//!   住民票コード and 個人番号 with valid check digits from a visibly artificial range);
//! - ~400 days of normal work in the real source formats `mamori ingest` reads (Winlogbeat ECS
//!   NDJSON, Samba `vfs_full_audit` over syslog, Postfix, Squid, CUPS page_log, a business-system
//!   CSV through a mapping, chat and cloud-share webhook JSON), month by month;
//! - the seed incidents as scenarios inside that noise, and `labels.json` saying which lines
//!   belong to which scenario and what should be found (rule id and person);
//! - `manifest.json`: the ordered `mamori` command lines that load it all into a data directory.
//!
//! Windows events are Winlogbeat ECS documents, except the Ikeda director's PC, whose Security
//! log is written as EVTX files ([`evtx`], a small writer of the binary format) and ingested
//! with `--format evtx`; the accounts are also written as an LDAP LDIF (`directory/accounts.ldif`).
//!
//! What it does not do: it runs nothing (the `mamori` binary executes the manifest), and it
//! holds no real person's data.

#![deny(missing_docs)]

pub mod evtx;
mod ldif;
mod names;
mod pdf;
mod scenarios;
mod world;

pub use world::{Config, Summary, generate};

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Writing an output file failed.
    #[error("{path}: {why}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        why: String,
    },
    /// The configuration cannot give the scenarios.
    #[error("設定が不正です / invalid configuration: {0}")]
    Config(String),
    /// The PDF could not be made.
    #[error("PDF: {0}")]
    Pdf(String),
}
