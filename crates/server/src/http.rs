//! HTTP API (axum). Every handler checks the caller's role against mamori-auth's permission
//! table before doing anything; admin actions are ledgered before they take effect.

use crate::datadir::{DataDir, Opened, append_admin};
use crate::pipeline::{Batch, Origin, Outcome};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use mamori_auth::{Action, AdminRecord, AuthState, Principal, Role, Token, parse_authorization};
use mamori_ledger::witness::Witness;
use mamori_ledger::{Ledger, SubmitError, tiles::TileId};
use mamori_store::Store;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

/// Counters for /metrics beyond the ledger's and the index's own.
#[derive(Default)]
pub struct Counters {
    /// Records accepted per ingest path.
    pub accepted: AtomicU64,
    /// Records rejected (and quarantined).
    pub rejected: AtomicU64,
    /// Requests refused for backpressure.
    pub busy: AtomicU64,
    /// Requests refused for authentication/authorization.
    pub denied: AtomicU64,
    /// Witness alarms (fork / inconsistent checkpoints), both roles.
    pub witness_alarms: AtomicU64,
}

/// Shared server state.
#[derive(Clone)]
pub struct AppState {
    /// The data directory.
    pub dir: DataDir,
    /// The ledger.
    pub ledger: Ledger,
    /// Index connection for queries (read-only).
    pub reader: Arc<Mutex<Store>>,
    /// Accounts and tokens.
    pub auth: Arc<RwLock<AuthState>>,
    /// Counters.
    pub counters: Arc<Counters>,
    /// The witness role, when enabled.
    pub witness: Option<Arc<Mutex<Witness>>>,
    /// Configuration.
    pub cfg: Arc<crate::Config>,
    /// Start time.
    pub started: Instant,
    /// Source health (last seen, rate, silence).
    pub health: Arc<crate::health::Health>,
    /// Declarative mappings (shipped and ledgered).
    pub mappings: Arc<RwLock<crate::mappings::Mappings>>,
    /// Streaming detection and alerts.
    pub detection: Arc<crate::detection::Detection>,
}

impl AppState {
    /// Builds the state from an opened data directory.
    pub fn new(dir: DataDir, opened: &Opened) -> Result<AppState, crate::datadir::DataDirError> {
        Self::build(dir, opened, true)
    }

    /// As [`AppState::new`], but streaming detection does not follow the ledger: its records
    /// come from the caller through [`crate::detection::Detection::deliver`] (tenant mode feeds
    /// it from a NATS JetStream consumer; see [`crate::detection::Detection::start_fed`]).
    pub fn new_fed_detection(dir: DataDir, opened: &Opened) -> Result<AppState, crate::datadir::DataDirError> {
        Self::build(dir, opened, false)
    }

    fn build(dir: DataDir, opened: &Opened, follow: bool) -> Result<AppState, crate::datadir::DataDirError> {
        let reader = Store::open_read_only(&dir.index_path())?;
        let mappings = crate::mappings::Mappings::rebuild(&reader)?;
        let detection = if follow {
            crate::detection::Detection::start(&dir, &opened.ledger)?
        } else {
            crate::detection::Detection::start_fed(&dir, &opened.ledger)?
        };
        detection.watch_rules(None);
        let witness = if opened.cfg.witness.enabled {
            Some(Arc::new(Mutex::new(crate::witness_client::load_witness(&dir, &opened.cfg)?)))
        } else {
            None
        };
        Ok(AppState {
            dir,
            ledger: opened.ledger.clone(),
            reader: Arc::new(Mutex::new(reader)),
            auth: opened.auth.clone(),
            counters: Arc::new(Counters::default()),
            witness,
            cfg: Arc::new(opened.cfg.clone()),
            started: Instant::now(),
            health: Arc::new(crate::health::Health::new(opened.cfg.sources.clone())),
            mappings: Arc::new(RwLock::new(mappings)),
            detection,
        })
    }
}

/// An API error: HTTP status, a stable code, and messages in Japanese and English.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    ja: String,
    en: String,
    retry_after: Option<u32>,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, ja: impl Into<String>, en: impl Into<String>) -> Self {
        ApiError { status, code, ja: ja.into(), en: en.into(), retry_after: None }
    }
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// The Japanese message.
    pub fn message_ja(&self) -> &str {
        &self.ja
    }
    /// The English message.
    pub fn message_en(&self) -> &str {
        &self.en
    }
    pub(crate) fn bad_request(en: impl Into<String>) -> Self {
        let en = en.into();
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", format!("リクエストが不正です: {en}"), en)
    }
    fn busy() -> Self {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "台帳への書き込みが混み合っています。しばらくしてから再送してください。",
            "the ledger is busy; retry later",
        );
        e.retry_after = Some(1);
        e
    }
    pub(crate) fn internal(en: impl Into<String>) -> Self {
        let en = en.into();
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("内部エラー: {en}"), en)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.ja, "message_en": self.en}});
        let mut r = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"mamori\", Basic realm=\"mamori\""));
        }
        r
    }
}

