//! Takeout requests (持ち出し申請), the approval rule, and reconciliation of observed takeouts
//! (USB writes, external mail with attachments, business-system exports) against them.
//!
//! **States**: requested → approved | rejected; approved → taken → returned | erased (with an
//! erasure note). Every transition is a ledgered [`TakeoutAction`] naming who did it.
//!
//! **Approval rule** ([`Directory::check_approver`]): on the approval date, per the roster:
//! - approver and applicant are different people, both 在職 (not 休職, not 退職);
//! - the approver holds a post (main or 兼務) in the applicant's main 所属 or an ancestor of it
//!   (parent: see [`crate::access`]; `2010` 市民課 is under `20` 市民部);
//! - the approver's title in that post ranks higher than the applicant's ([`title_rank`]) and
//!   is at least 課長級 (管理職): so a 課長 of the applicant's 課 or the 部長 of its 部 may
//!   approve; a 係長, a colleague of the same rank, a subordinate or the applicant never.
//!
//! **Reconciliation** ([`Directory::reconcile`]): an observation matches an approved request
//! when it is the same person (accounts resolved through the directory on that day), the
//! medium matches (the registered USB device's vendor/product/serial; the approved mail
//! address, other recipients only in the city's domains; an export matches any medium, being
//! the step before it), the day is within the request's period (and before its return), and
//! the record count is at most the approved one. Anything else is unmatched, with the reason,
//! for detection. Approved or taken requests past their period and not returned are
//! reminders ([`Directory::takeout_reminders`]).

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::directory::{Directory, PersonState, Resolution, Status};

/// How the data leaves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Medium {
    /// A registered USB device (USB 管理台帳), with its IDs copied at request time.
    Usb {
        /// 管理番号.
        registration_id: String,
        /// Vendor ID (4 hex).
        vendor_id: String,
        /// Product ID (4 hex).
        product_id: String,
        /// iSerial.
        serial: String,
    },
    /// E-mail to an address.
    Mail {
        /// The recipient, lower-case.
        to: String,
    },
    /// Paper (印刷物).
    Paper,
}

impl Medium {
    /// Short Japanese label.
    pub fn label(&self) -> String {
        match self {
            Medium::Usb { registration_id, .. } => format!("USB({registration_id})"),
            Medium::Mail { to } => format!("メール({to})"),
            Medium::Paper => "紙".into(),
        }
    }
}

/// A request as filed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TakeoutRequest {
    /// Request number (申請番号), unique.
    pub id: String,
    /// The applicant's 職員番号.
    pub applicant: String,
    /// データの内容.
    pub description: String,
    /// 件数 (records).
    pub records: Option<u64>,
    /// 目的.
    pub purpose: String,
    /// 媒体.
    pub medium: Medium,
    /// 持出先.
    pub destination: String,
    /// First day of the period.
    pub from: NaiveDate,
    /// Last day of the period (return or erasure due).
    pub until: NaiveDate,
    /// 申請日.
    pub requested_on: NaiveDate,
}

/// Where a request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TakeoutState {
    /// 申請中.
    Requested,
    /// 承認.
    Approved,
    /// 却下.
    Rejected,
    /// 持出中.
    Taken,
    /// 返却.
    Returned,
    /// 消去.
    Erased,
}

impl TakeoutState {
    /// The Japanese label.
    pub fn label(self) -> &'static str {
        match self {
            TakeoutState::Requested => "申請中",
            TakeoutState::Approved => "承認",
            TakeoutState::Rejected => "却下",
            TakeoutState::Taken => "持出中",
            TakeoutState::Returned => "返却済",
            TakeoutState::Erased => "消去済",
        }
    }
}

