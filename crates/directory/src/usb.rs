//! The registered removable media ledger (USB 管理台帳): which USB sticks the organisation has
//! issued, to whom, and whether each one was in use, lost or disposed of on a given day.
//!
//! Hiratsuka's leaver copied 31,429 records to an ordinary USB stick on a PC that did not
//! restrict USB. The countermeasure local governments adopted is to allow only registered
//! (secure) sticks. This module is that register, as a pure library:
//!
//! - [`UsbRegistry`] is built by applying [`UsbRecord`]s in ledger order ([`UsbRegistry::apply`],
//!   [`UsbRegistry::replay`]); the same records always give the same registry. A record that
//!   would make the register inconsistent (the same `vendor:product:serial` twice, an unknown
//!   管理番号, a bad hexadecimal ID, an empty serial, a change dated before registration, a change
//!   to a disposed device) is refused with a [`UsbError`] and leaves the registry unchanged.
//! - [`parse_usb_csv`] reads the ledger as offices keep it in Excel
//!   (`管理番号,ベンダーID,製品ID,シリアル,種別,所有者,状態,登録日,備考`, UTF-8 with or
//!   without BOM, or CP932; Western or 和暦 dates via [`crate::parse_date`]); malformed rows
//!   become [`UsbRowError`]s naming the row and column while the other rows import
//!   ([`UsbRegistry::import_csv`]).
//! - [`UsbRegistry::lookup`] answers, for a device seen in an event on a day,
//!   [`UsbVerdict::Registered`], [`UsbVerdict::LostOrDisposed`] or [`UsbVerdict::Unregistered`].
//! - [`usbguard_rules`] writes a USBGuard rule file (`usbguard-rules.conf(5)`) that allows the
//!   devices active on a day and blocks every other mass-storage device.
//!
//! ## Identifiers
//!
//! Vendor and product IDs are 16-bit hexadecimal numbers. They are accepted as 1–4 hex digits,
//! upper or lower case, with an optional `0x` and full-width characters (Excel drops the leading
//! zero of `0781`), and stored as 4 lower-case digits (`0781`), as Linux sysfs and USBGuard
//! write them. Serials are compared exactly (case and inner spaces matter: they are what the
//! device reports); an empty serial is refused, because a rule for "no serial" would allow
//! every serial-less stick of that model. CSV cells are trimmed of surrounding spaces.
//!
//! ## Time
//!
//! A device is on the ledger from its 登録日. Its status on a day is the last status change
//! dated on or before that day (changes on the same day: the later record wins). A disposed
//! device cannot change again. Before its 登録日 a device is [`UsbVerdict::Unregistered`]: it was
//! not on the ledger that day.
//!
//! ## USBGuard
//!
//! The generated file holds, per device active on the day, a `#` comment with its 管理番号,
//! kind, owner and note, then
//! `allow id VVVV:PPPP serial "…" with-interface equals { 08:*:* } label "管理番号"`:
//! the device must present only mass-storage interfaces (a "stick" with a hidden keyboard
//! interface does not match). Strings are escaped as USBGuard's own parser writes them: `\"`,
//! `\\`, and `\xHH` for every byte outside printable ASCII (including UTF-8), so the file is
//! ASCII apart from comments. It ends with `block with-interface one-of { 08:*:* }`, which
//! blocks every other device with a mass-storage interface while leaving keyboards and hubs to
//! the rest of the policy. The daemon setting `ImplicitPolicyTarget=block` in
//! `usbguard-daemon.conf(5)` (the packaged default) additionally blocks devices no rule matches;
//! it cannot be set from the rule file. Rules for other device classes (keyboards, readers) are
//! the administrator's and should be placed before this file's final `block` rule.

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::date::{DateError, halfwidth, parse_date};
use crate::roster::{CsvFile, CsvFileProblem, SourceEncoding, header_names, open_csv, trim};

/// Longest value quoted back in a [`UsbRowError`].
const MAX_QUOTED: usize = 60;
/// Longest 管理番号 or serial accepted.
const MAX_LEN: usize = 128;

/// What kind of stick it is (種別).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum UsbKind {
    /// セキュアUSB: managed, with forced encryption and logging.
    Secure,
    /// 暗号化USB: hardware-encrypted.
    Encrypted,
    /// 一般USB: an ordinary stick (registered, e.g. for a closed network).
    Ordinary,
}

impl UsbKind {
    /// The label used in the ledger and in messages.
    pub fn label(self) -> &'static str {
        match self {
            UsbKind::Secure => "セキュアUSB",
            UsbKind::Encrypted => "暗号化USB",
            UsbKind::Ordinary => "一般USB",
        }
    }

    /// Parses a 種別 cell: セキュア(USB), 暗号化(USB), 一般(USB)/通常, or the English names.
    pub fn parse(text: &str) -> Option<UsbKind> {
        let t = halfwidth(text).trim().to_lowercase();
        let t = t.strip_suffix("usb").unwrap_or(&t).trim();
        match t {
            "セキュア" | "secure" => Some(UsbKind::Secure),
            "暗号化" | "encrypted" => Some(UsbKind::Encrypted),
            "一般" | "通常" | "ordinary" => Some(UsbKind::Ordinary),
            _ => None,
        }
    }
}

