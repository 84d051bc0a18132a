//! Web browsing the city forbids on its network (Ikeda: the director's gambling sites).

use serde_json::json;

use super::{Rule, RuleMeta, finding, who};
use crate::alert::{Finding, Severity};
use crate::context::Context;
use crate::event::Event;
use crate::lists::{web_category, web_category_ja};

static BROWSING: RuleMeta = RuleMeta {
    id: "ikeda_inappropriate_browsing",
    title_ja: "業務外の不適切な Web 閲覧(ギャンブル・アダルト等)",
    title_en: "inappropriate web browsing (gambling, adult, …) on the city's network",
    severity: Severity::Medium,
    consults: "bundled web category list (domains, host-name words) + policy [browsing], office hours, calendar",
};

/// Ikeda: besides the support scam, the proxy log showed the director on gambling sites during
/// working hours. Fires on a proxy / web event (Squid, a web filter's log) whose host is in a
/// category the city forbids: medium when allowed through in office hours on a working day,
/// low outside them or when the proxy refused it (an attempt; the filter worked).
pub struct InappropriateBrowsing;

impl Rule for InappropriateBrowsing {
    fn meta(&self) -> &'static RuleMeta {
        &BROWSING
    }

    fn eval(&mut self, ev: &Event<'_>, ctx: &dyn Context, out: &mut Vec<Finding>) {
        let policy = &ctx.policy().browsing;
        if policy.categories.is_empty() || !(ev.has("category", "web") || ev.get("url").is_some()) {
            return;
        }
        let Some(host) = host_of(ev) else { return };
        let Some((category, matched)) = web_category(&host, &policy.domains) else { return };
        if !policy.categories.iter().any(|c| c.eq_ignore_ascii_case(&category)) {
            return;
        }
        let (account, subject) = who(ev, ctx);
        // Without proxy authentication the log has addresses only: nobody to name.
        if account.as_deref().is_none_or(super::is_system_account) {
            return;
        }
        let date = ev.date();
        let t = ev.local.time();
        let oh = &ctx.policy().office_hours;
        let working = ctx.calendar().day_off(date).is_none() && oh.start <= t && t <= oh.end;
        let denied = ev.failed() || ev.has("type", "denied");
        let sev = if working && !denied { Severity::Medium } else { Severity::Low };
        let who_ja = subject.person().map_or(account.clone().unwrap_or_default(), |p| format!("{}({})", p.name, p.staff_id));
        let url = ev.str("url.full").or_else(|| ev.str("url.original")).unwrap_or(host.as_str()).to_owned();
        let cat_ja = web_category_ja(&category).to_owned();
        let (when_ja, when_en) = if working { ("勤務時間中に", "during working hours") } else { ("", "") };
        let (deny_ja, deny_en) = if denied { ("(プロキシが拒否)", " (refused by the proxy)") } else { ("", "") };
        out.push(finding(
            &BROWSING,
            ev,
            subject.clone(),
            account,
            sev,
            format!("{who_ja}が{when_ja}{cat_ja}のサイトを閲覧しました: {url}{deny_ja}"),
            format!("{who_ja} browsed a {category} site{}: {url}{deny_en}", if working { format!(" {when_en}") } else { String::new() }),
            vec![],
            json!({"category": category, "matched": matched, "host": host, "url": url, "working_hours": working, "denied": denied}),
        ));
    }
}

/// The requested host: `url.domain`, `destination.domain`, else the authority of the URL.
fn host_of(ev: &Event<'_>) -> Option<String> {
    if let Some(d) = ev.str("url.domain").or_else(|| ev.str("destination.domain")) {
        return Some(d.to_lowercase());
    }
    let u = ev.str("url.full").or_else(|| ev.str("url.original"))?;
    let rest = u.split_once("://").map_or(u, |(_, r)| r);
    let auth = rest.split(['/', '?', '#']).next()?;
    let host = auth.rsplit('@').next()?;
    let host = if host.starts_with('[') { host } else { host.split(':').next()? };
    (!host.is_empty()).then(|| host.to_lowercase())
}
