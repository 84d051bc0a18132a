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
//!   column in Japanese and English ([`parse_roster`], [`ImportRecord::from_csv`]);
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
//! What it does not do: any I/O beyond parsing the bytes it is given, ledgering (the caller
//! ledgers [`ImportRecord`]s as JSON and rebuilds the directory by replaying them in ledger
//! order with [`Directory::apply`]), LDAP/AD sync, access rights or their review, takeout
//! approvals, vendors.
//!
//! The rules for dates, accounts, imperfect rows and the time model are documented on the
//! modules [`date`], [`account`], [`roster`] and [`directory`].
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod account;
pub mod date;
pub mod directory;
pub mod roster;
pub mod usb;

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