/// Who holds the device (所有者): a member of staff or a department.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Owner {
    /// A member of staff, by 職員番号.
    Person(String),
    /// A department, by 所属コード.
    Department(String),
}

impl Owner {
    /// Parses a 所有者 cell: `職員:12345` / `staff:12345` or `所属:0101` / `dept:0101`
    /// (full-width colon accepted). A bare value is ambiguous and refused.
    pub fn parse(text: &str) -> Option<Owner> {
        let t = halfwidth(text);
        let (kind, value) = t.split_once(':')?;
        let value = value.trim();
        if value.is_empty() || value.chars().count() > MAX_LEN {
            return None;
        }
        match kind.trim().to_lowercase().as_str() {
            "職員" | "staff" | "person" => Some(Owner::Person(value.to_owned())),
            "所属" | "課" | "dept" | "department" => Some(Owner::Department(value.to_owned())),
            _ => None,
        }
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Person(id) => write!(f, "職員:{id}"),
            Owner::Department(code) => write!(f, "所属:{code}"),
        }
    }
}

/// A device's status (状態).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum UsbStatus {
    /// 使用中: in use.
    Active,
    /// 紛失: lost (may be found again).
    Lost,
    /// 廃棄: disposed of (final).
    Disposed,
}

impl UsbStatus {
    /// The label used in the ledger and in messages.
    pub fn label(self) -> &'static str {
        match self {
            UsbStatus::Active => "使用中",
            UsbStatus::Lost => "紛失",
            UsbStatus::Disposed => "廃棄",
        }
    }

    /// Parses a 状態 cell: 使用中/有効/貸出中, 紛失, 廃棄/廃止, or the English names.
    pub fn parse(text: &str) -> Option<UsbStatus> {
        match halfwidth(text).trim().to_lowercase().as_str() {
            "使用中" | "有効" | "貸出中" | "active" => Some(UsbStatus::Active),
            "紛失" | "lost" => Some(UsbStatus::Lost),
            "廃棄" | "廃止" | "disposed" => Some(UsbStatus::Disposed),
            _ => None,
        }
    }
}

/// A registered device, as of the last record applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsbDevice {
    /// 管理番号.
    pub registration_id: String,
    /// Vendor ID, 4 lower-case hex digits.
    pub vendor_id: String,
    /// Product ID, 4 lower-case hex digits.
    pub product_id: String,
    /// iSerial as the device reports it.
    pub serial: String,
    /// 種別.
    pub kind: UsbKind,
    /// Current 所有者.
    pub owner: Owner,
    /// Current 状態 (the latest-dated change).
    pub status: UsbStatus,
    /// 登録日.
    pub registered_on: NaiveDate,
    /// Date of the latest-dated status change (= 登録日 if none).
    pub status_changed_on: NaiveDate,
    /// 備考 (of the registration or latest change that carried one).
    pub note: String,
    /// Every status from registration on, sorted by date (ties in record order).
    pub status_history: Vec<(NaiveDate, UsbStatus)>,
    /// Every owner from registration on, sorted by date (ties in record order).
    pub owner_history: Vec<(NaiveDate, Owner)>,
}

impl UsbDevice {
    /// The status on `date`, or None before registration.
    pub fn status_on(&self, date: NaiveDate) -> Option<UsbStatus> {
        self.status_history
            .iter()
            .rev()
            .find(|(d, _)| *d <= date)
            .map(|(_, s)| *s)
    }

    /// The owner on `date`, or None before registration.
    pub fn owner_on(&self, date: NaiveDate) -> Option<&Owner> {
        self.owner_history
            .iter()
            .rev()
            .find(|(d, _)| *d <= date)
            .map(|(_, o)| o)
    }

    /// `VVVV:PPPP:serial`, the key that must be unique.
    pub fn key(&self) -> String {
        format!("{}:{}:{}", self.vendor_id, self.product_id, self.serial)
    }
}

/// One entry of the ledger, applied in order by [`UsbRegistry::apply`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum UsbRecord {
    /// A device is registered (登録).
    Registered {
        /// 管理番号.
        id: String,
        /// Vendor ID (hex).
        vendor_id: String,
        /// Product ID (hex).
        product_id: String,
        /// iSerial.
        serial: String,
        /// 種別.
        kind: UsbKind,
        /// 所有者.
        owner: Owner,
        /// 登録日.
        date: NaiveDate,
        /// 備考.
        #[serde(default)]
        note: String,
    },
    /// A device's status changes (紛失, 廃棄, 発見による再開).
    StatusChanged {
        /// 管理番号.
        id: String,
        /// New status.
        status: UsbStatus,
        /// Effective date.
        date: NaiveDate,
        /// 備考.
        #[serde(default)]
        note: String,
    },
    /// A device is handed to another owner (所有者変更).
    OwnerChanged {
        /// 管理番号.
        id: String,
        /// New owner.
        owner: Owner,
        /// Effective date.
        date: NaiveDate,
        /// 備考.
        #[serde(default)]
        note: String,
    },
}

