//! Witnessing over HTTP, both roles (c2sp.org/tlog-witness).
//!
//! - Witness: `POST /add-checkpoint` cosigns checkpoints of the logs in `[witness] logs`,
//!   persisting its state before answering.
//! - Log: after each new checkpoint, submits it to every configured witness with a consistency
//!   proof from the size that witness last cosigned, attaches the returned cosignatures to the
//!   published checkpoint, and raises an alarm on 422 (fork / inconsistent history).

use crate::config::Config;
use crate::datadir::{DataDir, DataDirError};
use crate::http::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use mamori_ledger::checkpoint::{Cosigner, SignedCheckpoint, unix_now};
use mamori_ledger::witness::{AddOutcome, Witness, add_checkpoint_body, parse_conflict};
use mamori_ledger::Ledger;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Loads the witness role: key and state, adding configured logs.
pub fn load_witness(dir: &DataDir, cfg: &Config) -> Result<Witness, DataDirError> {
    let kp = dir.witness_key_path();
    let skey = std::fs::read_to_string(&kp).map_err(|e| DataDirError::File { path: kp.clone(), why: e.to_string() })?;
    let cosigner = Cosigner::from_skey(&skey)?;
    let sp = dir.witness_state_path();
    let logs = match std::fs::read(&sp) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| DataDirError::File { path: sp.clone(), why: e.to_string() })?,
        Err(_) => BTreeMap::new(),
    };
    let mut w = Witness::new(cosigner, logs);
    for vkey in &cfg.witness.logs {
        w.add_log(vkey)?;
    }
    Ok(w)
}