impl From<mamori_store::StoreError> for ApiError {
    fn from(e: mamori_store::StoreError) -> Self {
        if e.is_invalid_input() { ApiError::bad_request(e.to_string()) } else { ApiError::internal(e.to_string()) }
    }
}

/// Maps an extractor rejection (bad query string or path) to a 400 naming the problem.
fn bad_params(e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(e.to_string())
}

/// Authenticates the request and checks `action` against the caller's role.
pub fn authorize(st: &AppState, headers: &HeaderMap, action: Action) -> Result<Principal, ApiError> {
    authorize_any(st, headers, &[action])
}

/// Authenticates the request; the caller's role must allow at least one of `actions`.
pub fn authorize_any(st: &AppState, headers: &HeaderMap, actions: &[Action]) -> Result<Principal, ApiError> {
    let deny = |status, code, ja: &str, en: &str| {
        st.counters.denied.fetch_add(1, Ordering::Relaxed);
        Err(ApiError::new(status, code, ja, en))
    };
    let Some(h) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return deny(StatusCode::UNAUTHORIZED, "unauthenticated", "認証が必要です(Authorization ヘッダーがありません)。", "authentication required (no Authorization header)");
    };
    let creds = match parse_authorization(h) {
        Ok(c) => c,
        Err(e) => {
            st.counters.denied.fetch_add(1, Ordering::Relaxed);
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, "bad_credentials", format!("認証情報の形式が不正です: {e}"), e.to_string()));
        }
    };
    let Some(p) = st.auth.read().unwrap().authenticate(&creds) else {
        return deny(StatusCode::UNAUTHORIZED, "unauthenticated", "認証に失敗しました。", "authentication failed");
    };
    if !actions.iter().any(|a| p.can(*a)) {
        let names: Vec<&str> = actions.iter().map(|a| a.as_str()).collect();
        let names = names.join(" / ");
        return deny(
            StatusCode::FORBIDDEN,
            "forbidden",
            &format!("権限がありません(ロール「{}」は {names} を実行できません)。", p.role.label_ja()),
            &format!("role {} may not {names}", p.role.as_str()),
        );
    }
    Ok(p)
}

/// Appends a batch and waits for durability; maps backpressure to 503 + Retry-After.
pub async fn append_batch(st: &AppState, batch: &Batch) -> Result<Vec<u64>, ApiError> {
    if batch.entries.is_empty() {
        return Ok(Vec::new());
    }
    let rx = match st.ledger.submit(batch.entries.clone()) {
        Ok(rx) => rx,
        Err(SubmitError::Busy) => {
            st.counters.busy.fetch_add(1, Ordering::Relaxed);
            return Err(ApiError::busy());
        }
        Err(SubmitError::TooLarge(n)) => return Err(ApiError::bad_request(format!("a record of {n} bytes is too large"))),
        Err(SubmitError::Ledger(e)) => return Err(ApiError::internal(e.to_string())),
    };
    let receipt = rx
        .await
        .map_err(|_| ApiError::internal("ledger writer stopped"))?
        .map_err(ApiError::internal)?;
    let accepted = batch.accepted() as u64;
    st.counters.accepted.fetch_add(accepted, Ordering::Relaxed);
    st.counters.rejected.fetch_add(batch.outcomes.len() as u64 - accepted, Ordering::Relaxed);
    Ok((0..receipt.count).map(|i| receipt.first_index + i).collect())
}

