//! アクセスレビュー (アクセス権棚卸し): the findings as of a date (leavers with access,
//! unjustified grants, dormant/shared/generic/unknown accounts, wide access) and the ledgered
//! sign-off, recorded exactly like `POST /api/v1/review/access/signoff` (same roles: the
//! administrator or the officer; the record is checked against the replayed directory first).

use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use maud::{Markup, html};
use mamori_auth::Action;
use mamori_directory::{DirectoryChange, ReviewParams, SignOff};
use mamori_ledger::{EntryKind, NewEntry};
use mamori_server::AppState;
use serde::Deserialize;

use crate::layout::{self, csrf_field, notice};
use crate::{Auth, CsrfForm, UiError, dates, nav};

/// Who may sign the access review (as the API: directory writes).
pub const SIGN_ACTIONS: &[Action] = &[Action::ManageConfig, Action::ManageAlerts];

/// `?as_of=&ledger=`.
#[derive(Deserialize)]
pub struct AsOf {
    #[serde(default)]
    as_of: Option<String>,
    #[serde(default)]
    ledger: Option<u64>,
}

fn parse_day(s: Option<&str>, auth: &Auth) -> Result<NaiveDate, UiError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(dates::today()),
        Some(t) => mamori_jtext::parse_date(t).map_err(|e| UiError::bad_request(auth.lang, &format!("日付「{t}」を読めません: {}", e.ja()), &e.en())),
    }
}

fn directory(st: &AppState, auth: &Auth) -> Result<mamori_directory::Directory, UiError> {
    mamori_server::datadir::directory_from(&st.reader.lock().unwrap()).map_err(|e| UiError::internal(auth.lang, e))
}

/// `GET /ui/review[?as_of=YYYY-MM-DD]`.
pub async fn page(State(st): State<AppState>, auth: Auth, Query(q): Query<AsOf>) -> Result<Markup, UiError> {
    auth.require_page(&nav::REVIEW)?;
    let as_of = parse_day(q.as_of.as_deref(), &auth)?;
    let dir = directory(&st, &auth)?;
    let r = dir.review_access(as_of, &ReviewParams::default());
    let signoffs: Vec<&(String, SignOff)> = dir.signoffs().iter().collect();
    let body = html! {
        @if let Some(l) = q.ledger { (notice("ok", &format!("{} {l}", auth.t("承認(サインオフ)を台帳に記録しました。台帳番号", "The sign-off was recorded in the ledger, entry")))) }
        form.stack method="get" action="/ui/review" {
            div.row {
                div { label for="as_of" { (auth.t("基準日", "As of")) } input #as_of type="date" name="as_of" value=(as_of.format("%Y-%m-%d")); }
            }
            p { button type="submit" class="secondary" { (auth.t("表示", "Show")) } }
        }
        p { (dates::date(as_of, auth.lang, auth.cal)) (auth.t("時点: 在職者 ", ": employed ")) (r.employed) (auth.t("名、アカウント ", ", accounts ")) (r.accounts) (auth.t("、指摘 ", ", findings ")) strong #finding-count { (r.findings.len()) } (auth.t("件", "")) }
        @if r.findings.is_empty() { (notice("ok", auth.t("指摘事項はありません。", "No findings."))) }
        @else {
            table #findings {
                thead { tr {
                    th scope="col" { (auth.t("種別", "Kind")) } th scope="col" { (auth.t("アカウント", "Account")) } th scope="col" { (auth.t("職員", "Person")) }
                    th scope="col" { (auth.t("所属", "Department")) } th scope="col" { (auth.t("資源", "Resource")) } th scope="col" { (auth.t("内容", "Details")) }
                } }
                tbody {
                    @for f in &r.findings {
                        tr { td { (f.kind.label()) } td { (f.account.as_deref().unwrap_or("—")) } td { (f.name.as_deref().unwrap_or("—")) } td { (f.department.as_deref().unwrap_or("—")) } td { (f.resource.as_deref().unwrap_or("—")) } td { (f.message) } }
                    }
                }
            }
        }
        p.muted { (auth.t("指摘の SHA-256: ", "Findings SHA-256: ")) code { (r.findings_sha256) } }
        @if auth.can_any(SIGN_ACTIONS) {
            h2 { (auth.t("確認して承認する", "Sign off")) }
            form.stack method="post" action="/ui/review/sign" #signoff-form {
                (csrf_field(&auth))
                input type="hidden" name="as_of" value=(as_of.format("%Y-%m-%d"));
                label for="summary" { (auth.t("所見(必須)", "Summary (required)")) }
                textarea #summary name="summary" required {}
                p { button #signoff-submit type="submit" { (auth.t("この内容で承認し台帳に記録する", "Sign and record in the ledger")) } }
            }
        }
        h2 { (auth.t("これまでの承認", "Sign-offs so far")) }
        @if signoffs.is_empty() { p.muted { (auth.t("まだありません。", "None yet.")) } }
        @else {
            table #signoffs {
                thead { tr { th scope="col" { (auth.t("基準日", "As of")) } th scope="col" { (auth.t("承認者", "Reviewer")) } th scope="col" { (auth.t("承認日", "Signed on")) } th scope="col" { (auth.t("所見", "Summary")) } } }
                tbody { @for (_, s) in &signoffs { tr { td { (dates::date(s.as_of, auth.lang, auth.cal)) } td { (s.reviewer) } td { (dates::date(s.signed_on, auth.lang, auth.cal)) } td { (s.summary) } } } }
            }
        }
    };
    Ok(layout::page(&auth, ("アクセスレビュー", "Access review"), body))
}

