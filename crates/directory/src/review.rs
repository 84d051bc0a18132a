//! The access review (アクセス権の棚卸し) as of a date, and the reviewer's sign-off.
//!
//! Findings ([`FindingKind`]), each with a stable id (`kind:account[:resource]`) that the
//! sign-off's comments refer to:
//! - **leaver_access** — a retired person's account still enabled in LDAP, or still holding
//!   grants (Hiratsuka: the leaver's account worked the day after retirement);
//! - **unjustified_grant** — an employed person's grant that no entitlement of their current
//!   所属 (main or 兼務, or a parent) justifies; when a previous 所属 was entitled, it says
//!   so (Kamaishi: staff A moved and kept register access);
//! - **dormant_account** — enabled, last logon more than `dormant_days` before the date;
//! - **shared_account** — listed in the roster for several people at once;
//! - **generic_account** — a generic name (`admin`, `guest`, `kyotsu`…) enabled or holding grants;
//! - **unknown_account** — enabled or holding grants, and nobody's;
//! - **wide_access** — a resource held by at least `wide_percent` % of the employed staff (and
//!   at least `wide_min_holders` people) that is not an everyone-resource (Kamaishi: 300 of
//!   ~600 staff had register access), with the per-department breakdown.
//!
//! The review is a pure function of the directory and the date; [`SignOff`] ties a sign-off
//! to the exact findings by their SHA-256 and is refused when the findings changed or a
//! comment names a finding that is not there.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::access::Access;
use crate::book::is_generic_account;
use crate::directory::{Directory, PersonState, Resolution, Status};

/// Thresholds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewParams {
    /// Days without logon that make an enabled account dormant.
    pub dormant_days: i64,
    /// Share of employed staff (percent) holding a resource that makes it wide.
    pub wide_percent: u32,
    /// Fewest holders for a wide-access finding.
    pub wide_min_holders: usize,
}

impl Default for ReviewParams {
    fn default() -> Self {
        ReviewParams { dormant_days: 90, wide_percent: 30, wide_min_holders: 5 }
    }
}

/// What a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// 退職者のアカウント・権限.
    LeaverAccess,
    /// 所属に根拠のない権限.
    UnjustifiedGrant,
    /// 休眠アカウント.
    DormantAccount,
    /// 共用アカウント.
    SharedAccount,
    /// 汎用アカウント.
    GenericAccount,
    /// 所有者不明のアカウント.
    UnknownAccount,
    /// 広すぎる権限.
    WideAccess,
}

impl FindingKind {
    /// The id prefix.
    pub fn key(self) -> &'static str {
        match self {
            FindingKind::LeaverAccess => "leaver_access",
            FindingKind::UnjustifiedGrant => "unjustified_grant",
            FindingKind::DormantAccount => "dormant_account",
            FindingKind::SharedAccount => "shared_account",
            FindingKind::GenericAccount => "generic_account",
            FindingKind::UnknownAccount => "unknown_account",
            FindingKind::WideAccess => "wide_access",
        }
    }

    /// Japanese / English label.
    pub fn label(self) -> &'static str {
        match self {
            FindingKind::LeaverAccess => "退職者のアカウント・権限 / leaver's account or access",
            FindingKind::UnjustifiedGrant => "所属に根拠のない権限 / access not justified by department",
            FindingKind::DormantAccount => "休眠アカウント / dormant account",
            FindingKind::SharedAccount => "共用アカウント / shared account",
            FindingKind::GenericAccount => "汎用アカウント / generic account",
            FindingKind::UnknownAccount => "所有者不明のアカウント / account of nobody known",
            FindingKind::WideAccess => "広すぎる権限 / unusually wide access",
        }
    }
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable id (`kind:account[:resource]`).
    pub id: String,
    /// What.
    pub kind: FindingKind,
    /// The account, if about one.
    pub account: Option<String>,
    /// 職員番号.
    pub staff_id: Option<String>,
    /// 氏名.
    pub name: Option<String>,
    /// 所属 (name and code).
    pub department: Option<String>,
    /// The resource, if about one.
    pub resource: Option<String>,
    /// For unjustified grants: the earlier 所属 that was entitled (kept after a transfer).
    pub transferred_from: Option<String>,
    /// For wide access: holders and employed staff.
    pub holders: Option<(usize, usize)>,
    /// For wide access: per department, (所属, holders, staff, entitled).
    pub by_department: Vec<(String, usize, usize, bool)>,
    /// Japanese first, then English.
    pub message: String,
}