/// The router with every endpoint.
pub fn router(st: AppState) -> Router {
    let max_body = st.cfg.server.max_body_bytes;
    Router::new()
        .route("/api/v1/events", post(post_events).get(get_events))
        .route("/api/v1/events/{id}", get(get_event))
        .route("/api/v1/events/{id}/proof", get(get_proof))
        .route("/api/v1/timeline/{user}", get(get_timeline))
        .route("/api/v1/quarantine", get(get_quarantine))
        .route("/api/v1/quarantine/{id}/reingest", post(post_reingest))
        .route("/api/v1/admin/users", post(post_user).get(get_users))
        .route("/api/v1/admin/users/role", post(post_user_role))
        .route("/api/v1/admin/users/disable", post(post_user_disable))
        .route("/api/v1/admin/users/enable", post(post_user_enable))
        .route("/api/v1/admin/users/password-reset", post(post_password_reset))
        .route("/api/v1/admin/tokens", post(post_token))
        .route("/api/v1/admin/tokens/{id}/revoke", post(post_revoke))
        .route("/api/v1/admin/audit", get(get_admin_audit))
        .route("/api/v1/status", get(get_status))
        .route("/api/v1/sources", get(crate::health::get_sources))
        .route("/api/v1/webhook/{mapping}", post(crate::mappings::post_webhook))
        .route("/api/v1/mappings", get(crate::mappings::get_mappings))
        .route("/api/v1/admin/mappings/{name}", axum::routing::put(crate::mappings::put_mapping))
        .route("/api/v1/alerts", get(crate::detection::get_alerts))
        .route("/api/v1/alerts/{id}", get(crate::detection::get_alert_http))
        .route("/api/v1/alerts/{id}/triage", post(crate::detection::post_triage))
        .route("/api/v1/alerts/{id}/close", post(crate::detection::post_close))
        .route("/api/v1/rules/reload", post(crate::detection::post_rules_reload))
        .route("/metrics", get(get_metrics))
        .route("/checkpoint", get(get_checkpoint))
        .route("/tile/{*path}", get(get_tile))
        .route("/add-checkpoint", post(crate::witness_client::post_add_checkpoint))
        .merge(crate::es::routes())
        .merge(crate::directory_http::routes())
        .merge(crate::case_http::routes())
        .layer(DefaultBodyLimit::max(max_body))
        // One structured `tracing` span per request (method, path, status, latency).
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(st)
}

/// Runs the HTTP server until `shutdown` resolves.
pub async fn serve(st: AppState, listener: tokio::net::TcpListener, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let _health = crate::health::spawn(st.health.clone(), st.ledger.clone());
    axum::serve(listener, router(st)).with_graceful_shutdown(shutdown).await
}

/// Runs the HTTPS server until `shutdown` resolves.
pub async fn serve_tls(st: AppState, listener: crate::tls::TlsListener, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let _health = crate::health::spawn(st.health.clone(), st.ledger.clone());
    axum::serve(listener, router(st)).with_graceful_shutdown(shutdown).await
}

/// Runs the HTTP server with `extra` (routes already given their state, e.g. the web UI of
/// mamori-ui) merged into the router, until `shutdown` resolves.
pub async fn serve_with(st: AppState, extra: Router, listener: tokio::net::TcpListener, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let _health = crate::health::spawn(st.health.clone(), st.ledger.clone());
    axum::serve(listener, router(st).merge(extra)).with_graceful_shutdown(shutdown).await
}

/// Runs the HTTPS server with `extra` merged into the router, until `shutdown` resolves.
pub async fn serve_tls_with(st: AppState, extra: Router, listener: crate::tls::TlsListener, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let _health = crate::health::spawn(st.health.clone(), st.ledger.clone());
    axum::serve(listener, router(st).merge(extra)).with_graceful_shutdown(shutdown).await
}

#[derive(Deserialize)]
struct IngestParams {
    #[serde(default)]
    format: Option<String>,
    /// File name, for error messages and quarantine (EVTX uploads).
    #[serde(default)]
    name: Option<String>,
    /// Mapping name for `csv-mapping` and `webhook`.
    #[serde(default)]
    mapping: Option<String>,
}

