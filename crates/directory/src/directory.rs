//! The bitemporal staff directory: imports in, "who was X on day D, as known at R" out.
//!
//! Valid time is the 発令日 of each order; recorded time is the import's `recorded_at`. The
//! directory keeps every row of every import and answers each question by folding, for one
//! person, the rows known at the chosen moment ([`KnownAt`]) in valid-time order.
//!
//! Rules (why, where not obvious):
//! - **Corrections.** Two rows with the same person, 異動区分 and 発令日 (and, for 兼務, 所属コード)
//!   are the same order: the one from the later import (apply order) wins. A row is never
//!   deleted by omission: a roster that stops listing someone says nothing about them.
//! - **Same-day order.** On one day: a retirement ending the previous day, then 採用, 復職, 異動,
//!   昇任, 兼務解除, 兼務, 休職, 退職; ties by import order, then row order. So 4/1 異動 + 4/1 兼務
//!   keeps the 兼務, and a 定年退職 on 3/31 followed by 再任用 on 4/1 is two periods.
//! - **Retirement boundary.** The person is employed through the 退職日 (通常、退職日は在職最終日)
//!   and 退職 from the next day on.
//! - **Employment periods.** 採用 starts a period (a new one after 退職: re-hire). Any other
//!   order for someone not employed starts a period too, marked `start_inferred` — snapshot
//!   rosters often lack the 採用 row, and an order presupposes employment on its 発令日.
//! - **兼務.** 兼務 adds a concurrent post; 異動 ends all concurrent posts (兼務 is re-issued at
//!   異動 when it continues — list it in the same roster); 昇任, 休職, 復職 keep them; 兼務解除
//!   ends one (or all); 退職 ends all.
//! - **Accounts** are identity, not time-bound: every account ever listed for a person is
//!   theirs (the roster tells when it was learnt, not when it was created, and the Hiratsuka
//!   case is precisely an account used after its owner left). See [`Directory::resolve_at`] for
//!   accounts listed for more than one person.
//! - **Knowledge order** is apply order. [`KnownAt::Time`] hides imports recorded after the
//!   given instant; apply imports in ledger order and keep `recorded_at` non-decreasing.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::account::{AccountError, AccountName};
use crate::roster::{ChangeType, RosterRow, RowError, SourceEncoding, parse_roster_detailed};

/// Version of the [`ImportRecord`] JSON shape. Bump on incompatible change; old records must
/// still replay.
pub const IMPORT_FORMAT: u32 = 1;

/// One roster import, as the caller ledgers it (JSON via serde). Replaying the records in
/// ledger order with [`Directory::apply`] rebuilds the same directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRecord {
    /// [`IMPORT_FORMAT`] at the time of import.
    pub format: u32,
    /// Caller-chosen unique id (e.g. the ledger index or a UUID).
    pub id: String,
    /// Recorded time: when the roster became known.
    pub recorded_at: DateTime<Utc>,
    /// The file name or other origin, for people reading the ledger.
    pub source_name: Option<String>,
    /// SHA-256 (hex) of the imported bytes, tying the record to the file.
    pub source_sha256: String,
    /// How the bytes were decoded.
    pub encoding: Option<SourceEncoding>,
    /// The rows that imported.
    pub rows: Vec<RosterRow>,
    /// The rows that did not, so the ledger shows what was refused and why.
    pub errors: Vec<RowError>,
}

impl ImportRecord {
    /// Parses a roster file into an import record (rows and row errors both kept).
    pub fn from_csv(
        id: impl Into<String>,
        bytes: &[u8],
        recorded_at: DateTime<Utc>,
        source_name: Option<String>,
    ) -> Self {
        let parsed = parse_roster_detailed(bytes, recorded_at);
        ImportRecord {
            format: IMPORT_FORMAT,
            id: id.into(),
            recorded_at,
            source_name,
            source_sha256: hex::encode(Sha256::digest(bytes)),
            encoding: parsed.encoding,
            rows: parsed.rows,
            errors: parsed.errors,
        }
    }
}

