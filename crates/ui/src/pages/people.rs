//! 職員・組織: the roster as of today (who is in which department), departments with their
//! head counts, joiners/movers/leavers of the last 90 days, and one person's history
//! (asked by POST: the 職員番号 never goes into a URL).

use std::collections::BTreeMap;

use axum::extract::State;
use chrono::Duration;
use maud::{Markup, html};
use mamori_directory::{ChangeKind, KnownAt, View};
use mamori_server::AppState;
use serde::Deserialize;

use crate::layout::{self, notice, post_button};
use crate::{Auth, CsrfForm, UiError, dates, nav};

fn directory(st: &AppState, auth: &Auth) -> Result<mamori_directory::Directory, UiError> {
    mamori_server::datadir::directory_from(&st.reader.lock().unwrap()).map_err(|e| UiError::internal(auth.lang, e))
}

fn change_text(k: &ChangeKind, auth: &Auth) -> String {
    let l = auth.lang;
    match k {
        ChangeKind::Joined { first_day, rehire } => format!("{} {}", if *rehire { l.t("再採用", "rehired") } else { l.t("採用", "joined") }, dates::date(*first_day, l, auth.cal)),
        ChangeKind::Left { last_day } => format!("{} {}", l.t("退職", "left"), last_day.map(|d| dates::date(d, l, auth.cal)).unwrap_or_default()),
        ChangeKind::Moved { from, to } => format!("{} {} → {}", l.t("異動", "moved"), from.dept_name, to.dept_name),
        ChangeKind::TitleChanged { from, to } => format!("{} {from} → {to}", l.t("職名変更", "title")),
        ChangeKind::ConcurrentAdded(p) => format!("{} {}", l.t("兼務開始", "concurrent post"), p.dept_name),
        ChangeKind::ConcurrentEnded(p) => format!("{} {}", l.t("兼務終了", "concurrent post ended"), p.dept_name),
        ChangeKind::LeaveStarted => l.t("休職", "leave").to_owned(),
        ChangeKind::LeaveEnded => l.t("復職", "back from leave").to_owned(),
    }
}

/// `GET /ui/people`.
pub async fn page(State(st): State<AppState>, auth: Auth) -> Result<Markup, UiError> {
    auth.require_page(&nav::PEOPLE)?;
    let today = dates::today();
    let dir = directory(&st, &auth)?;
    let people = dir.people_at(View { date: today, known: KnownAt::Latest });
    let changes = dir.changes_between(today - Duration::days(90), today);
    let mut depts: BTreeMap<String, (String, usize)> = BTreeMap::new();
    for p in people.iter().filter(|p| p.status.is_employed()) {
        for post in p.post.iter().chain(&p.concurrent) {
            depts.entry(post.dept_code.clone()).or_insert_with(|| (post.dept_name.clone(), 0)).1 += 1;
        }
    }
    let body = html! {
        p.muted { (dates::date(today, auth.lang, auth.cal)) (auth.t("現在(名簿の最新の取込による)", " (as of the latest roster import)")) }
        @if people.is_empty() { (notice("info", auth.t("名簿がまだ取り込まれていません(mamori roster-import)。", "No roster imported yet (mamori roster-import)."))) }
        h2 { (auth.t("組織(所属と在籍者数)", "Departments (staff)")) }
        table #departments {
            thead { tr { th scope="col" { (auth.t("所属コード", "Code")) } th scope="col" { (auth.t("所属名", "Department")) } th.num scope="col" { (auth.t("人数(兼務含む)", "Staff (incl. concurrent)")) } } }
            tbody { @for (code, (name, n)) in &depts { tr { td { (code) } td { (name) } td.num { (n) } } } }
        }
        h2 { (auth.t("直近90日の異動・採用・退職", "Joiners, movers and leavers (last 90 days)")) }
        @if changes.is_empty() { p.muted { (auth.t("ありません。", "None.")) } }
        @else {
            table #changes {
                thead { tr { th scope="col" { (auth.t("職員番号", "Staff no.")) } th scope="col" { (auth.t("氏名", "Name")) } th scope="col" { (auth.t("内容", "Change")) } } }
                tbody { @for c in &changes { tr { td { (c.staff_id) } td { (c.name) } td { @for k in &c.kinds { (change_text(k, &auth)) br; } } } } }
            }
        }
        h2 { (auth.t("職員名簿", "Roster")) }
        table #roster {
            thead { tr {
                th scope="col" { (auth.t("職員番号", "Staff no.")) } th scope="col" { (auth.t("氏名", "Name")) } th scope="col" { (auth.t("所属", "Department")) }
                th scope="col" { (auth.t("職名", "Title")) } th scope="col" { (auth.t("在職状況", "Status")) } th scope="col" { (auth.t("履歴", "History")) }
            } }
            tbody {
                @for p in &people {
                    @let post = p.post.as_ref().or(p.last_post.as_ref());
                    tr {
                        td { (p.staff_id) } td { (p.name) } td { (post.map(|x| x.dept_name.as_str()).unwrap_or("—")) } td { (post.map(|x| x.title.as_str()).unwrap_or("—")) }
                        td { (p.status.label()) }
                        td { (post_button(&auth, "/ui/people/person", auth.t("履歴", "History"), &[("staff_id", &p.staff_id)], "link")) }
                    }
                }
            }
        }
    };
    Ok(layout::page(&auth, ("職員・組織", "Staff & departments"), body))
}