/// The review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessReview {
    /// The date.
    pub as_of: NaiveDate,
    /// Thresholds used.
    pub params: ReviewParams,
    /// Employed staff on the date.
    pub employed: usize,
    /// Accounts looked at (LDAP and grants).
    pub accounts: usize,
    /// Findings, by kind then id.
    pub findings: Vec<Finding>,
    /// SHA-256 (hex) of the findings' JSON: what a sign-off signs.
    pub findings_sha256: String,
}

/// A reviewer's sign-off, ledgered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignOff {
    /// The review date.
    pub as_of: NaiveDate,
    /// Thresholds of the review signed.
    pub params: ReviewParams,
    /// The reviewer (氏名 or 職員番号 as written).
    pub reviewer: String,
    /// Signed on.
    pub signed_on: NaiveDate,
    /// The findings signed ([`AccessReview::findings_sha256`]).
    pub findings_sha256: String,
    /// Finding id → comment (対応方針).
    pub comments: BTreeMap<String, String>,
    /// Overall comment.
    #[serde(default)]
    pub summary: String,
}

fn dept_label(p: &PersonState) -> Option<String> {
    p.post
        .as_ref()
        .or(p.last_post.as_ref())
        .map(|p| format!("{}({})", p.dept_name, p.dept_code))
}

