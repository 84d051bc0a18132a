//! ログ点検 (the monthly log review): for a month, events per day per department (chart and
//! table), the anomalies (alerts of the month) and a reproducible sample of events; the auditor
//! comments on any of them and signs the month off. Comments and the sign-off are ledgered
//! through `mamori_server::case_http::submit_logreview` (role `sign_reviews`); the sign-off
//! carries the digest of what the page showed and is refused when the month changed since.

use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use mamori_auth::Action;
use mamori_case::logreview::DEFAULT_SAMPLE;
use mamori_case::{LogReviewAction, Month, Target};
use mamori_server::AppState;
use mamori_server::case_http as ch;
use serde::Deserialize;

use super::case::err;
use crate::charts::{Series, stacked_bars};
use crate::layout::{self, csrf_field, notice};
use crate::{Auth, CsrfForm, UiError, dates, nav};

/// `?month=YYYY-MM`.
#[derive(Deserialize)]
pub struct MonthQuery {
    #[serde(default)]
    month: Option<String>,
    #[serde(default)]
    ledger: Option<u64>,
}

fn month_of(auth: &Auth, s: Option<&str>) -> Result<Month, UiError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        // Default: last month (the one to review).
        None => Ok(Month::of(Month::of(dates::today()).first() - chrono::Duration::days(1))),
        Some(m) => Month::parse(m).map_err(|e| UiError::bad_request(auth.lang, &e, &e)),
    }
}

