//! The HR roster file (職員名簿・人事異動): bytes in, checked rows and row errors out.
//!
//! Layout (a header row, then one personnel order per row):
//!
//! `職員番号,氏名,氏名カナ,所属コード,所属名,職名,発令日,異動区分,退職日,アカウント`
//!
//! - Columns are found by their header name, so order does not matter and unknown columns are
//!   ignored. 職員番号, 氏名, 発令日 and 異動区分 are required columns; the others may be absent
//!   (treated as empty). A few common header variants are accepted (フリガナ for 氏名カナ, 役職
//!   for 職名, 発令年月日 for 発令日, ユーザーID for アカウント).
//! - Encoding: UTF-8 (with or without BOM) if the bytes are valid UTF-8, else CP932
//!   (Windows Shift_JIS, what Excel saves as "CSV"). UTF-16 is refused with a clear error.
//! - Rows are numbered as records, 1-based, the header being row 1 (what Excel shows when no
//!   cell contains a line break). Rows whose cells are all empty (Excel leftovers) are skipped.
//!
//! Decisions for imperfect rows (each malformed row is reported and left out; the others
//! import):
//! - Unknown 異動区分 → error. Accepted values are 採用/異動/昇任/退職/休職/復職/兼務, the
//!   extension 兼務解除 (ends a concurrent post), and common synonyms (see [`ChangeType::parse`]).
//! - Missing 職員番号, 氏名, 発令日 or 異動区分 → error. 所属コード is required for 採用, 異動
//!   and 兼務 (they assign a department).
//! - 退職 without 退職日 → 発令日 is the last day of employment (退職の発令日は退職日). With
//!   both, 退職日 wins (a retroactive order may be issued after the fact).
//! - 退職日 on a row of another kind (e.g. a fixed-term 採用 with its end date, or a snapshot
//!   roster that carries each person's 退職日) → the row is applied *and* the person retires
//!   at the end of that day. A 退職日 before 発令日 on such a row is an error.
//! - Two rows in one file for the same person, 発令日 and 異動区分 (and, for 兼務, 所属コード)
//!   that differ in content → the later one is an error naming the first. Identical repeats
//!   are dropped silently.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::account::{AccountError, AccountName};
use crate::date::{DateError, halfwidth, parse_date};

/// Longest value quoted back in an error message, in characters.
const MAX_QUOTED: usize = 60;
/// Longest staff number accepted, in characters.
const MAX_ID_LEN: usize = 64;

/// A roster column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Column {
    /// 職員番号
    StaffId,
    /// 氏名
    Name,
    /// 氏名カナ
    NameKana,
    /// 所属コード
    DeptCode,
    /// 所属名
    DeptName,
    /// 職名
    Title,
    /// 発令日
    Effective,
    /// 異動区分
    Change,
    /// 退職日
    RetirementDate,
    /// アカウント
    Accounts,
}

impl Column {
    /// All columns in the standard order.
    pub const ALL: [Column; 10] = [
        Column::StaffId,
        Column::Name,
        Column::NameKana,
        Column::DeptCode,
        Column::DeptName,
        Column::Title,
        Column::Effective,
        Column::Change,
        Column::RetirementDate,
        Column::Accounts,
    ];

    /// The standard header text.
    pub fn header(self) -> &'static str {
        match self {
            Column::StaffId => "職員番号",
            Column::Name => "氏名",
            Column::NameKana => "氏名カナ",
            Column::DeptCode => "所属コード",
            Column::DeptName => "所属名",
            Column::Title => "職名",
            Column::Effective => "発令日",
            Column::Change => "異動区分",
            Column::RetirementDate => "退職日",
            Column::Accounts => "アカウント",
        }
    }

    fn aliases(self) -> &'static [&'static str] {
        match self {
            Column::NameKana => &["フリガナ", "カナ氏名", "氏名(カナ)"],
            Column::Title => &["役職", "職位"],
            Column::Effective => &["発令年月日"],
            Column::Accounts => &["ユーザーID", "アカウント名"],
            _ => &[],
        }
    }

    fn required(self) -> bool {
        matches!(
            self,
            Column::StaffId | Column::Name | Column::Effective | Column::Change
        )
    }

    fn from_header(h: &str) -> Option<Column> {
        Column::ALL
            .into_iter()
            .find(|c| c.header() == h || c.aliases().contains(&h))
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.header())
    }
}

