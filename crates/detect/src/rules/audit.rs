//! The audit trail itself: logs cleared, audit policy or scope changed, sources falling silent.

use serde_json::json;

use super::{Rule, RuleMeta, finding, who};
use crate::alert::{Finding, Severity};
use crate::context::{Context, Subject};
use crate::event::Event;

static CLEARED: RuleMeta = RuleMeta {
    id: "ikeda_logs_cleared",
    title_ja: "ログの消去・監査設定の変更",
    title_en: "logs cleared or audit configuration changed",
    severity: Severity::High,
    consults: "Windows 1102/104, auditd CONFIG_CHANGE, log-clearing commands",
};

/// Ikeda: the remote-control logs were gone, so nobody could tell which documents left.
pub struct LogsCleared;

impl Rule for LogsCleared {
    fn meta(&self) -> &'static RuleMeta {
        &CLEARED
    }

    fn eval(&mut self, ev: &Event<'_>, ctx: &dyn Context, out: &mut Vec<Finding>) {
        let id = ev.win_event_id();
        let provider = ev.str("winlog.provider_name").unwrap_or_default();
        let eventlog = provider.eq_ignore_ascii_case("Microsoft-Windows-Eventlog") || provider.eq_ignore_ascii_case("Eventlog");
        let cmd = ev.str("process.command_line").or_else(|| ev.str("winlog.event_data.CommandLine")).unwrap_or_default().to_lowercase();
        let what = if eventlog && id == Some(1102) {
            Some(("セキュリティログの消去 (1102)", "Security log cleared (1102)"))
        } else if eventlog && id == Some(104) {
            Some(("イベントログの消去 (104)", "event log cleared (104)"))
        } else if (ev.str("auditd.message_type").is_some_and(|t| t.eq_ignore_ascii_case("config_change"))
            || matches!(ev.action().as_str(), "config_change" | "config-change" | "changed-audit-configuration" | "audit-rules-deleted"))
            && (ev.dataset().starts_with("auditd") || ev.get("auditd").is_some())
        {
            Some(("auditd の設定変更", "auditd configuration changed"))
        } else if cmd.contains("wevtutil") && (cmd.contains(" cl ") || cmd.contains(" clear-log")) || cmd.contains("clear-eventlog") || cmd.contains("auditctl -d") {
            Some(("ログ消去コマンドの実行", "log-clearing command run"))
        } else {
            None
        };
        let Some((ja, en)) = what else { return };
        let (mut account, mut subject) = who(ev, ctx);
        if account.is_none()
            && let Some(u) = ev.str("winlog.user_data.SubjectUserName").or_else(|| ev.str("winlog.event_data.SubjectUserName"))
        {
            account = Some(u.to_owned());
            subject = ctx.subject(u, ev.date());
        }
        let host = ev.str("host.name").unwrap_or_default();
        out.push(finding(
            &CLEARED,
            ev,
            subject,
            account.clone(),
            Severity::High,
            format!("{host}: {ja}(操作者 {})", account.as_deref().unwrap_or("不明")),
            format!("{host}: {en} (by {})", account.as_deref().unwrap_or("unknown")),
            vec![],
            json!({"host": host, "event_id": id, "command_line": if cmd.is_empty() { None } else { Some(cmd) }}),
        ));
    }
}

static EXCLUSION: RuleMeta = RuleMeta {
    id: "kamaishi_audit_exclusion",
    title_ja: "監査対象の範囲内の職員による監査設定・監査範囲の変更",
    title_en: "audit policy or audit scope changed by a person inside that scope",
    severity: Severity::High,
    consults: "Windows 4719/4907/4912, mamori audit-scope changes, roster, entitlements, audit-admin departments",
};

/// Kamaishi: A and B arranged for B's work to be excluded from the audit items.
pub struct AuditExclusion;

impl AuditExclusion {
    fn judge(ev: &Event<'_>, ctx: &dyn Context, what: (&str, &str), targets_self: bool, resource: Option<String>, out: &mut Vec<Finding>) {
        let (mut account, mut subject) = who(ev, ctx);
        if account.is_none()
            && let Some(u) = ev.str("winlog.event_data.SubjectUserName")
        {
            account = Some(u.to_owned());
            subject = ctx.subject(u, ev.date());
        }
        let date = ev.date();
        let p = subject.person();
        let admin = p.is_some_and(|p| p.depts.iter().any(|d| ctx.policy().audit_admin_departments.iter().any(|a| d.starts_with(a.as_str()))));
        let in_scope = targets_self
            || resource.as_deref().is_some_and(|r| p.is_some_and(|p| ctx.entitled(p, &p.depts, r, date)))
            || (ev.win_event_id() == Some(4719) && !admin);
        let sev = match (in_scope, admin) {
            (true, _) => Severity::High,
            (false, true) => return,
            (false, false) => Severity::Medium,
        };
        let who_s = p.map_or(account.clone().unwrap_or_else(|| "不明 / unknown".into()), |p| format!("{}({})", p.name, p.staff_id));
        out.push(finding(
            &EXCLUSION,
            ev,
            subject.clone(),
            account.clone(),
            sev,
            format!("{who_s}が {}を行いました{}", what.0, if in_scope { "(本人が対象範囲内)" } else { "" }),
            format!("{who_s}: {}{}", what.1, if in_scope { " (the actor is inside the audited scope)" } else { "" }),
            vec![],
            json!({"in_scope": in_scope, "resource": resource, "targets_self": targets_self, "event_id": ev.win_event_id()}),
        ));
    }
}