/// One ledgered change to a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum TakeoutAction {
    /// 申請.
    Request(TakeoutRequest),
    /// 承認 by the approver (職員番号) on a date.
    Approve {
        /// Request number.
        id: String,
        /// Approver's 職員番号.
        approver: String,
        /// Approval date.
        on: NaiveDate,
        /// Comment.
        #[serde(default)]
        note: String,
    },
    /// 却下.
    Reject {
        /// Request number.
        id: String,
        /// Approver's 職員番号.
        approver: String,
        /// Date.
        on: NaiveDate,
        /// Why.
        #[serde(default)]
        note: String,
    },
    /// 持出 (the data left).
    Take {
        /// Request number.
        id: String,
        /// Date.
        on: NaiveDate,
    },
    /// 返却 (medium returned, data removed from it).
    Return {
        /// Request number.
        id: String,
        /// Date.
        on: NaiveDate,
        /// Note.
        #[serde(default)]
        note: String,
    },
    /// 消去 (data erased at the destination), with the erasure note (消去証明 etc.).
    Erase {
        /// Request number.
        id: String,
        /// Date.
        on: NaiveDate,
        /// The erasure note: how, by whom, certificate number.
        note: String,
    },
}

impl TakeoutAction {
    /// The request number.
    pub fn id(&self) -> &str {
        match self {
            TakeoutAction::Request(r) => &r.id,
            TakeoutAction::Approve { id, .. }
            | TakeoutAction::Reject { id, .. }
            | TakeoutAction::Take { id, .. }
            | TakeoutAction::Return { id, .. }
            | TakeoutAction::Erase { id, .. } => id,
        }
    }
}

/// A transition as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// The new state.
    pub state: TakeoutState,
    /// Its date.
    pub on: NaiveDate,
    /// Who recorded it (the ledger actor).
    pub by: String,
    /// The person who decided, for approvals (職員番号).
    pub person: Option<String>,
    /// Note.
    pub note: String,
}

/// A request and its history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Takeout {
    /// As filed.
    pub request: TakeoutRequest,
    /// Current state.
    pub state: TakeoutState,
    /// The approver's 職員番号 once decided.
    pub approver: Option<String>,
    /// Every transition, oldest first (the request itself first).
    pub history: Vec<Transition>,
}

impl Takeout {
    /// The date of the transition into `state`, if it happened.
    pub fn date_of(&self, state: TakeoutState) -> Option<NaiveDate> {
        self.history.iter().find(|t| t.state == state).map(|t| t.on)
    }

    /// Covers `date` as an approved takeout: approved (or taken) then, within the period, and
    /// not yet returned or erased before it.
    pub fn approved_on(&self, date: NaiveDate) -> bool {
        let Some(approved) = self.date_of(TakeoutState::Approved) else {
            return false;
        };
        let ended = self
            .date_of(TakeoutState::Returned)
            .or(self.date_of(TakeoutState::Erased));
        approved <= date
            && self.request.from <= date
            && date <= self.request.until
            && ended.is_none_or(|e| date <= e)
    }
}

/// Why a takeout action is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum TakeoutError {
    /// Self-approval.
    #[error("申請者本人は承認できません / the applicant cannot approve their own request")]
    SelfApproval,
    /// Approver ranks below the applicant.
    #[error("部下は承認できません(承認者 {approver_title} < 申請者 {applicant_title})/ a subordinate cannot approve")]
    Subordinate {
        /// Approver's title.
        approver_title: String,
        /// Applicant's title.
        applicant_title: String,
    },
    /// Approver does not rank higher, or is below 課長級.
    #[error("承認者の職位が足りません({approver_title})/ approver's rank is not above the applicant's or below 課長級")]
    RankTooLow {
        /// Approver's title.
        approver_title: String,
    },
    /// Approver is not in the applicant's line (same or parent 所属).
    #[error("承認者は申請者の所属({dept})またはその上位の所属の職員ではありません / approver is not in the applicant's department or a parent of it")]
    NotInLine {
        /// The applicant's 所属コード.
        dept: String,
    },
    /// A person is not 在職 on the date.
    #[error("{who} は {date} に在職していません({status})/ {who} is not employed on {date}")]
    NotEmployed {
        /// 職員番号.
        who: String,
        /// The date.
        date: NaiveDate,
        /// The status label.
        status: String,
    },
    /// Not in the roster.
    #[error("職員番号 {0} は名簿にありません / staff id {0} is not in the roster")]
    UnknownPerson(String),
    /// Unknown request.
    #[error("申請 {0} はありません / no takeout request {0}")]
    UnknownRequest(String),
    /// Duplicate request number.
    #[error("申請 {0} は登録済みです / takeout request {0} exists already")]
    DuplicateRequest(String),
    /// Transition not allowed from the current state.
    #[error("申請 {id} は「{state}」のため、この操作はできません / request {id} is {state}; this transition is not allowed")]
    BadTransition {
        /// Request number.
        id: String,
        /// Current state label.
        state: String,
    },
    /// A date is out of order or outside the period.
    #[error("日付が不正です: {0} / invalid date: {0}")]
    BadDate(String),
    /// A required field is empty.
    #[error("「{0}」が空欄です / {0} is empty")]
    Empty(&'static str),
}

