//! Japanese personal-data scanner (個人情報検出, issue 7): where is personal data before it
//! leaves — on a share, in outgoing mail, in a PDF about to be published.
//!
//! What it does:
//! - extracts text and tables from plain text (UTF-8, CP932, EUC-JP, UTF-16, auto-detected),
//!   CSV/TSV, xlsx/xls, docx/pptx, PDF text layers, .eml with attachments and zip archives
//!   (recursive, zip-bomb limits) — [`extract`]; unreadable parts are reported, never skipped;
//! - normalises (NFKC, every dash and space variant) with a map back to the original offsets
//!   ([`normalize`]);
//! - finds the kinds of [`Kind`]: check-digit IDs (個人番号, 法人番号, 住民票コード, cards),
//!   labelled IDs (基礎年金番号, 運転免許証, 旅券, 被保険者証, 口座番号), phones, postal codes,
//!   e-mail, 和暦 and Western birth dates, addresses (都道府県 + 市区町村 from the bundled
//!   全国地方公共団体コード list) and names (IPA dictionary 人名 entries), each with a confidence
//!   raised by labels (個人番号, 氏名 …) and lowered by decoys (注文番号, 課長, 市役所 …) —
//!   [`detect`];
//! - classifies whole table columns (氏名, 住所, 生年月日 …) so a 397-name list is one strong
//!   finding with a count ([`table`]);
//! - keeps an incremental share-scan state without raw values ([`share`]).
//!
//! What it does not do: morphological analysis, OCR of scanned PDFs, legacy .doc/.ppt, any
//! network I/O, storing or alerting (the server does that with what [`share`] returns).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod checkdigit;
pub mod detect;
pub mod extract;
pub mod lexicon;
pub mod normalize;
pub mod share;
pub mod table;

use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

pub use extract::{Content, Limits, Place, Segment};

/// The kinds of personal data found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// 個人番号 (12 digits, check digit).
    MyNumber,
    /// 法人番号 (13 digits, leading check digit).
    CorporateNumber,
    /// 住民票コード (11 digits, modulus 11).
    JuminhyoCode,
    /// 基礎年金番号 (4-6 digits).
    BasicPensionNumber,
    /// 運転免許証番号 (12 digits, labelled).
    DriversLicense,
    /// 旅券番号 (2 letters + 7 digits).
    Passport,
    /// 被保険者証の記号・番号 (labelled).
    HealthInsurance,
    /// 口座番号 (labelled).
    BankAccount,
    /// Payment card (Luhn + IIN).
    CreditCard,
    /// Phone number.
    Phone,
    /// E-mail address.
    Email,
    /// 郵便番号.
    PostalCode,
    /// 住所.
    Address,
    /// 氏名.
    PersonName,
    /// 生年月日.
    BirthDate,
}

impl Kind {
    /// Every kind, in output order.
    pub const ALL: [Kind; 15] = [
        Kind::MyNumber,
        Kind::CorporateNumber,
        Kind::JuminhyoCode,
        Kind::BasicPensionNumber,
        Kind::DriversLicense,
        Kind::Passport,
        Kind::HealthInsurance,
        Kind::BankAccount,
        Kind::CreditCard,
        Kind::Phone,
        Kind::Email,
        Kind::PostalCode,
        Kind::Address,
        Kind::PersonName,
        Kind::BirthDate,
    ];

    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::MyNumber => "my_number",
            Kind::CorporateNumber => "corporate_number",
            Kind::JuminhyoCode => "juminhyo_code",
            Kind::BasicPensionNumber => "basic_pension_number",
            Kind::DriversLicense => "drivers_license",
            Kind::Passport => "passport",
            Kind::HealthInsurance => "health_insurance",
            Kind::BankAccount => "bank_account",
            Kind::CreditCard => "credit_card",
            Kind::Phone => "phone",
            Kind::Email => "email",
            Kind::PostalCode => "postal_code",
            Kind::Address => "address",
            Kind::PersonName => "person_name",
            Kind::BirthDate => "birth_date",
        }
    }

    /// Japanese label for officers.
    pub fn ja(self) -> &'static str {
        match self {
            Kind::MyNumber => "個人番号",
            Kind::CorporateNumber => "法人番号",
            Kind::JuminhyoCode => "住民票コード",
            Kind::BasicPensionNumber => "基礎年金番号",
            Kind::DriversLicense => "運転免許証番号",
            Kind::Passport => "旅券番号",
            Kind::HealthInsurance => "被保険者証記号番号",
            Kind::BankAccount => "口座番号",
            Kind::CreditCard => "クレジットカード番号",
            Kind::Phone => "電話番号",
            Kind::Email => "メールアドレス",
            Kind::PostalCode => "郵便番号",
            Kind::Address => "住所",
            Kind::PersonName => "氏名",
            Kind::BirthDate => "生年月日",
        }
    }

    /// Parse the snake_case name.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// IDs with a check digit (the F1 ≥ 0.98 group).
    pub fn has_check_digit(self) -> bool {
        matches!(self, Kind::MyNumber | Kind::CorporateNumber | Kind::JuminhyoCode | Kind::CreditCard)
    }
}

/// Where a finding is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Location {
    /// Text: 1-based line and column (characters).
    Line {
        /// Line (1-based).
        line: usize,
        /// Column in characters (1-based).
        column: usize,
    },
    /// Spreadsheet or CSV cell (A1 notation) or a range for a whole column.
    Cell {
        /// Sheet name (`""` for CSV).
        sheet: String,
        /// `B7` or `B2:B398`.
        cell: String,
    },
    /// PDF page (1-based).
    Page {
        /// Page number.
        page: u32,
    },
}

