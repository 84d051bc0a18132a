//! Cases (事案), the PPC report drafts, the monthly log review and the takeout ledger: ledger
//! glue (payloads, replay from the index) used by the CLI and the UI, and the HTTP API.
//!
//! Ledger: every case action is an admin entry `event.action: case-<op>` with the action under
//! `mamori.case_action`; log-review comments and sign-offs are `logreview-commented` /
//! `logreview-signed` under `mamori.logreview` — like the alert actions. The books are rebuilt by
//! replaying those entries from the index in ledger order ([`replay`], [`case_book`],
//! [`logreview_book`]): in the server once at the first request after start (one pass over the
//! admin entries), then incrementally ([`Replayed::refresh`]); so a restart (or `mamori
//! reindex`) gives the same cases. An action is checked against the replayed book before it is
//! ledgered, so replay never refuses it.
//!
//! API (roles from mamori-auth): cases and reports are read with `ReadAlerts` (officer,
//! auditor, viewer) and changed with `ManageAlerts` (officer); the log review is read with
//! `ReadAlerts` and commented/signed with `SignReviews` (auditor); the takeout ledger PDF needs
//! `ReadTimeline`, like the takeout list.
//!
//! - `GET  /api/v1/cases`, `POST /api/v1/cases` (open: `{"title", "recognized_on", "alerts": [..],
//!   "evidence": [ledger ids], …fields}`), `GET /api/v1/cases/{id}`,
//!   `POST /api/v1/cases/{id}/actions` (`{"op": "edit"|"add_evidence"|"link_alerts"|
//!   "record_action"|"reported"|"close"|"reopen", …}`; `add_evidence` takes `"ids": [..]`)
//! - `GET  /api/v1/cases/{id}/ppc?kind=sokuho|kakuho[&format=pdf][&as_of=D]`
//! - `GET  /api/v1/logreview/{month}[?format=pdf][&sample=N]`,
//!   `POST /api/v1/logreview/{month}/comments` (`{"target": {"type": "alert", "id": 3}, "text"}`),
//!   `POST /api/v1/logreview/{month}/signoff` (`{"reviewer", "summary", "digest"}`: the digest
//!   the reviewer saw; refused with 409 when the month changed since)
//! - `GET  /api/v1/reports/takeouts[?as_of=D]` (PDF)

use crate::datadir::{DataDir, DataDirError};
use crate::http::{ApiError, AppState, authorize};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path as AxPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use mamori_auth::Action;
use mamori_case::logreview::{Anomaly, ReviewBuilder, SampleEvent};
use mamori_case::pdf::TakeoutRow;
use mamori_case::{Case, CaseAction, CaseBook, CaseFields, EvidenceRef, HistoryEntry, LogReview, LogReviewAction, LogReviewBook, Month, PpcReport, ReportKind};
use mamori_detect::Alert;
use mamori_detect::calendar::Calendar;
use mamori_ledger::{EntryKind, Ledger, NewEntry};
use mamori_store::Store;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

fn other(e: impl std::fmt::Display) -> DataDirError {
    DataDirError::Other(e.to_string())
}

fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("offset")
}

/// The local (JST) day of an RFC 3339 time.
pub fn local_day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&jst()).date_naive()
}

/// Today in JST.
pub fn today() -> NaiveDate {
    local_day(Utc::now())
}

fn admin_doc(actor: &str, action: &str, mamori: Value) -> Vec<u8> {
    let doc = json!({
        "@timestamp": mamori_event::format_ts(Utc::now()),
        "event": {"kind": "event", "category": ["configuration"], "action": action, "module": "mamori", "dataset": "mamori.admin", "outcome": "success"},
        "user": {"name": actor},
        "mamori": mamori,
    });
    serde_json::to_vec(&doc).expect("json")
}

/// The ledger payload of a case action.
pub fn case_payload(actor: &str, action: &CaseAction) -> Vec<u8> {
    admin_doc(actor, action.event_action(), json!({"case_action": action}))
}

/// The ledger payload of a log-review action.
pub fn logreview_payload(actor: &str, action: &LogReviewAction) -> Vec<u8> {
    admin_doc(actor, action.event_action(), json!({"logreview": action}))
}

fn actor_at(doc: &Value) -> (String, String) {
    (
        doc.pointer("/user/name").and_then(Value::as_str).unwrap_or_default().to_owned(),
        doc.get("@timestamp").and_then(Value::as_str).unwrap_or_default().to_owned(),
    )
}

/// Cases and log-review records replayed from the ledgered admin entries.
#[derive(Clone, Debug, Default)]
pub struct Replayed {
    /// Cases.
    pub cases: CaseBook,
    /// Log-review comments and sign-offs.
    pub reviews: LogReviewBook,
    /// Highest ledger id applied.
    upto: Option<u64>,
    /// Latest `@timestamp` (µs) of an entry seen.
    max_ts: i64,
}

