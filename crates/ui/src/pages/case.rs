//! 事案 (cases): the list, opening a case from alerts or by hand, and a case's page — facts,
//! affected persons (本人の数) with their basis, evidence with verified inclusion proofs, the
//! timeline, actions taken, the report deadlines — with the officer's forms (edit the facts,
//! record an action, record a report as sent, close, reopen). Every change is a ledgered case
//! action through `mamori_server::case_http::submit_case` (the same check as the API).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use mamori_auth::Action;
use mamori_case::{Case, CaseAction, CaseFields, ReportKind};
use mamori_server::AppState;
use mamori_server::case_http::{self as ch, SubmitError};
use serde::Deserialize;

use crate::layout::{self, badge, csrf_field, facts, notice};
use crate::{Auth, CsrfForm, UiError, dates, nav};

pub(crate) fn err(auth: &Auth, e: SubmitError) -> UiError {
    match e {
        SubmitError::Refused(m) => UiError::refused(auth.lang, m),
        SubmitError::Internal(m) => UiError::internal(auth.lang, m),
    }
}

pub(crate) fn load(st: &AppState, auth: &Auth, id: &str) -> Result<Case, UiError> {
    ch::live_cases(st).map_err(|e| err(auth, e))?.get(id).cloned().ok_or_else(|| UiError::not_found(auth.lang, format!("事案 {id} はありません"), format!("no case {id}")))
}

fn parse_day(auth: &Auth, s: &str) -> Result<chrono::NaiveDate, UiError> {
    mamori_jtext::parse_date(s.trim()).map_err(|e| UiError::bad_request(auth.lang, &format!("日付「{s}」を読めません: {}", e.ja()), &e.en()))
}

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// `GET /ui/cases`.
pub async fn list(State(st): State<AppState>, auth: Auth) -> Result<Markup, UiError> {
    auth.require_page(&nav::CASES)?;
    let book = ch::live_cases(&st).map_err(|e| err(&auth, e))?;
    let today = dates::today();
    let cal = mamori_detect::calendar::Calendar::default();
    let body = html! {
        @if book.cases().next().is_none() { p.muted { (auth.t("事案はまだありません。", "No cases yet.")) } }
        @else {
            table #cases {
                thead { tr {
                    th scope="col" { (auth.t("事案番号", "Case")) } th scope="col" { (auth.t("件名", "Title")) } th scope="col" { (auth.t("状態", "State")) }
                    th scope="col" { (auth.t("認知日", "Known since")) } th scope="col" { (auth.t("本人の数", "Persons")) } th scope="col" { (auth.t("報告期限", "Report deadlines")) }
                } }
                tbody { @for c in book.cases() {
                    @let s = mamori_case::due_status(c, ReportKind::Sokuho, today, &cal);
                    @let k = mamori_case::due_status(c, ReportKind::Kakuho, today, &cal);
                    tr {
                        td { a href={"/ui/cases/" (c.id)} { (c.id) } } td { (c.title()) } td { (auth.t(c.state.label_ja(), c.state.as_str())) }
                        td { (dates::date(c.recognized_on, auth.lang, auth.cal)) }
                        td { (c.persons().value.map_or(auth.t("調査中", "unknown").to_owned(), |n| n.to_string())) }
                        td { (s.message) br; (k.message) }
                    }
                } }
            }
        }
        @if auth.can(Action::ManageAlerts) {
            h2 { (auth.t("事案を登録する", "Open a case")) }
            form.stack method="post" action="/ui/cases" #open-case {
                (csrf_field(&auth))
                label for="alerts" { (auth.t("アラート番号(カンマ区切り、任意)", "Alert numbers (comma-separated, optional)")) }
                input #alerts name="alerts" inputmode="numeric";
                label for="title" { (auth.t("件名(アラートから開く場合は省略可)", "Title (optional when opened from alerts)")) }
                input #title name="title";
                label for="recognized_on" { (auth.t("認知日", "Known since")) }
                input #recognized_on type="text" placeholder="2026-12-02 / 令和8年12月2日" name="recognized_on" value=(today.format("%Y-%m-%d")) required;
                p { button #open-submit type="submit" { (auth.t("登録して台帳に記録する", "Open and record in the ledger")) } }
            }
        }
    };
    Ok(layout::page(&auth, ("事案", "Cases"), body))
}

/// The open form.
#[derive(Deserialize)]
pub struct OpenForm {
    #[serde(default)]
    alerts: String,
    #[serde(default)]
    title: String,
    recognized_on: String,
}

