//! The monthly log review (操作ログ点検): for a month, the anomalies (the alerts of that month)
//! and a random but reproducible sample of its events for a reviewer, who comments and signs
//! off; comments and sign-offs are ledgered ([`LogReviewAction`], `event.action`
//! `logreview-commented` / `logreview-signed`, under `mamori.logreview`).
//!
//! **Sample**: the events of the month are ranked by SHA-256(seed ‖ ledger id) and the first
//! `k` taken, so anyone with the ledger can recompute it. The seed is derived from the log's
//! origin, the month and the number of events of the month ([`seed`]), so it is only known once
//! the month is over (staff cannot know beforehand which of their operations will be looked at)
//! and is the same on every recomputation afterwards.
//!
//! **Sign-off**: records the reviewer, a summary and the digest of what was shown (month, event
//! count, anomaly ids, sample ids: [`LogReview::digest`]); a later change of the month's content
//! (late events, new alerts) shows as a digest mismatch.
//!
//! The review itself ([`LogReview`]) is assembled by the caller from the index, the alerts and
//! the directory with [`ReviewBuilder`]; this module does no I/O.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `event.action`s of ledgered log-review actions.
pub const LOGREVIEW_ACTIONS: [&str; 2] = ["logreview-commented", "logreview-signed"];

/// Default sample size.
pub const DEFAULT_SAMPLE: usize = 20;

/// A calendar month.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Month {
    first: NaiveDate,
}

impl Month {
    /// Parses `YYYY-MM`.
    pub fn parse(s: &str) -> Result<Month, String> {
        let bad = || format!("月 {s:?} は YYYY-MM で指定してください / month {s:?}: expected YYYY-MM");
        let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
        let (y, m): (i32, u32) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        let first = NaiveDate::from_ymd_opt(y, m, 1).ok_or_else(bad)?;
        Ok(Month { first })
    }
    /// The month of a date.
    pub fn of(d: NaiveDate) -> Month {
        Month {
            first: d.with_day(1).expect("day 1"),
        }
    }
    /// First day.
    pub fn first(self) -> NaiveDate {
        self.first
    }
    /// Last day.
    pub fn last(self) -> NaiveDate {
        self.next().first - Duration::days(1)
    }
    /// The next month.
    pub fn next(self) -> Month {
        let (y, m) = if self.first.month() == 12 {
            (self.first.year() + 1, 1)
        } else {
            (self.first.year(), self.first.month() + 1)
        };
        Month {
            first: NaiveDate::from_ymd_opt(y, m, 1).expect("valid"),
        }
    }
    /// Days in the month.
    pub fn days(self) -> u32 {
        self.last().day()
    }
    /// Whether `d` is in the month.
    pub fn contains(self, d: NaiveDate) -> bool {
        Month::of(d) == self
    }
    /// `YYYY年M月`.
    pub fn label_ja(self) -> String {
        format!("{}年{}月", self.first.year(), self.first.month())
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.first.year(), self.first.month())
    }
}

impl TryFrom<String> for Month {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Month::parse(&s)
    }
}

impl From<Month> for String {
    fn from(m: Month) -> String {
        m.to_string()
    }
}

/// What a comment is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Target {
    /// The month as a whole.
    General,
    /// An anomaly (alert id).
    Alert {
        /// Alert id.
        id: u64,
    },
    /// A sampled event (ledger id).
    Event {
        /// Ledger id.
        id: u64,
    },
}

impl Target {
    /// Japanese label.
    pub fn label_ja(&self) -> String {
        match self {
            Target::General => "全体".into(),
            Target::Alert { id } => format!("アラート #{id}"),
            Target::Event { id } => format!("イベント #{id}"),
        }
    }
}

/// A ledgered log-review action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum LogReviewAction {
    /// 点検コメント.
    Comment {
        /// The month.
        month: Month,
        /// About what.
        target: Target,
        /// The comment.
        text: String,
    },
    /// 点検完了の確認 (sign-off).
    Sign {
        /// The month.
        month: Month,
        /// The reviewer's name (点検者).
        reviewer: String,
        /// Conclusion.
        #[serde(default)]
        summary: String,
        /// [`LogReview::digest`] of what was reviewed.
        digest: String,
        /// Anomalies shown.
        anomalies: usize,
        /// Sampled events shown.
        sample: usize,
    },
}