impl Replayed {
    /// Applies one admin entry if it is a case or log-review action. An entry that does not
    /// apply (it was checked before it was ledgered, so this means a damaged record) is skipped
    /// with a warning, as alert actions are.
    fn apply(&mut self, id: u64, ts: i64, doc: &Value) {
        if self.upto.is_some_and(|u| id <= u) {
            return;
        }
        self.upto = Some(id);
        self.max_ts = self.max_ts.max(ts);
        let action = str_at(doc, "/event/action").unwrap_or_default();
        let (actor, at) = actor_at(doc);
        if mamori_case::CASE_ACTIONS.contains(&action) {
            match serde_json::from_value::<CaseAction>(doc.pointer("/mamori/case_action").cloned().unwrap_or(Value::Null)) {
                Ok(a) => {
                    if let Err(e) = self.cases.apply(HistoryEntry {
                        ledger_id: id,
                        actor,
                        at,
                        action: a,
                    }) {
                        tracing::warn!(ledger_id = id, error = %e, "case action does not apply");
                    }
                }
                Err(e) => tracing::warn!(ledger_id = id, error = %e, "unreadable case action"),
            }
        } else if mamori_case::LOGREVIEW_ACTIONS.contains(&action) {
            match serde_json::from_value::<LogReviewAction>(doc.pointer("/mamori/logreview").cloned().unwrap_or(Value::Null)) {
                Ok(a) => {
                    if let Err(e) = self.reviews.apply(id, &actor, &at, &a) {
                        tracing::warn!(ledger_id = id, error = %e, "log-review action does not apply");
                    }
                }
                Err(e) => tracing::warn!(ledger_id = id, error = %e, "unreadable log-review action"),
            }
        }
    }

    /// Reads the admin entries indexed since the last call (all of them the first time) and
    /// applies them in ledger order. Later calls read only entries whose `@timestamp` is at most
    /// [`REPLAY_SKEW`] before the newest seen (admin entries are stamped when ledgered).
    pub fn refresh(&mut self, store: &Store) -> Result<(), DataDirError> {
        let from = self
            .upto
            .map(|_| mamori_event::format_ts(DateTime::<Utc>::from_timestamp_micros(self.max_ts).unwrap_or_default() - REPLAY_SKEW));
        let mut entries = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let q = mamori_store::Query {
                kind: Some("admin".into()),
                from: from.clone(),
                limit: Some(1000),
                cursor: cursor.clone(),
                ..Default::default()
            };
            let page = store.search(&q)?;
            entries.extend(
                page.events
                    .into_iter()
                    .filter(|h| self.upto.is_none_or(|u| h.id > u))
                    .map(|h| (h.id, h.timestamp_micros, h.doc)),
            );
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        entries.sort_by_key(|(id, _, _)| *id);
        for (id, ts, doc) in &entries {
            self.apply(*id, *ts, doc);
        }
        Ok(())
    }
}

/// How far before the newest admin entry seen an incremental refresh looks back.
pub const REPLAY_SKEW: chrono::Duration = chrono::Duration::minutes(10);

/// Replays all case and log-review actions from the index (one pass over the admin entries).
pub fn replay(store: &Store) -> Result<Replayed, DataDirError> {
    let mut r = Replayed::default();
    r.refresh(store)?;
    Ok(r)
}

/// Rebuilds every case from the ledgered case actions (as indexed), in ledger order.
pub fn case_book(store: &Store) -> Result<CaseBook, DataDirError> {
    Ok(replay(store)?.cases)
}

/// Rebuilds the log-review comments and sign-offs from the ledger.
pub fn logreview_book(store: &Store) -> Result<LogReviewBook, DataDirError> {
    Ok(replay(store)?.reviews)
}

/// The server's replayed state, per index, brought up to date on each use.
fn live(st: &AppState) -> Result<Replayed, DataDirError> {
    static CACHE: std::sync::Mutex<Vec<(std::path::PathBuf, Replayed)>> = std::sync::Mutex::new(Vec::new());
    let key = st.dir.index_path();
    let mut cache = CACHE.lock().unwrap();
    let i = match cache.iter().position(|(k, _)| *k == key) {
        Some(i) => i,
        None => {
            cache.push((key, Replayed::default()));
            cache.len() - 1
        }
    };
    let store = st.reader.lock().unwrap();
    cache[i].1.refresh(&store)?;
    Ok(cache[i].1.clone())
}

fn str_at<'a>(doc: &'a Value, p: &str) -> Option<&'a str> {
    doc.pointer(p).and_then(Value::as_str)
}

/// Where an event went or what it touched, for one-line summaries.
fn target_of(doc: &Value) -> String {
    if let Some(p) = str_at(doc, "/file/path").or(str_at(doc, "/file/name")) {
        return p.to_owned();
    }
    match doc.pointer("/email/to/address") {
        Some(Value::String(s)) => return format!("宛先 {s}"),
        Some(Value::Array(a)) => return format!("宛先 {}", a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")),
        _ => {}
    }
    if let Some(u) = str_at(doc, "/url/full").or(str_at(doc, "/url/domain")) {
        return u.to_owned();
    }
    str_at(doc, "/destination/ip").or(str_at(doc, "/host/name")).unwrap_or("").to_owned()
}

/// Records an event carried (an export's or a fingerprinted list's record count).
fn records_of(doc: &Value) -> Option<u64> {
    doc.pointer("/mamori/export/records")
        .and_then(Value::as_u64)
        .or_else(|| doc.pointer("/mamori/fingerprint/records").and_then(Value::as_u64))
}

/// Evidence references for ledger ids, read from the index (time, one-line summary, records).
/// An id that is not an indexed event is an error naming it.
pub fn evidence_refs(store: &Store, ids: &[u64]) -> Result<Vec<EvidenceRef>, String> {
    let mut out = Vec::new();
    for &id in ids {
        let h = store
            .get(id)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("イベント #{id} は台帳(索引)にありません / no event #{id} in the index"))?;
        if h.kind.as_str() != "event" {
            return Err(format!("#{id} はイベントではありません({})/ #{id} is not an event", h.kind.as_str()));
        }
        let d = &h.doc;
        let summary = format!(
            "{} {} {}",
            str_at(d, "/user/name").unwrap_or("-"),
            str_at(d, "/event/action").unwrap_or("-"),
            target_of(d)
        )
        .trim()
        .to_owned();
        out.push(EvidenceRef {
            ledger_id: id,
            at: d.get("@timestamp").and_then(Value::as_str).map(str::to_owned),
            summary,
            records: records_of(d),
            note: String::new(),
        });
    }
    Ok(out)
}

