//! Access grants (which account may use which system, share or folder) and per-department
//! entitlements (which 所属 should have which access).
//!
//! Grants come from three places, each a dated **snapshot** of one source:
//! - a system's permission export (CSV, UTF-8 or CP932) read through a declarative
//!   [`GrantMapping`] (which column is the account, the resource, the access, the dates);
//! - Samba's `smb.conf` (`valid users`, `read list`, `write list`, `admin users`, `@group`
//!   references, `read only`), [`parse_smb_conf`];
//! - LDAP/AD group memberships (resource `ldap-group:<name>`, from the sync snapshots).
//!
//! Time model: a snapshot says what the source granted on its `as_of` date and after, until
//! the next snapshot of the same source; a row may narrow that with its own from/until dates.
//! Recorded time is the ledger order of the snapshots (a correction is a newer snapshot with
//! the same source and date: it replaces the older one).
//!
//! Entitlements are a policy document ([`EntitlementSet`], TOML): each entry allows a
//! department (and its sub-departments) a resource pattern (`system:juki`, `share:*`) from a
//! date until a date. The latest imported set is the policy; its dates give its history.
//! Department hierarchy: an explicit `parent` in the set, else the longest other known code
//! that is a proper prefix of the code (`20` is the parent of `2010`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::account::AccountName;
use crate::date::{halfwidth, parse_date};
use crate::roster::{CsvFileProblem, SourceEncoding, header_names, open_csv, trim};

/// Longest resource or group name accepted.
const MAX_NAME: usize = 512;

/// How much a grant allows, in increasing order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// 参照: read only.
    Read,
    /// 利用: use a system (log in, run queries); exports count as use.
    Use,
    /// 更新: change data.
    Write,
    /// 管理: administer.
    Admin,
}

impl Access {
    /// Parses a label from an export: 参照/read/r/ro, 利用/use/login/実行, 更新/write/w/rw/変更/登録,
    /// 管理/admin/full/管理者.
    pub fn parse(text: &str) -> Option<Access> {
        let t = halfwidth(trim(text)).to_lowercase();
        Some(match t.as_str() {
            "参照" | "閲覧" | "read" | "r" | "ro" | "readonly" | "read-only" => Access::Read,
            "利用" | "use" | "login" | "実行" | "x" | "execute" => Access::Use,
            "更新" | "変更" | "登録" | "write" | "w" | "rw" | "modify" | "change" => Access::Write,
            "管理" | "管理者" | "admin" | "full" | "fullcontrol" | "owner" => Access::Admin,
            _ => return None,
        })
    }

    /// The Japanese label.
    pub fn label(self) -> &'static str {
        match self {
            Access::Read => "参照",
            Access::Use => "利用",
            Access::Write => "更新",
            Access::Admin => "管理",
        }
    }
}

/// Who a grant is for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "name", rename_all = "snake_case")]
pub enum Principal {
    /// One account (matched by user part, like the roster's accounts).
    Account(AccountName),
    /// Members of a group (LDAP/AD or Samba `@group`), lower-case.
    Group(String),
    /// Every authenticated user (a Samba share without `valid users`).
    Everyone,
}

/// One grant: a principal may access a resource.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Grant {
    /// Who.
    pub principal: Principal,
    /// What: `system:<name>`, `share:<name>`, `folder:<path>`, `ldap-group:<name>`.
    pub resource: String,
    /// How much.
    pub access: Access,
    /// First day, if the source says (else the snapshot's date).
    pub from: Option<NaiveDate>,
    /// Last day, if the source says.
    pub until: Option<NaiveDate>,
    /// Row or line in the source, for people checking it.
    pub origin: u64,
}

impl Grant {
    /// In force on `date` by its own dates.
    pub fn in_force(&self, date: NaiveDate) -> bool {
        self.from.is_none_or(|f| f <= date) && self.until.is_none_or(|u| date <= u)
    }
}

/// Where a snapshot came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantSourceKind {
    /// A permission-export CSV.
    Csv,
    /// `smb.conf`.
    Samba,
}

