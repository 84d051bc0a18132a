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
//! In process (the prefecture serves the cities' ledgers itself) a thread runs [`CityWitness::round`]
//! at every new checkpoint of the city. A city on its own box (`mamori serve` with the
//! prefecture in its `[[witnesses]]`) submits over HTTP instead: [`crate::remote`] serves
//! `POST /prefecture/witness/add-checkpoint` and hands each request to
//! [`CityWitness::add_checkpoint`], with the same checks, state and alarms (a checkpoint
//! smaller than one already cosigned — an old checkpoint replayed, or an old copy of the city
//! restored — answers 409 with the cosigned size and raises a `rollback` alarm).
//!
//! **Key rotation** (`mamori rotate-key`): the city appends a `key` entry naming its old and new
//! verifier keys, covered by a checkpoint signed by the old key (and by the new key: the
//! bridge). The prefecture follows the new key only with proof that the old key authorised it
//! ([`RotationEvidence`], checked by [`CityWitness::follow_rotation`]): the `key` entry itself
//! (its payload and salt must reproduce the entry's commitment, its kind must be `key` — an
//! event that merely looks like a rotation is refused), its `old_vkey` must be the key the
//! prefecture trusts for the city, and it must be included (RFC 6962 inclusion proof) in a tree
//! the old key signed: either the tree the prefecture already cosigned, or a checkpoint signed
//! by the old key that is consistent with it. A bare new key, a rotation entry from another key,
//! or one the old key never signed, is refused; the checkpoint signed by the unknown key raises
//! a `bad-signature` alarm. In process the evidence is read from the city's ledger when its
//! checkpoint stops verifying; a city on its own box posts it (`POST
//! /prefecture/witness/rotate-key`, [`rotation_evidence`] builds it). Every followed rotation
//! is ledgered in the prefecture's ledger (`witness-key-followed`).

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use mamori_ledger::checkpoint::{Cosigner, SignedCheckpoint, unix_now, verifier_from_vkey};
use mamori_ledger::merkle::{Hash, interior_hash, leaf_hash};
use mamori_ledger::witness::{AddOutcome, Witness, WitnessedLog, add_checkpoint_body};
use mamori_ledger::{Entry, EntryKind, Ledger, NewEntry};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Why the prefecture refused a city's checkpoint.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Alarm {
    /// `rollback` (smaller than a cosigned checkpoint: truncated or an old copy restored),
    /// `fork` (same size, another root), `inconsistent` (larger, but does not extend what was
    /// cosigned), `bad-signature` (not signed by the city's key, and no proof that its key was
    /// rotated) or `bad-rotation` (rotation evidence that does not hold, [`CityWitness::follow_rotation`]).
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
    /// The city's key rotations the prefecture followed since it started (new verifier keys).
    pub keys_followed: Vec<String>,
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
    /// The prefecture's ledger and the city's name, where followed key rotations are recorded
    /// ([`CityWitness::ledgering_to`]).
    audit: Mutex<Option<(Ledger, String)>>,
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
            audit: Mutex::new(None),
        })
    }

    /// Records followed key rotations of city `name` in `prefecture`'s ledger.
    pub fn ledgering_to(self, prefecture: Ledger, name: &str) -> Self {
        *self.audit.lock().unwrap() = Some((prefecture, name.to_owned()));
        self
    }

    /// The city's log as the prefecture holds it: origin, trusted verifier key, cosigned size
    /// and root.
    pub fn log(&self) -> (String, WitnessedLog) {
        let w = self.witness.lock().unwrap();
        log_of(&w)
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
        let mut rotation_tried = false;
        for _ in 0..3 {
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
                AddOutcome::Forbidden(why) if !rotation_tried => {
                    // Perhaps the city rotated its key: follow it only with the proof from its
                    // own ledger that the old key authorised the new one.
                    rotation_tried = true;
                    drop(w);
                    let followed = rotation_from_ledger(city, &self.log().1)
                        .and_then(|ev| self.follow_rotation(&ev));
                    w = self.witness.lock().unwrap();
                    match followed {
                        Ok(_) => {
                            old = self.status.lock().unwrap().cosigned_size.min(cp.size);
                        }
                        Err(refused) => {
                            return self.raise(alarm(
                                "bad-signature",
                                403,
                                format!("{why}; no key rotation followed: {refused}"),
                                format!(
                                    "チェックポイントに市の署名鍵による有効な署名がなく、旧鍵が承認した鍵の更新も確認できません({refused})。"
                                ),
                            ));
                        }
                    }
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

fn log_of(w: &Witness) -> (String, WitnessedLog) {
    let logs: BTreeMap<String, WitnessedLog> =
        serde_json::from_str(&w.state_json()).expect("the witness state is JSON");
    logs.into_iter()
        .next()
        .expect("a city witness holds its city's log")
}

/// The signed note of an add-checkpoint request body (after the blank line that ends the
/// consistency proof).
fn note_of(body: &[u8]) -> &[u8] {
    body.windows(2)
        .position(|w| w == b"\n\n")
        .map_or(&[][..], |i| &body[i + 2..])
}

impl CityWitness {
    /// Handles one c2sp tlog-witness `add-checkpoint` request body from a city on its own box
    /// (the HTTP endpoint of [`crate::remote`]): the same checks and state as
    /// [`CityWitness::round`], persisted before a cosignature is returned. Returns the outcome
    /// to answer with, and the alarm it raised: `rollback` for a checkpoint smaller than one
    /// already cosigned (409), `fork`/`inconsistent` (422), `bad-signature` (403).
    pub fn add_checkpoint(&self, body: &[u8]) -> (AddOutcome, Option<Alarm>) {
        let mut w = self.witness.lock().unwrap();
        let before = w.state_json();
        let outcome = w.add_checkpoint(body, unix_now());
        let note = note_of(body);
        let size = SignedCheckpoint::parse_unverified(note).map_or(0, |c| c.size);
        let witnessed = self.status.lock().unwrap().cosigned_size;
        let alarm = |kind: &'static str, status: u16, message: String, ja: String| Alarm {
            kind,
            status,
            message,
            message_ja: ja,
            checkpoint_size: size,
            witnessed_size: witnessed,
            at: unix_now(),
        };
        let raised = match &outcome {
            AddOutcome::Cosigned(_) => {
                if let Some(parent) = self.state_path.parent() {
                    let _ = std::fs::create_dir_all(parent);
                }
                if let Err(e) =
                    mamori_ledger::storage::write_atomic(&self.state_path, w.state_json().as_bytes())
                {
                    let _ = w.restore_state(&before);
                    let why = format!("witness state not persisted: {e}");
                    self.failed(why.clone());
                    return (AddOutcome::Unprocessable(why), None);
                }
                let mut s = self.status.lock().unwrap();
                s.cosigned_size = size;
                s.alarm = None;
                s.last_error = None;
                None
            }
            AddOutcome::Conflict(known) if size < *known => Some(alarm(
                "rollback",
                409,
                format!(
                    "the prefecture cosigned size {known} of this city's log and was offered a checkpoint of size {size}: an old checkpoint replayed, the ledger truncated or an older copy restored"
                ),
                format!(
                    "県はこの市の台帳をサイズ {known} まで連署済みですが、サイズ {size} のチェックポイントが提示されました。古いチェックポイントの再送、台帳の切り詰め、または古い複製への巻き戻しです。"
                ),
            )),
            AddOutcome::Fork { why, .. } => Some(alarm(
                "fork",
                422,
                why.clone(),
                format!(
                    "同じサイズ {size} で連署済みのものと異なるルートのチェックポイントが提示されました(台帳の分岐)。"
                ),
            )),
            AddOutcome::Unprocessable(why) => Some(alarm(
                "inconsistent",
                422,
                why.clone(),
                format!(
                    "サイズ {size} のチェックポイントは、県が連署したサイズ {witnessed} の台帳の続きではありません(履歴が書き換えられています)。"
                ),
            )),
            AddOutcome::Forbidden(why) => Some(alarm(
                "bad-signature",
                403,
                format!("{why} (a rotated key is followed only after POST /prefecture/witness/rotate-key with the rotation evidence)"),
                "チェックポイントに県が信頼する市の署名鍵による有効な署名がありません(鍵を更新した場合は、旧鍵が承認した証拠を rotate-key に提出してください)。".into(),
            )),
            _ => None,
        };
        drop(w);
        if let Some(a) = &raised {
            self.raise(a.clone());
        }
        (outcome, raised)
    }

    /// Follows the city's key rotation when `ev` proves that the key the prefecture trusts
    /// authorised the new one (see the module docs); persists the new key in the city's witness
    /// state and ledgers a `witness-key-followed` entry. Returns the new verifier key, or why the
    /// evidence was refused (nothing changes then).
    pub fn follow_rotation(&self, ev: &RotationEvidence) -> Result<String, String> {
        let mut w = self.witness.lock().unwrap();
        let (origin, log) = log_of(&w);
        let next = check_rotation(&origin, &log, ev)?;
        let before = w.state_json();
        let state =
            serde_json::to_string(&BTreeMap::from([(origin.clone(), next.clone())])).expect("json");
        w.restore_state(&state).map_err(|e| e.to_string())?;
        if let Some(parent) = self.state_path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if let Err(e) =
            mamori_ledger::storage::write_atomic(&self.state_path, w.state_json().as_bytes())
        {
            let _ = w.restore_state(&before);
            return Err(format!("witness state not persisted: {e}"));
        }
        drop(w);
        {
            let mut s = self.status.lock().unwrap();
            s.cosigned_size = next.size;
            s.keys_followed.push(next.vkey.clone());
        }
        tracing::info!(%origin, old = %log.vkey, new = %next.vkey, entry = ev.index, "prefecture witness: followed the city's key rotation");
        if let Some((ledger, name)) = self.audit.lock().unwrap().as_ref() {
            let doc = json!({
                "@timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "event": {"kind": "event", "category": ["configuration"], "action": "witness-key-followed", "module": "mamori", "dataset": "mamori.prefecture", "outcome": "success"},
                "user": {"name": "prefecture-witness"},
                "mamori": {"witness_key_followed": {"city": name, "origin": origin, "old_vkey": log.vkey, "new_vkey": next.vkey, "evidence": ev}},
            });
            if let Err(e) = ledger.append_blocking(vec![NewEntry {
                kind: EntryKind::Admin,
                payload: serde_json::to_vec(&doc).expect("json"),
            }]) {
                tracing::error!(error = %e, "cannot ledger the followed key rotation");
            }
        }
        Ok(next.vkey)
    }

    /// Ledgers a refused rotation's alarm ([`CityWitness::ledger_alarm`] with the evidence).
    pub fn refuse_rotation(&self, ev: &RotationEvidence, why: &str) -> Alarm {
        let witnessed = self.status.lock().unwrap().cosigned_size;
        let a = Alarm {
            kind: "bad-rotation",
            status: 422,
            message: format!("key rotation refused: {why}"),
            message_ja: format!(
                "鍵の更新を受け付けませんでした(旧鍵による承認が確認できません): {why}"
            ),
            checkpoint_size: ev.tree_size,
            witnessed_size: witnessed,
            at: unix_now(),
        };
        self.raise(a.clone());
        a
    }
}

/// Proof that a city's old checkpoint key authorised a new one: the city's `key` ledger entry
/// (as written by `mamori rotate-key`) and its inclusion in a tree the old key signed. JSON, as
/// posted to `POST /prefecture/witness/rotate-key`. See the module docs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RotationEvidence {
    /// Ledger index of the `key` entry.
    pub index: u64,
    /// The entry line (`mamori/v1 key <micros> <commitment>`), the tree's leaf.
    pub entry: String,
    /// The entry's salt, hex.
    pub salt: String,
    /// The entry's payload (JSON with `mamori.key.old_vkey` and `mamori.key.new_vkey`).
    pub payload: String,
    /// Size of the tree the entry is proved in.
    pub tree_size: u64,
    /// RFC 6962 inclusion proof of the entry in that tree, base64 hashes.
    pub inclusion: Vec<String>,
    /// A checkpoint of that tree signed by the old key, when it is not the tree the prefecture
    /// cosigned last (e.g. the bridge checkpoint `rotate-key` leaves in the city's ledger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    /// With `checkpoint`: RFC 6962 consistency proof from the size the prefecture cosigned last
    /// to `tree_size`, base64 hashes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consistency: Vec<String>,
}

fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hex_decode16(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(std::str::from_utf8(&b[2 * i..2 * i + 2]).ok()?, 16).ok()?;
    }
    Some(out)
}