/// The open action for a case from `alerts` (their evidence attached, their people as subjects,
/// the first alert's title unless one is given) and further evidence `extra`.
pub fn open_action(
    book: &CaseBook,
    store: &Store,
    alerts: &[Alert],
    extra: &[u64],
    recognized_on: NaiveDate,
    mut fields: CaseFields,
) -> Result<CaseAction, String> {
    let mut ids: Vec<u64> = alerts.iter().flat_map(|a| a.evidence.iter().copied()).chain(extra.iter().copied()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.truncate(mamori_case::case::MAX_EVIDENCE);
    let evidence = evidence_refs(store, &ids)?;
    let mut subjects: Vec<String> = alerts
        .iter()
        .filter_map(|a| a.person.as_ref().map(|p| format!("{} {}", p.staff_id, p.name)).or_else(|| a.account.clone()))
        .collect();
    subjects.sort();
    subjects.dedup();
    if fields.title.as_deref().is_none_or(|t| t.trim().is_empty())
        && let Some(a) = alerts.first()
    {
        fields.title = Some(a.title_ja.clone());
    }
    if fields.summary.is_none() && !alerts.is_empty() {
        let lines: Vec<String> = alerts.iter().map(|a| format!("アラート #{}: {}", a.id, a.summary_ja)).collect();
        fields.summary = Some(lines.join("\n"));
    }
    if fields.occurred.is_none()
        && let (Some(first), Some(last)) = (alerts.iter().map(|a| a.first_ts).min(), alerts.iter().map(|a| a.last_ts).max())
    {
        fields.occurred = Some(if first == last {
            mamori_event::format_ts(first)
        } else {
            format!("{} 〜 {}", mamori_event::format_ts(first), mamori_event::format_ts(last))
        });
    }
    Ok(CaseAction::Open {
        case: book.next_id(recognized_on.year()),
        recognized_on,
        alerts: alerts.iter().map(|a| a.id).collect(),
        subjects,
        evidence,
        fields,
    })
}

use chrono::Datelike;

/// Verifier keys of the log (current and retired).
pub fn log_keys(dir: &DataDir, ledger: &Ledger) -> Vec<String> {
    let mut keys = vec![ledger.vkey().to_owned()];
    keys.extend(dir.previous_vkeys().unwrap_or_default());
    keys
}

/// The PPC draft for a case, with each evidence event's inclusion proof verified against the
/// current checkpoint when a ledger is given.
pub fn ppc_report(case: &Case, kind: ReportKind, on: NaiveDate, ledger: Option<(&Ledger, &[String])>) -> PpcReport {
    let mut r = mamori_case::draft(case, kind, on, &Calendar::default());
    if let Some((l, keys)) = ledger {
        for e in &mut r.evidence {
            e.proof_verified = Some(crate::detection::verify_evidence(l, keys, e.ledger_id).1);
        }
    }
    r
}

/// A case as served: the case, persons, timeline, deadlines and report status, and (with a
/// ledger) each evidence event's verified inclusion proof.
pub fn case_json(case: &Case, on: NaiveDate, ledger: Option<(&Ledger, &[String])>) -> Value {
    let cal = Calendar::default();
    let mut v = serde_json::to_value(case).expect("json");
    v["state_ja"] = json!(case.state.label_ja());
    v["title"] = json!(case.title());
    v["persons"] = serde_json::to_value(case.persons()).expect("json");
    v["timeline"] = serde_json::to_value(case.timeline()).expect("json");
    v["deadlines"] = serde_json::to_value(mamori_case::deadlines(case.recognized_on, case.unlawful_purpose(), &cal)).expect("json");
    v["sokuho"] = serde_json::to_value(mamori_case::due_status(case, ReportKind::Sokuho, on, &cal)).expect("json");
    v["kakuho"] = serde_json::to_value(mamori_case::due_status(case, ReportKind::Kakuho, on, &cal)).expect("json");
    if let Some((l, keys)) = ledger {
        let mut all = true;
        let proofs: Vec<Value> = case
            .evidence
            .iter()
            .map(|e| {
                let (_, ok, why) = crate::detection::verify_evidence(l, keys, e.ledger_id);
                all &= ok;
                json!({"id": e.ledger_id, "proof_verified": ok, "problem": why})
            })
            .collect();
        v["evidence_proofs"] = Value::Array(proofs);
        v["proof_verified"] = json!(all && !case.evidence.is_empty());
    }
    v
}

fn department_of(dir: &mamori_directory::Directory, account: &str, day: NaiveDate) -> String {
    match dir.resolve(account, day) {
        mamori_directory::Resolution::Person(p) => p
            .post
            .as_ref()
            .or(p.last_post.as_ref())
            .map_or_else(|| "所属なし".to_owned(), |x| x.dept_name.clone()),
        mamori_directory::Resolution::Shared(_) => "共用アカウント".to_owned(),
        mamori_directory::Resolution::Unknown(_) => "不明".to_owned(),
    }
}

fn who_of(a: &Alert) -> String {
    match &a.person {
        Some(p) => format!("{}({}、{})", p.name, p.staff_id, p.dept_name.clone().unwrap_or_default()),
        None => a.account.clone().unwrap_or_else(|| "不明".into()),
    }
}

/// Assembles the log review of `month`: its events per day per department (department as of
/// each event's day), the alerts whose first event is in the month, a sample of `k` events, and
/// the ledgered comments and sign-offs.
pub fn build_logreview(
    store: &Store,
    alerts: &[Alert],
    dir: &mamori_directory::Directory,
    origin: &str,
    month: Month,
    k: usize,
    book: &LogReviewBook,
) -> Result<LogReview, DataDirError> {
    let start = month
        .first()
        .and_hms_opt(0, 0, 0)
        .expect("time")
        .and_local_timezone(jst())
        .single()
        .expect("jst")
        .with_timezone(&Utc);
    let end = month
        .next()
        .first()
        .and_hms_opt(0, 0, 0)
        .expect("time")
        .and_local_timezone(jst())
        .single()
        .expect("jst")
        .with_timezone(&Utc);
    let mut b = ReviewBuilder::new(month);
    let mut depts: HashMap<(String, NaiveDate), String> = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = mamori_store::Query {
            kind: Some("event".into()),
            from: Some(mamori_event::format_ts(start)),
            to: Some(mamori_event::format_ts(end)),
            limit: Some(1000),
            cursor: cursor.clone(),
            ..Default::default()
        };
        let page = store.search(&q)?;
        for h in page.events {
            let Some(ts) = DateTime::<Utc>::from_timestamp_micros(h.timestamp_micros) else {
                continue;
            };
            let day = local_day(ts);
            let dept = match str_at(&h.doc, "/user/name") {
                Some(u) => depts.entry((u.to_lowercase(), day)).or_insert_with(|| department_of(dir, u, day)).clone(),
                None => "(利用者なし)".to_owned(),
            };
            b.add(h.id, day, &dept);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let seed = mamori_case::logreview::seed(origin, month, b.ids().len() as u64);
    let ids = mamori_case::logreview::sample(&seed, b.ids(), k);
    let mut sample = Vec::new();
    for id in ids {
        if let Some(h) = store.get(id)? {
            let d = &h.doc;
            let ts = DateTime::<Utc>::from_timestamp_micros(h.timestamp_micros).unwrap_or_default();
            let user = str_at(d, "/user/name").unwrap_or("-").to_owned();
            let day = local_day(ts);
            sample.push(SampleEvent {
                id,
                ts: mamori_event::format_ts(ts),
                department: depts
                    .get(&(user.to_lowercase(), day))
                    .cloned()
                    .unwrap_or_else(|| department_of(dir, &user, day)),
                user,
                action: str_at(d, "/event/action").unwrap_or("-").to_owned(),
                target: target_of(d),
            });
        }
    }
    let mut anomalies: Vec<Anomaly> = alerts
        .iter()
        .filter(|a| month.contains(local_day(a.first_ts)))
        .map(|a| Anomaly {
            alert_id: a.id,
            severity_ja: a.severity.label_ja().to_owned(),
            rule_id: a.rule_id.clone(),
            title_ja: a.title_ja.clone(),
            who: who_of(a),
            first_ts: mamori_event::format_ts(a.first_ts),
            count: a.count,
            state_ja: a.state.label_ja().to_owned(),
        })
        .collect();
    anomalies.sort_by_key(|a| a.alert_id);
    Ok(b.finish(anomalies, seed, sample, book.month(month)))
}

/// The takeout ledger's rows: every request with the applicant's and approver's names.
pub fn takeout_rows(dir: &mamori_directory::Directory) -> Vec<TakeoutRow> {
    let name = |id: &str, on: NaiveDate| match dir.person(id, on) {
        Some(p) => {
            let dept = p
                .post
                .as_ref()
                .or(p.last_post.as_ref())
                .map(|x| format!("、{} {}", x.dept_name, x.title))
                .unwrap_or_default();
            format!("{}({}{dept})", p.name, p.staff_id)
        }
        None => id.to_owned(),
    };
    dir.takeouts()
        .map(|t| TakeoutRow {
            applicant: name(&t.request.applicant, t.request.requested_on),
            approver: t.approver.as_deref().map(|a| {
                name(
                    a,
                    t.date_of(mamori_directory::TakeoutState::Approved)
                        .or(t.date_of(mamori_directory::TakeoutState::Rejected))
                        .unwrap_or(t.request.requested_on),
                )
            }),
            takeout: t.clone(),
        })
        .collect()
}

/// Notes for the takeout ledger on `as_of`: overdue returns.
pub fn takeout_notes(dir: &mamori_directory::Directory, as_of: NaiveDate) -> Vec<String> {
    dir.takeout_reminders(as_of)
        .into_iter()
        .map(|r| {
            format!(
                "申請 {}(申請者 {}): 期限 {} を {} 日過ぎても返却・消去の記録がありません / not returned {} days after {}",
                r.takeout, r.applicant, r.due, r.days_overdue, r.days_overdue, r.due
            )
        })
        .collect()
}

// ---- CLI-side (server stopped) ---------------------------------------------------------------

/// Ledgers a case action done by `actor` after checking it against the cases replayed from
/// the ledger. Needs the ledger lock (server stopped). Returns the ledger id and the case.
pub fn record_case(dir: &DataDir, actor: &str, action: CaseAction) -> Result<(u64, Case), DataDirError> {
    let cfg = dir.config()?;
    let ledger = dir.open_ledger(&cfg)?;
    dir.index_now(&ledger)?;
    let book = case_book(&Store::open_read_only(&dir.index_path())?)?;
    book.check(&action).map_err(other)?;
    let id = action.case().to_owned();
    let r = ledger.append_blocking(vec![NewEntry {
        kind: EntryKind::Admin,
        payload: case_payload(actor, &action),
    }])?;
    dir.index_now(&ledger)?;
    ledger.close();
    let book = case_book(&Store::open_read_only(&dir.index_path())?)?;
    let case = book
        .get(&id)
        .cloned()
        .ok_or_else(|| other(format!("事案 {id} が台帳から再構築できません / case {id} did not replay")))?;
    Ok((r.first_index, case))
}

/// Ledgers a log-review action by `actor` (server stopped).
pub fn record_logreview(dir: &DataDir, actor: &str, action: LogReviewAction) -> Result<u64, DataDirError> {
    let cfg = dir.config()?;
    let ledger = dir.open_ledger(&cfg)?;
    dir.index_now(&ledger)?;
    logreview_book(&Store::open_read_only(&dir.index_path())?)?
        .check(actor, &action)
        .map_err(other)?;
    let r = ledger.append_blocking(vec![NewEntry {
        kind: EntryKind::Admin,
        payload: logreview_payload(actor, &action),
    }])?;
    dir.index_now(&ledger)?;
    ledger.close();
    Ok(r.first_index)
}

/// Alerts stored by the detector (none when it has not run).
pub fn stored_alerts(dir: &DataDir) -> Result<Vec<Alert>, DataDirError> {
    let p = crate::detection::alerts_path(dir);
    if !p.exists() {
        return Ok(Vec::new());
    }
    crate::detection::list_alerts(&crate::detection::open_db(&p)?, None, None, u32::MAX)
}

// ---- HTTP ------------------------------------------------------------------------------------

/// Case and log-review writes are checked against the replayed state and appended one at a time.
static WRITE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/cases", get(get_cases).post(post_case))
        .route("/api/v1/cases/{id}", get(get_case))
        .route("/api/v1/cases/{id}/actions", post(post_case_action))
        .route("/api/v1/cases/{id}/ppc", get(get_ppc))
        .route("/api/v1/logreview/{month}", get(get_logreview))
        .route("/api/v1/logreview/{month}/comments", post(post_logreview_comment))
        .route("/api/v1/logreview/{month}/signoff", post(post_logreview_signoff))
        .route("/api/v1/reports/takeouts", get(get_takeout_ledger))
}

fn bad(en: impl Into<String>) -> ApiError {
    ApiError::bad_request(en)
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e.to_string())
}