/// `POST /api/v1/events[?format=ecs-ndjson|syslog|evtx][&name=FILE]`: NDJSON of ECS documents
/// (default), a file of syslog lines, or an EVTX file; one result per input line or record.
async fn post_events(State(st): State<AppState>, headers: HeaderMap, params: Result<Query<IngestParams>, QueryRejection>, body: Bytes) -> Result<Response, ApiError> {
    authorize(&st, &headers, Action::IngestEvents)?;
    let Query(params) = params.map_err(bad_params)?;
    let format: mamori_sources::Format = params.format.as_deref().unwrap_or("ecs-ndjson").parse().map_err(|e: mamori_sources::UnknownFormat| ApiError::bad_request(e.to_string()))?;
    let received = Utc::now();
    let max = st.cfg.server.max_line_bytes;
    let source = match format {
        mamori_sources::Format::EcsNdjson => "api-ndjson".to_owned(),
        other => format!("api-{}", other.as_str()),
    };
    let origin = Origin { source, format: format.as_str().to_owned() };
    let name = params.name.unwrap_or_else(|| "upload".into());
    let (batch, lines) = match format {
        mamori_sources::Format::CsvMapping | mamori_sources::Format::Webhook => {
            let m = crate::mappings::require(&st, params.mapping.as_deref())?;
            let origin = Origin { source: format!("{}:{}", origin.source, m.name), format: origin.format.clone() };
            crate::pipeline::mapped_batch(&m, &name, &body, received, &origin)
        }
        _ => crate::pipeline::file_batch(format, &name, &body, max, received, crate::syslog::offset_of(&st), &origin),
    };
    let ids = append_batch(&st, &batch).await?;
    let items: Vec<Value> = batch
        .outcomes
        .iter()
        .zip(&lines)
        .map(|((o, pos), line)| match o {
            Outcome::Accepted => json!({"line": line, "status": "created", "id": ids[*pos]}),
            Outcome::Rejected(why) => json!({"line": line, "status": "rejected", "error": why, "quarantine_id": ids[*pos]}),
        })
        .collect();
    let accepted = batch.accepted();
    Ok(axum::Json(json!({"accepted": accepted, "rejected": items.len() - accepted, "items": items})).into_response())
}

pub use crate::pipeline::line_bytes;

async fn get_events(State(st): State<AppState>, headers: HeaderMap, q: Result<Query<mamori_store::Query>, QueryRejection>) -> Result<Response, ApiError> {
    authorize(&st, &headers, Action::ReadEvents)?;
    let Query(q) = q.map_err(bad_params)?;
    let page = tokio::task::spawn_blocking(move || st.reader.lock().unwrap().search(&q))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok(axum::Json(page_json(page)).into_response())
}

fn redact(mut doc: Value) -> Value {
    // Admin records carry password hashes and token digests: never serve them.
    if let Some(a) = doc.pointer_mut("/mamori/admin").and_then(Value::as_object_mut) {
        a.remove("password_phc");
        if let Some(r) = a.get_mut("record").and_then(Value::as_object_mut) {
            r.remove("secret_sha256");
        }
    }
    doc
}

fn hit_json(h: mamori_store::Hit) -> Value {
    let ingested = chrono::DateTime::<Utc>::from_timestamp_micros(h.ingested_micros).map(mamori_event::format_ts);
    let mut doc = redact(h.doc);
    // ECS `event.ingested`: when mamori accepted the event (its ledger entry's time).
    if let (Some(t), Some(ev)) = (&ingested, doc.as_object_mut()) {
        let e = ev.entry("event").or_insert_with(|| json!({}));
        if let Some(e) = e.as_object_mut() {
            e.entry("ingested").or_insert_with(|| json!(t));
        }
    }
    json!({"id": h.id, "kind": h.kind.as_str(), "ingested": ingested, "event": doc})
}

fn page_json(p: mamori_store::Page) -> Value {
    json!({"events": p.events.into_iter().map(hit_json).collect::<Vec<_>>(), "next_cursor": p.next_cursor})
}

async fn get_event(State(st): State<AppState>, headers: HeaderMap, id: Result<Path<u64>, PathRejection>) -> Result<Response, ApiError> {
    authorize(&st, &headers, Action::ReadEvents)?;
    let Path(id) = id.map_err(bad_params)?;
    let hit = st.reader.lock().unwrap().get(id)?;
    match hit {
        Some(h) => Ok(axum::Json(hit_json(h)).into_response()),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("イベント {id} はありません(まだ索引されていない可能性があります)。"), format!("no event {id} (or not indexed yet)"))),
    }
}

/// JSON form of an inclusion proof (also printed by `mamori proof inclusion --json`).
pub fn inclusion_json(p: &mamori_ledger::InclusionProof) -> Value {
    use base64::Engine;
    let b64 = |h: &mamori_ledger::Hash| base64::prelude::BASE64_STANDARD.encode(h.0);
    json!({
        "index": p.index,
        "tree_size": p.tree_size,
        "root_hash": b64(&p.root),
        "entry": String::from_utf8_lossy(&p.entry),
        "leaf_hash": b64(&mamori_ledger::merkle::leaf_hash(&p.entry)),
        "hashes": p.hashes.iter().map(b64).collect::<Vec<_>>(),
        "checkpoint": String::from_utf8_lossy(&p.checkpoint),
    })
}