/// 異動区分: what a personnel order does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ChangeType {
    /// 採用: hire (or re-hire after 退職: a new employment period).
    Hire,
    /// 異動: transfer; replaces the main post and ends all concurrent posts.
    Transfer,
    /// 昇任: promotion; sets the title (and the department, if the row names one); concurrent
    /// posts stay.
    Promotion,
    /// 退職: retirement; the person is employed through the 退職日 and retired from the next day.
    Retirement,
    /// 休職: leave; the post is kept, the status is 休職.
    Leave,
    /// 復職: return from leave.
    Return,
    /// 兼務: a concurrent post in a second department; the main post stays.
    Concurrent,
    /// 兼務解除 (extension): ends the concurrent post in 所属コード, or all if it is empty.
    ConcurrentEnd,
}

impl ChangeType {
    /// Parses a 異動区分 cell. Besides the seven standard values and 兼務解除, accepts the
    /// synonyms HR systems print: 新規採用/再任用/再採用 → 採用; 配置換(え)/転任/所属替 → 異動;
    /// 昇格 → 昇任; 定年退職/普通退職/勧奨退職/辞職/死亡退職/免職/懲戒免職/分限免職/失職 → 退職;
    /// 育児休業/病気休職 → 休職; 兼務解除/兼務解/兼務免 → 兼務解除.
    pub fn parse(label: &str) -> Option<ChangeType> {
        use ChangeType::*;
        let t = match label.trim() {
            "採用" | "新規採用" | "再任用" | "再採用" => Hire,
            "異動" | "配置換" | "配置換え" | "転任" | "所属替" => Transfer,
            "昇任" | "昇格" => Promotion,
            "退職" | "定年退職" | "普通退職" | "勧奨退職" | "辞職" | "死亡退職" | "免職"
            | "懲戒免職" | "分限免職" | "失職" => Retirement,
            "休職" | "育児休業" | "病気休職" => Leave,
            "復職" => Return,
            "兼務" => Concurrent,
            "兼務解除" | "兼務解" | "兼務免" => ConcurrentEnd,
            _ => return None,
        };
        Some(t)
    }

    /// The standard Japanese label.
    pub fn label(self) -> &'static str {
        match self {
            ChangeType::Hire => "採用",
            ChangeType::Transfer => "異動",
            ChangeType::Promotion => "昇任",
            ChangeType::Retirement => "退職",
            ChangeType::Leave => "休職",
            ChangeType::Return => "復職",
            ChangeType::Concurrent => "兼務",
            ChangeType::ConcurrentEnd => "兼務解除",
        }
    }

    fn needs_dept(self) -> bool {
        matches!(
            self,
            ChangeType::Hire | ChangeType::Transfer | ChangeType::Concurrent
        )
    }
}

/// One checked roster row: a personnel order with its valid time (発令日) and its recorded time
/// (when the roster was imported).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterRow {
    /// Row number in the file (header = 1).
    pub row: u64,
    /// 職員番号, trimmed, full-width digits folded to ASCII. Leading zeros are kept.
    pub staff_id: String,
    /// 氏名 as written (trimmed).
    pub name: String,
    /// 氏名カナ (may be empty).
    pub name_kana: String,
    /// 所属コード (may be empty for 昇任/休職/復職/退職/兼務解除).
    pub dept_code: String,
    /// 所属名.
    pub dept_name: String,
    /// 職名.
    pub title: String,
    /// 発令日: the valid-time start of this order.
    pub effective: NaiveDate,
    /// 異動区分, interpreted.
    pub change: ChangeType,
    /// 異動区分 as written (e.g. 再任用), kept for the record.
    pub change_label: String,
    /// Last day of employment: 退職日, or for a 退職 row without one, 発令日.
    pub retirement_date: Option<NaiveDate>,
    /// アカウント, normalised, in the order written, without repeats.
    pub accounts: Vec<AccountName>,
    /// Recorded time: when this fact became known to mamori (the import time).
    pub recorded_at: DateTime<Utc>,
}