impl LogReviewAction {
    /// The month.
    pub fn month(&self) -> Month {
        match self {
            LogReviewAction::Comment { month, .. } | LogReviewAction::Sign { month, .. } => *month,
        }
    }
    /// The `event.action` of its ledger entry.
    pub fn event_action(&self) -> &'static str {
        match self {
            LogReviewAction::Comment { .. } => LOGREVIEW_ACTIONS[0],
            LogReviewAction::Sign { .. } => LOGREVIEW_ACTIONS[1],
        }
    }
}

/// A comment as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    /// About what.
    pub target: Target,
    /// Text.
    pub text: String,
    /// Who (ledger actor).
    pub by: String,
    /// When.
    pub at: String,
    /// Ledger id.
    pub ledger_id: u64,
}

/// A sign-off as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed {
    /// 点検者.
    pub reviewer: String,
    /// Conclusion.
    pub summary: String,
    /// Digest signed.
    pub digest: String,
    /// Anomalies shown.
    pub anomalies: usize,
    /// Sample shown.
    pub sample: usize,
    /// Who recorded it (ledger actor: the signed-in account).
    pub by: String,
    /// When.
    pub at: String,
    /// Ledger id.
    pub ledger_id: u64,
}

/// The ledgered record of one month.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthRecord {
    /// Comments, in ledger order.
    pub comments: Vec<Comment>,
    /// Sign-offs, in ledger order.
    pub signoffs: Vec<Signed>,
}

/// Why a log-review action is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LogReviewError {
    /// Empty text.
    #[error("「{0}」が空欄です / {0} is empty")]
    Empty(&'static str),
    /// The same account signed this month already.
    #[error("{by} は {month} の点検を確認済みです / {by} signed {month} already")]
    AlreadySigned {
        /// Account.
        by: String,
        /// Month.
        month: Month,
    },
}

/// Comments and sign-offs of every month, rebuilt from the ledger.
#[derive(Clone, Debug, Default)]
pub struct LogReviewBook {
    months: BTreeMap<Month, MonthRecord>,
}

impl LogReviewBook {
    /// Empty.
    pub fn new() -> Self {
        Self::default()
    }

    /// The record of a month (empty if nothing was ledgered).
    pub fn month(&self, m: Month) -> MonthRecord {
        self.months.get(&m).cloned().unwrap_or_default()
    }

    /// Months with any record.
    pub fn months(&self) -> impl Iterator<Item = (&Month, &MonthRecord)> {
        self.months.iter()
    }

    /// Checks an action by `actor`.
    pub fn check(&self, actor: &str, a: &LogReviewAction) -> Result<(), LogReviewError> {
        match a {
            LogReviewAction::Comment { text, .. } if text.trim().is_empty() => Err(LogReviewError::Empty("コメント / comment")),
            LogReviewAction::Sign { reviewer, .. } if reviewer.trim().is_empty() => Err(LogReviewError::Empty("点検者 / reviewer")),
            LogReviewAction::Sign { month, .. } if self.months.get(month).is_some_and(|r| r.signoffs.iter().any(|s| s.by == actor)) => {
                Err(LogReviewError::AlreadySigned {
                    by: actor.to_owned(),
                    month: *month,
                })
            }
            _ => Ok(()),
        }
    }

    /// Applies a ledgered action (checked first).
    pub fn apply(&mut self, ledger_id: u64, actor: &str, at: &str, a: &LogReviewAction) -> Result<(), LogReviewError> {
        self.check(actor, a)?;
        let rec = self.months.entry(a.month()).or_default();
        match a {
            LogReviewAction::Comment { target, text, .. } => rec.comments.push(Comment {
                target: target.clone(),
                text: text.clone(),
                by: actor.to_owned(),
                at: at.to_owned(),
                ledger_id,
            }),
            LogReviewAction::Sign {
                reviewer,
                summary,
                digest,
                anomalies,
                sample,
                ..
            } => rec.signoffs.push(Signed {
                reviewer: reviewer.clone(),
                summary: summary.clone(),
                digest: digest.clone(),
                anomalies: *anomalies,
                sample: *sample,
                by: actor.to_owned(),
                at: at.to_owned(),
                ledger_id,
            }),
        }
        Ok(())
    }
}