/// One finding.
///
/// Its value and the text either side of it are one slice of a buffer that the findings of
/// one scan share, about a thousand to a buffer ([`Batch`]): dense records give a finding
/// every ~100 bytes, and five strings per finding (value, a one-value list, two snippets)
/// were, with their page faults, about half the time of such a scan; one allocation per
/// finding was still ~8 % of it.
#[derive(Clone)]
pub struct Finding {
    /// What it is.
    pub kind: Kind,
    /// Where.
    pub location: Location,
    /// 0..1.
    pub confidence: f32,
    /// Values this finding stands for (1, or the matching cells of a classified column).
    pub count: usize,
    /// Archive member / attachment path inside the file (`inner/list.csv`), if any.
    pub member: Option<String>,
    /// `before`, the value and `after`, one after the other, are `buf[span.0..span.1]`.
    /// `None` only while its batch is being filled (see [`Batch`]).
    buf: Option<Arc<String>>,
    span: (u32, u32),
    /// Where the value is in that text (its start and end, from the span's start).
    value_at: (u32, u32),
    /// All values of a classified column (for evaluation; never serialised); empty when the
    /// finding stands for its one value. A boxed slice, not a `Vec`: it keeps a finding at
    /// 128 bytes, which is moved (into the result) by inline stores instead of a `memcpy` call.
    column: Box<[String]>,
}

impl Finding {
    /// A finding of one value, with up to ~20 characters of text either side of it.
    pub fn new(kind: Kind, value: &str, location: Location, confidence: f32, before: &str, after: &str) -> Finding {
        let mut text = String::with_capacity(before.len() + value.len() + after.len());
        text.push_str(before);
        text.push_str(value);
        text.push_str(after);
        Finding::from_parts(kind, text, (before.len(), before.len() + value.len()), location, confidence)
    }

    /// A finding whose `text` is already `before + value + after`, the value at `value_at`.
    fn from_parts(kind: Kind, text: String, value_at: (usize, usize), location: Location, confidence: f32) -> Finding {
        // Offsets fit in u32: a finding's text is a value and two ~20-character snippets.
        let at = |i: usize| u32::try_from(i).expect("finding text under 4 GiB");
        let mut f = Finding::in_batch(kind, (0, at(text.len())), (at(value_at.0), at(value_at.1)), location, confidence, None);
        f.buf = Some(Arc::new(text));
        f
    }

    /// A finding whose text is `span` of its batch's buffer (set when the batch is done), the
    /// value at `value_at` within it.
    #[inline(always)]
    fn in_batch(kind: Kind, span: (u32, u32), value_at: (u32, u32), location: Location, confidence: f32, member: Option<&str>) -> Finding {
        Finding {
            kind,
            location,
            confidence,
            count: 1,
            member: member.map(str::to_string),
            buf: None,
            span,
            value_at,
            column: Box::default(),
        }
    }

    /// `before`, the value and `after`, one after the other.
    fn text(&self) -> &str {
        let buf = self.buf.as_deref().map_or("", String::as_str);
        &buf[self.span.0 as usize..self.span.1 as usize]
    }

    /// A classified column standing for all its `values` (the first is the finding's value).
    pub fn with_column(mut self, values: Vec<String>) -> Finding {
        self.count = values.len();
        self.column = values.into_boxed_slice();
        self
    }

    /// The value as found (normalised). Print [`Finding::masked`] unless values are wanted.
    pub fn value(&self) -> &str {
        &self.text()[self.value_at.0 as usize..self.value_at.1 as usize]
    }

    /// Up to ~20 characters of text before the value (a column's header for a classified
    /// column), newlines as spaces.
    pub fn before(&self) -> &str {
        &self.text()[..self.value_at.0 as usize]
    }

    /// Up to ~20 characters of text after the value, newlines as spaces.
    pub fn after(&self) -> &str {
        &self.text()[self.value_at.1 as usize..]
    }

    /// Every value this finding stands for: the matching cells of a classified column, or its
    /// one value.
    pub fn values(&self) -> Vec<&str> {
        if self.column.is_empty() { vec![self.value()] } else { self.column.iter().map(String::as_str).collect() }
    }

    /// The value with most characters masked: digits and letters become `*` except the last
    /// two, names keep their first character, e-mail keeps the first letter and the domain.
    pub fn masked(&self) -> String {
        mask(self.kind, self.value())
    }

    /// Context with the value masked (or shown).
    pub fn context(&self, show_values: bool) -> String {
        if show_values {
            return format!("{}[{}]{}", self.before(), self.value(), self.after());
        }
        format!("{}[{}]{}", self.before(), self.masked(), self.after())
    }
}

/// Equal findings have equal fields and equal text, whichever buffers hold it.
impl PartialEq for Finding {
    fn eq(&self, o: &Finding) -> bool {
        self.kind == o.kind
            && self.location == o.location
            && self.confidence == o.confidence
            && self.count == o.count
            && self.member == o.member
            && self.value_at == o.value_at
            && self.text() == o.text()
            && self.column == o.column
    }
}

/// The fields, and the value and snippets rather than the buffer they are cut from.
impl std::fmt::Debug for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Finding")
            .field("kind", &self.kind)
            .field("location", &self.location)
            .field("confidence", &self.confidence)
            .field("count", &self.count)
            .field("member", &self.member)
            .field("before", &self.before())
            .field("value", &self.value())
            .field("after", &self.after())
            .field("column", &self.column)
            .finish()
    }
}

/// Findings being made in one scan, whose texts go into one shared buffer until
/// [`Batch::FINDINGS`] of them are there; then the buffer is handed to them (an `Arc`), and a
/// new one is started, sized by the last.
pub(crate) struct Batch {
    buf: String,
    /// Where in the output vector the batch's findings start.
    first: usize,
}