/// JSON form of a consistency proof.
pub fn consistency_json(p: &mamori_ledger::ConsistencyProof) -> Value {
    use base64::Engine;
    let b64 = |h: &mamori_ledger::Hash| base64::prelude::BASE64_STANDARD.encode(h.0);
    json!({
        "old_size": p.old_size, "new_size": p.new_size,
        "old_root": b64(&p.old_root), "new_root": b64(&p.new_root),
        "hashes": p.hashes.iter().map(b64).collect::<Vec<_>>(),
        "checkpoint": String::from_utf8_lossy(&p.checkpoint),
    })
}

async fn get_proof(State(st): State<AppState>, headers: HeaderMap, id: Result<Path<u64>, PathRejection>) -> Result<Response, ApiError> {
    authorize(&st, &headers, Action::ReadProofs)?;
    let Path(id) = id.map_err(bad_params)?;
    let ledger = st.ledger.clone();
    let r = tokio::task::spawn_blocking(move || ledger.inclusion_proof(id)).await.map_err(|e| ApiError::internal(e.to_string()))?;
    match r {
        Ok(p) => Ok(axum::Json(inclusion_json(&p)).into_response()),
        Err(mamori_ledger::LedgerError::OutOfRange(m)) => Err(ApiError::new(StatusCode::NOT_FOUND, "not_in_checkpoint", format!("まだチェックポイントに含まれていません: {m}"), m)),
        Err(e) => Err(ApiError::internal(e.to_string())),
    }
}

#[derive(Deserialize)]
struct TimelineQuery {
    from: Option<String>,
    to: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn get_timeline(State(st): State<AppState>, headers: HeaderMap, Path(user): Path<String>, q: Result<Query<TimelineQuery>, QueryRejection>) -> Result<Response, ApiError> {
    authorize(&st, &headers, Action::ReadTimeline)?;
    let Query(q) = q.map_err(bad_params)?;
    let page = st.reader.lock().unwrap().timeline(&user, q.from.as_deref(), q.to.as_deref(), q.limit, q.cursor.as_deref())?;
    Ok(axum::Json(page_json(page)).into_response())
}

#[derive(Deserialize)]
struct QuarantineQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    #[serde(default)]
    pending: bool,
}

async fn get_quarantine(State(st): State<AppState>, headers: HeaderMap, q: Result<Query<QuarantineQuery>, QueryRejection>) -> Result<Response, ApiError> {
    authorize(&st, &headers, Action::ReadQuarantine)?;
    let Query(q) = q.map_err(bad_params)?;
    let page = st.reader.lock().unwrap().list_quarantine(q.limit, q.cursor.as_deref(), q.pending)?;
    let items: Vec<Value> = page
        .items
        .into_iter()
        .map(|i| json!({"id": i.hit.id, "reason": i.reason, "source": i.source, "reingested": i.reingested, "event": i.hit.doc}))
        .collect();
    Ok(axum::Json(json!({"items": items, "next_cursor": page.next_cursor})).into_response())
}