impl Rule for AuditExclusion {
    fn meta(&self) -> &'static RuleMeta {
        &EXCLUSION
    }

    fn eval(&mut self, ev: &Event<'_>, ctx: &dyn Context, out: &mut Vec<Finding>) {
        let what = match ev.win_event_id() {
            Some(4719) => ("システム監査ポリシーの変更 (4719)", "system audit policy changed (4719)"),
            Some(4907) => ("オブジェクトの監査設定の変更 (4907)", "auditing settings on an object changed (4907)"),
            Some(4912) => ("ユーザー別監査ポリシーの変更 (4912)", "per-user audit policy changed (4912)"),
            _ => return,
        };
        let actor = ev.str("winlog.event_data.SubjectUserName").or_else(|| ev.str("user.name")).unwrap_or_default().to_lowercase();
        let target = ev.str("winlog.event_data.TargetUserName").unwrap_or_default().to_lowercase();
        let targets_self = !target.is_empty() && target == actor;
        let object = ev.str("winlog.event_data.ObjectName").map(|o| o.replace('\\', "/").to_lowercase());
        let resource = object.and_then(|o| {
            ctx.policy().entitlements.iter().map(|e| e.resource.clone()).find(|r| {
                let name = r.split_once(':').map_or(r.as_str(), |(_, n)| n).trim_end_matches('*').to_lowercase();
                !name.is_empty() && o.contains(&name)
            })
        });
        Self::judge(ev, ctx, what, targets_self, resource, out);
    }

    fn eval_admin(&mut self, ev: &Event<'_>, ctx: &dyn Context, out: &mut Vec<Finding>) {
        if ev.action() != "audit-scope-changed" {
            return;
        }
        let actor = ev.str("user.name").unwrap_or_default();
        let date = ev.date();
        let me = ctx.subject(actor, date);
        let excluded_users = ev.strs("mamori.audit_scope.excluded_users");
        let targets_self = excluded_users.iter().any(|u| {
            u.eq_ignore_ascii_case(actor) || matches!((&me, ctx.subject(u, date)), (Subject::Person(a), Subject::Person(b)) if a.staff_id == b.staff_id)
        });
        let resource = ev.strs("mamori.audit_scope.excluded_resources").first().map(|s| s.to_string());
        Self::judge(ev, ctx, ("mamori の監査範囲の変更", "mamori audit scope changed"), targets_self, resource, out);
    }
}

static GAP: RuleMeta = RuleMeta {
    id: "ikeda_log_gap",
    title_ja: "ログ送信元の途絶",
    title_en: "a log source fell silent",
    severity: Severity::Medium,
    consults: "source-health events (mamori.source_health, source-silent)",
};

/// Ikeda: the logs that would have told which documents left were not there.
pub struct LogGap;

impl Rule for LogGap {
    fn meta(&self) -> &'static RuleMeta {
        &GAP
    }

    fn eval(&mut self, ev: &Event<'_>, _ctx: &dyn Context, out: &mut Vec<Finding>) {
        if ev.dataset() != "mamori.source_health" || ev.action() != "source-silent" {
            return;
        }
        let source = ev
            .str("mamori.source_health.source")
            .or_else(|| ev.str("mamori.source_health.name"))
            .or_else(|| ev.str("observer.name"))
            .or_else(|| ev.str("service.name"))
            .or_else(|| ev.str("host.name"))
            .unwrap_or("?")
            .to_owned();
        let silent = ev.num("mamori.source_health.silent_seconds").or_else(|| ev.num("event.duration").map(|d| d / 1e9));
        let mins = silent.map(|s| format!("{:.0}", s / 60.0)).unwrap_or_else(|| "?".into());
        out.push(finding(
            &GAP,
            ev,
            Subject::Unknown,
            Some(format!("source:{source}")),
            Severity::Medium,
            format!("ログ送信元 {source} から {mins} 分間ログが届いていません"),
            format!("log source {source} has been silent for {mins} minutes"),
            vec![],
            json!({"source": source, "silent_seconds": silent, "last_seen": ev.str("mamori.source_health.last_seen")}),
        ));
    }
}