/// Rank of a 職名: higher is more senior. 課長級 (4) and above are 管理職 who may approve.
/// Checked most-specific first so 課長補佐 is not a 課長.
pub fn title_rank(title: &str) -> u8 {
    let t = title.trim();
    let has = |s: &str| t.contains(s);
    if has("課長補佐") || has("課長代理") || has("主幹") {
        3
    } else if has("副市長") || has("副町長") || has("副村長") || has("教育長") {
        8
    } else if has("市長") || has("町長") || has("村長") {
        9
    } else if has("次長") || has("部長補佐") || has("参事") {
        5
    } else if has("部長") || has("局長") || has("理事") {
        6
    } else if has("課長") || has("室長") || has("所長") || has("館長") || has("センター長") {
        4
    } else if has("係長") || has("主査") {
        2
    } else if has("主任") {
        1
    } else {
        0
    }
}

/// The least rank that may approve (課長級).
pub const APPROVER_MIN_RANK: u8 = 4;

/// What an observed takeout went through.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Channel {
    /// A write to a USB device.
    Usb {
        /// Vendor ID.
        vendor_id: String,
        /// Product ID.
        product_id: String,
        /// iSerial.
        serial: String,
    },
    /// Mail with an attachment.
    Mail {
        /// Recipients.
        to: Vec<String>,
    },
    /// A business-system export (CSV).
    Export {
        /// The system.
        system: Option<String>,
    },
}

/// An observed takeout, from an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    /// The event's ledger id, if known.
    pub event_id: Option<u64>,
    /// When.
    pub at: DateTime<Utc>,
    /// The local (JST) day.
    pub date: NaiveDate,
    /// The account that did it.
    pub account: String,
    /// How.
    pub channel: Channel,
    /// Records (`mamori.export.records`), if known.
    pub records: Option<u64>,
}

fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("valid offset")
}

fn strings(v: Option<&serde_json::Value>) -> Vec<String> {
    match v {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

impl Observed {
    /// Reads an ECS event: `mamori.usb.{vendor_id,product_id,serial}` with a file → USB;
    /// `email.to.address` with `email.attachments` or a `file.name` → mail;
    /// `mamori.export.records` → export. `user.name` is the account, `@timestamp` the time
    /// (the day is taken in JST). None when the event is none of these.
    pub fn from_ecs(event_id: Option<u64>, doc: &serde_json::Value) -> Option<Observed> {
        let at = doc
            .get("@timestamp")
            .and_then(|t| t.as_str())
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())?
            .with_timezone(&Utc);
        let account = doc.pointer("/user/name").and_then(|u| u.as_str())?.to_owned();
        let records = doc.pointer("/mamori/export/records").and_then(|r| r.as_u64());
        let has_file = doc.pointer("/file/name").is_some() || doc.pointer("/file/path").is_some();
        let channel = if let Some(usb) = doc.pointer("/mamori/usb") {
            let s = |k: &str| usb.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
            Channel::Usb {
                vendor_id: s("vendor_id"),
                product_id: s("product_id"),
                serial: s("serial"),
            }
        } else if doc.pointer("/email").is_some()
            && (doc.pointer("/email/attachments").is_some() || has_file)
        {
            Channel::Mail {
                to: strings(doc.pointer("/email/to/address")),
            }
        } else if records.is_some() {
            Channel::Export {
                system: doc.pointer("/mamori/export/system").and_then(|s| s.as_str()).map(str::to_owned),
            }
        } else {
            return None;
        };
        Some(Observed {
            event_id,
            at,
            date: at.with_timezone(&jst()).date_naive(),
            account,
            channel,
            records,
        })
    }
}

/// Why an observation matched no approved request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Unmatched {
    /// The account is nobody's (or shared): no request can cover it.
    UnknownAccount,
    /// The person has no request for this medium at all.
    NoRequest,
    /// A request exists but was not approved (requested, rejected).
    NotApproved {
        /// Request number.
        takeout: String,
        /// Its state.
        state: TakeoutState,
    },
    /// A request for this medium exists, approved, but the day is outside its period (or
    /// after its return).
    OutsidePeriod {
        /// Request number.
        takeout: String,
    },
    /// Approved for fewer records.
    MoreRecords {
        /// Request number.
        takeout: String,
        /// Approved count.
        approved: u64,
        /// Observed count.
        observed: u64,
    },
}

