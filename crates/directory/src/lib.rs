//! People over time (issue 6): who a member of staff was on a given day, and whose an account
//! is.
//!
//! Detection needs to join every operation to the person behind it *as they were that day*:
//! Kamaishi's staff A kept getting register data after moving to a department without register
//! access; Hiratsuka's leaver copied 31,429 records the day after his retirement with an
//! account that was still alive. This crate answers those questions from the HR roster.
//!
//! What it does:
//! - parses HR roster CSV (職員名簿・人事異動; UTF-8, UTF-8 with BOM or CP932; Western and
//!   和暦 dates) into checked [`RosterRow`]s and per-row [`RowError`]s that name the row and
//!   column in Japanese and English ([`parse_roster`], [`ImportRecord::from_csv`]); rosters in
//!   other layouts (a personnel system's export) through the sources' declarative mapping
//!   ([`roster_map`], [`ImportRecord::from_mapped_csv`]);
//! - keeps a bitemporal [`Directory`]: valid time = 発令日, recorded time = the import's time,
//!   so "who was X on D" can be asked as known now or as known at an earlier moment
//!   ([`Directory::person_at`], [`KnownAt`]);
//! - lists joiners, movers and leavers between two dates or two roster snapshots
//!   ([`Directory::changes`]);
//! - resolves an account name (`CITY\tanaka.k`, `tanaka.k@city.lg.jp`, an operator ID) to a
//!   person and their state on a date, or to Shared or Unknown, never to nothing
//!   ([`Directory::resolve`]);
//! - keeps the registered removable media ledger (USB 管理台帳), answers whether a device was
//!   registered and active on a date, and writes USBGuard rules from it ([`usb`]).
//!
//! - syncs LDAP/AD accounts, groups, disabled flags and last logons ([`ldap`]);
//! - keeps access grants (permission exports, smb.conf, LDAP groups) and per-department
//!   entitlements ([`access`]), answers [`Directory::grants_of`] and [`Directory::entitled`];
//! - reviews access as of a date (leavers, unjustified grants, dormant, shared, generic and
//!   unknown accounts, wide access) with a ledgered sign-off ([`review`], PDF in [`pdf`]);
//! - takeout requests (持ち出し申請) with the supervisor approval rule and reconciliation of
//!   observed USB writes, mails and exports ([`takeout`], [`Directory::approved_takeout`]);
//! - vendor contracts and deletion-certificate reminders ([`vendor`]).
//!
//! Everything besides the roster and the USB ledger is applied as [`DirectoryRecord`]s
//! ([`book`]) naming who did it.
//!
//! What it does not do: I/O beyond the LDAP client ([`ldap::fetch`]) and reading a font for
//! the PDF; ledgering (the caller ledgers [`ImportRecord`]s and [`DirectoryRecord`]s as JSON
//! and rebuilds the directory by replaying them in ledger order with [`Directory::apply`] and
//! [`Directory::apply_record`]); querying events (the caller hands observed takeouts in).
//!
//! The rules for dates, accounts, imperfect rows and the time model are documented on the
//! modules [`date`], [`account`], [`roster`] and [`directory`].
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod access;
pub mod account;
pub mod book;
pub mod date;
pub mod directory;
pub mod ldap;
pub mod pdf;
pub mod review;
pub mod roster;
pub mod roster_map;
pub mod takeout;
pub mod usb;
pub mod vendor;

pub use access::{
    Access, Entitlement, EntitlementSet, Grant, GrantMapping, GrantRowError, GrantSnapshot,
    Principal, parse_grant_csv, parse_smb_conf,
};
pub use book::{
    DirectoryChange, DirectoryRecord, GrantOf, RECORD_FORMAT, RecordError, UnknownAccount,
    is_generic_account,
};
pub use ldap::{Flavor, LdapSettings, LdapSnapshot, SnapshotDiff};
pub use review::{AccessReview, Finding, FindingKind, ReviewParams, SignOff};
pub use takeout::{
    Channel, Medium, Observed, Reconciled, Takeout, TakeoutAction, TakeoutError, TakeoutRequest,
    TakeoutState, Unmatched,
};
pub use vendor::{VendorAction, VendorContract, VendorReminder};

pub use account::{AccountError, AccountForm, AccountName};
pub use date::{DateError, Era, parse_date};
pub use directory::{
    ApplyError, Change, ChangeKind, Directory, IMPORT_FORMAT, ImportMeta, ImportRecord, KnownAt,
    Period, PersonState, Post, Resolution, SharedAccount, Status, UnknownReason, View,
};
pub use roster::{
    ChangeType, Column, ParsedRoster, Problem, RosterRow, RowError, SourceEncoding, parse_roster,
    parse_roster_detailed,
};
pub use usb::{
    HexField, Owner, ParsedUsbCsv, ReplayError, UsbColumn, UsbDevice, UsbError, UsbImport, UsbKind,
    UsbProblem, UsbRecord, UsbRegistry, UsbRow, UsbRowError, UsbStatus, UsbVerdict, normalize_hex_id,
    parse_usb_csv, usbguard_escape, usbguard_rules,
};