/// Re-parses a quarantined record's raw bytes with the current parsers; on success appends the
/// resulting event(s) and an admin record linking them to the quarantine entry.
async fn post_reingest(State(st): State<AppState>, headers: HeaderMap, id: Result<Path<u64>, PathRejection>) -> Result<Response, ApiError> {
    let who = authorize(&st, &headers, Action::ReingestQuarantine)?;
    let Path(id) = id.map_err(bad_params)?;
    let hit = st.reader.lock().unwrap().get(id)?;
    let Some(q) = hit.as_ref().and_then(|h| h.doc.pointer("/mamori/quarantine")).cloned() else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("隔離レコード {id} はありません。"), format!("no quarantined record {id}")));
    };
    use base64::Engine;
    let raw = base64::prelude::BASE64_STANDARD
        .decode(q["raw_b64"].as_str().unwrap_or_default())
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let format = q["format"].as_str().unwrap_or("ecs-ndjson").to_owned();
    let received = Utc::now();
    let origin = Origin { source: format!("reingest:{id}"), format: format.clone() };
    let doc = match format.as_str() {
        "syslog" => {
            // The same context as live syslog: the configured zone for timestamps without one,
            // and the sender's address from the quarantine record's source.
            let peer = q["source"].as_str().and_then(|s| s.split_once(':')).and_then(|(_, a)| a.parse::<std::net::SocketAddr>().ok());
            let ctx = mamori_sources::SyslogContext {
                peer: peer.map(|p| p.ip()),
                default_offset: crate::syslog::offset_of(&st),
                ..mamori_sources::SyslogContext::new(received)
            };
            mamori_sources::parse_syslog(&raw, &ctx).map_err(|e| e.to_string())
        }
        _ => match mamori_sources::parse_ndjson(&raw, st.cfg.server.max_line_bytes).into_iter().next() {
            Some(Ok(d)) => Ok(d),
            Some(Err(e)) => Err(e.to_string()),
            None => Err("empty".to_owned()),
        },
    };
    let doc = doc.map_err(|why| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "still_unparseable", format!("まだ解析できません: {why}"), format!("still unparseable: {why}"))
    })?;
    let normalized = mamori_event::normalize(doc, received).map_err(|e| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "still_invalid", format!("まだ受け付けられません: {e}"), format!("still invalid: {e}"))
    })?;
    let _ = origin;
    let mut batch = Batch::default();
    batch.entries.push(mamori_ledger::NewEntry { kind: mamori_ledger::EntryKind::Event, payload: serde_json::to_vec(&normalized).unwrap() });
    batch.outcomes.push((Outcome::Accepted, 0));
    let ids = append_batch(&st, &batch).await?;
    let admin = json!({
        "@timestamp": mamori_event::format_ts(received),
        "event": {"kind": "event", "category": ["configuration"], "action": "quarantine-reingest", "module": "mamori", "dataset": "mamori.admin"},
        "user": {"name": who.name},
        "mamori": {"reingest": {"quarantine_id": id, "new_ids": ids}},
    });
    let mut b2 = Batch::default();
    b2.entries.push(mamori_ledger::NewEntry { kind: mamori_ledger::EntryKind::Admin, payload: serde_json::to_vec(&admin).unwrap() });
    b2.outcomes.push((Outcome::Accepted, 0));
    let admin_ids = append_batch(&st, &b2).await?;
    Ok(axum::Json(json!({"quarantine_id": id, "new_ids": ids, "admin_id": admin_ids[0]})).into_response())
}

#[derive(Deserialize)]
struct NewUser {
    name: String,
    role: Role,
    password: String,
}

/// Checks an admin record against the account state and the admin rules
/// ([`AuthState::check_admin_action`]: not one's own account, keep an administrator), appends
/// it to the ledger durably, then applies it. Returns the ledger id. The web UI uses it too.
pub async fn admin_apply(st: &AppState, actor: &str, rec: AdminRecord) -> Result<u64, ApiError> {
    st.auth.read().unwrap().check_admin_action(actor, &rec).map_err(|e| ApiError::new(StatusCode::CONFLICT, "refused", format!("実行できません: {e}"), e.to_string()))?;
    let ledger = st.ledger.clone();
    let name = actor.to_owned();
    let rec2 = rec.clone();
    let id = tokio::task::spawn_blocking(move || append_admin(&ledger, &name, &rec2))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    st.auth.write().unwrap().apply(&rec).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(id)
}

/// Parses a JSON request body. Admin handlers take the raw body and parse it only after
/// `authorize`, so an unauthenticated caller always gets 401/403, never a body error.
fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

async fn post_user(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let who = authorize(&st, &headers, Action::ManageUsers)?;
    let u: NewUser = json_body(&body)?;
    let phc = mamori_auth::hash_password(&u.password).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let id = admin_apply(&st, &who.name, AdminRecord::UserAdded { name: u.name.clone(), role: u.role, password_phc: phc }).await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"user": u.name, "role": u.role, "ledger_id": id}))).into_response())
}

#[derive(Deserialize)]
struct UserName {
    name: String,
}

#[derive(Deserialize)]
struct UserRole {
    name: String,
    role: Role,
}

/// `GET /api/v1/admin/users`: accounts with role and state (no password hashes).
async fn get_users(State(st): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    authorize_any(&st, &headers, &[Action::ManageUsers, Action::ReadAdminAudit])?;
    let a = st.auth.read().unwrap();
    let users: Vec<Value> = a.users().map(|(n, u)| json!({"name": n, "role": u.role, "disabled": u.disabled, "must_change_password": u.must_change_password})).collect();
    Ok(axum::Json(json!({"users": users})).into_response())
}

/// `POST /api/v1/admin/users/role` `{"name", "role"}` (the account name travels in the body,
/// not the URL, like every personal datum).
async fn post_user_role(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let who = authorize(&st, &headers, Action::ManageUsers)?;
    let u: UserRole = json_body(&body)?;
    let id = admin_apply(&st, &who.name, AdminRecord::UserRoleChanged { name: u.name.clone(), role: u.role }).await?;
    Ok(axum::Json(json!({"user": u.name, "role": u.role, "ledger_id": id})).into_response())
}

