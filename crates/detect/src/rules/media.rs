//! Removable media and takeouts (持出).

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Rule, RuleMeta, finding, from_state, to_state, who};
use crate::alert::{Finding, Severity};
use crate::context::{Channel, Context, Subject, UsbCheck};
use crate::event::{Event, mail_domain};

static USB: RuleMeta = RuleMeta {
    id: "hiratsuka_usb",
    title_ja: "登録されていないUSB機器の使用",
    title_en: "unregistered USB device",
    severity: Severity::High,
    consults: "USB 管理台帳 (registered media, status on the date)",
};

/// Hiratsuka: an ordinary USB stick on a PC without USB restriction.
pub struct UnregisteredUsb;

impl Rule for UnregisteredUsb {
    fn meta(&self) -> &'static RuleMeta {
        &USB
    }

    fn eval(&mut self, ev: &Event<'_>, ctx: &dyn Context, out: &mut Vec<Finding>) {
        if !ev.is_usb() {
            return;
        }
        let vendor = ev.text("mamori.usb.vendor_id").unwrap_or_default();
        let product = ev.text("mamori.usb.product_id").unwrap_or_default();
        let serial = ev.text("mamori.usb.serial").unwrap_or_default();
        if vendor.is_empty() && product.is_empty() {
            return;
        }
        let (account, subject) = who(ev, ctx);
        let date = ev.date();
        let (sev, ja, en) = match ctx.usb(&vendor, &product, &serial, date) {
            UsbCheck::Registered(_) => return,
            UsbCheck::LostOrDisposed(id) => (
                Severity::Critical,
                format!("紛失・廃棄として届け出られた媒体 {id}({vendor}:{product} {serial})が {date} に使われました"),
                format!("medium {id} ({vendor}:{product} {serial}), reported lost or disposed of, was used on {date}"),
            ),
            UsbCheck::Unregistered => (
                Severity::High,
                format!("管理台帳にないUSB機器 {vendor}:{product}(シリアル {serial})が {date} に使われました"),
                format!("USB device {vendor}:{product} (serial {serial:?}) not in the registry was used on {date}"),
            ),
        };
        let host = ev.str("host.name").unwrap_or_default();
        out.push(finding(&USB, ev, subject, account, sev, ja, en, vec![], json!({"vendor_id": vendor, "product_id": product, "serial": serial, "host": host})));
    }
}

/// The takeout channel of an event: a write to removable media, or an external mail with
/// attachments.
pub(crate) fn takeout_channel(ev: &Event<'_>, ctx: &dyn Context) -> Option<Channel> {
    if ev.is_usb() && ev.is_write() && !ev.failed() {
        return Some(Channel::Media);
    }
    if ev.is_message() && !ev.is_chat() && ev.str("email.direction") != Some("inbound") && !ev.attachments().is_empty() {
        let external = ev.recipients().iter().any(|r| mail_domain(r).is_some_and(|d| !ctx.is_internal_domain(&d)));
        if external {
            return Some(Channel::Mail);
        }
    }
    None
}

static TAKEOUT: RuleMeta = RuleMeta {
    id: "kamaishi_takeout_unapproved",
    title_ja: "承認のない持出(媒体への書込み・外部へのメール添付)",
    title_en: "removable-media write or external mail with attachment without an approved takeout",
    severity: Severity::High,
    consults: "takeout requests (持出申請) approved for the person, date and channel; internal mail domains",
};

/// Kamaishi: approval was oral, so nothing on record matched the takeouts.
pub struct TakeoutUnapproved;