impl Batch {
    /// Findings per buffer: one allocation for ~1,000 findings instead of one each, the
    /// findings still in the cache when their buffer is handed to them, and a buffer of
    /// ~150 KB (what one kept finding keeps alive).
    const FINDINGS: usize = 1024;

    /// A batch for findings pushed to `out` from now on.
    pub(crate) fn new(out: &[Finding]) -> Batch {
        Batch {
            buf: String::new(),
            first: out.len(),
        }
    }

    /// A finding whose text [`snippet_into`] put on this batch's buffer was pushed to `out`.
    #[inline(always)]
    pub(crate) fn pushed(&mut self, out: &mut [Finding]) {
        if out.len() - self.first >= Batch::FINDINGS {
            self.finish(out);
        }
    }

    /// Hand the buffer to the findings made on it; the next ones start a new buffer.
    pub(crate) fn finish(&mut self, out: &mut [Finding]) {
        if out.len() > self.first {
            // Sized by this one (about as many bytes per finding), with an eighth to spare.
            let next = String::with_capacity(self.buf.len() + self.buf.len() / 8);
            let buf = Arc::new(std::mem::replace(&mut self.buf, next));
            for f in &mut out[self.first..] {
                f.buf = Some(Arc::clone(&buf));
            }
        }
        self.first = out.len();
    }
}

/// The fields of JSON output, as before the value and snippets shared one allocation.
impl Serialize for Finding {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Finding", 8)?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("value", self.value())?;
        st.serialize_field("location", &self.location)?;
        st.serialize_field("confidence", &self.confidence)?;
        st.serialize_field("before", self.before())?;
        st.serialize_field("after", self.after())?;
        st.serialize_field("count", &self.count)?;
        st.serialize_field("member", &self.member)?;
        st.end()
    }
}

/// Mask a value of `kind`.
pub fn mask(kind: Kind, v: &str) -> String {
    match kind {
        Kind::Email => {
            let (l, d) = v.split_once('@').unwrap_or((v, ""));
            let first: String = l.chars().take(1).collect();
            format!("{first}***@{d}")
        }
        Kind::PersonName | Kind::Address => {
            let keep = if kind == Kind::Address { 6 } else { 1 };
            v.chars()
                .enumerate()
                .map(|(i, c)| if i < keep || c == ' ' { c } else { '*' })
                .collect()
        }
        Kind::BirthDate => {
            let y: String = v.chars().take(4).collect();
            format!("{y}-**-**")
        }
        _ => {
            let n = v.chars().filter(|c| c.is_ascii_alphanumeric()).count();
            let mut seen = 0;
            v.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        seen += 1;
                        if seen + 2 > n { c } else { '*' }
                    } else {
                        c
                    }
                })
                .collect()
        }
    }
}

/// Scan options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Extraction limits (sizes, depth, zip-bomb ratio, cells, time).
    pub limits: Limits,
    /// Findings below this confidence are dropped from the report (default 0.1; the CLI
    /// filters further with `--min-confidence`).
    pub keep_above: f32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            limits: Limits::default(),
            keep_above: 0.1,
        }
    }
}

/// A part of a file that could not be read, with the reason.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// Archive member or attachment, if the problem is inside one.
    pub member: Option<String>,
    /// Why (Japanese / English).
    pub reason: String,
}

/// Everything about one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// Path or name given.
    pub path: String,
    /// Detected format (`text/utf-8`, `csv`, `xlsx`, `pdf`, `zip` …), or `unknown`.
    pub format: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Findings at or above [`Options::keep_above`], in file order.
    pub findings: Vec<Finding>,
    /// Unreadable parts (a whole file that could not be read has one problem and no findings).
    pub problems: Vec<Problem>,
    /// Wall-clock time spent (ms).
    pub elapsed_ms: u64,
    /// Text characters (or cells) examined.
    pub examined: u64,
    /// True if a limit cut the scan short (see problems).
    pub truncated: bool,
}

impl FileReport {
    /// Highest confidence found, 0 if none.
    pub fn max_confidence(&self) -> f32 {
        self.findings.iter().map(|f| f.confidence).fold(0.0, f32::max)
    }
}

/// Scan one file's bytes.
pub fn scan_bytes(name: &str, bytes: &[u8], opts: &Options) -> FileReport {
    let t0 = Instant::now();
    // Plain UTF-8 text (the common case on a share) is scanned in place: no decoded copy.
    if let Some(t) = extract::plain_utf8(name, bytes, &opts.limits) {
        let mut findings = Vec::new();
        scan_str(t, &Place::Text, None, opts, &mut findings);
        return FileReport {
            path: name.to_string(),
            format: "text/UTF-8".into(),
            bytes: bytes.len() as u64,
            findings,
            problems: Vec::new(),
            elapsed_ms: t0.elapsed().as_millis() as u64,
            examined: t.len() as u64,
            truncated: false,
        };
    }
    let ex = extract::extract(name, bytes, &opts.limits);
    let mut findings = Vec::new();
    let mut examined = 0u64;
    for seg in &ex.segments {
        examined += seg.size() as u64;
        scan_segment(seg, opts, &mut findings);
    }
    FileReport {
        path: name.to_string(),
        format: ex.format,
        bytes: bytes.len() as u64,
        findings,
        problems: ex.problems,
        elapsed_ms: t0.elapsed().as_millis() as u64,
        examined,
        truncated: ex.truncated,
    }
}