fn refused(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "refused", format!("実行できません: {e}"), e.to_string())
}

fn case_not_found(id: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("事案 {id} はありません。"), format!("no case {id}"))
}

fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| bad(format!("invalid JSON body: {e}")))
}

fn date_param(name: &str, s: Option<&str>) -> Result<NaiveDate, ApiError> {
    match s {
        Some(s) => mamori_directory::parse_date(s).map_err(|e| bad(format!("{name}: {e}"))),
        None => Ok(today()),
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(internal)?
}

fn cases_of(st: &AppState) -> Result<CaseBook, ApiError> {
    Ok(live(st).map_err(internal)?.cases)
}

fn reviews_of(st: &AppState) -> Result<LogReviewBook, ApiError> {
    Ok(live(st).map_err(internal)?.reviews)
}

/// Appends one admin entry and waits until the index (which reads replay from) has it.
async fn append_indexed(st: &AppState, payload: Vec<u8>) -> Result<u64, ApiError> {
    let ledger = st.ledger.clone();
    let id = tokio::task::spawn_blocking(move || {
        ledger.append_blocking(vec![NewEntry {
            kind: EntryKind::Admin,
            payload,
        }])
    })
    .await
    .map_err(internal)?
    .map_err(internal)?
    .first_index;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let upto = st.reader.lock().unwrap().indexed_upto().map_err(internal)?;
        if upto.is_some_and(|u| u >= id) {
            return Ok(id);
        }
        if std::time::Instant::now() > deadline {
            return Err(internal(format!("ledger entry {id} was not indexed in time")));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn served(st: &AppState, c: &Case) -> Value {
    let keys = log_keys(&st.dir, &st.ledger);
    case_json(c, today(), Some((&st.ledger, &keys)))
}

async fn get_cases(State(st): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    authorize(&st, &headers, Action::ReadAlerts)?;
    let v = blocking(move || {
        let book = cases_of(&st)?;
        let on = today();
        Ok(json!({"cases": book.cases().map(|c| case_json(c, on, None)).collect::<Vec<_>>()}))
    })
    .await?;
    Ok(axum::Json(v).into_response())
}

async fn get_case(State(st): State<AppState>, headers: HeaderMap, id: Result<AxPath<String>, PathRejection>) -> Result<Response, ApiError> {
    authorize(&st, &headers, Action::ReadAlerts)?;
    let AxPath(id) = id.map_err(|e| bad(e.to_string()))?;
    let v = blocking(move || {
        let book = cases_of(&st)?;
        let c = book.get(&id).ok_or_else(|| case_not_found(&id))?;
        Ok(served(&st, c))
    })
    .await?;
    Ok(axum::Json(v).into_response())
}

#[derive(Deserialize)]
struct OpenBody {
    #[serde(default)]
    alerts: Vec<u64>,
    #[serde(default)]
    evidence: Vec<u64>,
    #[serde(default)]
    recognized_on: Option<String>,
    #[serde(flatten)]
    fields: CaseFields,
}

async fn post_case(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let who = authorize(&st, &headers, Action::ManageAlerts)?;
    let b: OpenBody = json_body(&body)?;
    let recognized_on = date_param("recognized_on", b.recognized_on.as_deref())?;
    let _guard = WRITE.lock().await;
    let st2 = st.clone();
    let action = blocking(move || {
        let mut alerts = Vec::new();
        for id in &b.alerts {
            alerts.push(st2.detection.get(*id).map_err(internal)?.ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    format!("アラート {id} はありません。"),
                    format!("no alert {id}"),
                )
            })?);
        }
        let book = cases_of(&st2)?;
        let action = open_action(&book, &st2.reader.lock().unwrap(), &alerts, &b.evidence, recognized_on, b.fields).map_err(bad)?;
        book.check(&action).map_err(refused)?;
        Ok(action)
    })
    .await?;
    let case_id = action.case().to_owned();
    let lid = append_indexed(&st, case_payload(&who.name, &action)).await?;
    let v = blocking(move || {
        let book = cases_of(&st)?;
        let c = book.get(&case_id).ok_or_else(|| case_not_found(&case_id))?;
        Ok(json!({"ledger_id": lid, "case": served(&st, c)}))
    })
    .await?;
    Ok((StatusCode::CREATED, axum::Json(v)).into_response())
}

