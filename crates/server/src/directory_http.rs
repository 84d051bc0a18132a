//! Directory API: the access review, unknown accounts, grants of an account, takeout requests
//! (持ち出し申請) with reconciliation, vendors, review sign-offs. Reads need `ReadTimeline`
//! (officers, auditors, viewers: they name people); changes need `ManageConfig` (admin) or
//! `ManageAlerts` (officer) and are ledgered with the caller's name
//! before they take effect, checked against the directory replayed from the index so that a
//! replay after restart gives the same state.

use crate::datadir::{directory_from, directory_payload, directory_record};
use crate::http::{ApiError, AppState, authorize, authorize_any};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use mamori_auth::Action;
use mamori_directory::{DirectoryChange, Directory, Observed, ReviewParams, SignOff, TakeoutAction, VendorAction};
use mamori_ledger::{EntryKind, NewEntry};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// Who may record directory changes: administrators (configuration) and officers (who
/// handle takeout requests and reviews as their case work).
const WRITE_ACTIONS: &[Action] = &[Action::ManageConfig, Action::ManageAlerts];

/// Directory writes are checked against the state and appended one at a time.
static WRITE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The directory routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/review/access", get(get_review))
        .route("/api/v1/review/access/signoff", post(post_signoff))
        .route("/api/v1/directory/accounts/unknown", get(get_unknown))
        .route("/api/v1/directory/grants/{account}", get(get_grants))
        .route("/api/v1/takeouts", get(get_takeouts).post(post_takeout))
        .route("/api/v1/takeouts/reminders", get(get_takeout_reminders))
        .route("/api/v1/takeouts/reconcile", post(post_reconcile))
        .route("/api/v1/vendors", get(get_vendors).post(post_vendor))
        .route("/api/v1/vendors/reminders", get(get_vendor_reminders))
}

fn bad(en: impl Into<String>) -> ApiError {
    let en = en.into();
    ApiError::new(StatusCode::BAD_REQUEST, "bad_request", format!("リクエストが不正です: {en}"), en)
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("内部エラー: {e}"), e.to_string())
}

fn directory(st: &AppState) -> Result<Directory, ApiError> {
    directory_from(&st.reader.lock().unwrap()).map_err(internal)
}

fn date_of(s: Option<&str>) -> Result<NaiveDate, ApiError> {
    match s {
        Some(s) => mamori_directory::parse_date(s).map_err(|e| bad(format!("as_of: {e}"))),
        None => Ok(chrono::Local::now().date_naive()),
    }
}

#[derive(Deserialize)]
struct AsOf {
    as_of: Option<String>,
    format: Option<String>,
    dormant_days: Option<i64>,
    wide_percent: Option<u32>,
    wide_min_holders: Option<usize>,
}

impl AsOf {
    fn params(&self) -> ReviewParams {
        let d = ReviewParams::default();
        ReviewParams {
            dormant_days: self.dormant_days.unwrap_or(d.dormant_days),
            wide_percent: self.wide_percent.unwrap_or(d.wide_percent),
            wide_min_holders: self.wide_min_holders.unwrap_or(d.wide_min_holders),
        }
    }
}

/// Ledgers a change by the caller, then waits until the index (which reads replay from) has it.
async fn record(st: &AppState, actor: &str, change: DirectoryChange) -> Result<u64, ApiError> {
    let _guard = WRITE.lock().await;
    let rec = directory_record(actor, change);
    directory(st)?
        .check_record(&rec)
        .map_err(|e| ApiError::new(StatusCode::CONFLICT, "refused", format!("実行できません: {e}"), e.to_string()))?;
    let ledger = st.ledger.clone();
    let payload = directory_payload(&rec);
    let id = tokio::task::spawn_blocking(move || ledger.append_blocking(vec![NewEntry { kind: EntryKind::Admin, payload }]))
        .await
        .map_err(internal)?
        .map_err(internal)?
        .first_index;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let upto = st.reader.lock().unwrap().indexed_upto().map_err(internal)?;
        if upto.is_some_and(|u| u >= id) {
            break;
        }
        if std::time::Instant::now() > deadline {
            return Err(internal(format!("ledger entry {id} was not indexed in time")));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(id)
}

fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| bad(format!("invalid JSON body: {e}")))
}

async fn get_review(State(st): State<AppState>, headers: HeaderMap, q: Result<Query<AsOf>, QueryRejection>) -> Result<Response, ApiError> {
    authorize(&st, &headers, Action::ReadTimeline)?;
    let Query(q) = q.map_err(|e| bad(e.to_string()))?;
    let as_of = date_of(q.as_of.as_deref())?;
    let r = directory(&st)?.review_access(as_of, &q.params());
    match q.format.as_deref() {
        None | Some("json") => Ok(axum::Json(r).into_response()),
        Some("csv") => Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], r.to_csv()).into_response()),
        Some(other) => Err(bad(format!("format={other}: json or csv"))),
    }
}

#[derive(Deserialize)]
struct SignBody {
    as_of: String,
    reviewer: String,
    #[serde(default)]
    comments: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    params: Option<ReviewParams>,
}