/// A malformed row or line of a grant source. Display is Japanese first, then English.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct GrantRowError {
    /// Row (CSV, header = 1) or line (smb.conf).
    pub row: u64,
    /// The column or parameter, if one.
    pub column: Option<String>,
    /// The offending value, shortened.
    pub value: String,
    /// 問題 (Japanese).
    pub ja: String,
    /// Problem (English).
    pub en: String,
}

impl GrantRowError {
    fn new(row: u64, column: Option<&str>, value: &str, ja: &str, en: &str) -> Self {
        let mut v: String = value.chars().take(60).collect();
        if v.len() < value.len() {
            v.push('…');
        }
        GrantRowError {
            row,
            column: column.map(str::to_owned),
            value: v,
            ja: ja.to_owned(),
            en: en.to_owned(),
        }
    }
}

impl fmt::Display for GrantRowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let row = self.row;
        match &self.column {
            Some(c) => write!(f, "{row}行目「{c}」: {}", self.ja)?,
            None => write!(f, "{row}行目: {}", self.ja)?,
        }
        if !self.value.is_empty() {
            write!(f, "({})", self.value)?;
        }
        match &self.column {
            Some(c) => write!(f, " / row {row}, column {c}: {}", self.en),
            None => write!(f, " / row {row}: {}", self.en),
        }
    }
}

/// One source's grants as of a date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantSnapshot {
    /// The source's name (`juki`, `smb:fs01` …); a newer snapshot of the same name supersedes.
    pub source: String,
    /// What kind of file it was read from.
    pub kind: GrantSourceKind,
    /// The date the export describes.
    pub as_of: NaiveDate,
    /// SHA-256 (hex) of the file.
    pub source_sha256: String,
    /// How a CSV was decoded.
    pub encoding: Option<SourceEncoding>,
    /// The grants read.
    pub grants: Vec<Grant>,
    /// What could not be read (kept so the ledger shows it).
    pub errors: Vec<GrantRowError>,
}

/// Which columns of a permission export mean what (TOML). Column names are matched after
/// trimming and full-width → half-width folding.
///
/// ```toml
/// source = "juki"                 # the system's name
/// account = "利用者ID"
/// resource = "業務"               # optional: else `resource_const`
/// resource_prefix = "system:"     # put before the cell's value
/// resource_const = "system:juki"  # when the export is for one system
/// access = "権限"                  # optional: else `default_access`
/// default_access = "use"
/// from = "付与日"                  # optional
/// until = "削除日"                 # optional
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantMapping {
    /// The source name.
    pub source: String,
    /// Account column.
    #[serde(default = "default_account_col")]
    pub account: String,
    /// Resource column.
    #[serde(default)]
    pub resource: Option<String>,
    /// Prefix for the resource column's values.
    #[serde(default)]
    pub resource_prefix: String,
    /// Fixed resource when there is no resource column.
    #[serde(default)]
    pub resource_const: Option<String>,
    /// Access column.
    #[serde(default)]
    pub access: Option<String>,
    /// Access when there is no access column.
    #[serde(default = "default_access")]
    pub default_access: Access,
    /// First-day column.
    #[serde(default)]
    pub from: Option<String>,
    /// Last-day column.
    #[serde(default)]
    pub until: Option<String>,
}

fn default_account_col() -> String {
    "アカウント".into()
}
fn default_access() -> Access {
    Access::Use
}

impl GrantMapping {
    /// The standard layout `アカウント,資源,権限,開始日,終了日` for a source.
    pub fn standard(source: &str) -> Self {
        GrantMapping {
            source: source.to_owned(),
            account: "アカウント".into(),
            resource: Some("資源".into()),
            resource_prefix: String::new(),
            resource_const: None,
            access: Some("権限".into()),
            default_access: Access::Use,
            from: Some("開始日".into()),
            until: Some("終了日".into()),
        }
    }