/// `POST /api/v1/admin/users/disable` `{"name"}`: the account can no longer log in, its
/// tokens stop working and its UI sessions end at their next request.
async fn post_user_disable(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let who = authorize(&st, &headers, Action::ManageUsers)?;
    let u: UserName = json_body(&body)?;
    let id = admin_apply(&st, &who.name, AdminRecord::UserDisabled { name: u.name.clone() }).await?;
    Ok(axum::Json(json!({"user": u.name, "disabled": true, "ledger_id": id})).into_response())
}

/// `POST /api/v1/admin/users/enable` `{"name"}`.
async fn post_user_enable(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let who = authorize(&st, &headers, Action::ManageUsers)?;
    let u: UserName = json_body(&body)?;
    let id = admin_apply(&st, &who.name, AdminRecord::UserEnabled { name: u.name.clone() }).await?;
    Ok(axum::Json(json!({"user": u.name, "disabled": false, "ledger_id": id})).into_response())
}

/// Generates a one-time password for `name`, ledgers the reset (only its hash) and returns
/// (password, ledger id). The password is returned once and never stored.
pub async fn reset_password(st: &AppState, actor: &str, name: &str) -> Result<(String, u64), ApiError> {
    let otp = mamori_auth::one_time_password();
    let pw = otp.clone();
    let phc = tokio::task::spawn_blocking(move || mamori_auth::hash_password(&pw)).await.map_err(|e| ApiError::internal(e.to_string()))?.map_err(|e| ApiError::internal(e.to_string()))?;
    let id = admin_apply(st, actor, AdminRecord::PasswordReset { name: name.to_owned(), password_phc: phc }).await?;
    Ok((otp, id))
}

/// `POST /api/v1/admin/users/password-reset` `{"name"}`: a one-time password, returned once;
/// the user must change it at the next UI login (it does not authenticate API calls).
async fn post_password_reset(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let who = authorize(&st, &headers, Action::ManageUsers)?;
    let u: UserName = json_body(&body)?;
    let (otp, id) = reset_password(&st, &who.name, &u.name).await?;
    Ok(axum::Json(json!({"user": u.name, "one_time_password": otp, "ledger_id": id})).into_response())
}

#[derive(Deserialize)]
struct NewToken {
    name: String,
    role: Role,
    /// The account the token is issued to (it then works only while that account is enabled).
    #[serde(default)]
    user: Option<String>,
}

async fn post_token(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let who = authorize(&st, &headers, Action::ManageTokens)?;
    let t: NewToken = json_body(&body)?;
    let mut token = Token::generate(t.role, &t.name).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if let Some(u) = &t.user {
        token = token.issued_to(u);
    }
    let (secret, record) = token.into_parts();
    let token_id = record.id.clone();
    let id = admin_apply(&st, &who.name, AdminRecord::TokenCreated { record }).await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"id": token_id, "name": t.name, "role": t.role, "token": secret, "ledger_id": id}))).into_response())
}

