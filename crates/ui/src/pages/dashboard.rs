//! ダッシュボード: open alerts by severity with the 14-day trend, events per day per
//! department, source health with silent sources, the ledger and its latest checkpoint with
//! the witnesses that cosigned it. Each section is shown only to roles that may read it.

use std::collections::BTreeMap;

use axum::extract::State;
use chrono::{Duration, NaiveDate, Utc};
use maud::{Markup, html};
use mamori_auth::Action;
use mamori_detect::{AlertState, Severity};
use mamori_server::AppState;
use serde_json::Value;

use crate::charts::{Series, stacked_bars};
use crate::dates::{self, jst};
use crate::layout::{self, badge, facts};
use crate::{Auth, UiError, nav};

/// Days shown in the charts.
pub const DAYS: i64 = 14;
/// At most this many events are counted for the department chart.
pub const MAX_COUNTED: usize = 20_000;

const SEVERITIES: [Severity; 4] = [Severity::Critical, Severity::High, Severity::Medium, Severity::Low];

fn day_labels(today: NaiveDate, auth: &Auth) -> (Vec<NaiveDate>, Vec<String>) {
    let days: Vec<NaiveDate> = (0..DAYS).rev().map(|i| today - Duration::days(i)).collect();
    let labels = days.iter().map(|d| if auth.lang == crate::Lang::Ja { format!("{}/{}", d.format("%-m"), d.format("%-d")) } else { d.format("%m-%d").to_string() }).collect();
    (days, labels)
}

/// Severity label in the page's language.
pub fn severity_label(s: Severity, auth: &Auth) -> &'static str {
    match auth.lang {
        crate::Lang::Ja => s.label_ja(),
        crate::Lang::En => s.as_str(),
    }
}

fn alerts_section(st: &AppState, auth: &Auth, today: NaiveDate) -> Result<Markup, UiError> {
    let alerts = st.detection.list(None, None, 5000).map_err(|e| UiError::internal(auth.lang, e))?;
    let mut open: BTreeMap<Severity, u64> = BTreeMap::new();
    for a in alerts.iter().filter(|a| a.state != AlertState::Closed) {
        *open.entry(a.severity).or_default() += 1;
    }
    let (days, labels) = day_labels(today, auth);
    let series: Vec<Series> = SEVERITIES
        .iter()
        .map(|s| Series {
            label: severity_label(*s, auth).to_owned(),
            values: days.iter().map(|d| alerts.iter().filter(|a| a.severity == *s && a.first_ts.with_timezone(&jst()).date_naive() == *d).count() as u64).collect(),
        })
        .collect();
    Ok(html! {
        section aria-labelledby="h-alerts" {
            h2 #h-alerts { (auth.t("未完了のアラート(重要度別)", "Open alerts by severity")) }
            div.grid {
                @for s in SEVERITIES {
                    div.card { div class={"sev sev-" (s.as_str())} { (severity_label(s, auth)) } div.big data-severity=(s.as_str()) { (open.get(&s).copied().unwrap_or(0)) } }
                }
            }
            p { a href="/ui/alerts" { (auth.t("アラート一覧へ", "All alerts")) } }
            (stacked_bars(auth.t("アラートの推移(検知日別・14日間)", "Alert trend (by day first seen, 14 days)"), &labels, &series))
        }
    })
}

fn department_of(dir: &mamori_directory::Directory, account: &str, day: NaiveDate) -> Option<String> {
    match dir.resolve_account(account, day) {
        mamori_directory::Resolution::Person(state) => state.post.as_ref().or(state.last_post.as_ref()).map(|p| p.dept_name.clone()),
        _ => None,
    }
}

fn events_section(st: &AppState, auth: &Auth, today: NaiveDate) -> Result<Markup, UiError> {
    let (days, labels) = day_labels(today, auth);
    let from = days[0].and_hms_opt(0, 0, 0).expect("midnight").and_local_timezone(jst()).single().expect("jst").with_timezone(&Utc);
    let mut q = mamori_store::Query { kind: Some("event".into()), from: Some(mamori_event::format_ts(from)), limit: Some(1000), ..Default::default() };
    let store = st.reader.lock().unwrap();
    let dir = mamori_server::datadir::directory_from(&store).map_err(|e| UiError::internal(auth.lang, e))?;
    let unknown = auth.t("(所属不明)", "(unknown department)").to_owned();
    let mut counts: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut counted = 0usize;
    loop {
        let page = store.search(&q).map_err(|e| UiError::internal(auth.lang, e))?;
        for h in &page.events {
            let t = chrono::DateTime::<Utc>::from_timestamp_micros(h.timestamp_micros).unwrap_or_default();
            let day = t.with_timezone(&jst()).date_naive();
            let Some(i) = days.iter().position(|d| *d == day) else { continue };
            let account = h.doc.pointer("/user/name").and_then(Value::as_str).unwrap_or("");
            let dept = if account.is_empty() { None } else { department_of(&dir, account, day) };
            counts.entry(dept.unwrap_or_else(|| unknown.clone())).or_insert_with(|| vec![0; days.len()])[i] += 1;
            counted += 1;
        }
        match page.next_cursor {
            Some(c) if counted < MAX_COUNTED => q.cursor = Some(c),
            _ => break,
        }
    }
    drop(store);
    // The eight largest departments, the rest together.
    let mut rows: Vec<(String, Vec<u64>)> = counts.into_iter().collect();
    rows.sort_by_key(|(_, v)| std::cmp::Reverse(v.iter().sum::<u64>()));
    let mut series: Vec<Series> = rows.iter().take(7).map(|(k, v)| Series { label: k.clone(), values: v.clone() }).collect();
    if rows.len() > 7 {
        let mut other = vec![0; days.len()];
        for (_, v) in &rows[7..] {
            for (o, x) in other.iter_mut().zip(v) {
                *o += x;
            }
        }
        series.push(Series { label: auth.t("その他", "others").to_owned(), values: other });
    }
    Ok(html! {
        section aria-labelledby="h-events" {
            h2 #h-events { (auth.t("部署別・日別のイベント数(14日間)", "Events per day per department (14 days)")) }
            @if counted >= MAX_COUNTED { p.muted { (auth.t("件数が多いため最初の20,000件のみ集計しています。", "Only the first 20,000 events are counted.")) } }
            (stacked_bars(auth.t("部署別イベント数", "Events by department"), &labels, &series))
        }
    })
}