/// The sign-off form.
#[derive(Deserialize)]
pub struct SignForm {
    as_of: String,
    #[serde(default)]
    summary: String,
}

/// Ledgers a directory change by `actor` after checking it against the replayed directory,
/// then waits until the index has it (so the next page shows it). The UI's only way to change
/// the directory; the same steps as the directory API.
pub async fn record_directory(st: &AppState, auth: &Auth, change: DirectoryChange) -> Result<u64, UiError> {
    static WRITE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let lang = auth.lang;
    let _g = WRITE.lock().await;
    let rec = mamori_server::datadir::directory_record(&auth.name, change);
    directory(st, auth)?.check_record(&rec).map_err(|e| UiError::refused(lang, e))?;
    let payload = mamori_server::datadir::directory_payload(&rec);
    let ledger = st.ledger.clone();
    let id = tokio::task::spawn_blocking(move || ledger.append_blocking(vec![NewEntry { kind: EntryKind::Admin, payload }]))
        .await
        .map_err(|e| UiError::internal(lang, e))?
        .map_err(|e| UiError::internal(lang, e))?
        .first_index;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let upto = st.reader.lock().unwrap().indexed_upto().map_err(|e| UiError::internal(lang, e))?;
        if upto.is_some_and(|u| u >= id) || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(id)
}

/// `POST /ui/review/sign`.
pub async fn sign(State(st): State<AppState>, CsrfForm(auth, f): CsrfForm<SignForm>) -> Result<Response, UiError> {
    auth.require_any(SIGN_ACTIONS)?;
    if f.summary.trim().is_empty() {
        return Err(UiError::bad_request(auth.lang, "所見を入力してください", "a summary is required"));
    }
    let as_of = parse_day(Some(&f.as_of), &auth)?;
    let params = ReviewParams::default();
    let r = directory(&st, &auth)?.review_access(as_of, &params);
    let s = SignOff {
        as_of,
        params,
        reviewer: auth.name.clone(),
        signed_on: dates::today(),
        findings_sha256: r.findings_sha256,
        comments: Default::default(),
        summary: f.summary,
    };
    let id = record_directory(&st, &auth, DirectoryChange::ReviewSignOff(s)).await?;
    Ok(Redirect::to(&format!("/ui/review?as_of={}&ledger={id}", as_of.format("%Y-%m-%d"))).into_response())
}
