//! Business-system operation logs (住基・税・福祉) exported as CSV, read through a declarative
//! [`Mapping`] (`--format csv-mapping --mapping NAME`).
//!
//! Framing is CSV (RFC 4180 quoting, by the `csv` crate; ragged rows allowed and checked per
//! row) after the bytes are decoded as CP932, UTF-8 or UTF-8 with a BOM (auto-detected, or
//! forced by the mapping); the format is the mapping. Each data row becomes one ECS document
//! with the row's text in `event.original`, or a [`RowError`] naming the line, the column and
//! the value — the other rows go on. Columns the mapping does not mention are not lost: the
//! whole row is in `event.original`, which is searchable.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::mapping::{FieldError, Input, Mapping, Place, Selector, column_index, csv_getter, normalize_header};

/// One row mapped to an ECS document.
#[derive(Clone, Debug)]
pub struct MappedRecord {
    /// The document (not yet normalised).
    pub doc: Map<String, Value>,
    /// The row's text (UTF-8), for quarantine and `event.original`.
    pub raw: Vec<u8>,
    /// 1-based line in the file where the row starts (for JSON: the line of the payload).
    pub line: u64,
    /// Byte offset of the row in the decoded text (for JSON: in the body).
    pub offset: u64,
}

/// A row that could not be mapped.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{file}: 行 {line} / line {line}: {error}")]
pub struct RowError {
    /// The file (or upload) name.
    pub file: String,
    /// 1-based line where the row starts.
    pub line: u64,
    /// Byte offset of the row in the decoded text.
    pub offset: u64,
    /// The column, value and reason.
    pub error: FieldError,
    /// The row's text (UTF-8), kept for quarantine.
    pub raw: Vec<u8>,
}

/// Everything reading one file produced.
#[derive(Clone, Debug)]
pub struct CsvParsed {
    /// The encoding detected (or forced).
    pub encoding: mamori_jtext::SourceEncoding,
    /// Undecodable bytes were replaced by U+FFFD (rows holding them carry
    /// `mamori.mapping.lossy_decoding: true`).
    pub lossy: bool,
    /// One result per data row, in file order.
    pub rows: Vec<Result<MappedRecord, RowError>>,
}

/// Every column the mapping reads, with the key that names it.
fn named_columns(m: &Mapping) -> Vec<(String, &Selector)> {
    let mut places: Vec<(String, &Place)> = Vec::new();
    if let Some((p, _)) = &m.timestamp {
        places.push(("timestamp.from".into(), p));
    }
    for f in &m.fields {
        places.push((format!("fields.\"{}\".from", f.target), &f.from));
    }
    if let Some(a) = &m.action {
        places.push(("action.from".into(), &a.from));
    }
    if let Some(r) = &m.recipients {
        places.push(("recipients.from".into(), &r.from));
    }
    places.into_iter().flat_map(|(k, p)| p.selectors().into_iter().map(move |s| (k.clone(), s))).collect()
}

