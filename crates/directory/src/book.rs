//! Everything in the directory besides the roster: LDAP/AD sync snapshots, access grants,
//! entitlements, takeout requests, vendor contracts and access-review sign-offs — applied as
//! ledgered [`DirectoryRecord`]s (each naming who did it) by [`Directory::apply_record`].
//!
//! Like roster imports, records are applied in ledger order; the same records in the same
//! order give an equal directory (that is how a restart rebuilds it). The caller checks a
//! record against the directory before ledgering it ([`Directory::check_record`], every rule);
//! replay ([`Directory::replay_record`]) re-checks structure only, so a later change of a rule
//! cannot make the ledger unreplayable.
//!
//! Accounts → person ([`Directory::resolve_account`]): the roster's accounts first; then an
//! LDAP account whose 職員番号 attribute (employeeNumber / employeeID) names a person in the
//! roster. Generic names (`admin`, `guest`, `kyotsu`…, [`is_generic_account`]) are flagged
//! whatever they resolve to; accounts seen in LDAP or grants that resolve to nobody are listed
//! by [`Directory::unknown_accounts`], never dropped.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::access::{Access, EntitlementSet, GrantSnapshot, Principal, department_chain};
use crate::directory::{Directory, KnownAt, Resolution, UnknownReason};
use crate::ldap::{LdapSnapshot, SnapshotDiff, diff_snapshots};
use crate::review::SignOff;
use crate::takeout::{Takeout, TakeoutAction, TakeoutError};
use crate::vendor::{Vendor, VendorAction, VendorError};

/// Version of the [`DirectoryRecord`] JSON shape.
pub const RECORD_FORMAT: u32 = 1;

/// One ledgered change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryRecord {
    /// [`RECORD_FORMAT`].
    pub format: u32,
    /// Unique id.
    pub id: String,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// Who did it (the authenticated user or `cli`).
    pub actor: String,
    /// What.
    pub change: DirectoryChange,
}

/// The kinds of change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DirectoryChange {
    /// An LDAP/AD sync: the snapshot and its difference from the previous one of the source.
    LdapSync {
        /// What was read.
        snapshot: LdapSnapshot,
        /// What changed since the previous sync of the same source.
        diff: SnapshotDiff,
    },
    /// A grant snapshot (permission export or smb.conf).
    Grants(GrantSnapshot),
    /// The entitlement policy.
    Entitlements(EntitlementSet),
    /// A takeout request transition.
    Takeout(TakeoutAction),
    /// A vendor change.
    Vendor(VendorAction),
    /// An access-review sign-off.
    ReviewSignOff(SignOff),
}

impl DirectoryChange {
    /// The ledger `event.action` for it.
    pub fn action(&self) -> &'static str {
        match self {
            DirectoryChange::LdapSync { .. } => "ldap-synced",
            DirectoryChange::Grants(_) => "grants-imported",
            DirectoryChange::Entitlements(_) => "entitlements-imported",
            DirectoryChange::Takeout(_) => "takeout-changed",
            DirectoryChange::Vendor(_) => "vendor-changed",
            DirectoryChange::ReviewSignOff(_) => "access-review-signed",
        }
    }
}

/// Why a record cannot be applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Newer format.
    #[error("記録の形式 {0} には対応していません / unsupported record format {0}")]
    UnsupportedFormat(u32),
    /// Applied already.
    #[error("記録 {0} は適用済みです / record {0} was already applied")]
    Duplicate(String),
    /// A takeout rule.
    #[error(transparent)]
    Takeout(#[from] TakeoutError),
    /// A vendor rule.
    #[error(transparent)]
    Vendor(#[from] VendorError),
    /// A sign-off rule.
    #[error("{0}")]
    Review(String),
}

/// The non-roster state (kept inside [`Directory`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Book {
    pub(crate) record_ids: BTreeSet<String>,
    /// In apply order.
    pub(crate) ldap: Vec<LdapSnapshot>,
    /// In apply order.
    pub(crate) grants: Vec<GrantSnapshot>,
    /// The latest policy.
    pub(crate) entitlements: Option<EntitlementSet>,
    pub(crate) takeouts: BTreeMap<String, Takeout>,
    pub(crate) vendors: BTreeMap<String, Vendor>,
    pub(crate) signoffs: Vec<(String, SignOff)>,
}

