//! What the rules may ask about the organisation, at the event's date: the [`Context`] trait,
//! the municipal [`Policy`] it reads its settings from, and [`DirectoryContext`], the
//! implementation over `mamori_directory` (roster, USB 管理台帳) and the policy.
//!
//! Resources are named like the directory's access grants: `system:<name>` (a business
//! system, from `mamori.export.system` / `mamori.system`), `share:<name>` (a file share, from
//! `mamori.share`), `folder:<path>` (a path on a share). Patterns may end in `*`.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveTime};
use mamori_directory::{Directory, PersonState, Resolution, Status, UsbRegistry, UsbVerdict};
use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::event::Event;

/// A person as the rules see them on one date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// 職員番号.
    pub staff_id: String,
    /// 氏名.
    pub name: String,
    /// Main department code on that date (the last one when retired).
    pub dept_code: Option<String>,
    /// Its name.
    pub dept_name: Option<String>,
    /// Every department code held that day (main + 兼務).
    pub depts: Vec<String>,
    /// 在職状況 that day.
    pub status: Status,
    /// Last day of employment when retired.
    pub retired_after: Option<NaiveDate>,
}

impl Person {
    /// From the directory's state.
    pub fn from_state(s: &PersonState) -> Person {
        let post = s.post.as_ref().or(s.last_post.as_ref());
        Person {
            staff_id: s.staff_id.clone(),
            name: s.name.clone(),
            dept_code: post.map(|p| p.dept_code.clone()),
            dept_name: post.map(|p| p.dept_name.clone()),
            depts: s.dept_codes().into_iter().map(str::to_owned).collect(),
            status: s.status,
            retired_after: if s.status == Status::Retired { s.period.as_ref().and_then(|p| p.end) } else { None },
        }
    }
}

/// Who an account was on a date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Subject {
    /// One person.
    Person(Person),
    /// A shared account (several holders employed that day).
    Shared(Vec<String>),
    /// Nobody the directory knows (external, not in the roster, or no account at all).
    Unknown,
}

impl Subject {
    /// The person, when one.
    pub fn person(&self) -> Option<&Person> {
        match self {
            Subject::Person(p) => Some(p),
            _ => None,
        }
    }
}

/// What the USB 管理台帳 says about a device on a day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsbCheck {
    /// Registered and active; the registration id.
    Registered(String),
    /// Registered but reported lost or disposed of.
    LostOrDisposed(String),
    /// Not registered.
    Unregistered,
}

/// The takeout (持出) channel an approval covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Removable media (USB memory, external disk, DVD).
    Media,
    /// External e-mail with attachments.
    Mail,
    /// Anything else (cloud share, print).
    Other,
}

/// The questions rules ask. Every answer is for the given date (the event's local date);
/// implementations answer "as known" from what has been ledgered before the event.
pub trait Context {
    /// The municipal policy (office hours, resources, thresholds).
    fn policy(&self) -> &Policy;
    /// The working calendar.
    fn calendar(&self) -> &Calendar;
    /// Who `account` was on `date`.
    fn subject(&self, account: &str, date: NaiveDate) -> Subject;
    /// The main departments a person held before `date` (oldest first, with their first day).
    fn departments_before(&self, staff_id: &str, date: NaiveDate) -> Vec<(String, NaiveDate)>;
    /// True when a person (by their departments that day, or an individual grant for one of
    /// their accounts, or the "everyone" list) is entitled to `resource` on `date`.
    fn entitled(&self, person: &Person, depts: &[String], resource: &str, date: NaiveDate) -> bool;
    /// True when some entitlement names `resource` at all (else entitlement questions about it
    /// have no answer and the rules stay quiet).
    fn governed(&self, resource: &str) -> bool;
    /// The USB 管理台帳 verdict.
    fn usb(&self, vendor: &str, product: &str, serial: &str, date: NaiveDate) -> UsbCheck;
    /// An approved takeout (持出申請) covering this person, date and channel (the event gives
    /// the device or the recipients and the record count): its request id. Answered from the
    /// directory's ledgered takeout requests (approved by the supervisor), and from the
    /// policy's `[[takeout]]` list.
    fn approved_takeout(&self, staff_id: &str, date: NaiveDate, channel: Channel, ev: &Event<'_>) -> Option<String>;
    /// Private (home) mail addresses known for the person, lower-case.
    fn home_addresses(&self, staff_id: &str) -> Vec<String>;
    /// True when the mail domain is the city's own.
    fn is_internal_domain(&self, domain: &str) -> bool;
    /// True when the account was disabled in the directory (LDAP/AD) on that date.
    fn account_disabled(&self, account: &str, date: NaiveDate) -> bool;
}

/// Office hours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficeHours {
    /// Start (default 08:30).
    pub start: NaiveTime,
    /// End (default 17:15).
    pub end: NaiveTime,
    /// Grace minutes before and after (default 60): overtime is normal.
    #[serde(default = "d60")]
    pub grace_minutes: u32,
}

