//! Bulk export far above the person's and their peers' baselines.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Rule, RuleMeta, finding, from_state, to_state, who};
use crate::alert::{Finding, Severity};
use crate::baseline::Baseline;
use crate::context::{Context, Subject};
use crate::event::Event;

static BULK: RuleMeta = RuleMeta {
    id: "kamaishi_bulk_export",
    title_ja: "通常を大きく超える件数のデータ出力",
    title_en: "bulk export far above the person's and peer group's baseline",
    severity: Severity::High,
    consults: "roster (department = peer group on each day), per-person and per-department daily export history",
};

/// One person-day of exports.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Day {
    dept: Option<String>,
    records: f64,
    bytes: f64,
}

/// Kamaishi / Hiratsuka: one export of 19,600 or 31,429 records where a normal day has tens.
/// Measures `mamori.export.records` (and `mamori.export.bytes` / `file.size`) per person and
/// local day; compares the day's running total with the person's own history and with the
/// pooled history of everyone in the same department (robust: median + k·MAD).
#[derive(Default, Serialize, Deserialize)]
pub struct BulkExport {
    days: BTreeMap<String, BTreeMap<NaiveDate, Day>>,
}

impl BulkExport {
    fn history(&self, staff: &str, before: NaiveDate, since: NaiveDate, f: impl Fn(&Day) -> f64) -> Vec<f64> {
        self.days.get(staff).map(|m| m.range(since..before).map(|(_, d)| f(d)).filter(|v| *v > 0.0).collect()).unwrap_or_default()
    }

    fn peers(&self, dept: &str, me: &str, before: NaiveDate, since: NaiveDate, f: impl Fn(&Day) -> f64) -> Vec<f64> {
        let mut out = Vec::new();
        for (staff, m) in &self.days {
            if staff == me {
                continue;
            }
            out.extend(m.range(since..before).filter(|(_, d)| d.dept.as_deref() == Some(dept)).map(|(_, d)| f(d)).filter(|v| *v > 0.0));
        }
        out
    }
}

impl Rule for BulkExport {
    fn meta(&self) -> &'static RuleMeta {
        &BULK
    }

    fn eval(&mut self, ev: &Event<'_>, ctx: &dyn Context, out: &mut Vec<Finding>) {
        let records = ev.num("mamori.export.records");
        let bytes = ev.num("mamori.export.bytes").or_else(|| ev.get("mamori.export").and(ev.num("file.size")));
        if records.is_none() && bytes.is_none() {
            return;
        }
        let (account, subject) = who(ev, ctx);
        let Subject::Person(p) = &subject else { return };
        let date = ev.date();
        let pol = &ctx.policy().bulk;
        let since = date - Duration::days(pol.history_days);
        let day = self.days.entry(p.staff_id.clone()).or_default().entry(date).or_default();
        day.dept = p.dept_code.clone();
        day.records += records.unwrap_or(0.0);
        day.bytes += bytes.unwrap_or(0.0);
        let (today_r, today_b) = (day.records, day.bytes);
        // Forget history beyond the window.
        if let Some(m) = self.days.get_mut(&p.staff_id) {
            *m = m.split_off(&since);
        }
        type Series = (&'static str, f64, f64, fn(&Day) -> f64);
        let series: [Series; 2] =
            [("records", today_r, pol.min_records, |d| d.records), ("bytes", today_b, pol.min_records * 10_000.0, |d| d.bytes)];
        for (name, today, min, f) in series {
            if today < min {
                continue;
            }
            let own = Baseline::of(&self.history(&p.staff_id, date, since, f), pol.min_history_days);
            let peer = p.dept_code.as_deref().and_then(|d| Baseline::of(&self.peers(d, &p.staff_id, date, since, f), pol.min_history_days));
            let above = |b: &Option<Baseline>| b.as_ref().is_none_or(|b| today > b.threshold(pol.k));
            let fire = match (&own, &peer) {
                (None, None) => today >= if name == "records" { pol.ceiling } else { pol.ceiling * 10_000.0 },
                _ => above(&own) && above(&peer),
            };
            if !fire {
                continue;
            }
            let fmt = |b: &Option<Baseline>| b.map_or("なし / none".to_owned(), |b| format!("{:.0}", b.median));
            let sev = if today >= pol.ceiling * if name == "records" { 1.0 } else { 10_000.0 } { Severity::Critical } else { Severity::High };
            out.push(finding(
                &BULK,
                ev,
                subject.clone(),
                account.clone(),
                sev,
                format!("{}({})が {date} に {today:.0} {} を出力しました(本人の通常: {}、同じ所属の通常: {})", p.name, p.staff_id, if name == "records" { "件" } else { "バイト" }, fmt(&own), fmt(&peer)),
                format!("{} ({}) exported {today:.0} {name} on {date} (own median {}, peer median {})", p.name, p.staff_id, fmt(&own), fmt(&peer)),
                vec![],
                json!({"metric": name, "today": today, "own_median": own.map(|b| b.median), "own_days": own.map(|b| b.days), "peer_median": peer.map(|b| b.median), "peer_days": peer.map(|b| b.days), "system": ev.str("mamori.export.system")}),
            ));
            return;
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
