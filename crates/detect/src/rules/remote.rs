//! Remote-control tools and support-scam pages (Ikeda).

use serde_json::json;

use super::{Rule, RuleMeta, finding, who};
use crate::alert::{Finding, Severity};
use crate::context::Context;
use crate::event::Event;
use crate::lists::{percent_decode, remote_tool, scam_pattern};

static REMOTE: RuleMeta = RuleMeta {
    id: "ikeda_remote_tool",
    title_ja: "遠隔操作ツールの導入・実行/サポート詐欺ページの閲覧",
    title_en: "remote-control tool installed or run; support-scam page browsed",
    severity: Severity::High,
    consults: "bundled lists of remote-control tools and scam URL patterns",
};

/// Fields that name a program: process start (4688, Sysmon 1, auditd execve), installs
/// (MsiInstaller 11707/1033), services (7045), file writes of an installer.
const PROGRAM_FIELDS: &[&str] = &[
    "process.name",
    "process.executable",
    "process.command_line",
    "winlog.event_data.NewProcessName",
    "winlog.event_data.Image",
    "winlog.event_data.TargetImage",
    "winlog.event_data.SourceImage",
    "winlog.event_data.CommandLine",
    "winlog.event_data.ServiceName",
    "winlog.event_data.ImagePath",
    "winlog.event_data.Product",
    "package.name",
    "service.name",
];

/// Ikeda: on a fake virus warning's instructions the director installed remote-control
/// software; the attacker browsed and copied documents for 38 minutes.
pub struct RemoteTool;

impl Rule for RemoteTool {
    fn meta(&self) -> &'static RuleMeta {
        &REMOTE
    }

    fn eval(&mut self, ev: &Event<'_>, ctx: &dyn Context, out: &mut Vec<Finding>) {
        let mut tool = None;
        for f in PROGRAM_FIELDS {
            if let Some(v) = ev.str(f)
                && let Some(t) = remote_tool(&v.to_lowercase())
            {
                tool = Some((t, *f, v));
                break;
            }
        }
        if tool.is_none() && (ev.win_event_id() == Some(11707) || ev.win_event_id() == Some(1033)) {
            let msg = ev.str("message").unwrap_or_default().to_lowercase();
            let data = ev.get("winlog.event_data").map(|d| d.to_string().to_lowercase()).unwrap_or_default();
            if let Some(t) = remote_tool(&msg).or_else(|| remote_tool(&data)) {
                tool = Some((t, "winlog.event_data", ""));
            }
        }
        if tool.is_none()
            && (ev.is_write() || ev.has("category", "package"))
            && let Some(n) = ev.str("file.name").filter(|n| n.to_lowercase().ends_with(".exe") || n.to_lowercase().ends_with(".msi"))
            && let Some(t) = remote_tool(&n.to_lowercase())
        {
            tool = Some((t, "file.name", n));
        }
        let (account, subject) = who(ev, ctx);
        let host = ev.str("host.name").unwrap_or_default();
        if let Some((t, field, value)) = tool {
            out.push(finding(
                &REMOTE,
                ev,
                subject,
                account,
                Severity::High,
                format!("{host} で遠隔操作ツール {t} の導入または実行がありました({field}: {value})"),
                format!("remote-control tool {t} installed or run on {host} ({field}: {value})"),
                vec![],
                json!({"tool": t, "field": field, "value": value, "host": host}),
            ));
            return;
        }
        let url = ev.str("url.full").or_else(|| ev.str("url.original")).map(|u| percent_decode(u).to_lowercase());
        if let Some(u) = url
            && let Some(p) = scam_pattern(&u)
        {
            out.push(finding(
                &REMOTE,
                ev,
                subject,
                account,
                Severity::Medium,
                format!("サポート詐欺の疑いのあるページの閲覧: {u}(一致: {p})"),
                format!("browsed a suspected support-scam page: {u} (matched {p:?})"),
                vec![],
                json!({"url": u, "pattern": p, "host": host}),
            ));
        }
    }
}