/// Scan one file from disk (refuses files over the size limit without reading them).
///
/// The file is read into a buffer the calling thread keeps for its next file, and the
/// normalised text into another (each kept up to 64 MiB, larger ones freed after their file):
/// scanning file after file then maps no new memory per file.
pub fn scan_path(path: &Path, opts: &Options) -> FileReport {
    let name = path.display().to_string();
    let fail = |reason: String, bytes: u64| FileReport {
        path: name.clone(),
        format: "unknown".into(),
        bytes,
        findings: Vec::new(),
        problems: vec![Problem { member: None, reason }],
        elapsed_ms: 0,
        examined: 0,
        truncated: false,
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return fail(format!("読めません / cannot read: {e}"), 0),
    };
    if meta.len() > opts.limits.max_file_bytes {
        return fail(
            format!(
                "大きすぎます / too large: {} bytes > limit {}",
                meta.len(),
                opts.limits.max_file_bytes
            ),
            meta.len(),
        );
    }
    // Into the thread's kept buffer (see KEEP_BUFFER_BYTES), not a fresh Vec per file.
    let mut b = take_buffer(&READ_BUF);
    let read = std::fs::File::open(path).and_then(|mut f| {
        use std::io::Read;
        b.reserve(meta.len() as usize);
        f.read_to_end(&mut b)
    });
    let r = match read {
        Ok(_) => scan_bytes(&name, &b, opts),
        Err(e) => fail(format!("読めません / cannot read: {e}"), meta.len()),
    };
    keep_buffer(&READ_BUF, b);
    r
}

/// Scan plain text (already decoded); findings located by line/column.
pub fn scan_text(text: &str, opts: &Options) -> Vec<Finding> {
    let mut out = Vec::new();
    scan_str(text, &Place::Text, None, opts, &mut out);
    out
}

/// Scan one extracted segment.
pub fn scan_segment(seg: &Segment, opts: &Options, out: &mut Vec<Finding>) {
    match &seg.content {
        Content::Text(t) => scan_str(t, &seg.place, seg.member.as_deref(), opts, out),
        Content::Table(rows) => {
            let sheet = match &seg.place {
                Place::Sheet(s) => s.clone(),
                _ => String::new(),
            };
            for mut f in table::scan_table(rows, &sheet) {
                if f.confidence >= opts.keep_above {
                    f.member = seg.member.clone();
                    out.push(f);
                }
            }
        }
    }
}

/// Scan one text (of a segment at `place`, inside `member`).
fn scan_str(t: &str, place: &Place, member: Option<&str>, opts: &Options, out: &mut Vec<Finding>) {
    let mut buf = take_buffer(&NORM_BUF);
    let mut map = take_buffer(&MAP_BUF);
    scan_normalized(t, &normalize::normalize_into(t, &mut buf, &mut map), place, member, opts, out);
    keep_buffer(&NORM_BUF, buf);
    keep_buffer(&MAP_BUF, map);
}

/// Buffers kept per thread between files up to this size each: the normalised text, its
/// offset map, the candidates, detection's lists ([`detect::detect_into`]) and the file read
/// by [`scan_path`]. A fresh buffer of tens of MB costs the kernel one page fault per
/// 4 KiB (about a third of the CPU time of a 33 MB scan, measured); a share scan or the milter
/// goes from file to file on the same threads. Larger buffers are dropped after their file.
const KEEP_BUFFER_BYTES: usize = 64 << 20;

