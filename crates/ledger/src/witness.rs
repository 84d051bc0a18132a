//! C2SP tlog-witness, both roles, without HTTP.
//!
//! Witness role: [`Witness::add_checkpoint`] takes an `add-checkpoint` request body and returns
//! the outcome with the status code the spec prescribes (200 cosignature lines, 400, 403, 404,
//! 409 with `text/x.tlog.size`, 422). The caller persists [`Witness::state_json`] before
//! answering (the spec requires the check-and-update to be atomic and durable).
//!
//! Log role: [`add_checkpoint_body`] encodes a request; [`parse_conflict`] reads a 409 answer.

use crate::checkpoint::{Cosigner, SignedCheckpoint, verifier_from_vkey};
use crate::merkle::{EMPTY_TREE_HASH, Hash};
use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use std::collections::BTreeMap;

/// A log this witness cosigns, and the latest checkpoint it cosigned.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct WitnessedLog {
    /// The log's verifier key (its name is the origin).
    pub vkey: String,
    /// Size of the latest cosigned checkpoint (0 if none).
    pub size: u64,
    /// Root of the latest cosigned checkpoint, base64.
    pub root: String,
}

/// The outcome of an add-checkpoint request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddOutcome {
    /// 200: cosignature lines.
    Cosigned(Vec<u8>),
    /// 400 Bad Request (malformed body, old size above the checkpoint size).
    BadRequest(String),
    /// 403 Forbidden (no valid signature by a trusted key).
    Forbidden(String),
    /// 404 Not Found (unknown origin).
    UnknownLog(String),
    /// 409 Conflict: the old size is not the latest cosigned size, which is returned.
    Conflict(u64),
    /// 422 Unprocessable Entity (c2sp tlog-witness: "If the old size matches the checkpoint size,
    /// the witness MUST check that the root hashes are also identical. If they don't match, the
    /// witness MUST respond with a "422 Unprocessable Entity" HTTP status code."). Kept apart
    /// from [`AddOutcome::Unprocessable`] because it is a specific alarm: the log presented a
    /// second root for a size it had already been cosigned at (a fork).
    Fork {
        /// The size cosigned earlier (and presented again).
        size: u64,
        /// What was seen.
        why: String,
    },
    /// 422 Unprocessable Entity: a consistency proof that does not verify (or a non-empty one
    /// where it must be empty). An alarm: the log's history changed.
    Unprocessable(String),
}

impl AddOutcome {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            AddOutcome::Cosigned(_) => 200,
            AddOutcome::BadRequest(_) => 400,
            AddOutcome::Forbidden(_) => 403,
            AddOutcome::UnknownLog(_) => 404,
            AddOutcome::Conflict(_) => 409,
            AddOutcome::Fork { .. } | AddOutcome::Unprocessable(_) => 422,
        }
    }

    /// Whether this outcome is evidence of log misbehaviour (fork or rewritten history).
    pub fn is_alarm(&self) -> bool {
        matches!(self, AddOutcome::Unprocessable(_) | AddOutcome::Fork { .. })
    }
}

/// A witness: its key and what it has cosigned.
pub struct Witness {
    cosigner: Cosigner,
    logs: BTreeMap<String, WitnessedLog>,
}

impl Witness {
    /// A witness with the given key and state (origin → log), e.g. loaded from JSON.
    pub fn new(cosigner: Cosigner, logs: BTreeMap<String, WitnessedLog>) -> Self {
        Witness { cosigner, logs }
    }

    /// Adds a log to witness (no checkpoint cosigned yet). Keeps existing state for a known
    /// origin.
    pub fn add_log(&mut self, vkey: &str) -> Result<(), crate::LedgerError> {
        let v = verifier_from_vkey(vkey)?;
        self.logs.entry(v.name().to_owned()).or_insert(WitnessedLog {
            vkey: vkey.to_owned(),
            size: 0,
            root: BASE64_STANDARD.encode(EMPTY_TREE_HASH.0),
        });
        Ok(())
    }

    /// The state to persist.
    pub fn state_json(&self) -> String {
        serde_json::to_string_pretty(&self.logs).expect("serializable")
    }

    /// Restores state saved with [`Witness::state_json`] (used to roll back an update that could
    /// not be persisted).
    pub fn restore_state(&mut self, state_json: &str) -> Result<(), serde_json::Error> {
        self.logs = serde_json::from_str(state_json)?;
        Ok(())
    }

    /// The cosigner's verifier key.
    pub fn vkey(&self) -> String {
        self.cosigner.vkey()
    }

