//! イベント検索: filters (account, host, action, path prefix, period) and full text, and a
//! person's timeline with their department history alongside. Searches are POST forms, so
//! account names and search words never appear in URLs or in the request log.

use axum::extract::State;
use chrono::{NaiveDate, Utc};
use maud::{Markup, html};
use mamori_auth::Action;
use mamori_server::AppState;
use serde::Deserialize;
use serde_json::Value;

use crate::layout::{self, csrf_field, notice, post_button};
use crate::{Auth, CsrfForm, UiError, dates, nav};

/// The search form.
#[derive(Deserialize, Default)]
pub struct SearchForm {
    #[serde(default)]
    user: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    cursor: String,
}

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// A `YYYY-MM-DD` (or 和暦) date input as the RFC 3339 start of that JST day; `next` gives the
/// start of the following day (an inclusive "to" date).
fn day_bound(s: &str, next: bool, auth: &Auth) -> Result<Option<String>, UiError> {
    let Some(t) = opt(s) else { return Ok(None) };
    let d: NaiveDate = mamori_jtext::parse_date(&t).map_err(|e| UiError::bad_request(auth.lang, &format!("日付「{t}」を読めません: {}", e.ja()), &e.en()))?;
    let d = if next { d.succ_opt().unwrap_or(d) } else { d };
    let t = d.and_hms_opt(0, 0, 0).expect("midnight").and_local_timezone(dates::jst()).single().expect("jst").with_timezone(&Utc);
    Ok(Some(mamori_event::format_ts(t)))
}