fn d60() -> u32 {
    60
}

impl Default for OfficeHours {
    fn default() -> Self {
        OfficeHours { start: NaiveTime::from_hms_opt(8, 30, 0).unwrap(), end: NaiveTime::from_hms_opt(17, 15, 0).unwrap(), grace_minutes: 60 }
    }
}

/// A department's entitlement to a resource pattern (same shape as the directory's
/// entitlement policy).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeptEntitlement {
    /// 所属コード.
    pub department: String,
    /// Resource or pattern ending in `*`.
    pub resource: String,
    /// First day.
    #[serde(default)]
    pub from: Option<NaiveDate>,
    /// Last day.
    #[serde(default)]
    pub until: Option<NaiveDate>,
}

/// An individual grant (an account, by user part).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonGrant {
    /// 職員番号.
    pub staff_id: String,
    /// Resource or pattern.
    pub resource: String,
    /// First day.
    #[serde(default)]
    pub from: Option<NaiveDate>,
    /// Last day.
    #[serde(default)]
    pub until: Option<NaiveDate>,
}

/// An approved takeout (until the directory's takeout requests are available).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Takeout {
    /// 申請番号.
    pub request_id: String,
    /// 職員番号.
    pub staff_id: String,
    /// First day covered.
    pub from: NaiveDate,
    /// Last day covered.
    pub until: NaiveDate,
    /// Channel.
    pub channel: Channel,
    /// Approver.
    #[serde(default)]
    pub approved_by: String,
}

/// A sensitive share (Hirosaki: the HR share).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sensitive {
    /// The resource (pattern).
    pub resource: String,
    /// Days from the first access seen during which readers are learnt, not flagged.
    #[serde(default = "d14")]
    pub learning_days: u32,
}

fn d14() -> u32 {
    14
}

/// Thresholds for bulk export.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkPolicy {
    /// Days with exports needed before a baseline is trusted.
    pub min_history_days: usize,
    /// Robust z: alert above median + k × 1.4826 × MAD.
    pub k: f64,
    /// Never alert below this many records in a day.
    pub min_records: f64,
    /// Without any usable baseline, alert at this many records in a day.
    pub ceiling: f64,
    /// Days of history kept.
    pub history_days: i64,
}

impl Default for BulkPolicy {
    fn default() -> Self {
        BulkPolicy { min_history_days: 5, k: 6.0, min_records: 1000.0, ceiling: 10000.0, history_days: 120 }
    }
}