impl Directory {
    /// The access review as of `as_of` (module doc).
    pub fn review_access(&self, as_of: NaiveDate, params: &ReviewParams) -> AccessReview {
        let mut findings: Vec<Finding> = Vec::new();
        let snap = self.ldap_at(as_of);
        let seen = self.accounts_seen(as_of);
        let base = |kind: FindingKind, account: &str, resource: Option<&str>| Finding {
            id: match resource {
                Some(r) => format!("{}:{account}:{r}", kind.key()),
                None => format!("{}:{account}", kind.key()),
            },
            kind,
            account: Some(account.to_owned()),
            staff_id: None,
            name: None,
            department: None,
            resource: resource.map(str::to_owned),
            transferred_from: None,
            holders: None,
            by_department: Vec::new(),
            message: String::new(),
        };
        // resource → holders (職員番号)
        let mut holders: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let people: Vec<PersonState> = self.people_at(crate::directory::View { date: as_of, known: crate::directory::KnownAt::Latest });
        let employed: Vec<&PersonState> = people.iter().filter(|p| p.status.is_employed()).collect();
        for account in seen.keys() {
            let ldap = snap.and_then(|s| s.account(account));
            let enabled = ldap.map(|a| a.enabled);
            let grants = self.grants_of(account, as_of);
            // Group and everyone grants need the directory account; a disabled account cannot
            // use them. Direct grants in a system (its own login) can be used regardless.
            let active = enabled == Some(true) || grants.iter().any(|g| g.via_group.is_none());
            let resolution = self.resolve_account(account, as_of);
            if is_generic_account(account) && active {
                let mut f = base(FindingKind::GenericAccount, account, None);
                f.message = format!(
                    "汎用アカウント {account} が有効です(権限 {} 件)/ generic account {account} is active ({} grants)",
                    grants.len(),
                    grants.len()
                );
                findings.push(f);
            }
            match &resolution {
                Resolution::Unknown(_) => {
                    if active && !is_generic_account(account) {
                        let mut f = base(FindingKind::UnknownAccount, account, None);
                        f.message = format!(
                            "アカウント {account} は名簿の誰のものでもありません / account {account} belongs to nobody in the roster"
                        );
                        findings.push(f);
                    }
                    continue;
                }
                Resolution::Shared(ps) => {
                    if active {
                        let mut f = base(FindingKind::SharedAccount, account, None);
                        let names: Vec<String> = ps.iter().map(|p| format!("{}({})", p.name, p.staff_id)).collect();
                        f.message = format!(
                            "共用アカウント {account}: {} / account {account} is used by {} people",
                            names.join("、"),
                            ps.len()
                        );
                        findings.push(f);
                    }
                    continue;
                }
                Resolution::Person(_) => {}
            }
            let Resolution::Person(p) = resolution else { continue };
            if self.is_shared_account(account) && active {
                let mut f = base(FindingKind::SharedAccount, account, None);
                f.staff_id = Some(p.staff_id.clone());
                f.message = format!("アカウント {account} は複数の職員に登録されています / account {account} is listed for several people");
                findings.push(f);
            }
            if p.status == Status::Retired || p.status == Status::BeforeEmployment {
                if active {
                    let mut f = base(FindingKind::LeaverAccess, account, None);
                    f.staff_id = Some(p.staff_id.clone());
                    f.name = Some(p.name.clone());
                    f.department = dept_label(&p);
                    let last = p.period.as_ref().and_then(|q| q.end).map(|d| d.to_string()).unwrap_or_else(|| "-".into());
                    let res: Vec<&str> = grants.iter().map(|g| g.resource.as_str()).collect();
                    f.message = format!(
                        "{} ({}) は {} に退職済みですが、アカウント {account} が{}、権限 {} 件が残っています [{}] / retired on {last}; account {}, {} grants remain",
                        p.name,
                        p.staff_id,
                        last,
                        if enabled == Some(true) { "有効" } else { "LDAP上無効または不明" },
                        grants.len(),
                        res.join(", "),
                        if enabled == Some(true) { "still enabled" } else { "not enabled in LDAP" },
                        grants.len()
                    );
                    findings.push(f);
                }
                continue;
            }
            // Employed or on leave.
            let depts: Vec<String> = p.dept_codes().into_iter().map(str::to_owned).collect();
            let mut seen_res = BTreeSet::new();
            for g in &grants {
                holders.entry(g.resource.clone()).or_default().insert(p.staff_id.clone());
                if !seen_res.insert((g.resource.clone(), g.access)) {
                    continue;
                }
                if depts.iter().any(|d| self.entitled_for(d, &g.resource, g.access, as_of)) {
                    continue;
                }
                let mut f = base(FindingKind::UnjustifiedGrant, account, Some(&g.resource));
                f.staff_id = Some(p.staff_id.clone());
                f.name = Some(p.name.clone());
                f.department = dept_label(&p);
                f.transferred_from = self
                    .history(&p.staff_id, crate::directory::KnownAt::Latest)
                    .iter()
                    .filter(|r| r.effective <= as_of && !r.dept_code.is_empty() && !depts.contains(&r.dept_code))
                    .filter(|r| self.entitled_for(&r.dept_code, &g.resource, g.access, r.effective.max(as_of)) || self.entitled_for(&r.dept_code, &g.resource, g.access, r.effective))
                    .map(|r| format!("{}({})", r.dept_name, r.dept_code))
                    .next_back();
                f.message = match &f.transferred_from {
                    Some(prev) => format!(
                        "{} ({}) は {} 所属ですが、異動前の所属 {prev} の権限 {}({}) が残っています / kept {} access from the previous department {prev}",
                        p.name, p.staff_id, f.department.clone().unwrap_or_default(), g.resource, g.access.label(), g.resource
                    ),
                    None => format!(
                        "{} ({}) の所属 {} には {}({}) の権限の根拠がありません / {} not entitled for the department",
                        p.name, p.staff_id, f.department.clone().unwrap_or_default(), g.resource, g.access.label(), g.resource
                    ),
                };
                // One finding per (account, resource).
                if !findings.iter().any(|x| x.id == f.id) {
                    findings.push(f);
                }
            }
            if let Some(a) = ldap
                && a.enabled
                && let Some(last) = a.last_logon
            {
                let days = (as_of - last.date_naive()).num_days();
                if days > params.dormant_days {
                    let mut f = base(FindingKind::DormantAccount, account, None);
                    f.staff_id = Some(p.staff_id.clone());
                    f.name = Some(p.name.clone());
                    f.department = dept_label(&p);
                    f.message = format!(
                        "アカウント {account} は {} 日ログオンしていません(最終 {})/ no logon for {days} days",
                        days,
                        last.date_naive()
                    );
                    findings.push(f);
                }
            }
        }
        // Wide access.
        let total = employed.len();
        let set = self.entitlement_set();
        for (resource, who) in &holders {
            if set.is_some_and(|s| s.everyone.iter().any(|p| match p.strip_suffix('*') {
                Some(x) => resource.starts_with(&x.to_lowercase()),
                None => *resource == p.to_lowercase(),
            })) {
                continue;
            }
            let n = who.len();
            if total == 0 || n < params.wide_min_holders || (n * 100) < (params.wide_percent as usize) * total {
                continue;
            }
            let mut by_dept: BTreeMap<String, (String, usize, usize)> = BTreeMap::new();
            for p in &employed {
                if let Some(post) = &p.post {
                    let e = by_dept.entry(post.dept_code.clone()).or_insert((post.dept_name.clone(), 0, 0));
                    e.2 += 1;
                    if who.contains(&p.staff_id) {
                        e.1 += 1;
                    }
                }
            }
            let by_department: Vec<(String, usize, usize, bool)> = by_dept
                .into_iter()
                .filter(|(_, (_, h, _))| *h > 0)
                .map(|(code, (name, h, s))| {
                    let ent = self.entitled_for(&code, resource, Access::Read, as_of);
                    (format!("{name}({code})"), h, s, ent)
                })
                .collect();
            let depts = by_department.len();
            let not_entitled = by_department.iter().filter(|d| !d.3).count();
            findings.push(Finding {
                id: format!("{}:{resource}", FindingKind::WideAccess.key()),
                kind: FindingKind::WideAccess,
                account: None,
                staff_id: None,
                name: None,
                department: None,
                resource: Some(resource.clone()),
                transferred_from: None,
                holders: Some((n, total)),
                by_department,
                message: format!(
                    "{resource} の権限を職員 {total} 人中 {n} 人({}%)、{depts} 所属(うち根拠なし {not_entitled} 所属)が持っています / {n} of {total} staff ({}%) in {depts} departments ({not_entitled} not entitled) hold {resource}",
                    n * 100 / total,
                    n * 100 / total
                ),
            });
        }
        findings.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
        findings.dedup_by(|a, b| a.id == b.id);
        let digest = hex::encode(Sha256::digest(serde_json::to_vec(&findings).expect("serializable")));
        AccessReview {
            as_of,
            params: *params,
            employed: total,
            accounts: seen.len(),
            findings,
            findings_sha256: digest,
        }
    }

