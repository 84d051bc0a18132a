//! Shared folders and cloud shares: handover files, sensitive shares, invitations to outsiders.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Rule, RuleMeta, finding, finding_on, from_state, to_state, who};
use crate::alert::{Finding, Severity};
use crate::context::{Context, Subject, matches_resource, resources};
use crate::event::Event;
use crate::lists::pii_name;

static HANDOVER: RuleMeta = RuleMeta {
    id: "kamaishi_handover_folder",
    title_ja: "年度替わりの全庁共有フォルダ:個人情報の保存・他課の引継ぎファイルの閲覧",
    title_en: "handover season: personal data in all-staff folders, reads of other departments' handover files",
    severity: Severity::Medium,
    consults: "policy (all-staff folders, handover window), roster (reader's and writer's department)",
};

/// Kamaishi: every spring, handover documents sat in a folder readable by all staff; A read
/// them.
#[derive(Default, Serialize, Deserialize)]
pub struct HandoverFolder {
    /// Path in an all-staff folder → department of the person who wrote it.
    writers: BTreeMap<String, String>,
}

impl Rule for HandoverFolder {
    fn meta(&self) -> &'static RuleMeta {
        &HANDOVER
    }

    fn eval(&mut self, ev: &Event<'_>, ctx: &dyn Context, out: &mut Vec<Finding>) {
        let pol = ctx.policy();
        let rs = resources(ev);
        if !rs.iter().any(|r| pol.all_staff.iter().any(|p| matches_resource(p, r))) {
            return;
        }
        let Some(path) = ev.str("file.path") else { return };
        let (account, subject) = who(ev, ctx);
        let Subject::Person(p) = &subject else { return };
        if ev.failed() {
            return;
        }
        let key = format!("{}:{path}", ev.str("mamori.share").unwrap_or_default().to_lowercase());
        let name = ev.str("file.name").unwrap_or(path);
        let personal = ev.bool("mamori.personal_data") == Some(true) || pii_name(name);
        let date = ev.date();
        let window = pol.in_handover_window(date);
        if ev.is_write() {
            if let Some(d) = &p.dept_code {
                self.writers.insert(key, d.clone());
            }
            if personal && window {
                out.push(finding(
                    &HANDOVER,
                    ev,
                    subject.clone(),
                    account,
                    Severity::Medium,
                    format!("{}({})が全職員の読める共有フォルダに個人情報を含むとみられるファイル {path} を置きました", p.name, p.staff_id),
                    format!("{} ({}) put a file that appears to hold personal data, {path}, in a folder all staff can read", p.name, p.staff_id),
                    vec![],
                    json!({"path": path, "kind": "personal_data_written"}),
                ));
            }
            return;
        }
        if !window || !ev.is_read() {
            return;
        }
        // Whose file: the recorded writer's department, else a first path segment naming one.
        let first = path.trim_start_matches('/').split('/').next().unwrap_or_default();
        let mine = |d: &str| p.depts.iter().any(|x| x == d) || p.dept_name.as_deref() == Some(d);
        let owner = self.writers.get(&key).cloned();
        let other = match &owner {
            Some(d) => !mine(d),
            None => false,
        } || (owner.is_none() && !first.is_empty() && first != "引継ぎ" && !mine(first) && is_dept_segment(first));
        if !other {
            return;
        }
        let sev = if personal { Severity::High } else { Severity::Medium };
        out.push(finding(
            &HANDOVER,
            ev,
            subject.clone(),
            account,
            sev,
            format!("{}({}、{})が他課の引継ぎファイル {path} を閲覧しました", p.name, p.staff_id, p.dept_name.as_deref().unwrap_or("?")),
            format!("{} ({}, {}) read another department's handover file {path}", p.name, p.staff_id, p.dept_name.as_deref().unwrap_or("?")),
            vec![],
            json!({"path": path, "owner_department": owner.as_deref().unwrap_or(first), "kind": "other_department_read", "personal_data": personal}),
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

/// A folder name that names a department (…課, …係, …室, …部, …センター).
fn is_dept_segment(s: &str) -> bool {
    ["課", "係", "室", "部", "センター", "局"].iter().any(|suf| s.ends_with(suf))
}

static HR: RuleMeta = RuleMeta {
    id: "hirosaki_hr_share",
    title_ja: "機微な共有フォルダの通常と異なる閲覧者・初めてのデータへのアクセス",
    title_en: "unusual reader of a sensitive share; first access to a dataset",
    severity: Severity::High,
    consults: "policy (sensitive shares, learning period), entitlements, readers seen so far",
};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct ShareHistory {
    first_seen: Option<NaiveDate>,
    readers: BTreeSet<String>,
    /// (職員番号, dataset) pairs seen.
    datasets: BTreeSet<(String, String)>,
}

/// Hirosaki: 70 fields of HR data on ~2,700 staff reached the press from a share ~20 people
/// could read, and nobody could tell who took it. Learns each sensitive share's readers during
/// a learning period; afterwards flags readers never seen before (high when they are not
/// entitled) and a known reader's first access to a dataset (the top folder or file).
#[derive(Default, Serialize, Deserialize)]
pub struct HrShare {
    shares: BTreeMap<String, ShareHistory>,
}

impl Rule for HrShare {
    fn meta(&self) -> &'static RuleMeta {
        &HR
    }

    fn eval(&mut self, ev: &Event<'_>, ctx: &dyn Context, out: &mut Vec<Finding>) {
        let pol = ctx.policy();
        let rs = resources(ev);
        let Some((sens, res)) = pol.sensitive.iter().find_map(|s| rs.iter().find(|r| r.starts_with("share:") && matches_resource(&s.resource, r)).map(|r| (s, r.clone()))) else {
            return;
        };
        if ev.failed() || ev.is_write() || !(ev.is_read() || ev.get("mamori.export").is_some()) {
            return;
        }
        let (account, subject) = who(ev, ctx);
        let Subject::Person(p) = &subject else { return };
        let date = ev.date();
        let path = ev.str("file.path").unwrap_or("/");
        let dataset = path.trim_start_matches('/').split('/').next().unwrap_or_default().to_owned();
        let h = self.shares.entry(res.clone()).or_default();
        let first = *h.first_seen.get_or_insert(date);
        let learning = date < first + Duration::days(i64::from(sens.learning_days));
        let new_reader = h.readers.insert(p.staff_id.clone());
        let new_dataset = !dataset.is_empty() && h.datasets.insert((p.staff_id.clone(), dataset.clone()));
        if learning {
            return;
        }
        let entitled = ctx.entitled(p, &p.depts, &res, date);
        let (sev, ja, en) = if new_reader {
            (
                if entitled { Severity::Medium } else { Severity::High },
                format!("{}({}、{})が {res} を初めて閲覧しました{}", p.name, p.staff_id, p.dept_name.as_deref().unwrap_or("?"), if entitled { "" } else { "(権限なし)" }),
                format!("{} ({}, {}) read {res} for the first time{}", p.name, p.staff_id, p.dept_name.as_deref().unwrap_or("?"), if entitled { "" } else { " (not entitled)" }),
            )
        } else if new_dataset {
            (
                Severity::Low,
                format!("{}({})が {res} のデータ「{dataset}」に初めてアクセスしました", p.name, p.staff_id),
                format!("{} ({}) accessed dataset {dataset:?} on {res} for the first time", p.name, p.staff_id),
            )
        } else {
            return;
        };
        out.push(finding(&HR, ev, subject.clone(), account, sev, ja, en, vec![], json!({"resource": res, "dataset": dataset, "new_reader": new_reader, "entitled": entitled})));
    }

    fn save(&self) -> serde_json::Value {
        to_state(self)
    }

    fn load(&mut self, state: &serde_json::Value) -> Result<(), String> {
        *self = from_state(state)?;
        Ok(())
    }
}

static INVITE: RuleMeta = RuleMeta {
    id: "fukuoka_invite",
    title_ja: "外部への共有招待が期限内に取り消されていない",
    title_en: "cloud-share invitation to an outsider not revoked in time",
    severity: Severity::High,
    consults: "share-invite / share-revoked events, policy (hours allowed before revocation)",
};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Pending {
    event: u64,
    at: DateTime<Utc>,
    day: NaiveDate,
    account: Option<String>,
    subject: Subject,
    recipient: Option<String>,
    target: Option<String>,
    expires: Option<String>,
}

/// Fukuoka Pref.: an invitation to 9,000+ patients' data went to an outsider and was not
/// revoked in time. Keeps external invitations pending until revoked; when events show the
/// time has passed the allowed hours (the latest event time seen, so replay is identical),
/// fires for each still pending.
#[derive(Default, Serialize, Deserialize)]
pub struct InviteNotRevoked {
    pending: BTreeMap<String, Pending>,
    watermark: Option<DateTime<Utc>>,
}

fn invite_key(ev: &Event<'_>) -> String {
    // The webhook mappings write `mamori.sharing.*` (crates/sources/mappings/share-b.toml);
    // `mamori.share.*` objects are accepted too. A link identifies the share when no id is sent.
    if let Some(id) = ev.text("mamori.sharing.id").or_else(|| ev.text("mamori.share.id")).or_else(|| ev.text("mamori.sharing.link")) {
        return id;
    }
    let target = ev.str("url.full").or_else(|| ev.str("mamori.sharing.link")).or_else(|| ev.str("file.path")).unwrap_or_default();
    let rcpt = recipient(ev).unwrap_or_default();
    format!("{target}|{rcpt}")
}

fn recipient(ev: &Event<'_>) -> Option<String> {
    ev.str("mamori.sharing.recipient").or_else(|| ev.str("mamori.share.recipient")).map(str::to_owned).or_else(|| ev.recipients().into_iter().next()).or_else(|| ev.str("destination.user.email").map(str::to_owned))
}

impl Rule for InviteNotRevoked {
    fn meta(&self) -> &'static RuleMeta {
        &INVITE
    }

    fn eval(&mut self, ev: &Event<'_>, ctx: &dyn Context, out: &mut Vec<Finding>) {
        match ev.action().as_str() {
            "share-invite"
                if ev.bool("mamori.sharing.external").or_else(|| ev.bool("mamori.share.external")) == Some(true)
                    && ev.bool("mamori.sharing.revoked").or_else(|| ev.bool("mamori.share.revoked")) != Some(true) => {
                let (account, subject) = who(ev, ctx);
                self.pending.insert(
                    invite_key(ev),
                    Pending {
                        event: ev.id,
                        at: ev.ts,
                        day: ev.date(),
                        account,
                        subject,
                        recipient: recipient(ev),
                        target: ev.str("url.full").or_else(|| ev.str("file.path")).or_else(|| ev.str("file.name")).map(str::to_owned),
                        expires: ev.text("mamori.sharing.expires").or_else(|| ev.text("mamori.share.expires")),
                    },
                );
            }
            "share-revoked" => {
                self.pending.remove(&invite_key(ev));
            }
            _ => {}
        }
        let wm = self.watermark.map_or(ev.ts, |w| w.max(ev.ts));
        self.watermark = Some(wm);
        let allowed = Duration::hours(ctx.policy().invite_revoke_within_hours);
        let late: Vec<String> = self.pending.iter().filter(|(_, p)| wm - p.at > allowed).map(|(k, _)| k.clone()).collect();
        for k in late {
            let p = self.pending.remove(&k).expect("present");
            let hours = allowed.num_hours();
            let rcpt = p.recipient.clone().unwrap_or_else(|| "?".into());
            let target = p.target.clone().unwrap_or_else(|| "?".into());
            let mut f = finding_on(
                &INVITE,
                ev,
                p.day,
                p.subject.clone(),
                p.account.clone(),
                Severity::High,
                format!("外部の {rcpt} への共有招待({target})が {hours} 時間以内に取り消されていません"),
                format!("invitation of outsider {rcpt} to {target} was not revoked within {hours} hours"),
                vec![p.event],
                json!({"recipient": p.recipient, "target": p.target, "expires": p.expires, "invited_at": p.at, "noticed_at": wm}),
            );
            f.ts = p.at;
            out.push(f);
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