/// The sample seed of a month: SHA-256 of the log origin, the month and its event count.
pub fn seed(origin: &str, month: Month, events: u64) -> String {
    hex::encode(Sha256::digest(format!("mamori-logreview\n{origin}\n{month}\n{events}").as_bytes()))
}

/// The `k` ids of `ids` ranked first by SHA-256(seed ‖ id), returned ascending.
pub fn sample(seed: &str, ids: &[u64], k: usize) -> Vec<u64> {
    let mut ranked: Vec<([u8; 32], u64)> = ids
        .iter()
        .map(|&id| {
            let mut h = Sha256::new();
            h.update(seed.as_bytes());
            h.update(id.to_be_bytes());
            (h.finalize().into(), id)
        })
        .collect();
    ranked.sort_unstable();
    ranked.dedup_by_key(|x| x.1);
    let mut out: Vec<u64> = ranked.into_iter().take(k).map(|(_, id)| id).collect();
    out.sort_unstable();
    out
}

/// An anomaly of the month (an alert).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anomaly {
    /// Alert id.
    pub alert_id: u64,
    /// 重要度 (Japanese label).
    pub severity_ja: String,
    /// Rule id.
    pub rule_id: String,
    /// Title.
    pub title_ja: String,
    /// Who (name, staff id, department) or the account.
    pub who: String,
    /// First event time.
    pub first_ts: String,
    /// Findings.
    pub count: u64,
    /// State label.
    pub state_ja: String,
}

/// A sampled event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleEvent {
    /// Ledger id.
    pub id: u64,
    /// `@timestamp`.
    pub ts: String,
    /// `user.name`.
    pub user: String,
    /// Department on that day.
    pub department: String,
    /// `event.action`.
    pub action: String,
    /// Where (file path, host, recipient …).
    pub target: String,
}

/// Events per day of one department.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeptSeries {
    /// 所属名 (or 不明).
    pub department: String,
    /// Count per day of the month (index 0 = day 1).
    pub per_day: Vec<u64>,
    /// Total.
    pub total: u64,
}

/// The review of a month: what the reviewer sees and signs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogReview {
    /// The month.
    pub month: Month,
    /// Events in the month.
    pub events: u64,
    /// Events per day per department (largest departments first).
    pub departments: Vec<DeptSeries>,
    /// Alerts of the month.
    pub anomalies: Vec<Anomaly>,
    /// The sample seed.
    pub seed: String,
    /// Sampled events.
    pub sample: Vec<SampleEvent>,
    /// Digest of what is shown.
    pub digest: String,
    /// Comments and sign-offs ledgered for the month.
    pub record: MonthRecord,
}

impl LogReview {
    /// Digest over the month, the event count, the anomaly ids and the sample ids.
    pub fn digest(month: Month, events: u64, anomalies: &[u64], sample: &[u64]) -> String {
        let v = serde_json::json!({"month": month.to_string(), "events": events, "anomalies": anomalies, "sample": sample});
        hex::encode(Sha256::digest(v.to_string().as_bytes()))
    }

    /// Whether the latest sign-off covers what is shown now.
    pub fn signed_current(&self) -> bool {
        self.record.signoffs.last().is_some_and(|s| s.digest == self.digest)
    }
}

/// Collects a month's events (streamed by the caller) into per-day, per-department counts.
#[derive(Clone, Debug)]
pub struct ReviewBuilder {
    month: Month,
    counts: BTreeMap<String, Vec<u64>>,
    ids: Vec<u64>,
}

impl ReviewBuilder {
    /// For `month`.
    pub fn new(month: Month) -> Self {
        ReviewBuilder {
            month,
            counts: BTreeMap::new(),
            ids: Vec::new(),
        }
    }

    /// Counts an event of local day `day` in `department` (events outside the month are ignored).
    pub fn add(&mut self, id: u64, day: NaiveDate, department: &str) {
        if !self.month.contains(day) {
            return;
        }
        let days = self.month.days() as usize;
        let v = self.counts.entry(department.to_owned()).or_insert_with(|| vec![0; days]);
        v[day.day0() as usize] += 1;
        self.ids.push(id);
    }

    /// Event ids counted so far.
    pub fn ids(&self) -> &[u64] {
        &self.ids
    }

