//! LDAP / Active Directory sync: users, groups, the disabled flag, change and last-logon
//! times, as a dated [`LdapSnapshot`] and its [`SnapshotDiff`] against the previous one.
//!
//! Two flavours ([`Flavor`]):
//! - **AD**: login `sAMAccountName`, disabled = `userAccountControl` bit 0x2 (ACCOUNTDISABLE),
//!   `whenChanged` (generalized time), `lastLogonTimestamp`/`lastLogon` (Windows FILETIME,
//!   100 ns since 1601-01-01; the larger of the two, since `lastLogon` is per-DC and
//!   `lastLogonTimestamp` replicated but up to 14 days stale), groups from `memberOf`.
//! - **OpenLDAP**: login `uid`, disabled when `pwdAccountLockedTime` is present (ppolicy), or
//!   `shadowExpire` (days since 1970) is on or before the sync day, or the configured
//!   `disabled_attr` has the configured value; `modifyTimestamp`; `authTimestamp` (the
//!   lastbind overlay) as last logon; groups from `memberOf` and from the groups' `member`
//!   (DN) / `memberUid` (uid).
//!
//! The mapping from entries ([`LdapEntry`]) is pure and tested on its own; [`fetch`] is the
//! only network code (ldap3's sync client, paged search).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// Which directory product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flavor {
    /// Microsoft Active Directory (or Samba AD).
    Ad,
    /// OpenLDAP (RFC 2307 / inetOrgPerson).
    OpenLdap,
}

/// What to read and how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LdapSettings {
    /// The flavour (sets the defaults below).
    pub flavor: Flavor,
    /// Search base.
    pub base_dn: String,
    /// Filter for user entries.
    pub user_filter: String,
    /// Filter for group entries.
    pub group_filter: String,
    /// The login attribute.
    pub login_attr: String,
    /// Attribute carrying the 職員番号, linking an account to the roster.
    pub staff_id_attr: String,
    /// An extra disabled marker: attribute and the value meaning "disabled" (case-insensitive).
    pub disabled_attr: Option<(String, String)>,
}

impl LdapSettings {
    /// Defaults for a flavour.
    pub fn new(flavor: Flavor, base_dn: &str) -> Self {
        match flavor {
            Flavor::Ad => LdapSettings {
                flavor,
                base_dn: base_dn.to_owned(),
                user_filter: "(&(objectCategory=person)(objectClass=user))".into(),
                group_filter: "(objectClass=group)".into(),
                login_attr: "sAMAccountName".into(),
                staff_id_attr: "employeeID".into(),
                disabled_attr: None,
            },
            Flavor::OpenLdap => LdapSettings {
                flavor,
                base_dn: base_dn.to_owned(),
                user_filter: "(|(objectClass=inetOrgPerson)(objectClass=posixAccount))".into(),
                group_filter: "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))".into(),
                login_attr: "uid".into(),
                staff_id_attr: "employeeNumber".into(),
                disabled_attr: None,
            },
        }
    }

    /// Attributes requested for users.
    pub fn user_attrs(&self) -> Vec<String> {
        let mut a: Vec<String> = [
            self.login_attr.as_str(),
            "cn",
            "displayName",
            "mail",
            "memberOf",
            &self.staff_id_attr,
            "userAccountControl",
            "whenChanged",
            "lastLogon",
            "lastLogonTimestamp",
            "modifyTimestamp",
            "authTimestamp",
            "pwdAccountLockedTime",
            "shadowExpire",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some((attr, _)) = &self.disabled_attr {
            a.push(attr.clone());
        }
        a
    }

    /// Attributes requested for groups.
    pub fn group_attrs(&self) -> Vec<String> {
        ["cn", "sAMAccountName", "member", "uniqueMember", "memberUid"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }
}

/// An entry as read: DN and attributes (names lower-cased).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LdapEntry {
    /// The DN.
    pub dn: String,
    /// Attribute name (lower-case) → values.
    pub attrs: BTreeMap<String, Vec<String>>,
}

impl LdapEntry {
    /// An entry from a DN and (name, values) pairs.
    pub fn new<I, K, V>(dn: &str, attrs: I) -> Self
    where
        I: IntoIterator<Item = (K, Vec<V>)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        LdapEntry {
            dn: dn.to_owned(),
            attrs: attrs
                .into_iter()
                .map(|(k, v)| (k.as_ref().to_lowercase(), v.into_iter().map(Into::into).collect()))
                .collect(),
        }
    }

