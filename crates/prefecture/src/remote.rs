//! Cities on their own box: the prefecture as their witness over HTTP (c2sp.org/tlog-witness).
//!
//! A city that runs single-city `mamori serve` on its own machine is registered with
//! [`add_remote_city`] (`mamori prefecture add-remote-city --root R --name C --origin O --key
//! VKEY`): its name, log origin and checkpoint verifier key go to
//! `<root>/prefecture/witness/remote-cities.json` and the registration is ledgered in the
//! prefecture's ledger. The city then lists the prefecture as a witness in its `config.toml`:
//!
//! ```toml
//! [[witnesses]]
//! url = "http://prefecture.example:8080/prefecture/witness"
//! vkey = "<the prefecture's witness key>"
//! ```
//!
//! and its submitter posts every new checkpoint to `POST /prefecture/witness/add-checkpoint`
//! ([`router`]). Each remote city has its own [`CityWitness`] (state in
//! `<root>/prefecture/witness/cities/<name>.json`): same checks, same state file layout, same
//! alarms as an in-process city — in the prefecture's health (`remote_cities`, `witness.alarms`,
//! `witness.refused_cities`) and as `witness-alarm` entries in the prefecture's ledger. The
//! answers are the spec's: 200 with the cosignature line, 409 `text/x.tlog.size` with the
//! cosigned size, 403 (not signed by the city's key), 404 (unknown origin), 422 (fork or
//! inconsistent history), 400 (malformed).
//!
//! `POST /prefecture/witness/rotate-key` takes `{"origin": O, "evidence": <RotationEvidence>}`
//! after the city rotated its key ([`CityWitness::follow_rotation`]; the evidence is
//! self-authenticating, so no token is needed): 200 `{"vkey": new}` or 422 with why, and a
//! `bad-rotation` alarm.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use mamori_ledger::checkpoint::verifier_from_vkey;
use mamori_ledger::witness::AddOutcome;
use mamori_ledger::{EntryKind, Ledger, NewEntry, SignedCheckpoint};
use mamori_tenant::TenantId;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::witness::{CityWitness, RotationEvidence, WitnessStatus};

/// A city registered as witnessed over HTTP.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// The city's name (a tenant id; also the name of its witness state file).
    pub name: String,
    /// Its log origin (the name of its checkpoint key).
    pub origin: String,
    /// Its checkpoint verifier key at registration (later rotations are followed in the
    /// witness state, not here).
    pub vkey: String,
    /// When it was registered, Unix seconds.
    pub added_at: u64,
}

/// Errors registering or loading remote cities.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The registry file.
    #[error("{}: {why}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        why: String,
    },
    /// A refused registration.
    #[error("{0}")]
    Invalid(String),
}

/// `<prefecture dir>/witness/remote-cities.json`.
pub fn registry_path(prefecture_dir: &Path) -> PathBuf {
    prefecture_dir.join("witness").join("remote-cities.json")
}

/// The registered remote cities (empty when none).
pub fn registrations(prefecture_dir: &Path) -> Result<Vec<Registration>, RemoteError> {
    let p = registry_path(prefecture_dir);
    match std::fs::read(&p) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| RemoteError::File {
            path: p,
            why: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(RemoteError::File {
            path: p,
            why: e.to_string(),
        }),
    }
}