async fn post_revoke(State(st): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, ApiError> {
    let who = authorize(&st, &headers, Action::ManageTokens)?;
    let lid = admin_apply(&st, &who.name, AdminRecord::TokenRevoked { id: id.clone() }).await?;
    Ok(axum::Json(json!({"revoked": id, "ledger_id": lid})).into_response())
}

async fn get_admin_audit(State(st): State<AppState>, headers: HeaderMap, q: Result<Query<mamori_store::Query>, QueryRejection>) -> Result<Response, ApiError> {
    authorize(&st, &headers, Action::ReadAdminAudit)?;
    let Query(mut q) = q.map_err(bad_params)?;
    q.kind = Some("admin".into());
    let page = st.reader.lock().unwrap().search(&q)?;
    Ok(axum::Json(page_json(page)).into_response())
}

fn status_json(st: &AppState) -> Result<Value, ApiError> {
    let stats = st.reader.lock().unwrap().stats()?;
    let cp = st.ledger.checkpoint();
    let durable = st.ledger.durable_size();
    let indexed = stats.indexed_upto.map_or(0, |i| i + 1);
    Ok(json!({
        "origin": st.ledger.origin(),
        "ledger": {"durable_size": durable, "checkpoint_size": cp.size, "witnesses_configured": st.cfg.witnesses.len(), "latest_witnessed": crate::witness_client::latest_witnessed(st)},
        "index": {"indexed": indexed, "lag": durable.saturating_sub(indexed), "by_kind": stats.by_kind, "quarantine_pending": stats.quarantine_pending},
        "uptime_seconds": st.started.elapsed().as_secs(),
    }))
}

async fn get_status(State(st): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    // Readers and metrics scrapers may both see the status; one denial is counted once.
    authorize_any(&st, &headers, &[Action::ReadEvents, Action::ReadMetrics])?;
    Ok(axum::Json(status_json(&st)?).into_response())
}

async fn get_metrics(State(st): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    authorize(&st, &headers, Action::ReadMetrics)?;
    let s = st.ledger.stats();
    let stats = st.reader.lock().unwrap().stats()?;
    let durable = st.ledger.durable_size();
    let indexed = stats.indexed_upto.map_or(0, |i| i + 1);
    let c = &st.counters;
    let commits = s.commits.load(Ordering::Relaxed).max(1);
    let mut out = String::new();
    let mut m = |name: &str, kind: &str, help: &str, v: String| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"));
    };
    m("mamori_ingested_total", "counter", "Records accepted as events.", c.accepted.load(Ordering::Relaxed).to_string());
    m("mamori_rejected_total", "counter", "Records rejected and quarantined.", c.rejected.load(Ordering::Relaxed).to_string());
    m("mamori_quarantined_pending", "gauge", "Quarantined records not yet re-ingested.", stats.quarantine_pending.to_string());
    m("mamori_backpressure_total", "counter", "Requests refused with 503 because the ledger was busy.", c.busy.load(Ordering::Relaxed).to_string());
    m("mamori_auth_denied_total", "counter", "Requests refused for authentication or authorization.", c.denied.load(Ordering::Relaxed).to_string());
    m("mamori_ledger_size", "gauge", "Durable ledger entries.", durable.to_string());
    m("mamori_ledger_checkpoint_size", "gauge", "Entries covered by the latest signed checkpoint.", st.ledger.checkpoint().size.to_string());
    m("mamori_ledger_bytes_total", "counter", "Bytes appended to the payload store since start.", s.bytes.load(Ordering::Relaxed).to_string());
    m("mamori_ledger_commits_total", "counter", "Group commits (fdatasync calls) since start.", s.commits.load(Ordering::Relaxed).to_string());
    m("mamori_ledger_fsync_seconds_avg", "gauge", "Average fdatasync latency.", format!("{:.6}", s.fsync_nanos.load(Ordering::Relaxed) as f64 / commits as f64 / 1e9));
    m("mamori_ledger_fsync_seconds_max", "gauge", "Longest fdatasync latency.", format!("{:.6}", s.fsync_max_nanos.load(Ordering::Relaxed) as f64 / 1e9));
    m("mamori_index_lag", "gauge", "Durable entries not yet indexed.", durable.saturating_sub(indexed).to_string());
    m("mamori_witness_alarms_total", "counter", "Inconsistent checkpoints seen (fork alarms).", c.witness_alarms.load(Ordering::Relaxed).to_string());
    out.push_str(&st.health.metrics(Utc::now().timestamp_micros()));
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}

async fn get_checkpoint(State(st): State<AppState>) -> Response {
    let cp = st.ledger.checkpoint();
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], cp.note).into_response()
}

/// Serves tlog-tiles paths. Public: entries hold only salted commitments, no personal data.
async fn get_tile(State(st): State<AppState>, Path(path): Path<String>) -> Response {
    let full = format!("tile/{path}");
    let Ok(id) = TileId::parse(&full) else {
        return (StatusCode::NOT_FOUND, "not a tile path\n").into_response();
    };
    // Only tiles of the published tree exist for clients.
    let size = st.ledger.checkpoint().size;
    let level_size = match id.kind {
        mamori_ledger::tiles::TileKind::Hashes(l) => size.checked_shr(8 * u32::from(l)).unwrap_or(0),
        mamori_ledger::tiles::TileKind::Entries => size,
    };
    let end = id.index * 256 + u64::from(id.width);
    if end > level_size {
        return (StatusCode::NOT_FOUND, "tile beyond the latest checkpoint\n").into_response();
    }
    match std::fs::read(st.ledger.tiles().tile_path(&id)) {
        Ok(b) => ([(header::CONTENT_TYPE, "application/octet-stream"), (header::CACHE_CONTROL, "public, max-age=31536000, immutable")], b).into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "no such tile\n").into_response(),
    }
}