/// Why an import record cannot be applied. Nothing of it is applied then.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The record's format is newer than this code.
    #[error("取込記録の形式 {0} には対応していません / unsupported import record format {0}")]
    UnsupportedFormat(u32),
    /// An import with this id was applied already.
    #[error("取込 {0} は適用済みです / import {0} was already applied")]
    DuplicateImport(String),
    /// A row's recorded time differs from the record's.
    #[error(
        "{row}行目: 記録日時が取込記録と一致しません / row {row}: recorded_at differs from the import's"
    )]
    RecordedAtMismatch {
        /// The row.
        row: u64,
    },
    /// A row has an empty 職員番号 (only possible in a hand-made record).
    #[error("{row}行目「職員番号」: 空欄です / row {row}, column 職員番号: empty")]
    EmptyStaffId {
        /// The row.
        row: u64,
    },
}

/// Which recorded knowledge a question is asked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KnownAt {
    /// Everything applied so far ("as known now").
    Latest,
    /// Imports recorded at or before this instant, inclusive ("as known at R").
    Time(DateTime<Utc>),
    /// The first n imports in apply order ("as of that roster snapshot"); see
    /// [`Directory::known_after`].
    Imports(usize),
}

/// A point to look from: a valid date and a state of knowledge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    /// The valid date.
    pub date: NaiveDate,
    /// The knowledge.
    pub known: KnownAt,
}

/// 在職状況 on a date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// No employment period has begun by this date as far as the roster knows (採用前, or before
    /// the first order the roster has for the person).
    BeforeEmployment,
    /// 在職.
    Employed,
    /// 休職: employed, on leave.
    OnLeave,
    /// 退職: the last period ended before this date.
    Retired,
}

impl Status {
    /// The Japanese label.
    pub fn label(self) -> &'static str {
        match self {
            Status::BeforeEmployment => "採用前",
            Status::Employed => "在職",
            Status::OnLeave => "休職",
            Status::Retired => "退職",
        }
    }

    /// Employed or on leave: the person belongs to the organisation on that date.
    pub fn is_employed(self) -> bool {
        matches!(self, Status::Employed | Status::OnLeave)
    }
}

/// A post: a department and a title, held since a date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    /// 所属コード.
    pub dept_code: String,
    /// 所属名 (as of the latest order that named it).
    pub dept_name: String,
    /// 職名.
    pub title: String,
    /// First day in this department.
    pub since: NaiveDate,
}

/// An employment period (採用 … 退職).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// First day (the 採用 date, or the first order's 発令日 if inferred).
    pub start: NaiveDate,
    /// True when no 採用 row started it (see the module doc).
    pub start_inferred: bool,
    /// Last day (退職日): in a [`PersonState`], only if the period had ended by its date; in
    /// [`Directory::periods`], whenever the roster says it ends (a scheduled 定年 included).
    pub end: Option<NaiveDate>,
}

/// Who a person was on a date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonState {
    /// 職員番号.
    pub staff_id: String,
    /// 氏名 (from the latest order on or before the date; the earliest if none).
    pub name: String,
    /// 氏名カナ.
    pub name_kana: String,
    /// The date this state is for.
    pub date: NaiveDate,
    /// 在職状況.
    pub status: Status,
    /// Main post while employed or on leave; None otherwise.
    pub post: Option<Post>,
    /// Concurrent posts (兼務) while employed or on leave.
    pub concurrent: Vec<Post>,
    /// The post held at retirement, when [`Status::Retired`].
    pub last_post: Option<Post>,
    /// The current period (employed/on leave) or the last one (retired).
    pub period: Option<Period>,
    /// All periods begun on or before the date, oldest first (an end after the date is not
    /// shown: it was not yet a fact on that date).
    pub periods: Vec<Period>,
    /// Every account known for the person (accounts are not time-bound).
    pub accounts: Vec<AccountName>,
}

impl PersonState {
    /// The department codes the person belonged to on that date: main post and 兼務.
    pub fn dept_codes(&self) -> Vec<&str> {
        self.post
            .iter()
            .chain(&self.concurrent)
            .map(|p| p.dept_code.as_str())
            .collect()
    }
}

/// What an account name means on a date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Resolution {
    /// One person, with their state on the date.
    Person(Box<PersonState>),
    /// Several people could have used it: a shared account (共用アカウント), itself a finding.
    Shared(Vec<PersonState>),
    /// Nobody the directory knows. Never silently nothing.
    Unknown(UnknownReason),
}

/// Why an account is unknown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnknownReason {
    /// No roster lists the user name.
    NotInRoster,
    /// The domain is not one of the city's (no roster account has it), e.g. a private mail
    /// address or a local machine account.
    ExternalDomain(String),
    /// Not an account name at all.
    Invalid(AccountError),
}