/// `POST /add-checkpoint`.
pub async fn post_add_checkpoint(State(st): State<AppState>, headers: axum::http::HeaderMap, body: Bytes) -> Response {
    let Some(w) = st.witness.clone() else {
        return (StatusCode::NOT_FOUND, "this mamori instance is not a witness\n").into_response();
    };
    if st.cfg.witness.require_token
        && let Err(e) = crate::http::authorize(&st, &headers, mamori_auth::Action::WitnessCosign)
    {
        return e.into_response();
    }
    let path = st.dir.witness_state_path();
    let counters = st.counters.clone();
    let r = tokio::task::spawn_blocking(move || {
        // Check, update and persist under one lock (the spec's atomicity requirement).
        let mut w = w.lock().unwrap();
        let before = w.state_json();
        let outcome = w.add_checkpoint(&body, unix_now());
        if let AddOutcome::Cosigned(_) = &outcome {
            if let Some(parent) = path.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            if let Err(e) = mamori_ledger::storage::write_atomic(&path, w.state_json().as_bytes()) {
                // Not persisted: roll back and refuse to cosign.
                let _ = w.restore_state(&before);
                return AddOutcome::Unprocessable(format!("witness state not persisted: {e}"));
            }
        }
        if outcome.is_alarm() {
            counters.witness_alarms.fetch_add(1, Ordering::Relaxed);
            tracing::error!(?outcome, "WITNESS ALARM: a log presented an inconsistent checkpoint");
        }
        outcome
    })
    .await;
    let outcome = match r {
        Ok(o) => o,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let status = StatusCode::from_u16(outcome.status()).unwrap();
    match outcome {
        AddOutcome::Cosigned(lines) => (status, lines).into_response(),
        AddOutcome::Conflict(size) => (status, [(header::CONTENT_TYPE, "text/x.tlog.size")], format!("{size}\n")).into_response(),
        AddOutcome::Fork { why: m, .. } | AddOutcome::BadRequest(m) | AddOutcome::Forbidden(m) | AddOutcome::UnknownLog(m) | AddOutcome::Unprocessable(m) => {
            (status, format!("{m}\n")).into_response()
        }
    }
}

/// What happened when submitting to one witness.
#[derive(Debug)]
pub enum SubmitResult {
    /// Cosigned; the lines were attached.
    Cosigned,
    /// The witness refused with an alarm status (422/403): evidence of a fork or a key problem.
    Alarm(u16, String),
    /// Could not reach it / other error; retried with the next checkpoint.
    Failed(String),
}

/// Submits the current checkpoint to a witness, following one 409 to learn its size.
pub fn submit_once(client: &reqwest::blocking::Client, ledger: &Ledger, peer: &crate::config::WitnessPeer, known: &mut HashMap<String, u64>) -> SubmitResult {
    let (url, vkey) = (peer.url.as_str(), peer.vkey.as_str());
    let cp = ledger.checkpoint();
    let endpoint = format!("{}/add-checkpoint", url.trim_end_matches('/'));
    for _ in 0..2 {
        let old = known.get(url).copied().unwrap_or(0).min(cp.size);
        let proof = match ledger.consistency_proof(old, cp.size) {
            Ok(p) => p.hashes,
            Err(e) => return SubmitResult::Failed(e.to_string()),
        };
        let body = add_checkpoint_body(old, &proof, &cp.note);
        let mut req = client.post(&endpoint).body(body);
        if let Some(t) = &peer.token {
            req = req.bearer_auth(t);
        }
        let resp = match req.send() {
            Ok(r) => r,
            Err(e) => return SubmitResult::Failed(e.to_string()),
        };
        let status = resp.status().as_u16();
        let bytes = resp.bytes().unwrap_or_default();
        match status {
            200 => {
                // Keep only cosignature lines from the configured witness key.
                let mut candidate = cp.clone();
                if let Err(e) = candidate.add_cosignature_lines(&bytes) {
                    return SubmitResult::Failed(format!("bad response: {e}"));
                }
                if SignedCheckpoint::verify(&candidate.note, ledger.vkey(), &[vkey.to_owned()]).map(|(_, w)| w.is_empty()).unwrap_or(true) {
                    return SubmitResult::Failed("the witness's answer has no valid cosignature from its configured key".into());
                }
                known.insert(url.to_owned(), cp.size);
                // Attached when it is still the published checkpoint; otherwise (the log grew
                // meanwhile) still kept as the latest witnessed checkpoint.
                let kept = match ledger.add_cosignatures(cp.size, &bytes) {
                    Ok(true) => Ok(true),
                    Ok(false) => ledger.record_witnessed(&candidate.note),
                    Err(e) => Err(e),
                };
                return match kept {
                    Ok(_) => SubmitResult::Cosigned,
                    Err(e) => SubmitResult::Failed(e.to_string()),
                };
            }
            409 => match parse_conflict(&bytes) {
                Some(size) if size <= cp.size => {
                    known.insert(url.to_owned(), size);
                }
                Some(size) => {
                    return SubmitResult::Alarm(409, format!("the witness has cosigned size {size}, larger than our {}: our log was truncated or forked", cp.size));
                }
                None => return SubmitResult::Failed("409 without a size".into()),
            },
            403 | 422 => return SubmitResult::Alarm(status, String::from_utf8_lossy(&bytes).into_owned()),
            other => return SubmitResult::Failed(format!("HTTP {other}: {}", String::from_utf8_lossy(&bytes))),
        }
    }
    SubmitResult::Failed("witness kept answering 409".into())
}

/// Runs the log-side submitter for configured witnesses until `stop`.
pub fn spawn_submitter(st: AppState, stop: Arc<AtomicBool>) -> Option<std::thread::JoinHandle<()>> {
    if st.cfg.witnesses.is_empty() {
        return None;
    }
    Some(
        std::thread::Builder::new()
            .name("witness-submitter".into())
            .spawn(move || {
                let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().expect("http client");
                let mut known: HashMap<String, u64> = HashMap::new();
                // Per witness: the checkpoint size it last cosigned (or was last tried with) and
                // when a failed submission may be retried, so an unreachable witness is retried
                // every few seconds even while no new checkpoint is published.
                const RETRY: Duration = Duration::from_secs(5);
                let mut done: HashMap<String, (u64, Option<std::time::Instant>)> = HashMap::new();
                while !stop.load(Ordering::SeqCst) {
                    let cp = st.ledger.wait_checkpoint(st.ledger.checkpoint().size + 1, Duration::from_millis(500));
                    for w in &st.cfg.witnesses {
                        let (size, retry_at) = done.get(&w.url).copied().unwrap_or((u64::MAX, None));
                        let due = size != cp.size || retry_at.is_some_and(|t| std::time::Instant::now() >= t);
                        if !due {
                            continue;
                        }
                        let retry_at = match submit_once(&client, &st.ledger, w, &mut known) {
                            SubmitResult::Cosigned => None,
                            SubmitResult::Alarm(code, m) => {
                                st.counters.witness_alarms.fetch_add(1, Ordering::Relaxed);
                                tracing::error!(witness = %w.url, code, %m, "WITNESS ALARM: witness refused our checkpoint");
                                None
                            }
                            SubmitResult::Failed(m) => {
                                tracing::warn!(witness = %w.url, %m, "witness submission failed; will retry");
                                Some(std::time::Instant::now() + RETRY)
                            }
                        };
                        done.insert(w.url.clone(), (cp.size, retry_at));
                    }
                }
            })
            .expect("spawn submitter"),
    )
}

/// The latest witnessed checkpoint as shown by the status API and the dashboard.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Witnessed {
    /// Its tree size.
    pub size: u64,
    /// Its root hash, base64.
    pub root: String,
    /// The configured witnesses whose cosignatures verify, with when each signed (RFC 3339).
    pub witnesses: Vec<WitnessSignature>,
    /// Entries in the current signed checkpoint that no witness has cosigned yet.
    pub behind: u64,
    /// Whether the current checkpoint's tree extends it (a consistency proof from its size to
    /// the current size verifies against both roots).
    pub consistent: bool,
}