/// The municipal policy: everything the rule pack is configured with (TOML; ledgered as a
/// `detection-policy-changed` admin entry so detection replays identically).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// UTC offset of the city, hours (9).
    pub utc_offset_hours: i32,
    /// Office hours.
    pub office_hours: OfficeHours,
    /// Extra closed days.
    pub extra_closed: Vec<NaiveDate>,
    /// Extra working days.
    pub extra_open: Vec<NaiveDate>,
    /// Department entitlements.
    #[serde(rename = "entitlement")]
    pub entitlements: Vec<DeptEntitlement>,
    /// Resources everyone may use.
    pub everyone: Vec<String>,
    /// Individual grants.
    #[serde(rename = "grant")]
    pub grants: Vec<PersonGrant>,
    /// Approved takeouts.
    #[serde(rename = "takeout")]
    pub takeouts: Vec<Takeout>,
    /// Home mail addresses by 職員番号.
    pub home_addresses: BTreeMap<String, Vec<String>>,
    /// Additional free-mail domains.
    pub free_mail_domains: Vec<String>,
    /// Sensitive shares.
    #[serde(rename = "sensitive")]
    pub sensitive: Vec<Sensitive>,
    /// All-staff folders (全庁共有) where handover files go, as resource patterns.
    pub all_staff: Vec<String>,
    /// The handover window, as `MM-DD` from and to (default 03-15 .. 04-15).
    pub handover_window: (String, String),
    /// Departments whose staff administer audit settings (情報政策課).
    pub audit_admin_departments: Vec<String>,
    /// Bulk export thresholds.
    pub bulk: BulkPolicy,
    /// Takeouts in `repeated_window_days` at or above which kamaishi_repeated fires.
    pub repeated_threshold: usize,
    /// Window for kamaishi_repeated.
    pub repeated_window_days: i64,
    /// Hours within which an external share invitation must be revoked.
    pub invite_revoke_within_hours: i64,
    /// Hours after which data received from an entitled colleague no longer counts as flowing.
    pub proxy_window_hours: i64,
    /// Accounts disabled in the directory, with the first day disabled (until LDAP sync is
    /// available to detection).
    pub disabled_accounts: BTreeMap<String, NaiveDate>,
    /// Web browsing the city forbids (ikeda_inappropriate_browsing).
    pub browsing: BrowsingPolicy,
}

/// Forbidden web categories (`[browsing]`): which of the bundled categories apply and the
/// city's own domain entries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrowsingPolicy {
    /// Forbidden categories (default: every bundled one — gambling, adult, dating). Empty
    /// turns the rule off.
    pub categories: Vec<String>,
    /// The city's entries, domain → category (its own category names allowed; `allow`
    /// exempts a domain the bundled list names).
    pub domains: BTreeMap<String, String>,
}

impl Default for BrowsingPolicy {
    fn default() -> Self {
        BrowsingPolicy { categories: crate::lists::WEB_CATEGORIES.iter().map(|(c, _)| (*c).to_owned()).collect(), domains: BTreeMap::new() }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            utc_offset_hours: 9,
            office_hours: OfficeHours::default(),
            extra_closed: Vec::new(),
            extra_open: Vec::new(),
            entitlements: Vec::new(),
            everyone: Vec::new(),
            grants: Vec::new(),
            takeouts: Vec::new(),
            home_addresses: BTreeMap::new(),
            free_mail_domains: Vec::new(),
            sensitive: Vec::new(),
            all_staff: Vec::new(),
            handover_window: ("03-15".into(), "04-15".into()),
            audit_admin_departments: Vec::new(),
            bulk: BulkPolicy::default(),
            repeated_threshold: 3,
            repeated_window_days: 365,
            invite_revoke_within_hours: 72,
            proxy_window_hours: 72,
            disabled_accounts: BTreeMap::new(),
            browsing: BrowsingPolicy::default(),
        }
    }
}

impl Policy {
    /// Reads the policy from TOML; errors name the problem (Japanese, then English).
    pub fn from_toml(text: &str) -> Result<Policy, String> {
        let err = |e: &dyn std::fmt::Display| format!("検知ポリシーを読めません / cannot read the detection policy: {e}");
        let mut v: toml::Value = toml::from_str(text).map_err(|e| err(&e))?;
        // TOML dates (`from = 2026-04-01`) become strings, which chrono reads.
        fn dates_to_strings(v: &mut toml::Value) {
            match v {
                toml::Value::Datetime(d) => *v = toml::Value::String(d.to_string()),
                toml::Value::Array(a) => a.iter_mut().for_each(dates_to_strings),
                toml::Value::Table(t) => t.iter_mut().for_each(|(_, x)| dates_to_strings(x)),
                _ => {}
            }
        }
        dates_to_strings(&mut v);
        Policy::deserialize(v).map_err(|e| err(&e))
    }