impl RosterRow {
    /// The key that identifies "the same order" across imports: a later import with the same
    /// key supersedes the earlier one (a correction).
    pub(crate) fn key(&self) -> (String, ChangeType, NaiveDate, String) {
        let dept = match self.change {
            ChangeType::Concurrent | ChangeType::ConcurrentEnd => self.dept_code.clone(),
            _ => String::new(),
        };
        (self.staff_id.clone(), self.change, self.effective, dept)
    }

    fn same_content(&self, other: &RosterRow) -> bool {
        RosterRow {
            row: other.row,
            ..self.clone()
        } == *other
    }
}

/// What is wrong with a row (or the file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Problem {
    /// A required cell is empty.
    Empty,
    /// A cell required by this 異動区分 is empty.
    RequiredFor {
        /// The row's 異動区分.
        change: ChangeType,
    },
    /// Not a date.
    BadDate(DateError),
    /// 異動区分 not recognised.
    UnknownChange,
    /// An account in the list is malformed.
    BadAccount(AccountError),
    /// 退職日 before 発令日 on a row that is not a 退職.
    RetirementBeforeEffective,
    /// The cell is too long (職員番号 over 64 characters).
    TooLong,
    /// The row has a different number of cells than the header.
    FieldCount {
        /// Cells found.
        found: usize,
        /// Cells in the header.
        expected: usize,
    },
    /// Same person, 発令日 and 異動区分 as an earlier row, different content.
    ConflictingDuplicate {
        /// The earlier row.
        first_row: u64,
    },
    /// The header lacks a required column.
    MissingColumn,
    /// The header names a column twice.
    DuplicateColumn,
    /// The file has no rows at all.
    EmptyFile,
    /// The file is UTF-16 (Excel's "Unicode text").
    Utf16,
    /// Bytes that are neither UTF-8 nor CP932 (shown as U+FFFD).
    Undecodable,
    /// The CSV framing is broken (the csv reader's message).
    Csv(String),
    /// A mapped roster (another layout, [`crate::roster_map`]): the mapping could not take the
    /// value (a required cell missing, a value not of the field's type).
    Mapped {
        /// What is wrong, in Japanese.
        ja: String,
        /// What is wrong, in English.
        en: String,
    },
}

impl Problem {
    /// The message in Japanese.
    pub fn ja(&self) -> String {
        match self {
            Problem::Empty => "空欄です".into(),
            Problem::RequiredFor { change } => {
                format!("異動区分が{}の行では必須です", change.label())
            }
            Problem::BadDate(e) => e.ja(),
            Problem::UnknownChange => "異動区分が不明です".into(),
            Problem::BadAccount(e) => e.ja().into(),
            Problem::RetirementBeforeEffective => "退職日が発令日より前です".into(),
            Problem::TooLong => "長すぎます".into(),
            Problem::FieldCount { found, expected } => {
                format!("列の数が見出しと違います({found}列、見出しは{expected}列)")
            }
            Problem::ConflictingDuplicate { first_row } => {
                format!("{first_row}行目と同じ職員・発令日・異動区分で内容が異なります")
            }
            Problem::MissingColumn => "必須の列が見出しにありません".into(),
            Problem::DuplicateColumn => "同じ列が見出しに2回あります".into(),
            Problem::EmptyFile => "ファイルが空です".into(),
            Problem::Utf16 => "UTF-16のファイルは読めません".into(),
            Problem::Undecodable => "文字コードを読めない文字があります".into(),
            Problem::Csv(m) => format!("CSVとして読めません({m})"),
            Problem::Mapped { ja, .. } => ja.clone(),
        }
    }

    /// The message in English.
    pub fn en(&self) -> String {
        match self {
            Problem::Empty => "empty".into(),
            Problem::RequiredFor { change } => {
                format!("required when 異動区分 is {}", change.label())
            }
            Problem::BadDate(e) => e.en(),
            Problem::UnknownChange => "unknown change type".into(),
            Problem::BadAccount(e) => e.en().into(),
            Problem::RetirementBeforeEffective => {
                "retirement date before the effective date".into()
            }
            Problem::TooLong => "too long".into(),
            Problem::FieldCount { found, expected } => {
                format!("{found} cells, the header has {expected}")
            }
            Problem::ConflictingDuplicate { first_row } => {
                format!(
                    "same person, date and change type as row {first_row} with different content"
                )
            }
            Problem::MissingColumn => "required column missing from the header".into(),
            Problem::DuplicateColumn => "column appears twice in the header".into(),
            Problem::EmptyFile => "empty file".into(),
            Problem::Utf16 => "UTF-16 files are not supported".into(),
            Problem::Undecodable => "bytes that are neither UTF-8 nor CP932".into(),
            Problem::Csv(m) => format!("broken CSV ({m})"),
            Problem::Mapped { en, .. } => en.clone(),
        }
    }