/// Registers city `name` (log `origin`, checkpoint verifier key `vkey`) to be witnessed over
/// HTTP, and ledgers it in the prefecture's ledger (opened here: `prefecture serve` must be
/// stopped, as for `add-city`). Refuses a key not named `origin`, a name or origin already
/// used by a city of this prefecture (in-process or remote).
pub fn add_remote_city(
    root: &Path,
    name: &str,
    origin: &str,
    vkey: &str,
) -> Result<Registration, RemoteError> {
    let invalid = |m: String| RemoteError::Invalid(m);
    let t = TenantId::new(name).map_err(|e| invalid(format!("--name: {e}")))?;
    let vkey = vkey.trim();
    verifier_from_vkey(vkey).map_err(|e| invalid(format!("--key: {e}")))?;
    if vkey.split('+').next() != Some(origin) {
        return Err(invalid(format!(
            "--key {vkey} は --origin {origin} の鍵ではありません / the key is not named after the origin {origin}"
        )));
    }
    if crate::city_dir(root, &t).exists() {
        return Err(invalid(format!(
            "市町村 {t} はこの県で運用中です / city {t} is already served by this prefecture"
        )));
    }
    let p = root.join("prefecture");
    let mut list = registrations(&p)?;
    if let Some(r) = list.iter().find(|r| r.name == name || r.origin == origin) {
        return Err(invalid(format!(
            "登録済みです / already registered: {} ({})",
            r.name, r.origin
        )));
    }
    let reg = Registration {
        name: name.to_owned(),
        origin: origin.to_owned(),
        vkey: vkey.to_owned(),
        added_at: mamori_ledger::checkpoint::unix_now(),
    };
    let dd = mamori_server::DataDir::new(&p);
    let opened = dd.open().map_err(|e| RemoteError::File {
        path: p.clone(),
        why: e.to_string(),
    })?;
    let doc = json!({
        "@timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "event": {"kind": "event", "category": ["configuration"], "action": "remote-city-added", "module": "mamori", "dataset": "mamori.prefecture", "outcome": "success"},
        "user": {"name": "cli"},
        "mamori": {"remote_city": &reg},
    });
    let appended = opened.ledger.append_blocking(vec![NewEntry {
        kind: EntryKind::Admin,
        payload: serde_json::to_vec(&doc).expect("json"),
    }]);
    opened.ledger.close();
    appended.map_err(|e| RemoteError::File {
        path: p.clone(),
        why: e.to_string(),
    })?;
    list.push(reg.clone());
    let rp = registry_path(&p);
    if let Some(parent) = rp.parent() {
        std::fs::create_dir_all(parent).map_err(|e| RemoteError::File {
            path: parent.to_owned(),
            why: e.to_string(),
        })?;
    }
    let text = serde_json::to_string_pretty(&list).expect("json");
    mamori_ledger::storage::write_atomic(&rp, text.as_bytes()).map_err(|e| RemoteError::File {
        path: rp.clone(),
        why: e.to_string(),
    })?;
    Ok(reg)
}

/// One remote city and the prefecture's witness of it.
pub struct RemoteCity {
    /// Its registration.
    pub registration: Registration,
    /// The prefecture's witness of its log.
    pub witness: Arc<CityWitness>,
}

/// The remote cities of a prefecture, by origin, with the prefecture's ledger for alarms.
pub struct RemoteCities {
    by_origin: BTreeMap<String, Arc<RemoteCity>>,
    ledger: Ledger,
}

impl RemoteCities {
    /// Loads the registered cities' witnesses from `prefecture_dir`; alarms and followed
    /// rotations go to `ledger` (the prefecture's).
    pub fn open(prefecture_dir: &Path, ledger: Ledger) -> Result<RemoteCities, RemoteError> {
        let mut by_origin = BTreeMap::new();
        for r in registrations(prefecture_dir)? {
            let w = CityWitness::load(prefecture_dir, &r.name, &r.vkey)
                .map_err(|e| RemoteError::Invalid(e.to_string()))?
                .ledgering_to(ledger.clone(), &r.name);
            by_origin.insert(
                r.origin.clone(),
                Arc::new(RemoteCity {
                    registration: r,
                    witness: Arc::new(w),
                }),
            );
        }
        Ok(RemoteCities { by_origin, ledger })
    }

    /// The remote city whose log is `origin`.
    pub fn get(&self, origin: &str) -> Option<&Arc<RemoteCity>> {
        self.by_origin.get(origin)
    }

