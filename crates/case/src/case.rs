//! Incident cases (事案): opened from alerts or by hand, with the evidence events (ledger ids),
//! the affected persons (本人の数), the actions taken (対応) and the facts the PPC report needs.
//!
//! A case changes only through [`CaseAction`]s, each ledgered by the caller as an admin entry
//! (`event.action` = [`CaseAction::event_action`], the action under `mamori.case_action`) and
//! applied in ledger order to a [`CaseBook`]; the book is rebuilt by replaying them. Every
//! applied action is kept in the case's [`Case::history`] with its ledger id, so every edit can
//! be shown and traced back to the ledger.
//!
//! Rules: a closed case (終結) refuses every action but [`CaseAction::Reopen`]; open needs a
//! title and a new case number; texts that say why (close, reopen, an action taken) must not be
//! empty; evidence ids are kept once, ascending.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ppc::ReportKind;

/// Evidence events kept per case.
pub const MAX_EVIDENCE: usize = 1000;

/// The `event.action`s of ledgered case actions (for replay: read all of them, in ledger order).
pub const CASE_ACTIONS: [&str; 8] = [
    "case-opened",
    "case-edited",
    "case-evidence-added",
    "case-alerts-linked",
    "case-action-recorded",
    "case-reported",
    "case-closed",
    "case-reopened",
];

/// Where a case is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// 対応中.
    Open,
    /// 終結.
    Closed,
}

impl CaseState {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::Open => "open",
            CaseState::Closed => "closed",
        }
    }
    /// Japanese label.
    pub fn label_ja(self) -> &'static str {
        match self {
            CaseState::Open => "対応中",
            CaseState::Closed => "終結",
        }
    }
}

/// An evidence event: a ledger id, with what the caller read from it when it was added.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRef {
    /// Ledger index of the event.
    pub ledger_id: u64,
    /// The event's `@timestamp`, if known.
    #[serde(default)]
    pub at: Option<String>,
    /// A one-line description (who, what, where).
    #[serde(default)]
    pub summary: String,
    /// Records it carried (`mamori.export.records`, `mamori.fingerprint.records`), if any.
    #[serde(default)]
    pub records: Option<u64>,
    /// A note by the officer.
    #[serde(default)]
    pub note: String,
}

/// The facts of a case an officer enters (all optional in an edit: only given ones change).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFields {
    /// 件名.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// 概要 (what happened).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// 発生日時・期間 (when it occurred), free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred: Option<String>,
    /// 発見の経緯 (how and by whom it was found).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovered: Option<String>,
    /// 認知日 (the day the city learned of it): the deadlines count from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recognized_on: Option<NaiveDate>,
    /// 漏えい等した保有個人情報の項目 (data items: 氏名, 住所, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_items: Option<Vec<String>>,
    /// 本人の数, as established by the officer (overrides the count from evidence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persons: Option<u64>,
    /// How the number was established.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persons_note: Option<String>,
    /// 原因.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// 二次被害又はそのおそれの有無及びその内容.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary_harm: Option<String>,
    /// 本人への対応の実施状況.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_to_persons: Option<String>,
    /// 公表の実施状況.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publication: Option<String>,
    /// 再発防止のための措置.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prevention: Option<String>,
    /// その他参考となる事項.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<String>,
    /// 不正の目的をもって行われたおそれ (確報 within 60 days instead of 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlawful_purpose: Option<bool>,
    /// 要配慮個人情報を含む.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitive: Option<bool>,
    /// 財産的被害のおそれ (bank account, card data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub financial: Option<bool>,
    /// 特定個人情報 (My Number) を含む: a report under the My Number Act may be due too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub my_number: Option<bool>,
}

