//! Mail and chat: data leaving to private addresses, and data flowing from an entitled person
//! to one who is not.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Rule, RuleMeta, finding, from_state, to_state, who};
use crate::alert::{Finding, Severity};
use crate::context::{Context, Subject, resources};
use crate::event::{Event, mail_domain};
use crate::lists::is_free_mail;

static HOME: RuleMeta = RuleMeta {
    id: "kamaishi_mail_home",
    title_ja: "フリーメール・自宅アドレスへの送信",
    title_en: "mail to a free-mail domain or the sender's home address",
    severity: Severity::High,
    consults: "bundled free-mail list + policy, home addresses known for the sender, internal mail domains",
};

/// Kamaishi: both sent register files to their home PCs by e-mail.
pub struct MailHome;

impl Rule for MailHome {
    fn meta(&self) -> &'static RuleMeta {
        &HOME
    }

    fn eval(&mut self, ev: &Event<'_>, ctx: &dyn Context, out: &mut Vec<Finding>) {
        if !ev.is_message() || ev.is_chat() || ev.str("email.direction") == Some("inbound") {
            return;
        }
        let (account, subject) = who(ev, ctx);
        let home = subject.person().map(|p| ctx.home_addresses(&p.staff_id)).unwrap_or_default();
        let extra = &ctx.policy().free_mail_domains;
        let mut hits = Vec::new();
        for r in ev.recipients() {
            let addr = r.trim_matches(|c| c == '<' || c == '>').to_owned();
            if home.contains(&addr) {
                hits.push((addr, "home"));
            } else if let Some(d) = mail_domain(&addr)
                && is_free_mail(&d, extra)
                && !ctx.is_internal_domain(&d)
            {
                hits.push((addr, "free_mail"));
            }
        }
        if hits.is_empty() {
            return;
        }
        let attachments = ev.attachments();
        let with_att = !attachments.is_empty() || ev.num("email.attachments_count").is_some_and(|n| n > 0.0);
        let to_home = hits.iter().any(|(_, k)| *k == "home");
        let sev = match (with_att || ev.bool("mamori.personal_data") == Some(true), to_home) {
            (true, _) => Severity::High,
            (false, true) => Severity::Medium,
            (false, false) => Severity::Low,
        };
        let who_ja = subject.person().map_or(account.clone().unwrap_or_default(), |p| format!("{}({})", p.name, p.staff_id));
        let list: Vec<&str> = hits.iter().map(|(a, _)| a.as_str()).collect();
        out.push(finding(
            &HOME,
            ev,
            subject.clone(),
            account,
            sev,
            format!("{who_ja}が {} に{}メールを送信しました{}", list.join(", "), if with_att { "添付ファイル付きの" } else { "" }, if to_home { "(本人の自宅アドレス)" } else { "" }),
            format!("{who_ja} sent mail{} to {}{}", if with_att { " with attachments" } else { "" }, list.join(", "), if to_home { " (the sender's home address)" } else { "" }),
            vec![],
            json!({"recipients": list, "home": to_home, "attachments": attachments.iter().filter_map(|(n, _)| *n).collect::<Vec<_>>()}),
        ));
    }
}

static PROXY: RuleMeta = RuleMeta {
    id: "kamaishi_proxy",
    title_ja: "権限者から権限のない職員へのデータの受け渡し",
    title_en: "data passed from an entitled person to a non-entitled one",
    severity: Severity::High,
    consults: "entitlements of sender and recipient on the date, recent exports/reads of governed resources, file names and hashes",
};

/// A governed resource's data that an entitled person took recently.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Taken {
    staff_id: String,
    resource: String,
    at: DateTime<Utc>,
    event: u64,
    name: Option<String>,
    sha256: Option<String>,
}

/// Kamaishi: staff A, moved away from register access, had staff B (who still had it) mail
/// him register data; others mailed him arrears data. Remembers, per person, recent exports
/// and reads of governed resources (with file names and hashes); fires when such a person
/// sends mail or chat with attachments to a colleague not entitled to that resource, or when
/// a non-entitled person touches a file (share, USB) with the same hash or name.
///
/// Bounded: per person the last [`PER_PERSON`] takes (one per resource and file), and an index
/// by file hash and name of at most [`FILES`] entries: when full, entries older than the
/// window go, then the oldest until 90 % of [`FILES`] remain.
#[derive(Default, Serialize, Deserialize)]
pub struct Proxy {
    taken: BTreeMap<String, Vec<Taken>>,
    files: BTreeMap<String, Taken>,
}

/// Takes remembered per person.
pub const PER_PERSON: usize = 20;
/// Files remembered.
pub const FILES: usize = 20_000;

impl Proxy {
    fn remember(&mut self, t: Taken, now: DateTime<Utc>, window: Duration) {
        let v = self.taken.entry(t.staff_id.clone()).or_default();
        // The name first: it differs for almost every pair (the resource rarely does), so most
        // comparisons stop at a length check or the first bytes.
        v.retain(|x| now - x.at <= window && !(x.name == t.name && x.sha256 == t.sha256 && x.resource == t.resource));
        v.push(t.clone());
        if v.len() > PER_PERSON {
            let extra = v.len() - PER_PERSON;
            v.drain(..extra);
        }
        for k in [t.sha256.clone().map(|h| format!("h:{h}")), t.name.clone().map(|n| format!("n:{n}"))].into_iter().flatten() {
            self.files.insert(k, t.clone());
        }
        if self.files.len() > FILES {
            // Pruned in bulk, down to 90 %: one pass per FILES / 10 insertions (pruning one
            // entry per insertion was a scan of all FILES per event once full).
            self.files.retain(|_, x| now - x.at <= window);
            if self.files.len() > FILES * 9 / 10 {
                let mut ats: Vec<DateTime<Utc>> = self.files.values().map(|x| x.at).collect();
                let drop = self.files.len() - FILES * 9 / 10;
                let (_, cutoff, _) = ats.select_nth_unstable(drop - 1);
                let cutoff = *cutoff;
                self.files.retain(|_, x| x.at > cutoff);
            }
        }
    }
}

