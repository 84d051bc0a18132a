//! 持ち出し申請・承認 (takeout requests): the applicant's view (my requests, a request form),
//! the approver's view (requests waiting for a decision, marked where the signed-in person is
//! the applicant's supervisor under the approval rule), every request with its reconciliation
//! status (USB writes, mails and exports of the applicant during the period matched against the
//! approved requests), and the 持ち出し管理簿 PDF.
//!
//! The signed-in account is resolved to its 職員番号 through the directory: a request is filed
//! as that person, a decision is taken as that person. The approval rule itself (supervisor,
//! 課長級 or above, never the applicant) is mamori-directory's, checked on the replayed
//! directory before the change is ledgered — so an applicant's own approval is refused
//! server-side whatever the form says. Changes need the same roles as the takeout API.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use maud::{Markup, html};
use mamori_auth::Action;
use mamori_directory::{DirectoryChange, Medium, Observed, Reconciled, Takeout, TakeoutAction, TakeoutRequest, TakeoutState};
use mamori_server::AppState;
use serde::Deserialize;

use super::review::record_directory;
use crate::layout::{self, csrf_field, notice};
use crate::{Auth, CsrfForm, UiError, dates, nav};

/// Who may file and decide (as `POST /api/v1/takeouts`).
pub const WRITE_ACTIONS: &[Action] = &[Action::ManageConfig, Action::ManageAlerts];

fn directory(st: &AppState, auth: &Auth) -> Result<mamori_directory::Directory, UiError> {
    mamori_server::datadir::directory_from(&st.reader.lock().unwrap()).map_err(|e| UiError::internal(auth.lang, e))
}

fn name_of(dir: &mamori_directory::Directory, id: &str, on: NaiveDate) -> String {
    dir.person(id, on).map_or_else(|| id.to_owned(), |p| format!("{}({})", p.name, p.staff_id))
}