/// An account listed for more than one person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedAccount {
    /// The user part (matching key).
    pub user: String,
    /// The 職員番号 of everyone it is listed for.
    pub holders: Vec<String>,
    /// True when two holders' employment periods overlap (truly shared); false when it was
    /// handed on after its holder left (reassigned).
    pub overlapping: bool,
}

/// One kind of change between two views.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeKind {
    /// Joiner: a period began (採用 / 再任用).
    Joined {
        /// Its first day.
        first_day: NaiveDate,
        /// It is not the person's first period.
        rehire: bool,
    },
    /// Leaver: a period ended.
    Left {
        /// Its last day (退職日), when known.
        last_day: Option<NaiveDate>,
    },
    /// Mover: main department changed within a period.
    Moved {
        /// Post before.
        from: Post,
        /// Post after.
        to: Post,
    },
    /// Same department, new title (昇任 etc.).
    TitleChanged {
        /// Title before.
        from: String,
        /// Title after.
        to: String,
    },
    /// A 兼務 began.
    ConcurrentAdded(Post),
    /// A 兼務 ended.
    ConcurrentEnded(Post),
    /// 休職 began.
    LeaveStarted,
    /// 復職.
    LeaveEnded,
}

/// The changes for one person between two views.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// 職員番号.
    pub staff_id: String,
    /// 氏名 (in the later view).
    pub name: String,
    /// Status in the first view.
    pub before: Status,
    /// Status in the second view.
    pub after: Status,
    /// What changed, in a stable order.
    pub kinds: Vec<ChangeKind>,
}

impl Change {
    /// Joined in the interval.
    pub fn is_joiner(&self) -> bool {
        self.kinds
            .iter()
            .any(|k| matches!(k, ChangeKind::Joined { .. }))
    }
    /// Changed department (main or 兼務) within a period.
    pub fn is_mover(&self) -> bool {
        self.kinds.iter().any(|k| {
            matches!(
                k,
                ChangeKind::Moved { .. }
                    | ChangeKind::ConcurrentAdded(_)
                    | ChangeKind::ConcurrentEnded(_)
            )
        })
    }
    /// Left in the interval.
    pub fn is_leaver(&self) -> bool {
        self.kinds
            .iter()
            .any(|k| matches!(k, ChangeKind::Left { .. }))
    }
}

/// A summary of an applied import.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportMeta {
    /// The import id.
    pub id: String,
    /// Its recorded time.
    pub recorded_at: DateTime<Utc>,
    /// Rows applied.
    pub rows: usize,
    /// Rows refused at parse time.
    pub errors: usize,
}

/// A row as stored: which import (apply order) it came from and where in it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Fact {
    seq: usize,
    index: usize,
    row: RosterRow,
}

/// The staff directory. Build it by applying import records in ledger order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Directory {
    imports: Vec<ImportMeta>,
    /// By 職員番号, in apply order.
    facts: BTreeMap<String, Vec<Fact>>,
    /// User part → 職員番号 → the imports (seq) that list it.
    accounts: BTreeMap<String, BTreeMap<String, BTreeSet<usize>>>,
    /// Internal domains → the imports (seq) that list an account with it.
    domains: BTreeMap<String, BTreeSet<usize>>,
    /// LDAP, grants, entitlements, takeouts, vendors, sign-offs (see [`crate::book`]).
    pub(crate) book: crate::book::Book,
}

/// Event order within a day (see the module doc).
fn rank(c: ChangeType) -> u8 {
    match c {
        ChangeType::Hire => 1,
        ChangeType::Return => 2,
        ChangeType::Transfer => 3,
        ChangeType::Promotion => 4,
        ChangeType::ConcurrentEnd => 5,
        ChangeType::Concurrent => 6,
        ChangeType::Leave => 7,
        ChangeType::Retirement => 8,
    }
}

#[derive(Clone, Copy)]
enum Ev {
    Order,
    /// The day after a 退職日.
    Retire(NaiveDate),
}

