//! Elasticsearch-compatible ingest, so Winlogbeat, Filebeat, Fluent Bit, NXLog and rsyslog's
//! omelasticsearch ship to mamori unchanged: `POST /_bulk`, `POST /{index}/_bulk` with
//! `index`/`create` actions and ES-shaped per-item answers, plus the probes Beats 8.x make at
//! start (`GET /`, `/_license`, `/_xpack`, templates, ILM). Nothing here ever updates or deletes:
//! `update` and `delete` actions are answered per item with an error.

use crate::http::{AppState, append_batch, authorize};
use crate::pipeline::{Batch, Origin, Outcome};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::Utc;
use mamori_auth::Action;
use mamori_sources::{BulkItem, pair_bulk};
use serde_json::{Value, json};

const ES_VERSION: &str = "8.11.0";

/// The ES-compatible routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(root).head(root_head))
        .route("/_bulk", post(bulk_default).put(bulk_default))
        .route("/{index}/_bulk", post(bulk_index).put(bulk_index))
        .route("/{index}/_doc", post(doc_index))
        .route("/_license", get(license))
        .route("/_xpack", get(xpack))
        .route("/_index_template/{name}", put(ack).get(empty_templates).head(not_found))
        .route("/_template/{name}", put(ack).head(not_found))
        .route("/_ilm/policy/{name}", put(ack).get(ilm_policy))
        .route("/_data_stream/{name}", put(ack).get(data_stream))
        .route("/_nodes", get(nodes))
        .route("/_cluster/health", get(health))
}

fn es(resp: impl IntoResponse) -> Response {
    let mut r = resp.into_response();
    // Elastic's clients (Beats ≥ 7.14) refuse servers that do not say this.
    r.headers_mut().insert("x-elastic-product", HeaderValue::from_static("Elasticsearch"));
    r
}

async fn root() -> Response {
    es(axum::Json(json!({
        "name": "mamori",
        "cluster_name": "mamori",
        "cluster_uuid": "mamori-audit-ledger",
        "version": {
            "number": ES_VERSION,
            "build_flavor": "default",
            "build_type": "mamori",
            "lucene_version": "9.8.0",
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0"
        },
        "tagline": "You Know, for Search"
    })))
}

async fn root_head() -> Response {
    es(StatusCode::OK)
}

async fn license() -> Response {
    es(axum::Json(json!({"license": {"status": "active", "uid": "mamori", "type": "basic", "issue_date_in_millis": 0, "max_nodes": 1000, "issued_to": "mamori", "issuer": "mamori", "start_date_in_millis": -1}})))
}

async fn xpack() -> Response {
    es(axum::Json(json!({"build": {}, "license": {"uid": "mamori", "type": "basic", "mode": "basic", "status": "active"}, "features": {}})))
}

async fn ack() -> Response {
    es(axum::Json(json!({"acknowledged": true})))
}

async fn not_found() -> Response {
    es(StatusCode::NOT_FOUND)
}

async fn empty_templates() -> Response {
    es(axum::Json(json!({"index_templates": []})))
}

async fn ilm_policy(Path(name): Path<String>) -> Response {
    es(axum::Json(json!({ name: {"version": 1, "policy": {"phases": {}}} })))
}

async fn data_stream(Path(name): Path<String>) -> Response {
    es(axum::Json(json!({"data_streams": [{"name": name, "status": "GREEN"}]})))
}

async fn nodes() -> Response {
    es(axum::Json(json!({"_nodes": {"total": 1, "successful": 1, "failed": 0}, "cluster_name": "mamori", "nodes": {"mamori": {"name": "mamori", "version": ES_VERSION, "roles": ["data", "ingest", "master"]}}})))
}

async fn health() -> Response {
    es(axum::Json(json!({"cluster_name": "mamori", "status": "green", "number_of_nodes": 1})))
}

async fn bulk_default(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    bulk(st, headers, None, body).await
}