/// One ledgered change to a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum CaseAction {
    /// 事案登録: a new case, from alerts (their evidence attached) or by hand.
    Open {
        /// Case number (事案番号), from [`CaseBook::next_id`].
        case: String,
        /// 認知日.
        recognized_on: NaiveDate,
        /// Alerts the case was opened from.
        #[serde(default)]
        alerts: Vec<u64>,
        /// People concerned (職員番号 or accounts), from the alerts.
        #[serde(default)]
        subjects: Vec<String>,
        /// Evidence events.
        #[serde(default)]
        evidence: Vec<EvidenceRef>,
        /// The facts known at opening (title required).
        fields: CaseFields,
    },
    /// 記載事項の更新.
    Edit {
        /// Case number.
        case: String,
        /// What changes.
        fields: CaseFields,
    },
    /// 証拠の追加.
    AddEvidence {
        /// Case number.
        case: String,
        /// Evidence events.
        evidence: Vec<EvidenceRef>,
    },
    /// アラートの関連付け.
    LinkAlerts {
        /// Case number.
        case: String,
        /// Alert ids.
        alerts: Vec<u64>,
    },
    /// 対応の記録 (an action taken: account suspended, USB collected, persons notified …).
    RecordAction {
        /// Case number.
        case: String,
        /// When it was done.
        on: NaiveDate,
        /// What was done.
        text: String,
    },
    /// 報告済みの記録: the 速報 or 確報 was sent to the PPC.
    Reported {
        /// Case number.
        case: String,
        /// Which report.
        kind: ReportKind,
        /// When it was sent.
        on: NaiveDate,
        /// Reception number, channel …
        #[serde(default)]
        note: String,
    },
    /// 終結.
    Close {
        /// Case number.
        case: String,
        /// Why.
        reason: String,
    },
    /// 再開.
    Reopen {
        /// Case number.
        case: String,
        /// Why.
        reason: String,
    },
}

impl CaseAction {
    /// The case the action is for.
    pub fn case(&self) -> &str {
        match self {
            CaseAction::Open { case, .. }
            | CaseAction::Edit { case, .. }
            | CaseAction::AddEvidence { case, .. }
            | CaseAction::LinkAlerts { case, .. }
            | CaseAction::RecordAction { case, .. }
            | CaseAction::Reported { case, .. }
            | CaseAction::Close { case, .. }
            | CaseAction::Reopen { case, .. } => case,
        }
    }

    /// The `event.action` of its ledger entry (one of [`CASE_ACTIONS`]).
    pub fn event_action(&self) -> &'static str {
        match self {
            CaseAction::Open { .. } => CASE_ACTIONS[0],
            CaseAction::Edit { .. } => CASE_ACTIONS[1],
            CaseAction::AddEvidence { .. } => CASE_ACTIONS[2],
            CaseAction::LinkAlerts { .. } => CASE_ACTIONS[3],
            CaseAction::RecordAction { .. } => CASE_ACTIONS[4],
            CaseAction::Reported { .. } => CASE_ACTIONS[5],
            CaseAction::Close { .. } => CASE_ACTIONS[6],
            CaseAction::Reopen { .. } => CASE_ACTIONS[7],
        }
    }

    /// A Japanese line for the case timeline.
    pub fn describe_ja(&self) -> String {
        match self {
            CaseAction::Open { alerts, evidence, fields, .. } => format!(
                "事案を登録しました「{}」(アラート {} 件、証拠 {} 件)",
                fields.title.as_deref().unwrap_or(""),
                alerts.len(),
                evidence.len()
            ),
            CaseAction::Edit { fields, .. } => {
                let v = serde_json::to_value(fields).unwrap_or_default();
                let keys: Vec<&str> = v.as_object().map(|o| o.keys().map(|k| field_label(k)).collect()).unwrap_or_default();
                format!("記載事項を更新しました({})", keys.join("、"))
            }
            CaseAction::AddEvidence { evidence, .. } => {
                let ids: Vec<String> = evidence.iter().map(|e| format!("#{}", e.ledger_id)).collect();
                format!("証拠を追加しました({})", ids.join(", "))
            }
            CaseAction::LinkAlerts { alerts, .. } => {
                let ids: Vec<String> = alerts.iter().map(|a| format!("#{a}")).collect();
                format!("アラートを関連付けました({})", ids.join(", "))
            }
            CaseAction::RecordAction { on, text, .. } => format!("対応({on}): {text}"),
            CaseAction::Reported { kind, on, note, .. } => {
                format!(
                    "個人情報保護委員会へ{}を報告しました({on}){}",
                    kind.label_ja(),
                    if note.is_empty() { String::new() } else { format!(" {note}") }
                )
            }
            CaseAction::Close { reason, .. } => format!("終結しました: {reason}"),
            CaseAction::Reopen { reason, .. } => format!("再開しました: {reason}"),
        }
    }
}