    /// Reads a mapping from TOML.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let m: GrantMapping = toml::from_str(text).map_err(|e| {
            format!("対応表を読めません / cannot read the column mapping: {e}")
        })?;
        if m.resource.is_none() && m.resource_const.is_none() {
            return Err(
                "対応表に resource か resource_const が必要です / the mapping needs resource or resource_const"
                    .into(),
            );
        }
        Ok(m)
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn check_name(s: &str) -> Result<String, (&'static str, &'static str)> {
    let s = halfwidth(trim(s)).trim().to_owned();
    if s.is_empty() {
        return Err(("空欄です", "empty"));
    }
    if s.chars().count() > MAX_NAME || s.chars().any(char::is_control) {
        return Err(("長すぎるか制御文字を含みます", "too long or has control characters"));
    }
    Ok(s)
}

/// Reads a permission export through a mapping. Every data row becomes a grant or a
/// [`GrantRowError`] naming the row and column; the other rows still import.
pub fn parse_grant_csv(bytes: &[u8], mapping: &GrantMapping, as_of: NaiveDate) -> GrantSnapshot {
    let mut snap = GrantSnapshot {
        source: mapping.source.clone(),
        kind: GrantSourceKind::Csv,
        as_of,
        source_sha256: sha256_hex(bytes),
        encoding: None,
        grants: Vec::new(),
        errors: Vec::new(),
    };
    let (enc, file) = open_csv(bytes);
    snap.encoding = enc;
    let mut file = match file {
        Ok(f) => f,
        Err(p) => {
            let (ja, en) = match p {
                CsvFileProblem::Utf16 => ("UTF-16 は読めません", "UTF-16 is not supported; save as UTF-8 or CP932"),
                CsvFileProblem::EmptyFile => ("空のファイルです", "empty file"),
                CsvFileProblem::Csv(_) => ("CSV として読めません", "not CSV"),
            };
            snap.errors.push(GrantRowError::new(1, None, "", ja, en));
            return snap;
        }
    };
    let names = header_names(&file.header);
    let find = |want: &str| names.iter().position(|n| n == &halfwidth(want).trim().to_owned());
    let mut cols: BTreeMap<&str, Option<usize>> = BTreeMap::new();
    let mut missing = Vec::new();
    let mut need = |key: &'static str, name: Option<&String>| {
        if let Some(n) = name {
            let pos = find(n);
            if pos.is_none() {
                missing.push(n.clone());
            }
            cols.insert(key, pos);
        } else {
            cols.insert(key, None);
        }
    };
    need("account", Some(&mapping.account));
    need("resource", mapping.resource.as_ref());
    need("access", mapping.access.as_ref());
    need("from", mapping.from.as_ref());
    need("until", mapping.until.as_ref());
    if !missing.is_empty() {
        snap.errors.push(GrantRowError::new(
            1,
            Some(&missing.join(",")),
            "",
            "見出し行に列がありません",
            "column missing from the header row (check the mapping)",
        ));
        return snap;
    }
    let mut row = 1u64;
    for rec in file.records.by_ref() {
        row += 1;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                snap.errors.push(GrantRowError::new(row, None, &e.to_string(), "CSV として読めません", "not CSV"));
                continue;
            }
        };
        if rec.iter().all(|c| trim(c).is_empty()) {
            continue;
        }
        let cell = |key: &str| cols[key].and_then(|i| rec.get(i)).unwrap_or("");
        let colname = |key: &str| -> String {
            match key {
                "account" => mapping.account.clone(),
                "resource" => mapping.resource.clone().unwrap_or_default(),
                "access" => mapping.access.clone().unwrap_or_default(),
                "from" => mapping.from.clone().unwrap_or_default(),
                _ => mapping.until.clone().unwrap_or_default(),
            }
        };
        let mut errs = Vec::new();
        let account = match AccountName::parse(cell("account")) {
            Ok(a) => Some(a),
            Err(e) => {
                errs.push(GrantRowError::new(row, Some(&colname("account")), cell("account"), e.ja(), e.en()));
                None
            }
        };
        let resource = match (&mapping.resource, &mapping.resource_const) {
            (Some(_), _) => match check_name(cell("resource")) {
                Ok(r) => Some(format!("{}{}", mapping.resource_prefix, r.to_lowercase())),
                Err((ja, en)) => {
                    errs.push(GrantRowError::new(row, Some(&colname("resource")), cell("resource"), ja, en));
                    None
                }
            },
            (None, Some(c)) => Some(c.to_lowercase()),
            (None, None) => None,
        };
        let access = if mapping.access.is_some() {
            let v = cell("access");
            if trim(v).is_empty() {
                Some(mapping.default_access)
            } else {
                let a = Access::parse(v);
                if a.is_none() {
                    errs.push(GrantRowError::new(
                        row,
                        Some(&colname("access")),
                        v,
                        "権限として読めません(参照・利用・更新・管理)",
                        "not an access level (read, use, write, admin)",
                    ));
                }
                a
            }
        } else {
            Some(mapping.default_access)
        };
        let mut date = |key: &str| -> Option<NaiveDate> {
            let v = trim(cell(key));
            if v.is_empty() {
                return None;
            }
            match parse_date(v) {
                Ok(d) => Some(d),
                Err(e) => {
                    errs.push(GrantRowError::new(row, Some(&colname(key)), v, &e.ja(), &e.en()));
                    None
                }
            }
        };
        let from = date("from");
        let until = date("until");
        if let (Some(f), Some(u)) = (from, until)
            && u < f
        {
            errs.push(GrantRowError::new(
                row,
                Some(&colname("until")),
                cell("until"),
                "終了日が開始日より前です",
                "last day is before the first day",
            ));
        }
        match (errs.is_empty(), account, resource, access) {
            (true, Some(a), Some(r), Some(acc)) => snap.grants.push(Grant {
                principal: Principal::Account(a),
                resource: r,
                access: acc,
                from,
                until,
                origin: row,
            }),
            _ => snap.errors.append(&mut errs),
        }
    }
    snap.grants.sort();
    snap
}