impl UsbRecord {
    /// The 管理番号 the record is about.
    pub fn id(&self) -> &str {
        match self {
            UsbRecord::Registered { id, .. }
            | UsbRecord::StatusChanged { id, .. }
            | UsbRecord::OwnerChanged { id, .. } => id,
        }
    }
}

/// Which ID a hex error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HexField {
    /// ベンダーID.
    Vendor,
    /// 製品ID.
    Product,
}

impl HexField {
    fn ja(self) -> &'static str {
        match self {
            HexField::Vendor => "ベンダーID",
            HexField::Product => "製品ID",
        }
    }
    fn en(self) -> &'static str {
        match self {
            HexField::Vendor => "vendor ID",
            HexField::Product => "product ID",
        }
    }
}

/// Why a record was refused. Display is Japanese first with English beside.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{} / {}", self.ja(), self.en())]
pub enum UsbError {
    /// The same vendor:product:serial is already registered.
    DuplicateDevice {
        /// `VVVV:PPPP:serial`.
        key: String,
        /// The 管理番号 it is registered under.
        existing_id: String,
    },
    /// The 管理番号 is already used.
    DuplicateId {
        /// 管理番号.
        id: String,
    },
    /// No device has this 管理番号.
    UnknownId {
        /// 管理番号.
        id: String,
    },
    /// A vendor or product ID is not 1–4 hex digits.
    InvalidHex {
        /// Which one.
        field: HexField,
        /// The value given.
        value: String,
    },
    /// The serial is empty.
    EmptySerial,
    /// The 管理番号 is empty.
    EmptyId,
    /// 管理番号 or serial longer than 128 characters.
    TooLong,
    /// A change is dated before the device's registration.
    BeforeRegistration {
        /// 管理番号.
        id: String,
        /// The change's date.
        date: NaiveDate,
        /// 登録日.
        registered_on: NaiveDate,
    },
    /// The device was disposed of; nothing can change afterwards.
    AlreadyDisposed {
        /// 管理番号.
        id: String,
    },
}

impl UsbError {
    /// The message in Japanese.
    pub fn ja(&self) -> String {
        match self {
            UsbError::DuplicateDevice { key, existing_id } => {
                format!("同じ媒体({key})が管理番号{existing_id}で登録済みです")
            }
            UsbError::DuplicateId { id } => format!("管理番号{id}は登録済みです"),
            UsbError::UnknownId { id } => format!("管理番号{id}は台帳にありません"),
            UsbError::InvalidHex { field, value } => {
                format!("{}が16進数4桁ではありません({value})", field.ja())
            }
            UsbError::EmptySerial => "シリアルが空です".into(),
            UsbError::EmptyId => "管理番号が空です".into(),
            UsbError::TooLong => "長すぎます(128文字まで)".into(),
            UsbError::BeforeRegistration {
                id,
                date,
                registered_on,
            } => format!("管理番号{id}の変更日{date}が登録日{registered_on}より前です"),
            UsbError::AlreadyDisposed { id } => format!("管理番号{id}は廃棄済みです"),
        }
    }

    /// The message in English.
    pub fn en(&self) -> String {
        match self {
            UsbError::DuplicateDevice { key, existing_id } => {
                format!("device {key} is already registered as {existing_id}")
            }
            UsbError::DuplicateId { id } => format!("registration id {id} already exists"),
            UsbError::UnknownId { id } => format!("no device with registration id {id}"),
            UsbError::InvalidHex { field, value } => {
                format!("{} is not 4 hexadecimal digits ({value})", field.en())
            }
            UsbError::EmptySerial => "empty serial".into(),
            UsbError::EmptyId => "empty registration id".into(),
            UsbError::TooLong => "too long (at most 128 characters)".into(),
            UsbError::BeforeRegistration {
                id,
                date,
                registered_on,
            } => format!("change to {id} dated {date}, before its registration on {registered_on}"),
            UsbError::AlreadyDisposed { id } => format!("{id} has been disposed of"),
        }
    }
}

/// Normalises a USB vendor or product ID to 4 lower-case hex digits (`781`, `0x0781`, `０７８１`
/// → `0781`).
pub fn normalize_hex_id(text: &str, field: HexField) -> Result<String, UsbError> {
    let err = || UsbError::InvalidHex {
        field,
        value: text.chars().take(MAX_QUOTED).collect(),
    };
    let t = halfwidth(text);
    let t = t.trim();
    let digits = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(err());
    }
    let n = u16::from_str_radix(digits, 16).map_err(|_| err())?;
    Ok(format!("{n:04x}"))
}