/// Observed takeouts of the request's applicant during its period, reconciled.
fn reconciliation(st: &AppState, dir: &mamori_directory::Directory, t: &Takeout) -> (usize, usize) {
    let q = &t.request;
    let from = q.from.and_hms_opt(0, 0, 0).expect("time").and_local_timezone(dates::jst()).single().map(|x| x.to_rfc3339());
    let to = (q.until + chrono::Duration::days(1)).and_hms_opt(0, 0, 0).expect("time").and_local_timezone(dates::jst()).single().map(|x| x.to_rfc3339());
    let store = st.reader.lock().unwrap();
    let (mut seen, mut matched) = (0, 0);
    let mut cursor = None;
    for _ in 0..20 {
        let query = mamori_store::Query { kind: Some("event".into()), from: from.clone(), to: to.clone(), limit: Some(1000), cursor: cursor.clone(), ..Default::default() };
        let Ok(page) = store.search(&query) else { break };
        for h in &page.events {
            if let Some(o) = Observed::from_ecs(Some(h.id), &h.doc)
                && dir.staff_id_of(&o.account, o.date).as_deref() == Some(q.applicant.as_str())
            {
                seen += 1;
                if matches!(dir.reconcile_one(&o), Reconciled::Matched { takeout } if takeout == q.id) {
                    matched += 1;
                }
            }
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    (seen, matched)
}

fn decide_buttons(auth: &Auth, t: &Takeout) -> Markup {
    html! {
        form.inline method="post" action="/ui/takeouts/decide" {
            (csrf_field(auth))
            input type="hidden" name="id" value=(t.request.id);
            input type="hidden" name="decision" value="approve";
            button type="submit" class="approve" data-id=(t.request.id) { (auth.t("承認", "Approve")) }
        }
        form.inline method="post" action="/ui/takeouts/decide" {
            (csrf_field(auth))
            input type="hidden" name="id" value=(t.request.id);
            input type="hidden" name="decision" value="reject";
            button type="submit" class="secondary reject" data-id=(t.request.id) { (auth.t("却下", "Reject")) }
        }
    }
}

fn row(auth: &Auth, dir: &mamori_directory::Directory, t: &Takeout, recon: Option<(usize, usize)>) -> Markup {
    let q = &t.request;
    html! {
        tr data-id=(q.id) {
            td { (q.id) } td { (name_of(dir, &q.applicant, q.requested_on)) } td { (q.description) } td { (q.records.map(|n| n.to_string()).unwrap_or_default()) }
            td { (q.medium.label()) } td { (dates::date(q.from, auth.lang, auth.cal)) " 〜 " (dates::date(q.until, auth.lang, auth.cal)) }
            td.state { (t.state.label()) } td { (t.approver.as_deref().map(|a| name_of(dir, a, q.requested_on)).unwrap_or_default()) }
            @if let Some((seen, matched)) = recon {
                td.recon { @if seen == 0 { (auth.t("観測なし", "nothing observed")) } @else { (auth.t("観測 ", "observed ")) (seen) (auth.t(" 件(一致 ", " (matched ")) (matched) (auth.t(" 件)", ")")) @if matched < seen { " " span.badge.ng { (auth.t("申請外あり", "unapproved")) } } } }
            }
        }
    }
}

/// `GET /ui/takeouts`.
pub async fn page(State(st): State<AppState>, auth: Auth, axum::extract::Query(q): axum::extract::Query<Done>) -> Result<Markup, UiError> {
    auth.require_page(&nav::TAKEOUTS)?;
    let dir = directory(&st, &auth)?;
    let today = dates::today();
    let me = dir.staff_id_of(&auth.name, today);
    let all: Vec<&Takeout> = dir.takeouts().collect();
    let mine: Vec<&&Takeout> = all.iter().filter(|t| me.as_deref() == Some(t.request.applicant.as_str())).collect();
    let waiting: Vec<&&Takeout> = all.iter().filter(|t| t.state == TakeoutState::Requested).collect();
    let write = auth.can_any(WRITE_ACTIONS);
    let head = html! { thead { tr {
        th scope="col" { (auth.t("申請番号", "No.")) } th scope="col" { (auth.t("申請者", "Applicant")) } th scope="col" { (auth.t("内容", "Data")) } th scope="col" { (auth.t("件数", "Records")) }
        th scope="col" { (auth.t("媒体", "Medium")) } th scope="col" { (auth.t("期間", "Period")) } th scope="col" { (auth.t("状態", "State")) } th scope="col" { (auth.t("承認者", "Approver")) }
    } } };
    let body = html! {
        @if let Some(l) = q.ledger { (notice("ok", &format!("{} {l}", auth.t("台帳に記録しました。台帳番号", "Recorded in the ledger, entry")))) }
        p #whoami { (auth.t("ログイン中: ", "Signed in as: ")) (auth.name) " — "
            @match &me { Some(id) => { (name_of(&dir, id, today)) }, None => { span.muted { (auth.t("名簿にない利用者です(申請・承認はできません)", "not in the roster (cannot file or decide)")) } } } }
        h2 { (auth.t("自分の申請", "My requests")) }
        @if mine.is_empty() { p.muted { (auth.t("ありません。", "None.")) } }
        @else { table #my-requests { (head) tbody { @for t in &mine { (row(&auth, &dir, t, None)) } } } }
        h2 { (auth.t("承認待ち", "Waiting for a decision")) }
        p.muted { (auth.t("承認できるのは申請者の所属(またはその上位)の課長級以上の職員で、申請者本人は承認できません。", "Only a supervisor (課長級 or above in the applicant's line) may approve; never the applicant.")) }
        @if waiting.is_empty() { p.muted { (auth.t("ありません。", "None.")) } }
        @else {
            table #waiting { thead { tr { th scope="col" { (auth.t("申請番号", "No.")) } th scope="col" { (auth.t("申請者", "Applicant")) } th scope="col" { (auth.t("内容", "Data")) } th scope="col" { (auth.t("承認の可否", "Can I approve?")) } th scope="col" { (auth.t("操作", "Decide")) } } }
                tbody { @for t in &waiting {
                    @let ok = me.as_deref().map(|m| dir.check_approver(m, &t.request.applicant, today));
                    tr data-id=(t.request.id) {
                        td { (t.request.id) } td { (name_of(&dir, &t.request.applicant, t.request.requested_on)) } td { (t.request.description) }
                        td { @match &ok { Some(Ok(())) => { span.badge.ok { (auth.t("承認できます", "you may approve")) } }, Some(Err(e)) => { span.muted { (e.to_string()) } }, None => { "—" } } }
                        td { @if write { (decide_buttons(&auth, t)) } }
                    }
                } }
            }
        }
        h2 { (auth.t("すべての申請と照合状況", "All requests and reconciliation")) }
        p.muted { (auth.t("照合: 申請期間中に観測された申請者の USB 書込み・添付メール・業務システム出力と、承認済み申請との一致。", "Reconciliation: the applicant's observed USB writes, mails with attachments and exports during the period, matched to approved requests.")) }
        @if all.is_empty() { p.muted { (auth.t("ありません。", "None.")) } }
        @else { table #all-requests {
            thead { tr {
                th scope="col" { (auth.t("申請番号", "No.")) } th scope="col" { (auth.t("申請者", "Applicant")) } th scope="col" { (auth.t("内容", "Data")) } th scope="col" { (auth.t("件数", "Records")) }
                th scope="col" { (auth.t("媒体", "Medium")) } th scope="col" { (auth.t("期間", "Period")) } th scope="col" { (auth.t("状態", "State")) } th scope="col" { (auth.t("承認者", "Approver")) } th scope="col" { (auth.t("照合", "Reconciliation")) }
            } }
            tbody { @for t in &all { (row(&auth, &dir, t, Some(reconciliation(&st, &dir, t)))) } }
        } }
        p { a #takeout-pdf href="/ui/takeouts.pdf" download { (auth.t("持ち出し管理簿(PDF)", "Takeout ledger (PDF)")) } }
        @if write && me.is_some() {
            h2 { (auth.t("持ち出しを申請する", "File a request")) }
            form.stack method="post" action="/ui/takeouts/request" #request-form {
                (csrf_field(&auth))
                label for="id" { (auth.t("申請番号", "Request number")) } input #id name="id" required;
                label for="description" { (auth.t("データの内容", "Data")) } input #description name="description" required;
                label for="records" { (auth.t("件数", "Records")) } input #records name="records" inputmode="numeric";
                label for="purpose" { (auth.t("目的", "Purpose")) } input #purpose name="purpose" required;
                label for="medium" { (auth.t("媒体(usb:管理番号 / mail:アドレス / paper)", "Medium (usb:ID / mail:address / paper)")) } input #medium name="medium" required;
                label for="destination" { (auth.t("持出先", "Destination")) } input #destination name="destination";
                label for="from" { (auth.t("開始日", "From")) } input #from type="text" placeholder="2026-12-02 / 令和8年12月2日" name="from" required;
                label for="until" { (auth.t("終了日(返却・消去期限)", "Until (return due)")) } input #until type="text" placeholder="2026-12-02 / 令和8年12月2日" name="until" required;
                p { button #request-submit type="submit" { (auth.t("申請して台帳に記録する", "File and record in the ledger")) } }
            }
        }
    };
    Ok(layout::page(&auth, ("持ち出し申請・承認", "Takeout requests"), body))
}

/// `?ledger=N` after a change.
#[derive(Deserialize)]
pub struct Done {
    #[serde(default)]
    pub(crate) ledger: Option<u64>,
}

/// The request form.
#[derive(Deserialize)]
pub struct RequestForm {
    id: String,
    description: String,
    #[serde(default)]
    records: String,
    purpose: String,
    medium: String,
    #[serde(default)]
    destination: String,
    from: String,
    until: String,
}

fn day(auth: &Auth, s: &str) -> Result<NaiveDate, UiError> {
    mamori_jtext::parse_date(s.trim()).map_err(|e| UiError::bad_request(auth.lang, &format!("日付「{s}」を読めません: {}", e.ja()), &e.en()))
}

fn me(st: &AppState, auth: &Auth, on: NaiveDate) -> Result<String, UiError> {
    directory(st, auth)?.staff_id_of(&auth.name, on).ok_or_else(|| {
        UiError::refused(auth.lang, format!("アカウント {} は名簿の職員に対応していません / account {} is not a person in the roster", auth.name, auth.name))
    })
}

/// `POST /ui/takeouts/request`.
pub async fn request(State(st): State<AppState>, CsrfForm(auth, f): CsrfForm<RequestForm>) -> Result<Response, UiError> {
    auth.require_any(WRITE_ACTIONS)?;
    let today = dates::today();
    let applicant = me(&st, &auth, today)?;
    let medium = match f.medium.trim() {
        "paper" | "紙" => Medium::Paper,
        m if m.starts_with("mail:") => Medium::Mail { to: m[5..].trim().to_lowercase() },
        m if m.starts_with("usb:") => {
            let reg = st.dir.usb_registry().map_err(|e| UiError::internal(auth.lang, e))?;
            let dev = reg.get(&m[4..]).ok_or_else(|| UiError::refused(auth.lang, format!("{m}: USB 管理台帳にありません / not in the USB register")))?;
            Medium::Usb { registration_id: m[4..].to_owned(), vendor_id: dev.vendor_id.clone(), product_id: dev.product_id.clone(), serial: dev.serial.clone() }
        }
        _ => return Err(UiError::bad_request(auth.lang, "媒体は usb:管理番号、mail:アドレス、paper のいずれかです", "medium: usb:ID, mail:address or paper")),
    };
    let records = match f.records.trim() {
        "" => None,
        s => Some(s.parse().map_err(|_| UiError::bad_request(auth.lang, "件数は数字で入力してください", "records must be a number"))?),
    };
    let r = TakeoutRequest {
        id: f.id.trim().to_owned(),
        applicant,
        description: f.description,
        records,
        purpose: f.purpose,
        medium,
        destination: f.destination,
        from: day(&auth, &f.from)?,
        until: day(&auth, &f.until)?,
        requested_on: today,
    };
    let lid = record_directory(&st, &auth, DirectoryChange::Takeout(TakeoutAction::Request(r))).await?;
    Ok(Redirect::to(&format!("/ui/takeouts?ledger={lid}")).into_response())
}

/// Approve / reject.
#[derive(Deserialize)]
pub struct DecideForm {
    id: String,
    decision: String,
    #[serde(default)]
    note: String,
}

/// `POST /ui/takeouts/decide`: as the signed-in person, on today's date.
pub async fn decide(State(st): State<AppState>, CsrfForm(auth, f): CsrfForm<DecideForm>) -> Result<Response, UiError> {
    auth.require_any(WRITE_ACTIONS)?;
    let on = dates::today();
    let approver = me(&st, &auth, on)?;
    let action = match f.decision.as_str() {
        "approve" => TakeoutAction::Approve { id: f.id, approver, on, note: f.note },
        "reject" => TakeoutAction::Reject { id: f.id, approver, on, note: f.note },
        _ => return Err(UiError::bad_request(auth.lang, "承認か却下を選んでください", "decision: approve or reject")),
    };
    let lid = record_directory(&st, &auth, DirectoryChange::Takeout(action)).await?;
    Ok(Redirect::to(&format!("/ui/takeouts?ledger={lid}")).into_response())
}

/// `GET /ui/takeouts.pdf`: the 持ち出し管理簿.
pub async fn pdf(State(st): State<AppState>, auth: Auth) -> Result<Response, UiError> {
    auth.require_page(&nav::TAKEOUTS)?;
    let dir = directory(&st, &auth)?;
    let on = dates::today();
    let font = mamori_case::pdf::find_font().map_err(|e| UiError::internal(auth.lang, e))?;
    let bytes = mamori_case::pdf::takeout_ledger_pdf(&mamori_server::case_http::takeout_rows(&dir), on, &mamori_server::case_http::takeout_notes(&dir, on), &font)
        .map_err(|e| UiError::internal(auth.lang, e))?;
    let mut resp = ([(header::CONTENT_TYPE, "application/pdf")], bytes).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"takeouts-{on}.pdf\"")) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}