/// One verified cosignature.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WitnessSignature {
    /// The witness's key name.
    pub name: String,
    /// When it cosigned, RFC 3339 UTC (absent for plain Ed25519 note signatures).
    pub time: Option<String>,
}

/// The latest checkpoint the ledger recorded with a witness cosignature, verified now against
/// the log keys (current and rotated) and the witness keys of `[[witnesses]]`: `None` when there
/// is none or none of its cosignatures is from a configured witness any more.
pub fn latest_witnessed(st: &AppState) -> Option<Witnessed> {
    let cp = st.ledger.latest_witnessed()?;
    let wkeys: Vec<String> = st.cfg.witnesses.iter().map(|w| w.vkey.clone()).collect();
    let mut log_keys = vec![st.ledger.vkey().to_owned()];
    log_keys.extend(st.dir.previous_vkeys().unwrap_or_default());
    let (cp, cos) = match SignedCheckpoint::verify_cosignatures(&cp.note, &log_keys, &wkeys) {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!(error = %e, "the recorded witnessed checkpoint does not verify");
            return None;
        }
    };
    if cos.is_empty() {
        return None;
    }
    let current = st.ledger.checkpoint();
    let consistent = if cp.size == current.size || cp.size == 0 {
        cp.size == 0 || cp.root == current.root
    } else {
        cp.size < current.size
            && st
            .ledger
            .consistency_proof(cp.size, current.size)
            .is_ok_and(|p| p.old_root == cp.root && tlog_tiles::check_tree(&p.hashes, current.size, current.root, cp.size, cp.root).is_ok())
    };
    use base64::Engine;
    Some(Witnessed {
        size: cp.size,
        root: base64::prelude::BASE64_STANDARD.encode(cp.root.0),
        witnesses: cos
            .into_iter()
            .map(|c| WitnessSignature {
                name: c.name,
                time: c.timestamp.and_then(|t| chrono::DateTime::<chrono::Utc>::from_timestamp(t as i64, 0)).map(mamori_event::format_ts),
            })
            .collect(),
        behind: current.size.saturating_sub(cp.size),
        consistent,
    })
}
