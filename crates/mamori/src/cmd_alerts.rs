//! Alerts: `mamori alerts` (list), `mamori alert show|triage|close ID`, and
//! `mamori alerts --hunt --rules DIR [--from --to]` (retro-hunt over the store with the municipal
//! rules and the Sigma rules of DIR). Officer actions are ledgered: through the server's API
//! with `--server/--token`, or locally (server stopped) as an admin entry applied at once.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use mamori_detect::{Alert, AlertAction, AlertState};
use mamori_server::DataDir;
use mamori_server::detection;
use std::path::PathBuf;

use crate::DataArg;

/// `mamori alerts`.
#[derive(Args)]
pub struct AlertsArgs {
    #[command(flatten)]
    d: DataArg,
    /// Only alerts in this state: new, triaged, closed.
    #[arg(long)]
    state: Option<String>,
    /// Only alerts of this rule id.
    #[arg(long)]
    rule: Option<String>,
    /// At most this many (newest first).
    #[arg(long, default_value_t = 100)]
    limit: u32,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Retro-hunt over the store instead of listing stored alerts: evaluate every indexed
    /// event with the municipal rules and the Sigma rules in --rules.
    #[arg(long, requires = "rules")]
    hunt: bool,
    /// Rules directory for --hunt (Sigma *.yml; municipal.toml overrides the ledgered policy).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// --hunt: events from (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    from: Option<String>,
    /// --hunt: events to (RFC 3339 or YYYY-MM-DD, inclusive).
    #[arg(long)]
    to: Option<String>,
}

/// `mamori alert …`.
#[derive(Subcommand)]
pub enum AlertCmd {
    /// Show one alert with its evidence.
    Show {
        #[command(flatten)]
        d: DataArg,
        id: u64,
        #[arg(long)]
        json: bool,
    },
    /// Take an alert up (new → triaged).
    Triage(ActionArgs),
    /// Close an alert with a reason.
    Close(ActionArgs),
}

/// Arguments of triage/close.
#[derive(Args)]
pub struct ActionArgs {
    #[command(flatten)]
    d: DataArg,
    /// Alert id.
    id: u64,
    /// Why (required; kept in the ledger).
    #[arg(long)]
    reason: String,
    /// Assignee (triage).
    #[arg(long)]
    assignee: Option<String>,
    /// Server URL: act through the API (else locally, with the server stopped).
    #[arg(long)]
    server: Option<String>,
    /// API token for --server (an officer's).
    #[arg(long, env = "MAMORI_TOKEN")]
    token: Option<String>,
}

/// `--from`/`--to`: RFC 3339, or a date (a JST day: its start, or its end with `end`).
pub(crate) fn parse_time(s: &str, end: bool) -> Result<chrono::DateTime<chrono::Utc>> {
    if let Some(t) = mamori_event::parse_ts(s) {
        return Ok(t);
    }
    let d = mamori_directory::parse_date(s).map_err(|e| anyhow::anyhow!("{s:?}: {e}"))?;
    // A date is a JST day.
    let t = if end { d.and_hms_opt(23, 59, 59).unwrap() } else { d.and_hms_opt(0, 0, 0).unwrap() };
    Ok((t - chrono::Duration::hours(9)).and_utc())
}

/// One line per alert for officers (Japanese first).
pub fn line(a: &Alert) -> String {
    let who = match &a.person {
        Some(p) => format!("{}({}、{})", p.name, p.staff_id, p.dept_name.clone().unwrap_or_default()),
        None => a.account.clone().unwrap_or_else(|| "不明 / unknown".into()),
    };
    format!(
        "#{} [{} / {}] {} / {} — {} {} 件数 {} {} / {}",
        a.id,
        a.severity.label_ja(),
        a.severity.as_str(),
        a.title_ja,
        a.title_en,
        who,
        a.first_ts.format("%Y-%m-%d %H:%M UTC"),
        a.count,
        a.state.label_ja(),
        a.state.as_str()
    )
}