/// The verdict for one observation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Reconciled {
    /// Covered by an approved request.
    Matched {
        /// Request number.
        takeout: String,
    },
    /// Not covered: flag for detection.
    Unmatched(Unmatched),
}

/// A reminder about a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TakeoutReminder {
    /// Request number.
    pub takeout: String,
    /// The applicant.
    pub applicant: String,
    /// State.
    pub state: TakeoutState,
    /// Due date (end of period).
    pub due: NaiveDate,
    /// Days overdue on the date asked.
    pub days_overdue: i64,
}

fn norm_hex(s: &str) -> String {
    crate::usb::normalize_hex_id(s, crate::usb::HexField::Vendor).unwrap_or_else(|_| s.trim().to_lowercase())
}

impl Directory {
    fn employed(&self, staff_id: &str, date: NaiveDate) -> Result<PersonState, TakeoutError> {
        let p = self
            .person(staff_id, date)
            .ok_or_else(|| TakeoutError::UnknownPerson(staff_id.to_owned()))?;
        if p.status != Status::Employed {
            return Err(TakeoutError::NotEmployed {
                who: staff_id.to_owned(),
                date,
                status: p.status.label().to_owned(),
            });
        }
        Ok(p)
    }

    /// Checks the approval rule (module doc) for `approver` approving `applicant`'s request on
    /// `date`.
    pub fn check_approver(&self, approver: &str, applicant: &str, date: NaiveDate) -> Result<(), TakeoutError> {
        if approver == applicant {
            return Err(TakeoutError::SelfApproval);
        }
        let app = self.employed(applicant, date)?;
        let apr = self.employed(approver, date)?;
        // Same person under two 職員番号 (shared account) is still self-approval.
        if app.accounts.iter().any(|a| apr.accounts.iter().any(|b| a.user() == b.user())) {
            return Err(TakeoutError::SelfApproval);
        }
        let Some(app_post) = app.post.as_ref() else {
            return Err(TakeoutError::NotInLine { dept: String::new() });
        };
        let app_rank = title_rank(&app_post.title);
        let chain = self.department_chain(&app_post.dept_code);
        let in_line: Vec<_> = apr
            .post
            .iter()
            .chain(&apr.concurrent)
            .filter(|p| chain.contains(&p.dept_code))
            .collect();
        let best = in_line.iter().max_by_key(|p| title_rank(&p.title));
        let Some(best) = best else {
            // Outside the line: still name a subordinate as such.
            let apr_title = apr.post.as_ref().map(|p| p.title.clone()).unwrap_or_default();
            if title_rank(&apr_title) < app_rank {
                return Err(TakeoutError::Subordinate { approver_title: apr_title, applicant_title: app_post.title.clone() });
            }
            return Err(TakeoutError::NotInLine { dept: app_post.dept_code.clone() });
        };
        let r = title_rank(&best.title);
        if r < app_rank {
            return Err(TakeoutError::Subordinate {
                approver_title: best.title.clone(),
                applicant_title: app_post.title.clone(),
            });
        }
        if r == app_rank || r < APPROVER_MIN_RANK {
            return Err(TakeoutError::RankTooLow { approver_title: best.title.clone() });
        }
        Ok(())
    }

