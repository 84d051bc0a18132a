//! Readers of lists (exports and leaked files): the container is recognised by its bytes
//! (xlsx/zip, PDF, else text), text is decoded (UTF-8, UTF-16 with BOM, CP932, EUC-JP) and read
//! as a delimited table when its lines agree on a delimiter, else as free text, one record per
//! line (or per blank-line-separated block, as typed from postcards).
//!
//! Nothing is dropped silently: every line or row that yields no usable record is returned in
//! [`ReadList::rejected`] with its location and the raw text.

mod pdf;
mod table;
mod text;

use crate::record::Record;
use serde::Serialize;

/// The container recognised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Comma/tab/semicolon separated text.
    Csv,
    /// Excel (xlsx/xls/ods via calamine).
    Xlsx,
    /// PDF text layer.
    Pdf,
    /// Free text, one record per line or block.
    Text,
}

/// A record and where it was read.
#[derive(Clone, Debug)]
pub struct Located {
    /// `line 12`, `Sheet1!row 4`, `page 2 line 7`.
    pub location: String,
    /// The record.
    pub record: Record,
}

/// A piece of input that gave no usable record.
#[derive(Clone, Debug, Serialize)]
pub struct Rejected {
    /// Where.
    pub location: String,
    /// Why (Japanese / English).
    pub reason: String,
    /// The raw text (kept, not dropped).
    pub raw: String,
}

/// What a reader produced.
#[derive(Clone, Debug)]
pub struct ReadList {
    /// The container.
    pub format: Format,
    /// The text encoding, for text formats.
    pub encoding: Option<&'static str>,
    /// Usable records.
    pub records: Vec<Located>,
    /// Everything else, with reasons.
    pub rejected: Vec<Rejected>,
}

/// A file that could not be read at all.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {why} (ヒント / hint: {hint})")]
pub struct ReadError {
    /// The file name given.
    pub file: String,
    /// What is wrong.
    pub why: String,
    /// What to try.
    pub hint: &'static str,
}

/// Upper bound on cells/lines read from one file, against hostile inputs.
pub const MAX_ROWS: usize = 2_000_000;

/// Reads a list from `bytes`; `name` is used in messages and as a format hint.
pub fn read_list(name: &str, bytes: &[u8]) -> Result<ReadList, ReadError> {
    let err = |why: String, hint: &'static str| ReadError { file: name.to_owned(), why, hint };
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return table::read_workbook(bytes).map_err(|why| err(why, "Excel で開けるか確かめ、CSV で保存し直してください / check it opens in Excel, or save it as CSV"));
    }
    if bytes.starts_with(b"%PDF") {
        return pdf::read_pdf(bytes).map_err(|why| err(why, "テキスト層のない PDF は OCR してテキストで渡してください / a PDF without a text layer needs OCR first"));
    }
    let (text, encoding) = text::decode(bytes);
    Ok(text::read_text(&text, encoding))
}

/// Records only (convenience for callers that report rejects elsewhere).
pub fn records(list: &ReadList) -> Vec<Record> {
    list.records.iter().map(|l| l.record.clone()).collect()
}