    /// What to do about it (Japanese / English).
    pub fn hint(&self) -> &'static str {
        match self {
            Problem::Empty | Problem::RequiredFor { .. } => {
                "値を入力してください / fill in the cell"
            }
            Problem::BadDate(_) => {
                "2022-04-01、2022/4/1、令和4年4月1日、R4.4.1 のいずれかで書いてください / \
                 write e.g. 2022-04-01, 2022/4/1, 令和4年4月1日 or R4.4.1"
            }
            Problem::UnknownChange => {
                "採用・異動・昇任・退職・休職・復職・兼務・兼務解除のいずれかにしてください / \
                 use one of 採用 異動 昇任 退職 休職 復職 兼務 兼務解除"
            }
            Problem::BadAccount(_) => {
                "複数のアカウントは「;」で区切ってください(例: CITY\\tanaka.k;tanaka.k@city.lg.jp) / \
                 separate accounts with ';'"
            }
            Problem::RetirementBeforeEffective => {
                "退職日と発令日を確認してください / check 退職日 and 発令日"
            }
            Problem::TooLong => {
                "職員番号は64文字までです / staff numbers are at most 64 characters"
            }
            Problem::FieldCount { .. } => {
                "カンマを含むセルは \"...\" で囲んでください / quote cells that contain commas"
            }
            Problem::ConflictingDuplicate { .. } => {
                "どちらの行が正しいか確認し、片方を削除してください / keep only the correct row"
            }
            Problem::MissingColumn | Problem::DuplicateColumn | Problem::EmptyFile => {
                "1行目は 職員番号,氏名,氏名カナ,所属コード,所属名,職名,発令日,異動区分,退職日,アカウント \
                 にしてください / the first row must be the standard header"
            }
            Problem::Utf16 | Problem::Undecodable => {
                "「CSV UTF-8」または「CSV(コンマ区切り)」で保存し直してください / \
                 save as CSV UTF-8 or CSV (Shift_JIS)"
            }
            Problem::Csv(_) => "ダブルクォートの対応を確認してください / check the quotes",
            Problem::Mapped { .. } => {
                "元のファイルの値か、マッピング(TOML)を確認してください / check the value in the file, or the mapping"
            }
        }
    }
}

/// A malformed row (or file): where, what, and the value found. Display is Japanese first, for
/// the officer who fixes the roster, with English beside it:
/// `3行目「発令日」: 日付として読めません(令和4年13月1日)/ row 3, column 発令日: not a date`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct RowError {
    /// Row number (header = 1).
    pub row: u64,
    /// The column, when the problem is in one cell.
    pub column: Option<Column>,
    /// The offending value, shortened to 60 characters (may be empty).
    pub value: String,
    /// What is wrong.
    pub problem: Problem,
    /// For a roster read through a mapping: the column (or columns, `A+B`) of the original
    /// file the value came from; `row` is then the original file's line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_column: Option<String>,
}

impl RowError {
    pub(crate) fn new(row: u64, column: Option<Column>, value: &str, problem: Problem) -> Self {
        let mut quoted: String = value.chars().take(MAX_QUOTED).collect();
        if quoted.len() < value.len() {
            quoted.push('…');
        }
        RowError {
            row,
            column,
            value: quoted,
            problem,
            source_column: None,
        }
    }

    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        self.problem.hint()
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let row = self.row;
        match (&self.source_column, self.column) {
            (Some(src), Some(c)) => write!(f, "{row}行目「{src}」(名簿の{c}): ")?,
            (Some(src), None) => write!(f, "{row}行目「{src}」: ")?,
            (None, Some(c)) => write!(f, "{row}行目「{c}」: ")?,
            (None, None) => write!(f, "{row}行目: ")?,
        }
        f.write_str(&self.problem.ja())?;
        if !self.value.is_empty() {
            write!(f, "({})", self.value)?;
        }
        match (&self.source_column, self.column) {
            (Some(src), Some(c)) => write!(f, "/ row {row}, column {src} (roster {c}): {}", self.problem.en()),
            (Some(src), None) => write!(f, "/ row {row}, column {src}: {}", self.problem.en()),
            (None, Some(c)) => write!(f, "/ row {row}, column {c}: {}", self.problem.en()),
            (None, None) => write!(f, "/ row {row}: {}", self.problem.en()),
        }
    }
}