impl Rule for Proxy {
    fn meta(&self) -> &'static RuleMeta {
        &PROXY
    }

    fn eval(&mut self, ev: &Event<'_>, ctx: &dyn Context, out: &mut Vec<Finding>) {
        let (account, subject) = who(ev, ctx);
        let Subject::Person(p) = &subject else { return };
        let date = ev.date();
        let window = Duration::hours(ctx.policy().proxy_window_hours);
        // 1. An entitled person takes data from a governed resource.
        let governed: Vec<String> = resources(ev).into_iter().filter(|r| r.starts_with("system:") || r.starts_with("share:")).filter(|r| ctx.governed(r)).collect();
        if !governed.is_empty() && !ev.failed() && (ev.get("mamori.export").is_some() || ev.is_read()) {
            let mut took = false;
            for r in &governed {
                if ctx.entitled(p, &p.depts, r, date) {
                    took = true;
                    let t = Taken {
                        staff_id: p.staff_id.clone(),
                        resource: r.clone(),
                        at: ev.ts,
                        event: ev.id,
                        name: ev.str("file.name").map(str::to_owned),
                        sha256: ev.str("file.hash.sha256").map(str::to_owned),
                    };
                    self.remember(t, ev.ts, window);
                }
            }
            if took {
                return;
            }
        }
        // 2. The same person sends it on by mail or chat.
        if ev.is_message() && ev.str("email.direction") != Some("inbound") {
            let Some(mine) = self.taken.get(&p.staff_id).map(|v| v.iter().filter(|t| ev.ts - t.at <= window).cloned().collect::<Vec<_>>()) else { return };
            let atts = ev.attachments();
            if atts.is_empty() && ev.bool("mamori.personal_data") != Some(true) {
                return;
            }
            for rcpt in ev.recipients() {
                let Subject::Person(q) = ctx.subject(&rcpt, date) else { continue };
                if q.staff_id == p.staff_id {
                    continue;
                }
                for t in &mine {
                    if ctx.entitled(&q, &q.depts, &t.resource, date) {
                        continue;
                    }
                    let same_file = atts.iter().any(|(n, h)| (h.is_some() && *h == t.sha256.as_deref()) || (n.is_some() && *n == t.name.as_deref()));
                    let sev = if same_file { Severity::High } else { Severity::Medium };
                    let via = if ev.is_chat() { "チャット / chat" } else { "メール / mail" };
                    out.push(finding(
                        &PROXY,
                        ev,
                        subject.clone(),
                        account.clone(),
                        sev,
                        format!("{}({})が {} から取得したデータを、権限のない {}({}、{})に{}で送りました", p.name, p.staff_id, t.resource, q.name, q.staff_id, q.dept_name.as_deref().unwrap_or("?"), via),
                        format!("{} ({}) passed data taken from {} to {} ({}, {}), who has no entitlement, by {via}", p.name, p.staff_id, t.resource, q.name, q.staff_id, q.dept_name.as_deref().unwrap_or("?")),
                        vec![t.event, ev.id],
                        json!({"resource": t.resource, "recipient": {"staff_id": q.staff_id, "name": q.name, "dept_code": q.dept_code, "dept_name": q.dept_name}, "same_file": same_file, "channel": if ev.is_chat() { "chat" } else { "mail" }}),
                    ));
                    return;
                }
            }
            return;
        }
        // 3. A non-entitled person touches a file an entitled colleague took (share, USB).
        let (name, hash) = (ev.str("file.name"), ev.str("file.hash.sha256"));
        if name.is_none() && hash.is_none() {
            return;
        }
        let found = hash.and_then(|h| self.files.get(&format!("h:{h}"))).or_else(|| if hash.is_none() { name.and_then(|n| self.files.get(&format!("n:{n}"))) } else { None });
        if let Some(t) = found
            && t.staff_id != p.staff_id
            && ev.ts - t.at <= window
            && !ctx.entitled(p, &p.depts, &t.resource, date)
        {
            let via = if ev.is_usb() { "USB" } else { "共有フォルダ / share" };
            out.push(finding(
                &PROXY,
                ev,
                subject.clone(),
                account.clone(),
                Severity::High,
                format!("{} の権限のない {}({})が、{} が取得したファイル {} を{}で扱いました", t.resource, p.name, p.staff_id, t.staff_id, name.unwrap_or("?"), via),
                format!("{} ({}), not entitled to {}, handled file {} that {} took, via {via}", p.name, p.staff_id, t.resource, name.unwrap_or("?"), t.staff_id),
                vec![t.event, ev.id],
                json!({"resource": t.resource, "from_staff_id": t.staff_id, "channel": if ev.is_usb() { "usb" } else { "share" }}),
            ));
        }
    }

    fn save(&self) -> serde_json::Value {
        to_state(self)
    }

    fn load(&mut self, state: &serde_json::Value) -> Result<(), String> {
        *self = from_state(state)?;
        Ok(())
    }
}