async fn post_signoff(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let who = authorize_any(&st, &headers, WRITE_ACTIONS)?;
    let b: SignBody = json_body(&body)?;
    let as_of = date_of(Some(&b.as_of))?;
    let params = b.params.unwrap_or_default();
    let r = directory(&st)?.review_access(as_of, &params);
    let s = SignOff {
        as_of,
        params,
        reviewer: b.reviewer,
        signed_on: chrono::Local::now().date_naive(),
        findings_sha256: r.findings_sha256.clone(),
        comments: b.comments,
        summary: b.summary,
    };
    let id = record(&st, &who.name, DirectoryChange::ReviewSignOff(s)).await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"ledger_id": id, "findings": r.findings.len(), "findings_sha256": r.findings_sha256}))).into_response())
}

async fn get_unknown(State(st): State<AppState>, headers: HeaderMap, q: Result<Query<AsOf>, QueryRejection>) -> Result<Response, ApiError> {
    authorize(&st, &headers, Action::ReadTimeline)?;
    let Query(q) = q.map_err(|e| bad(e.to_string()))?;
    let as_of = date_of(q.as_of.as_deref())?;
    Ok(axum::Json(json!({"as_of": as_of, "accounts": directory(&st)?.unknown_accounts(as_of)})).into_response())
}

async fn get_grants(State(st): State<AppState>, headers: HeaderMap, Path(account): Path<String>, q: Result<Query<AsOf>, QueryRejection>) -> Result<Response, ApiError> {
    authorize(&st, &headers, Action::ReadTimeline)?;
    let Query(q) = q.map_err(|e| bad(e.to_string()))?;
    let as_of = date_of(q.as_of.as_deref())?;
    let dir = directory(&st)?;
    Ok(axum::Json(json!({"account": account, "as_of": as_of, "resolution": dir.resolve_account(&account, as_of), "grants": dir.grants_of(&account, as_of)})).into_response())
}

async fn get_takeouts(State(st): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    authorize(&st, &headers, Action::ReadTimeline)?;
    let dir = directory(&st)?;
    let all: Vec<_> = dir.takeouts().cloned().collect();
    Ok(axum::Json(json!({"takeouts": all})).into_response())
}

async fn post_takeout(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let who = authorize_any(&st, &headers, WRITE_ACTIONS)?;
    let action: TakeoutAction = json_body(&body)?;
    let tid = action.id().to_owned();
    let id = record(&st, &who.name, DirectoryChange::Takeout(action)).await?;
    let dir = directory(&st)?;
    Ok((StatusCode::CREATED, axum::Json(json!({"ledger_id": id, "takeout": dir.takeout(&tid)}))).into_response())
}

async fn get_takeout_reminders(State(st): State<AppState>, headers: HeaderMap, q: Result<Query<AsOf>, QueryRejection>) -> Result<Response, ApiError> {
    authorize(&st, &headers, Action::ReadTimeline)?;
    let Query(q) = q.map_err(|e| bad(e.to_string()))?;
    let as_of = date_of(q.as_of.as_deref())?;
    Ok(axum::Json(json!({"as_of": as_of, "reminders": directory(&st)?.takeout_reminders(as_of)})).into_response())
}

/// Body: a JSON array of ECS events (or `{"id": n, "event": {...}}` objects).
async fn post_reconcile(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    authorize(&st, &headers, Action::ReadTimeline)?;
    let events: Vec<Value> = json_body(&body)?;
    let dir = directory(&st)?;
    let out: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let (id, doc) = match (v.get("id").and_then(|x| x.as_u64()), v.get("event")) {
                (id, Some(doc)) => (id, doc),
                _ => (None, v),
            };
            match Observed::from_ecs(id, doc) {
                Some(o) => json!({"index": i, "observed": o, "result": dir.reconcile_one(&o)}),
                None => json!({"index": i, "result": null, "note": "持ち出しの記録ではありません / not a USB write, mail with attachment or export"}),
            }
        })
        .collect();
    Ok(axum::Json(json!({"results": out})).into_response())
}

async fn get_vendors(State(st): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    authorize(&st, &headers, Action::ReadTimeline)?;
    let dir = directory(&st)?;
    let all: Vec<_> = dir.vendors().cloned().collect();
    Ok(axum::Json(json!({"vendors": all})).into_response())
}

async fn post_vendor(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let who = authorize_any(&st, &headers, WRITE_ACTIONS)?;
    let action: VendorAction = json_body(&body)?;
    let id = record(&st, &who.name, DirectoryChange::Vendor(action)).await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"ledger_id": id}))).into_response())
}

async fn get_vendor_reminders(State(st): State<AppState>, headers: HeaderMap, q: Result<Query<AsOf>, QueryRejection>) -> Result<Response, ApiError> {
    authorize(&st, &headers, Action::ReadTimeline)?;
    let Query(q) = q.map_err(|e| bad(e.to_string()))?;
    let as_of = date_of(q.as_of.as_deref())?;
    let rem: Vec<Value> = directory(&st)?
        .vendor_reminders(as_of)
        .into_iter()
        .map(|r| json!({"contract": r.contract, "vendor": r.vendor, "kind": r.kind, "message": r.message()}))
        .collect();
    Ok(axum::Json(json!({"as_of": as_of, "reminders": rem})).into_response())
}