/// The Japanese label of a [`CaseFields`] key.
pub fn field_label(key: &str) -> &'static str {
    match key {
        "title" => "件名",
        "summary" => "概要",
        "occurred" => "発生日時",
        "discovered" => "発見の経緯",
        "recognized_on" => "認知日",
        "data_items" => "漏えい等した項目",
        "persons" => "本人の数",
        "persons_note" => "本人の数の根拠",
        "cause" => "原因",
        "secondary_harm" => "二次被害",
        "response_to_persons" => "本人への対応",
        "publication" => "公表",
        "prevention" => "再発防止策",
        "other" => "その他",
        "unlawful_purpose" => "不正の目的",
        "sensitive" => "要配慮個人情報",
        "financial" => "財産的被害のおそれ",
        "my_number" => "特定個人情報",
        _ => "その他の項目",
    }
}

/// One applied action, as ledgered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Ledger id of the admin entry.
    pub ledger_id: u64,
    /// Who (the entry's `user.name`).
    pub actor: String,
    /// When (the entry's `@timestamp`).
    pub at: String,
    /// The action.
    pub action: CaseAction,
}

/// An action taken (対応), as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionTaken {
    /// When it was done.
    pub on: NaiveDate,
    /// What.
    pub text: String,
    /// Who recorded it.
    pub by: String,
    /// Ledger id.
    pub ledger_id: u64,
}

/// A report sent, as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportSent {
    /// 速報 or 確報.
    pub kind: ReportKind,
    /// When.
    pub on: NaiveDate,
    /// Note.
    pub note: String,
    /// Who recorded it.
    pub by: String,
    /// Ledger id.
    pub ledger_id: u64,
}

/// How many persons are affected, and where the number comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonsCount {
    /// The number to report, if any is known.
    pub value: Option<u64>,
    /// Entered by the officer.
    pub entered: Option<u64>,
    /// Largest record count of one evidence event (a lower bound when lists overlap).
    pub evidence_max: Option<u64>,
    /// Sum of the evidence events' record counts (an upper bound).
    pub evidence_sum: Option<u64>,
    /// Evidence events that carried a record count.
    pub evidence_counted: usize,
    /// Where the number comes from, Japanese.
    pub basis_ja: String,
}

/// An incident case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// 事案番号.
    pub id: String,
    /// State.
    pub state: CaseState,
    /// 認知日.
    pub recognized_on: NaiveDate,
    /// Who opened it.
    pub opened_by: String,
    /// When (ledger entry time).
    pub opened_at: String,
    /// The facts (latest value of each field).
    pub fields: CaseFields,
    /// Alerts.
    pub alerts: Vec<u64>,
    /// People concerned.
    pub subjects: Vec<String>,
    /// Evidence events, by ledger id.
    pub evidence: Vec<EvidenceRef>,
    /// Actions taken.
    pub actions: Vec<ActionTaken>,
    /// Reports sent.
    pub reports: Vec<ReportSent>,
    /// Reason of the last close.
    pub close_reason: Option<String>,
    /// Every applied action, in ledger order.
    pub history: Vec<HistoryEntry>,
}

/// One line of a case's timeline: an evidence event (what happened) or a ledgered action
/// (what was done), in time order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// RFC 3339 time (or a date).
    pub at: String,
    /// `evidence` or `action`.
    pub kind: String,
    /// Ledger id (of the event or of the admin entry).
    pub ledger_id: u64,
    /// Who (for actions).
    pub actor: String,
    /// Japanese text.
    pub text: String,
}

impl Case {
    /// 件名.
    pub fn title(&self) -> &str {
        self.fields.title.as_deref().unwrap_or("")
    }

    /// 不正の目的のおそれ.
    pub fn unlawful_purpose(&self) -> bool {
        self.fields.unlawful_purpose.unwrap_or(false)
    }

