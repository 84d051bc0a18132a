//! The leak report to the Personal Information Protection Commission (個人情報保護委員会への
//! 漏えい等報告): the draft of the 速報 (preliminary) and 確報 (final) report pre-filled from a
//! case, and their deadlines.
//!
//! **Deadlines** (counted from the case's 認知日, the day the city learned of it; the day itself
//! is not counted, as in 民法 140条):
//! - 速報: promptly — the PPC's guidance reads this as about 3–5 days. The draft shows the
//!   window 認知日 + 3 … 認知日 + 5 (calendar days) and warns when its last day is a day off
//!   (土日・祝日・年末年始), since the report then has to go out before it.
//! - 確報: within 30 days, or 60 when the leak may have been done for an unlawful purpose
//!   (不正の目的: insider takeouts, intrusions). Weekends and holidays count; when the last day
//!   falls on a day off of the administrative calendar (土日, 祝日, 年末年始 12/29–1/3), the
//!   deadline moves to the next working day, as the PPC's Q&A reads it. This is the reading
//!   implemented here — check the current guidance before relying on it.
//!
//! **Reportable** (報告対象): 要配慮個人情報, possible financial harm, a possible unlawful purpose,
//! or more than 100 persons (行政機関等の基準). My Number data (特定個人情報) may need a report
//! under the My Number Act as well; the draft says so.
//!
//! Items (both reports; what is not known at 速報 time is marked and left for the 確報):
//! 概要, 漏えい等が発生し又は発生したおそれがある保有個人情報の項目, 本人の数, 原因, 二次被害又は
//! そのおそれの有無及びその内容, 本人への対応の実施状況, 公表の実施状況, 再発防止のための措置,
//! その他参考となる事項.

use chrono::{Duration, NaiveDate};
use mamori_detect::calendar::Calendar;
use serde::{Deserialize, Serialize};

use crate::case::{Case, PersonsCount};

/// 速報 or 確報.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// 速報 (preliminary report).
    Sokuho,
    /// 確報 (final report).
    Kakuho,
}

impl ReportKind {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Sokuho => "sokuho",
            ReportKind::Kakuho => "kakuho",
        }
    }
    /// Japanese label.
    pub fn label_ja(self) -> &'static str {
        match self {
            ReportKind::Sokuho => "速報",
            ReportKind::Kakuho => "確報",
        }
    }
    /// English label.
    pub fn label_en(self) -> &'static str {
        match self {
            ReportKind::Sokuho => "preliminary report",
            ReportKind::Kakuho => "final report",
        }
    }
    /// Parses `sokuho`/`速報`/`kakuho`/`確報`.
    pub fn parse(s: &str) -> Option<ReportKind> {
        match s.trim() {
            "sokuho" | "速報" | "preliminary" => Some(ReportKind::Sokuho),
            "kakuho" | "確報" | "final" => Some(ReportKind::Kakuho),
            _ => None,
        }
    }
}

/// The days of the 速報 window.
pub const SOKUHO_DAYS: (i64, i64) = (3, 5);
/// Days for the 確報.
pub const KAKUHO_DAYS: i64 = 30;
/// Days for the 確報 when an unlawful purpose is suspected.
pub const KAKUHO_DAYS_UNLAWFUL: i64 = 60;
/// More than this many persons makes a leak reportable (行政機関等).
pub const PERSONS_THRESHOLD: u64 = 100;

/// The deadlines of a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadlines {
    /// 認知日.
    pub recognized_on: NaiveDate,
    /// 速報: first day of the guidance window (認知日 + 3).
    pub sokuho_from: NaiveDate,
    /// 速報: last day of the window (認知日 + 5).
    pub sokuho_by: NaiveDate,
    /// Why the 速報's last day needs care (a day off), if it does.
    pub sokuho_note: Option<String>,
    /// 30 or 60.
    pub kakuho_days: i64,
    /// 認知日 + 30 (or 60).
    pub kakuho_nominal: NaiveDate,
    /// The 確報 deadline: the nominal day, or the next working day when it is a day off.
    pub kakuho_by: NaiveDate,
    /// Why it moved, if it did.
    pub kakuho_note: Option<String>,
}

fn next_working_day(cal: &Calendar, mut d: NaiveDate) -> (NaiveDate, Vec<String>) {
    let mut why = Vec::new();
    while let Some(off) = cal.day_off(d) {
        why.push(format!("{d}({})", off.label()));
        d += Duration::days(1);
    }
    (d, why)
}

