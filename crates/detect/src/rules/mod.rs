//! The municipal rule pack: one struct per rule, each implementing [`Rule`]. Every rule has a
//! doc page `docs/rules/<id>.md` and a regression test named after its incident in
//! `crates/detect/tests/`.

use chrono::NaiveDate;
use serde_json::Value;

use crate::alert::{Finding, Severity};
use crate::context::{Context, Subject};
use crate::event::Event;

mod audit;
mod export;
mod identity;
mod mail;
mod media;
mod remote;
mod shares;
mod web;

pub use audit::{AuditExclusion, LogGap, LogsCleared};
pub use export::BulkExport;
pub use identity::{AfterRetirement, AfterTransfer, OffHours};
pub use mail::{MailHome, Proxy};
pub use media::{Repeated, TakeoutUnapproved, UnregisteredUsb};
pub use remote::RemoteTool;
pub use shares::{HandoverFolder, HrShare, InviteNotRevoked};
pub use web::InappropriateBrowsing;

/// What a rule is, for listings, alerts and docs.
#[derive(Debug)]
pub struct RuleMeta {
    /// Stable id (`hiratsuka_after_retirement`).
    pub id: &'static str,
    /// Title, Japanese.
    pub title_ja: &'static str,
    /// Title, English.
    pub title_en: &'static str,
    /// Default severity.
    pub severity: Severity,
    /// What the rule consults.
    pub consults: &'static str,
}

/// A municipal rule. Rules see events in ledger order; stateful rules keep what they need
/// between events and can save and restore it (so a restarted server continues identically).
pub trait Rule: Send {
    /// Its description.
    fn meta(&self) -> &'static RuleMeta;
    /// Evaluates one event.
    fn eval(&mut self, ev: &Event<'_>, ctx: &dyn Context, out: &mut Vec<Finding>);
    /// Evaluates one ledgered admin record (most rules ignore them).
    fn eval_admin(&mut self, _ev: &Event<'_>, _ctx: &dyn Context, _out: &mut Vec<Finding>) {}
    /// The rule's state, for a snapshot.
    fn save(&self) -> Value {
        Value::Null
    }
    /// Restores a snapshot made by [`Rule::save`].
    fn load(&mut self, _state: &Value) -> Result<(), String> {
        Ok(())
    }
}

/// Every rule of the pack, in a fixed order (alert ids depend on it).
pub fn all() -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(AfterRetirement),
        Box::new(AfterTransfer),
        Box::new(BulkExport::default()),
        Box::new(Proxy::default()),
        Box::new(UnregisteredUsb),
        Box::new(TakeoutUnapproved),
        Box::new(MailHome),
        Box::new(RemoteTool),
        Box::new(LogsCleared),
        Box::new(AuditExclusion),
        Box::new(HandoverFolder::default()),
        Box::new(Repeated::default()),
        Box::new(OffHours),
        Box::new(HrShare::default()),
        Box::new(LogGap),
        Box::new(InviteNotRevoked::default()),
        Box::new(InappropriateBrowsing),
    ]
}

/// Accounts that are not people (Windows well-known principals, machine accounts).
pub(crate) fn is_system_account(a: &str) -> bool {
    let u = a.rsplit('\\').next().unwrap_or(a).to_lowercase();
    u.ends_with('$')
        || matches!(u.as_str(), "system" | "local service" | "network service" | "anonymous logon" | "-" | "root" | "nobody" | "daemon")
        || u.starts_with("dwm-")
        || u.starts_with("umfd-")
}

/// The acting account and who it was on the event's date.
pub(crate) fn who(ev: &Event<'_>, ctx: &dyn Context) -> (Option<String>, Subject) {
    match ev.actor() {
        Some(a) if !is_system_account(&a) => {
            let s = ctx.subject(&a, ev.date());
            (Some(a), s)
        }
        Some(a) => (Some(a), Subject::Unknown),
        None => (None, Subject::Unknown),
    }
}

/// A finding for `ev` with the rule's titles.
#[allow(clippy::too_many_arguments)]
pub(crate) fn finding(
    meta: &RuleMeta,
    ev: &Event<'_>,
    subject: Subject,
    account: Option<String>,
    severity: Severity,
    ja: String,
    en: String,
    evidence: Vec<u64>,
    details: Value,
) -> Finding {
    finding_on(meta, ev, ev.date(), subject, account, severity, ja, en, evidence, details)
}

/// Like [`finding`], grouped on another day (for findings about an earlier event).
#[allow(clippy::too_many_arguments)]
pub(crate) fn finding_on(
    meta: &RuleMeta,
    ev: &Event<'_>,
    day: NaiveDate,
    subject: Subject,
    account: Option<String>,
    severity: Severity,
    ja: String,
    en: String,
    mut evidence: Vec<u64>,
    details: Value,
) -> Finding {
    if evidence.is_empty() {
        evidence.push(ev.id);
    }
    Finding {
        rule_id: meta.id.to_owned(),
        severity,
        title_ja: meta.title_ja.to_owned(),
        title_en: meta.title_en.to_owned(),
        subject,
        account,
        ts: ev.ts,
        day,
        evidence,
        summary_ja: ja,
        summary_en: en,
        details,
    }
}

/// Serialises a rule's state.
pub(crate) fn to_state<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

/// Restores a rule's state (Null = fresh).
pub(crate) fn from_state<T: serde::de::DeserializeOwned + Default>(v: &Value) -> Result<T, String> {
    if v.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(v.clone()).map_err(|e| e.to_string())
}