fn sources_section(st: &AppState, auth: &Auth) -> Markup {
    let snap = st.health.snapshot(Utc::now().timestamp_micros());
    let sources = snap["sources"].as_array().cloned().unwrap_or_default();
    let silent = sources.iter().filter(|s| s["status"] == "silent").count();
    html! {
        section aria-labelledby="h-sources" {
            h2 #h-sources { (auth.t("取込元の状態", "Source health")) }
            @if silent > 0 {
                p.notice.warn role="status" #silent-count { (auth.t("途絶している取込元: ", "Silent sources: ")) strong { (silent) } }
            } @else {
                p.notice.ok role="status" #silent-count { (auth.t("途絶している取込元はありません。", "No source is silent.")) }
            }
            @if sources.is_empty() { p.muted { (auth.t("まだ取込元がありません。", "No sources yet.")) } }
            @else {
                table {
                    thead { tr { th scope="col" { (auth.t("取込元", "Source")) } th scope="col" { (auth.t("状態", "Status")) } th scope="col" { (auth.t("最終受信", "Last seen")) } th.num scope="col" { (auth.t("件数", "Events")) } th.num scope="col" { (auth.t("毎時", "Per hour")) } } }
                    tbody {
                        @for s in &sources {
                            @let status = s["status"].as_str().unwrap_or("");
                            tr {
                                td { (s["source"].as_str().unwrap_or("")) }
                                td class=[(status == "silent").then_some("silent")] { (match (status, auth.lang) { ("silent", crate::Lang::Ja) => "途絶", ("learning", crate::Lang::Ja) => "学習中", ("ok", crate::Lang::Ja) => "正常", (s, _) => s }) }
                                td { (dates::rfc3339(s["last_seen"].as_str().unwrap_or(""), auth.lang, auth.cal)) }
                                td.num { (s["events"]) }
                                td.num { (format!("{:.1}", s["rate_per_hour"].as_f64().unwrap_or(0.0))) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The current checkpoint and which configured witnesses cosigned it.
pub fn ledger_section(st: &AppState, auth: &Auth) -> Markup {
    let cp = st.ledger.checkpoint();
    let durable = st.ledger.durable_size();
    let stats = st.reader.lock().unwrap().stats().ok();
    let indexed = stats.as_ref().and_then(|s| s.indexed_upto).map_or(0, |i| i + 1);
    let wkeys: Vec<String> = st.cfg.witnesses.iter().map(|w| w.vkey.clone()).collect();
    let mut keys = vec![st.ledger.vkey().to_owned()];
    keys.extend(st.dir.previous_vkeys().unwrap_or_default());
    let verified = mamori_ledger::SignedCheckpoint::verify_with_keys(&cp.note, &keys, &wkeys);
    let (sig_ok, cosigned) = match &verified {
        Ok((_, w)) => (true, w.clone()),
        Err(_) => (false, Vec::new()),
    };
    let note = String::from_utf8_lossy(&cp.note).into_owned();
    let witnessed = mamori_server::witness_client::latest_witnessed(st);
    html! {
        section aria-labelledby="h-ledger" {
            h2 #h-ledger { (auth.t("台帳の状態", "Ledger status")) }
            (facts(&[
                (auth.t("台帳の件数(確定済み)", "Durable entries"), html! { (durable) }),
                (auth.t("署名済みチェックポイントの件数", "Entries in the signed checkpoint"), html! { span #cp-size { (cp.size) } }),
                (auth.t("索引済み", "Indexed"), html! { (indexed) " " @if durable > indexed { span.muted { "(" (auth.t("遅延", "lag")) " " (durable - indexed) ")" } } }),
                (auth.t("チェックポイントの署名", "Checkpoint signature"), badge(sig_ok, "署名を検証済み", "signature verified", "署名を検証できません", "signature does not verify", auth.lang)),
                (auth.t("証人の連署", "Witness cosignatures"), html! {
                    @if wkeys.is_empty() { span.muted { (auth.t("証人は設定されていません", "no witness configured")) } }
                    @else if cosigned.is_empty() { span.badge.ng { (auth.t("最新のチェックポイントには連署がありません", "the latest checkpoint has no cosignature yet")) } }
                    @else { span.badge.ok { "✔ " (cosigned.len()) " / " (wkeys.len()) " " (auth.t("の証人が連署", "witnesses cosigned")) } }
                }),
            ]))
            @if !wkeys.is_empty() {
                h3 #h-witnessed { (auth.t("最新の証人連署付きチェックポイント", "Latest witnessed checkpoint")) }
                @match &witnessed {
                    None => { p.muted #witnessed data-size="none" { (auth.t("証人が連署したチェックポイントはまだありません。", "No checkpoint has been cosigned by a witness yet.")) } }
                    Some(w) => {
                        div #witnessed data-size=(w.size) data-behind=(w.behind) {
                            (facts(&[
                                (auth.t("件数(ツリーのサイズ)", "Entries (tree size)"), html! { span #witnessed-size { (w.size) } }),
                                (auth.t("連署の日時", "Cosigned at"), html! { @for (i, s) in w.witnesses.iter().enumerate() { @if i > 0 { br; } (s.time.as_deref().map(|t| dates::rfc3339(t, auth.lang, auth.cal)).unwrap_or_else(|| "—".into())) } }),
                                (auth.t("連署した証人", "Witnesses"), html! { span #witnessed-by { @for (i, s) in w.witnesses.iter().enumerate() { @if i > 0 { ", " } code { (s.name) } } } }),
                                (auth.t("現在のチェックポイントとの差", "Behind the current checkpoint"), html! {
                                    @if w.behind == 0 { span.badge.ok #witnessed-behind { "✔ " (auth.t("最新のチェックポイントまで連署済み", "the current checkpoint is cosigned")) } }
                                    @else { span.badge.ng #witnessed-behind { (w.behind) (auth.t(" 件がまだ連署されていません", " entries not cosigned yet")) } }
                                }),
                                (auth.t("現在の台帳との整合", "Current tree extends it"), badge(w.consistent, "一貫性証明を検証済み", "consistency proof verified", "一貫性証明を検証できません", "consistency proof does not verify", auth.lang)),
                            ]))
                        }
                    }
                }
            }
            details { summary { (auth.t("最新のチェックポイント(署名付きノート)", "Latest checkpoint (signed note)")) } pre { (note) } }
        }
    }
}

/// The last day of the charts: today, or the day of the newest event when there was none in
/// the last 14 days (an archive, or the demo city whose activity ended months ago).
fn chart_end(st: &AppState, today: NaiveDate) -> NaiveDate {
    let q = mamori_store::Query { kind: Some("event".into()), to: Some(mamori_event::format_ts(Utc::now())), limit: Some(1), ..Default::default() };
    let newest = st.reader.lock().unwrap().search(&q).ok().and_then(|p| p.events.into_iter().next());
    match newest.and_then(|h| chrono::DateTime::<Utc>::from_timestamp_micros(h.timestamp_micros)) {
        Some(t) => {
            let d = t.with_timezone(&jst()).date_naive();
            if d < today - Duration::days(DAYS - 1) { d } else { today }
        }
        None => today,
    }
}

/// `GET /ui/`.
pub async fn page(State(st): State<AppState>, auth: Auth) -> Result<Markup, UiError> {
    auth.require_page(&nav::DASHBOARD)?;
    let today = dates::today();
    let st2 = st.clone();
    let a2 = auth.clone();
    let body = tokio::task::spawn_blocking(move || -> Result<Markup, UiError> {
        let (st, auth) = (st2, a2);
        let end = chart_end(&st, today);
        let alerts = if auth.can(Action::ReadAlerts) { Some(alerts_section(&st, &auth, end)?) } else { None };
        let events = if auth.can(Action::ReadTimeline) { Some(events_section(&st, &auth, end)?) } else { None };
        Ok(html! {
            p.muted { (auth.t("本日: ", "Today: ")) (dates::date(today, auth.lang, auth.cal)) }
            @if end != today {
                p.notice.info #chart-end { (auth.t("直近14日間にイベントがないため、グラフは最新のイベントの日まで(", "No events in the last 14 days: the charts end on the latest event's day (")) (dates::date(end, auth.lang, auth.cal)) (auth.t(")を表示しています。", ").")) }
            }
            @if let Some(a) = alerts { (a) }
            (sources_section(&st, &auth))
            (ledger_section(&st, &auth))
            @if let Some(e) = events { (e) }
        })
    })
    .await
    .map_err(|e| UiError::internal(auth.lang, e))??;
    Ok(layout::page(&auth, ("ダッシュボード", "Dashboard"), body))
}
