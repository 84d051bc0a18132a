//! The prefecture as every city's witness (c2sp.org/tlog-witness).
//!
//! The prefecture's data directory holds a witness key (`keys/witness.key`, made by `init`).
//! For each city a [`CityWitness`] keeps what the prefecture last cosigned for that city's log
//! (`<root>/prefecture/witness/cities/<city>.json`, written before a cosignature is handed out,
//! as the spec requires) and runs the spec's checks through [`mamori_ledger::witness::Witness`]:
//! the checkpoint must be signed by the city's key and be consistent (RFC 6962 consistency proof
//! from the size cosigned before) with everything the prefecture has cosigned. A cosignature is
//! attached to the city's published checkpoint, so the city's own `mamori verify --witness-key
//! <prefecture witness vkey>` accepts it.
//!
//! A city whose history changed — an old copy restored (its checkpoint is smaller than one the
//! prefecture cosigned), or a fork (same size with another root, or a larger checkpoint that
//! does not extend the cosigned one) — is refused: no cosignature, an [`Alarm`] in the
//! prefecture's health and a `witness-alarm` entry in the prefecture's own ledger (with the
//! refused checkpoint as evidence). The refusal persists: the witness state is never rolled
//! back to follow the city.
//!
//! In process (the prefecture serves the cities' ledgers itself), so no HTTP hop; a city on its
//! own box would submit over HTTP instead (not built here: docs/scale.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use mamori_ledger::checkpoint::{Cosigner, unix_now};
use mamori_ledger::witness::{AddOutcome, Witness, WitnessedLog, add_checkpoint_body};
use mamori_ledger::{EntryKind, Ledger, NewEntry};
use serde::Serialize;
use serde_json::json;

/// Why the prefecture refused a city's checkpoint.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Alarm {
    /// `rollback` (smaller than a cosigned checkpoint: truncated or an old copy restored),
    /// `fork` (same size, another root), `inconsistent` (larger, but does not extend what was
    /// cosigned) or `bad-signature` (not signed by the city's key).
    pub kind: &'static str,
    /// The tlog-witness status code the refusal maps to (409, 422, 403).
    pub status: u16,
    /// What was seen (English, for logs and the ledger entry).
    pub message: String,
    /// Japanese, for the prefecture's staff.
    pub message_ja: String,
    /// Size of the refused checkpoint.
    pub checkpoint_size: u64,
    /// Size the prefecture cosigned last.
    pub witnessed_size: u64,
    /// When, Unix seconds.
    pub at: u64,
}

/// The prefecture's witnessing of one city, for health.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WitnessStatus {
    /// Size of the latest checkpoint of this city the prefecture cosigned.
    pub cosigned_size: u64,
    /// Refusals seen since the prefecture started.
    pub alarms: u64,
    /// The latest refusal, if the city's current checkpoint is refused.
    pub alarm: Option<Alarm>,
    /// The latest non-alarm failure (e.g. the state could not be written), retried.
    pub last_error: Option<String>,
}

/// What one witnessing round did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Round {
    /// Cosigned the checkpoint of this size (attached to the city's checkpoint).
    Cosigned(u64),
    /// Refused.
    Alarm(Alarm),
    /// Could not decide (retried later).
    Failed(String),
}

/// The prefecture's witness for one city. See the module docs.
pub struct CityWitness {
    witness: Mutex<Witness>,
    state_path: PathBuf,
    status: Mutex<WitnessStatus>,
    /// Whether an alarm of the current kind was already ledgered (one entry per kind and run).
    ledgered: Mutex<Option<&'static str>>,
}

/// Errors loading a city's witness.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// A key or state file.
    #[error("{}: {why}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        why: String,
    },
}

/// The prefecture's witness verifier key (from `<prefecture>/keys/witness.key`).
pub fn witness_vkey(prefecture_dir: &Path) -> Result<String, WitnessError> {
    Ok(load_cosigner(prefecture_dir)?.vkey())
}