/// Reads Samba's `smb.conf` into share grants (resource `share:<name>`), for the source
/// `source` (e.g. `smb:fs01`).
///
/// Hand-written: there is no maintained smb.conf parser crate, and the subset needed is
/// small: `[section]`, `name = value`, `#`/`;` comments, `\` continuation lines, parameter
/// names compared without case or spaces (`validusers` = `valid users`), synonyms
/// (`writable`/`writeable`/`write ok` = not `read only`). `[global]`, `[printers]` and
/// `[print$]` are not shares of data; `[homes]` becomes `share:homes` for Everyone (each user
/// their own directory). Unknown parameters are ignored (they do not grant anything); lines
/// that are not parameters are reported, not dropped.
pub fn parse_smb_conf(text: &str, source: &str, as_of: NaiveDate) -> GrantSnapshot {
    #[derive(Default)]
    struct Share {
        line: u64,
        valid: Vec<(String, u64)>,
        read_list: Vec<(String, u64)>,
        write_list: Vec<(String, u64)>,
        admin: Vec<(String, u64)>,
        read_only: bool,
        available: bool,
        guest_ok: bool,
    }
    let mut snap = GrantSnapshot {
        source: source.to_owned(),
        kind: GrantSourceKind::Samba,
        as_of,
        source_sha256: sha256_hex(text.as_bytes()),
        encoding: None,
        grants: Vec::new(),
        errors: Vec::new(),
    };
    let mut shares: Vec<(String, Share)> = Vec::new();
    let mut global_read_only = true;
    let mut current: Option<usize> = None;
    let mut in_global = false;
    let mut pending = String::new();
    let mut pending_line = 0u64;
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0usize;
    while i < lines.len() {
        let lineno = i as u64 + 1;
        let raw = lines[i];
        i += 1;
        let t = raw.trim();
        if pending.is_empty() && (t.is_empty() || t.starts_with('#') || t.starts_with(';')) {
            continue;
        }
        if pending.is_empty() {
            pending_line = lineno;
        }
        if let Some(body) = t.strip_suffix('\\') {
            pending.push_str(body);
            pending.push(' ');
            continue;
        }
        pending.push_str(t);
        let line = std::mem::take(&mut pending);
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            let name = name.trim().to_lowercase();
            in_global = name == "global";
            if in_global || name == "printers" || name == "print$" {
                current = None;
                continue;
            }
            shares.push((
                name,
                Share {
                    line: pending_line,
                    read_only: global_read_only,
                    available: true,
                    ..Default::default()
                },
            ));
            current = Some(shares.len() - 1);
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            snap.errors.push(GrantRowError::new(
                pending_line,
                None,
                line,
                "「名前 = 値」の形ではありません",
                "not a 'name = value' line",
            ));
            continue;
        };
        let key: String = k.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_lowercase();
        let v = v.trim();
        let yes = matches!(v.to_lowercase().as_str(), "yes" | "true" | "1" | "on");
        if in_global {
            match key.as_str() {
                "readonly" => global_read_only = yes,
                "writable" | "writeable" | "writeok" => global_read_only = !yes,
                _ => {}
            }
            continue;
        }
        let Some(ci) = current else { continue };
        let sh = &mut shares[ci].1;
        let names = || split_users(v).into_iter().map(|n| (n, pending_line)).collect::<Vec<_>>();
        match key.as_str() {
            "validusers" => sh.valid.extend(names()),
            "readlist" => sh.read_list.extend(names()),
            "writelist" => sh.write_list.extend(names()),
            "adminusers" => sh.admin.extend(names()),
            "readonly" => sh.read_only = yes,
            "writable" | "writeable" | "writeok" => sh.read_only = !yes,
            "available" => sh.available = yes,
            "guestok" | "public" => sh.guest_ok = yes,
            _ => {}
        }
    }
    for (name, sh) in shares {
        if !sh.available {
            continue;
        }
        let resource = format!("share:{name}");
        let base = if sh.read_only { Access::Read } else { Access::Write };
        if sh.valid.is_empty() {
            // No valid users: every authenticated user (and guests if guest ok) may connect.
            snap.grants.push(Grant {
                principal: Principal::Everyone,
                resource: resource.clone(),
                access: base,
                from: None,
                until: None,
                origin: sh.line,
            });
        }
        let mut push = |who: &str, line: u64, access: Access, errors: &mut Vec<GrantRowError>| {
            match principal_of(who) {
                Ok(p) => snap.grants.push(Grant {
                    principal: p,
                    resource: resource.clone(),
                    access,
                    from: None,
                    until: None,
                    origin: line,
                }),
                Err(e) => errors.push(GrantRowError::new(line, Some("valid users"), who, e.ja(), e.en())),
            }
        };
        let mut errors = Vec::new();
        for (who, line) in &sh.valid {
            let access = if sh.write_list.iter().any(|(w, _)| w == who) {
                Access::Write
            } else if sh.read_list.iter().any(|(w, _)| w == who) {
                Access::Read
            } else {
                base
            };
            push(who, *line, access, &mut errors);
        }
        // read list / write list name people outside valid users too; Samba still refuses
        // them when valid users is set, so only add them when it is not.
        if sh.valid.is_empty() {
            for (who, line) in &sh.write_list {
                push(who, *line, Access::Write, &mut errors);
            }
            for (who, line) in &sh.read_list {
                push(who, *line, Access::Read, &mut errors);
            }
        }
        for (who, line) in &sh.admin {
            push(who, *line, Access::Admin, &mut errors);
        }
        snap.errors.extend(errors);
    }
    snap.grants.sort();
    snap.grants.dedup_by(|a, b| a.principal == b.principal && a.resource == b.resource && a.access == b.access);
    snap
}