/// `GET /ui/logreview[?month=YYYY-MM]`.
pub async fn page(State(st): State<AppState>, auth: Auth, Query(q): Query<MonthQuery>) -> Result<Markup, UiError> {
    auth.require_page(&nav::LOGREVIEW)?;
    let month = month_of(&auth, q.month.as_deref())?;
    let st2 = st.clone();
    let r = tokio::task::spawn_blocking(move || ch::live_logreview(&st2, month, DEFAULT_SAMPLE)).await.map_err(|e| UiError::internal(auth.lang, e))?.map_err(|e| err(&auth, e))?;
    let labels: Vec<String> = (1..=month.days()).map(|d| d.to_string()).collect();
    let series: Vec<Series> = r.departments.iter().take(8).map(|d| Series { label: d.department.clone(), values: d.per_day.clone() }).collect();
    let can_sign = auth.can(Action::SignReviews);
    let comments_on = |t: &Target| r.record.comments.iter().filter(|c| c.target == *t).map(|c| format!("{}: {}", c.by, c.text)).collect::<Vec<_>>();
    let comment_form = |t: &Target, key: &str| {
        let (kind, id) = match t {
            Target::Alert { id } => ("alert", id.to_string()),
            Target::Event { id } => ("event", id.to_string()),
            Target::General => ("general", String::new()),
        };
        html! {
            @if can_sign {
                form.inline method="post" action="/ui/logreview/comment" {
                    (csrf_field(&auth))
                    input type="hidden" name="month" value=(month.to_string());
                    input type="hidden" name="kind" value=(kind);
                    input type="hidden" name="id" value=(id);
                    label.visually-hidden for={"c-" (key)} { (auth.t("コメント", "Comment")) }
                    input id={"c-" (key)} name="text" required;
                    button type="submit" class="secondary" { (auth.t("コメント", "Comment")) }
                }
            }
        }
    };
    let status = if r.signed_current() {
        ("ok", auth.t("この月は点検済みです(確認の記録あり)。", "This month is signed off."))
    } else if r.record.signoffs.is_empty() {
        ("warn", auth.t("この月はまだ確認されていません。", "This month has not been signed off."))
    } else {
        ("warn", auth.t("確認後に内容が変わりました。再確認してください。", "The month changed since it was signed; sign again."))
    };
    let body = html! {
        @if let Some(l) = q.ledger { (notice("ok", &format!("{} {l}", auth.t("台帳に記録しました。台帳番号", "Recorded in the ledger, entry")))) }
        form.stack method="get" action="/ui/logreview" {
            label for="month" { (auth.t("対象月", "Month")) }
            input #month type="month" name="month" value=(month.to_string());
            p { button type="submit" class="secondary" { (auth.t("表示", "Show")) } }
        }
        p #review-summary { (month.label_ja()) ": " (auth.t("イベント ", "events ")) strong #event-count { (r.events) } (auth.t(" 件、異常 ", ", anomalies ")) strong #anomaly-count { (r.anomalies.len()) } (auth.t(" 件、抽出 ", ", sampled ")) (r.sample.len()) (auth.t(" 件", "")) }
        div #review-status { (notice(status.0, status.1)) }
        (stacked_bars(auth.t("部署別・日別のイベント数", "Events per day per department"), &labels, &series))
        table #dept-totals { thead { tr { th scope="col" { (auth.t("所属", "Department")) } th scope="col" { (auth.t("件数", "Events")) } } } tbody { @for d in &r.departments { tr { td { (d.department) } td { (d.total) } } } } }
        h2 { (auth.t("異常(当月のアラート)", "Anomalies (alerts of the month)")) }
        @if r.anomalies.is_empty() { p.muted { (auth.t("ありません。", "None.")) } }
        @else { table #anomalies {
            thead { tr { th scope="col" { "#" } th scope="col" { (auth.t("重要度", "Severity")) } th scope="col" { (auth.t("内容", "What")) } th scope="col" { (auth.t("対象者", "Who")) } th scope="col" { (auth.t("状態", "State")) } th scope="col" { (auth.t("点検コメント", "Comments")) } } }
            tbody { @for a in &r.anomalies {
                @let t = Target::Alert { id: a.alert_id };
                tr { td { a href={"/ui/alerts/" (a.alert_id)} { (a.alert_id) } } td { (a.severity_ja) } td { (a.title_ja) } td { (a.who) } td { (a.state_ja) }
                     td { @for c in comments_on(&t) { (c) br; } (comment_form(&t, &format!("a{}", a.alert_id))) } }
            } }
        } }
        h2 { (auth.t("抽出確認するイベント", "Sampled events")) }
        p.muted { (auth.t("抽出は月のイベント数と台帳名から決まり、誰が再計算しても同じです。種: ", "The sample is fixed by the month's event count and the log name; anyone recomputes it. Seed: ")) code { (r.seed) } }
        table #sample {
            thead { tr { th scope="col" { (auth.t("台帳番号", "Ledger id")) } th scope="col" { (auth.t("日時", "Time")) } th scope="col" { (auth.t("利用者", "User")) } th scope="col" { (auth.t("所属", "Department")) } th scope="col" { (auth.t("操作", "Action")) } th scope="col" { (auth.t("対象", "Target")) } th scope="col" { (auth.t("点検コメント", "Comments")) } } }
            tbody { @for s in &r.sample {
                @let t = Target::Event { id: s.id };
                tr { td { (s.id) } td { (dates::rfc3339(&s.ts, auth.lang, auth.cal)) } td { (s.user) } td { (s.department) } td { (s.action) } td { (s.target) }
                     td { @for c in comments_on(&t) { (c) br; } (comment_form(&t, &format!("e{}", s.id))) } }
            } }
        }
        h2 { (auth.t("所見と確認", "Comments and sign-off")) }
        ul #general-comments { @for c in comments_on(&Target::General) { li { (c) } } }
        (comment_form(&Target::General, "g"))
        ul #signoffs { @for s in &r.record.signoffs { li { (s.reviewer) " (" (s.by) ", " (dates::rfc3339(&s.at, auth.lang, auth.cal)) ") " (s.summary) @if s.digest != r.digest { " — " (auth.t("確認後に変更あり", "changed since")) } } } }
        @if can_sign {
            form.stack method="post" action="/ui/logreview/sign" #sign-form {
                (csrf_field(&auth))
                input type="hidden" name="month" value=(month.to_string());
                input type="hidden" name="digest" value=(r.digest);
                label for="reviewer" { (auth.t("点検者(氏名)", "Reviewer (name)")) } input #reviewer name="reviewer" required;
                label for="summary" { (auth.t("所見", "Conclusion")) } textarea #summary name="summary" {}
                p { button #sign-submit type="submit" { (auth.t("点検内容を確認し台帳に記録する", "Sign off and record in the ledger")) } }
            }
        } @else {
            (notice("info", auth.t("コメントと確認は監査担当が行います。", "Comments and the sign-off are the auditor's.")))
        }
        p { a #logreview-pdf href={"/ui/logreview.pdf?month=" (month)} download { (auth.t("操作ログ点検結果(PDF)", "Review report (PDF)")) } }
    };
    Ok(layout::page(&auth, ("ログ点検", "Log review"), body))
}