fn parse_hashes(list: &[String], what: &str) -> Result<Vec<Hash>, String> {
    list.iter()
        .map(|h| Hash::parse_hash(h).map_err(|_| format!("{what}: {h:?} is not a base64 hash")))
        .collect()
}

/// RFC 9162 §2.1.3.2: whether `proof` proves leaf `leaf` at `index` in the tree of `size` with
/// `root`.
pub fn verify_inclusion(index: u64, size: u64, leaf: Hash, proof: &[Hash], root: Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = leaf;
    for p in proof {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = interior_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = interior_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == root
}

/// Checks `ev` against what the prefecture holds for log `origin`; returns the log's new state
/// (the new key, and the tree the old key signed when it is past the cosigned one).
fn check_rotation(
    origin: &str,
    log: &WitnessedLog,
    ev: &RotationEvidence,
) -> Result<WitnessedLog, String> {
    let entry =
        Entry::parse(ev.entry.as_bytes()).map_err(|e| format!("entry {}: {e}", ev.index))?;
    if entry.kind != EntryKind::Key {
        return Err(format!(
            "entry {} is a {} entry, not a key rotation (only `mamori rotate-key` writes key entries)",
            ev.index, entry.kind
        ));
    }
    let salt = hex_decode16(&ev.salt)
        .ok_or_else(|| format!("entry {}: salt is not 16 bytes of hex", ev.index))?;
    if mamori_ledger::entry::commitment(&salt, ev.payload.as_bytes()) != entry.commitment {
        return Err(format!(
            "entry {}: the payload and salt do not match the entry's commitment",
            ev.index
        ));
    }
    let doc: Value = serde_json::from_str(&ev.payload)
        .map_err(|e| format!("entry {}: payload is not JSON: {e}", ev.index))?;
    let key = &doc["mamori"]["key"];
    let (Some(old), Some(new)) = (key["old_vkey"].as_str(), key["new_vkey"].as_str()) else {
        return Err(format!(
            "entry {}: no mamori.key.old_vkey/new_vkey",
            ev.index
        ));
    };
    if old.trim() != log.vkey.trim() {
        return Err(format!(
            "the rotation is from key {old}, the prefecture trusts {} for {origin}",
            log.vkey
        ));
    }
    if new.trim() == old.trim() {
        return Err("the rotation names the same key twice".into());
    }
    verifier_from_vkey(new).map_err(|e| format!("new key: {e}"))?;
    if new.split('+').next() != Some(origin) {
        return Err(format!("the new key {new} is not named {origin}"));
    }
    // The tree the old key signed that the entry is proved in.
    let cosigned_root =
        Hash::parse_hash(&log.root).map_err(|_| "stored root is malformed".to_owned())?;
    let (size, root) = match &ev.checkpoint {
        None => (log.size, cosigned_root),
        Some(note) => {
            // Signed by the old key and consistent with what the prefecture cosigned: the
            // witness's own checks, on a scratch copy of the state.
            let (scratch, _) = Cosigner::generate("scratch");
            let mut w = Witness::new(scratch, BTreeMap::from([(origin.to_owned(), log.clone())]));
            let proof = parse_hashes(&ev.consistency, "consistency")?;
            match w.add_checkpoint(
                &add_checkpoint_body(log.size, &proof, note.as_bytes()),
                unix_now(),
            ) {
                AddOutcome::Cosigned(_) => {}
                AddOutcome::Conflict(n) => {
                    return Err(format!(
                        "the checkpoint of the evidence is older than the size {n} the prefecture cosigned; prove the entry in the cosigned tree instead"
                    ));
                }
                AddOutcome::Forbidden(why) => {
                    return Err(format!(
                        "the checkpoint is not signed by the old key: {why}"
                    ));
                }
                other => {
                    return Err(format!(
                        "the checkpoint does not extend what the prefecture cosigned: {other:?}"
                    ));
                }
            }
            let cp =
                SignedCheckpoint::parse_unverified(note.as_bytes()).map_err(|e| e.to_string())?;
            (cp.size, cp.root)
        }
    };
    if ev.tree_size != size {
        return Err(format!(
            "the inclusion proof is for size {}, the tree signed by the old key has size {size}",
            ev.tree_size
        ));
    }
    let proof = parse_hashes(&ev.inclusion, "inclusion")?;
    if !verify_inclusion(ev.index, size, leaf_hash(ev.entry.as_bytes()), &proof, root) {
        return Err(format!(
            "entry {} is not in the tree of size {size} signed by the old key (the inclusion proof does not verify)",
            ev.index
        ));
    }
    Ok(WitnessedLog {
        vkey: new.trim().to_owned(),
        size,
        root: root.to_string(),
    })
}

/// Builds the evidence of the rotation recorded at ledger entry `index` of `city`, proved in
/// the tree of `signed` (a checkpoint of `city` signed by the old key, e.g. the bridge that
/// `rotate-key` publishes), with a consistency proof from `from_size` (the size the prefecture
/// cosigned last; the evidence carries `signed` unless it is that tree).
pub fn rotation_evidence(
    city: &Ledger,
    index: u64,
    signed: &SignedCheckpoint,
    from_size: u64,
) -> Result<RotationEvidence, String> {
    let rec = city
        .records_from(index)
        .read(index + 1, 1)
        .map_err(|e| e.to_string())?
        .into_iter()
        .next()
        .ok_or_else(|| format!("no ledger entry {index}"))?;
    if rec.erased {
        return Err(format!("entry {index} was erased"));
    }
    let inc =
        mamori_ledger::inclusion_proof(city.tiles(), signed, index).map_err(|e| e.to_string())?;
    let (checkpoint, consistency) = if signed.note.is_empty() {
        (None, Vec::new())
    } else {
        let c = mamori_ledger::consistency_proof(city.tiles(), signed, from_size, signed.size)
            .map_err(|e| e.to_string())?;
        (
            Some(String::from_utf8_lossy(&signed.note).into_owned()),
            c.hashes.iter().map(|h| h.to_string()).collect(),
        )
    };
    Ok(RotationEvidence {
        index,
        entry: String::from_utf8_lossy(&rec.entry().to_bytes()).into_owned(),
        salt: hex_encode(&rec.salt),
        payload: String::from_utf8_lossy(&rec.payload).into_owned(),
        tree_size: signed.size,
        inclusion: inc.hashes.iter().map(|h| h.to_string()).collect(),
        checkpoint,
        consistency,
    })
}

/// In process: the evidence of a rotation away from `log.vkey`, from the city's own ledger —
/// the `key` entry past (or just before) the cosigned size, proved in the cosigned tree, or
/// in the city's current checkpoint when the old key still signs it.
fn rotation_from_ledger(city: &Ledger, log: &WitnessedLog) -> Result<RotationEvidence, String> {
    let mut found = None;
    scan_rotations(city, log.size.saturating_sub(1024), &log.vkey, |index| {
        found = Some(index);
        ControlFlow::Break(())
    })?;
    let Some(index) = found else {
        return Err("no key-rotation entry from the trusted key in the city's ledger".into());
    };
    let root = Hash::parse_hash(&log.root).map_err(|_| "stored root is malformed".to_owned())?;
    if index < log.size {
        let cosigned = SignedCheckpoint {
            note: Vec::new(),
            size: log.size,
            root,
            origin: city.origin().to_owned(),
        };
        return rotation_evidence(city, index, &cosigned, log.size);
    }
    for cp in [Some(city.checkpoint()), city.latest_witnessed()]
        .into_iter()
        .flatten()
    {
        if cp.size > index && SignedCheckpoint::verify(&cp.note, &log.vkey, &[]).is_ok() {
            return rotation_evidence(city, index, &cp, log.size);
        }
    }
    Err(format!(
        "the key-rotation entry {index} is past the cosigned size {} and no checkpoint signed by the old key covers it",
        log.size
    ))
}

/// The latest `key` entry of `city` in its last `window` entries below its checkpoint that
/// rotates away from `old_vkey` (for building [`RotationEvidence`] on the city's side).
pub fn find_rotation(city: &Ledger, old_vkey: &str, window: u64) -> Result<u64, String> {
    let mut found = None;
    scan_rotations(city, city.checkpoint().size.saturating_sub(window), old_vkey, |index| {
        found = Some(index);
        ControlFlow::Continue(())
    })?;
    found.ok_or_else(|| format!("no key-rotation entry from {old_vkey} in the last {window} entries"))
}

/// Calls `on_found` with the index of each `key` entry of `city` from `from` up to its
/// checkpoint that rotates away from `old_vkey`, in ledger order, until it returns `Break`.
fn scan_rotations(
    city: &Ledger,
    from: u64,
    old_vkey: &str,
    mut on_found: impl FnMut(u64) -> ControlFlow<()>,
) -> Result<(), String> {
    let bound = city.checkpoint().size;
    let mut cursor = city.records_from(from);
    loop {
        let recs = cursor.read(bound, 4096).map_err(|e| e.to_string())?;
        if recs.is_empty() {
            return Ok(());
        }
        for r in recs {
            if r.kind != EntryKind::Key {
                continue;
            }
            let doc: Value = serde_json::from_slice(&r.payload).unwrap_or(Value::Null);
            if doc["mamori"]["key"]["old_vkey"].as_str().map(str::trim) == Some(old_vkey.trim())
                && on_found(r.index).is_break()
            {
                return Ok(());
            }
        }
    }
}