    /// The remote cities.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<RemoteCity>> {
        self.by_origin.values()
    }

    /// For the prefecture's health: each remote city's name, origin, trusted key and witness
    /// status.
    pub fn health(&self) -> Vec<Value> {
        self.iter()
            .map(|c| {
                let (_, log) = c.witness.log();
                json!({
                    "name": c.registration.name,
                    "origin": c.registration.origin,
                    "vkey": log.vkey,
                    "witness": c.witness.status(),
                })
            })
            .collect()
    }

    /// Alarms raised since start, and the names of the cities whose latest checkpoint is refused.
    pub fn alarm_summary(&self) -> (u64, Vec<String>) {
        let statuses: Vec<(String, WitnessStatus)> = self
            .iter()
            .map(|c| (c.registration.name.clone(), c.witness.status()))
            .collect();
        (
            statuses.iter().map(|(_, s)| s.alarms).sum(),
            statuses
                .into_iter()
                .filter(|(_, s)| s.alarm.is_some())
                .map(|(n, _)| n)
                .collect(),
        )
    }
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn add_checkpoint(State(st): State<Arc<RemoteCities>>, body: Bytes) -> Response {
    let st2 = st.clone();
    let r = tokio::task::spawn_blocking(move || {
        let note_at = body.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
        let origin = note_at
            .and_then(|i| SignedCheckpoint::parse_unverified(&body[i..]).ok())
            .map(|c| c.origin);
        let Some(origin) = origin else {
            return AddOutcome::BadRequest("not an add-checkpoint body with a checkpoint".into());
        };
        let Some(c) = st2.get(&origin).cloned() else {
            return AddOutcome::UnknownLog(format!("unknown log origin {origin:?}"));
        };
        let (outcome, alarm) = c.witness.add_checkpoint(&body);
        if let Some(a) = alarm {
            let note = note_at.map_or(&[][..], |i| &body[i..]);
            c.witness
                .ledger_alarm(&st2.ledger, &c.registration.name, &a, note);
        }
        outcome
    })
    .await;
    let outcome = match r {
        Ok(o) => o,
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let status = StatusCode::from_u16(outcome.status()).expect("status");
    match outcome {
        AddOutcome::Cosigned(lines) => (status, lines).into_response(),
        AddOutcome::Conflict(size) => (
            status,
            [(header::CONTENT_TYPE, "text/x.tlog.size")],
            format!("{size}\n"),
        )
            .into_response(),
        AddOutcome::Fork { why: m, .. }
        | AddOutcome::BadRequest(m)
        | AddOutcome::Forbidden(m)
        | AddOutcome::UnknownLog(m)
        | AddOutcome::Unprocessable(m) => text(status, format!("{m}\n")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateRequest {
    origin: String,
    evidence: RotationEvidence,
}

async fn rotate_key(State(st): State<Arc<RemoteCities>>, body: Bytes) -> Response {
    let json_err = |status: StatusCode, code: &str, ja: String, en: String| {
        (
            status,
            axum::Json(json!({"error": {"code": code, "message": ja, "message_en": en}})),
        )
            .into_response()
    };
    let req: RotateRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return json_err(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("本文が鍵更新の証拠として読めません: {e}"),
                format!("not a rotation request: {e}"),
            );
        }
    };
    let Some(c) = st.get(&req.origin).cloned() else {
        return json_err(
            StatusCode::NOT_FOUND,
            "unknown_log",
            format!("ログ {} は登録されていません。", req.origin),
            format!("unknown log origin {:?}", req.origin),
        );
    };
    let st2 = st.clone();
    let r = tokio::task::spawn_blocking(move || match c.witness.follow_rotation(&req.evidence) {
        Ok(vkey) => Ok(vkey),
        Err(why) => {
            let a = c.witness.refuse_rotation(&req.evidence, &why);
            let ev = serde_json::to_vec(&req.evidence).unwrap_or_default();
            c.witness
                .ledger_alarm(&st2.ledger, &c.registration.name, &a, &ev);
            Err(a)
        }
    })
    .await;
    match r {
        Ok(Ok(vkey)) => {
            axum::Json(json!({"origin": st.get_origin_of(&vkey), "vkey": vkey})).into_response()
        }
        Ok(Err(a)) => json_err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_rotation",
            a.message_ja,
            a.message,
        ),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

impl RemoteCities {
    fn get_origin_of(&self, vkey: &str) -> Option<String> {
        vkey.split('+')
            .next()
            .filter(|o| self.by_origin.contains_key(*o))
            .map(str::to_owned)
    }
}

/// `POST /prefecture/witness/add-checkpoint` and `POST /prefecture/witness/rotate-key` (see the
/// module docs). Public, as c2sp tlog-witness endpoints are: only checkpoints signed by a
/// registered city's key are cosigned.
pub fn router(st: Arc<RemoteCities>) -> Router {
    Router::new()
        .route("/prefecture/witness/add-checkpoint", post(add_checkpoint))
        .route("/prefecture/witness/rotate-key", post(rotate_key))
        .with_state(st)
}