thread_local! {
    static NORM_BUF: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    static READ_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    static MAP_BUF: std::cell::RefCell<Vec<(u32, u32)>> = const { std::cell::RefCell::new(Vec::new()) };
    static CAND_BUF: std::cell::RefCell<Vec<detect::Candidate>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The thread's kept buffer (empty if none, or if it is in use further up the stack).
pub(crate) fn take_buffer<T: Default>(key: &'static std::thread::LocalKey<std::cell::RefCell<T>>) -> T {
    key.with(|b| b.try_borrow_mut().map(|mut b| std::mem::take(&mut *b)).unwrap_or_default())
}

/// Give a buffer back for the next file, unless it is too large to keep.
pub(crate) fn keep_buffer<T: Buffer>(key: &'static std::thread::LocalKey<std::cell::RefCell<T>>, mut buf: T) {
    if buf.capacity_bytes() <= KEEP_BUFFER_BYTES {
        buf.clear_contents();
        key.with(|b| {
            if let Ok(mut b) = b.try_borrow_mut() {
                *b = buf;
            }
        });
    }
}

/// A buffer kept per thread: how large it is, and how to empty it for the next file.
pub(crate) trait Buffer {
    fn capacity_bytes(&self) -> usize;
    fn clear_contents(&mut self);
}

impl Buffer for String {
    fn capacity_bytes(&self) -> usize {
        self.capacity()
    }
    fn clear_contents(&mut self) {
        self.clear();
    }
}

impl<T> Buffer for Vec<T> {
    fn capacity_bytes(&self) -> usize {
        self.capacity() * size_of::<T>()
    }
    fn clear_contents(&mut self) {
        self.clear();
    }
}

/// Findings of `t` from its normalised form `n`.
fn scan_normalized(t: &str, n: &normalize::Normalized<'_>, place: &Place, member: Option<&str>, opts: &Options, out: &mut Vec<Finding>) {
    let mut cands = take_buffer(&CAND_BUF);
    detect::detect_into(&n.text, None, &mut cands);
    let mut lines = LineIndex::new(t);
    // Reserved at once: dense records give a finding every ~100 bytes, and growing a vector
    // of findings by doubling copied it over and over.
    out.reserve(cands.len());
    // Candidates come in text order: one cursor through the offset map for all of them.
    let mut cursor = 0;
    let mut batch = Batch::new(out);
    for c in &cands {
        if c.confidence < opts.keep_above {
            continue;
        }
        let (s, e) = n.orig_range_at(c.start, c.end, &mut cursor);
        // A candidate may start or end inside the expansion of one original character (㍛ is
        // "21点" after NFKC, and a number can end after its "21"); the map then points inside
        // that character. Widen to whole characters so slicing the original never panics.
        let s = t.floor_char_boundary(s.min(t.len()));
        let e = t.ceil_char_boundary(e.min(t.len())).max(s);
        // Made where it lands in `out` (the iterator's item is written there after the
        // capacity check), not returned and moved twice: perf put ~2.5 % of a dense scan on
        // those moves (16-byte loads over 4- and 8-byte stores), though on its own this was
        // not measurably faster. The snippet walks come first: `lines` uses their newlines.
        let buf = &mut batch.buf;
        out.extend(std::iter::once_with(|| {
            let mut before = Controls::new();
            let mut after = Controls::new();
            let bounds = snippet_bounds(t, s, e, &mut before, &mut after);
            let location = match place {
                Place::Page(p) => Location::Page { page: *p },
                Place::Sheet(sheet) => Location::Cell {
                    sheet: sheet.clone(),
                    cell: String::new(),
                },
                Place::Text => {
                    let (line, column) = lines.locate_near(s, bounds.0, &before);
                    lines.note_after(e, bounds.1, &after);
                    Location::Line { line, column }
                }
            };
            let (span, value_at) = spaced_into(buf, t, s, e, &c.value, bounds, &before, &after);
            Finding::in_batch(c.kind, span, value_at, location, c.confidence, member)
        }));
        batch.pushed(out);
    }
    batch.finish(out);
    keep_buffer(&CAND_BUF, cands);
}

/// A finding of `value` at `s..e` of `t`, its snippets cut from `t` straight into the
/// finding's one allocation.
#[allow(clippy::too_many_arguments)]
pub(crate) fn finding_in(t: &str, s: usize, e: usize, kind: Kind, value: &str, location: Location, confidence: f32, member: Option<&str>) -> Finding {
    let mut text = String::new();
    let mut f = finding_into(&mut text, t, s, e, kind, value, location, confidence, member);
    f.buf = Some(Arc::new(text));
    f
}

/// A finding of `value` at `s..e` of `t`, its snippets cut from `t` straight onto the end of
/// `text` (a [`Batch`]'s buffer, which the finding is to get).
#[allow(clippy::too_many_arguments)]
fn finding_into(text: &mut String, t: &str, s: usize, e: usize, kind: Kind, value: &str, location: Location, confidence: f32, member: Option<&str>) -> Finding {
    let (span, value_at) = snippet_into(text, t, s, e, value);
    Finding::in_batch(kind, span, value_at, location, confidence, member)
}

/// The snippets either side of `s..e` of `t` with `value` between them, onto the end of
/// `text`: where they are there (a finding's `span`) and where the value is in them.
#[inline(always)]
fn snippet_into(text: &mut String, t: &str, s: usize, e: usize, value: &str) -> ((u32, u32), (u32, u32)) {
    let mut before = Controls::new();
    let mut after = Controls::new();
    let bounds = snippet_bounds(t, s, e, &mut before, &mut after);
    spaced_into(text, t, s, e, value, bounds, &before, &after)
}

/// [`snippet_into`] with the snippets' bounds and controls found ([`snippet_bounds`]).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn spaced_into(text: &mut String, t: &str, s: usize, e: usize, value: &str, (from, to): (usize, usize), before: &Controls, after: &Controls) -> ((u32, u32), (u32, u32)) {
    let at = text.len();
    text.reserve((s - from) + value.len() + (to - e));
    // The snippets with their controls as spaces (same length: the value lands at `s - from`).
    let mut last = from;
    // `before` was met walking back from `s`, word by word and byte by byte.
    for &dd in before.dist[..before.n].iter().rev() {
        push_spaced(text, t, &mut last, s - dd as usize);
    }
    text.push_str(&t[last..s]);
    text.push_str(value);
    last = e;
    for &dd in &after.dist[..after.n] {
        push_spaced(text, t, &mut last, e + dd as usize);
    }
    text.push_str(&t[last..to]);
    let v0 = s - from;
    // Offsets fit in u32: a batch's buffer is ~1,000 values with ~20-character snippets.
    let u = |i: usize| u32::try_from(i).expect("batch text under 4 GiB");
    ((u(at), u(text.len())), (u(v0), u(v0 + value.len())))
}

/// Where a snippet side has `\t`, `\n` or `\r` (each a character, so at most 20), as
/// distances from the value (a side is at most 80 bytes), in the order the walk met them:
/// small enough to set up per finding without a `memset`.
#[derive(Clone, Copy)]
struct Controls {
    dist: [u8; 20],
    n: usize,
}

impl Controls {
    fn new() -> Self {
        Controls { dist: [0; 20], n: 0 }
    }

    /// Note the controls among the bytes of the word at `at` flagged in `m` ([`below_0e`]),
    /// from the last byte to the first (the order of the walk back from the value).
    #[inline(always)]
    fn word_back(&mut self, b: &[u8], at: usize, mut m: u64, s: usize) {
        while m != 0 {
            let top = 63 - m.leading_zeros();
            let p = at + top as usize / 8;
            self.byte(b, p, s - p);
            m ^= 1 << top;
        }
    }

    /// Note the controls among the bytes of the word at `at` flagged in `m`, first to last.
    #[inline(always)]
    fn word_on(&mut self, b: &[u8], at: usize, mut m: u64, e: usize) {
        while m != 0 {
            let p = at + m.trailing_zeros() as usize / 8;
            self.byte(b, p, p - e);
            m &= m - 1;
        }
    }

    /// Note the byte at `p` if it is a control, `d` from the value.
    #[inline(always)]
    fn byte(&mut self, b: &[u8], p: usize, d: usize) {
        if matches!(b[p], b'\n' | b'\r' | b'\t') {
            self.dist[self.n] = d as u8;
            self.n += 1;
        }
    }
}