    /// The time zone.
    pub fn zone(&self) -> chrono::FixedOffset {
        chrono::FixedOffset::east_opt(self.utc_offset_hours * 3600).unwrap_or_else(|| chrono::FixedOffset::east_opt(9 * 3600).unwrap())
    }

    /// The calendar.
    pub fn calendar(&self) -> Calendar {
        Calendar { extra_closed: self.extra_closed.clone(), extra_open: self.extra_open.clone() }
    }

    /// True when `date` is within the handover window.
    pub fn in_handover_window(&self, date: NaiveDate) -> bool {
        let md = date.format("%m-%d").to_string();
        let (a, b) = &self.handover_window;
        if a <= b { md >= *a && md <= *b } else { md >= *a || md <= *b }
    }
}

/// True when `resource` matches `pattern` (exact, or a prefix when the pattern ends in `*`),
/// case-insensitively.
pub fn matches_resource(pattern: &str, resource: &str) -> bool {
    let p = pattern.to_lowercase();
    let r = resource.to_lowercase();
    match p.strip_suffix('*') {
        Some(prefix) => r.starts_with(prefix),
        None => r == p,
    }
}

fn in_dates(from: Option<NaiveDate>, until: Option<NaiveDate>, d: NaiveDate) -> bool {
    from.is_none_or(|f| f <= d) && until.is_none_or(|u| d <= u)
}

/// The resources an event touches: `system:` from `mamori.export.system`/`mamori.system`,
/// `share:` from `mamori.share`, `folder:` from `mamori.share` + `file.path`.
pub fn resources(ev: &Event<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for f in ["mamori.export.system", "mamori.system"] {
        if let Some(s) = ev.str(f) {
            out.push(format!("system:{}", s.to_lowercase()));
        }
    }
    let share = ev.str("mamori.share").or_else(|| ev.str("mamori.share.name"));
    if let Some(s) = share {
        out.push(format!("share:{}", s.to_lowercase()));
        if let Some(p) = ev.str("file.path") {
            out.push(format!("folder:{}{}", s.to_lowercase(), p));
        }
    }
    out
}

/// [`Context`] over the staff directory, the USB registry and the policy. Detection keeps one
/// and feeds it the ledgered admin records in ledger order (see [`crate::Engine`]).
#[derive(Clone, Debug, Default)]
pub struct DirectoryContext {
    /// The staff directory.
    pub directory: Directory,
    /// The USB 管理台帳.
    pub usb: UsbRegistry,
    /// The policy.
    pub policy: Policy,
    calendar: Calendar,
}

impl DirectoryContext {
    /// A context from its parts.
    pub fn new(directory: Directory, usb: UsbRegistry, policy: Policy) -> Self {
        let calendar = policy.calendar();
        DirectoryContext { directory, usb, policy, calendar }
    }

    /// Replaces the policy.
    pub fn set_policy(&mut self, policy: Policy) {
        self.calendar = policy.calendar();
        self.policy = policy;
    }
}

impl Context for DirectoryContext {
    fn policy(&self) -> &Policy {
        &self.policy
    }

    fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    fn subject(&self, account: &str, date: NaiveDate) -> Subject {
        match self.directory.resolve(account, date) {
            Resolution::Person(p) => Subject::Person(Person::from_state(&p)),
            Resolution::Shared(ps) => Subject::Shared(ps.iter().map(|p| p.staff_id.clone()).collect()),
            Resolution::Unknown(_) => Subject::Unknown,
        }
    }

    fn departments_before(&self, staff_id: &str, date: NaiveDate) -> Vec<(String, NaiveDate)> {
        let mut out: Vec<(String, NaiveDate)> = Vec::new();
        let mut rows = self.directory.history(staff_id, mamori_directory::KnownAt::Latest);
        rows.sort_by_key(|r| r.effective);
        for r in rows {
            if r.effective >= date || r.dept_code.is_empty() {
                continue;
            }
            if out.last().is_none_or(|(c, _)| *c != r.dept_code) {
                out.push((r.dept_code.clone(), r.effective));
            }
        }
        out
    }