    /// Checks a takeout action against the current state (nothing is changed).
    pub fn check_takeout(&self, action: &TakeoutAction) -> Result<(), TakeoutError> {
        let get = |id: &str| self.book.takeouts.get(id).ok_or_else(|| TakeoutError::UnknownRequest(id.to_owned()));
        let need_state = |t: &Takeout, ok: &[TakeoutState]| {
            if ok.contains(&t.state) {
                Ok(())
            } else {
                Err(TakeoutError::BadTransition { id: t.request.id.clone(), state: t.state.label().to_owned() })
            }
        };
        match action {
            TakeoutAction::Request(r) => {
                if self.book.takeouts.contains_key(&r.id) {
                    return Err(TakeoutError::DuplicateRequest(r.id.clone()));
                }
                if r.id.trim().is_empty() {
                    return Err(TakeoutError::Empty("申請番号 / id"));
                }
                if r.description.trim().is_empty() {
                    return Err(TakeoutError::Empty("データの内容 / description"));
                }
                if r.purpose.trim().is_empty() {
                    return Err(TakeoutError::Empty("目的 / purpose"));
                }
                if r.until < r.from {
                    return Err(TakeoutError::BadDate(format!("期間の終わり {} が始まり {} より前 / period ends before it starts", r.until, r.from)));
                }
                self.employed(&r.applicant, r.requested_on)?;
                Ok(())
            }
            TakeoutAction::Approve { id, approver, on, .. } | TakeoutAction::Reject { id, approver, on, .. } => {
                let t = get(id)?;
                need_state(t, &[TakeoutState::Requested])?;
                if *on < t.request.requested_on {
                    return Err(TakeoutError::BadDate(format!("{on} は申請日 {} より前 / before the request date", t.request.requested_on)));
                }
                self.check_approver(approver, &t.request.applicant, *on)
            }
            TakeoutAction::Take { id, on } => {
                let t = get(id)?;
                need_state(t, &[TakeoutState::Approved])?;
                if *on < t.request.from || *on > t.request.until {
                    return Err(TakeoutError::BadDate(format!("{on} は期間 {}〜{} の外 / outside the approved period", t.request.from, t.request.until)));
                }
                Ok(())
            }
            TakeoutAction::Return { id, on, .. } | TakeoutAction::Erase { id, on, .. } => {
                let t = get(id)?;
                need_state(t, &[TakeoutState::Taken])?;
                if let TakeoutAction::Erase { note, .. } = action
                    && note.trim().is_empty()
                {
                    return Err(TakeoutError::Empty("消去の記録 / erasure note"));
                }
                if t.date_of(TakeoutState::Taken).is_some_and(|d| *on < d) {
                    return Err(TakeoutError::BadDate(format!("{on} は持出日より前 / before the takeout date")));
                }
                Ok(())
            }
        }
    }

    /// The structural part of [`Directory::check_takeout`]: the request exists (or not, for a
    /// new one) and the transition is allowed from its state. What replay checks.
    fn check_transition(&self, action: &TakeoutAction) -> Result<(), TakeoutError> {
        let id = action.id();
        let Some(t) = self.book.takeouts.get(id) else {
            return match action {
                TakeoutAction::Request(_) => Ok(()),
                _ => Err(TakeoutError::UnknownRequest(id.to_owned())),
            };
        };
        let ok: &[TakeoutState] = match action {
            TakeoutAction::Request(_) => return Err(TakeoutError::DuplicateRequest(id.to_owned())),
            TakeoutAction::Approve { .. } | TakeoutAction::Reject { .. } => &[TakeoutState::Requested],
            TakeoutAction::Take { .. } => &[TakeoutState::Approved],
            TakeoutAction::Return { .. } | TakeoutAction::Erase { .. } => &[TakeoutState::Taken],
        };
        if ok.contains(&t.state) {
            Ok(())
        } else {
            Err(TakeoutError::BadTransition { id: id.to_owned(), state: t.state.label().to_owned() })
        }
    }