impl Rule for TakeoutUnapproved {
    fn meta(&self) -> &'static RuleMeta {
        &TAKEOUT
    }

    fn eval(&mut self, ev: &Event<'_>, ctx: &dyn Context, out: &mut Vec<Finding>) {
        let Some(ch) = takeout_channel(ev, ctx) else { return };
        let (account, subject) = who(ev, ctx);
        let date = ev.date();
        let approved = subject.person().and_then(|p| ctx.approved_takeout(&p.staff_id, date, ch, ev));
        if approved.is_some() {
            return;
        }
        let who_ja = subject.person().map_or(account.clone().unwrap_or_default(), |p| format!("{}({})", p.name, p.staff_id));
        let (cja, cen) = match ch {
            Channel::Media => ("外部媒体への書込み", "a removable-media write"),
            Channel::Mail => ("外部への添付ファイル付きメール", "an external mail with attachments"),
            Channel::Other => ("持出", "a takeout"),
        };
        let claimed = ev.str("mamori.takeout.request_id");
        out.push(finding(
            &TAKEOUT,
            ev,
            subject.clone(),
            account,
            Severity::High,
            format!("{who_ja}の {date} の{cja}に、承認済みの持出申請がありません{}", claimed.map(|c| format!("(申請番号 {c} は承認を確認できません)")).unwrap_or_default()),
            format!("{who_ja}: {cen} on {date} without an approved takeout request{}", claimed.map(|c| format!(" (request {c} is not approved)")).unwrap_or_default()),
            vec![],
            json!({"channel": ch, "claimed_request": claimed, "file": ev.str("file.name")}),
        ));
    }
}

static REPEATED: RuleMeta = RuleMeta {
    id: "kamaishi_repeated",
    title_ja: "同じ職員による繰り返しの持出",
    title_en: "repeated takeouts by one person over months or years",
    severity: Severity::High,
    consults: "takeout history per person (media writes, external mail with attachments), approvals",
};

/// Kamaishi: 21 takeouts over seven years.
#[derive(Default, Serialize, Deserialize)]
pub struct Repeated {
    /// Per 職員番号: takeout days with the first event id of each day and whether approved.
    days: BTreeMap<String, BTreeMap<NaiveDate, (u64, bool)>>,
}

impl Rule for Repeated {
    fn meta(&self) -> &'static RuleMeta {
        &REPEATED
    }

    fn eval(&mut self, ev: &Event<'_>, ctx: &dyn Context, out: &mut Vec<Finding>) {
        let Some(ch) = takeout_channel(ev, ctx) else { return };
        let (account, subject) = who(ev, ctx);
        let Subject::Person(p) = &subject else { return };
        let date = ev.date();
        let approved = ctx.approved_takeout(&p.staff_id, date, ch, ev).is_some();
        let pol = ctx.policy();
        let m = self.days.entry(p.staff_id.clone()).or_default();
        let new_day = !m.contains_key(&date);
        m.entry(date).or_insert((ev.id, approved));
        let since = date - Duration::days(pol.repeated_window_days);
        *m = m.split_off(&since);
        let n = m.len();
        if !new_day || n < pol.repeated_threshold {
            return;
        }
        let unapproved = m.values().filter(|(_, a)| !a).count();
        let months: std::collections::BTreeSet<String> = m.keys().map(|d| d.format("%Y-%m").to_string()).collect();
        let first = *m.keys().next().expect("non-empty");
        let sev = if unapproved > 0 { Severity::High } else { Severity::Medium };
        let evidence: Vec<u64> = m.values().map(|(id, _)| *id).rev().take(50).collect::<Vec<_>>().into_iter().rev().collect();
        out.push(finding(
            &REPEATED,
            ev,
            subject.clone(),
            account,
            sev,
            format!("{}({})は {first} 以降 {n} 日({} か月)にわたり持出をしています(うち承認なし {unapproved} 日)", p.name, p.staff_id, months.len()),
            format!("{} ({}) took data out on {n} days across {} months since {first} ({unapproved} without approval)", p.name, p.staff_id, months.len()),
            evidence,
            json!({"days": n, "months": months.len(), "unapproved_days": unapproved, "since": first}),
        ));
    }

    fn save(&self) -> serde_json::Value {
        to_state(self)
    }

    fn load(&mut self, state: &serde_json::Value) -> Result<(), String> {
        *self = from_state(state)?;
        Ok(())
    }
}