    fn entitled(&self, person: &Person, depts: &[String], resource: &str, date: NaiveDate) -> bool {
        let p = &self.policy;
        p.everyone.iter().any(|e| matches_resource(e, resource))
            || p.entitlements.iter().any(|e| {
                depts.iter().any(|d| dept_within(d, &e.department)) && matches_resource(&e.resource, resource) && in_dates(e.from, e.until, date)
            })
            || p.grants.iter().any(|g| g.staff_id == person.staff_id && matches_resource(&g.resource, resource) && in_dates(g.from, g.until, date))
            || depts.iter().any(|d| self.directory.entitled(d, resource, date))
    }

    fn governed(&self, resource: &str) -> bool {
        self.policy.entitlements.iter().any(|e| matches_resource(&e.resource, resource))
            || self.policy.grants.iter().any(|g| matches_resource(&g.resource, resource))
            || self.directory.entitlement_set().is_some_and(|s| s.entitlements.iter().any(|e| matches_resource(&e.resource, resource)))
    }

    fn usb(&self, vendor: &str, product: &str, serial: &str, date: NaiveDate) -> UsbCheck {
        match self.usb.lookup(vendor, product, serial, date) {
            UsbVerdict::Registered(d) => UsbCheck::Registered(d.registration_id.clone()),
            UsbVerdict::LostOrDisposed(d) => UsbCheck::LostOrDisposed(d.registration_id.clone()),
            UsbVerdict::Unregistered => UsbCheck::Unregistered,
        }
    }

    fn approved_takeout(&self, staff_id: &str, date: NaiveDate, channel: Channel, ev: &Event<'_>) -> Option<String> {
        if let Some(t) = self.policy.takeouts.iter().find(|t| t.staff_id == staff_id && t.channel == channel && t.from <= date && date <= t.until) {
            return Some(t.request_id.clone());
        }
        let ch = match channel {
            Channel::Media => mamori_directory::Channel::Usb {
                vendor_id: ev.text("mamori.usb.vendor_id").unwrap_or_default(),
                product_id: ev.text("mamori.usb.product_id").unwrap_or_default(),
                serial: ev.text("mamori.usb.serial").unwrap_or_default(),
            },
            Channel::Mail => mamori_directory::Channel::Mail { to: ev.recipients() },
            Channel::Other => mamori_directory::Channel::Export { system: ev.str("mamori.export.system").map(str::to_owned) },
        };
        let records = ev.num("mamori.export.records").map(|n| n as u64);
        self.directory.approved_takeout(staff_id, &ch, date, records).map(|t| t.request.id.clone())
    }

    fn home_addresses(&self, staff_id: &str) -> Vec<String> {
        self.policy.home_addresses.get(staff_id).map(|v| v.iter().map(|a| a.to_lowercase()).collect()).unwrap_or_default()
    }

    fn is_internal_domain(&self, domain: &str) -> bool {
        self.directory.is_internal_domain(domain, mamori_directory::KnownAt::Latest)
    }

    fn account_disabled(&self, account: &str, date: NaiveDate) -> bool {
        let user = account.rsplit('\\').next().unwrap_or(account);
        let user = user.split('@').next().unwrap_or(user).to_lowercase();
        self.policy.disabled_accounts.get(&user).is_some_and(|d| *d <= date)
            // The LDAP/AD sync in force that day says the account is disabled.
            || self.directory.ldap_at(date).and_then(|s| s.account(&user)).is_some_and(|a| !a.enabled)
    }
}

/// A department is within an entitled one when equal or a sub-department by code prefix
/// (`2010` is within `20`), as the directory's department hierarchy defaults to.
fn dept_within(dept: &str, entitled: &str) -> bool {
    dept == entitled || (!entitled.is_empty() && dept.starts_with(entitled))
}