async fn post_case_action(
    State(st): State<AppState>,
    headers: HeaderMap,
    id: Result<AxPath<String>, PathRejection>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let who = authorize(&st, &headers, Action::ManageAlerts)?;
    let AxPath(id) = id.map_err(|e| bad(e.to_string()))?;
    let mut v: Value = json_body(&body)?;
    let Some(o) = v.as_object_mut() else {
        return Err(bad("the body must be a JSON object with \"op\""));
    };
    o.insert("case".into(), json!(id));
    let _guard = WRITE.lock().await;
    let st2 = st.clone();
    let action = blocking(move || {
        if v["op"] == "add_evidence"
            && let Some(ids) = v.get("ids").and_then(Value::as_array)
        {
            let ids: Vec<u64> = ids.iter().filter_map(Value::as_u64).collect();
            let refs = evidence_refs(&st2.reader.lock().unwrap(), &ids).map_err(bad)?;
            v["evidence"] = serde_json::to_value(refs).expect("json");
        }
        let action: CaseAction = serde_json::from_value(v).map_err(|e| bad(format!("case action: {e}")))?;
        if matches!(action, CaseAction::Open { .. }) {
            return Err(bad("open a case with POST /api/v1/cases"));
        }
        let book = cases_of(&st2)?;
        if book.get(&id).is_none() {
            return Err(case_not_found(&id));
        }
        book.check(&action).map_err(refused)?;
        Ok(action)
    })
    .await?;
    let case_id = action.case().to_owned();
    let lid = append_indexed(&st, case_payload(&who.name, &action)).await?;
    let v = blocking(move || {
        let book = cases_of(&st)?;
        let c = book.get(&case_id).ok_or_else(|| case_not_found(&case_id))?;
        Ok(json!({"ledger_id": lid, "case": served(&st, c)}))
    })
    .await?;
    Ok(axum::Json(v).into_response())
}

