//! Vendors (委託先): contracts, the data handed over, and the deletion certificate
//! (データ消去証明書) due at the end — with reminders when it is missing (Isetō: a
//! subcontractor kept and leaked data after the contract; Kanagawa: leased HDDs resold
//! without proof of erasure).
//!
//! Rules: a contract's certificate is due `certificate_due` (default: 30 days after the
//! contract's last day). From the last day until the due date a missing certificate is "due
//! soon"; after it, "overdue". Data handed over outside the contract period is a finding too.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::directory::Directory;

/// Default days after the contract end for the deletion certificate.
pub const DEFAULT_CERTIFICATE_DAYS: i64 = 30;

/// A contract with a vendor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorContract {
    /// Contract id (契約番号), unique.
    pub id: String,
    /// 委託先 (the vendor's name).
    pub vendor: String,
    /// 業務内容.
    pub subject: String,
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub until: NaiveDate,
    /// When the deletion certificate is due (default: until + 30 days).
    #[serde(default)]
    pub certificate_due: Option<NaiveDate>,
    /// The department in charge (所管課, 所属コード).
    #[serde(default)]
    pub department: String,
}

impl VendorContract {
    /// The certificate's due date.
    pub fn due(&self) -> NaiveDate {
        self.certificate_due
            .unwrap_or_else(|| self.until + chrono::Duration::days(DEFAULT_CERTIFICATE_DAYS))
    }
}

/// A ledgered change about a vendor contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum VendorAction {
    /// A contract is registered (or corrected: same id replaces, history kept).
    Contract(VendorContract),
    /// Data handed to the vendor (引渡し).
    Handover {
        /// Contract id.
        id: String,
        /// Date.
        on: NaiveDate,
        /// What data.
        data: String,
        /// Records, if counted.
        #[serde(default)]
        records: Option<u64>,
    },
    /// The deletion certificate was received.
    Certificate {
        /// Contract id.
        id: String,
        /// Date received.
        on: NaiveDate,
        /// Certificate number, method, who signed.
        note: String,
    },
}

/// A handover as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handover {
    /// Date.
    pub on: NaiveDate,
    /// Data.
    pub data: String,
    /// Records.
    pub records: Option<u64>,
    /// Who recorded it.
    pub by: String,
}

/// A vendor contract and what happened under it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vendor {
    /// The contract (latest version).
    pub contract: VendorContract,
    /// Data handed over.
    pub handovers: Vec<Handover>,
    /// The certificate: date, note, who recorded it.
    pub certificate: Option<(NaiveDate, String, String)>,
}

/// Why a vendor action is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum VendorError {
    /// No such contract.
    #[error("契約 {0} はありません / no vendor contract {0}")]
    UnknownContract(String),
    /// Bad dates.
    #[error("契約 {0}: 終了日が開始日より前です / contract {0}: ends before it starts")]
    BadPeriod(String),
    /// A required field is empty.
    #[error("「{0}」が空欄です / {0} is empty")]
    Empty(&'static str),
    /// Certificate already recorded.
    #[error("契約 {0} の消去証明書は受領済みです / contract {0}: certificate already received")]
    CertificateExists(String),
}

/// What a reminder is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VendorReminderKind {
    /// 消去証明書の提出期限超過.
    CertificateOverdue {
        /// Due date.
        due: NaiveDate,
        /// Days overdue.
        days: i64,
    },
    /// 契約終了、消去証明書の提出待ち.
    CertificateDueSoon {
        /// Due date.
        due: NaiveDate,
    },
    /// Data handed over outside the contract period.
    HandoverOutsideContract {
        /// The date.
        on: NaiveDate,
    },
}

/// A reminder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorReminder {
    /// Contract id.
    pub contract: String,
    /// Vendor.
    pub vendor: String,
    /// What.
    pub kind: VendorReminderKind,
}