/// `POST /ui/cases`.
pub async fn open(State(st): State<AppState>, CsrfForm(auth, f): CsrfForm<OpenForm>) -> Result<Response, UiError> {
    auth.require(Action::ManageAlerts)?;
    let on = parse_day(&auth, &f.recognized_on)?;
    let mut alerts = Vec::new();
    for part in f.alerts.split([',', '、', ' ']).map(str::trim).filter(|s| !s.is_empty()) {
        let id: u64 = part.trim_start_matches('#').parse().map_err(|_| UiError::bad_request(auth.lang, &format!("アラート番号「{part}」が数字ではありません"), "alert numbers must be numbers"))?;
        alerts.push(st.detection.get(id).map_err(|e| UiError::internal(auth.lang, e))?.ok_or_else(|| UiError::not_found(auth.lang, format!("アラート {id} はありません"), format!("no alert {id}")))?);
    }
    let fields = CaseFields { title: opt(&f.title), ..Default::default() };
    let book = ch::live_cases(&st).map_err(|e| err(&auth, e))?;
    let action = ch::open_action(&book, &st.reader.lock().unwrap(), &alerts, &[], on, fields).map_err(|e| UiError::bad_request(auth.lang, &e, &e))?;
    let (lid, c) = ch::submit_case(&st, &auth.name, action).await.map_err(|e| err(&auth, e))?;
    Ok(Redirect::to(&format!("/ui/cases/{}?ledger={lid}", c.id)).into_response())
}

fn text_row(auth: &Auth, name: &str, ja: &str, en: &str, value: Option<&str>) -> Markup {
    html! {
        label for=(name) { (auth.t(ja, en)) }
        textarea id=(name) name=(name) rows="2" { (value.unwrap_or("")) }
    }
}