/// `mamori alerts`.
pub fn run_alerts(a: AlertsArgs) -> Result<()> {
    let dir = DataDir::new(&a.d.data);
    let alerts = if a.hunt {
        let rules = a.rules.clone().expect("clap requires --rules");
        let from = a.from.as_deref().map(|s| parse_time(s, false)).transpose()?;
        let to = a.to.as_deref().map(|s| parse_time(s, true)).transpose()?;
        let (alerts, n) = detection::hunt_store(&dir, &rules, from, to).context("retro-hunt over the store")?;
        eprintln!("{n} 件のイベントを調べ、{} 件のアラート / evaluated {n} events, {} alerts", alerts.len(), alerts.len());
        alerts
    } else {
        let state = a.state.as_deref().map(|s| AlertState::parse(s).with_context(|| format!("--state {s:?}: new, triaged or closed"))).transpose()?;
        let path = detection::alerts_path(&dir);
        if !path.exists() {
            bail!("アラートはまだありません(サーバーが検知を実行していません) / no alerts yet: {} does not exist", path.display());
        }
        let db = detection::open_db(&path)?;
        detection::list_alerts(&db, state, a.rule.as_deref(), a.limit)?
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({"alerts": alerts}))?);
    } else if alerts.is_empty() {
        println!("アラートはありません / no alerts");
    } else {
        for x in &alerts {
            println!("{}", line(x));
        }
    }
    Ok(())
}

/// `mamori alert …`.
pub fn run_alert(c: AlertCmd) -> Result<()> {
    match c {
        AlertCmd::Show { d, id, json } => {
            let dir = DataDir::new(&d.data);
            let db = detection::open_db(&detection::alerts_path(&dir))?;
            let Some(a) = detection::get_alert(&db, id)? else { bail!("アラート {id} はありません / no alert {id}") };
            if json {
                println!("{}", serde_json::to_string_pretty(&a)?);
            } else {
                println!("{}", line(&a));
                println!("{}\n{}", a.summary_ja, a.summary_en);
                println!("証拠イベント / evidence: {:?}", a.evidence);
                for h in &a.history {
                    println!("  {} {} {:?}", h.at, h.actor, h.action);
                }
            }
            Ok(())
        }
        AlertCmd::Triage(a) => act(a, false),
        AlertCmd::Close(a) => act(a, true),
    }
}

fn act(a: ActionArgs, close: bool) -> Result<()> {
    let action = if close {
        AlertAction::Close { alert: a.id, reason: a.reason.clone() }
    } else {
        AlertAction::Triage { alert: a.id, reason: a.reason.clone(), assignee: a.assignee.clone() }
    };
    if let Some(url) = &a.server {
        let token = a.token.as_deref().context("--server needs --token (or MAMORI_TOKEN)")?;
        let op = if close { "close" } else { "triage" };
        let body = serde_json::json!({"reason": a.reason, "assignee": a.assignee});
        let r = reqwest::blocking::Client::new()
            .post(format!("{}/api/v1/alerts/{}/{op}", url.trim_end_matches('/'), a.id))
            .bearer_auth(token)
            .json(&body)
            .send()
            .context("sending to the server")?;
        let status = r.status();
        let v: serde_json::Value = r.json().unwrap_or_default();
        if !status.is_success() {
            bail!("{} {}", v.pointer("/error/message").and_then(|m| m.as_str()).unwrap_or(""), v.pointer("/error/message_en").and_then(|m| m.as_str()).unwrap_or(status.as_str()));
        }
        let alert: Alert = serde_json::from_value(v["alert"].clone()).context("server answer")?;
        println!("{}", line(&alert));
        return Ok(());
    }
    let dir = DataDir::new(&a.d.data);
    let db = detection::open_db(&detection::alerts_path(&dir))?;
    let Some(cur) = detection::get_alert(&db, a.id)? else { bail!("アラート {} はありません / no alert {}", a.id, a.id) };
    action.next_state(cur.state).map_err(anyhow::Error::msg)?;
    drop(db);
    let opened = dir.open().context("opening the data directory (stop the server, or use --server)")?;
    let actor = std::env::var("USER").map(|u| format!("cli:{u}")).unwrap_or_else(|_| "cli".into());
    let r = opened.ledger.append_blocking(vec![mamori_ledger::NewEntry { kind: mamori_ledger::EntryKind::Admin, payload: detection::action_payload(&actor, &action) }])?;
    dir.index_now(&opened.ledger)?;
    // Apply it now: the detector catches up with the ledger (it would at the next start).
    let det = detection::Detection::start(&dir, &opened.ledger)?;
    det.wait_for(r.first_index, std::time::Duration::from_secs(10));
    let after = det.get(a.id)?.context("alert vanished")?;
    drop(det);
    opened.ledger.close();
    println!("{}", line(&after));
    println!("台帳に記録しました / ledgered as #{}", r.first_index);
    Ok(())
}