/// What the ledger says about a device seen on a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsbVerdict<'a> {
    /// Registered and active on that day.
    Registered(&'a UsbDevice),
    /// Registered, but lost or disposed of on that day.
    LostOrDisposed(&'a UsbDevice),
    /// Not on the ledger that day (never registered, or registered later).
    Unregistered,
}

/// A record refused during [`UsbRegistry::replay`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}件目の記録: {} / record {}: {}", self.index + 1, self.error.ja(), self.index + 1, self.error.en())]
pub struct ReplayError {
    /// 0-based position of the record.
    pub index: usize,
    /// Why it was refused.
    pub error: UsbError,
}

/// The registered removable media ledger, rebuilt by replaying [`UsbRecord`]s in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsbRegistry {
    devices: BTreeMap<String, UsbDevice>,
    by_key: BTreeMap<(String, String, String), String>,
}

fn check_len(s: &str) -> Result<(), UsbError> {
    if s.chars().count() > MAX_LEN {
        Err(UsbError::TooLong)
    } else {
        Ok(())
    }
}

impl UsbRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies records in order; stops at the first refused one.
    pub fn replay<'r>(
        records: impl IntoIterator<Item = &'r UsbRecord>,
    ) -> Result<Self, ReplayError> {
        let mut reg = Self::new();
        for (index, r) in records.into_iter().enumerate() {
            reg.apply(r).map_err(|error| ReplayError { index, error })?;
        }
        Ok(reg)
    }

    /// Applies one record. On error the registry is unchanged.
    pub fn apply(&mut self, record: &UsbRecord) -> Result<(), UsbError> {
        match record {
            UsbRecord::Registered {
                id,
                vendor_id,
                product_id,
                serial,
                kind,
                owner,
                date,
                note,
            } => {
                if id.trim().is_empty() {
                    return Err(UsbError::EmptyId);
                }
                check_len(id)?;
                let vendor = normalize_hex_id(vendor_id, HexField::Vendor)?;
                let product = normalize_hex_id(product_id, HexField::Product)?;
                if serial.is_empty() {
                    return Err(UsbError::EmptySerial);
                }
                check_len(serial)?;
                if self.devices.contains_key(id) {
                    return Err(UsbError::DuplicateId { id: id.clone() });
                }
                let key = (vendor.clone(), product.clone(), serial.clone());
                if let Some(existing) = self.by_key.get(&key) {
                    return Err(UsbError::DuplicateDevice {
                        key: format!("{vendor}:{product}:{serial}"),
                        existing_id: existing.clone(),
                    });
                }
                self.by_key.insert(key, id.clone());
                self.devices.insert(
                    id.clone(),
                    UsbDevice {
                        registration_id: id.clone(),
                        vendor_id: vendor,
                        product_id: product,
                        serial: serial.clone(),
                        kind: *kind,
                        owner: owner.clone(),
                        status: UsbStatus::Active,
                        registered_on: *date,
                        status_changed_on: *date,
                        note: note.clone(),
                        status_history: vec![(*date, UsbStatus::Active)],
                        owner_history: vec![(*date, owner.clone())],
                    },
                );
                Ok(())
            }
            UsbRecord::StatusChanged {
                id,
                status,
                date,
                note,
            } => {
                let dev = self.changeable(id, *date)?;
                let pos = dev.status_history.partition_point(|(d, _)| d <= date);
                dev.status_history.insert(pos, (*date, *status));
                let (last_date, last_status) = *dev.status_history.last().expect("non-empty");
                dev.status = last_status;
                dev.status_changed_on = last_date;
                if !note.is_empty() {
                    dev.note = note.clone();
                }
                Ok(())
            }
            UsbRecord::OwnerChanged {
                id,
                owner,
                date,
                note,
            } => {
                let dev = self.changeable(id, *date)?;
                let pos = dev.owner_history.partition_point(|(d, _)| d <= date);
                dev.owner_history.insert(pos, (*date, owner.clone()));
                dev.owner = dev.owner_history.last().expect("non-empty").1.clone();
                if !note.is_empty() {
                    dev.note = note.clone();
                }
                Ok(())
            }
        }
    }

    fn changeable(&mut self, id: &str, date: NaiveDate) -> Result<&mut UsbDevice, UsbError> {
        let dev = self
            .devices
            .get_mut(id)
            .ok_or_else(|| UsbError::UnknownId { id: id.to_owned() })?;
        if date < dev.registered_on {
            return Err(UsbError::BeforeRegistration {
                id: id.to_owned(),
                date,
                registered_on: dev.registered_on,
            });
        }
        if dev
            .status_history
            .iter()
            .any(|(_, s)| *s == UsbStatus::Disposed)
        {
            return Err(UsbError::AlreadyDisposed { id: id.to_owned() });
        }
        Ok(dev)
    }

    /// The device with this 管理番号.
    pub fn get(&self, registration_id: &str) -> Option<&UsbDevice> {
        self.devices.get(registration_id)
    }

    /// All devices, by 管理番号.
    pub fn devices(&self) -> impl Iterator<Item = &UsbDevice> {
        self.devices.values()
    }

    /// Number of devices ever registered.
    pub fn len(&self) -> usize {
        self.devices.len()
    }

    /// True if nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// What the ledger says about the device `vendor:product` with `serial` on `date`. IDs are
    /// normalised like registrations (`0781`, `781`, `0X0781`); an unparsable ID is
    /// [`UsbVerdict::Unregistered`]. The serial is compared exactly.
    pub fn lookup(
        &self,
        vendor: &str,
        product: &str,
        serial: &str,
        date: NaiveDate,
    ) -> UsbVerdict<'_> {
        let (Ok(v), Ok(p)) = (
            normalize_hex_id(vendor, HexField::Vendor),
            normalize_hex_id(product, HexField::Product),
        ) else {
            return UsbVerdict::Unregistered;
        };
        let Some(dev) = self
            .by_key
            .get(&(v, p, serial.to_owned()))
            .and_then(|id| self.devices.get(id))
        else {
            return UsbVerdict::Unregistered;
        };
        match dev.status_on(date) {
            None => UsbVerdict::Unregistered,
            Some(UsbStatus::Active) => UsbVerdict::Registered(dev),
            Some(_) => UsbVerdict::LostOrDisposed(dev),
        }
    }

    /// Parses a ledger CSV ([`parse_usb_csv`]) and applies its records; a row whose record is
    /// refused becomes a [`UsbRowError`] with [`UsbProblem::Registry`]. The other rows import.
    pub fn import_csv(&mut self, bytes: &[u8], as_of: NaiveDate) -> UsbImport {
        let parsed = parse_usb_csv(bytes, as_of);
        let mut errors = parsed.errors;
        let mut applied = 0;
        let mut records = Vec::new();
        for row in parsed.rows {
            let mut first = true;
            for rec in &row.records {
                match self.apply(rec) {
                    Ok(()) => {
                        records.push(rec.clone());
                        if first {
                            applied += 1;
                        }
                    }
                    Err(e) => {
                        errors.push(UsbRowError::new(
                            row.row,
                            None,
                            rec.id(),
                            UsbProblem::Registry(e),
                        ));
                        break;
                    }
                }
                first = false;
            }
        }
        errors.sort_by_key(|e| e.row);
        UsbImport {
            applied,
            records,
            errors,
            encoding: parsed.encoding,
        }
    }
}