#[derive(Deserialize)]
struct PpcQuery {
    kind: Option<String>,
    format: Option<String>,
    as_of: Option<String>,
}

fn pdf_response(bytes: Vec<u8>, file: &str) -> Response {
    let mut r = ([(header::CONTENT_TYPE, "application/pdf")], bytes).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

fn font() -> Result<Vec<u8>, ApiError> {
    mamori_case::pdf::find_font().map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "no_font",
            e.to_string(),
            "no Japanese font on the server (install fonts-ipaexfont)",
        )
    })
}

async fn get_ppc(
    State(st): State<AppState>,
    headers: HeaderMap,
    id: Result<AxPath<String>, PathRejection>,
    q: Result<Query<PpcQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    authorize(&st, &headers, Action::ReadAlerts)?;
    let AxPath(id) = id.map_err(|e| bad(e.to_string()))?;
    let Query(q) = q.map_err(|e| bad(e.to_string()))?;
    let kind = match q.kind.as_deref() {
        None => ReportKind::Sokuho,
        Some(k) => ReportKind::parse(k).ok_or_else(|| bad(format!("kind={k}: sokuho or kakuho")))?,
    };
    let on = date_param("as_of", q.as_of.as_deref())?;
    let pdf = match q.format.as_deref() {
        None | Some("json") => false,
        Some("pdf") => true,
        Some(f) => return Err(bad(format!("format={f}: json or pdf"))),
    };
    blocking(move || {
        let book = cases_of(&st)?;
        let c = book.get(&id).ok_or_else(|| case_not_found(&id))?;
        let keys = log_keys(&st.dir, &st.ledger);
        let r = ppc_report(c, kind, on, Some((&st.ledger, &keys)));
        if pdf {
            let bytes = mamori_case::pdf::ppc_pdf(&r, &font()?).map_err(internal)?;
            Ok(pdf_response(bytes, &format!("ppc-{}-{}.pdf", c.id, kind.as_str())))
        } else {
            Ok(axum::Json(r).into_response())
        }
    })
    .await
}