/// The text encoding a roster was read in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SourceEncoding {
    /// UTF-8 without BOM.
    Utf8,
    /// UTF-8 with a BOM (Excel's "CSV UTF-8").
    Utf8Bom,
    /// CP932 / Windows Shift_JIS (Excel's "CSV").
    Cp932,
}

/// Everything parsing a roster produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedRoster {
    /// The rows that are well-formed, in file order.
    pub rows: Vec<RosterRow>,
    /// The rows that are not (and file-level problems, on row 1).
    pub errors: Vec<RowError>,
    /// How the bytes were decoded (None if they could not be).
    pub encoding: Option<SourceEncoding>,
}

/// Parses a roster file (the fuzz entry point: any bytes, never panics). `recorded_at` is the
/// recorded time stamped on every row.
pub fn parse_roster(bytes: &[u8], recorded_at: DateTime<Utc>) -> (Vec<RosterRow>, Vec<RowError>) {
    let p = parse_roster_detailed(bytes, recorded_at);
    (p.rows, p.errors)
}

/// [`parse_roster`], also telling the encoding detected.
pub fn parse_roster_detailed(bytes: &[u8], recorded_at: DateTime<Utc>) -> ParsedRoster {
    let mut out = ParsedRoster {
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
                CsvFileProblem::Utf16 => Problem::Utf16,
                CsvFileProblem::EmptyFile => Problem::EmptyFile,
                CsvFileProblem::Csv(e) => Problem::Csv(e),
            };
            out.errors.push(RowError::new(1, None, "", p));
            return out;
        }
    };
    let mut columns: BTreeMap<Column, usize> = BTreeMap::new();
    for (i, h) in header_names(&header).into_iter().enumerate() {
        if let Some(c) = Column::from_header(&h)
            && columns.insert(c, i).is_some()
        {
            out.errors
                .push(RowError::new(1, Some(c), &h, Problem::DuplicateColumn));
        }
    }
    for c in Column::ALL
        .into_iter()
        .filter(|c| c.required() && !columns.contains_key(c))
    {
        out.errors
            .push(RowError::new(1, Some(c), "", Problem::MissingColumn));
    }
    if !out.errors.is_empty() {
        return out;
    }

    let width = header.len();
    let mut seen: BTreeMap<(String, ChangeType, NaiveDate, String), usize> = BTreeMap::new();
    for (i, rec) in records.enumerate() {
        let row = i as u64 + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                out.errors
                    .push(RowError::new(row, None, "", Problem::Csv(e.to_string())));
                continue;
            }
        };
        if rec.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let extra_nonempty = rec.iter().skip(width).any(|c| !c.trim().is_empty());
        if rec.len() < width || extra_nonempty {
            let problem = Problem::FieldCount {
                found: rec.len(),
                expected: width,
            };
            out.errors.push(RowError::new(row, None, "", problem));
            continue;
        }
        let cell = |c: Column| columns.get(&c).and_then(|&i| rec.get(i)).unwrap_or("");
        let before = out.errors.len();
        if lossy {
            for c in Column::ALL {
                if cell(c).contains('\u{FFFD}') {
                    out.errors
                        .push(RowError::new(row, Some(c), cell(c), Problem::Undecodable));
                }
            }
            if out.errors.len() > before {
                continue;
            }
        }
        match check_row(row, &cell, recorded_at) {
            Ok(r) => {
                let key = r.key();
                match seen.get(&key) {
                    Some(&j) if out.rows[j].same_content(&r) => {}
                    Some(&j) => {
                        let problem = Problem::ConflictingDuplicate {
                            first_row: out.rows[j].row,
                        };
                        out.errors.push(RowError::new(row, None, "", problem));
                    }
                    None => {
                        seen.insert(key, out.rows.len());
                        out.rows.push(r);
                    }
                }
            }
            Err(mut errs) => out.errors.append(&mut errs),
        }
    }
    out
}