impl Directory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one import. Deterministic: the same records in the same order give an equal
    /// directory. All-or-nothing: on error nothing is applied.
    pub fn apply(&mut self, rec: &ImportRecord) -> Result<&ImportMeta, ApplyError> {
        if rec.format > IMPORT_FORMAT {
            return Err(ApplyError::UnsupportedFormat(rec.format));
        }
        if self.imports.iter().any(|m| m.id == rec.id) {
            return Err(ApplyError::DuplicateImport(rec.id.clone()));
        }
        for r in &rec.rows {
            if r.recorded_at != rec.recorded_at {
                return Err(ApplyError::RecordedAtMismatch { row: r.row });
            }
            if r.staff_id.trim().is_empty() {
                return Err(ApplyError::EmptyStaffId { row: r.row });
            }
        }
        let seq = self.imports.len();
        for (index, r) in rec.rows.iter().enumerate() {
            for a in &r.accounts {
                let holders = self.accounts.entry(a.user().to_owned()).or_default();
                holders.entry(r.staff_id.clone()).or_default().insert(seq);
                if let Some(d) = a.domain() {
                    self.domains.entry(d.to_owned()).or_default().insert(seq);
                }
            }
            let fact = Fact {
                seq,
                index,
                row: r.clone(),
            };
            self.facts.entry(r.staff_id.clone()).or_default().push(fact);
        }
        self.imports.push(ImportMeta {
            id: rec.id.clone(),
            recorded_at: rec.recorded_at,
            rows: rec.rows.len(),
            errors: rec.errors.len(),
        });
        Ok(&self.imports[seq])
    }

    /// The imports applied, in order.
    pub fn imports(&self) -> &[ImportMeta] {
        &self.imports
    }

    /// The knowledge right after the import with this id was applied.
    pub fn known_after(&self, import_id: &str) -> Option<KnownAt> {
        self.imports
            .iter()
            .position(|m| m.id == import_id)
            .map(|i| KnownAt::Imports(i + 1))
    }

    fn visible(&self, known: KnownAt, seq: usize) -> bool {
        match known {
            KnownAt::Latest => true,
            KnownAt::Time(t) => self.imports.get(seq).is_some_and(|m| m.recorded_at <= t),
            KnownAt::Imports(n) => seq < n,
        }
    }

    /// The rows in force for a person as known then: superseded rows dropped, in valid-time
    /// order (same-day order per the module doc).
    pub fn history(&self, staff_id: &str, known: KnownAt) -> Vec<RosterRow> {
        self.effective_facts(staff_id, known)
            .into_iter()
            .map(|f| f.row.clone())
            .collect()
    }

    fn effective_facts(&self, staff_id: &str, known: KnownAt) -> Vec<&Fact> {
        let Some(all) = self.facts.get(staff_id) else {
            return Vec::new();
        };
        let mut latest: BTreeMap<_, &Fact> = BTreeMap::new();
        for f in all.iter().filter(|f| self.visible(known, f.seq)) {
            // Facts are stored in apply order, so a later insert is later knowledge.
            latest.insert(f.row.key(), f);
        }
        let mut facts: Vec<&Fact> = latest.into_values().collect();
        facts.sort_by_key(|f| (f.row.effective, rank(f.row.change), f.seq, f.index));
        facts
    }

    /// Every 所属コード named by a roster row (main posts and 兼務).
    pub(crate) fn dept_codes_in_roster(&self) -> BTreeSet<String> {
        self.facts
            .values()
            .flatten()
            .map(|f| f.row.dept_code.clone())
            .filter(|c| !c.is_empty())
            .collect()
    }

    /// 職員番号 of everyone known.
    pub fn staff_ids(&self, known: KnownAt) -> Vec<String> {
        self.facts
            .iter()
            .filter(|(_, fs)| fs.iter().any(|f| self.visible(known, f.seq)))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Who the person was on `date`, as known now.
    pub fn person(&self, staff_id: &str, date: NaiveDate) -> Option<PersonState> {
        self.person_at(
            staff_id,
            View {
                date,
                known: KnownAt::Latest,
            },
        )
    }

    /// Who the person was on `view.date`, as known at `view.known`. None if the person is not
    /// in any roster known then.
    pub fn person_at(&self, staff_id: &str, view: View) -> Option<PersonState> {
        let facts = self.effective_facts(staff_id, view.known);
        let first = facts.first()?;
        let mut events: Vec<(NaiveDate, u8, usize, usize, Ev, &RosterRow)> = Vec::new();
        for f in &facts {
            let r = &f.row;
            let order_day = match (r.change, r.retirement_date) {
                // A retroactive 退職 (退職日 before 発令日) must not re-open employment after it.
                (ChangeType::Retirement, Some(last)) => r.effective.min(last),
                _ => r.effective,
            };
            events.push((order_day, rank(r.change), f.seq, f.index, Ev::Order, r));
            if let Some(last) = r.retirement_date
                && let Some(next) = last.succ_opt()
            {
                events.push((next, 0, f.seq, f.index, Ev::Retire(last), r));
            }
        }
        events.sort_by_key(|e| (e.0, e.1, e.2, e.3));

        let mut st = PersonState {
            staff_id: staff_id.to_owned(),
            name: first.row.name.clone(),
            name_kana: first.row.name_kana.clone(),
            date: view.date,
            status: Status::BeforeEmployment,
            post: None,
            concurrent: Vec::new(),
            last_post: None,
            period: None,
            periods: Vec::new(),
            accounts: Vec::new(),
        };
        for (day, _, _, _, ev, r) in events.into_iter().filter(|e| e.0 <= view.date) {
            match ev {
                Ev::Retire(last) => {
                    if st.status.is_employed() {
                        if let Some(p) = st.periods.last_mut() {
                            p.end = Some(last);
                        }
                        st.status = Status::Retired;
                        st.last_post = st.post.take();
                        st.concurrent.clear();
                    }
                }
                Ev::Order => {
                    if !r.name.is_empty() {
                        st.name.clone_from(&r.name);
                    }
                    if !r.name_kana.is_empty() {
                        st.name_kana.clone_from(&r.name_kana);
                    }
                    apply_order(&mut st, day, r);
                }
            }
        }
        st.period = st.periods.last().cloned();
        let mut accounts: Vec<AccountName> = Vec::new();
        for f in &facts {
            for a in &f.row.accounts {
                if !accounts.contains(a) {
                    accounts.push(a.clone());
                }
            }
        }
        accounts.sort();
        st.accounts = accounts;
        Some(st)
    }

    /// Everyone known, on a date.
    pub fn people_at(&self, view: View) -> Vec<PersonState> {
        self.staff_ids(view.known)
            .iter()
            .filter_map(|id| self.person_at(id, view))
            .collect()
    }

    /// All employment periods of a person as known then (ends included even if in the future:
    /// a scheduled 定年退職 is listed).
    pub fn periods(&self, staff_id: &str, known: KnownAt) -> Vec<Period> {
        self.person_at(
            staff_id,
            View {
                date: NaiveDate::MAX,
                known,
            },
        )
        .map(|s| s.periods)
        .unwrap_or_default()
    }

    /// Resolves an account on a date, as known now. See [`Directory::resolve_at`].
    pub fn resolve(&self, account: &str, date: NaiveDate) -> Resolution {
        self.resolve_at(
            account,
            View {
                date,
                known: KnownAt::Latest,
            },
        )
    }

    /// Resolves an account on a date. The account is normalised (see the `account` module);
    /// a domain no roster account has makes it [`UnknownReason::ExternalDomain`]. Then, by
    /// user part:
    /// - listed for nobody → Unknown; for one person → that person, whatever their status
    ///   (a retired person's account in use is exactly what detection must see);
    /// - listed for several: those employed (or on leave) on the date; if exactly one, that
    ///   person; if several, Shared. If none is employed, the one who left last (a handed-on
    ///   account used after everyone left is most likely the last holder's); ties and
    ///   "nobody hired yet" are Shared.
    pub fn resolve_at(&self, account: &str, view: View) -> Resolution {
        let acct = match AccountName::parse(account) {
            Ok(a) => a,
            Err(e) => return Resolution::Unknown(UnknownReason::Invalid(e)),
        };
        if let Some(d) = acct.domain()
            && !self.is_internal_domain(d, view.known)
        {
            return Resolution::Unknown(UnknownReason::ExternalDomain(d.to_owned()));
        }
        let holders = self.holders(acct.user(), view.known);
        let mut states: Vec<PersonState> = holders
            .iter()
            .filter_map(|id| self.person_at(id, view))
            .collect();
        match states.len() {
            0 => return Resolution::Unknown(UnknownReason::NotInRoster),
            1 => return Resolution::Person(Box::new(states.remove(0))),
            _ => {}
        }
        let active: Vec<PersonState> = states
            .iter()
            .filter(|s| s.status.is_employed())
            .cloned()
            .collect();
        if !active.is_empty() {
            return pick(active);
        }
        let last_day = |s: &PersonState| s.period.as_ref().and_then(|p| p.end);
        let latest = states
            .iter()
            .filter(|s| s.status == Status::Retired)
            .filter_map(last_day)
            .max();
        match latest {
            Some(l) => pick(
                states
                    .into_iter()
                    .filter(|s| last_day(s) == Some(l))
                    .collect(),
            ),
            None => Resolution::Shared(states),
        }
    }

    fn holders(&self, user: &str, known: KnownAt) -> Vec<String> {
        self.accounts
            .get(user)
            .map(|m| {
                m.iter()
                    .filter(|(_, seqs)| seqs.iter().any(|&s| self.visible(known, s)))
                    .map(|(id, _)| id.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// True when some roster account known then has this domain (lower-case).
    pub fn is_internal_domain(&self, domain: &str, known: KnownAt) -> bool {
        self.domains
            .get(&domain.to_lowercase())
            .is_some_and(|seqs| seqs.iter().any(|&s| self.visible(known, s)))
    }

    /// Accounts listed for more than one person, by user part.
    pub fn shared_accounts(&self, known: KnownAt) -> Vec<SharedAccount> {
        let mut out = Vec::new();
        for user in self.accounts.keys() {
            let holders = self.holders(user, known);
            if holders.len() < 2 {
                continue;
            }
            let periods: Vec<Vec<Period>> =
                holders.iter().map(|h| self.periods(h, known)).collect();
            let overlapping = periods.iter().enumerate().any(|(i, a)| {
                periods[i + 1..].iter().any(|b| {
                    a.iter().any(|p| {
                        b.iter().any(|q| {
                            let end = |x: &Period| x.end.unwrap_or(NaiveDate::MAX);
                            p.start <= end(q) && q.start <= end(p)
                        })
                    })
                })
            });
            out.push(SharedAccount {
                user: user.clone(),
                holders,
                overlapping,
            });
        }
        out
    }

    /// Joiners, movers and leavers between two views, one [`Change`] per person who changed,
    /// by 職員番号. With the same knowledge and two dates this is "what happened between the
    /// dates"; with one date and two knowledges (e.g. [`Directory::known_after`] two imports)
    /// it is "what the newer roster says differently" — corrections included.
    pub fn changes(&self, from: View, to: View) -> Vec<Change> {
        let mut ids: BTreeSet<String> = self.staff_ids(from.known).into_iter().collect();
        ids.extend(self.staff_ids(to.known));
        let mut out = Vec::new();
        for id in ids {
            let a = self.person_at(&id, from);
            let Some(b) = self.person_at(&id, to) else {
                continue;
            };
            let kinds = diff(a.as_ref(), &b, from.date);
            if !kinds.is_empty() {
                out.push(Change {
                    staff_id: id,
                    name: b.name.clone(),
                    before: a.map_or(Status::BeforeEmployment, |a| a.status),
                    after: b.status,
                    kinds,
                });
            }
        }
        out
    }

    /// [`Directory::changes`] between two dates, as known now.
    pub fn changes_between(&self, from: NaiveDate, to: NaiveDate) -> Vec<Change> {
        self.changes(
            View {
                date: from,
                known: KnownAt::Latest,
            },
            View {
                date: to,
                known: KnownAt::Latest,
            },
        )
    }
}

fn pick(mut states: Vec<PersonState>) -> Resolution {
    if states.len() == 1 {
        Resolution::Person(Box::new(states.remove(0)))
    } else {
        Resolution::Shared(states)
    }
}

fn post_from(r: &RosterRow, day: NaiveDate, current: Option<&Post>) -> Post {
    let same_dept = current.filter(|p| p.dept_code == r.dept_code);
    Post {
        dept_code: r.dept_code.clone(),
        dept_name: if r.dept_name.is_empty() {
            same_dept.map(|p| p.dept_name.clone()).unwrap_or_default()
        } else {
            r.dept_name.clone()
        },
        title: if r.title.is_empty() {
            current.map(|p| p.title.clone()).unwrap_or_default()
        } else {
            r.title.clone()
        },
        // Staying in the same department (昇任 in place, a renamed 課) keeps the start date.
        since: same_dept.map_or(day, |p| p.since),
    }
}

fn apply_order(st: &mut PersonState, day: NaiveDate, r: &RosterRow) {
    if !st.status.is_employed() {
        st.periods.push(Period {
            start: day,
            start_inferred: r.change != ChangeType::Hire,
            end: None,
        });
        st.status = Status::Employed;
        st.post = None;
        st.last_post = None;
        st.concurrent.clear();
    }
    let set_main = |st: &mut PersonState| {
        if !r.dept_code.is_empty() {
            st.post = Some(post_from(r, day, st.post.as_ref()));
        } else if !r.title.is_empty()
            && let Some(p) = st.post.as_mut()
        {
            p.title.clone_from(&r.title);
        }
    };
    match r.change {
        ChangeType::Hire | ChangeType::Promotion | ChangeType::Retirement => set_main(st),
        ChangeType::Transfer => {
            set_main(st);
            st.concurrent.clear();
        }
        ChangeType::Leave => {
            set_main(st);
            st.status = Status::OnLeave;
        }
        ChangeType::Return => {
            set_main(st);
            st.status = Status::Employed;
        }
        ChangeType::Concurrent => {
            let existing = st
                .concurrent
                .iter()
                .position(|p| p.dept_code == r.dept_code);
            let post = post_from(r, day, existing.map(|i| &st.concurrent[i]));
            match existing {
                Some(i) => st.concurrent[i] = post,
                None => st.concurrent.push(post),
            }
        }
        ChangeType::ConcurrentEnd => {
            if r.dept_code.is_empty() {
                st.concurrent.clear();
            } else {
                st.concurrent.retain(|p| p.dept_code != r.dept_code);
            }
        }
    }
}

fn diff(a: Option<&PersonState>, b: &PersonState, from: NaiveDate) -> Vec<ChangeKind> {
    let mut kinds = Vec::new();
    let a_period = a
        .filter(|a| a.status.is_employed())
        .and_then(|a| a.period.as_ref());
    let b_period = b.period.as_ref().filter(|_| b.status.is_employed());
    let same_period = matches!((a_period, b_period), (Some(p), Some(q)) if p.start == q.start);
    if let (Some(p), false) = (a_period, same_period) {
        let last_day = b
            .periods
            .iter()
            .find(|q| q.start == p.start)
            .and_then(|q| q.end);
        kinds.push(ChangeKind::Left { last_day });
    }
    // Periods that began and ended entirely between the two views.
    for q in &b.periods {
        let is_a = a_period.is_some_and(|p| p.start == q.start);
        let is_b = b_period.is_some_and(|p| p.start == q.start);
        if !is_a && !is_b && q.start > from && q.end.is_some() {
            kinds.push(ChangeKind::Joined {
                first_day: q.start,
                rehire: b.periods[0].start != q.start,
            });
            kinds.push(ChangeKind::Left { last_day: q.end });
        }
    }
    if let (Some(q), false) = (b_period, same_period) {
        kinds.push(ChangeKind::Joined {
            first_day: q.start,
            rehire: b.periods[0].start != q.start,
        });
    }
    let Some(a) = a.filter(|_| same_period) else {
        return kinds;
    };
    match (&a.post, &b.post) {
        (Some(p), Some(q)) if p.dept_code != q.dept_code => kinds.push(ChangeKind::Moved {
            from: p.clone(),
            to: q.clone(),
        }),
        (Some(p), Some(q)) if p.title != q.title => kinds.push(ChangeKind::TitleChanged {
            from: p.title.clone(),
            to: q.title.clone(),
        }),
        _ => {}
    }
    for p in &a.concurrent {
        if !b.concurrent.iter().any(|q| q.dept_code == p.dept_code) {
            kinds.push(ChangeKind::ConcurrentEnded(p.clone()));
        }
    }
    for q in &b.concurrent {
        if !a.concurrent.iter().any(|p| p.dept_code == q.dept_code) {
            kinds.push(ChangeKind::ConcurrentAdded(q.clone()));
        }
    }
    match (a.status, b.status) {
        (Status::Employed, Status::OnLeave) => kinds.push(ChangeKind::LeaveStarted),
        (Status::OnLeave, Status::Employed) => kinds.push(ChangeKind::LeaveEnded),
        _ => {}
    }
    kinds
}