fn load_cosigner(prefecture_dir: &Path) -> Result<Cosigner, WitnessError> {
    let p = prefecture_dir.join("keys").join("witness.key");
    let err = |why: String| WitnessError::File {
        path: p.clone(),
        why,
    };
    let skey = std::fs::read_to_string(&p).map_err(|e| err(e.to_string()))?;
    Cosigner::from_skey(&skey).map_err(|e| err(e.to_string()))
}

impl CityWitness {
    /// Loads the prefecture's witness for the city whose log has verifier key `city_vkey`:
    /// the key from `prefecture_dir`, the state of this city from
    /// `prefecture_dir/witness/cities/<tenant>.json`.
    pub fn load(
        prefecture_dir: &Path,
        tenant: &str,
        city_vkey: &str,
    ) -> Result<CityWitness, WitnessError> {
        let cosigner = load_cosigner(prefecture_dir)?;
        let state_path = prefecture_dir
            .join("witness")
            .join("cities")
            .join(format!("{tenant}.json"));
        let err = |why: String| WitnessError::File {
            path: state_path.clone(),
            why,
        };
        let logs: BTreeMap<String, WitnessedLog> = match std::fs::read(&state_path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| err(e.to_string()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(err(e.to_string())),
        };
        let cosigned_size = logs.values().map(|l| l.size).max().unwrap_or(0);
        let mut w = Witness::new(cosigner, logs);
        w.add_log(city_vkey).map_err(|e| err(e.to_string()))?;
        Ok(CityWitness {
            witness: Mutex::new(w),
            state_path,
            status: Mutex::new(WitnessStatus {
                cosigned_size,
                ..WitnessStatus::default()
            }),
            ledgered: Mutex::new(None),
        })
    }

    /// The current status (for health).
    pub fn status(&self) -> WitnessStatus {
        self.status.lock().unwrap().clone()
    }

    /// One round: offers the city's current checkpoint to the witness with a consistency
    /// proof from the size cosigned before (following one 409 to learn it), persists the new
    /// state before attaching the cosignature to the city's checkpoint.
    pub fn round(&self, city: &Ledger) -> Round {
        let cp = city.checkpoint();
        let mut w = self.witness.lock().unwrap();
        let mut old = self.status.lock().unwrap().cosigned_size.min(cp.size);
        for _ in 0..2 {
            let proof = match city.consistency_proof(old, cp.size) {
                Ok(p) => p.hashes,
                Err(e) => return self.failed(format!("consistency proof {old}→{}: {e}", cp.size)),
            };
            let body = add_checkpoint_body(old, &proof, &cp.note);
            let before = w.state_json();
            let outcome = w.add_checkpoint(&body, unix_now());
            let witnessed = self.status.lock().unwrap().cosigned_size;
            let alarm = |kind: &'static str, status: u16, message: String, ja: String| Alarm {
                kind,
                status,
                message,
                message_ja: ja,
                checkpoint_size: cp.size,
                witnessed_size: witnessed,
                at: unix_now(),
            };
            match outcome {
                AddOutcome::Cosigned(lines) => {
                    if let Some(parent) = self.state_path.parent() {
                        let _ = std::fs::create_dir_all(parent);
                    }
                    if let Err(e) = mamori_ledger::storage::write_atomic(
                        &self.state_path,
                        w.state_json().as_bytes(),
                    ) {
                        // Not persisted: roll back and hand out nothing.
                        let _ = w.restore_state(&before);
                        return self.failed(format!("witness state not persisted: {e}"));
                    }
                    {
                        let mut s = self.status.lock().unwrap();
                        s.cosigned_size = cp.size;
                        s.alarm = None;
                        s.last_error = None;
                    }
                    // The city may have published a newer checkpoint meanwhile: then this
                    // cosigned one is kept as its latest witnessed checkpoint instead.
                    let mut witnessed_cp = cp.clone();
                    let attached = match city.add_cosignatures(cp.size, &lines) {
                        Ok(true) => Ok(()),
                        Ok(false) => witnessed_cp
                            .add_cosignature_lines(&lines)
                            .map_err(|e| e.to_string())
                            .and_then(|_| {
                                city.record_witnessed(&witnessed_cp.note)
                                    .map(|_| ())
                                    .map_err(|e| e.to_string())
                            }),
                        Err(e) => Err(e.to_string()),
                    };
                    if let Err(e) = attached {
                        self.status.lock().unwrap().last_error =
                            Some(format!("cosignature not attached: {e}"));
                    }
                    return Round::Cosigned(cp.size);
                }
                AddOutcome::Conflict(size) if size <= cp.size && size != old => {
                    old = size;
                }
                AddOutcome::Conflict(size) => {
                    return self.raise(alarm(
                        "rollback",
                        409,
                        format!(
                            "the prefecture cosigned size {size} of this city's log, its checkpoint now has size {}: the ledger was truncated or an older copy restored",
                            cp.size
                        ),
                        format!(
                            "県はこの市の台帳をサイズ {size} まで連署済みですが、現在のチェックポイントはサイズ {} です。台帳が切り詰められたか、古い複製に戻されています。",
                            cp.size
                        ),
                    ));
                }
                AddOutcome::Fork { why, .. } => {
                    return self.raise(alarm(
                        "fork",
                        422,
                        why,
                        format!(
                            "同じサイズ {} で連署済みのものと異なるルートのチェックポイントが提示されました(台帳の分岐)。",
                            cp.size
                        ),
                    ));
                }
                AddOutcome::Unprocessable(why) => {
                    return self.raise(alarm(
                        "inconsistent",
                        422,
                        why,
                        format!(
                            "サイズ {} のチェックポイントは、県が連署したサイズ {witnessed} の台帳の続きではありません(履歴が書き換えられています)。",
                            cp.size
                        ),
                    ));
                }
                AddOutcome::Forbidden(why) => {
                    return self.raise(alarm(
                        "bad-signature",
                        403,
                        why,
                        "チェックポイントに市の署名鍵による有効な署名がありません。".into(),
                    ));
                }
                AddOutcome::BadRequest(m) | AddOutcome::UnknownLog(m) => return self.failed(m),
            }
        }
        self.failed("the witness kept answering 409".into())
    }