    /// The affected persons (本人の数): the officer's number when entered; otherwise, from the
    /// evidence events' record counts, the sum (several exports of different persons add up; a
    /// list exported twice is counted twice, so this is an upper bound), with the largest single
    /// count beside it.
    pub fn persons(&self) -> PersonsCount {
        let counts: Vec<u64> = self.evidence.iter().filter_map(|e| e.records).collect();
        let evidence_max = counts.iter().copied().max();
        let evidence_sum = (!counts.is_empty()).then(|| counts.iter().sum());
        let entered = self.fields.persons;
        let (value, basis_ja) = match (entered, evidence_sum) {
            (Some(n), _) => (
                Some(n),
                match self.fields.persons_note.as_deref() {
                    Some(note) if !note.trim().is_empty() => format!("担当者が確定した人数({note})"),
                    _ => "担当者が確定した人数".to_owned(),
                },
            ),
            (None, Some(s)) => (
                Some(s),
                format!(
                    "証拠イベント {} 件の記録件数の合計(重複を含む可能性があり上限値。1件の最大は {} 人)",
                    counts.len(),
                    evidence_max.unwrap_or(0)
                ),
            ),
            (None, None) => (None, "調査中(証拠イベントに件数の記録がありません)".to_owned()),
        };
        PersonsCount {
            value,
            entered,
            evidence_max,
            evidence_sum,
            evidence_counted: counts.len(),
            basis_ja,
        }
    }

    /// The timeline: evidence events by their time, and every ledgered action.
    pub fn timeline(&self) -> Vec<TimelineEntry> {
        let mut out: Vec<TimelineEntry> = self
            .evidence
            .iter()
            .map(|e| TimelineEntry {
                at: e.at.clone().unwrap_or_default(),
                kind: "evidence".into(),
                ledger_id: e.ledger_id,
                actor: String::new(),
                text: if e.note.is_empty() {
                    e.summary.clone()
                } else {
                    format!("{}({})", e.summary, e.note)
                },
            })
            .collect();
        for h in &self.history {
            out.push(TimelineEntry {
                at: h.at.clone(),
                kind: "action".into(),
                ledger_id: h.ledger_id,
                actor: h.actor.clone(),
                text: h.action.describe_ja(),
            });
        }
        out.sort_by(|a, b| a.at.cmp(&b.at).then(a.ledger_id.cmp(&b.ledger_id)));
        out
    }

    /// The date the given report was recorded as sent, if it was.
    pub fn reported_on(&self, kind: ReportKind) -> Option<NaiveDate> {
        self.reports.iter().find(|r| r.kind == kind).map(|r| r.on)
    }

    fn add_evidence(&mut self, ev: &[EvidenceRef]) {
        for e in ev {
            match self.evidence.binary_search_by_key(&e.ledger_id, |x| x.ledger_id) {
                Ok(_) => {}
                Err(i) if self.evidence.len() < MAX_EVIDENCE => self.evidence.insert(i, e.clone()),
                Err(_) => {}
            }
        }
    }

    fn link(&mut self, alerts: &[u64]) {
        for a in alerts {
            if !self.alerts.contains(a) {
                self.alerts.push(*a);
            }
        }
        self.alerts.sort_unstable();
    }
}

fn merge(into: &mut CaseFields, f: &CaseFields) {
    macro_rules! take {
        ($($n:ident),*) => { $( if f.$n.is_some() { into.$n = f.$n.clone(); } )* };
    }
    take!(
        title,
        summary,
        occurred,
        discovered,
        recognized_on,
        data_items,
        persons,
        persons_note,
        cause,
        secondary_harm,
        response_to_persons,
        publication,
        prevention,
        other,
        unlawful_purpose,
        sensitive,
        financial,
        my_number
    );
}