/// A CSV file opened for reading: its header record and the records after it.
pub(crate) struct CsvFile {
    /// The first record.
    pub header: csv::StringRecord,
    /// The data records (row 2 on).
    pub records: csv::StringRecordsIntoIter<std::io::Cursor<String>>,
    /// Whether decoding had to substitute U+FFFD for undecodable bytes.
    pub lossy: bool,
}

/// What makes a whole CSV file unreadable (reported on row 1).
pub(crate) enum CsvFileProblem {
    Utf16,
    EmptyFile,
    Csv(String),
}

/// Opens a CSV file the way both the roster and the USB ledger read theirs: UTF-16 refused,
/// UTF-8/CP932 detected ([`decode`]), quoted fields, ragged rows allowed (checked per row by the
/// caller), the first record as header. Returns the encoding (None for UTF-16) beside the result.
pub(crate) fn open_csv(bytes: &[u8]) -> (Option<SourceEncoding>, Result<CsvFile, CsvFileProblem>) {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return (None, Err(CsvFileProblem::Utf16));
    }
    let (text, encoding, lossy) = decode(bytes);
    let mut records = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(std::io::Cursor::new(text))
        .into_records();
    let file = match records.next() {
        None => Err(CsvFileProblem::EmptyFile),
        Some(Err(e)) => Err(CsvFileProblem::Csv(e.to_string())),
        Some(Ok(header)) => Ok(CsvFile { header, records, lossy }),
    };
    (Some(encoding), file)
}

/// Header cells normalised for matching column names: BOM removed, half-width, trimmed.
pub(crate) fn header_names(header: &csv::StringRecord) -> Vec<String> {
    header
        .iter()
        .map(|cell| halfwidth(cell.trim_start_matches('\u{FEFF}')).trim().to_owned())
        .collect()
}

/// Decodes the bytes: valid UTF-8 (BOM stripped) is UTF-8; anything else is read as CP932.
/// Returns whether the decoding had to substitute U+FFFD for undecodable bytes.
fn decode(bytes: &[u8]) -> (String, SourceEncoding, bool) {
    let (body, bom) = match bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        Some(b) => (b, true),
        None => (bytes, false),
    };
    if let Ok(s) = std::str::from_utf8(body) {
        let enc = if bom {
            SourceEncoding::Utf8Bom
        } else {
            SourceEncoding::Utf8
        };
        return (s.to_owned(), enc, false);
    }
    if bom {
        // A BOM says UTF-8; broken bytes after it are damage, not another encoding.
        let (s, had_errors) = encoding_rs::UTF_8.decode_without_bom_handling(body);
        return (s.into_owned(), SourceEncoding::Utf8Bom, had_errors);
    }
    // encoding_rs's Shift_JIS is the WHATWG one, i.e. Microsoft's CP932 with the NEC and IBM
    // extensions (①, ㈱, 髙, 﨑 …) that Japanese names and rosters use.
    let (s, had_errors) = encoding_rs::SHIFT_JIS.decode_without_bom_handling(body);
    (s.into_owned(), SourceEncoding::Cp932, had_errors)
}

/// Trims ASCII and ideographic spaces.
pub(crate) fn trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || c == '\u{3000}')
}

