//! mamori's tamper-evident ledger.
//!
//! What it does: every accepted record is written durably (group-committed, fsynced) to a
//! write-ahead payload store, then integrated into an RFC 6962 Merkle tree (SHA-256, leaf prefix
//! 0x00, node prefix 0x01) that is stored as C2SP tlog-tiles and summarised by C2SP
//! tlog-checkpoints signed as C2SP signed-notes (Ed25519). It produces inclusion and consistency
//! proofs, verifies a whole log from its tiles, and implements both sides of C2SP tlog-witness
//! (cosigning other logs' checkpoints, and the log-side request/response encoding).
//!
//! What it does not do: HTTP (the server crate serves tiles and speaks to witnesses), indexing or
//! search (the store crate), or interpreting payloads (they are opaque bytes here). The Merkle math
//! and tile encoding in [`merkle`] and [`tiles`] are pure; files are touched only by [`wal`],
//! [`storage`] and [`engine`].
//!
//! Log entries hold no personal data: an entry commits to `SHA-256(salt || payload)` and the
//! payload with its salt lives in the payload store, so a payload can be erased after its
//! retention period while the tree stays verifiable (see docs/ledger.md).
#![deny(missing_docs)]

pub mod checkpoint;
pub mod engine;
pub mod entry;
pub mod error;
pub mod merkle;
pub mod storage;
pub mod tiles;
pub mod verify;
pub mod wal;
pub mod witness;

pub use checkpoint::{CheckpointSigner, Cosignature, Cosigner, SignedCheckpoint};
pub use engine::{AppendReceipt, ConsistencyProof, InclusionProof, Ledger, LedgerConfig, NewEntry, SubmitError, consistency_proof, erase_payloads, inclusion_proof};
pub use entry::{Entry, EntryKind};
pub use error::LedgerError;
pub use merkle::Hash;
pub use wal::Record;
