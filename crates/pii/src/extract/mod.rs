//! File → text segments and tables with locations. Shared with leak tracing: anything that
//! needs "the text of this file" uses [`extract`].
//!
//! The format is sniffed from the bytes (zip/OLE/PDF magic, mail headers, text), the name's
//! extension only breaks ties (CSV vs text). Nothing is silently skipped: every part that
//! cannot be read becomes a [`Problem`] naming the member and the reason. Every third-party
//! parser runs under `catch_unwind`, so a parser bug on a hostile file is a problem, not a
//! crash; sizes, depth, zip ratios, cell counts and time are bounded by [`Limits`].

mod biff;
mod mail;
mod office;
mod pdf;
pub mod text;
mod zipfile;

use crate::Problem;
use std::time::{Duration, Instant};

/// Bounds on what one file may cost.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest file read (bytes).
    pub max_file_bytes: u64,
    /// Archive/attachment nesting depth.
    pub max_depth: usize,
    /// Total bytes unpacked from archives of one file.
    pub max_unpacked_bytes: u64,
    /// Largest uncompressed/compressed ratio of a zip member.
    pub max_ratio: u64,
    /// Members of one archive.
    pub max_entries: usize,
    /// Cells of one file's sheets.
    pub max_cells: u64,
    /// Wall-clock budget of one file.
    pub max_time: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 256 << 20,
            max_depth: 4,
            max_unpacked_bytes: 512 << 20,
            max_ratio: 200,
            max_entries: 10_000,
            max_cells: 5_000_000,
            max_time: Duration::from_secs(60),
        }
    }
}

/// Where a segment sits in its file.
#[derive(Debug, Clone, PartialEq)]
pub enum Place {
    /// Running text (locations are line/column within the segment).
    Text,
    /// A PDF page.
    Page(u32),
    /// A sheet (or `""` for CSV).
    Sheet(String),
}

/// A segment's content.
#[derive(Debug, Clone)]
pub enum Content {
    /// Text.
    Text(String),
    /// Rows of cells.
    Table(Vec<Vec<String>>),
}

/// One piece of a file.
#[derive(Debug, Clone)]
pub struct Segment {
    /// Archive member / attachment path, if inside one.
    pub member: Option<String>,
    /// Where.
    pub place: Place,
    /// What.
    pub content: Content,
}

impl Segment {
    /// Characters of text or number of cells.
    pub fn size(&self) -> usize {
        match &self.content {
            Content::Text(t) => t.len(),
            Content::Table(r) => r.iter().map(|x| x.len()).sum(),
        }
    }
}

/// What came out of a file.
#[derive(Debug, Default)]
pub struct Extracted {
    /// Format of the outer file.
    pub format: String,
    /// Segments in file order.
    pub segments: Vec<Segment>,
    /// Parts that could not be read.
    pub problems: Vec<Problem>,
    /// A limit cut extraction short.
    pub truncated: bool,
}

pub(crate) struct Budget<'a> {
    pub limits: &'a Limits,
    pub started: Instant,
    pub unpacked: u64,
    pub cells: u64,
}

impl Budget<'_> {
    pub fn out_of_time(&self) -> bool {
        self.started.elapsed() > self.limits.max_time
    }
}

/// Extract a file's text and tables.
pub fn extract(name: &str, bytes: &[u8], limits: &Limits) -> Extracted {
    let mut budget = Budget {
        limits,
        started: Instant::now(),
        unpacked: 0,
        cells: 0,
    };
    let mut ex = Extracted::default();
    ex.format = extract_into(name, None, bytes, 0, &mut budget, &mut ex);
    ex
}

/// Sniffed format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Zip container (docx/pptx/xlsx are decided inside).
    Zip,
    /// OLE compound file (xls; doc/ppt are not read).
    Ole,
    /// PDF.
    Pdf,
    /// RFC 5322 mail.
    Mail,
    /// CSV/TSV by extension.
    Csv,
    /// Text of any encoding.
    Text,
    /// Anything else.
    Binary,
}

/// Decide the format from the bytes, with the extension as a tie-breaker.
pub fn sniff(name: &str, b: &[u8]) -> Format {
    let lower = name.to_ascii_lowercase();
    if b.starts_with(b"PK\x03\x04") || b.starts_with(b"PK\x05\x06") {
        return Format::Zip;
    }
    if b.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Format::Ole;
    }
    if b.len() >= 5 && memchr::memmem::find(&b[..b.len().min(1024)], b"%PDF-").is_some() {
        return Format::Pdf;
    }
    if lower.ends_with(".eml") || looks_like_mail(b) {
        return Format::Mail;
    }
    if lower.ends_with(".csv") || lower.ends_with(".tsv") {
        return Format::Csv;
    }
    if text::looks_like_text(b) {
        return Format::Text;
    }
    Format::Binary
}