    fn first(&self, name: &str) -> Option<&str> {
        self.attrs
            .get(&name.to_lowercase())
            .and_then(|v| v.first())
            .map(String::as_str)
            .filter(|s| !s.trim().is_empty())
    }

    fn all(&self, name: &str) -> &[String] {
        self.attrs.get(&name.to_lowercase()).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// An account as the directory server has it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LdapAccount {
    /// Login name, lower-case.
    pub account: String,
    /// The DN.
    pub dn: String,
    /// cn / displayName.
    pub name: String,
    /// mail.
    pub mail: Option<String>,
    /// 職員番号 from the configured attribute.
    pub staff_id: Option<String>,
    /// Not disabled.
    pub enabled: bool,
    /// Why it counts as disabled (`userAccountControl 0x2`, `pwdAccountLockedTime` …).
    pub disabled_by: Option<String>,
    /// whenChanged / modifyTimestamp.
    pub changed: Option<DateTime<Utc>>,
    /// lastLogon(Timestamp) / authTimestamp.
    pub last_logon: Option<DateTime<Utc>>,
    /// Group names (lower-case).
    pub groups: BTreeSet<String>,
}

/// A group and its member accounts.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LdapGroup {
    /// Name (cn / sAMAccountName), lower-case.
    pub name: String,
    /// The DN.
    pub dn: String,
    /// Member accounts (lower-case).
    pub members: BTreeSet<String>,
}

/// Everything one sync read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LdapSnapshot {
    /// The server URL and base, for readers of the ledger.
    pub source: String,
    /// When it was read.
    pub taken_at: DateTime<Utc>,
    /// The (local) day it describes.
    pub as_of: NaiveDate,
    /// The flavour used.
    pub flavor: Flavor,
    /// Accounts, by account name.
    pub accounts: Vec<LdapAccount>,
    /// Groups, by name.
    pub groups: Vec<LdapGroup>,
    /// Entries that could not be mapped (no login attribute …), with the DN and why.
    pub skipped: Vec<String>,
}

impl LdapSnapshot {
    /// The account with this login name (case-insensitive).
    pub fn account(&self, name: &str) -> Option<&LdapAccount> {
        let n = name.to_lowercase();
        self.accounts
            .binary_search_by(|a| a.account.as_str().cmp(n.as_str()))
            .ok()
            .map(|i| &self.accounts[i])
    }
}

/// Parses LDAP generalized time (`20240401093000Z`, `20240401093000.0Z`,
/// `20240401093000.123456Z`, `202404010930Z`, `+0900` offsets).
pub fn parse_generalized_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    let (body, offset_secs) = if let Some(b) = s.strip_suffix('Z') {
        (b, 0i64)
    } else if s.len() > 5 && (s.as_bytes()[s.len() - 5] == b'+' || s.as_bytes()[s.len() - 5] == b'-') {
        let (b, off) = s.split_at(s.len() - 5);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let h: i64 = off[1..3].parse().ok()?;
        let m: i64 = off[3..5].parse().ok()?;
        (b, sign * (h * 3600 + m * 60))
    } else {
        (s, 0)
    };
    let main = body.split(['.', ',']).next()?;
    let padded = match main.len() {
        14 => main.to_owned(),
        12 => format!("{main}00"),
        10 => format!("{main}0000"),
        _ => return None,
    };
    let ndt = NaiveDateTime::parse_from_str(&padded, "%Y%m%d%H%M%S").ok()?;
    Some(Utc.from_utc_datetime(&ndt) - chrono::Duration::seconds(offset_secs))
}

/// Windows FILETIME (100 ns since 1601-01-01 UTC) → time; 0 and 0x7FFFFFFFFFFFFFFF mean never.
pub fn parse_filetime(s: &str) -> Option<DateTime<Utc>> {
    let v: i64 = s.trim().parse().ok()?;
    if v <= 0 || v == i64::MAX {
        return None;
    }
    const EPOCH_DIFF_SECS: i64 = 11_644_473_600;
    let secs = v / 10_000_000 - EPOCH_DIFF_SECS;
    let nanos = (v % 10_000_000) * 100;
    Utc.timestamp_opt(secs, nanos as u32).single()
}