/// Splits a Samba user list: names separated by spaces or commas, `"quoted names"`.
fn split_users(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in v.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' | '\t' | ',' if !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `@group`, `+group`, `&group` (and `+&`, `&+`) are groups; `%S` (the share's own user) is
/// kept as an account name; anything else is an account (`DOMAIN\user` allowed).
fn principal_of(who: &str) -> Result<Principal, crate::account::AccountError> {
    let g = who.trim_start_matches(['@', '+', '&']);
    if g.len() != who.len() {
        if g.is_empty() {
            return Err(crate::account::AccountError::Empty);
        }
        let g = g.rsplit('\\').next().unwrap_or(g);
        return Ok(Principal::Group(g.to_lowercase()));
    }
    AccountName::parse(who).map(Principal::Account)
}

/// One entitlement: a department may have this access to resources matching a pattern.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entitlement {
    /// 所属コード.
    pub department: String,
    /// A resource or a pattern ending in `*` (`share:shimin-*`).
    pub resource: String,
    /// The most access the department should have (default: any).
    #[serde(default)]
    pub access: Option<Access>,
    /// First day (default: always).
    #[serde(default, deserialize_with = "opt_date")]
    pub from: Option<NaiveDate>,
    /// Last day (default: open).
    #[serde(default, deserialize_with = "opt_date")]
    pub until: Option<NaiveDate>,
    /// Why (根拠: 条例・事務分掌).
    #[serde(default)]
    pub reason: String,
}