/// Reads a CSV export with `mapping`. `file` names the input in errors and `log.file.path`.
pub fn parse_csv_mapped(mapping: &Mapping, file: &str, bytes: &[u8], received: DateTime<Utc>) -> CsvParsed {
    let (text, encoding, lossy) = mamori_jtext::decode(bytes, mapping.encoding);
    let mut rows = Vec::new();
    if mapping.input != Input::Csv {
        let e = FieldError { column: "(mapping)".into(), value: mapping.name.clone(), ja: "CSV 用のマッピングではありません".into(), en: "not a CSV mapping".into() };
        rows.push(Err(RowError { file: file.to_owned(), line: 1, offset: 0, error: e, raw: bytes.to_vec() }));
        return CsvParsed { encoding, lossy, rows };
    }
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(mapping.delimiter).from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    let mut header: Option<Vec<String>> = None;
    let mut missing: Option<FieldError> = None;
    let mut seen = 0usize;
    loop {
        let start = rdr.position().clone();
        let more = match rdr.read_record(&mut record) {
            Ok(m) => m,
            Err(e) => {
                // A broken record (e.g. invalid quoting at EOF): keep what is left, raw.
                let off = start.byte() as usize;
                let raw = text.as_bytes()[off.min(text.len())..].to_vec();
                let fe = FieldError { column: "(csv)".into(), value: String::new(), ja: format!("CSV として読めません: {e}"), en: format!("not readable as CSV: {e}") };
                rows.push(Err(RowError { file: file.to_owned(), line: start.line(), offset: start.byte(), error: fe, raw }));
                break;
            }
        };
        if !more {
            break;
        }
        // The record's own start (the reader's position before the read can still be on the
        // previous record's line terminator).
        let start = record.position().cloned().unwrap_or(start);
        let end = rdr.position().byte() as usize;
        let raw_text = text.get(start.byte() as usize..end).unwrap_or("").trim_matches(['\r', '\n']);
        seen += 1;
        if seen <= mapping.skip_rows {
            continue;
        }
        if mapping.has_header && header.is_none() {
            let h: Vec<String> = record.iter().map(normalize_header).collect();
            for (key, sel) in named_columns(mapping) {
                if column_index(sel, Some(&h)).is_none() {
                    missing = Some(FieldError {
                        column: sel.to_string(),
                        value: String::new(),
                        ja: format!("見出し行にこの列がありません({key}; 見出し: {})", h.join(",")),
                        en: format!("the header has no such column ({key}; header: {})", h.join(",")),
                    });
                    break;
                }
            }
            header = Some(h);
            continue;
        }
        if record.iter().all(|c| c.trim().is_empty()) {
            continue; // a blank row (",,,,") as spreadsheets leave at the end
        }
        let line = start.line();
        let raw = raw_text.as_bytes().to_vec();
        if let Some(e) = &missing {
            rows.push(Err(RowError { file: file.to_owned(), line, offset: start.byte(), error: e.clone(), raw }));
            continue;
        }
        let cells: Vec<String> = record.iter().map(str::to_owned).collect();
        let get = csv_getter(header.as_deref(), &cells);
        match mapping.apply(&get, received) {
            Ok(mut doc) => {
                mamori_event::set_path(&mut doc, "event.original", Value::from(raw_text));
                mamori_event::set_path(&mut doc, "log.file.path", Value::from(file));
                mamori_event::set_path(&mut doc, "mamori.mapping.line", Value::from(line));
                mamori_event::set_path(&mut doc, "mamori.mapping.encoding", Value::from(encoding.as_str()));
                if raw_text.contains('\u{FFFD}') {
                    mamori_event::set_path(&mut doc, "mamori.mapping.lossy_decoding", Value::Bool(true));
                }
                rows.push(Ok(MappedRecord { doc, raw, line, offset: start.byte() }));
            }
            Err(error) => rows.push(Err(RowError { file: file.to_owned(), line, offset: start.byte(), error, raw })),
        }
    }
    CsvParsed { encoding, lossy, rows }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = r#"
[mapping]
name = "t"
input = "csv"
system = "住民記録"
[timestamp]
from = ["日付", "時刻"]
formats = ["wareki"]
[fields."user.name"]
from = "操作者"
required = true
[fields."mamori.export.records"]
from = "件数"
type = "count"
[action]
from = "操作"
map = { "照会" = "view", "CSV出力" = "csv-export" }
"#;

    fn rows(csv: &str) -> Vec<Result<MappedRecord, RowError>> {
        let m = Mapping::parse(M, "t").unwrap();
        parse_csv_mapped(&m, "f.csv", csv.as_bytes(), Utc::now()).rows
    }

    #[test]
    fn rows_map_and_bad_rows_name_line_column_value() {
        let r = rows("日付,時刻,操作者,操作,件数\nR6.4.1,9:00:00,u1,照会,1\nR6.4.1,9:01:00,u2,CSV出力,abc\nR6.4.1,9:02:00,u3,謎の操作,3\n");
        assert_eq!(r.len(), 3);
        let d = &r[0].as_ref().unwrap().doc;
        assert_eq!(d["event"]["action"], "view");
        assert_eq!(d["@timestamp"], "2024-04-01T00:00:00.000000Z");
        assert_eq!(d["event"]["original"], "R6.4.1,9:00:00,u1,照会,1");
        let e = r[1].as_ref().unwrap_err();
        assert_eq!((e.line, e.error.column.as_str(), e.error.value.as_str()), (3, "件数", "abc"));
        let d = &r[2].as_ref().unwrap().doc;
        assert_eq!(d["event"]["action"], "謎の操作", "unknown codes are kept as they are");
        assert_eq!(d["mamori"]["mapping"]["unknown_operation"], true);
    }

    #[test]
    fn a_missing_header_column_refuses_every_row_with_its_name() {
        let r = rows("日付,時刻,担当,操作,件数\nR6.4.1,9:00:00,u1,照会,1\n");
        let e = r[0].as_ref().unwrap_err();
        assert_eq!(e.error.column, "操作者");
        assert!(e.error.ja.contains("見出し"), "{e}");
    }

    #[test]
    fn quoted_cells_and_blank_rows() {
        let r = rows("日付,時刻,操作者,操作,件数\r\n\"R6.4.1\",\"9:00\",\"u,1\",照会,\"1,200\"\r\n,,,,\r\n");
        assert_eq!(r.len(), 1);
        let d = &r[0].as_ref().unwrap().doc;
        assert_eq!(d["user"]["name"], "u,1");
        assert_eq!(d["mamori"]["export"]["records"], 1200);
    }
}