    fn failed(&self, why: String) -> Round {
        tracing::warn!(state = %self.state_path.display(), %why, "prefecture witness: will retry");
        self.status.lock().unwrap().last_error = Some(why.clone());
        Round::Failed(why)
    }

    fn raise(&self, a: Alarm) -> Round {
        tracing::error!(kind = a.kind, message = %a.message, "WITNESS ALARM: the prefecture refused a city's checkpoint");
        let mut s = self.status.lock().unwrap();
        s.alarms += 1;
        s.alarm = Some(a.clone());
        Round::Alarm(a)
    }

    /// Ledgers `alarm` in the prefecture's ledger, once per alarm kind per run (a refused city
    /// is refused again at every new checkpoint). Returns the ledger id when it appended.
    pub fn ledger_alarm(
        &self,
        prefecture: &Ledger,
        tenant: &str,
        alarm: &Alarm,
        refused_note: &[u8],
    ) -> Option<u64> {
        let mut l = self.ledgered.lock().unwrap();
        if *l == Some(alarm.kind) {
            return None;
        }
        let doc = json!({
            "@timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "event": {"kind": "alert", "category": ["configuration"], "action": "witness-alarm", "module": "mamori", "dataset": "mamori.prefecture", "outcome": "failure", "reason": alarm.message},
            "user": {"name": "prefecture-witness"},
            "mamori": {"witness_alarm": {"tenant": tenant, "alarm": alarm, "refused_checkpoint": String::from_utf8_lossy(refused_note)}},
        });
        match prefecture.append_blocking(vec![NewEntry {
            kind: EntryKind::Admin,
            payload: serde_json::to_vec(&doc).expect("json"),
        }]) {
            Ok(r) => {
                *l = Some(alarm.kind);
                Some(r.first_index)
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot ledger the witness alarm");
                None
            }
        }
    }
}