/// The result of [`UsbRegistry::import_csv`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsbImport {
    /// Rows whose registration was applied.
    pub applied: usize,
    /// The records that were applied, in order: what the caller ledgers, so the registry can be
    /// rebuilt by replaying them.
    pub records: Vec<UsbRecord>,
    /// Rows that were not (or only partly: a status after a successful registration).
    pub errors: Vec<UsbRowError>,
    /// How the bytes were decoded.
    pub encoding: Option<SourceEncoding>,
}

/// A column of the ledger CSV.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum UsbColumn {
    /// 管理番号.
    RegistrationId,
    /// ベンダーID.
    VendorId,
    /// 製品ID.
    ProductId,
    /// シリアル.
    Serial,
    /// 種別.
    Kind,
    /// 所有者.
    Owner,
    /// 状態.
    Status,
    /// 登録日.
    RegisteredOn,
    /// 備考 (optional).
    Note,
    /// 状態変更日 (optional: the date of a non-active 状態; without it, the `as_of` date).
    StatusChangedOn,
}

impl UsbColumn {
    /// All columns, in the standard order.
    pub const ALL: [UsbColumn; 10] = [
        UsbColumn::RegistrationId,
        UsbColumn::VendorId,
        UsbColumn::ProductId,
        UsbColumn::Serial,
        UsbColumn::Kind,
        UsbColumn::Owner,
        UsbColumn::Status,
        UsbColumn::RegisteredOn,
        UsbColumn::Note,
        UsbColumn::StatusChangedOn,
    ];

    /// The header text.
    pub fn header(self) -> &'static str {
        match self {
            UsbColumn::RegistrationId => "管理番号",
            UsbColumn::VendorId => "ベンダーID",
            UsbColumn::ProductId => "製品ID",
            UsbColumn::Serial => "シリアル",
            UsbColumn::Kind => "種別",
            UsbColumn::Owner => "所有者",
            UsbColumn::Status => "状態",
            UsbColumn::RegisteredOn => "登録日",
            UsbColumn::Note => "備考",
            UsbColumn::StatusChangedOn => "状態変更日",
        }
    }

    fn required(self) -> bool {
        !matches!(self, UsbColumn::Note | UsbColumn::StatusChangedOn)
    }

    fn from_header(h: &str) -> Option<UsbColumn> {
        let h = h.replace(' ', "");
        Self::ALL
            .into_iter()
            .find(|c| c.header() == h.as_str())
            .or(match h.as_str() {
                "シリアル番号" => Some(UsbColumn::Serial),
                "使用者" | "管理者" => Some(UsbColumn::Owner),
                _ => None,
            })
    }
}

impl fmt::Display for UsbColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.header())
    }
}