    pub(crate) fn check_signoff(&self, s: &SignOff) -> Result<(), String> {
        if s.reviewer.trim().is_empty() {
            return Err("確認者が空欄です / the reviewer is empty".into());
        }
        let review = self.review_access(s.as_of, &s.params);
        if review.findings_sha256 != s.findings_sha256 {
            return Err("指摘事項が確認時から変わっています。棚卸しをやり直してください / the findings changed since the review was generated; review again".into());
        }
        for id in s.comments.keys() {
            if !review.findings.iter().any(|f| &f.id == id) {
                return Err(format!("コメントの指摘 {id} はこの棚卸しにありません / comment for unknown finding {id}"));
            }
        }
        Ok(())
    }
}

impl AccessReview {
    /// CSV (UTF-8 with BOM, for Excel): one finding per row.
    pub fn to_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record(["指摘ID", "種別", "アカウント", "職員番号", "氏名", "所属", "資源", "内容"]);
        for f in &self.findings {
            let _ = w.write_record([
                f.id.as_str(),
                f.kind.label(),
                f.account.as_deref().unwrap_or(""),
                f.staff_id.as_deref().unwrap_or(""),
                f.name.as_deref().unwrap_or(""),
                f.department.as_deref().unwrap_or(""),
                f.resource.as_deref().unwrap_or(""),
                &f.message,
            ]);
        }
        let body = String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default();
        format!("\u{FEFF}{body}")
    }
}

/// Reads sign-off comments: a CSV (UTF-8 or CP932) with a header naming the finding column
/// (`指摘ID` or `finding`) and the comment column (`コメント` or `comment`). Errors name the row.
pub fn parse_comments(bytes: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let (_, file) = crate::roster::open_csv(bytes);
    let Ok(mut file) = file else {
        return Err("コメントファイルを CSV として読めません / cannot read the comments file as CSV".into());
    };
    let names = crate::roster::header_names(&file.header);
    let pos = |alts: &[&str]| names.iter().position(|n| alts.iter().any(|a| n.eq_ignore_ascii_case(a)));
    let (Some(fi), Some(ci)) = (pos(&["指摘ID", "finding", "id"]), pos(&["コメント", "comment"])) else {
        return Err("1行目: 見出しに「指摘ID」と「コメント」が必要です / row 1: header needs 指摘ID (finding) and コメント (comment)".into());
    };
    let mut out = BTreeMap::new();
    for (i, rec) in file.records.by_ref().enumerate() {
        let row = i + 2;
        let rec = rec.map_err(|e| format!("{row}行目: CSV として読めません / row {row}: not CSV ({e})"))?;
        let id = crate::roster::trim(rec.get(fi).unwrap_or("")).to_owned();
        if id.is_empty() {
            continue;
        }
        let c = crate::roster::trim(rec.get(ci).unwrap_or("")).to_owned();
        if out.insert(id.clone(), c).is_some() {
            return Err(format!("{row}行目「指摘ID」: {id} が重複しています / row {row}: duplicate finding {id}"));
        }
    }
    Ok(out)
}