/// The deadlines for a case known on `recognized_on` (unlawful: 60 days for the 確報).
pub fn deadlines(recognized_on: NaiveDate, unlawful_purpose: bool, cal: &Calendar) -> Deadlines {
    let sokuho_from = recognized_on + Duration::days(SOKUHO_DAYS.0);
    let sokuho_by = recognized_on + Duration::days(SOKUHO_DAYS.1);
    let sokuho_note = cal.day_off(sokuho_by).map(|off| {
        format!(
            "目安の最終日 {sokuho_by} は{}のため、その前の開庁日までに報告してください / {sokuho_by} is a day off: report before it",
            off.label()
        )
    });
    let kakuho_days = if unlawful_purpose { KAKUHO_DAYS_UNLAWFUL } else { KAKUHO_DAYS };
    let kakuho_nominal = recognized_on + Duration::days(kakuho_days);
    let (kakuho_by, why) = next_working_day(cal, kakuho_nominal);
    let kakuho_note = (!why.is_empty()).then(|| {
        format!(
            "{kakuho_days}日目が閉庁日({})のため翌開庁日 {kakuho_by} まで / day {kakuho_days} is a day off: due the next working day",
            why.join("、")
        )
    });
    Deadlines {
        recognized_on,
        sokuho_from,
        sokuho_by,
        sokuho_note,
        kakuho_days,
        kakuho_nominal,
        kakuho_by,
        kakuho_note,
    }
}

/// Where one report stands on a day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueStatus {
    /// Which report.
    pub kind: ReportKind,
    /// Its deadline.
    pub due: NaiveDate,
    /// Days from `today` to the deadline (negative: overdue).
    pub days_left: i64,
    /// Recorded as sent on.
    pub sent_on: Option<NaiveDate>,
    /// A line for officers, Japanese first.
    pub message: String,
}

/// The status of `kind` for `case` on `today`.
pub fn due_status(case: &Case, kind: ReportKind, today: NaiveDate, cal: &Calendar) -> DueStatus {
    let dl = deadlines(case.recognized_on, case.unlawful_purpose(), cal);
    let due = match kind {
        ReportKind::Sokuho => dl.sokuho_by,
        ReportKind::Kakuho => dl.kakuho_by,
    };
    let days_left = (due - today).num_days();
    let sent_on = case.reported_on(kind);
    let k = kind.label_ja();
    let message = match sent_on {
        Some(s) if s <= due => format!("{k}: {s} に報告済み(期限 {due})/ sent on {s}, due {due}"),
        Some(s) => format!(
            "{k}: {s} に報告済み(期限 {due} を {} 日超過)/ sent on {s}, {} days after {due}",
            (s - due).num_days(),
            (s - due).num_days()
        ),
        None if days_left < 0 => format!("{k}: 期限 {due} を {} 日過ぎています / overdue by {} days (due {due})", -days_left, -days_left),
        None if days_left == 0 => format!("{k}: 本日 {due} が期限です / due today ({due})"),
        None => format!("{k}: 期限 {due}(あと {days_left} 日)/ due {due}, {days_left} days left"),
    };
    DueStatus {
        kind,
        due,
        days_left,
        sent_on,
        message,
    }
}

/// One item of the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PpcItem {
    /// 1–9.
    pub no: u8,
    /// Stable key (`summary`, `data_items`, `persons`, …).
    pub key: String,
    /// The item's name, Japanese.
    pub label_ja: String,
    /// English.
    pub label_en: String,
    /// The pre-filled text.
    pub text: String,
    /// True when nothing is known yet (left for the 確報 or to be filled in).
    pub missing: bool,
}

/// An evidence event as cited in the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CitedEvidence {
    /// Ledger id.
    pub ledger_id: u64,
    /// Time.
    pub at: Option<String>,
    /// Description.
    pub summary: String,
    /// Records.
    pub records: Option<u64>,
    /// Whether its inclusion proof verified against the current checkpoint (set by the caller).
    pub proof_verified: Option<bool>,
}

/// The draft.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PpcReport {
    /// 速報 or 確報.
    pub kind: ReportKind,
    /// 事案番号.
    pub case_id: String,
    /// 件名.
    pub title: String,
    /// The day the draft was made.
    pub prepared_on: NaiveDate,
    /// The deadlines.
    pub deadlines: Deadlines,
    /// This report's status on `prepared_on`.
    pub due: DueStatus,
    /// Why the leak is reportable (empty: not known to be; the draft says so).
    pub reportable_because: Vec<String>,
    /// The persons count with its basis.
    pub persons: PersonsCount,
    /// The nine items.
    pub items: Vec<PpcItem>,
    /// Evidence events.
    pub evidence: Vec<CitedEvidence>,
    /// Notes (My Number Act, unknown items …).
    pub notes: Vec<String>,
}