fn check_row<'a>(
    row: u64,
    cell: &dyn Fn(Column) -> &'a str,
    recorded_at: DateTime<Utc>,
) -> Result<RosterRow, Vec<RowError>> {
    let mut errs = Vec::new();
    let mut err = |c: Column, v: &str, p: Problem| errs.push(RowError::new(row, Some(c), v, p));

    let staff_id = halfwidth(trim(cell(Column::StaffId))).trim().to_owned();
    if staff_id.is_empty() {
        err(Column::StaffId, "", Problem::Empty);
    } else if staff_id.chars().count() > MAX_ID_LEN {
        err(Column::StaffId, &staff_id, Problem::TooLong);
    }
    let name = trim(cell(Column::Name)).to_owned();
    if name.is_empty() {
        err(Column::Name, "", Problem::Empty);
    }
    let change_label = trim(cell(Column::Change)).to_owned();
    let change = if change_label.is_empty() {
        err(Column::Change, "", Problem::Empty);
        None
    } else {
        let c = ChangeType::parse(&change_label);
        if c.is_none() {
            err(Column::Change, &change_label, Problem::UnknownChange);
        }
        c
    };
    let date_cell = |c: Column, err: &mut dyn FnMut(Column, &str, Problem)| {
        let v = trim(cell(c));
        if v.is_empty() {
            return None;
        }
        parse_date(v)
            .map_err(|e| err(c, v, Problem::BadDate(e)))
            .ok()
    };
    let effective = date_cell(Column::Effective, &mut err);
    if trim(cell(Column::Effective)).is_empty() {
        err(Column::Effective, "", Problem::Empty);
    }
    let retirement = date_cell(Column::RetirementDate, &mut err);
    let dept_code = halfwidth(trim(cell(Column::DeptCode))).trim().to_owned();
    if let Some(c) = change.filter(|c| c.needs_dept() && dept_code.is_empty()) {
        err(Column::DeptCode, "", Problem::RequiredFor { change: c });
    }
    if let (Some(c), Some(e), Some(r)) = (change, effective, retirement)
        && c != ChangeType::Retirement
        && r < e
    {
        err(
            Column::RetirementDate,
            trim(cell(Column::RetirementDate)),
            Problem::RetirementBeforeEffective,
        );
    }
    let mut accounts: Vec<AccountName> = Vec::new();
    let raw_accounts = halfwidth(cell(Column::Accounts));
    for item in raw_accounts.split(';').map(trim).filter(|s| !s.is_empty()) {
        match AccountName::parse(item) {
            Ok(a) if !accounts.contains(&a) => accounts.push(a),
            Ok(_) => {}
            Err(e) => err(Column::Accounts, item, Problem::BadAccount(e)),
        }
    }
    match (change, effective) {
        (Some(change), Some(effective)) if errs.is_empty() => {
            let retirement_date = match change {
                ChangeType::Retirement => Some(retirement.unwrap_or(effective)),
                _ => retirement,
            };
            Ok(RosterRow {
                row,
                staff_id,
                name,
                name_kana: trim(cell(Column::NameKana)).to_owned(),
                dept_code,
                dept_name: trim(cell(Column::DeptName)).to_owned(),
                title: trim(cell(Column::Title)).to_owned(),
                effective,
                change,
                change_label,
                retirement_date,
                accounts,
                recorded_at,
            })
        }
        _ => Err(errs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    const HEADER: &str =
        "職員番号,氏名,氏名カナ,所属コード,所属名,職名,発令日,異動区分,退職日,アカウント\n";

    #[test]
    fn parses_a_row() {
        let csv = format!(
            "{HEADER}00123,田中 健,タナカ ケン,1100,市民課,主査,2021/4/1,異動,,\"CITY\\tanaka.k; tanaka.k@city.lg.jp\"\r\n"
        );
        let (rows, errs) = parse_roster(csv.as_bytes(), t0());
        assert!(errs.is_empty(), "{errs:?}");
        let r = &rows[0];
        assert_eq!(
            (r.row, r.staff_id.as_str(), r.change),
            (2, "00123", ChangeType::Transfer)
        );
        assert_eq!(r.effective, NaiveDate::from_ymd_opt(2021, 4, 1).unwrap());
        assert_eq!(r.accounts.len(), 2);
        assert_eq!(r.recorded_at, t0());
    }

    #[test]
    fn row_error_display_matches_house_style() {
        let csv = format!(
            "{HEADER}1,田中,,1100,市民課,主事,2022/4/1,採用,,\n2,佐藤,,1100,市民課,主事,令和4年13月1日,採用,,\n"
        );
        let (rows, errs) = parse_roster(csv.as_bytes(), t0());
        assert_eq!(rows.len(), 1);
        assert_eq!(
            errs[0].to_string(),
            "3行目「発令日」: 日付として読めません(令和4年13月1日)/ row 3, column 発令日: not a date"
        );
        assert!(errs[0].hint().contains("R4.4.1"));
    }

    #[test]
    fn retirement_without_date_uses_effective() {
        let csv = format!("{HEADER}1,田中,,,,,2018/12/21,退職,,\n");
        let (rows, errs) = parse_roster(csv.as_bytes(), t0());
        assert!(errs.is_empty());
        assert_eq!(
            rows[0].retirement_date,
            NaiveDate::from_ymd_opt(2018, 12, 21)
        );
    }

    #[test]
    fn header_problems_stop_the_file() {
        let (rows, errs) = parse_roster("氏名,所属コード\n田中,1\n".as_bytes(), t0());
        assert!(rows.is_empty());
        let missing: Vec<_> = errs.iter().filter_map(|e| e.column).collect();
        assert_eq!(
            missing,
            vec![Column::StaffId, Column::Effective, Column::Change]
        );
        let (_, errs) = parse_roster(b"", t0());
        assert_eq!(errs[0].problem, Problem::EmptyFile);
        let (_, errs) = parse_roster(&[0xFF, 0xFE, b'a', 0], t0());
        assert_eq!(errs[0].problem, Problem::Utf16);
    }

    #[test]
    fn field_count_and_blank_rows() {
        let csv = format!(
            "{HEADER}1,田中,太郎,,1100,市民課,主事,2022/4/1,採用,,tanaka\n,,,,,,,,,\n2,佐藤,,1100,市民課,主事,2022/4/1,採用,,,,\n"
        );
        let (rows, errs) = parse_roster(csv.as_bytes(), t0());
        assert_eq!(rows.len(), 1, "trailing empty cells are fine: {errs:?}");
        assert_eq!(rows[0].row, 4);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].row, 2);
        assert_eq!(
            errs[0].problem,
            Problem::FieldCount {
                found: 11,
                expected: 10
            }
        );
    }

    #[test]
    fn duplicates() {
        let same = "1,田中,,1100,市民課,主事,2022/4/1,異動,,\n";
        let other = "1,田中,,1200,税務課,主事,2022/4/1,異動,,\n";
        let csv = format!("{HEADER}{same}{same}{other}");
        let (rows, errs) = parse_roster(csv.as_bytes(), t0());
        assert_eq!(rows.len(), 1);
        assert_eq!(errs.len(), 1);
        assert_eq!(
            (errs[0].row, &errs[0].problem),
            (4, &Problem::ConflictingDuplicate { first_row: 2 })
        );
    }

    /// A poor man's fuzz run (the real fuzz target is the lead's): byte-level mutations of a
    /// valid roster in UTF-8 and CP932, and random bytes, must never panic, and every row is
    /// either imported or reported.
    #[test]
    fn mutated_rosters_never_panic() {
        let base = format!(
            "{HEADER}1,髙橋,タカハシ,1100,市民課,主事,令和4年4月1日,採用,,\"CITY\\a;a@x.lg.jp\"\r\n\
             2,佐藤,,2200,税務課,主任,H31.4.30,退職,2019/4/30,\r\n"
        );
        let cp932 = encoding_rs::SHIFT_JIS.encode(&base).0.into_owned();
        for clean in [base.as_bytes(), &cp932[..]] {
            let (rows, errs) = parse_roster(clean, t0());
            assert_eq!((rows.len(), errs.len()), (2, 0), "{errs:?}");
        }
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for i in 0..3000 {
            let mut bytes = if i % 2 == 0 {
                base.as_bytes().to_vec()
            } else {
                cp932.clone()
            };
            for _ in 0..(next() % 6 + 1) {
                let at = (next() as usize) % bytes.len();
                match next() % 3 {
                    0 => bytes[at] = next() as u8,
                    1 => bytes.insert(at, b",\"\n;\\@"[(next() % 6) as usize]),
                    _ => {
                        bytes.remove(at);
                    }
                }
            }
            let (rows, errs) = parse_roster(&bytes, t0());
            for r in &rows {
                assert!(!r.staff_id.is_empty() && r.row >= 2);
            }
            for e in &errs {
                assert!(!e.to_string().is_empty());
            }
        }
        for len in 0..200 {
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let _ = parse_roster(&bytes, t0());
        }
    }

    #[test]
    fn never_panics_on_odd_bytes() {
        for bytes in [
            &b"\xff\xff\xff"[..],
            b"\"",
            b"a,b\n\"\n",
            b"\x82\xa0,\x82",
            b"\xEF\xBB\xBF\xff",
        ] {
            let _ = parse_roster(bytes, t0());
        }
    }
}