    pub(crate) fn apply_takeout(&mut self, action: &TakeoutAction, actor: &str, strict: bool) -> Result<(), TakeoutError> {
        if strict {
            self.check_takeout(action)?;
        } else {
            self.check_transition(action)?;
        }
        let tr = |state, on, person: Option<&String>, note: &str| Transition {
            state,
            on,
            by: actor.to_owned(),
            person: person.cloned(),
            note: note.to_owned(),
        };
        match action {
            TakeoutAction::Request(r) => {
                self.book.takeouts.insert(
                    r.id.clone(),
                    Takeout {
                        request: r.clone(),
                        state: TakeoutState::Requested,
                        approver: None,
                        history: vec![tr(TakeoutState::Requested, r.requested_on, Some(&r.applicant), "")],
                    },
                );
            }
            TakeoutAction::Approve { id, approver, on, note } | TakeoutAction::Reject { id, approver, on, note } => {
                let state = if matches!(action, TakeoutAction::Approve { .. }) { TakeoutState::Approved } else { TakeoutState::Rejected };
                let t = self.book.takeouts.get_mut(id).expect("checked");
                t.state = state;
                t.approver = Some(approver.clone());
                t.history.push(tr(state, *on, Some(approver), note));
            }
            TakeoutAction::Take { id, on } => {
                let t = self.book.takeouts.get_mut(id).expect("checked");
                t.state = TakeoutState::Taken;
                t.history.push(tr(TakeoutState::Taken, *on, None, ""));
            }
            TakeoutAction::Return { id, on, note } | TakeoutAction::Erase { id, on, note } => {
                let state = if matches!(action, TakeoutAction::Return { .. }) { TakeoutState::Returned } else { TakeoutState::Erased };
                let t = self.book.takeouts.get_mut(id).expect("checked");
                t.state = state;
                t.history.push(tr(state, *on, None, note));
            }
        }
        Ok(())
    }

    /// A request by number.
    pub fn takeout(&self, id: &str) -> Option<&Takeout> {
        self.book.takeouts.get(id)
    }

    /// All requests, by number.
    pub fn takeouts(&self) -> impl Iterator<Item = &Takeout> {
        self.book.takeouts.values()
    }

    /// The 職員番号 behind a person-or-account: a 職員番号 in the roster as is, else the
    /// account resolved on `date` to exactly one person.
    pub fn staff_id_of(&self, person_or_account: &str, date: NaiveDate) -> Option<String> {
        if self.person(person_or_account, date).is_some() {
            return Some(person_or_account.to_owned());
        }
        match self.resolve_account(person_or_account, date) {
            Resolution::Person(p) => Some(p.staff_id),
            _ => None,
        }
    }

    fn medium_matches(&self, m: &Medium, c: &Channel, date: NaiveDate) -> bool {
        match (m, c) {
            (_, Channel::Export { .. }) => true,
            (
                Medium::Usb { vendor_id, product_id, serial, .. },
                Channel::Usb { vendor_id: v, product_id: p, serial: s },
            ) => norm_hex(vendor_id) == norm_hex(v) && norm_hex(product_id) == norm_hex(p) && serial == s,
            (Medium::Mail { to }, Channel::Mail { to: rcpts }) => {
                let known = crate::directory::KnownAt::Latest;
                let _ = date;
                rcpts.iter().any(|r| r.trim().eq_ignore_ascii_case(to))
                    && rcpts.iter().all(|r| {
                        r.trim().eq_ignore_ascii_case(to)
                            || r.rsplit_once('@').is_some_and(|(_, d)| self.is_internal_domain(d, known))
                    })
            }
            _ => false,
        }
    }

    /// The approved request covering a takeout by `person_or_account` through `channel` on
    /// `date` with `records` records (see the module doc), if any. For detection.
    pub fn approved_takeout(
        &self,
        person_or_account: &str,
        channel: &Channel,
        date: NaiveDate,
        records: Option<u64>,
    ) -> Option<&Takeout> {
        let staff = self.staff_id_of(person_or_account, date)?;
        self.book.takeouts.values().find(|t| {
            t.request.applicant == staff
                && self.medium_matches(&t.request.medium, channel, date)
                && t.approved_on(date)
                && match (t.request.records, records) {
                    (Some(a), Some(o)) => o <= a,
                    _ => true,
                }
        })
    }

