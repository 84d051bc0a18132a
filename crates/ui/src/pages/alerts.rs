//! アラート: the list (by state), one alert with its evidence — each evidence event's
//! inclusion proof verified on the server against the signed checkpoint, shown as a badge —
//! links to the person (POST forms: no personal data in URLs), and the officer's triage and
//! close actions, ledgered as admin entries exactly like `POST /api/v1/alerts/{id}/triage`.

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use mamori_auth::Action;
use mamori_detect::{Alert, AlertAction, AlertState};
use mamori_ledger::{EntryKind, NewEntry};
use mamori_server::AppState;
use serde::Deserialize;
use serde_json::Value;

use crate::layout::{self, badge, csrf_field, facts, notice, post_button};
use crate::pages::dashboard::severity_label;
use crate::{Auth, CsrfForm, Lang, UiError, dates, nav};

/// `?state=` of the list.
#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    state: Option<String>,
}

fn state_label(s: AlertState, lang: Lang) -> &'static str {
    match lang {
        Lang::Ja => s.label_ja(),
        Lang::En => s.as_str(),
    }
}

/// `GET /ui/alerts[?state=new|triaged|closed]`.
pub async fn list(State(st): State<AppState>, auth: Auth, Query(q): Query<ListQuery>) -> Result<Markup, UiError> {
    auth.require_page(&nav::ALERTS)?;
    let state = match q.state.as_deref() {
        None | Some("") | Some("all") => None,
        Some(s) => Some(AlertState::parse(s).ok_or_else(|| UiError::bad_request(auth.lang, "状態の指定が不正です", "state must be new, triaged or closed"))?),
    };
    let det = st.detection.clone();
    let alerts = tokio::task::spawn_blocking(move || det.list(state, None, 500)).await.map_err(|e| UiError::internal(auth.lang, e))?.map_err(|e| UiError::internal(auth.lang, e))?;
    let tab = |s: Option<AlertState>, ja: &'static str, en: &'static str| {
        let href = match s {
            Some(s) => format!("/ui/alerts?state={}", s.as_str()),
            None => "/ui/alerts?state=all".to_owned(),
        };
        html! { li { a href=(href) aria-current=[(s == state).then_some("page")] { (auth.t(ja, en)) } } }
    };
    let body = html! {
        nav.tabs aria-label=(auth.t("状態で絞り込み", "Filter by state")) {
            ul.legend {
                (tab(None, "すべて", "All")) (tab(Some(AlertState::New), "未対応", "New")) (tab(Some(AlertState::Triaged), "確認中", "Triaged")) (tab(Some(AlertState::Closed), "完了", "Closed"))
            }
        }
        @if alerts.is_empty() { p.muted #no-alerts { (auth.t("該当するアラートはありません。", "No alerts.")) } }
        @else {
            table #alerts {
                thead { tr {
                    th scope="col" { (auth.t("番号", "No.")) } th scope="col" { (auth.t("重要度", "Severity")) } th scope="col" { (auth.t("内容", "Alert")) }
                    th scope="col" { (auth.t("職員", "Person")) } th scope="col" { (auth.t("所属", "Department")) } th scope="col" { (auth.t("状態", "State")) }
                    th scope="col" { (auth.t("最初の検知", "First seen")) } th.num scope="col" { (auth.t("件数", "Count")) }
                } }
                tbody {
                    @for a in &alerts {
                        tr data-alert=(a.id) {
                            td { a href={"/ui/alerts/" (a.id)} { "#" (a.id) } }
                            td { span class={"sev sev-" (a.severity.as_str())} { (severity_label(a.severity, &auth)) } }
                            td { a href={"/ui/alerts/" (a.id)} { (auth.t(&a.title_ja, &a.title_en)) } }
                            td { (a.person.as_ref().map(|p| p.name.as_str()).or(a.account.as_deref()).unwrap_or("—")) }
                            td { (a.person.as_ref().and_then(|p| p.dept_name.as_deref()).unwrap_or("—")) }
                            td { (state_label(a.state, auth.lang)) }
                            td { (dates::datetime(a.first_ts, auth.lang, auth.cal)) }
                            td.num { (a.count) }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(&auth, ("アラート", "Alerts"), body))
}

/// `?ledger=` after an action.
#[derive(Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    ledger: Option<u64>,
}

fn event_line(st: &AppState, id: u64) -> Option<Value> {
    st.reader.lock().unwrap().get(id).ok().flatten().map(|h| h.doc)
}

/// `GET /ui/alerts/{id}`.
pub async fn detail(State(st): State<AppState>, auth: Auth, Path(id): Path<u64>, Query(done): Query<DoneQuery>) -> Result<Markup, UiError> {
    auth.require_page(&nav::ALERTS)?;
    let lang = auth.lang;
    let st2 = st.clone();
    let (alert, proofs, events, cases) = tokio::task::spawn_blocking(move || -> Result<_, UiError> {
        let a = st2.detection.get(id).map_err(|e| UiError::internal(lang, e))?.ok_or_else(|| UiError::not_found(lang, format!("アラート {id} はありません。"), format!("no alert {id}")))?;
        let mut keys = vec![st2.ledger.vkey().to_owned()];
        keys.extend(st2.dir.previous_vkeys().unwrap_or_default());
        let proofs: Vec<(u64, bool, Option<String>)> = a
            .evidence
            .iter()
            .take(200)
            .map(|&e| {
                let (_, ok, why) = mamori_server::detection::verify_evidence(&st2.ledger, &keys, e);
                (e, ok, why)
            })
            .collect();
        let events: Vec<Option<Value>> = proofs.iter().map(|(e, _, _)| event_line(&st2, *e)).collect();
        // The cases (事案) this alert is evidence of.
        let cases: Vec<(String, String)> = mamori_server::case_http::live_cases(&st2)
            .map(|book| book.cases().filter(|c| c.alerts.contains(&id)).map(|c| (c.id.clone(), c.title().to_string())).collect())
            .unwrap_or_default();
        Ok((a, proofs, events, cases))
    })
    .await
    .map_err(|e| UiError::internal(lang, e))??;
    let all_ok = !proofs.is_empty() && proofs.iter().all(|p| p.1);
    let body = render_detail(&auth, &alert, &proofs, &events, &cases, all_ok, done.ledger);
    Ok(layout::page(&auth, ("アラートの詳細", "Alert"), body))
}

fn render_detail(auth: &Auth, a: &Alert, proofs: &[(u64, bool, Option<String>)], events: &[Option<Value>], cases: &[(String, String)], all_ok: bool, done: Option<u64>) -> Markup {
    let lang = auth.lang;
    let person = a.person.as_ref();
    html! {
        @if let Some(l) = done { (notice("ok", &format!("{} {l}", auth.t("操作を台帳に記録しました。台帳番号", "The action was recorded in the ledger, entry")))) }
        h2 { "#" (a.id) " " (auth.t(&a.title_ja, &a.title_en)) }
        (facts(&[
            (auth.t("重要度", "Severity"), html! { span class={"sev sev-" (a.severity.as_str())} { (severity_label(a.severity, auth)) } }),
            (auth.t("状態", "State"), html! { span #alert-state data-state=(a.state.as_str()) { (state_label(a.state, lang)) } @if let Some(r) = &a.reason { " — " (r) } }),
            (auth.t("職員", "Person"), html! {
                @if let Some(p) = person {
                    (p.name) " (" (auth.t("職員番号", "staff no.")) " " (p.staff_id) ") "
                    @if auth.can(Action::ReadTimeline) {
                        (post_button(auth, "/ui/people/person", auth.t("職員の所属履歴", "Person's history"), &[("staff_id", &p.staff_id)], "link"))
                    }
                } @else { (auth.t("(名簿にない、または共用のアカウント)", "(not in the roster, or a shared account)")) }
            }),
            (auth.t("所属(当日)", "Department (that day)"), html! { (person.and_then(|p| p.dept_name.as_deref()).unwrap_or("—")) }),
            (auth.t("アカウント", "Account"), html! {
                (a.account.as_deref().unwrap_or("—")) " "
                @if let (Some(acct), true) = (&a.account, auth.can(Action::ReadTimeline)) {
                    (post_button(auth, "/ui/events/person", auth.t("この職員の操作履歴", "This person's timeline"), &[("account", acct)], "link"))
                }
            }),
            (auth.t("期間", "Period"), html! { (dates::datetime(a.first_ts, lang, auth.cal)) " 〜 " (dates::datetime(a.last_ts, lang, auth.cal)) }),
            (auth.t("件数", "Count"), html! { (a.count) }),
            (auth.t("担当者", "Assignee"), html! { (a.assignee.as_deref().unwrap_or("—")) }),
            (auth.t("規則", "Rule"), html! { code { (a.rule_id) } }),
            (auth.t("事案", "Case"), html! {
                span #alert-cases {
                    @for (id, title) in cases { a href={"/ui/cases/" (id)} { (id) " " (title) } " " }
                    @if cases.is_empty() {
                        (auth.t("なし", "none")) " "
                        @if auth.can(Action::ManageAlerts) {
                            (post_button(auth, "/ui/cases", auth.t("このアラートから事案を登録する", "Open a case from this alert"), &[("alerts", &a.id.to_string()), ("recognized_on", &dates::today().format("%Y-%m-%d").to_string())], "link"))
                        }
                    }
                }
            }),
        ]))
        p { (auth.t(&a.summary_ja, &a.summary_en)) }

        h2 { (auth.t("証拠(台帳の包含証明)", "Evidence (inclusion proofs)")) }
        p #proof-badge data-verified=(all_ok) {
            (badge(all_ok, "すべての証拠の包含証明をサーバーで検証しました", "every evidence proof verified on the server", "検証できない証拠があります", "some evidence does not verify", lang))
        }
        p.muted { (auth.t("各イベントが署名付きチェックポイントの Merkle ツリーに含まれ、記録内容がコミットメントと一致することを確認しています。", "Each event is checked to be in the Merkle tree of the signed checkpoint and to match its commitment.")) }
        table #evidence {
            thead { tr { th scope="col" { (auth.t("台帳番号", "Ledger no.")) } th scope="col" { (auth.t("日時", "Time")) } th scope="col" { (auth.t("操作", "Action")) } th scope="col" { (auth.t("対象", "Object")) } th scope="col" { (auth.t("証明", "Proof")) } } }
            tbody {
                @for ((id, ok, why), ev) in proofs.iter().zip(events) {
                    tr {
                        td { (id) }
                        td { (ev.as_ref().and_then(|d| d["@timestamp"].as_str()).map(|t| dates::rfc3339(t, lang, auth.cal)).unwrap_or_default()) }
                        td { (ev.as_ref().and_then(|d| d.pointer("/event/action")).and_then(Value::as_str).unwrap_or("")) }
                        td { (ev.as_ref().and_then(|d| d.pointer("/file/path").or(d.pointer("/url/full")).or(d.get("message"))).and_then(Value::as_str).unwrap_or("")) }
                        td { (badge(*ok, "検証済み", "verified", "検証不可", "not verified", lang)) @if let Some(w) = why { " " span.muted { (w) } } }
                    }
                }
            }
        }
        @if a.evidence.len() > proofs.len() { p.muted { (auth.t("先頭の200件のみ表示しています。", "Only the first 200 are shown.")) } }

        @if auth.can(Action::ManageAlerts) && a.state != AlertState::Closed {
            h2 { (auth.t("対応", "Actions")) }
            div.grid {
                @if a.state == AlertState::New {
                    form.stack.card method="post" action={"/ui/alerts/" (a.id) "/triage"} #triage-form {
                        (csrf_field(auth))
                        h3 { (auth.t("確認を始める(トリアージ)", "Triage")) }
                        label for="triage-reason" { (auth.t("所見・理由(必須)", "Assessment / reason (required)")) }
                        textarea #triage-reason name="reason" required {}
                        label for="triage-assignee" { (auth.t("担当者(任意)", "Assignee (optional)")) }
                        input #triage-assignee type="text" name="assignee";
                        p { button #triage-submit type="submit" { (auth.t("確認中にする", "Mark as triaged")) } }
                    }
                }
                form.stack.card method="post" action={"/ui/alerts/" (a.id) "/close"} #close-form {
                    (csrf_field(auth))
                    h3 { (auth.t("完了にする", "Close")) }
                    label for="close-reason" { (auth.t("理由(必須。例: 誤検知: 承認済みの持出)", "Reason (required, e.g. false positive: approved takeout)")) }
                    textarea #close-reason name="reason" required {}
                    p { button #close-submit type="submit" class="secondary" { (auth.t("完了にする", "Close the alert")) } }
                }
            }
        }

        @if !a.history.is_empty() {
            h2 { (auth.t("対応履歴(台帳に記録)", "History (ledgered)")) }
            table #history {
                thead { tr { th scope="col" { (auth.t("台帳番号", "Ledger no.")) } th scope="col" { (auth.t("日時", "Time")) } th scope="col" { (auth.t("担当", "By")) } th scope="col" { (auth.t("操作", "Action")) } } }
                tbody { @for h in &a.history { tr { td { (h.ledger_id) } td { (dates::rfc3339(&h.at, lang, auth.cal)) } td { (h.actor) } td { (action_text(&h.action, lang)) } } } }
            }
        }
        p { a href="/ui/alerts" { (auth.t("← アラート一覧", "← All alerts")) } }
    }
}

fn action_text(a: &AlertAction, lang: Lang) -> String {
    match a {
        AlertAction::Triage { reason, assignee, .. } => format!("{}: {reason}{}", lang.t("確認開始", "triaged"), assignee.as_ref().map(|x| format!(" → {x}")).unwrap_or_default()),
        AlertAction::Close { reason, .. } => format!("{}: {reason}", lang.t("完了", "closed")),
        AlertAction::Assign { assignee, .. } => format!("{}: {assignee}", lang.t("担当割当", "assigned")),
    }
}

/// The triage / close form.
#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    assignee: Option<String>,
}

async fn act(st: AppState, auth: Auth, id: u64, f: ActionForm, close: bool) -> Result<Response, UiError> {
    auth.require(Action::ManageAlerts)?;
    let lang = auth.lang;
    let assignee = f.assignee.filter(|s| !s.trim().is_empty());
    let action = if close { AlertAction::Close { alert: id, reason: f.reason } } else { AlertAction::Triage { alert: id, reason: f.reason, assignee } };
    let det = st.detection.clone();
    let current = tokio::task::spawn_blocking(move || det.get(id))
        .await
        .map_err(|e| UiError::internal(lang, e))?
        .map_err(|e| UiError::internal(lang, e))?
        .ok_or_else(|| UiError::not_found(lang, format!("アラート {id} はありません。"), format!("no alert {id}")))?;
    // Refuse what replay would refuse, before it is ledgered (as the API does).
    action.next_state(current.state).map_err(|e| UiError::refused(lang, e))?;
    let payload = mamori_server::detection::action_payload(&auth.name, &action);
    let ledger = st.ledger.clone();
    let lid = tokio::task::spawn_blocking(move || ledger.append_blocking(vec![NewEntry { kind: EntryKind::Admin, payload }]))
        .await
        .map_err(|e| UiError::internal(lang, e))?
        .map_err(|e| UiError::internal(lang, e))?
        .first_index;
    let det = st.detection.clone();
    tokio::task::spawn_blocking(move || det.wait_for(lid, Duration::from_secs(10))).await.map_err(|e| UiError::internal(lang, e))?;
    Ok(Redirect::to(&format!("/ui/alerts/{id}?ledger={lid}")).into_response())
}

/// `POST /ui/alerts/{id}/triage`.
pub async fn triage(State(st): State<AppState>, Path(id): Path<u64>, CsrfForm(auth, f): CsrfForm<ActionForm>) -> Result<Response, UiError> {
    act(st, auth, id, f, false).await
}

/// `POST /ui/alerts/{id}/close`.
pub async fn close(State(st): State<AppState>, Path(id): Path<u64>, CsrfForm(auth, f): CsrfForm<ActionForm>) -> Result<Response, UiError> {
    act(st, auth, id, f, true).await
}