/// Push `t[*last..p]` and a space for the control at `p`.
#[inline(always)]
fn push_spaced(v: &mut String, t: &str, last: &mut usize, p: usize) {
    v.push_str(&t[*last..p]);
    v.push(' ');
    *last = p + 1;
}

/// A fixed-seed xorshift for the randomised tests of every module: `rnd(n)` in `0..n`.
#[cfg(test)]
pub(crate) fn xorshift(mut seed: u64) -> impl FnMut(u64) -> usize {
    move |n| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n) as usize
    }
}

/// Up to 20 characters either side, newlines as spaces, as two strings, cut as
/// [`finding_in`] cuts them (the tests compare it with the snippet as first written).
#[cfg(test)]
fn snippet(t: &str, s: usize, e: usize, value: &str) -> (String, String) {
    let f = finding_in(t, s, e, Kind::Phone, value, Location::Page { page: 1 }, 1.0, None);
    assert_eq!(f.value(), value);
    (f.before().to_string(), f.after().to_string())
}

/// Where the snippets either side of `s..e` start and end: 20 characters before `s` and 20
/// after `e` (or the text's ends), by byte offsets: it runs once per finding, and dense
/// records have many. The words it reads are also tested for `\t`, `\n` and `\r` (8 bytes
/// at a time by an exact mask), noted in `before` and `after`: the snippets are then copied
/// without a second pass over their bytes.
fn snippet_bounds(t: &str, s: usize, e: usize, before: &mut Controls, after: &mut Controls) -> (usize, usize) {
    let b = t.as_bytes();
    // Characters counted by their lead bytes (UTF-8 continuation bytes are 10xxxxxx): the
    // start of the 20th character before `s` (or 0), the start of the 21st from `e` (or the
    // end). Eight bytes at a time; in the word where that character starts, its lead byte
    // is picked from the word's lead-byte mask. Byte by byte only within 8 bytes of an end.
    let mut from = s;
    let mut n = 0;
    for c in b[..s].rchunks_exact(8) {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        let lead = lead_mask(w);
        let k = count_bytes(lead);
        if n + k >= 20 {
            // The (20 - n)th lead byte from the word's end: drop the 19 - n above it.
            let mut l = lead;
            for _ in n..19 {
                l ^= 1 << (63 - l.leading_zeros());
            }
            let top = 63 - l.leading_zeros();
            let m = below_0e(w) & (!0u64 << (top - 7));
            from -= 8;
            if m != 0 {
                before.word_back(b, from, m, s);
            }
            from += top as usize / 8;
            n = 20;
            break;
        }
        n += k;
        from -= 8;
        let m = below_0e(w);
        if m != 0 {
            before.word_back(b, from, m, s);
        }
    }
    while from > 0 && n < 20 {
        from -= 1;
        n += (b[from] & 0xC0 != 0x80) as usize;
        before.byte(b, from, s - from);
    }
    let mut to = e;
    let mut n = 0;
    for c in b[e..].chunks_exact(8) {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        let lead = lead_mask(w);
        let k = count_bytes(lead);
        if n + k > 20 {
            // The (21 - n)th lead byte of the word: drop the 20 - n below it.
            let mut l = lead;
            for _ in n..20 {
                l &= l - 1;
            }
            let j = l.trailing_zeros() / 8;
            let m = below_0e(w) & ((1u64 << (8 * j)) - 1);
            if m != 0 {
                after.word_on(b, to, m, e);
            }
            return (from, to + j as usize);
        }
        n += k;
        let m = below_0e(w);
        if m != 0 {
            after.word_on(b, to, m, e);
        }
        to += 8;
    }
    while to < b.len() {
        if b[to] & 0xC0 != 0x80 {
            if n == 20 {
                break;
            }
            n += 1;
        }
        after.byte(b, to, to - e);
        to += 1;
    }
    (from, to)
}

/// The high bit of each byte of `w` that starts a UTF-8 character (is not 10xxxxxx).
#[inline(always)]
fn lead_mask(w: u64) -> u64 {
    // Continuation: bit 7 set and bit 6 (shifted to bit 7) clear.
    !(w & !(w << 1)) & 0x8080_8080_8080_8080
}

/// How many bytes a mask of high bits flags, by one multiply (the sum of the eight 0/1 bytes
/// lands in the top byte): without a target CPU, `count_ones` is a dozen instructions.
#[inline(always)]
fn count_bytes(m: u64) -> usize {
    (((m >> 7).wrapping_mul(0x0101_0101_0101_0101)) >> 56) as usize
}

/// The high bit of each byte of `w` below 0x0E (`\t`, `\n` and `\r` are), exactly: for a
/// byte under 0x80, adding 0x72 sets its high bit iff it is at least 0x0E, without a carry.
#[inline(always)]
fn below_0e(w: u64) -> u64 {
    const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    !((w & LO7).wrapping_add(0x7272_7272_7272_7272) | w) & 0x8080_8080_8080_8080
}

/// Byte offset → (line, column) with a cursor (offsets asked in ascending order are O(n)).
///
/// Findings are ~100 bytes apart in dense records, and the snippet walks either side of each
/// ([`snippet_bounds`]) have already met the newlines of most of the text between them: the
/// newlines from the previous offset on are taken from the walk after the previous value
/// ([`LineIndex::note_after`]) and the walk before this one ([`LineIndex::locate_near`]), and
/// only the rest (the previous value, and any text neither walk reached) is searched. A
/// `memrchr`, a `memchr` count and a character count per finding were ~4 % of a dense scan.
struct LineIndex<'a> {
    text: &'a str,
    line: usize,
    line_start: usize,
    pos: usize,
    /// Characters from `line_start` to `pos`.
    chars: usize,
    /// The controls in `after_at..after_to` (distances from `after_at`), from the last walk
    /// after a value: facts about the text, whatever `pos` is.
    after_at: usize,
    after_to: usize,
    after: Controls,
}