/// Generic or shared account names (共用アカウント), matched on the user part after removing
/// trailing digits, `-`, `_` and `.` (`kyotsu01`, `guest_2`).
pub const GENERIC_ACCOUNTS: &[&str] = &[
    "admin", "administrator", "guest", "kyotsu", "kyoutsu", "kyoyu", "kyouyuu", "common", "shared",
    "share", "test", "temp", "tmp", "user", "operator", "root", "public", "madoguchi", "rinji",
    "support", "staff",
];

/// True for generic names (see [`GENERIC_ACCOUNTS`]), and names containing 共用 / 共通.
pub fn is_generic_account(user: &str) -> bool {
    let u = user.to_lowercase();
    let u = u.rsplit('\\').next().unwrap_or(&u);
    let u = u.split('@').next().unwrap_or(u);
    if u.contains("共用") || u.contains("共通") {
        return true;
    }
    let stem = u.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '_' || c == '.');
    GENERIC_ACCOUNTS.contains(&stem)
}

/// An account nobody in the directory owns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownAccount {
    /// The account (user part).
    pub account: String,
    /// Where it was seen: `ldap:<source>`, `grants:<source>`.
    pub seen_in: Vec<String>,
    /// Enabled in LDAP, if it is there.
    pub enabled: Option<bool>,
    /// Generic name.
    pub generic: bool,
}

/// A grant in force for an account, and where it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantOf {
    /// The source (`juki`, `smb:fs01`, `ldap`).
    pub source: String,
    /// The resource.
    pub resource: String,
    /// Access.
    pub access: Access,
    /// Through a group, if so.
    pub via_group: Option<String>,
}

fn user_part(account: &str) -> String {
    crate::account::AccountName::parse(account)
        .map(|a| a.user().to_owned())
        .unwrap_or_else(|_| account.trim().to_lowercase())
}

impl Directory {
    /// Checks a record without applying it.
    pub fn check_record(&self, rec: &DirectoryRecord) -> Result<(), RecordError> {
        let mut probe = self.clone();
        probe.apply_record(rec).map(|_| ())
    }

    /// Applies a record, checking every rule (module doc). All-or-nothing.
    pub fn apply_record(&mut self, rec: &DirectoryRecord) -> Result<(), RecordError> {
        self.apply_inner(rec, true)
    }

    /// Applies a record read back from the ledger. The policy rules (the approval rule, a
    /// request's fields, a sign-off's findings digest) were checked when it was ledgered, under
    /// the code of that day; replay does not re-judge them — a later change to a rule must not
    /// make the ledger unreplayable or rewrite history. Structure is still checked (duplicate
    /// ids, unknown requests or contracts, transitions out of order).
    pub fn replay_record(&mut self, rec: &DirectoryRecord) -> Result<(), RecordError> {
        self.apply_inner(rec, false)
    }

    fn apply_inner(&mut self, rec: &DirectoryRecord, strict: bool) -> Result<(), RecordError> {
        if rec.format > RECORD_FORMAT {
            return Err(RecordError::UnsupportedFormat(rec.format));
        }
        if self.book.record_ids.contains(&rec.id) {
            return Err(RecordError::Duplicate(rec.id.clone()));
        }
        match &rec.change {
            DirectoryChange::LdapSync { snapshot, .. } => self.book.ldap.push(snapshot.clone()),
            DirectoryChange::Grants(s) => {
                // A correction of the same source and date replaces it.
                self.book.grants.retain(|g| !(g.source == s.source && g.as_of == s.as_of));
                self.book.grants.push(s.clone());
            }
            DirectoryChange::Entitlements(e) => self.book.entitlements = Some(e.clone()),
            DirectoryChange::Takeout(a) => self.apply_takeout(a, &rec.actor, strict)?,
            DirectoryChange::Vendor(a) => self.apply_vendor(a, &rec.actor)?,
            DirectoryChange::ReviewSignOff(s) => {
                if strict {
                    self.check_signoff(s).map_err(RecordError::Review)?;
                }
                self.book.signoffs.push((rec.actor.clone(), s.clone()));
            }
        }
        self.book.record_ids.insert(rec.id.clone());
        Ok(())
    }