fn form(auth: &Auth, f: &SearchForm) -> Markup {
    html! {
        form.stack method="post" action="/ui/events" #search-form role="search" {
            (csrf_field(auth))
            div.row {
                div { label for="f-user" { (auth.t("アカウント", "Account")) } input #f-user type="text" name="user" value=(f.user) autocomplete="off"; }
                div { label for="f-host" { (auth.t("端末", "Host")) } input #f-host type="text" name="host" value=(f.host); }
                div { label for="f-action" { (auth.t("操作(event.action)", "Action (event.action)")) } input #f-action type="text" name="action" value=(f.action); }
            }
            div.row {
                div { label for="f-path" { (auth.t("パス(前方一致)", "Path (prefix)")) } input #f-path type="text" name="path" value=(f.path); }
                div { label for="f-q" { (auth.t("全文(3文字以上の語)", "Full text (words of 3+ characters)")) } input #f-q type="search" name="q" value=(f.q); }
            }
            div.row {
                div { label for="f-from" { (auth.t("開始日", "From")) } input #f-from type="date" name="from" value=(f.from); }
                div { label for="f-to" { (auth.t("終了日(含む)", "To (inclusive)")) } input #f-to type="date" name="to" value=(f.to); }
            }
            p { button #search-submit type="submit" { (auth.t("検索", "Search")) } }
        }
    }
}

fn hits_table(auth: &Auth, hits: &[mamori_store::Hit], person_links: bool) -> Markup {
    html! {
        table #results {
            thead { tr {
                th scope="col" { (auth.t("台帳番号", "Ledger no.")) } th scope="col" { (auth.t("日時", "Time")) } th scope="col" { (auth.t("アカウント", "Account")) }
                th scope="col" { (auth.t("端末", "Host")) } th scope="col" { (auth.t("操作", "Action")) } th scope="col" { (auth.t("対象・内容", "Object / message")) } th scope="col" { (auth.t("結果", "Outcome")) }
            } }
            tbody {
                @for h in hits {
                    @let d = &h.doc;
                    @let user = d.pointer("/user/name").and_then(Value::as_str).unwrap_or("");
                    tr {
                        td { (h.id) }
                        td { (chrono::DateTime::<Utc>::from_timestamp_micros(h.timestamp_micros).map(|t| dates::datetime(t, auth.lang, auth.cal)).unwrap_or_default()) }
                        td { (user) @if person_links && !user.is_empty() && auth.can(Action::ReadTimeline) { " " (post_button(auth, "/ui/events/person", "⏱", &[("account", user)], "link")) } }
                        td { (d.pointer("/host/name").and_then(Value::as_str).unwrap_or("")) }
                        td { (d.pointer("/event/action").and_then(Value::as_str).unwrap_or("")) }
                        td { (d.pointer("/file/path").or(d.pointer("/url/full")).or(d.get("message")).and_then(Value::as_str).unwrap_or("")) }
                        td { (d.pointer("/event/outcome").and_then(Value::as_str).unwrap_or("")) }
                    }
                }
            }
        }
    }
}

/// `GET /ui/events`: the empty form.
pub async fn page(auth: Auth) -> Result<Markup, UiError> {
    auth.require_page(&nav::EVENTS)?;
    let body = html! {
        (form(&auth, &SearchForm::default()))
        p.muted { (auth.t("検索条件はURLに含まれず、サーバーのログにも残りません。", "Search terms are not put in the URL and are not logged.")) }
    };
    Ok(layout::page(&auth, ("イベント検索", "Event search"), body))
}

/// `POST /ui/events`: the results.
pub async fn search(State(st): State<AppState>, CsrfForm(auth, f): CsrfForm<SearchForm>) -> Result<Markup, UiError> {
    auth.require_page(&nav::EVENTS)?;
    let q = mamori_store::Query {
        user: opt(&f.user),
        host: opt(&f.host),
        action: opt(&f.action),
        path: opt(&f.path),
        q: opt(&f.q),
        kind: Some("event".into()),
        from: day_bound(&f.from, false, &auth)?,
        to: day_bound(&f.to, true, &auth)?,
        limit: Some(100),
        cursor: opt(&f.cursor),
    };
    let lang = auth.lang;
    let st2 = st.clone();
    let page = tokio::task::spawn_blocking(move || st2.reader.lock().unwrap().search(&q))
        .await
        .map_err(|e| UiError::internal(lang, e))?
        .map_err(|e| if e.is_invalid_input() { UiError::bad_request(lang, "検索条件が不正です", &e.to_string()) } else { UiError::internal(lang, e) })?;
    let body = html! {
        (form(&auth, &f))
        h2 { (auth.t("検索結果", "Results")) " (" (page.events.len()) (auth.t("件", "")) ")" }
        @if page.events.is_empty() { p.muted #no-results { (auth.t("該当するイベントはありません。", "No events match.")) } }
        @else { (hits_table(&auth, &page.events, true)) }
        @if let Some(c) = &page.next_cursor {
            form method="post" action="/ui/events" {
                (csrf_field(&auth))
                @for (k, v) in [("user", &f.user), ("host", &f.host), ("action", &f.action), ("path", &f.path), ("q", &f.q), ("from", &f.from), ("to", &f.to)] {
                    input type="hidden" name=(k) value=(v);
                }
                input type="hidden" name="cursor" value=(c);
                button type="submit" class="secondary" { (auth.t("次の100件", "Next 100")) }
            }
        }
    };
    Ok(layout::page(&auth, ("イベント検索", "Event search"), body))
}

/// The person form: an account, optionally a period.
#[derive(Deserialize)]
pub struct PersonForm {
    account: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// `POST /ui/events/person`: a person's timeline with their department history alongside.
pub async fn person(State(st): State<AppState>, CsrfForm(auth, f): CsrfForm<PersonForm>) -> Result<Markup, UiError> {
    auth.require(Action::ReadTimeline)?;
    let lang = auth.lang;
    let account = f.account.trim().to_owned();
    if account.is_empty() {
        return Err(UiError::bad_request(lang, "アカウントを入力してください", "an account is required"));
    }
    let (from, to) = (day_bound(&f.from, false, &auth)?, day_bound(&f.to, true, &auth)?);
    let st2 = st.clone();
    let acct = account.clone();
    let (page, dir) = tokio::task::spawn_blocking(move || -> Result<_, UiError> {
        let store = st2.reader.lock().unwrap();
        let page = store.timeline(&acct, from.as_deref(), to.as_deref(), Some(500), None).map_err(|e| UiError::bad_request(lang, "検索条件が不正です", &e.to_string()))?;
        let dir = mamori_server::datadir::directory_from(&store).map_err(|e| UiError::internal(lang, e))?;
        Ok((page, dir))
    })
    .await
    .map_err(|e| UiError::internal(lang, e))??;
    let today = dates::today();
    let who = dir.resolve_account(&account, today);
    let history = match &who {
        mamori_directory::Resolution::Person(p) => Some((p.clone(), dir.history(&p.staff_id, mamori_directory::KnownAt::Latest))),
        _ => None,
    };
    let body = html! {
        form.stack method="post" action="/ui/events/person" #person-form {
            (csrf_field(&auth))
            div.row {
                div { label for="p-account" { (auth.t("アカウント", "Account")) } input #p-account type="text" name="account" value=(account) required; }
                div { label for="p-from" { (auth.t("開始日", "From")) } input #p-from type="date" name="from" value=(f.from); }
                div { label for="p-to" { (auth.t("終了日(含む)", "To (inclusive)")) } input #p-to type="date" name="to" value=(f.to); }
            }
            p { button type="submit" { (auth.t("表示", "Show")) } }
        }
        div.grid {
            section aria-labelledby="h-dept" {
                h2 #h-dept { (auth.t("所属の履歴", "Department history")) }
                @match &history {
                    Some((p, rows)) => {
                        p { strong { (p.name) } " (" (p.name_kana) ") " (auth.t("職員番号", "staff no.")) " " (p.staff_id) }
                        table #dept-history {
                            thead { tr { th scope="col" { (auth.t("発令日", "Effective")) } th scope="col" { (auth.t("異動区分", "Change")) } th scope="col" { (auth.t("所属", "Department")) } th scope="col" { (auth.t("職名", "Title")) } } }
                            tbody { @for r in rows { tr { td { (dates::date(r.effective, lang, auth.cal)) } td { (r.change_label) } td { (r.dept_name) } td { (r.title) } } } }
                        }
                    }
                    None => { (notice("warn", auth.t("このアカウントは名簿の一人の職員に対応しません(名簿にない、共用、または外部のアカウント)。", "This account does not belong to one person in the roster (unknown, shared or external)."))) }
                }
            }
        }
        section aria-labelledby="h-timeline" {
            h2 #h-timeline { (auth.t("操作の時系列", "Timeline")) " (" (page.events.len()) (auth.t("件", "")) ")" }
            @if page.events.is_empty() { p.muted { (auth.t("この期間の操作はありません。", "No events in this period.")) } }
            @else { (hits_table(&auth, &page.events, false)) }
            @if page.next_cursor.is_some() { p.muted { (auth.t("新しい順に500件まで表示しています。期間を絞ってください。", "Up to 500 events are shown; narrow the period.")) } }
        }
    };
    Ok(layout::page(&auth, ("職員の操作履歴", "Person's timeline"), body))
}