#[derive(Deserialize)]
struct ReviewQuery {
    format: Option<String>,
    sample: Option<usize>,
}

fn month_param(m: Result<AxPath<String>, PathRejection>) -> Result<Month, ApiError> {
    let AxPath(m) = m.map_err(|e| bad(e.to_string()))?;
    Month::parse(&m).map_err(bad)
}

fn review_of(st: &AppState, month: Month, k: usize) -> Result<LogReview, ApiError> {
    let alerts = st.detection.list(None, None, u32::MAX).map_err(internal)?;
    let book = reviews_of(st)?;
    let store = st.reader.lock().unwrap();
    let dir = crate::datadir::directory_from(&store).map_err(internal)?;
    build_logreview(&store, &alerts, &dir, st.ledger.origin(), month, k, &book).map_err(internal)
}

async fn get_logreview(
    State(st): State<AppState>,
    headers: HeaderMap,
    m: Result<AxPath<String>, PathRejection>,
    q: Result<Query<ReviewQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    authorize(&st, &headers, Action::ReadAlerts)?;
    let month = month_param(m)?;
    let Query(q) = q.map_err(|e| bad(e.to_string()))?;
    let k = q.sample.unwrap_or(mamori_case::logreview::DEFAULT_SAMPLE).min(500);
    let pdf = match q.format.as_deref() {
        None | Some("json") => false,
        Some("pdf") => true,
        Some(f) => return Err(bad(format!("format={f}: json or pdf"))),
    };
    blocking(move || {
        let r = review_of(&st, month, k)?;
        if pdf {
            let bytes = mamori_case::pdf::logreview_pdf(&r, &font()?).map_err(internal)?;
            Ok(pdf_response(bytes, &format!("logreview-{month}.pdf")))
        } else {
            let mut v = serde_json::to_value(&r).expect("json");
            v["signed_current"] = json!(r.signed_current());
            Ok(axum::Json(v).into_response())
        }
    })
    .await
}

#[derive(Deserialize)]
struct CommentBody {
    #[serde(default = "general")]
    target: mamori_case::Target,
    text: String,
}

fn general() -> mamori_case::Target {
    mamori_case::Target::General
}

async fn post_logreview_comment(
    State(st): State<AppState>,
    headers: HeaderMap,
    m: Result<AxPath<String>, PathRejection>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let who = authorize(&st, &headers, Action::SignReviews)?;
    let month = month_param(m)?;
    let b: CommentBody = json_body(&body)?;
    let action = LogReviewAction::Comment {
        month,
        target: b.target,
        text: b.text,
    };
    let _guard = WRITE.lock().await;
    let (st2, name, a2) = (st.clone(), who.name.clone(), action.clone());
    blocking(move || reviews_of(&st2)?.check(&name, &a2).map_err(refused)).await?;
    let lid = append_indexed(&st, logreview_payload(&who.name, &action)).await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"ledger_id": lid}))).into_response())
}

#[derive(Deserialize)]
struct SignBody {
    reviewer: String,
    #[serde(default)]
    summary: String,
    /// The digest the reviewer saw.
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    sample: Option<usize>,
}