impl VendorReminder {
    /// A line for officers, Japanese first.
    pub fn message(&self) -> String {
        match &self.kind {
            VendorReminderKind::CertificateOverdue { due, days } => format!(
                "{} {}: 消去証明書が未提出です(期限 {due}、{days}日超過)/ deletion certificate overdue since {due}",
                self.contract, self.vendor
            ),
            VendorReminderKind::CertificateDueSoon { due } => format!(
                "{} {}: 契約終了、消去証明書の提出待ち(期限 {due})/ contract ended, deletion certificate due {due}",
                self.contract, self.vendor
            ),
            VendorReminderKind::HandoverOutsideContract { on } => format!(
                "{} {}: 契約期間外にデータを引き渡しています({on})/ data handed over outside the contract period",
                self.contract, self.vendor
            ),
        }
    }
}

impl Directory {
    pub(crate) fn apply_vendor(&mut self, action: &VendorAction, actor: &str) -> Result<(), VendorError> {
        self.check_vendor(action)?;
        match action {
            VendorAction::Contract(c) => {
                let v = self.book.vendors.entry(c.id.clone()).or_insert_with(|| Vendor {
                    contract: c.clone(),
                    handovers: Vec::new(),
                    certificate: None,
                });
                v.contract = c.clone();
            }
            VendorAction::Handover { id, on, data, records } => {
                self.book.vendors.get_mut(id).expect("checked").handovers.push(Handover {
                    on: *on,
                    data: data.clone(),
                    records: *records,
                    by: actor.to_owned(),
                });
            }
            VendorAction::Certificate { id, on, note } => {
                self.book.vendors.get_mut(id).expect("checked").certificate = Some((*on, note.clone(), actor.to_owned()));
            }
        }
        Ok(())
    }

    /// Checks a vendor action (nothing is changed).
    pub fn check_vendor(&self, action: &VendorAction) -> Result<(), VendorError> {
        match action {
            VendorAction::Contract(c) => {
                if c.id.trim().is_empty() {
                    return Err(VendorError::Empty("契約番号 / id"));
                }
                if c.vendor.trim().is_empty() {
                    return Err(VendorError::Empty("委託先 / vendor"));
                }
                if c.until < c.from || c.certificate_due.is_some_and(|d| d < c.until) {
                    return Err(VendorError::BadPeriod(c.id.clone()));
                }
                Ok(())
            }
            VendorAction::Handover { id, data, .. } => {
                if !self.book.vendors.contains_key(id) {
                    return Err(VendorError::UnknownContract(id.clone()));
                }
                if data.trim().is_empty() {
                    return Err(VendorError::Empty("データ / data"));
                }
                Ok(())
            }
            VendorAction::Certificate { id, note, .. } => {
                let v = self.book.vendors.get(id).ok_or_else(|| VendorError::UnknownContract(id.clone()))?;
                if v.certificate.is_some() {
                    return Err(VendorError::CertificateExists(id.clone()));
                }
                if note.trim().is_empty() {
                    return Err(VendorError::Empty("証明書の記録 / note"));
                }
                Ok(())
            }
        }
    }

    /// Vendor contracts, by id.
    pub fn vendors(&self) -> impl Iterator<Item = &Vendor> {
        self.book.vendors.values()
    }

    /// Reminders on `as_of` (module doc).
    pub fn vendor_reminders(&self, as_of: NaiveDate) -> Vec<VendorReminder> {
        let mut out = Vec::new();
        for v in self.book.vendors.values() {
            let c = &v.contract;
            let r = |kind| VendorReminder { contract: c.id.clone(), vendor: c.vendor.clone(), kind };
            for h in &v.handovers {
                if h.on < c.from || h.on > c.until {
                    out.push(r(VendorReminderKind::HandoverOutsideContract { on: h.on }));
                }
            }
            let received = v.certificate.as_ref().is_some_and(|(d, _, _)| *d <= as_of);
            if received || as_of <= c.until {
                continue;
            }
            let due = c.due();
            if as_of > due {
                out.push(r(VendorReminderKind::CertificateOverdue { due, days: (as_of - due).num_days() }));
            } else {
                out.push(r(VendorReminderKind::CertificateDueSoon { due }));
            }
        }
        out
    }
}