/// What is wrong with a ledger row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UsbProblem {
    /// A required cell is empty.
    Empty,
    /// Not 1–4 hex digits.
    BadHex,
    /// 種別 not recognised.
    UnknownKind,
    /// 所有者 not `職員:…` or `所属:…`.
    BadOwner,
    /// 状態 not recognised.
    UnknownStatus,
    /// Not a date.
    BadDate(DateError),
    /// A serial Excel turned into a number (`1.23E+15`).
    ExcelNumber,
    /// Longer than 128 characters.
    TooLong,
    /// The row has a different number of cells than the header.
    FieldCount {
        /// Cells found.
        found: usize,
        /// Cells in the header.
        expected: usize,
    },
    /// The header lacks a required column.
    MissingColumn,
    /// The file has no rows.
    EmptyFile,
    /// UTF-16 file.
    Utf16,
    /// Bytes that are neither UTF-8 nor CP932.
    Undecodable,
    /// Broken CSV framing.
    Csv(String),
    /// The row is well-formed but the registry refused it.
    Registry(UsbError),
}

impl UsbProblem {
    /// The message in Japanese.
    pub fn ja(&self) -> String {
        match self {
            UsbProblem::Empty => "空欄です".into(),
            UsbProblem::BadHex => "16進数4桁ではありません".into(),
            UsbProblem::UnknownKind => "種別が不明です(セキュアUSB・暗号化USB・一般USB)".into(),
            UsbProblem::BadOwner => {
                "所有者は「職員:職員番号」か「所属:所属コード」で書いてください".into()
            }
            UsbProblem::UnknownStatus => "状態が不明です(使用中・紛失・廃棄)".into(),
            UsbProblem::BadDate(e) => e.ja(),
            UsbProblem::ExcelNumber => "Excelが数値に変換したシリアルです".into(),
            UsbProblem::TooLong => "長すぎます(128文字まで)".into(),
            UsbProblem::FieldCount { found, expected } => {
                format!("列の数が見出しと違います({found}列、見出しは{expected}列)")
            }
            UsbProblem::MissingColumn => "必須の列が見出しにありません".into(),
            UsbProblem::EmptyFile => "ファイルが空です".into(),
            UsbProblem::Utf16 => "UTF-16のファイルは読めません".into(),
            UsbProblem::Undecodable => "文字コードを読めない文字があります".into(),
            UsbProblem::Csv(m) => format!("CSVとして読めません({m})"),
            UsbProblem::Registry(e) => e.ja(),
        }
    }

    /// The message in English.
    pub fn en(&self) -> String {
        match self {
            UsbProblem::Empty => "empty".into(),
            UsbProblem::BadHex => "not 4 hexadecimal digits".into(),
            UsbProblem::UnknownKind => "unknown kind (secure, encrypted, ordinary)".into(),
            UsbProblem::BadOwner => {
                "owner must be 職員:<staff id> or 所属:<department code>".into()
            }
            UsbProblem::UnknownStatus => "unknown status (active, lost, disposed)".into(),
            UsbProblem::BadDate(e) => e.en(),
            UsbProblem::ExcelNumber => "serial turned into a number by Excel".into(),
            UsbProblem::TooLong => "too long (at most 128 characters)".into(),
            UsbProblem::FieldCount { found, expected } => {
                format!("{found} cells, the header has {expected}")
            }
            UsbProblem::MissingColumn => "required column missing from the header".into(),
            UsbProblem::EmptyFile => "empty file".into(),
            UsbProblem::Utf16 => "UTF-16 files are not supported".into(),
            UsbProblem::Undecodable => "bytes that are neither UTF-8 nor CP932".into(),
            UsbProblem::Csv(m) => format!("broken CSV ({m})"),
            UsbProblem::Registry(e) => e.en(),
        }
    }
}

/// A malformed ledger row (or file), displayed Japanese first:
/// `3行目「ベンダーID」: 16進数4桁ではありません(07G1)/ row 3, column ベンダーID: not 4 hexadecimal digits`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct UsbRowError {
    /// Row number (header = 1).
    pub row: u64,
    /// The column, when the problem is in one cell.
    pub column: Option<UsbColumn>,
    /// The offending value, shortened to 60 characters.
    pub value: String,
    /// What is wrong.
    pub problem: UsbProblem,
}

impl UsbRowError {
    fn new(row: u64, column: Option<UsbColumn>, value: &str, problem: UsbProblem) -> Self {
        let mut quoted: String = value.chars().take(MAX_QUOTED).collect();
        if quoted.len() < value.len() {
            quoted.push('…');
        }
        UsbRowError {
            row,
            column,
            value: quoted,
            problem,
        }
    }
}

impl fmt::Display for UsbRowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let row = self.row;
        match self.column {
            Some(c) => write!(f, "{row}行目「{c}」: ")?,
            None => write!(f, "{row}行目: ")?,
        }
        f.write_str(&self.problem.ja())?;
        if !self.value.is_empty() {
            write!(f, "({})", self.value)?;
        }
        match self.column {
            Some(c) => write!(f, "/ row {row}, column {c}: {}", self.problem.en()),
            None => write!(f, "/ row {row}: {}", self.problem.en()),
        }
    }
}

/// A well-formed ledger row and the records it stands for: a [`UsbRecord::Registered`], then a
/// [`UsbRecord::StatusChanged`] if its 状態 is not 使用中 (dated 状態変更日, or `as_of`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsbRow {
    /// Row number (header = 1).
    pub row: u64,
    /// The records, to apply in order.
    pub records: Vec<UsbRecord>,
}