    /// The review: `sample_events` are the sampled events (the caller reads them by the ids of
    /// [`sample`] over [`ReviewBuilder::ids`] with [`seed`]).
    pub fn finish(self, anomalies: Vec<Anomaly>, seed: String, sample_events: Vec<SampleEvent>, record: MonthRecord) -> LogReview {
        let events = self.ids.len() as u64;
        let mut departments: Vec<DeptSeries> = self
            .counts
            .into_iter()
            .map(|(department, per_day)| DeptSeries {
                total: per_day.iter().sum(),
                department,
                per_day,
            })
            .collect();
        departments.sort_by(|a, b| b.total.cmp(&a.total).then(a.department.cmp(&b.department)));
        let aid: Vec<u64> = anomalies.iter().map(|a| a.alert_id).collect();
        let sid: Vec<u64> = sample_events.iter().map(|s| s.id).collect();
        let digest = LogReview::digest(self.month, events, &aid, &sid);
        LogReview {
            month: self.month,
            events,
            departments,
            anomalies,
            seed,
            sample: sample_events,
            digest,
            record,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months() {
        let m = Month::parse("2024-02").unwrap();
        assert_eq!(
            (m.days(), m.last().to_string(), m.next().to_string()),
            (29, "2024-02-29".into(), "2024-03".into())
        );
        assert_eq!(Month::parse("2026-12").unwrap().next().to_string(), "2027-01");
        assert!(Month::parse("2026-13").is_err());
        assert!(Month::parse("202612").is_err());
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"2024-02\"");
        assert_eq!(m.label_ja(), "2024年2月");
    }

    #[test]
    fn sample_is_reproducible_and_depends_on_the_seed() {
        let ids: Vec<u64> = (0..500).collect();
        let a = sample("s1", &ids, 10);
        assert_eq!(a.len(), 10);
        assert_eq!(a, sample("s1", &ids, 10));
        let mut shuffled = ids.clone();
        shuffled.reverse();
        assert_eq!(a, sample("s1", &shuffled, 10), "order of input does not matter");
        assert_ne!(a, sample("s2", &ids, 10));
        assert_eq!(sample("s1", &ids[..5], 10).len(), 5);
        // Not just the first ids.
        assert!(a.iter().any(|&x| x >= 100), "{a:?}");
        assert_ne!(seed("o", Month::parse("2026-11").unwrap(), 10), seed("o", Month::parse("2026-11").unwrap(), 11));
    }

    #[test]
    fn builder_and_book() {
        let m = Month::parse("2026-11").unwrap();
        let mut b = ReviewBuilder::new(m);
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        b.add(1, d("2026-11-01"), "市民課");
        b.add(2, d("2026-11-30"), "市民課");
        b.add(3, d("2026-11-30"), "税務課");
        b.add(4, d("2026-12-01"), "税務課");
        let r = b.finish(vec![], "seed".into(), vec![], MonthRecord::default());
        assert_eq!(r.events, 3);
        assert_eq!(r.departments[0].department, "市民課");
        assert_eq!(r.departments[0].per_day[0], 1);
        assert_eq!(r.departments[0].per_day[29], 1);
        assert_eq!(r.departments[1].total, 1);

        let mut book = LogReviewBook::new();
        let c = LogReviewAction::Comment {
            month: m,
            target: Target::Alert { id: 3 },
            text: " ".into(),
        };
        assert_eq!(book.check("a", &c), Err(LogReviewError::Empty("コメント / comment")));
        let s = LogReviewAction::Sign {
            month: m,
            reviewer: "監査 花子".into(),
            summary: "異常なし".into(),
            digest: r.digest.clone(),
            anomalies: 0,
            sample: 0,
        };
        book.apply(10, "auditor1", "2026-12-02T00:00:00Z", &s).unwrap();
        assert!(matches!(book.check("auditor1", &s), Err(LogReviewError::AlreadySigned { .. })));
        assert!(book.check("auditor2", &s).is_ok());
        let r2 = LogReview {
            record: book.month(m),
            ..r.clone()
        };
        assert!(r2.signed_current());
        let moved = LogReview {
            digest: LogReview::digest(m, 4, &[], &[]),
            ..r2
        };
        assert!(!moved.signed_current());
    }
}
