//! Declarative mappings (business-system CSV, webhooks) known to a server: the ones shipped with
//! mamori plus the ones a city defines, which are admin actions in the ledger (`mapping-changed`,
//! the whole TOML text and its SHA-256) and rebuilt from it on start, like accounts and tokens.

use mamori_sources::Mapping;
use mamori_store::Store;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The `event.action` of a ledgered mapping change.
pub const MAPPING_CHANGED: &str = "mapping-changed";

/// Mappings by name: the city's (from the ledger) over the shipped ones.
#[derive(Clone, Debug, Default)]
pub struct Mappings {
    custom: BTreeMap<String, (Mapping, u64)>,
}

impl Mappings {
    /// Replays the ledgered mapping changes from the index, oldest first. A record that no
    /// longer parses (a newer mamori changed the rules) is skipped with a warning, never fatal.
    pub fn rebuild(store: &Store) -> Result<Mappings, mamori_store::StoreError> {
        let mut m = Mappings::default();
        let mut cursor: Option<String> = None;
        let mut docs = Vec::new();
        loop {
            let q = mamori_store::Query { kind: Some("admin".into()), action: Some(MAPPING_CHANGED.into()), limit: Some(1000), cursor: cursor.clone(), ..Default::default() };
            let page = store.search(&q)?;
            docs.extend(page.events.into_iter().map(|h| (h.id, h.doc)));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        docs.sort_by_key(|(id, _)| *id);
        for (id, doc) in docs {
            let Some(text) = doc.pointer("/mamori/mapping/toml").and_then(Value::as_str) else { continue };
            match Mapping::parse(text, &format!("ledger #{id}")) {
                Ok(map) => m.insert(map, id),
                Err(e) => tracing::warn!(id, error = %e, "skipping a ledgered mapping that no longer parses"),
            }
        }
        Ok(m)
    }

    /// Adds or replaces a city mapping (after it was ledgered as entry `id`).
    pub fn insert(&mut self, m: Mapping, id: u64) {
        self.custom.insert(m.name.clone(), (m, id));
    }

    /// A mapping by name: the city's, else the shipped one.
    pub fn get(&self, name: &str) -> Option<Mapping> {
        self.custom.get(name).map(|(m, _)| m.clone()).or_else(|| Mapping::builtin(name))
    }

    /// Every mapping name with where it comes from (`ledger #ID` or `builtin`) and its input.
    pub fn list(&self) -> Vec<Value> {
        let mut out: Vec<Value> = Mapping::builtin_names()
            .into_iter()
            .filter(|n| !self.custom.contains_key(*n))
            .filter_map(Mapping::builtin)
            .map(|m| json!({"name": m.name, "origin": "builtin", "input": input_name(&m), "system": m.system, "description": m.description}))
            .collect();
        out.extend(self.custom.values().map(|(m, id)| json!({"name": m.name, "origin": "ledger", "ledger_id": id, "input": input_name(m), "system": m.system, "description": m.description})));
        out.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        out
    }
}

fn input_name(m: &Mapping) -> &'static str {
    match m.input {
        mamori_sources::mapping::Input::Csv => "csv",
        mamori_sources::mapping::Input::Json => "json",
    }
}

/// The ledger payload (kind `admin`) of a mapping change: actor, name, the TOML text and its hash.
pub fn admin_doc(actor: &str, m: &Mapping) -> Value {
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(m.source.as_bytes()));
    json!({
        "@timestamp": mamori_event::format_ts(chrono::Utc::now()),
        "event": {"kind": "event", "category": ["configuration"], "action": MAPPING_CHANGED, "module": "mamori", "dataset": "mamori.admin", "outcome": "success"},
        "user": {"name": actor},
        "mamori": {"mapping": {"name": m.name, "sha256": digest, "toml": m.source}},
    })
}

/// Resolves `--mapping VALUE` for the CLI: an existing file is read and parsed; otherwise the
/// value is a mapping name (ledgered by the city, or shipped).
pub fn resolve(value: &str, known: &Mappings) -> Result<Mapping, String> {
    let p = std::path::Path::new(value);
    if p.is_file() {
        let text = std::fs::read_to_string(p).map_err(|e| format!("{value}: {e}"))?;
        return Mapping::parse(&text, value).map_err(|e| e.to_string());
    }
    known.get(value).ok_or_else(|| unknown(value, known))
}

/// The error for an unknown mapping name, listing the known ones.
pub fn unknown(name: &str, known: &Mappings) -> String {
    let names: Vec<String> = known.list().iter().filter_map(|v| v["name"].as_str().map(str::to_owned)).collect();
    format!("マッピング {name:?} はありません / no mapping {name:?} (known: {})", names.join(", "))
}

// ---- HTTP -------------------------------------------------------------------------------------