/// Everything parsing a ledger CSV produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedUsbCsv {
    /// Well-formed rows in file order.
    pub rows: Vec<UsbRow>,
    /// Malformed rows (file-level problems on row 1).
    pub errors: Vec<UsbRowError>,
    /// How the bytes were decoded (None if they could not be).
    pub encoding: Option<SourceEncoding>,
}

fn looks_like_excel_number(s: &str) -> bool {
    let upper = s.to_ascii_uppercase();
    let Some((mantissa, exp)) = upper.split_once("E+") else {
        return false;
    };
    !mantissa.is_empty()
        && mantissa.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && !exp.is_empty()
        && exp.bytes().all(|b| b.is_ascii_digit())
}

/// Parses the ledger CSV (any bytes; never panics). `as_of` dates a non-active 状態 when the
/// file has no 状態変更日 column or the cell is empty: the ledger only tells that the device
/// was lost or disposed of by then.
pub fn parse_usb_csv(bytes: &[u8], as_of: NaiveDate) -> ParsedUsbCsv {
    let mut out = ParsedUsbCsv {
        rows: Vec::new(),
        errors: Vec::new(),
        encoding: None,
    };
    let (encoding, opened) = open_csv(bytes);
    out.encoding = encoding;
    let CsvFile { header, records, lossy } = match opened {
        Ok(f) => f,
        Err(p) => {
            let p = match p {
                CsvFileProblem::Utf16 => UsbProblem::Utf16,
                CsvFileProblem::EmptyFile => UsbProblem::EmptyFile,
                CsvFileProblem::Csv(e) => UsbProblem::Csv(e),
            };
            out.errors.push(UsbRowError::new(1, None, "", p));
            return out;
        }
    };
    let mut columns: BTreeMap<UsbColumn, usize> = BTreeMap::new();
    for (i, h) in header_names(&header).into_iter().enumerate() {
        if let Some(c) = UsbColumn::from_header(&h) {
            columns.entry(c).or_insert(i);
        }
    }
    for c in UsbColumn::ALL {
        if c.required() && !columns.contains_key(&c) {
            out.errors
                .push(UsbRowError::new(1, Some(c), "", UsbProblem::MissingColumn));
        }
    }
    if !out.errors.is_empty() {
        return out;
    }
    let width = header.len();
    for (i, rec) in records.enumerate() {
        let row = i as u64 + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                out.errors.push(UsbRowError::new(
                    row,
                    None,
                    "",
                    UsbProblem::Csv(e.to_string()),
                ));
                continue;
            }
        };
        if rec.iter().all(|c| trim(c).is_empty()) {
            continue;
        }
        let extra = rec.iter().skip(width).any(|c| !trim(c).is_empty());
        if rec.len() < width || extra {
            out.errors.push(UsbRowError::new(
                row,
                None,
                "",
                UsbProblem::FieldCount {
                    found: rec.len(),
                    expected: width,
                },
            ));
            continue;
        }
        let cell = |c: UsbColumn| {
            columns
                .get(&c)
                .and_then(|&i| rec.get(i))
                .map(trim)
                .unwrap_or("")
        };
        let mut errs = Vec::new();
        let mut err =
            |c: UsbColumn, v: &str, p: UsbProblem| errs.push(UsbRowError::new(row, Some(c), v, p));
        if lossy {
            for c in UsbColumn::ALL {
                if cell(c).contains('\u{FFFD}') {
                    err(c, cell(c), UsbProblem::Undecodable);
                }
            }
        }
        let id = halfwidth(cell(UsbColumn::RegistrationId)).trim().to_owned();
        if id.is_empty() {
            err(UsbColumn::RegistrationId, "", UsbProblem::Empty);
        } else if id.chars().count() > MAX_LEN {
            err(UsbColumn::RegistrationId, &id, UsbProblem::TooLong);
        }
        let mut hex = |c: UsbColumn, f: HexField| {
            let v = cell(c);
            if v.is_empty() {
                err(c, "", UsbProblem::Empty);
                None
            } else {
                match normalize_hex_id(v, f) {
                    Ok(h) => Some(h),
                    Err(_) => {
                        err(c, v, UsbProblem::BadHex);
                        None
                    }
                }
            }
        };
        let vendor = hex(UsbColumn::VendorId, HexField::Vendor);
        let product = hex(UsbColumn::ProductId, HexField::Product);
        let serial = cell(UsbColumn::Serial).to_owned();
        if serial.is_empty() {
            err(UsbColumn::Serial, "", UsbProblem::Empty);
        } else if serial.chars().count() > MAX_LEN {
            err(UsbColumn::Serial, &serial, UsbProblem::TooLong);
        } else if looks_like_excel_number(&serial) {
            err(UsbColumn::Serial, &serial, UsbProblem::ExcelNumber);
        }
        let kind = match cell(UsbColumn::Kind) {
            "" => {
                err(UsbColumn::Kind, "", UsbProblem::Empty);
                None
            }
            v => UsbKind::parse(v).or_else(|| {
                err(UsbColumn::Kind, v, UsbProblem::UnknownKind);
                None
            }),
        };
        let owner = match cell(UsbColumn::Owner) {
            "" => {
                err(UsbColumn::Owner, "", UsbProblem::Empty);
                None
            }
            v => Owner::parse(v).or_else(|| {
                err(UsbColumn::Owner, v, UsbProblem::BadOwner);
                None
            }),
        };
        let status = match cell(UsbColumn::Status) {
            "" => {
                err(UsbColumn::Status, "", UsbProblem::Empty);
                None
            }
            v => UsbStatus::parse(v).or_else(|| {
                err(UsbColumn::Status, v, UsbProblem::UnknownStatus);
                None
            }),
        };
        let mut date = |c: UsbColumn, required: bool| match cell(c) {
            "" => {
                if required {
                    err(c, "", UsbProblem::Empty);
                }
                None
            }
            v => match parse_date(v) {
                Ok(d) => Some(d),
                Err(e) => {
                    err(c, v, UsbProblem::BadDate(e));
                    None
                }
            },
        };
        let registered_on = date(UsbColumn::RegisteredOn, true);
        let changed_on = date(UsbColumn::StatusChangedOn, false);
        let note = cell(UsbColumn::Note).to_owned();
        if !errs.is_empty() {
            out.errors.extend(errs);
            continue;
        }
        let (Some(vendor_id), Some(product_id), Some(kind), Some(owner), Some(status), Some(date)) =
            (vendor, product, kind, owner, status, registered_on)
        else {
            continue;
        };
        let mut records = vec![UsbRecord::Registered {
            id: id.clone(),
            vendor_id,
            product_id,
            serial,
            kind,
            owner,
            date,
            note: note.clone(),
        }];
        if status != UsbStatus::Active {
            records.push(UsbRecord::StatusChanged {
                id,
                status,
                date: changed_on.unwrap_or(as_of).max(date),
                note: String::new(),
            });
        }
        out.rows.push(UsbRow { row, records });
    }
    out
}