    /// Reconciles one observation (see the module doc).
    pub fn reconcile_one(&self, o: &Observed) -> Reconciled {
        if let Some(t) = self.approved_takeout(&o.account, &o.channel, o.date, o.records) {
            return Reconciled::Matched { takeout: t.request.id.clone() };
        }
        let Some(staff) = self.staff_id_of(&o.account, o.date) else {
            return Reconciled::Unmatched(Unmatched::UnknownAccount);
        };
        let same: Vec<&Takeout> = self
            .book
            .takeouts
            .values()
            .filter(|t| t.request.applicant == staff && self.medium_matches(&t.request.medium, &o.channel, o.date))
            .collect();
        if same.is_empty() {
            return Reconciled::Unmatched(Unmatched::NoRequest);
        }
        if let Some(t) = same.iter().find(|t| t.approved_on(o.date)) {
            return Reconciled::Unmatched(Unmatched::MoreRecords {
                takeout: t.request.id.clone(),
                approved: t.request.records.unwrap_or(0),
                observed: o.records.unwrap_or(0),
            });
        }
        if let Some(t) = same.iter().find(|t| t.date_of(TakeoutState::Approved).is_some()) {
            return Reconciled::Unmatched(Unmatched::OutsidePeriod { takeout: t.request.id.clone() });
        }
        Reconciled::Unmatched(Unmatched::NotApproved { takeout: same[0].request.id.clone(), state: same[0].state })
    }

    /// Reconciles observations, one verdict each, in order.
    pub fn reconcile(&self, observed: &[Observed]) -> Vec<Reconciled> {
        observed.iter().map(|o| self.reconcile_one(o)).collect()
    }

    /// Approved or taken requests whose period ended before `as_of` and that were not
    /// returned or erased.
    pub fn takeout_reminders(&self, as_of: NaiveDate) -> Vec<TakeoutReminder> {
        self.book
            .takeouts
            .values()
            .filter(|t| matches!(t.state, TakeoutState::Approved | TakeoutState::Taken) && t.request.until < as_of)
            .map(|t| TakeoutReminder {
                takeout: t.request.id.clone(),
                applicant: t.request.applicant.clone(),
                state: t.state,
                due: t.request.until,
                days_overdue: (as_of - t.request.until).num_days(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks() {
        assert!(title_rank("課長") > title_rank("課長補佐"));
        assert!(title_rank("部長") > title_rank("次長"));
        assert!(title_rank("次長") > title_rank("課長"));
        assert!(title_rank("係長") > title_rank("主任"));
        assert_eq!(title_rank("主事"), 0);
        assert!(title_rank("副市長") < title_rank("市長"));
    }

    #[test]
    fn ecs_usb_mail_export() {
        let usb = serde_json::json!({"@timestamp": "2024-05-31T16:00:00Z", "user": {"name": "sato.h"},
            "file": {"name": "a.csv"}, "mamori": {"usb": {"vendor_id": "0781", "product_id": "5567", "serial": "S1"}}});
        let o = Observed::from_ecs(Some(3), &usb).unwrap();
        // 16:00Z is 01:00 JST the next day.
        assert_eq!(o.date, NaiveDate::from_ymd_opt(2024, 6, 1).unwrap());
        assert!(matches!(o.channel, Channel::Usb { .. }));
        let mail = serde_json::json!({"@timestamp": "2024-05-01T01:00:00Z", "user": {"name": "sato.h"},
            "email": {"to": {"address": ["x@example.com"]}, "attachments": [{"file": {"name": "a.csv"}}]}});
        assert!(matches!(Observed::from_ecs(None, &mail).unwrap().channel, Channel::Mail { ref to } if to == &["x@example.com"]));
        let plain = serde_json::json!({"@timestamp": "2024-05-01T01:00:00Z", "user": {"name": "sato.h"}, "email": {"to": {"address": "x@example.com"}}});
        assert!(Observed::from_ecs(None, &plain).is_none());
        let export = serde_json::json!({"@timestamp": "2024-05-01T01:00:00Z", "user": {"name": "sato.h"}, "mamori": {"export": {"records": 120, "system": "juki"}}});
        assert_eq!(Observed::from_ecs(None, &export).unwrap().records, Some(120));
    }
}
