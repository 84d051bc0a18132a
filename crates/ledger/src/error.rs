//! Typed errors of the ledger, each naming the file, index or offset involved.

use std::path::PathBuf;

/// Everything that can go wrong in the ledger.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// An I/O operation on a file failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("write", "fsync", …).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A payload-store segment is damaged somewhere other than a torn tail.
    #[error("payload store {path} is damaged at byte {offset}: {why} (hint: run `mamori verify` and restore this segment from backup)")]
    CorruptSegment {
        /// The segment file.
        path: PathBuf,
        /// Byte offset of the bad record.
        offset: u64,
        /// What is wrong.
        why: String,
    },
    /// The stored tiles do not reproduce the stored checkpoint.
    #[error("tiles do not match the checkpoint: {0} (hint: run `mamori verify` to find the first bad tile)")]
    TreeMismatch(String),
    /// A tile needed for a proof or for recovery is missing or malformed.
    #[error("tile {path}: {why}")]
    BadTile {
        /// The tile path.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// A checkpoint could not be parsed or verified.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// A key file is missing or malformed.
    #[error("key {path}: {why}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A request named an index or size outside the tree.
    #[error("out of range: {0}")]
    OutOfRange(String),
    /// The ledger was shut down or its writer died; nothing more is accepted.
    #[error("the ledger is closed: {0}")]
    Closed(String),
    /// Merkle proof computation failed.
    #[error("proof: {0}")]
    Proof(String),
}

impl LedgerError {
    /// Helper to wrap an I/O error with the operation and path.
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> LedgerError {
        let path = path.into();
        move |source| LedgerError::Io { op, path, source }
    }
}