/// `POST /ui/people/person`.
#[derive(Deserialize)]
pub struct PersonForm {
    staff_id: String,
}

/// `POST /ui/people/person`: one person's roster history, periods and accounts.
pub async fn person(State(st): State<AppState>, CsrfForm(auth, f): CsrfForm<PersonForm>) -> Result<Markup, UiError> {
    auth.require_page(&nav::PEOPLE)?;
    let dir = directory(&st, &auth)?;
    let today = dates::today();
    let Some(p) = dir.person(&f.staff_id, today) else {
        return Err(UiError::not_found(auth.lang, "その職員番号は名簿にありません。", "no such staff number in the roster"));
    };
    let rows = dir.history(&p.staff_id, KnownAt::Latest);
    let periods = dir.periods(&p.staff_id, KnownAt::Latest);
    let body = html! {
        h2 { (p.name) " (" (p.name_kana) ")" }
        p { (auth.t("職員番号", "Staff no.")) " " (p.staff_id) " · " (p.status.label()) }
        h2 { (auth.t("所属の履歴", "Department history")) }
        table #person-history {
            thead { tr { th scope="col" { (auth.t("発令日", "Effective")) } th scope="col" { (auth.t("異動区分", "Change")) } th scope="col" { (auth.t("所属", "Department")) } th scope="col" { (auth.t("職名", "Title")) } th scope="col" { (auth.t("退職日", "Retirement")) } } }
            tbody { @for r in &rows { tr { td { (dates::date(r.effective, auth.lang, auth.cal)) } td { (r.change_label) } td { (r.dept_name) } td { (r.title) } td { (r.retirement_date.map(|d| dates::date(d, auth.lang, auth.cal)).unwrap_or_default()) } } } }
        }
        h2 { (auth.t("在職期間", "Employment periods")) }
        ul { @for pr in &periods { li { (dates::date(pr.start, auth.lang, auth.cal)) " 〜 " (pr.end.map(|d| dates::date(d, auth.lang, auth.cal)).unwrap_or_default()) } } }
        h2 { (auth.t("アカウント", "Accounts")) }
        ul {
            @for a in &p.accounts {
                li { (a.to_string()) " " (post_button(&auth, "/ui/events/person", auth.t("操作履歴", "Timeline"), &[("account", a.user())], "link")) }
            }
        }
        p { a href="/ui/people" { (auth.t("← 職員名簿", "← Roster")) } }
    };
    Ok(layout::page(&auth, ("職員の履歴", "Person's history"), body))
}