/// The nine items: key, Japanese, English.
pub const ITEMS: [(&str, &str, &str); 9] = [
    ("summary", "概要", "overview"),
    (
        "data_items",
        "漏えい等が発生し、又は発生したおそれがある保有個人情報の項目",
        "data items concerned",
    ),
    (
        "persons",
        "漏えい等が発生し、又は発生したおそれがある保有個人情報に係る本人の数",
        "number of persons",
    ),
    ("cause", "原因", "cause"),
    (
        "secondary_harm",
        "二次被害又はそのおそれの有無及びその内容",
        "secondary harm, actual or possible",
    ),
    ("response_to_persons", "本人への対応の実施状況", "response to the persons"),
    ("publication", "公表の実施状況", "public announcement"),
    ("prevention", "再発防止のための措置", "measures against recurrence"),
    ("other", "その他参考となる事項", "other relevant matters"),
];

fn text_or(v: &Option<String>) -> Option<String> {
    v.as_ref().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Drafts the report of `kind` for `case` on `today`. Evidence proofs are left unknown
/// (`proof_verified: None`); the caller verifies them against the ledger and fills them in.
pub fn draft(case: &Case, kind: ReportKind, today: NaiveDate, cal: &Calendar) -> PpcReport {
    let dl = deadlines(case.recognized_on, case.unlawful_purpose(), cal);
    let due = due_status(case, kind, today, cal);
    let persons = case.persons();
    let f = &case.fields;
    let pending = match kind {
        ReportKind::Sokuho => "調査中(確報で報告します)/ under investigation (in the final report)",
        ReportKind::Kakuho => "未記入 / not filled in",
    };

    let mut reportable = Vec::new();
    if f.sensitive == Some(true) {
        reportable.push("要配慮個人情報が含まれる / includes sensitive personal information".to_owned());
    }
    if f.financial == Some(true) {
        reportable.push("不正に利用されることにより財産的被害が生じるおそれがある / possible financial harm".to_owned());
    }
    if case.unlawful_purpose() {
        reportable.push("不正の目的をもって行われたおそれがある / possibly for an unlawful purpose".to_owned());
    }
    if persons.value.is_some_and(|n| n > PERSONS_THRESHOLD) {
        reportable.push(format!(
            "本人の数が{PERSONS_THRESHOLD}人を超える({}人)/ more than {PERSONS_THRESHOLD} persons",
            persons.value.unwrap_or(0)
        ));
    }

    let mut items = Vec::new();
    for (i, (key, ja, en)) in ITEMS.iter().enumerate() {
        let (text, missing) = match *key {
            "summary" => {
                let mut parts = Vec::new();
                if let Some(s) = text_or(&f.summary) {
                    parts.push(s);
                }
                if let Some(s) = text_or(&f.occurred) {
                    parts.push(format!("発生日時: {s}"));
                }
                if let Some(s) = text_or(&f.discovered) {
                    parts.push(format!("発見の経緯: {s}"));
                }
                parts.push(format!("認知日: {}", case.recognized_on));
                if !case.alerts.is_empty() {
                    let ids: Vec<String> = case.alerts.iter().map(|a| format!("#{a}")).collect();
                    parts.push(format!("検知したアラート: {}", ids.join(", ")));
                }
                let missing = text_or(&f.summary).is_none();
                if missing {
                    parts.insert(0, format!("件名: {}", case.title()));
                }
                (parts.join("\n"), missing)
            }
            "data_items" => match &f.data_items {
                Some(v) if !v.is_empty() => (v.join("、"), false),
                _ => (pending.to_owned(), true),
            },
            "persons" => match persons.value {
                Some(n) => (format!("{n}人({})", persons.basis_ja), false),
                None => (format!("{pending}({})", persons.basis_ja), true),
            },
            "cause" => text_or(&f.cause).map_or((pending.to_owned(), true), |s| (s, false)),
            "secondary_harm" => text_or(&f.secondary_harm).map_or((pending.to_owned(), true), |s| (s, false)),
            "response_to_persons" => text_or(&f.response_to_persons).map_or((pending.to_owned(), true), |s| (s, false)),
            "publication" => text_or(&f.publication).map_or((pending.to_owned(), true), |s| (s, false)),
            "prevention" => text_or(&f.prevention).map_or((pending.to_owned(), true), |s| (s, false)),
            _ => {
                let mut parts = Vec::new();
                if let Some(s) = text_or(&f.other) {
                    parts.push(s);
                }
                if !case.actions.is_empty() {
                    parts.push("対応の経過:".to_owned());
                    for a in &case.actions {
                        parts.push(format!("・{} {}", a.on, a.text));
                    }
                }
                if f.my_number == Some(true) {
                    parts.push("特定個人情報(個人番号)を含むため、番号法に基づく報告も行います。".to_owned());
                }
                if parts.is_empty() {
                    ("なし / none".to_owned(), false)
                } else {
                    (parts.join("\n"), false)
                }
            }
        };
        items.push(PpcItem {
            no: i as u8 + 1,
            key: key.to_string(),
            label_ja: ja.to_string(),
            label_en: en.to_string(),
            text,
            missing,
        });
    }

    let mut notes = Vec::new();
    if reportable.is_empty() {
        notes.push("報告対象事態に当たるかは未確定です(要配慮・財産的被害・不正の目的・100人超のいずれにも当たらない場合は報告義務はありません)/ not known to be reportable yet".to_owned());
    }
    if f.my_number == Some(true) {
        notes.push("特定個人情報: 番号法に基づく報告の要否を確認してください / My Number data: check the My Number Act report".to_owned());
    }
    let missing: Vec<&str> = items.iter().filter(|i| i.missing).map(|i| ITEMS[i.no as usize - 1].1).collect();
    if !missing.is_empty() && kind == ReportKind::Kakuho {
        notes.push(format!(
            "確報では全項目の記載が必要です。未記入: {} / the final report needs every item",
            missing.join("、")
        ));
    }
    if let Some(n) = &dl.sokuho_note
        && kind == ReportKind::Sokuho
    {
        notes.push(n.clone());
    }
    if let Some(n) = &dl.kakuho_note
        && kind == ReportKind::Kakuho
    {
        notes.push(n.clone());
    }

    let evidence = case
        .evidence
        .iter()
        .map(|e| CitedEvidence {
            ledger_id: e.ledger_id,
            at: e.at.clone(),
            summary: e.summary.clone(),
            records: e.records,
            proof_verified: None,
        })
        .collect();
    PpcReport {
        kind,
        case_id: case.id.clone(),
        title: case.title().to_owned(),
        prepared_on: today,
        deadlines: dl,
        due,
        reportable_because: reportable,
        persons,
        items,
        evidence,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn thirty_and_sixty_days() {
        let cal = Calendar::default();
        // 2026-06-01 (Mon) + 30 = 2026-07-01 (Wed), a working day.
        let dl = deadlines(d("2026-06-01"), false, &cal);
        assert_eq!((dl.sokuho_from, dl.sokuho_by), (d("2026-06-04"), d("2026-06-06")));
        assert!(dl.sokuho_note.as_deref().unwrap().contains("土日"), "06-06 is a Saturday");
        assert_eq!(
            (dl.kakuho_days, dl.kakuho_nominal, dl.kakuho_by, dl.kakuho_note.clone()),
            (30, d("2026-07-01"), d("2026-07-01"), None)
        );
        let dl = deadlines(d("2026-06-01"), true, &cal);
        // + 60 = 2026-07-31 (Fri).
        assert_eq!((dl.kakuho_days, dl.kakuho_by), (60, d("2026-07-31")));
    }

    #[test]
    fn month_end_and_holidays_move_the_deadline() {
        let cal = Calendar::default();
        // Known 2026-12-01: day 30 is 12-31, in 年末年始; 1/1 元日, 1/2–1/3 年末年始 (Sat, Sun):
        // the next working day is Monday 2027-01-04.
        let dl = deadlines(d("2026-12-01"), false, &cal);
        assert_eq!(dl.kakuho_nominal, d("2026-12-31"));
        assert_eq!(dl.kakuho_by, d("2027-01-04"));
        let note = dl.kakuho_note.unwrap();
        assert!(note.contains("年末年始") && note.contains("元日"), "{note}");
        // Unlawful purpose from 2026-11-04: day 60 is 2027-01-03 → 2027-01-04.
        assert_eq!(deadlines(d("2026-11-04"), true, &cal).kakuho_by, d("2027-01-04"));
        // Month end: 2027-01-31 + 30 = 2027-03-02 (Tue; February has 28 days).
        assert_eq!(deadlines(d("2027-01-31"), false, &cal).kakuho_by, d("2027-03-02"));
        // Golden week: 2026-04-04 + 30 = 05-04 (みどりの日), 05-05 こどもの日, 05-06 振替休日 → 05-07.
        let dl = deadlines(d("2026-04-04"), false, &cal);
        assert_eq!(dl.kakuho_by, d("2026-05-07"));
        assert!(dl.kakuho_note.unwrap().contains("振替休日"));
        // 速報 window over a long weekend: 2026-09-16 + 5 = 09-21 (敬老の日).
        assert!(deadlines(d("2026-09-16"), false, &cal).sokuho_note.unwrap().contains("敬老の日"));
    }

    #[test]
    fn kinds_parse() {
        for k in [ReportKind::Sokuho, ReportKind::Kakuho] {
            assert_eq!(ReportKind::parse(k.as_str()), Some(k));
            assert_eq!(ReportKind::parse(k.label_ja()), Some(k));
        }
        assert_eq!(ReportKind::parse("interim"), None);
    }
}