impl Entitlement {
    /// True when this entry allows `resource` with `access` on `date` (department checked by
    /// the caller).
    pub fn allows(&self, resource: &str, access: Access, date: NaiveDate) -> bool {
        let pattern_ok = match self.resource.strip_suffix('*') {
            Some(prefix) => resource.starts_with(&prefix.to_lowercase()),
            None => resource == self.resource.to_lowercase(),
        };
        pattern_ok
            && self.access.is_none_or(|a| access <= a)
            && self.from.is_none_or(|f| f <= date)
            && self.until.is_none_or(|u| date <= u)
    }
}

/// A date written as a TOML date (`2020-04-01`) or a string (`"令和2年4月1日"`); JSON
/// strings too (the ledgered form).
fn opt_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    let v: Option<toml::Value> = Option::deserialize(d)?;
    let text = match v {
        None => return Ok(None),
        Some(toml::Value::Datetime(dt)) => dt.to_string(),
        Some(toml::Value::String(s)) => s,
        Some(other) => return Err(serde::de::Error::custom(format!("not a date: {other}"))),
    };
    parse_date(&text).map(Some).map_err(serde::de::Error::custom)
}

/// A department's place in the organisation, when the code does not say it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Department {
    /// 所属コード.
    pub code: String,
    /// 所属名.
    #[serde(default)]
    pub name: String,
    /// The parent's 所属コード (課 → 部).
    #[serde(default)]
    pub parent: Option<String>,
}

/// The entitlement policy (TOML):
///
/// ```toml
/// [[department]]
/// code = "2010"
/// name = "市民課"
/// parent = "20"
///
/// [[entitlement]]
/// department = "2010"
/// resource = "system:juki"
/// access = "write"
/// from = 2019-04-01
/// reason = "住民基本台帳事務"
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntitlementSet {
    /// Department hierarchy entries.
    #[serde(default, rename = "department")]
    pub departments: Vec<Department>,
    /// The entitlements.
    #[serde(default, rename = "entitlement")]
    pub entitlements: Vec<Entitlement>,
    /// Resources every employee may use (mail, groupware), patterns as in [`Entitlement`].
    #[serde(default)]
    pub everyone: Vec<String>,
}

impl EntitlementSet {
    /// Reads the policy from TOML, checking every entry (messages name the entry).
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let set: EntitlementSet = toml::from_str(text)
            .map_err(|e| format!("権限基準を読めません / cannot read the entitlements: {e}"))?;
        for (i, e) in set.entitlements.iter().enumerate() {
            let n = i + 1;
            if trim(&e.department).is_empty() || trim(&e.resource).is_empty() {
                return Err(format!(
                    "{n}件目の entitlement: department と resource が必要です / entitlement {n}: department and resource are required"
                ));
            }
            if let (Some(f), Some(u)) = (e.from, e.until)
                && u < f
            {
                return Err(format!(
                    "{n}件目の entitlement: until が from より前です / entitlement {n}: until is before from"
                ));
            }
        }
        Ok(set)
    }

    /// The explicit parent of a department, if the set gives one.
    pub fn parent_of(&self, code: &str) -> Option<&str> {
        self.departments
            .iter()
            .find(|d| d.code == code)
            .and_then(|d| d.parent.as_deref())
    }
}

/// The parent of `code`: the set's explicit parent, else the longest code in `known` that is
/// a proper prefix of it.
pub fn parent_department<'a>(
    code: &str,
    set: Option<&'a EntitlementSet>,
    known: &'a BTreeSet<String>,
) -> Option<String> {
    if let Some(p) = set.and_then(|s| s.parent_of(code)) {
        return Some(p.to_owned());
    }
    known
        .iter()
        .filter(|k| k.len() < code.len() && code.starts_with(k.as_str()) && !k.is_empty())
        .max_by_key(|k| k.len())
        .cloned()
}