/// The RDN value of a DN's first component (`cn=shimin,ou=groups,…` → `shimin`).
fn rdn_value(dn: &str) -> String {
    dn.split(',')
        .next()
        .and_then(|r| r.split_once('='))
        .map(|(_, v)| v.trim().to_lowercase())
        .unwrap_or_default()
}

fn norm_dn(dn: &str) -> String {
    dn.split(',').map(|p| p.trim().to_lowercase()).collect::<Vec<_>>().join(",")
}

/// Maps user and group entries into a snapshot. `as_of` is the local day of the sync (for
/// `shadowExpire`).
pub fn build_snapshot(
    settings: &LdapSettings,
    source: &str,
    taken_at: DateTime<Utc>,
    as_of: NaiveDate,
    users: &[LdapEntry],
    groups: &[LdapEntry],
) -> LdapSnapshot {
    let mut skipped = Vec::new();
    let mut accounts: BTreeMap<String, LdapAccount> = BTreeMap::new();
    let mut by_dn: BTreeMap<String, String> = BTreeMap::new();
    for e in users {
        let Some(login) = e.first(&settings.login_attr) else {
            skipped.push(format!(
                "{}: {} がありません / no {}",
                e.dn, settings.login_attr, settings.login_attr
            ));
            continue;
        };
        let account = login.trim().to_lowercase();
        let mut disabled_by = None;
        if let Some(uac) = e.first("userAccountControl") {
            match uac.trim().parse::<i64>() {
                Ok(v) if v & 0x2 != 0 => disabled_by = Some("userAccountControl 0x2".to_owned()),
                Ok(_) => {}
                Err(_) => skipped.push(format!(
                    "{}: userAccountControl が数値ではありません / userAccountControl is not a number ({uac})",
                    e.dn
                )),
            }
        }
        if disabled_by.is_none() && e.first("pwdAccountLockedTime").is_some() {
            disabled_by = Some("pwdAccountLockedTime".to_owned());
        }
        if disabled_by.is_none()
            && let Some(days) = e.first("shadowExpire").and_then(|v| v.trim().parse::<i64>().ok())
            && days >= 0
            && NaiveDate::from_ymd_opt(1970, 1, 1)
                .and_then(|d| d.checked_add_signed(chrono::Duration::days(days)))
                .is_some_and(|exp| exp <= as_of)
        {
            disabled_by = Some("shadowExpire".to_owned());
        }
        if disabled_by.is_none()
            && let Some((attr, value)) = &settings.disabled_attr
            && e.all(attr).iter().any(|v| v.trim().eq_ignore_ascii_case(value.trim()))
        {
            disabled_by = Some(format!("{attr}={value}"));
        }
        let changed = e
            .first("whenChanged")
            .or_else(|| e.first("modifyTimestamp"))
            .and_then(parse_generalized_time);
        let last_logon = [
            e.first("lastLogonTimestamp").and_then(parse_filetime),
            e.first("lastLogon").and_then(parse_filetime),
            e.first("authTimestamp").and_then(parse_generalized_time),
        ]
        .into_iter()
        .flatten()
        .max();
        let groups: BTreeSet<String> = e.all("memberOf").iter().map(|g| rdn_value(g)).collect();
        by_dn.insert(norm_dn(&e.dn), account.clone());
        let acc = LdapAccount {
            account: account.clone(),
            dn: e.dn.clone(),
            name: e
                .first("displayName")
                .or_else(|| e.first("cn"))
                .unwrap_or_default()
                .to_owned(),
            mail: e.first("mail").map(|m| m.trim().to_lowercase()),
            staff_id: e.first(&settings.staff_id_attr).map(|s| s.trim().to_owned()),
            enabled: disabled_by.is_none(),
            disabled_by,
            changed,
            last_logon,
            groups,
        };
        if accounts.insert(account.clone(), acc).is_some() {
            skipped.push(format!(
                "{}: ログイン名 {account} が重複しています(後の項目を採用)/ duplicate login {account} (the later entry is kept)",
                e.dn
            ));
        }
    }
    let mut out_groups: Vec<LdapGroup> = Vec::new();
    for g in groups {
        let name = g
            .first("sAMAccountName")
            .or_else(|| g.first("cn"))
            .map(|s| s.trim().to_lowercase())
            .unwrap_or_else(|| rdn_value(&g.dn));
        let mut members = BTreeSet::new();
        for m in g.all("member").iter().chain(g.all("uniqueMember")) {
            if let Some(a) = by_dn.get(&norm_dn(m)) {
                members.insert(a.clone());
            }
        }
        for uid in g.all("memberUid") {
            let uid = uid.trim().to_lowercase();
            if accounts.contains_key(&uid) {
                members.insert(uid);
            }
        }
        out_groups.push(LdapGroup {
            name,
            dn: g.dn.clone(),
            members,
        });
    }
    // memberOf and member agree in a healthy directory; take the union either way.
    for g in &out_groups {
        for m in &g.members {
            if let Some(a) = accounts.get_mut(m) {
                a.groups.insert(g.name.clone());
            }
        }
    }
    for a in accounts.values() {
        for gname in &a.groups {
            if let Some(g) = out_groups.iter_mut().find(|g| &g.name == gname) {
                g.members.insert(a.account.clone());
            }
        }
    }
    out_groups.sort();
    LdapSnapshot {
        source: source.to_owned(),
        taken_at,
        as_of,
        flavor: settings.flavor,
        accounts: accounts.into_values().collect(),
        groups: out_groups,
        skipped,
    }
}