/// The comment form.
#[derive(Deserialize)]
pub struct CommentForm {
    month: String,
    kind: String,
    #[serde(default)]
    id: String,
    text: String,
}

/// `POST /ui/logreview/comment`.
pub async fn comment(State(st): State<AppState>, CsrfForm(auth, f): CsrfForm<CommentForm>) -> Result<Response, UiError> {
    auth.require(Action::SignReviews)?;
    let month = month_of(&auth, Some(&f.month))?;
    let id = || f.id.parse::<u64>().map_err(|_| UiError::bad_request(auth.lang, "番号が不正です", "bad id"));
    let target = match f.kind.as_str() {
        "alert" => Target::Alert { id: id()? },
        "event" => Target::Event { id: id()? },
        _ => Target::General,
    };
    let lid = ch::submit_logreview(&st, &auth.name, LogReviewAction::Comment { month, target, text: f.text }).await.map_err(|e| err(&auth, e))?;
    Ok(Redirect::to(&format!("/ui/logreview?month={month}&ledger={lid}")).into_response())
}

/// The sign-off form.
#[derive(Deserialize)]
pub struct SignForm {
    month: String,
    digest: String,
    reviewer: String,
    #[serde(default)]
    summary: String,
}

/// `POST /ui/logreview/sign`.
pub async fn sign(State(st): State<AppState>, CsrfForm(auth, f): CsrfForm<SignForm>) -> Result<Response, UiError> {
    auth.require(Action::SignReviews)?;
    let month = month_of(&auth, Some(&f.month))?;
    let st2 = st.clone();
    let r = tokio::task::spawn_blocking(move || ch::live_logreview(&st2, month, DEFAULT_SAMPLE)).await.map_err(|e| UiError::internal(auth.lang, e))?.map_err(|e| err(&auth, e))?;
    if r.digest != f.digest {
        return Err(UiError::refused(auth.lang, "表示後に点検内容が変わりました。再読み込みしてから確認してください / the month changed since it was shown"));
    }
    let action = LogReviewAction::Sign { month, reviewer: f.reviewer, summary: f.summary, digest: r.digest.clone(), anomalies: r.anomalies.len(), sample: r.sample.len() };
    let lid = ch::submit_logreview(&st, &auth.name, action).await.map_err(|e| err(&auth, e))?;
    Ok(Redirect::to(&format!("/ui/logreview?month={month}&ledger={lid}")).into_response())
}

/// `GET /ui/logreview.pdf?month=`.
pub async fn pdf(State(st): State<AppState>, auth: Auth, Query(q): Query<MonthQuery>) -> Result<Response, UiError> {
    auth.require_page(&nav::LOGREVIEW)?;
    let month = month_of(&auth, q.month.as_deref())?;
    let lang = auth.lang;
    let bytes = tokio::task::spawn_blocking(move || {
        let r = ch::live_logreview(&st, month, DEFAULT_SAMPLE).map_err(|e| UiError::internal(lang, e))?;
        let font = mamori_case::pdf::find_font().map_err(|e| UiError::internal(lang, e))?;
        mamori_case::pdf::logreview_pdf(&r, &font).map_err(|e| UiError::internal(lang, e))
    })
    .await
    .map_err(|e| UiError::internal(lang, e))??;
    let mut resp = ([(header::CONTENT_TYPE, "application/pdf")], bytes).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"logreview-{month}.pdf\"")) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}
