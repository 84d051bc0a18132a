//! Findings (what a rule says about one event) and alerts (findings grouped by rule, person and
//! day, with a state an officer moves: new → triaged → closed).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::context::{Person, Subject};

/// How serious an alert is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// 低.
    Low,
    /// 中.
    Medium,
    /// 高.
    High,
    /// 重大.
    Critical,
}

impl Severity {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
    /// Japanese label.
    pub fn label_ja(self) -> &'static str {
        match self {
            Severity::Low => "低",
            Severity::Medium => "中",
            Severity::High => "高",
            Severity::Critical => "重大",
        }
    }
    /// Parses a name (Sigma levels too: informational → low).
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s.to_lowercase().as_str() {
            "low" | "informational" | "info" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }
}

/// One rule's verdict on one event (or, for stateful rules, on a sequence ending in it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Rule id.
    pub rule_id: String,
    /// Severity.
    pub severity: Severity,
    /// Title, Japanese.
    pub title_ja: String,
    /// Title, English.
    pub title_en: String,
    /// Who, as of the event's date.
    pub subject: Subject,
    /// The account as logged.
    pub account: Option<String>,
    /// Event time.
    pub ts: DateTime<Utc>,
    /// The local date (grouping day).
    pub day: NaiveDate,
    /// Evidence event ids (ledger indexes), the triggering event last.
    pub evidence: Vec<u64>,
    /// Why, Japanese.
    pub summary_ja: String,
    /// Why, English.
    pub summary_en: String,
    /// Rule-specific details.
    pub details: Value,
}

impl Finding {
    /// The dedup key: same rule, same person (or account), same local day.
    pub fn group_key(&self) -> String {
        let who = match &self.subject {
            Subject::Person(p) => format!("person:{}", p.staff_id),
            Subject::Shared(ids) => format!("shared:{}", ids.join("+")),
            Subject::Unknown => format!("account:{}", self.account.as_deref().unwrap_or("-").to_lowercase()),
        };
        format!("{}|{}|{}", self.rule_id, who, self.day)
    }
}

/// An alert's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// 未対応.
    New,
    /// 確認中 (triaged).
    Triaged,
    /// 完了 (closed with a reason).
    Closed,
}

impl AlertState {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::New => "new",
            AlertState::Triaged => "triaged",
            AlertState::Closed => "closed",
        }
    }
    /// Japanese label.
    pub fn label_ja(self) -> &'static str {
        match self {
            AlertState::New => "未対応",
            AlertState::Triaged => "確認中",
            AlertState::Closed => "完了",
        }
    }
    /// Parses a name.
    pub fn parse(s: &str) -> Option<AlertState> {
        Some(match s {
            "new" => AlertState::New,
            "triaged" => AlertState::Triaged,
            "closed" => AlertState::Closed,
            _ => return None,
        })
    }
}

/// An officer's action on an alert, as ledgered (admin entry `event.action: alert-<op>`,
/// record under `mamori.alert_action`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum AlertAction {
    /// Take it up (new → triaged), optionally assigning it.
    Triage {
        /// Alert id.
        alert: u64,
        /// Why / first assessment.
        reason: String,
        /// Assignee.
        #[serde(default)]
        assignee: Option<String>,
    },
    /// Close it (new/triaged → closed) with a reason.
    Close {
        /// Alert id.
        alert: u64,
        /// Why (e.g. 誤検知: 承認済みの持出).
        reason: String,
    },
    /// Assign it without changing state.
    Assign {
        /// Alert id.
        alert: u64,
        /// Assignee.
        assignee: String,
    },
}

impl AlertAction {
    /// The alert the action is for.
    pub fn alert(&self) -> u64 {
        match self {
            AlertAction::Triage { alert, .. } | AlertAction::Close { alert, .. } | AlertAction::Assign { alert, .. } => *alert,
        }
    }

    /// The `event.action` of its ledger entry.
    pub fn event_action(&self) -> &'static str {
        match self {
            AlertAction::Triage { .. } => "alert-triaged",
            AlertAction::Close { .. } => "alert-closed",
            AlertAction::Assign { .. } => "alert-assigned",
        }
    }

    /// The state after the action from `from`, or why it is refused.
    pub fn next_state(&self, from: AlertState) -> Result<AlertState, String> {
        match (self, from) {
            (_, AlertState::Closed) => Err("完了済みのアラートは変更できません / the alert is already closed".into()),
            (AlertAction::Triage { reason, .. } | AlertAction::Close { reason, .. }, _) if reason.trim().is_empty() => {
                Err("理由が必要です / a reason is required".into())
            }
            (AlertAction::Triage { .. }, AlertState::Triaged) => Err("既に確認中です / the alert is already triaged".into()),
            (AlertAction::Triage { .. }, _) => Ok(AlertState::Triaged),
            (AlertAction::Close { .. }, _) => Ok(AlertState::Closed),
            (AlertAction::Assign { .. }, s) => Ok(s),
        }
    }
}

/// One entry of an alert's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Ledger id of the admin entry.
    pub ledger_id: u64,
    /// Who.
    pub actor: String,
    /// When (the entry's `@timestamp`).
    pub at: String,
    /// The action.
    pub action: AlertAction,
}