/// What changed between two snapshots.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotDiff {
    /// Accounts that appeared.
    pub added: Vec<String>,
    /// Accounts that disappeared.
    pub removed: Vec<String>,
    /// Accounts that became disabled.
    pub disabled: Vec<String>,
    /// Accounts that became enabled.
    pub enabled: Vec<String>,
    /// (account, group) memberships gained.
    pub joined_groups: Vec<(String, String)>,
    /// (account, group) memberships lost.
    pub left_groups: Vec<(String, String)>,
}

impl SnapshotDiff {
    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        *self == SnapshotDiff::default()
    }
}

/// The difference from `old` (None: everything is new) to `new`.
pub fn diff_snapshots(old: Option<&LdapSnapshot>, new: &LdapSnapshot) -> SnapshotDiff {
    let mut d = SnapshotDiff::default();
    let empty = BTreeSet::new();
    for a in &new.accounts {
        match old.and_then(|o| o.account(&a.account)) {
            None => {
                d.added.push(a.account.clone());
                for g in &a.groups {
                    d.joined_groups.push((a.account.clone(), g.clone()));
                }
            }
            Some(p) => {
                if p.enabled && !a.enabled {
                    d.disabled.push(a.account.clone());
                }
                if !p.enabled && a.enabled {
                    d.enabled.push(a.account.clone());
                }
                for g in a.groups.difference(&p.groups) {
                    d.joined_groups.push((a.account.clone(), g.clone()));
                }
                for g in p.groups.difference(&a.groups) {
                    d.left_groups.push((a.account.clone(), g.clone()));
                }
            }
        }
    }
    if let Some(o) = old {
        for p in &o.accounts {
            if new.account(&p.account).is_none() {
                d.removed.push(p.account.clone());
                for g in p.groups.iter().chain(empty.iter()) {
                    d.left_groups.push((p.account.clone(), g.clone()));
                }
            }
        }
    }
    d
}