impl<'a> LineIndex<'a> {
    fn new(text: &'a str) -> Self {
        LineIndex {
            text,
            line: 1,
            line_start: 0,
            pos: 0,
            chars: 0,
            after_at: 0,
            after_to: 0,
            after: Controls::new(),
        }
    }

    /// (line, column) of `off`.
    #[cfg(test)]
    fn locate(&mut self, off: usize) -> (usize, usize) {
        self.locate_near(off, off, &Controls::new())
    }

    /// Note that `after` holds the controls in `at..to` (distances from `at`).
    #[inline(always)]
    fn note_after(&mut self, at: usize, to: usize, after: &Controls) {
        (self.after_at, self.after_to, self.after) = (at, to, *after);
    }

    /// (line, column) of `off`, given that `before` holds the controls in `from..off`
    /// (distances back from `off`).
    #[inline(always)]
    fn locate_near(&mut self, off: usize, from: usize, before: &Controls) -> (usize, usize) {
        if off < self.pos {
            (self.line, self.line_start, self.pos, self.chars) = (1, 0, 0, 0);
        }
        let b = self.text.as_bytes();
        // Newlines in pos..off, and the last of them, piece by piece.
        let mut count = 0;
        let mut last = None;
        let mut cur = self.pos;
        while cur < off {
            let (n, l, next) = if cur >= from {
                // The walk before `off` (distances from `off`, nearest first).
                let mut n = 0;
                let mut l = None;
                for &d in &before.dist[..before.n] {
                    let p = off - d as usize;
                    if p >= cur && b[p] == b'\n' {
                        n += 1;
                        l = l.or(Some(p));
                    }
                }
                (n, l, off)
            } else if cur >= self.after_at && cur < self.after_to {
                // The walk after the previous value, up to where the walk before `off` starts.
                let end = self.after_to.min(from);
                let mut n = 0;
                let mut l = None;
                for &d in &self.after.dist[..self.after.n] {
                    let p = self.after_at + d as usize;
                    if p >= cur && p < end && b[p] == b'\n' {
                        n += 1;
                        l = Some(p);
                    }
                }
                (n, l, end)
            } else {
                // Text neither walk met, up to where one of them starts.
                let end = if self.after_at > cur { self.after_at.min(from) } else { from };
                let (n, l) = newlines(&b[cur..end]);
                (n, l.map(|l| cur + l), end)
            };
            count += n;
            last = l.or(last);
            cur = next;
        }
        if let Some(l) = last {
            self.line += count;
            self.line_start = l + 1;
            self.chars = count_chars(&b[self.line_start..off]);
        } else {
            self.chars += count_chars(&b[self.pos..off]);
        }
        self.pos = off;
        (self.line, self.chars + 1)
    }
}

/// How many `\n` are in `b`, and where the last is: word by word for the short stretches
/// between snippets, `memchr` for long ones.
#[inline(always)]
fn newlines(b: &[u8]) -> (usize, Option<usize>) {
    if b.len() > 64 {
        return match memchr::memrchr(b'\n', b) {
            Some(l) => (1 + memchr::memchr_iter(b'\n', &b[..l]).count(), Some(l)),
            None => (0, None),
        };
    }
    const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let mut n = 0;
    let mut last = None;
    let mut words = b.chunks_exact(8);
    for (i, c) in (&mut words).enumerate() {
        // Bytes equal to `\n` become 0; a zero byte is the one whose low seven bits plus 0x7f
        // do not carry into its high bit and whose high bit is clear (exact, no false hits).
        let z = u64::from_le_bytes(c.try_into().expect("8 bytes")) ^ 0x0a0a_0a0a_0a0a_0a0a;
        let m = !(((z & LO7) + LO7) | z) & 0x8080_8080_8080_8080;
        if m != 0 {
            n += count_bytes(m);
            last = Some(8 * i + (63 - m.leading_zeros() as usize) / 8);
        }
    }
    let tail = b.len() - words.remainder().len();
    for (i, &x) in words.remainder().iter().enumerate() {
        if x == b'\n' {
            n += 1;
            last = Some(tail + i);
        }
    }
    (n, last)
}

/// Characters in `b` (UTF-8), by their lead bytes, 8 bytes at a time.
fn count_chars(b: &[u8]) -> usize {
    let mut words = b.chunks_exact(8);
    let mut n = 0;
    for c in &mut words {
        n += count_bytes(lead_mask(u64::from_le_bytes(c.try_into().expect("8 bytes"))));
    }
    n + words.remainder().iter().filter(|&&x| x & 0xC0 != 0x80).count()
}

#[cfg(test)]
mod tests {
    /// The snippet as it was first written (chars and `str::replace`), for comparison.
    fn snippet_by_chars(t: &str, s: usize, e: usize) -> (String, String) {
        let from = t[..s].char_indices().rev().nth(19).map_or(0, |(i, _)| i);
        let to = t[e..].char_indices().nth(20).map_or(t.len(), |(i, _)| e + i);
        let clean = |x: &str| x.replace(['\n', '\r', '\t'], " ");
        (clean(&t[from..s]), clean(&t[e..to]))
    }