    /// A record for a new LDAP snapshot, with the diff against the latest snapshot of the same
    /// source.
    pub fn ldap_sync_change(&self, snapshot: LdapSnapshot) -> DirectoryChange {
        let prev = self.book.ldap.iter().rev().find(|s| s.source == snapshot.source);
        let diff = diff_snapshots(prev, &snapshot);
        DirectoryChange::LdapSync { snapshot, diff }
    }

    /// The LDAP snapshot describing `date`: the latest-dated one on or before it (ties: the
    /// later applied). With several sources, the one with the most recent date.
    pub fn ldap_at(&self, date: NaiveDate) -> Option<&LdapSnapshot> {
        self.book
            .ldap
            .iter()
            .enumerate()
            .filter(|(_, s)| s.as_of <= date)
            .max_by_key(|(i, s)| (s.as_of, *i))
            .map(|(_, s)| s)
    }

    /// All LDAP snapshots, in apply order.
    pub fn ldap_snapshots(&self) -> &[LdapSnapshot] {
        &self.book.ldap
    }

    /// Sign-offs recorded, with who recorded them.
    pub fn signoffs(&self) -> &[(String, SignOff)] {
        &self.book.signoffs
    }

    /// The entitlement policy in force (latest imported).
    pub fn entitlement_set(&self) -> Option<&EntitlementSet> {
        self.book.entitlements.as_ref()
    }

    /// Every 所属コード the roster or the policy knows.
    pub fn known_departments(&self) -> BTreeSet<String> {
        let mut k = self.dept_codes_in_roster();
        if let Some(set) = &self.book.entitlements {
            k.extend(set.departments.iter().map(|d| d.code.clone()));
            k.extend(set.entitlements.iter().map(|e| e.department.clone()));
        }
        k
    }

    /// The department and its ancestors, nearest first.
    pub fn department_chain(&self, code: &str) -> Vec<String> {
        department_chain(code, self.book.entitlements.as_ref(), &self.known_departments())
    }

    /// Whether the policy entitles `department` (or an ancestor) to `resource` on `at`, at
    /// any access level. For detection.
    pub fn entitled(&self, department: &str, resource: &str, at: NaiveDate) -> bool {
        self.entitled_for(department, resource, Access::Read, at)
    }

    /// Whether the policy entitles `department` (or an ancestor) to `access` on `resource`.
    pub fn entitled_for(&self, department: &str, resource: &str, access: Access, at: NaiveDate) -> bool {
        let Some(set) = &self.book.entitlements else {
            return false;
        };
        let resource = resource.to_lowercase();
        if set.everyone.iter().any(|p| everyone_matches(p, &resource)) {
            return true;
        }
        let chain = self.department_chain(department);
        set.entitlements
            .iter()
            .any(|e| chain.contains(&e.department) && e.allows(&resource, access, at))
    }

    /// Groups of an account on `at` (LDAP snapshot of that day).
    pub fn groups_of(&self, account: &str, at: NaiveDate) -> BTreeSet<String> {
        let user = user_part(account);
        self.ldap_at(at)
            .and_then(|s| s.account(&user))
            .map(|a| a.groups.clone())
            .unwrap_or_default()
    }

    fn grant_snapshots_at(&self, at: NaiveDate) -> Vec<&GrantSnapshot> {
        let mut by_source: BTreeMap<&str, (usize, &GrantSnapshot)> = BTreeMap::new();
        for (i, s) in self.book.grants.iter().enumerate() {
            if s.as_of > at {
                continue;
            }
            match by_source.get(s.source.as_str()) {
                Some((_, prev)) if prev.as_of > s.as_of => {}
                _ => {
                    by_source.insert(&s.source, (i, s));
                }
            }
        }
        by_source.into_values().map(|(_, s)| s).collect()
    }