/// The department and its ancestors, nearest first (cycles cut).
pub fn department_chain(
    code: &str,
    set: Option<&EntitlementSet>,
    known: &BTreeSet<String>,
) -> Vec<String> {
    let mut out = vec![code.to_owned()];
    let mut cur = code.to_owned();
    while let Some(p) = parent_department(&cur, set, known) {
        if out.contains(&p) {
            break;
        }
        out.push(p.clone());
        cur = p;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    #[test]
    fn smb_conf_lists_and_groups() {
        let conf = "[global]\n  workgroup = CITY\n[shimin]\n  path = /srv/shimin\n  valid users = @shimin-ka, sato.h \\\n    \"suzuki k\"\n  read only = no\n  read list = sato.h\n[open]\n  path=/srv/open\n[printers]\n  path=/var/spool\nbogus line\n";
        let s = parse_smb_conf(conf, "smb:fs01", d("2024-04-01"));
        let sato = AccountName::parse("sato.h").unwrap();
        assert!(s.grants.iter().any(|g| g.principal == Principal::Group("shimin-ka".into())
            && g.resource == "share:shimin"
            && g.access == Access::Write));
        assert!(s.grants.iter().any(|g| g.principal == Principal::Account(sato.clone())
            && g.access == Access::Read));
        assert!(s.grants.iter().any(|g| g.principal == Principal::Everyone && g.resource == "share:open" && g.access == Access::Read));
        assert!(!s.grants.iter().any(|g| g.resource == "share:printers"));
        // "suzuki k" has a space: not an account name, reported with its line.
        assert!(s.errors.iter().any(|e| e.value == "suzuki k" && e.row == 5));
        assert!(s.errors.iter().any(|e| e.row == 13));
    }

    #[test]
    fn csv_mapping_errors_name_row_and_column() {
        let csv = "利用者ID,業務,権限,付与日\nsato.h,JUKI,更新,R2.4.1\nbad user,JUKI,更新,\nito.k,JUKI,なにか,\n";
        let m = GrantMapping {
            source: "juki".into(),
            account: "利用者ID".into(),
            resource: Some("業務".into()),
            resource_prefix: "system:".into(),
            resource_const: None,
            access: Some("権限".into()),
            default_access: Access::Use,
            from: Some("付与日".into()),
            until: None,
        };
        let s = parse_grant_csv(csv.as_bytes(), &m, d("2024-04-01"));
        assert_eq!(s.grants.len(), 1);
        assert_eq!(s.grants[0].resource, "system:juki");
        assert_eq!(s.grants[0].from, Some(d("2020-04-01")));
        assert_eq!(s.errors.len(), 2);
        assert_eq!((s.errors[0].row, s.errors[0].column.as_deref()), (3, Some("利用者ID")));
        assert_eq!((s.errors[1].row, s.errors[1].column.as_deref()), (4, Some("権限")));
        assert!(s.errors[1].to_string().starts_with("4行目「権限」"));
    }

    #[test]
    fn entitlement_patterns_and_chain() {
        let set = EntitlementSet::from_toml(
            "[[department]]\ncode = \"C1\"\nparent = \"B\"\n[[entitlement]]\ndepartment = \"B\"\nresource = \"share:shimin-*\"\naccess = \"read\"\nfrom = 2020-04-01\n",
        )
        .unwrap();
        let e = &set.entitlements[0];
        assert!(e.allows("share:shimin-a", Access::Read, d("2021-01-01")));
        assert!(!e.allows("share:shimin-a", Access::Write, d("2021-01-01")));
        assert!(!e.allows("share:shimin-a", Access::Read, d("2019-01-01")));
        let known: BTreeSet<String> = ["20", "2010", "201010"].map(String::from).into();
        assert_eq!(department_chain("201010", None, &known), vec!["201010", "2010", "20"]);
        assert_eq!(department_chain("C1", Some(&set), &known), vec!["C1", "B"]);
    }
}
