//! Leak tracing (issue 8): fingerprint every list that leaves, trace a leaked list back to the
//! export and the person.
//!
//! What it does: reads lists (CSV UTF-8/CP932, xlsx, PDF text layer, free text typed or OCR'd
//! from postcards), finds the resident fields by header or content, normalises them
//! ([`normalize`]: NFKC, 異体字, kana, 和暦, 住所 block forms), computes keyed fingerprints of
//! field pairs ([`features`], HMAC-SHA256 truncated to 8 bytes), stores them per export in a
//! memory-mapped posting index ([`index`]), ranks exports by overlap with a leaked list
//! ([`trace`]), and makes and finds canary records ([`canary`]).
//!
//! What it does not do: ledgering, the directory lookup of who a user was, proofs, mail —
//! those are in `mamori-server` (`fingerprint.rs`), the CLI and `mamori-milter`. It keeps no
//! resident values: only keyed hashes.
#![deny(missing_docs)]

pub mod canary;
pub mod features;
pub mod synth;
pub mod index;
pub mod normalize;
pub mod read;
pub mod record;
pub mod trace;

pub use features::{FingerprintKey, features};
pub use index::{CanaryMeta, ExportMeta, FpStore};
pub use read::{Format, Located, ReadError, ReadList, read_list};
pub use record::{Field, Record};
pub use trace::{Candidate, CanarySighting, TraceResult, sightings, trace};

use std::path::PathBuf;

/// Errors of the fingerprint store.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// A file could not be read or written.
    #[error("{path}: {why}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        why: String,
    },
    /// The store's content is inconsistent.
    #[error("指紋ストアの不整合 / fingerprint store: {0}")]
    Store(String),
    /// A list could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// SHA-256 of a file's bytes, hex (the file version).
pub fn file_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
