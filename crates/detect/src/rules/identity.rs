//! Who the person was that day: retired, transferred, or working at night.

use chrono::Duration;
use mamori_directory::Status;
use serde_json::json;

use super::{Rule, RuleMeta, finding, who};
use crate::alert::{Finding, Severity};
use crate::context::{Context, Subject, resources};
use crate::event::Event;

/// Hiratsuka: activity after retirement, or on an account the directory disabled.
pub struct AfterRetirement;

static RETIRED: RuleMeta = RuleMeta {
    id: "hiratsuka_after_retirement",
    title_ja: "退職後・無効化後のアカウントの操作",
    title_en: "activity after retirement or on a disabled account",
    severity: Severity::High,
    consults: "roster (status on the event's date), directory account state",
};

impl Rule for AfterRetirement {
    fn meta(&self) -> &'static RuleMeta {
        &RETIRED
    }

    fn eval(&mut self, ev: &Event<'_>, ctx: &dyn Context, out: &mut Vec<Finding>) {
        let (account, subject) = who(ev, ctx);
        let Some(acct) = account else { return };
        let date = ev.date();
        let sev = if ev.failed() { Severity::Medium } else { Severity::High };
        if let Subject::Person(p) = &subject
            && p.status == Status::Retired
        {
            let last = p.retired_after.map(|d| d.to_string()).unwrap_or_else(|| "?".into());
            out.push(finding(
                &RETIRED,
                ev,
                subject.clone(),
                Some(acct.clone()),
                sev,
                format!("{}({})は {last} に退職していますが、{date} にアカウント {acct} で操作がありました", p.name, p.staff_id),
                format!("{} ({}) retired on {last}; account {acct} was used on {date}", p.name, p.staff_id),
                vec![],
                json!({"retired_after": p.retired_after, "date": date}),
            ));
            return;
        }
        if ctx.account_disabled(&acct, date) {
            out.push(finding(
                &RETIRED,
                ev,
                subject,
                Some(acct.clone()),
                sev,
                format!("無効化されたアカウント {acct} で {date} に操作がありました"),
                format!("disabled account {acct} was used on {date}"),
                vec![],
                json!({"disabled": true, "date": date}),
            ));
        }
    }
}

/// Kamaishi: access to a system or share that the current department does not justify (staff
/// A kept getting register data after his transfer).
pub struct AfterTransfer;

static TRANSFER: RuleMeta = RuleMeta {
    id: "kamaishi_after_transfer",
    title_ja: "異動後の所属に権限のないアクセス",
    title_en: "access not justified by the current department after a transfer",
    severity: Severity::High,
    consults: "roster (departments on the date and before), entitlements (department → resource)",
};

impl Rule for AfterTransfer {
    fn meta(&self) -> &'static RuleMeta {
        &TRANSFER
    }

    fn eval(&mut self, ev: &Event<'_>, ctx: &dyn Context, out: &mut Vec<Finding>) {
        let (account, subject) = who(ev, ctx);
        let Subject::Person(p) = &subject else { return };
        if !p.status.is_employed() || ev.failed() {
            return;
        }
        let date = ev.date();
        for r in resources(ev) {
            if !ctx.governed(&r) || ctx.entitled(p, &p.depts, &r, date) {
                continue;
            }
            let before = ctx.departments_before(&p.staff_id, date);
            let prior = before.iter().rev().find(|(d, _)| !p.depts.contains(d) && ctx.entitled(p, std::slice::from_ref(d), &r, date));
            let (sev, ja, en) = match prior {
                Some((d, since)) => (
                    Severity::High,
                    format!("{}({})は現在 {} 所属で {r} の権限がありません。権限があったのは異動前の {d}({since}〜)です", p.name, p.staff_id, p.dept_name.as_deref().unwrap_or("?")),
                    format!("{} ({}) is now in {} with no entitlement to {r}; the entitlement belonged to the former department {d} (from {since})", p.name, p.staff_id, p.dept_name.as_deref().unwrap_or("?")),
                ),
                None => (
                    Severity::Medium,
                    format!("{}({})の所属 {} には {r} の権限がありません", p.name, p.staff_id, p.dept_name.as_deref().unwrap_or("?")),
                    format!("the department {} of {} ({}) has no entitlement to {r}", p.dept_name.as_deref().unwrap_or("?"), p.name, p.staff_id),
                ),
            };
            out.push(finding(&TRANSFER, ev, subject.clone(), account.clone(), sev, ja, en, vec![], json!({"resource": r, "former_department": prior.map(|x| &x.0)})));
            return;
        }
    }
}

/// Off-hours and holiday access (Japanese national holidays, 振替休日, 国民の休日, 年末年始).
pub struct OffHours;

static OFF_HOURS: RuleMeta = RuleMeta {
    id: "off_hours_access",
    title_ja: "時間外・休日のアクセス",
    title_en: "off-hours or holiday access",
    severity: Severity::Low,
    consults: "calendar (national holidays, 年末年始, city closed days), office hours, roster",
};

impl Rule for OffHours {
    fn meta(&self) -> &'static RuleMeta {
        &OFF_HOURS
    }

    fn eval(&mut self, ev: &Event<'_>, ctx: &dyn Context, out: &mut Vec<Finding>) {
        let (account, subject) = who(ev, ctx);
        let Subject::Person(p) = &subject else { return };
        if !p.status.is_employed() || ev.failed() {
            return;
        }
        let date = ev.date();
        let t = ev.local.time();
        let oh = &ctx.policy().office_hours;
        let grace = Duration::minutes(i64::from(oh.grace_minutes));
        let start = oh.start.overflowing_sub_signed(grace).0;
        let end = oh.end.overflowing_add_signed(grace).0;
        let outside = if start <= end { t < start || t > end } else { t > end && t < start };
        let why = match ctx.calendar().day_off(date) {
            Some(off) => Some((format!("{}({})", date, off.label()), format!("{date} (day off: {})", off.label()))),
            None if outside => Some((format!("{} {}(勤務時間外)", date, t.format("%H:%M")), format!("{date} {} (outside office hours)", t.format("%H:%M")))),
            None => None,
        };
        let Some((ja, en)) = why else { return };
        let sensitive = ev.bool("mamori.personal_data") == Some(true) || ev.get("mamori.export").is_some() || ev.is_usb();
        let sev = if sensitive { Severity::Medium } else { Severity::Low };
        out.push(finding(
            &OFF_HOURS,
            ev,
            subject.clone(),
            account,
            sev,
            format!("{}({})が {ja} に操作しました", p.name, p.staff_id),
            format!("{} ({}) was active on {en}", p.name, p.staff_id),
            vec![],
            json!({"local_time": ev.local.format("%Y-%m-%dT%H:%M:%S").to_string()}),
        ));
    }
}