/// Evidence ids kept per alert.
pub const MAX_EVIDENCE: usize = 1000;

/// An alert: findings of one rule about one person on one day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Id (1, 2, … in ledger order of the first finding; deterministic).
    pub id: u64,
    /// Rule id.
    pub rule_id: String,
    /// Highest severity seen.
    pub severity: Severity,
    /// Title, Japanese.
    pub title_ja: String,
    /// Title, English.
    pub title_en: String,
    /// The person at the event's time, when resolved.
    pub person: Option<Person>,
    /// Shared-account holders, when shared.
    pub shared_with: Vec<String>,
    /// The account as logged (first finding).
    pub account: Option<String>,
    /// First event time.
    pub first_ts: DateTime<Utc>,
    /// Last event time.
    pub last_ts: DateTime<Utc>,
    /// Evidence event ids (distinct, ascending).
    pub evidence: Vec<u64>,
    /// Number of findings grouped.
    pub count: u64,
    /// Group key.
    pub group_key: String,
    /// First finding's summary, Japanese.
    pub summary_ja: String,
    /// English.
    pub summary_en: String,
    /// First finding's details.
    pub details: Value,
    /// State.
    pub state: AlertState,
    /// Reason of the last state change.
    pub reason: Option<String>,
    /// Assignee.
    pub assignee: Option<String>,
    /// Officer actions, in ledger order.
    pub history: Vec<HistoryEntry>,
}

impl Alert {
    /// A new alert from its first finding.
    pub fn from_finding(id: u64, f: &Finding) -> Alert {
        let (person, shared_with) = match &f.subject {
            Subject::Person(p) => (Some(p.clone()), Vec::new()),
            Subject::Shared(ids) => (None, ids.clone()),
            Subject::Unknown => (None, Vec::new()),
        };
        let mut evidence = f.evidence.clone();
        evidence.sort_unstable();
        evidence.dedup();
        Alert {
            id,
            rule_id: f.rule_id.clone(),
            severity: f.severity,
            title_ja: f.title_ja.clone(),
            title_en: f.title_en.clone(),
            person,
            shared_with,
            account: f.account.clone(),
            first_ts: f.ts,
            last_ts: f.ts,
            evidence,
            count: 1,
            group_key: f.group_key(),
            summary_ja: f.summary_ja.clone(),
            summary_en: f.summary_en.clone(),
            details: f.details.clone(),
            state: AlertState::New,
            reason: None,
            assignee: None,
            history: Vec::new(),
        }
    }

    /// Adds a further finding of the same group. At most [`MAX_EVIDENCE`] evidence ids are
    /// kept (the first ones; `count` goes on).
    pub fn absorb(&mut self, f: &Finding) {
        self.severity = self.severity.max(f.severity);
        self.first_ts = self.first_ts.min(f.ts);
        self.last_ts = self.last_ts.max(f.ts);
        for &id in &f.evidence {
            // Ids mostly arrive in ledger order: append, else insert in place (kept sorted).
            match self.evidence.last() {
                Some(&l) if l < id => {
                    if self.evidence.len() < MAX_EVIDENCE {
                        self.evidence.push(id)
                    }
                }
                None => self.evidence.push(id),
                _ => {
                    if let Err(i) = self.evidence.binary_search(&id)
                        && self.evidence.len() < MAX_EVIDENCE
                    {
                        self.evidence.insert(i, id)
                    }
                }
            }
        }
        self.count += 1;
    }

    /// Applies an officer action (already checked with [`AlertAction::next_state`]).
    pub fn apply(&mut self, entry: HistoryEntry) -> Result<(), String> {
        let next = entry.action.next_state(self.state)?;
        match &entry.action {
            AlertAction::Triage { reason, assignee, .. } => {
                self.reason = Some(reason.clone());
                if assignee.is_some() {
                    self.assignee = assignee.clone();
                }
            }
            AlertAction::Close { reason, .. } => self.reason = Some(reason.clone()),
            AlertAction::Assign { assignee, .. } => self.assignee = Some(assignee.clone()),
        }
        self.state = next;
        self.history.push(entry);
        Ok(())
    }
}

/// Alerts in memory, grouped and deduplicated (used by retro-hunt and tests; the server keeps
/// the same grouping in SQLite).
#[derive(Clone, Debug, Default)]
pub struct AlertBook {
    alerts: Vec<Alert>,
    by_key: BTreeMap<String, usize>,
}

impl AlertBook {
    /// Empty.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a finding: a new alert, or counted into the alert of its group. Returns the alert id.
    pub fn add(&mut self, f: &Finding) -> u64 {
        let key = f.group_key();
        if let Some(&i) = self.by_key.get(&key) {
            self.alerts[i].absorb(f);
            return self.alerts[i].id;
        }
        let id = self.alerts.len() as u64 + 1;
        self.alerts.push(Alert::from_finding(id, f));
        self.by_key.insert(key, self.alerts.len() - 1);
        id
    }

    /// All alerts, by id.
    pub fn alerts(&self) -> &[Alert] {
        &self.alerts
    }

    /// An alert by id.
    pub fn get_mut(&mut self, id: u64) -> Option<&mut Alert> {
        id.checked_sub(1).and_then(|i| self.alerts.get_mut(i as usize))
    }
}