async fn bulk_index(State(st): State<AppState>, headers: HeaderMap, Path(index): Path<String>, body: Bytes) -> Response {
    bulk(st, headers, Some(index), body).await
}

/// `POST /{index}/_doc`: a single document (rsyslog omelasticsearch without bulk mode).
async fn doc_index(State(st): State<AppState>, headers: HeaderMap, Path(index): Path<String>, body: Bytes) -> Response {
    let mut b = br#"{"create":{}}"#.to_vec();
    b.push(b'\n');
    b.extend_from_slice(&body);
    let r = bulk(st, headers, Some(index), Bytes::from(b)).await;
    // Translate the bulk answer into a single-document answer.
    let (parts, body) = r.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    match v.pointer("/items/0/create") {
        Some(item) => {
            let status = item["status"].as_u64().unwrap_or(500) as u16;
            es((StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), axum::Json(item.clone())))
        }
        None => es(Response::from_parts(parts, axum::body::Body::from(bytes))),
    }
}

async fn bulk(st: AppState, headers: HeaderMap, default_index: Option<String>, body: Bytes) -> Response {
    let t0 = std::time::Instant::now();
    if let Err(e) = authorize(&st, &headers, Action::IngestEvents) {
        return es(e);
    }
    let received = Utc::now();
    let origin = Origin { source: "es-bulk".into(), format: "ecs-ndjson".into() };
    let mut batch = Batch::default();
    // Per input item: (action, index, Some(position in batch.outcomes) | Err(item error)).
    // The pairing itself is pure (mamori_sources::pair_bulk, fuzzed as es_bulk_pairing).
    let mut items: Vec<Result<(String, String, usize), Value>> = Vec::new();
    for item in pair_bulk(&body, st.cfg.server.max_line_bytes, default_index.as_deref()) {
        match item {
            BulkItem::Doc { action, index, record } => {
                let raw = crate::http::line_bytes(&body, record.offset);
                let idx = index.clone();
                let tag = move |d: &mut mamori_event::Doc| {
                    if mamori_event::get_path(d, "data_stream.dataset").is_none() && mamori_event::get_path(d, "event.dataset").is_none() {
                        mamori_event::set_path(d, "event.dataset", Value::String(idx.clone()));
                    }
                };
                batch.push_doc(record.doc, raw, received, &origin, record.line, record.offset as u64, Some(&tag));
                items.push(Ok((action, index, batch.outcomes.len() - 1)));
            }
            BulkItem::Quarantine { action, index, error, reason } => {
                batch.push_rejected(&error.raw, &reason, received, &origin, error.line, error.offset as u64);
                items.push(Ok((action, index, batch.outcomes.len() - 1)));
            }
            BulkItem::Refused(r) => items.push(Err(r.to_es_item())),
        }
    }
    let ids = match append_batch(&st, &batch).await {
        Ok(ids) => ids,
        Err(e) => return es(e),
    };
    let mut errors = false;
    let out: Vec<Value> = items
        .into_iter()
        .map(|it| match it {
            Err(v) => {
                errors = true;
                v
            }
            Ok((action, index, pos)) => {
                let (outcome, entry) = &batch.outcomes[pos];
                let id = ids[*entry];
                match outcome {
                    Outcome::Accepted => json!({ action: {"_index": index, "_id": id.to_string(), "_version": 1, "result": "created", "_shards": {"total": 1, "successful": 1, "failed": 0}, "_seq_no": id, "_primary_term": 1, "status": 201} }),
                    Outcome::Rejected(why) => {
                        errors = true;
                        json!({ action: {"_index": index, "_id": id.to_string(), "status": 400, "error": {"type": "document_parsing_exception", "reason": why, "mamori_quarantine_id": id}} })
                    }
                }
            }
        })
        .collect();
    es(axum::Json(json!({"took": t0.elapsed().as_millis() as u64, "errors": errors, "items": out})))
}