fn looks_like_mail(b: &[u8]) -> bool {
    let head = &b[..b.len().min(2048)];
    let Ok(s) = std::str::from_utf8(head) else { return false };
    let mut fields = 0;
    for line in s.lines().take(40) {
        if line.is_empty() {
            break;
        }
        let l = line.to_ascii_lowercase();
        if [
            "from:",
            "to:",
            "subject:",
            "date:",
            "message-id:",
            "mime-version:",
            "received:",
            "return-path:",
            "content-type:",
        ]
        .iter()
        .any(|h| l.starts_with(h))
        {
            fields += 1;
        }
    }
    fields >= 3
}

/// Run a third-party parser; a panic becomes an error string.
pub(crate) fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(format!("解析器の異常終了 / parser panicked: {msg}"))
        }
    }
}

pub(crate) fn problem(ex: &mut Extracted, member: Option<&str>, reason: String) {
    ex.problems.push(Problem {
        member: member.map(str::to_string),
        reason,
    });
}

/// Extract `bytes` (named `name`, inside `member` of the outer file) into `ex`; returns the
/// format name.
pub(crate) fn extract_into(
    name: &str,
    member: Option<&str>,
    bytes: &[u8],
    depth: usize,
    budget: &mut Budget,
    ex: &mut Extracted,
) -> String {
    if budget.out_of_time() {
        ex.truncated = true;
        problem(
            ex,
            member,
            format!("時間切れ / time limit ({} s) reached", budget.limits.max_time.as_secs()),
        );
        return "unknown".into();
    }
    let m = member.map(str::to_string);
    match sniff(name, bytes) {
        Format::Zip => zipfile::extract_zip(name, member, bytes, depth, budget, ex),
        Format::Ole => office::extract_xls(member, bytes, budget, ex),
        Format::Pdf => {
            pdf::extract_pdf(member, bytes, budget, ex);
            "pdf".into()
        }
        Format::Mail => {
            mail::extract_mail(member, bytes, depth, budget, ex);
            "eml".into()
        }
        Format::Csv => {
            let (t, enc) = text::decode(bytes);
            let delim = if name.to_ascii_lowercase().ends_with(".tsv") || (t.matches('\t').count() > t.matches(',').count()) {
                b'\t'
            } else {
                b','
            };
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .delimiter(delim)
                .from_reader(t.as_bytes());
            let mut rows = Vec::new();
            for (i, r) in rdr.records().enumerate() {
                match r {
                    Ok(r) => {
                        budget.cells += r.len() as u64;
                        if budget.cells > budget.limits.max_cells {
                            ex.truncated = true;
                            problem(
                                ex,
                                member,
                                format!("セル数の上限 / cell limit {} reached at row {}", budget.limits.max_cells, i + 1),
                            );
                            break;
                        }
                        rows.push(r.iter().map(str::to_string).collect());
                    }
                    Err(e) => {
                        // Keep the raw line as text so nothing is lost.
                        problem(ex, member, format!("CSVの行を読めません / bad CSV row {}: {e}", i + 1));
                    }
                }
            }
            ex.segments.push(Segment {
                member: m,
                place: Place::Sheet(String::new()),
                content: Content::Table(rows),
            });
            format!("csv/{enc}")
        }
        Format::Text => {
            let (t, enc) = text::decode(bytes);
            ex.segments.push(Segment {
                member: m,
                place: Place::Text,
                content: Content::Text(t),
            });
            format!("text/{enc}")
        }
        Format::Binary => {
            problem(ex, member, "未対応の形式(バイナリ)/ unknown binary format".into());
            "unknown".into()
        }
    }
}

/// The bytes themselves as text, when [`extract`] would read them as plain UTF-8 text (no BOM,
/// valid UTF-8, not CSV/mail/PDF/zip …): the scanner then works on them in place instead of a
/// decoded copy. `None` means "go through [`extract`]".
pub(crate) fn plain_utf8<'a>(name: &str, bytes: &'a [u8], limits: &Limits) -> Option<&'a str> {
    // A zero time limit is already exceeded when extraction starts: leave that to `extract`.
    if limits.max_time.is_zero() || sniff(name, bytes) != Format::Text || encoding_rs::Encoding::for_bom(bytes).is_some() {
        return None;
    }
    simdutf8::basic::from_utf8(bytes).ok()
}