/// `GET /ui/cases/{id}`.
pub async fn detail(State(st): State<AppState>, auth: Auth, Path(id): Path<String>, axum::extract::Query(q): axum::extract::Query<super::takeout::Done>) -> Result<Markup, UiError> {
    auth.require_page(&nav::CASES)?;
    let c = load(&st, &auth, &id)?;
    let keys = ch::log_keys(&st.dir, &st.ledger);
    let v = ch::case_json(&c, dates::today(), Some((&st.ledger, &keys)));
    let p = c.persons();
    let f = &c.fields;
    let proofs: Vec<(u64, bool)> = v["evidence_proofs"].as_array().map(|a| a.iter().map(|e| (e["id"].as_u64().unwrap_or(0), e["proof_verified"] == true)).collect()).unwrap_or_default();
    let manage = auth.can(Action::ManageAlerts);
    let post = format!("/ui/cases/{}/act", c.id);
    let body = html! {
        @if let Some(l) = q.ledger { (notice("ok", &format!("{} {l}", auth.t("台帳に記録しました。台帳番号", "Recorded in the ledger, entry")))) }
        (facts(&[
            (auth.t("事案番号", "Case"), html! { span #case-id { (c.id) } }),
            (auth.t("件名", "Title"), html! { (c.title()) }),
            (auth.t("状態", "State"), html! { span #case-state { (auth.t(c.state.label_ja(), c.state.as_str())) } }),
            (auth.t("認知日", "Known since"), html! { (dates::date(c.recognized_on, auth.lang, auth.cal)) }),
            (auth.t("本人の数", "Persons affected"), html! { strong #persons { (p.value.map_or(auth.t("調査中", "unknown").to_owned(), |n| format!("{n}"))) } " " span.muted { (p.basis_ja) } }),
            (auth.t("関係者", "People concerned"), html! { (c.subjects.join("、")) }),
            (auth.t("アラート", "Alerts"), html! { @for a in &c.alerts { a href={"/ui/alerts/" (a)} { "#" (a) } " " } }),
            (auth.t("速報", "Preliminary report"), html! { span #sokuho-due { (v["sokuho"]["message"].as_str().unwrap_or("")) } }),
            (auth.t("確報", "Final report"), html! { span #kakuho-due { (v["kakuho"]["message"].as_str().unwrap_or("")) } }),
        ]))
        p {
            a #ppc-sokuho href={"/ui/cases/" (c.id) "/ppc?kind=sokuho"} { (auth.t("速報の案を見る", "Preliminary report draft")) } " ・ "
            a #ppc-kakuho href={"/ui/cases/" (c.id) "/ppc?kind=kakuho"} { (auth.t("確報の案を見る", "Final report draft")) }
        }
        h2 { (auth.t("証拠イベント", "Evidence")) }
        @if c.evidence.is_empty() { p.muted { (auth.t("まだありません。", "None yet.")) } }
        @else {
            table #evidence {
                thead { tr { th scope="col" { (auth.t("台帳番号", "Ledger id")) } th scope="col" { (auth.t("日時", "Time")) } th scope="col" { (auth.t("内容", "What")) } th scope="col" { (auth.t("件数", "Records")) } th scope="col" { (auth.t("包含証明", "Proof")) } } }
                tbody { @for e in &c.evidence {
                    @let ok = proofs.iter().any(|(i, ok)| *i == e.ledger_id && *ok);
                    tr { td { "#" (e.ledger_id) } td { (e.at.as_deref().map(|t| dates::rfc3339(t, auth.lang, auth.cal)).unwrap_or_default()) } td { (e.summary) @if !e.note.is_empty() { br; span.muted { (e.note) } } } td { (e.records.map(|n| n.to_string()).unwrap_or_default()) } td { (badge(ok, "検証済み", "verified", "検証失敗", "NOT verified", auth.lang)) } }
                } }
            }
        }
        h2 { (auth.t("経過", "Timeline")) }
        ol #timeline { @for t in c.timeline() { li { (dates::rfc3339(&t.at, auth.lang, auth.cal)) " — " @if !t.actor.is_empty() { "(" (t.actor) ") " } (t.text) " " span.muted { "#" (t.ledger_id) } } } }
        h2 { (auth.t("対応", "Actions taken")) }
        @if c.actions.is_empty() { p.muted { (auth.t("まだありません。", "None yet.")) } }
        ul #actions { @for a in &c.actions { li { (dates::date(a.on, auth.lang, auth.cal)) " " (a.text) " (" (a.by) ")" } } }
        @if manage {
            @if c.state == mamori_case::CaseState::Open {
                h2 { (auth.t("対応を記録する", "Record an action")) }
                form.stack method="post" action=(post) #action-form {
                    (csrf_field(&auth)) input type="hidden" name="op" value="record_action";
                    label for="on" { (auth.t("実施日", "Date")) } input #on type="text" placeholder="2026-12-02 / 令和8年12月2日" name="on" value=(dates::today().format("%Y-%m-%d"));
                    label for="text" { (auth.t("内容", "What was done")) } textarea #text name="text" required {}
                    p { button #action-submit type="submit" { (auth.t("記録する", "Record")) } }
                }
                h2 { (auth.t("報告の記載事項", "Facts for the report")) }
                form.stack method="post" action=(post) #edit-form {
                    (csrf_field(&auth)) input type="hidden" name="op" value="edit";
                    (text_row(&auth, "summary", "概要", "Overview", f.summary.as_deref()))
                    label for="data_items" { (auth.t("漏えい等した項目(カンマ区切り)", "Data items (comma-separated)")) }
                    input #data_items name="data_items" value=(f.data_items.clone().unwrap_or_default().join(","));
                    label for="persons" { (auth.t("本人の数(確定した人数)", "Persons (established)")) }
                    input #persons_in name="persons" inputmode="numeric" value=(f.persons.map(|n| n.to_string()).unwrap_or_default());
                    (text_row(&auth, "cause", "原因", "Cause", f.cause.as_deref()))
                    (text_row(&auth, "secondary_harm", "二次被害又はそのおそれ", "Secondary harm", f.secondary_harm.as_deref()))
                    (text_row(&auth, "response_to_persons", "本人への対応の実施状況", "Response to the persons", f.response_to_persons.as_deref()))
                    (text_row(&auth, "publication", "公表の実施状況", "Public announcement", f.publication.as_deref()))
                    (text_row(&auth, "prevention", "再発防止のための措置", "Measures against recurrence", f.prevention.as_deref()))
                    (text_row(&auth, "other", "その他参考となる事項", "Other", f.other.as_deref()))
                    label { input #unlawful type="checkbox" name="unlawful_purpose" value="true" checked[c.unlawful_purpose()]; " " (auth.t("不正の目的のおそれ(確報は60日以内)", "Possibly an unlawful purpose (final report within 60 days)")) }
                    label { input type="checkbox" name="sensitive" value="true" checked[f.sensitive == Some(true)]; " " (auth.t("要配慮個人情報を含む", "Includes sensitive data")) }
                    label { input type="checkbox" name="my_number" value="true" checked[f.my_number == Some(true)]; " " (auth.t("特定個人情報(マイナンバー)を含む", "Includes My Number data")) }
                    p { button #edit-submit type="submit" { (auth.t("更新して台帳に記録する", "Update and record")) } }
                }
                h2 { (auth.t("報告済みの記録・終結", "Report sent, close")) }
                form.stack method="post" action=(post) #reported-form {
                    (csrf_field(&auth)) input type="hidden" name="op" value="reported";
                    label for="kind" { (auth.t("報告", "Report")) }
                    select #kind name="kind" { option value="sokuho" { (auth.t("速報", "preliminary")) } option value="kakuho" { (auth.t("確報", "final")) } }
                    label for="r_on" { (auth.t("報告日", "Sent on")) } input #r_on type="text" placeholder="2026-12-02 / 令和8年12月2日" name="on" value=(dates::today().format("%Y-%m-%d"));
                    label for="note" { (auth.t("受付番号など", "Reception number etc.")) } input #note name="text";
                    p { button type="submit" class="secondary" { (auth.t("報告済みとして記録する", "Record as sent")) } }
                }
                form.stack method="post" action=(post) #close-form {
                    (csrf_field(&auth)) input type="hidden" name="op" value="close";
                    label for="reason" { (auth.t("終結の理由", "Reason for closing")) } input #reason name="text" required;
                    p { button type="submit" class="secondary" { (auth.t("終結する", "Close")) } }
                }
            } @else {
                form.stack method="post" action=(post) #reopen-form {
                    (csrf_field(&auth)) input type="hidden" name="op" value="reopen";
                    label for="reason" { (auth.t("再開の理由", "Reason for reopening")) } input #reason name="text" required;
                    p { button type="submit" class="secondary" { (auth.t("再開する", "Reopen")) } }
                }
            }
        } @else {
            (notice("info", auth.t("事案の変更は情報セキュリティ担当が行います。", "Cases are changed by the security officer.")))
        }
    };
    Ok(layout::page(&auth, ("事案", "Case"), body))
}

/// One form for every case action (`op` says which).
#[derive(Deserialize)]
pub struct ActForm {
    op: String,
    #[serde(default)]
    on: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    data_items: String,
    #[serde(default)]
    persons: String,
    #[serde(default)]
    cause: String,
    #[serde(default)]
    secondary_harm: String,
    #[serde(default)]
    response_to_persons: String,
    #[serde(default)]
    publication: String,
    #[serde(default)]
    prevention: String,
    #[serde(default)]
    other: String,
    #[serde(default)]
    unlawful_purpose: Option<String>,
    #[serde(default)]
    sensitive: Option<String>,
    #[serde(default)]
    my_number: Option<String>,
}

/// `POST /ui/cases/{id}/act`.
pub async fn act(State(st): State<AppState>, Path(id): Path<String>, CsrfForm(auth, f): CsrfForm<ActForm>) -> Result<Response, UiError> {
    auth.require(Action::ManageAlerts)?;
    load(&st, &auth, &id)?;
    let day = |s: &str| if s.trim().is_empty() { Ok(dates::today()) } else { parse_day(&auth, s) };
    let case = id.clone();
    let action = match f.op.as_str() {
        "record_action" => CaseAction::RecordAction { case, on: day(&f.on)?, text: f.text },
        "reported" => CaseAction::Reported {
            case,
            kind: ReportKind::parse(&f.kind).ok_or_else(|| UiError::bad_request(auth.lang, "報告の種類が不正です", "kind: sokuho or kakuho"))?,
            on: day(&f.on)?,
            note: f.text,
        },
        "close" => CaseAction::Close { case, reason: f.text },
        "reopen" => CaseAction::Reopen { case, reason: f.text },
        "edit" => {
            let persons = match f.persons.trim() {
                "" => None,
                s => Some(s.parse::<u64>().map_err(|_| UiError::bad_request(auth.lang, "本人の数は数字で入力してください", "persons must be a number"))?),
            };
            let items: Vec<String> = f.data_items.split([',', '、']).map(|x| x.trim().to_owned()).filter(|x| !x.is_empty()).collect();
            CaseAction::Edit {
                case,
                fields: CaseFields {
                    summary: opt(&f.summary),
                    data_items: (!items.is_empty()).then_some(items),
                    persons,
                    cause: opt(&f.cause),
                    secondary_harm: opt(&f.secondary_harm),
                    response_to_persons: opt(&f.response_to_persons),
                    publication: opt(&f.publication),
                    prevention: opt(&f.prevention),
                    other: opt(&f.other),
                    unlawful_purpose: Some(f.unlawful_purpose.is_some()),
                    sensitive: Some(f.sensitive.is_some()),
                    my_number: Some(f.my_number.is_some()),
                    ..Default::default()
                },
            }
        }
        other => return Err(UiError::bad_request(auth.lang, &format!("操作「{other}」はありません"), "unknown operation")),
    };
    let (lid, _) = ch::submit_case(&st, &auth.name, action).await.map_err(|e| err(&auth, e))?;
    Ok(Redirect::to(&format!("/ui/cases/{id}?ledger={lid}")).into_response())
}