    #[test]
    fn snippet_by_bytes_equals_snippet_by_chars() {
        // The second text: long runs of 1-, 2-, 3- and 4-byte characters, so that the 20th
        // character either side falls at every place in an 8-byte word, and other bytes below
        // 0x0E (kept as they are). The third: shorter than a word.
        let t2 = format!("{}{}{}{}x{}\u{b}\u{c}\u{1}\u{0}\r", "abcdefghij".repeat(4), "éü".repeat(15), "山田太郎".repeat(8), "\u{1F600}".repeat(25), "a\né".repeat(10));
        for t in ["氏名\t山田 太郎\r\n住所 奈良県奈良市二条大路南1丁目1番1号\n\nTEL 090-1234-5678 abc\u{1F600}x\ty\n末尾", t2.as_str(), "\ta\u{b}\n"] {
            let bounds: Vec<usize> = (0..=t.len()).filter(|&i| t.is_char_boundary(i)).collect();
            for &s in &bounds {
                for &e in bounds.iter().filter(|&&e| e >= s) {
                    // The value as in the text (controls and all, kept as they are), and
                    // values of other lengths, as normalised values are.
                    for v in [&t[s..e], "", "0901234\t5678"] {
                        assert_eq!(super::snippet(t, s, e, v), snippet_by_chars(t, s, e), "{s}..{e} {v:?}");
                    }
                }
            }
        }
    }

    /// Findings made in batches sharing buffers have the texts standalone findings have, on
    /// both sides of every batch boundary; a batch's findings share one buffer and the next
    /// batch has its own.
    #[test]
    fn batched_findings_equal_standalone_ones() {
        let mut t = String::new();
        // Where each phone number is.
        let mut at = Vec::new();
        for i in 0..(2 * super::Batch::FINDINGS + 300) {
            t.push_str(&format!("行{i}\tTEL "));
            let p = format!("090-{:04}-{:04}", i % 10_000, (i * 7) % 10_000);
            at.push((t.len(), t.len() + p.len()));
            t.push_str(&p);
            t.push_str(" 様\n");
        }
        let found = super::scan_text(&t, &super::Options::default());
        let phones: Vec<&super::Finding> = found.iter().filter(|f| f.kind == super::Kind::Phone).collect();
        assert_eq!(phones.len(), 2 * super::Batch::FINDINGS + 300);
        assert_eq!(found.len(), phones.len());
        for (f, &(s, e)) in found.iter().zip(&at) {
            let alone = super::finding_in(&t, s, e, f.kind, f.value(), f.location.clone(), f.confidence, None);
            assert_eq!(*f, alone);
            assert_eq!((f.before(), f.after()), (alone.before(), alone.after()));
        }
        let buf = |f: &super::Finding| f.buf.clone().expect("buffer handed over");
        let n = super::Batch::FINDINGS;
        assert!(std::sync::Arc::ptr_eq(&buf(&found[0]), &buf(&found[n - 1])));
        assert!(!std::sync::Arc::ptr_eq(&buf(&found[n - 1]), &buf(&found[n])));
        assert!(std::sync::Arc::ptr_eq(&buf(&found[n]), &buf(&found[2 * n - 1])));
        assert!(found.iter().all(|f| f.buf.is_some()));
    }

    #[test]
    fn finding_fits_inline_moves() {
        // Above 128 bytes a finding is moved into the result by a `memcpy` call (twice each).
        assert!(std::mem::size_of::<super::Finding>() <= 128, "{}", std::mem::size_of::<super::Finding>());
    }

    /// Located with the newlines the snippet walks met (as scans do), offsets come out as
    /// counted from the start: values of every length up to 12 characters (so the next
    /// offset may be inside the last value, or its walks may not meet), in order and again.
    #[test]
    fn line_index_near_snippets_equals_counting_from_the_start() {
        let t = format!("{}\n\n山田\n{}\r\n末尾{}\n\t{}", "ab\ncdéf\n\n\n山田太郎\tx".repeat(7), "0123456789".repeat(9), "山田a\u{1F600}".repeat(30), "x\n".repeat(40));
        let naive = |off: usize| {
            let line = t[..off].matches('\n').count() + 1;
            let start = t[..off].rfind('\n').map_or(0, |p| p + 1);
            (line, t[start..off].chars().count() + 1)
        };
        let bounds: Vec<usize> = (0..=t.len()).filter(|&i| t.is_char_boundary(i)).collect();
        for gap in [1, 2, 3, 5, 8, 13, 21, 34, 55, 89] {
            for len in [0, 1, 3, 12] {
                let mut idx = super::LineIndex::new(&t);
                let starts = (0..bounds.len()).step_by(gap).chain((0..bounds.len()).step_by(gap + 7));
                for i in starts {
                    let (s, e) = (bounds[i], bounds[(i + len).min(bounds.len() - 1)]);
                    let (mut before, mut after) = (super::Controls::new(), super::Controls::new());
                    let (from, to) = super::snippet_bounds(&t, s, e, &mut before, &mut after);
                    assert_eq!(idx.locate_near(s, from, &before), naive(s), "offset {s}, every {gap}th, {len} long");
                    idx.note_after(e, to, &after);
                }
            }
        }
    }

    #[test]
    fn line_index_equals_counting_from_the_start() {
        // Newlines at every place in an 8-byte word, runs of them, multi-byte characters, a
        // long line (columns counted on from the last offset over gaps of any size), and
        // offsets asked in order, with gaps of every size, then again from the start.
        let t = format!("{}\n\n山田\n{}\r\n末尾{}\n", "ab\ncdéf\n\n\n山田太郎\tx".repeat(7), "0123456789".repeat(3), "山田a\u{1F600}".repeat(20));
        let naive = |off: usize| {
            let line = t[..off].matches('\n').count() + 1;
            let start = t[..off].rfind('\n').map_or(0, |p| p + 1);
            (line, t[start..off].chars().count() + 1)
        };
        let bounds: Vec<usize> = (0..=t.len()).filter(|&i| t.is_char_boundary(i)).collect();
        for gap in 1..40 {
            let mut idx = super::LineIndex::new(&t);
            for &off in bounds.iter().step_by(gap).chain(bounds.iter().step_by(gap + 3)) {
                assert_eq!(idx.locate(off), naive(off), "offset {off}, every {gap}th boundary");
            }
        }
    }

}
