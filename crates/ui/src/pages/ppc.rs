//! 個人情報保護委員会への報告: the cases with their report deadlines, and a case's 速報 / 確報
//! draft pre-filled from the case (the nine items, why it is reportable, the evidence with
//! verified proofs) with the PDF download. Read-only: the facts are edited on the case page.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use mamori_case::ReportKind;
use mamori_server::AppState;
use mamori_server::case_http as ch;
use serde::Deserialize;

use super::case::{err, load};
use crate::layout::{self, badge, facts, notice};
use crate::{Auth, UiError, dates, nav};

/// `?kind=sokuho|kakuho`.
#[derive(Deserialize)]
pub struct KindQuery {
    #[serde(default)]
    kind: Option<String>,
}

fn kind_of(auth: &Auth, q: &KindQuery) -> Result<ReportKind, UiError> {
    match q.kind.as_deref() {
        None => Ok(ReportKind::Sokuho),
        Some(k) => ReportKind::parse(k).ok_or_else(|| UiError::bad_request(auth.lang, "報告の種類は速報か確報です", "kind: sokuho or kakuho")),
    }
}

/// `GET /ui/ppc`: every case with its deadlines.
pub async fn list(State(st): State<AppState>, auth: Auth) -> Result<Markup, UiError> {
    auth.require_page(&nav::PPC)?;
    let book = ch::live_cases(&st).map_err(|e| err(&auth, e))?;
    let today = dates::today();
    let cal = mamori_detect::calendar::Calendar::default();
    let body = html! {
        p { (auth.t("速報は認知日から概ね3〜5日以内、確報は30日以内(不正の目的のおそれがある場合は60日以内。末日が閉庁日の場合は翌開庁日)。",
                   "Preliminary report within about 3–5 days of learning of the leak; final report within 30 days (60 for an unlawful purpose; the next working day when the last day is a day off).")) }
        @if book.cases().next().is_none() { p.muted { (auth.t("事案はまだありません。", "No cases yet.")) } }
        @else {
            table #ppc-cases {
                thead { tr { th scope="col" { (auth.t("事案", "Case")) } th scope="col" { (auth.t("認知日", "Known since")) } th scope="col" { (auth.t("速報", "Preliminary")) } th scope="col" { (auth.t("確報", "Final")) } } }
                tbody { @for c in book.cases() {
                    tr {
                        td { a href={"/ui/cases/" (c.id)} { (c.id) " " (c.title()) } }
                        td { (dates::date(c.recognized_on, auth.lang, auth.cal)) }
                        td { a href={"/ui/cases/" (c.id) "/ppc?kind=sokuho"} { (mamori_case::due_status(c, ReportKind::Sokuho, today, &cal).message) } }
                        td { a href={"/ui/cases/" (c.id) "/ppc?kind=kakuho"} { (mamori_case::due_status(c, ReportKind::Kakuho, today, &cal).message) } }
                    }
                } }
            }
        }
    };
    Ok(layout::page(&auth, ("個人情報保護委員会への報告", "Report to the PPC"), body))
}

/// `GET /ui/cases/{id}/ppc?kind=`.
pub async fn draft(State(st): State<AppState>, auth: Auth, Path(id): Path<String>, Query(q): Query<KindQuery>) -> Result<Markup, UiError> {
    auth.require_page(&nav::PPC)?;
    let kind = kind_of(&auth, &q)?;
    let c = load(&st, &auth, &id)?;
    let keys = ch::log_keys(&st.dir, &st.ledger);
    let r = ch::ppc_report(&c, kind, dates::today(), Some((&st.ledger, &keys)));
    let dl = &r.deadlines;
    let body = html! {
        p { a href={"/ui/cases/" (c.id)} { "← " (auth.t("事案", "Case")) " " (c.id) } " ・ "
            @if kind == ReportKind::Sokuho { a href={"/ui/cases/" (c.id) "/ppc?kind=kakuho"} { (auth.t("確報の案", "Final report draft")) } }
            @else { a href={"/ui/cases/" (c.id) "/ppc?kind=sokuho"} { (auth.t("速報の案", "Preliminary report draft")) } } }
        (facts(&[
            (auth.t("報告", "Report"), html! { strong #ppc-kind { (kind.label_ja()) } " / " (kind.label_en()) }),
            (auth.t("認知日", "Known since"), html! { (dates::date(dl.recognized_on, auth.lang, auth.cal)) }),
            (auth.t("速報の目安", "Preliminary (guidance)"), html! { (dates::date(dl.sokuho_from, auth.lang, auth.cal)) " 〜 " span #sokuho-by { (dates::date(dl.sokuho_by, auth.lang, auth.cal)) } }),
            (auth.t("確報の期限", "Final report due"), html! { span #kakuho-by { (dates::date(dl.kakuho_by, auth.lang, auth.cal)) } " (" (dl.kakuho_days) (auth.t("日以内", " days")) ")" }),
            (auth.t("状況", "Status"), html! { span #due-message { (r.due.message) } }),
        ]))
        @for n in &r.notes { (notice("warn", n)) }
        h2 { (auth.t("報告対象事態", "Why reportable")) }
        @if r.reportable_because.is_empty() { p.muted { (auth.t("未確定", "Not established")) } }
        ul { @for b in &r.reportable_because { li { (b) } } }
        h2 { (auth.t("報告事項", "Items")) }
        table #ppc-items {
            tbody { @for it in &r.items {
                tr { th scope="row" { (it.no) ". " (it.label_ja) br; span.muted { (it.label_en) } }
                     td class=(if it.missing { "missing" } else { "" }) { @for line in it.text.lines() { (line) br; } } }
            } }
        }
        h2 { (auth.t("証拠イベント", "Evidence")) }
        ul { @for e in &r.evidence { li { "#" (e.ledger_id) " " (e.summary) " " (badge(e.proof_verified == Some(true), "包含証明 検証済み", "proof verified", "包含証明 未検証", "proof not verified", auth.lang)) } } }
        p { a #ppc-pdf href={"/ui/cases/" (c.id) "/ppc.pdf?kind=" (kind.as_str())} download { (auth.t("PDF をダウンロード", "Download PDF")) } }
    };
    Ok(layout::page(&auth, ("個人情報保護委員会への報告(案)", "Report to the PPC (draft)"), body))
}

/// `GET /ui/cases/{id}/ppc.pdf?kind=`.
pub async fn pdf(State(st): State<AppState>, auth: Auth, Path(id): Path<String>, Query(q): Query<KindQuery>) -> Result<Response, UiError> {
    auth.require_page(&nav::PPC)?;
    let kind = kind_of(&auth, &q)?;
    let c = load(&st, &auth, &id)?;
    let lang = auth.lang;
    let bytes = tokio::task::spawn_blocking(move || {
        let keys = ch::log_keys(&st.dir, &st.ledger);
        let r = ch::ppc_report(&c, kind, dates::today(), Some((&st.ledger, &keys)));
        let font = mamori_case::pdf::find_font().map_err(|e| UiError::internal(lang, e))?;
        mamori_case::pdf::ppc_pdf(&r, &font).map_err(|e| UiError::internal(lang, e))
    })
    .await
    .map_err(|e| UiError::internal(lang, e))??;
    let mut resp = ([(header::CONTENT_TYPE, "application/pdf")], bytes).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"ppc-{id}-{}.pdf\"", kind.as_str())) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}
