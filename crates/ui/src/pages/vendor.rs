//! 委託先 (vendors): contracts, data handed over, and the deletion certificates (データ消去
//! 証明書) due or overdue as of a date (Isetō, Kanagawa). Read-only; contracts, handovers and
//! certificates are recorded with `mamori vendor …` or `POST /api/v1/vendors` (ledgered).

use axum::extract::{Query, State};
use maud::{Markup, html};
use mamori_server::AppState;
use serde::Deserialize;

use crate::layout::{self, notice};
use crate::{Auth, UiError, dates, nav};

/// `?as_of=`.
#[derive(Deserialize)]
pub struct AsOf {
    #[serde(default)]
    as_of: Option<String>,
}

/// `GET /ui/vendors[?as_of=YYYY-MM-DD]`.
pub async fn page(State(st): State<AppState>, auth: Auth, Query(q): Query<AsOf>) -> Result<Markup, UiError> {
    auth.require_page(&nav::VENDORS)?;
    let as_of = match q.as_of.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => dates::today(),
        Some(t) => mamori_jtext::parse_date(t).map_err(|e| UiError::bad_request(auth.lang, &format!("日付「{t}」を読めません: {}", e.ja()), &e.en()))?,
    };
    let dir = mamori_server::datadir::directory_from(&st.reader.lock().unwrap()).map_err(|e| UiError::internal(auth.lang, e))?;
    let reminders = dir.vendor_reminders(as_of);
    let body = html! {
        form.stack method="get" action="/ui/vendors" {
            label for="as_of" { (auth.t("基準日", "As of")) } input #as_of type="text" placeholder="2026-12-02 / 令和8年12月2日" name="as_of" value=(as_of.format("%Y-%m-%d"));
            p { button type="submit" class="secondary" { (auth.t("表示", "Show")) } }
        }
        h2 { (auth.t("消去証明書の督促", "Deletion certificates due")) }
        @if reminders.is_empty() { (notice("ok", auth.t("未提出の消去証明書はありません。", "No deletion certificate is missing."))) }
        @else { ul #vendor-reminders { @for r in &reminders { li { (r.message()) } } } }
        h2 { (auth.t("契約", "Contracts")) }
        @if dir.vendors().next().is_none() { p.muted { (auth.t("登録された契約はありません。", "No contracts registered.")) } }
        @else {
            table #contracts {
                thead { tr {
                    th scope="col" { (auth.t("契約番号", "Contract")) } th scope="col" { (auth.t("委託先", "Vendor")) } th scope="col" { (auth.t("業務内容", "Subject")) }
                    th scope="col" { (auth.t("契約期間", "Period")) } th scope="col" { (auth.t("引渡し", "Handed over")) } th scope="col" { (auth.t("証明書期限", "Certificate due")) } th scope="col" { (auth.t("消去証明書", "Certificate")) }
                } }
                tbody { @for v in dir.vendors() {
                    @let c = &v.contract;
                    tr data-id=(c.id) {
                        td { (c.id) } td { (c.vendor) } td { (c.subject) }
                        td { (dates::date(c.from, auth.lang, auth.cal)) " 〜 " (dates::date(c.until, auth.lang, auth.cal)) }
                        td { @for h in &v.handovers { (dates::date(h.on, auth.lang, auth.cal)) " " (h.data) @if let Some(n) = h.records { " (" (n) (auth.t("件", " records")) ")" } br; } }
                        td { (dates::date(c.due(), auth.lang, auth.cal)) }
                        td { @match &v.certificate { Some((d, note, _)) => { span.badge.ok { "✔ " (dates::date(*d, auth.lang, auth.cal)) } " " (note) }, None => { span.badge.ng { "✘ " (auth.t("未提出", "missing")) } } } }
                    }
                } }
            }
        }
    };
    Ok(layout::page(&auth, ("委託先", "Vendors"), body))
}