    /// The grants in force for an account on `at`: permission exports and shares (directly,
    /// through its LDAP groups, or to everyone) and its LDAP group memberships as
    /// `ldap-group:<name>`. For detection.
    pub fn grants_of(&self, account: &str, at: NaiveDate) -> Vec<GrantOf> {
        let user = user_part(account);
        let groups = self.groups_of(&user, at);
        let mut out = Vec::new();
        for s in self.grant_snapshots_at(at) {
            for g in s.grants.iter().filter(|g| g.in_force(at)) {
                let via = match &g.principal {
                    Principal::Account(a) if a.user() == user => None,
                    Principal::Group(name) if groups.contains(name) => Some(name.clone()),
                    Principal::Everyone => Some("*".to_owned()),
                    _ => continue,
                };
                out.push(GrantOf { source: s.source.clone(), resource: g.resource.clone(), access: g.access, via_group: via });
            }
        }
        if let Some(snap) = self.ldap_at(at)
            && snap.account(&user).is_some()
        {
            for g in &groups {
                out.push(GrantOf {
                    source: "ldap".into(),
                    resource: format!("ldap-group:{g}"),
                    access: Access::Use,
                    via_group: Some(g.clone()),
                });
            }
        }
        out.sort_by(|a, b| (&a.resource, a.access, &a.source).cmp(&(&b.resource, b.access, &b.source)));
        out
    }

    /// Accounts named by grants in force on `at` (direct grants only) and LDAP accounts of that
    /// day, by user part, with where each was seen.
    pub fn accounts_seen(&self, at: NaiveDate) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if let Some(s) = self.ldap_at(at) {
            for a in &s.accounts {
                out.entry(a.account.clone()).or_default().push(format!("ldap:{}", s.source));
            }
        }
        for s in self.grant_snapshots_at(at) {
            for g in s.grants.iter().filter(|g| g.in_force(at)) {
                if let Principal::Account(a) = &g.principal {
                    let v = out.entry(a.user().to_owned()).or_default();
                    let tag = format!("grants:{}", s.source);
                    if !v.contains(&tag) {
                        v.push(tag);
                    }
                }
            }
        }
        out
    }

    /// Resolves an account on `at`: the roster ([`Directory::resolve`]), then an LDAP account
    /// of that day whose 職員番号 attribute or mail links it to a person in the roster.
    pub fn resolve_account(&self, account: &str, at: NaiveDate) -> Resolution {
        let r = self.resolve(account, at);
        if !matches!(r, Resolution::Unknown(UnknownReason::NotInRoster)) {
            return r;
        }
        let user = user_part(account);
        let snap = self.ldap_at(at).or_else(|| self.book.ldap.last());
        if let Some(a) = snap.and_then(|s| s.account(&user)) {
            if let Some(id) = &a.staff_id
                && let Some(p) = self.person(id, at)
            {
                return Resolution::Person(Box::new(p));
            }
            if let Some(mail) = &a.mail {
                let via_mail = self.resolve(mail, at);
                if !matches!(via_mail, Resolution::Unknown(_)) {
                    return via_mail;
                }
            }
        }
        r
    }

    /// Accounts seen in LDAP or grants on `at` that resolve to nobody (generic names
    /// included, flagged).
    pub fn unknown_accounts(&self, at: NaiveDate) -> Vec<UnknownAccount> {
        let snap = self.ldap_at(at);
        self.accounts_seen(at)
            .into_iter()
            .filter(|(a, _)| matches!(self.resolve_account(a, at), Resolution::Unknown(_)))
            .map(|(account, seen_in)| UnknownAccount {
                enabled: snap.and_then(|s| s.account(&account)).map(|a| a.enabled),
                generic: is_generic_account(&account),
                account,
                seen_in,
            })
            .collect()
    }

    /// True when a shared account listed for several people has overlapping holders.
    pub fn is_shared_account(&self, account: &str) -> bool {
        let user = user_part(account);
        self.shared_accounts(KnownAt::Latest).iter().any(|s| s.user == user && s.overlapping)
    }
}

fn everyone_matches(pattern: &str, resource: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(p) => resource.starts_with(&p.to_lowercase()),
        None => resource == pattern.to_lowercase(),
    }
}

/// Grant lists for tests and reports: the resources only.
pub fn resources(grants: &[GrantOf]) -> Vec<&str> {
    grants.iter().map(|g| g.resource.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_names() {
        for g in ["admin", "Guest", "kyotsu01", "CITY\\kyotsu_2", "shared@city.lg.jp", "市民課共用"] {
            assert!(is_generic_account(g), "{g}");
        }
        for n in ["sato.h", "administrator.k", "tanaka"] {
            assert!(!is_generic_account(n), "{n}");
        }
    }
}