/// Why a sync failed.
#[derive(Debug, thiserror::Error)]
pub enum LdapError {
    /// Connecting, binding or searching failed.
    #[error("LDAP サーバーとの通信に失敗しました / LDAP error: {0}")]
    Ldap(#[from] ldap3::LdapError),
    /// A result entry could not be decoded.
    #[error("LDAP の応答を解釈できません / malformed LDAP entry")]
    Malformed,
}

/// Where and how to connect.
#[derive(Clone, Debug)]
pub struct LdapConnect {
    /// `ldap://host:port/`.
    pub url: String,
    /// Bind DN (empty: anonymous).
    pub bind_dn: String,
    /// Bind password.
    pub password: String,
    /// Connect / operation timeout.
    pub timeout: std::time::Duration,
}

fn search_all(
    conn: &mut ldap3::LdapConn,
    base: &str,
    filter: &str,
    attrs: &[String],
) -> Result<Vec<LdapEntry>, LdapError> {
    use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
    let adapters: Vec<Box<dyn Adapter<_, _>>> =
        vec![Box::new(EntriesOnly::new()), Box::new(PagedResults::new(500))];
    let mut search = conn.streaming_search_with(adapters, base, ldap3::Scope::Subtree, filter, attrs.to_vec())?;
    let mut out = Vec::new();
    while let Some(raw) = search.next()? {
        // SearchEntry::construct panics on undecodable BER; a hostile server must not crash us.
        let e = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ldap3::SearchEntry::construct(raw)))
            .map_err(|_| LdapError::Malformed)?;
        out.push(LdapEntry::new(&e.dn, e.attrs));
    }
    search.result().success()?;
    Ok(out)
}

/// Reads users and groups from the server and builds the snapshot.
pub fn fetch(
    connect: &LdapConnect,
    settings: &LdapSettings,
    taken_at: DateTime<Utc>,
    as_of: NaiveDate,
) -> Result<LdapSnapshot, LdapError> {
    let conn_settings = ldap3::LdapConnSettings::new().set_conn_timeout(connect.timeout);
    let mut conn = ldap3::LdapConn::with_settings(conn_settings, &connect.url)?;
    conn.with_timeout(connect.timeout);
    if !connect.bind_dn.is_empty() {
        conn.simple_bind(&connect.bind_dn, &connect.password)?.success()?;
    }
    let users = search_all(&mut conn, &settings.base_dn, &settings.user_filter, &settings.user_attrs())?;
    let groups = search_all(&mut conn, &settings.base_dn, &settings.group_filter, &settings.group_attrs())?;
    let _ = conn.unbind();
    let source = format!("{} {}", connect.url, settings.base_dn);
    Ok(build_snapshot(settings, &source, taken_at, as_of, &users, &groups))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// Active Directory cannot run here: the AD mapping is tested on entries shaped like AD's.
    #[test]
    fn ad_flags_filetime_and_member_of() {
        let s = LdapSettings::new(Flavor::Ad, "dc=city,dc=local");
        let users = vec![
            LdapEntry::new("CN=Sato,OU=Users,DC=city,DC=local", [
                ("sAMAccountName", vec!["Sato.H"]),
                ("userAccountControl", vec!["514"]),
                ("lastLogonTimestamp", vec!["133579584000000000"]),
                ("lastLogon", vec!["0"]),
                ("whenChanged", vec!["20240401093000.0Z"]),
                ("memberOf", vec!["CN=Juki-Users,OU=Groups,DC=city,DC=local"]),
            ]),
            LdapEntry::new("CN=Ito,OU=Users,DC=city,DC=local", [
                ("sAMAccountName", vec!["ito.k"]),
                ("userAccountControl", vec!["512"]),
            ]),
            LdapEntry::new("CN=NoLogin,DC=city,DC=local", [("cn", vec!["x"])]),
        ];
        let snap = build_snapshot(&s, "ad", Utc::now(), day("2024-05-01"), &users, &[]);
        let sato = snap.account("sato.h").unwrap();
        assert!(!sato.enabled);
        assert_eq!(sato.disabled_by.as_deref(), Some("userAccountControl 0x2"));
        assert_eq!(sato.last_logon.unwrap().date_naive(), day("2024-04-19"));
        assert_eq!(sato.changed.unwrap().to_rfc3339(), "2024-04-01T09:30:00+00:00");
        assert!(sato.groups.contains("juki-users"));
        assert!(snap.account("ito.k").unwrap().enabled);
        assert_eq!(snap.skipped.len(), 1);
    }

    #[test]
    fn generalized_time_forms() {
        assert_eq!(
            parse_generalized_time("20240401093000+0900").unwrap().to_rfc3339(),
            "2024-04-01T00:30:00+00:00"
        );
        assert!(parse_generalized_time("2024").is_none());
        assert!(parse_filetime("9223372036854775807").is_none());
    }
}