/// Why a case action is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum CaseError {
    /// No such case.
    #[error("事案 {0} はありません / no case {0}")]
    UnknownCase(String),
    /// The number is taken.
    #[error("事案番号 {0} は使用済みです / case {0} exists already")]
    DuplicateCase(String),
    /// The case is closed.
    #[error("事案 {0} は終結しています(再開してから変更してください)/ case {0} is closed; reopen it first")]
    Closed(String),
    /// The case is not closed (reopen).
    #[error("事案 {0} は終結していません / case {0} is not closed")]
    NotClosed(String),
    /// A required text is empty.
    #[error("「{0}」が空欄です / {0} is empty")]
    Empty(&'static str),
    /// Nothing given.
    #[error("変更する項目がありません / nothing to change")]
    Nothing,
    /// A report recorded twice.
    #[error("事案 {case} の{kind}は報告済みとして記録されています / the {kind} of case {case} is already recorded")]
    AlreadyReported {
        /// Case number.
        case: String,
        /// 速報 / 確報.
        kind: String,
    },
    /// The case number is not usable.
    #[error("事案番号 {0:?} は使えません(英数字と - のみ)/ case number {0:?} must be letters, digits and -")]
    BadId(String),
}

/// All cases, rebuilt from the ledgered actions.
#[derive(Clone, Debug, Default)]
pub struct CaseBook {
    cases: BTreeMap<String, Case>,
}

impl CaseBook {
    /// Empty.
    pub fn new() -> Self {
        Self::default()
    }

    /// A case by number.
    pub fn get(&self, id: &str) -> Option<&Case> {
        self.cases.get(id)
    }

    /// All cases, by number.
    pub fn cases(&self) -> impl Iterator<Item = &Case> {
        self.cases.values()
    }

    /// The next free case number of `year`: `YYYY-NNN`.
    pub fn next_id(&self, year: i32) -> String {
        let prefix = format!("{year}-");
        let n = self
            .cases
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter_map(|s| s.parse::<u32>().ok())
            .max()
            .unwrap_or(0);
        format!("{prefix}{:03}", n + 1)
    }