/// Escapes a string for a USBGuard rule: `"` → `\"`, `\` → `\\`, every byte outside printable
/// ASCII → `\xHH` (lower case), as `usbguard-rule-parser` writes strings back.
pub fn usbguard_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for b in s.bytes() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// Makes text safe for a `#` comment line: control characters (newlines included) become spaces.
fn comment_text(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// The USBGuard rule file allowing the devices active on `date` (see the module doc). The
/// output is deterministic: devices in 管理番号 order, no time stamp other than `date`.
pub fn usbguard_rules(registry: &UsbRegistry, date: NaiveDate) -> String {
    let active: Vec<&UsbDevice> = registry
        .devices()
        .filter(|d| d.status_on(date) == Some(UsbStatus::Active))
        .collect();
    let mut out = String::new();
    out.push_str("# mamori: USB管理台帳から生成した USBGuard 規則 / USBGuard rules generated from the registered removable media ledger\n");
    out.push_str(&format!("# 基準日 / as of: {date}\n"));
    out.push_str(&format!(
        "# 許可: 使用中の登録媒体 {} 台 / allowed: {} active registered devices\n",
        active.len(),
        active.len()
    ));
    out.push_str("# 最後の block 規則が未登録の大容量記憶装置をすべて遮断します / the final block rule blocks every other mass-storage device\n");
    out.push_str("# usbguard-daemon.conf には ImplicitPolicyTarget=block を設定してください / set ImplicitPolicyTarget=block in usbguard-daemon.conf\n");
    for d in registry.devices() {
        let status = d.status_on(date);
        match status {
            Some(UsbStatus::Active) => {
                out.push('\n');
                let mut c = format!(
                    "# {} {} {}",
                    comment_text(&d.registration_id),
                    d.kind.label(),
                    comment_text(&d.owner_on(date).unwrap_or(&d.owner).to_string())
                );
                if !d.note.is_empty() {
                    c.push_str(" 備考: ");
                    c.push_str(&comment_text(&d.note));
                }
                out.push_str(c.trim_end());
                out.push('\n');
                out.push_str(&format!(
                    "allow id {}:{} serial \"{}\" with-interface equals {{ 08:*:* }} label \"{}\"\n",
                    d.vendor_id,
                    d.product_id,
                    usbguard_escape(&d.serial),
                    usbguard_escape(&d.registration_id)
                ));
            }
            Some(s) => {
                out.push('\n');
                out.push_str(&format!(
                    "# 除外 / excluded: {} {} ({} {})\n",
                    comment_text(&d.registration_id),
                    s.label(),
                    d.status_history
                        .iter()
                        .rev()
                        .find(|(day, _)| *day <= date)
                        .map(|(day, _)| *day)
                        .unwrap_or(d.status_changed_on),
                    match s {
                        UsbStatus::Lost => "lost",
                        _ => "disposed",
                    }
                ));
            }
            None => {}
        }
    }
    out.push('\n');
    out.push_str("# 上記以外の大容量記憶装置を遮断 / block every other mass-storage device\n");
    out.push_str("block with-interface one-of { 08:*:* }\n");
    out
}