async fn post_logreview_signoff(
    State(st): State<AppState>,
    headers: HeaderMap,
    m: Result<AxPath<String>, PathRejection>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let who = authorize(&st, &headers, Action::SignReviews)?;
    let month = month_param(m)?;
    let b: SignBody = json_body(&body)?;
    let k = b.sample.unwrap_or(mamori_case::logreview::DEFAULT_SAMPLE).min(500);
    let _guard = WRITE.lock().await;
    let (st2, name) = (st.clone(), who.name.clone());
    let action = blocking(move || {
        let r = review_of(&st2, month, k)?;
        if let Some(d) = &b.digest
            && *d != r.digest
        {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "changed",
                "表示後に点検内容が変わりました。再読み込みしてから確認してください。",
                "the review changed since it was shown; reload and sign again",
            ));
        }
        let action = LogReviewAction::Sign {
            month,
            reviewer: b.reviewer,
            summary: b.summary,
            digest: r.digest.clone(),
            anomalies: r.anomalies.len(),
            sample: r.sample.len(),
        };
        reviews_of(&st2)?.check(&name, &action).map_err(refused)?;
        Ok(action)
    })
    .await?;
    let digest = match &action {
        LogReviewAction::Sign { digest, .. } => digest.clone(),
        _ => unreachable!(),
    };
    let lid = append_indexed(&st, logreview_payload(&who.name, &action)).await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"ledger_id": lid, "digest": digest}))).into_response())
}

#[derive(Deserialize)]
struct AsOfQuery {
    as_of: Option<String>,
}

async fn get_takeout_ledger(State(st): State<AppState>, headers: HeaderMap, q: Result<Query<AsOfQuery>, QueryRejection>) -> Result<Response, ApiError> {
    authorize(&st, &headers, Action::ReadTimeline)?;
    let Query(q) = q.map_err(|e| bad(e.to_string()))?;
    let on = date_param("as_of", q.as_of.as_deref())?;
    blocking(move || {
        let dir = crate::datadir::directory_from(&st.reader.lock().unwrap()).map_err(internal)?;
        let bytes = mamori_case::pdf::takeout_ledger_pdf(&takeout_rows(&dir), on, &takeout_notes(&dir, on), &font()?).map_err(internal)?;
        Ok(pdf_response(bytes, &format!("takeouts-{on}.pdf")))
    })
    .await
}

// ---- for other front ends (the web UI) -------------------------------------------------------

/// Why a submitted action did not go through.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// Refused by the rules (the message says why, Japanese first).
    #[error("{0}")]
    Refused(String),
    /// Something broke.
    #[error("{0}")]
    Internal(String),
}

/// The cases of a running server (replayed, up to date).
pub fn live_cases(st: &AppState) -> Result<CaseBook, SubmitError> {
    live(st).map(|r| r.cases).map_err(|e| SubmitError::Internal(e.to_string()))
}

/// The log review of `month` with a sample of `k` on a running server.
pub fn live_logreview(st: &AppState, month: Month, k: usize) -> Result<LogReview, SubmitError> {
    let alerts = st.detection.list(None, None, u32::MAX).map_err(|e| SubmitError::Internal(e.to_string()))?;
    let book = live(st).map_err(|e| SubmitError::Internal(e.to_string()))?.reviews;
    let store = st.reader.lock().unwrap();
    let dir = crate::datadir::directory_from(&store).map_err(|e| SubmitError::Internal(e.to_string()))?;
    build_logreview(&store, &alerts, &dir, st.ledger.origin(), month, k, &book).map_err(|e| SubmitError::Internal(e.to_string()))
}

async fn append_live(st: &AppState, payload: Vec<u8>) -> Result<u64, SubmitError> {
    let ledger = st.ledger.clone();
    let id = tokio::task::spawn_blocking(move || {
        ledger.append_blocking(vec![NewEntry {
            kind: EntryKind::Admin,
            payload,
        }])
    })
    .await
    .map_err(|e| SubmitError::Internal(e.to_string()))?
    .map_err(|e| SubmitError::Internal(e.to_string()))?
    .first_index;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let upto = st.reader.lock().unwrap().indexed_upto().map_err(|e| SubmitError::Internal(e.to_string()))?;
        if upto.is_some_and(|u| u >= id) {
            return Ok(id);
        }
        if std::time::Instant::now() > deadline {
            return Err(SubmitError::Internal(format!("ledger entry {id} was not indexed in time")));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Ledgers a case action by `actor` on a running server: checked against the replayed cases,
/// appended, and waited for until indexed. The caller checks the role (`ManageAlerts`).
pub async fn submit_case(st: &AppState, actor: &str, action: CaseAction) -> Result<(u64, Case), SubmitError> {
    let _guard = WRITE.lock().await;
    live_cases(st)?.check(&action).map_err(|e| SubmitError::Refused(e.to_string()))?;
    let id = action.case().to_owned();
    let lid = append_live(st, case_payload(actor, &action)).await?;
    let case = live_cases(st)?
        .get(&id)
        .cloned()
        .ok_or_else(|| SubmitError::Internal(format!("case {id} did not replay")))?;
    Ok((lid, case))
}

/// Ledgers a log-review action by `actor` on a running server (the caller checks
/// `SignReviews`). A sign-off's digest must be the current one (what the reviewer saw).
pub async fn submit_logreview(st: &AppState, actor: &str, action: LogReviewAction) -> Result<u64, SubmitError> {
    let _guard = WRITE.lock().await;
    live(st)
        .map_err(|e| SubmitError::Internal(e.to_string()))?
        .reviews
        .check(actor, &action)
        .map_err(|e| SubmitError::Refused(e.to_string()))?;
    lid_after(st, actor, action).await
}

async fn lid_after(st: &AppState, actor: &str, action: LogReviewAction) -> Result<u64, SubmitError> {
    append_live(st, logreview_payload(actor, &action)).await
}