    /// Handles an add-checkpoint request body at time `now` (Unix seconds).
    pub fn add_checkpoint(&mut self, body: &[u8], now: u64) -> AddOutcome {
        let (old, proof, note) = match parse_request(body) {
            Ok(x) => x,
            Err(why) => return AddOutcome::BadRequest(why),
        };
        let origin = match SignedCheckpoint::parse_unverified(note) {
            Ok(cp) => cp.origin,
            Err(e) => return AddOutcome::BadRequest(e.to_string()),
        };
        let Some(log) = self.logs.get(&origin).cloned() else {
            return AddOutcome::UnknownLog(format!("unknown log origin {origin:?}"));
        };
        let cp = match SignedCheckpoint::verify(note, &log.vkey, &[]) {
            Ok((cp, _)) => cp,
            Err(e) => return AddOutcome::Forbidden(e.to_string()),
        };
        if old > cp.size {
            return AddOutcome::BadRequest(format!("old size {old} is above the checkpoint size {}", cp.size));
        }
        if old != log.size {
            return AddOutcome::Conflict(log.size);
        }
        if cp.size == 0 && cp.root != EMPTY_TREE_HASH {
            return AddOutcome::Unprocessable("a checkpoint of size 0 must have the empty tree's root".into());
        }
        let old_root = match Hash::parse_hash(&log.root) {
            Ok(h) => h,
            Err(_) => return AddOutcome::Unprocessable("stored root is malformed".into()),
        };
        if old == 0 {
            if !proof.is_empty() {
                return AddOutcome::Unprocessable("a proof from size 0 must be empty".into());
            }
        } else if old == cp.size {
            // The consistency proof between equal sizes is empty (RFC 6962 §2.1.2).
            if !proof.is_empty() {
                return AddOutcome::Unprocessable("a proof between equal sizes must be empty".into());
            }
            if cp.root != old_root {
                return AddOutcome::Fork {
                    size: old,
                    why: format!(
                        "fork: size {old} was cosigned with root {old_root}, now presented with root {}",
                        cp.root
                    ),
                };
            }
        } else if tlog_tiles::check_tree(&proof, cp.size, cp.root, old, old_root).is_err() {
            return AddOutcome::Unprocessable(format!(
                "consistency proof from size {old} (root {old_root}) to size {} (root {}) does not verify: the log's history changed",
                cp.size, cp.root
            ));
        }
        let text = cp.text();
        let line = self.cosigner.cosign(&text, now.max(1));
        self.logs.insert(
            origin,
            WitnessedLog { vkey: log.vkey, size: cp.size, root: BASE64_STANDARD.encode(cp.root.0) },
        );
        AddOutcome::Cosigned(line)
    }
}

fn parse_request(body: &[u8]) -> Result<(u64, Vec<Hash>, &[u8]), String> {
    let mut rest = body;
    let next_line = |rest: &mut &[u8]| -> Result<String, String> {
        let nl = rest.iter().position(|&b| b == b'\n').ok_or("line without a newline")?;
        let line = std::str::from_utf8(&rest[..nl]).map_err(|_| "line is not UTF-8")?.to_owned();
        *rest = &rest[nl + 1..];
        Ok(line)
    };
    let first = next_line(&mut rest)?;
    let old_str = first.strip_prefix("old ").ok_or("first line is not \"old <size>\"")?;
    if old_str.is_empty() || (old_str.len() > 1 && old_str.starts_with('0')) || !old_str.bytes().all(|b| b.is_ascii_digit()) {
        return Err("old size is not a decimal number without leading zeros".into());
    }
    let old: u64 = old_str.parse().map_err(|_| "old size overflows")?;
    let mut proof = Vec::new();
    loop {
        let line = next_line(&mut rest)?;
        if line.is_empty() {
            break;
        }
        if proof.len() == 63 {
            return Err("more than 63 consistency proof lines".into());
        }
        proof.push(Hash::parse_hash(&line).map_err(|_| format!("proof line {:?} is not a base64 hash", line))?);
    }
    Ok((old, proof, rest))
}

/// Encodes an add-checkpoint request body.
pub fn add_checkpoint_body(old_size: u64, proof: &[Hash], checkpoint_note: &[u8]) -> Vec<u8> {
    let mut b = format!("old {old_size}\n").into_bytes();
    for h in proof {
        b.extend_from_slice(BASE64_STANDARD.encode(h.0).as_bytes());
        b.push(b'\n');
    }
    b.push(b'\n');
    b.extend_from_slice(checkpoint_note);
    b
}

/// Parses a 409 response body (`<size>\n`, `text/x.tlog.size`).
pub fn parse_conflict(body: &[u8]) -> Option<u64> {
    std::str::from_utf8(body).ok()?.trim_end_matches('\n').parse().ok()
}