    /// Checks an action against the current state (nothing changes).
    pub fn check(&self, action: &CaseAction) -> Result<(), CaseError> {
        let id = action.case();
        if let CaseAction::Open { fields, .. } = action {
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(CaseError::BadId(id.to_owned()));
            }
            if self.cases.contains_key(id) {
                return Err(CaseError::DuplicateCase(id.to_owned()));
            }
            if fields.title.as_deref().is_none_or(|t| t.trim().is_empty()) {
                return Err(CaseError::Empty("件名 / title"));
            }
            return Ok(());
        }
        let c = self.cases.get(id).ok_or_else(|| CaseError::UnknownCase(id.to_owned()))?;
        match action {
            CaseAction::Reopen { reason, .. } => {
                if c.state != CaseState::Closed {
                    return Err(CaseError::NotClosed(id.to_owned()));
                }
                if reason.trim().is_empty() {
                    return Err(CaseError::Empty("理由 / reason"));
                }
                return Ok(());
            }
            _ if c.state == CaseState::Closed => return Err(CaseError::Closed(id.to_owned())),
            _ => {}
        }
        match action {
            CaseAction::Edit { fields, .. } => {
                if *fields == CaseFields::default() {
                    return Err(CaseError::Nothing);
                }
                if fields.title.as_deref().is_some_and(|t| t.trim().is_empty()) {
                    return Err(CaseError::Empty("件名 / title"));
                }
            }
            CaseAction::AddEvidence { evidence, .. } if evidence.is_empty() => return Err(CaseError::Nothing),
            CaseAction::LinkAlerts { alerts, .. } if alerts.is_empty() => return Err(CaseError::Nothing),
            CaseAction::RecordAction { text, .. } if text.trim().is_empty() => return Err(CaseError::Empty("対応内容 / text")),
            CaseAction::Reported { kind, .. } if c.reported_on(*kind).is_some() => {
                return Err(CaseError::AlreadyReported {
                    case: id.to_owned(),
                    kind: kind.label_ja().to_owned(),
                });
            }
            CaseAction::Close { reason, .. } if reason.trim().is_empty() => return Err(CaseError::Empty("理由 / reason")),
            _ => {}
        }
        Ok(())
    }

    /// Applies a ledgered action (checked first: replay refuses what [`CaseBook::check`] refuses).
    pub fn apply(&mut self, entry: HistoryEntry) -> Result<(), CaseError> {
        self.check(&entry.action)?;
        let id = entry.action.case().to_owned();
        if let CaseAction::Open {
            recognized_on,
            alerts,
            subjects,
            evidence,
            fields,
            ..
        } = &entry.action
        {
            let mut c = Case {
                id: id.clone(),
                state: CaseState::Open,
                recognized_on: *recognized_on,
                opened_by: entry.actor.clone(),
                opened_at: entry.at.clone(),
                fields: CaseFields::default(),
                alerts: Vec::new(),
                subjects: subjects.clone(),
                evidence: Vec::new(),
                actions: Vec::new(),
                reports: Vec::new(),
                close_reason: None,
                history: Vec::new(),
            };
            merge(&mut c.fields, fields);
            c.fields.recognized_on = Some(*recognized_on);
            c.link(alerts);
            c.add_evidence(evidence);
            c.history.push(entry);
            self.cases.insert(id, c);
            return Ok(());
        }
        let c = self.cases.get_mut(&id).expect("checked");
        match &entry.action {
            CaseAction::Open { .. } => unreachable!(),
            CaseAction::Edit { fields, .. } => {
                merge(&mut c.fields, fields);
                if let Some(d) = fields.recognized_on {
                    c.recognized_on = d;
                }
            }
            CaseAction::AddEvidence { evidence, .. } => c.add_evidence(evidence),
            CaseAction::LinkAlerts { alerts, .. } => c.link(alerts),
            CaseAction::RecordAction { on, text, .. } => {
                c.actions.push(ActionTaken {
                    on: *on,
                    text: text.clone(),
                    by: entry.actor.clone(),
                    ledger_id: entry.ledger_id,
                });
            }
            CaseAction::Reported { kind, on, note, .. } => {
                c.reports.push(ReportSent {
                    kind: *kind,
                    on: *on,
                    note: note.clone(),
                    by: entry.actor.clone(),
                    ledger_id: entry.ledger_id,
                });
            }
            CaseAction::Close { reason, .. } => {
                c.state = CaseState::Closed;
                c.close_reason = Some(reason.clone());
            }
            CaseAction::Reopen { .. } => c.state = CaseState::Open,
        }
        c.history.push(entry);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn entry(id: u64, action: CaseAction) -> HistoryEntry {
        HistoryEntry {
            ledger_id: id,
            actor: "officer1".into(),
            at: format!("2026-12-0{}T00:00:00Z", id % 9 + 1),
            action,
        }
    }

    fn open(book: &mut CaseBook) -> String {
        let id = book.next_id(2026);
        let ev = vec![
            EvidenceRef {
                ledger_id: 9,
                at: Some("2026-11-30T01:00:00Z".into()),
                summary: "export".into(),
                records: Some(120),
                note: String::new(),
            },
            EvidenceRef {
                ledger_id: 4,
                at: Some("2026-11-29T01:00:00Z".into()),
                summary: "usb".into(),
                records: Some(80),
                note: String::new(),
            },
            EvidenceRef {
                ledger_id: 9,
                at: None,
                summary: "dup".into(),
                records: Some(999),
                note: String::new(),
            },
        ];
        let fields = CaseFields {
            title: Some("退職者による持出し".into()),
            ..Default::default()
        };
        book.apply(entry(
            1,
            CaseAction::Open {
                case: id.clone(),
                recognized_on: d("2026-12-01"),
                alerts: vec![3, 1, 3],
                subjects: vec!["1003".into()],
                evidence: ev,
                fields,
            },
        ))
        .unwrap();
        id
    }

    #[test]
    fn lifecycle_and_refusals() {
        let mut book = CaseBook::new();
        let id = open(&mut book);
        assert_eq!(id, "2026-001");
        assert_eq!(book.next_id(2026), "2026-002");
        assert_eq!(book.next_id(2027), "2027-001");
        let c = book.get(&id).unwrap();
        assert_eq!(c.alerts, vec![1, 3]);
        assert_eq!(c.evidence.iter().map(|e| e.ledger_id).collect::<Vec<_>>(), vec![4, 9]);
        let p = c.persons();
        assert_eq!((p.value, p.evidence_max, p.evidence_sum, p.entered), (Some(200), Some(120), Some(200), None));

        let fields = CaseFields {
            persons: Some(150),
            persons_note: Some("重複除去後".into()),
            unlawful_purpose: Some(true),
            ..Default::default()
        };
        book.apply(entry(2, CaseAction::Edit { case: id.clone(), fields })).unwrap();
        let p = book.get(&id).unwrap().persons();
        assert_eq!(p.value, Some(150));
        assert!(p.basis_ja.contains("重複除去後"));
        assert!(book.get(&id).unwrap().unlawful_purpose());
        assert_eq!(
            book.check(&CaseAction::Edit {
                case: id.clone(),
                fields: CaseFields::default()
            }),
            Err(CaseError::Nothing)
        );
        assert_eq!(
            book.check(&CaseAction::RecordAction {
                case: id.clone(),
                on: d("2026-12-02"),
                text: " ".into()
            }),
            Err(CaseError::Empty("対応内容 / text"))
        );
        book.apply(entry(
            3,
            CaseAction::RecordAction {
                case: id.clone(),
                on: d("2026-12-02"),
                text: "アカウント停止".into(),
            },
        ))
        .unwrap();
        book.apply(entry(
            4,
            CaseAction::Reported {
                case: id.clone(),
                kind: ReportKind::Sokuho,
                on: d("2026-12-04"),
                note: String::new(),
            },
        ))
        .unwrap();
        assert!(matches!(
            book.check(&CaseAction::Reported {
                case: id.clone(),
                kind: ReportKind::Sokuho,
                on: d("2026-12-05"),
                note: String::new()
            }),
            Err(CaseError::AlreadyReported { .. })
        ));
        assert_eq!(
            book.check(&CaseAction::Reopen {
                case: id.clone(),
                reason: "x".into()
            }),
            Err(CaseError::NotClosed(id.clone()))
        );
        book.apply(entry(
            5,
            CaseAction::Close {
                case: id.clone(),
                reason: "確報済み".into(),
            },
        ))
        .unwrap();
        assert_eq!(
            book.check(&CaseAction::RecordAction {
                case: id.clone(),
                on: d("2026-12-06"),
                text: "x".into()
            }),
            Err(CaseError::Closed(id.clone()))
        );
        book.apply(entry(
            6,
            CaseAction::Reopen {
                case: id.clone(),
                reason: "追加の持出し判明".into(),
            },
        ))
        .unwrap();
        let c = book.get(&id).unwrap();
        assert_eq!(c.state, CaseState::Open);
        assert_eq!(c.history.len(), 6);
        assert_eq!(c.actions[0].ledger_id, 3);
        // Timeline: evidence times first (November), then actions.
        let t = c.timeline();
        assert_eq!(t[0].ledger_id, 4);
        assert_eq!(t[0].kind, "evidence");
        assert!(t.iter().any(|e| e.text.contains("速報")));
        // Duplicate and bad numbers.
        let f = CaseFields {
            title: Some("x".into()),
            ..Default::default()
        };
        assert_eq!(
            book.check(&CaseAction::Open {
                case: id.clone(),
                recognized_on: d("2026-12-01"),
                alerts: vec![],
                subjects: vec![],
                evidence: vec![],
                fields: f.clone()
            }),
            Err(CaseError::DuplicateCase(id.clone()))
        );
        assert!(matches!(
            book.check(&CaseAction::Open {
                case: "a/b".into(),
                recognized_on: d("2026-12-01"),
                alerts: vec![],
                subjects: vec![],
                evidence: vec![],
                fields: f
            }),
            Err(CaseError::BadId(_))
        ));
        assert_eq!(
            book.check(&CaseAction::Close {
                case: "nope".into(),
                reason: "x".into()
            }),
            Err(CaseError::UnknownCase("nope".into()))
        );
    }

    #[test]
    fn action_json_round_trip() {
        let a = CaseAction::Reported {
            case: "2026-001".into(),
            kind: ReportKind::Kakuho,
            on: d("2026-12-24"),
            note: "受付番号 123".into(),
        };
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["op"], "reported");
        assert_eq!(v["kind"], "kakuho");
        assert_eq!(serde_json::from_value::<CaseAction>(v).unwrap(), a);
        assert_eq!(a.event_action(), "case-reported");
    }
}