use crate::http::{ApiError, AppState, append_batch, authorize};
use crate::pipeline::{Batch, Origin, Outcome};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use mamori_auth::Action;

fn bad(code: &'static str, ja: String, en: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, ja, en)
}

/// The mapping named by `?mapping=` (400 when absent or unknown).
pub fn require(st: &AppState, name: Option<&str>) -> Result<Mapping, ApiError> {
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return Err(bad("mapping_required", "mapping=NAME を指定してください".into(), "this format needs ?mapping=NAME".into()));
    };
    let known = st.mappings.read().unwrap();
    known.get(name).ok_or_else(|| {
        let e = unknown(name, &known);
        ApiError::new(StatusCode::NOT_FOUND, "unknown_mapping", e.clone(), e)
    })
}

/// `POST /api/v1/webhook/{mapping}`: one webhook payload (a JSON object, an array of them, or
/// JSON lines) read through a JSON mapping. 200 when every record mapped; 202 when some were
/// quarantined (kept, with the reason) — both are success for the sender, which must not retry.
pub async fn post_webhook(State(st): State<AppState>, headers: HeaderMap, Path(name): Path<String>, body: Bytes) -> Result<Response, ApiError> {
    authorize(&st, &headers, Action::IngestEvents)?;
    let m = require(&st, Some(&name))?;
    if m.input != mamori_sources::mapping::Input::Json {
        return Err(bad("not_a_webhook_mapping", format!("{name} は CSV 用のマッピングです"), format!("{name} is a CSV mapping; use POST /api/v1/events?format=csv-mapping&mapping={name}")));
    }
    let received = chrono::Utc::now();
    let origin = Origin { source: format!("webhook:{name}"), format: "webhook".into() };
    let (mut batch, _) = crate::pipeline::mapped_batch(&m, &format!("webhook:{name}"), &body, received, &origin);
    if batch.outcomes.is_empty() {
        // An empty body is still something that arrived: keep it.
        batch.push_rejected(&body, "空の webhook / empty webhook payload", received, &origin, 1, 0);
    }
    let ids = append_batch(&st, &batch).await?;
    let items: Vec<Value> = batch
        .outcomes
        .iter()
        .map(|(o, pos)| match o {
            Outcome::Accepted => json!({"status": "created", "id": ids[*pos]}),
            Outcome::Rejected(why) => json!({"status": "quarantined", "error": why, "quarantine_id": ids[*pos]}),
        })
        .collect();
    let accepted = batch.accepted();
    let status = if accepted == items.len() { StatusCode::OK } else { StatusCode::ACCEPTED };
    Ok((status, axum::Json(json!({"mapping": name, "accepted": accepted, "quarantined": items.len() - accepted, "items": items}))).into_response())
}

/// `GET /api/v1/mappings`: names, origin (builtin or ledger) and input of every mapping.
pub async fn get_mappings(State(st): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    crate::http::authorize_any(&st, &headers, &[Action::IngestEvents, Action::ReadEvents, Action::ManageConfig])?;
    let list = st.mappings.read().unwrap().list();
    Ok(axum::Json(json!({"mappings": list})).into_response())
}

/// `PUT /api/v1/admin/mappings/{name}` (body: the TOML file): checks the mapping, ledgers it as an
/// admin action, then uses it. The file's `mapping.name` must equal `{name}`.
pub async fn put_mapping(State(st): State<AppState>, headers: HeaderMap, Path(name): Path<String>, body: Bytes) -> Result<Response, ApiError> {
    let who = authorize(&st, &headers, Action::ManageConfig)?;
    let text = std::str::from_utf8(&body).map_err(|e| bad("bad_mapping", format!("マッピングは UTF-8 の TOML です: {e}"), format!("a mapping is UTF-8 TOML: {e}")))?;
    let m = Mapping::parse(text, &name).map_err(|e| bad("bad_mapping", e.to_string(), e.to_string()))?;
    if m.name != name {
        return Err(bad(
            "bad_mapping",
            format!("キー mapping.name ({:?}) が URL の名前 ({name:?}) と違います", m.name),
            format!("key mapping.name ({:?}) differs from the name in the URL ({name:?})", m.name),
        ));
    }
    let doc = admin_doc(&who.name, &m);
    let mut batch = Batch::default();
    batch.entries.push(mamori_ledger::NewEntry { kind: mamori_ledger::EntryKind::Admin, payload: serde_json::to_vec(&doc).expect("json") });
    batch.outcomes.push((Outcome::Accepted, 0));
    let ids = append_batch(&st, &batch).await?;
    st.mappings.write().unwrap().insert(m, ids[0]);
    Ok((StatusCode::CREATED, axum::Json(json!({"name": name, "ledger_id": ids[0], "sha256": doc["mamori"]["mapping"]["sha256"]}))).into_response())
}
