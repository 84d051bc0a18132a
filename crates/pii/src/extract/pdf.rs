//! PDF text layer (one text segment per page, plus a table segment per page for rows that line
//! up in columns). Scanned PDFs without text give a problem saying so (no OCR here).
//!
//! `lopdf` parses the file, the fonts' encodings and ToUnicode CMaps; the content streams are
//! walked here, not with `lopdf::Document::extract_text`, because that one (0.36) concatenates
//! every string of a page with no regard to where it is drawn: table cells ran together
//! (`山田 太郎奈良県奈良市…`), the `'`/`"` operators and Form XObjects were skipped, a
//! LibreOffice subset font labelled `WinAnsiEncoding` was decoded as WinAnsi instead of with its
//! ToUnicode CMap (Japanese came out as Latin-1 junk), and Chromium's y-flipped pages came out
//! bottom to top. `pdf-extract` positions text but panics on many malformed files and is not
//! vendored here. So each glyph gets its device position (text matrix × CTM, widths from the
//! font's `/W`/`/Widths`), glyphs are grouped into lines by baseline and into cells by
//! horizontal gaps, and a run of at least three lines with at least three cells becomes a
//! table, the first line being its header, so a 397-name roster is one column finding per page
//! like a spreadsheet. Decoding a code: the font's ToUnicode CMap when it has one (Word,
//! LibreOffice, Chromium and 一太郎 all write one), else the predefined CJK CMaps
//! (`UniJIS-UCS2-H`, `90ms-RKSJ-H`, `EUC-H`) or the simple encodings `lopdf` knows. Vertical
//! writing (`Identity-V`) is read as horizontal text of its columns: each column is a "line".

use super::{Budget, Content, Extracted, Place, Segment, guarded, problem};
use lopdf::content::Content as Ops;
use lopdf::{DecompressError, Dictionary, Document, Encoding, Error as PdfError, LoadOptions, Object, ObjectId};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Instant;

/// Form XObjects nested deeper than this are not followed (a loop in a hostile file).
const MAX_FORM_DEPTH: usize = 8;
/// Glyphs read from one page at most (a hostile content stream cannot make the sort costly).
const MAX_GLYPHS: usize = 2_000_000;
/// A ToUnicode CMap inflates to at most this much: a full 65,536-entry CMap is about 1.5 MB,
/// and each parsed entry costs more than its bytes, so a CMap bomb must stop well below the
/// per-file budget.
const MAX_CMAP_BYTES: usize = 8 << 20;
/// Content operations between two looks at the clock.
const OPS_PER_CLOCK: usize = 4096;
/// Nesting of `[`, `<<` and `(` refused before lopdf parses the file. lopdf 0.47 limits
/// arrays and dictionaries to 100 levels, but see [`nesting_depth`].
const MAX_NESTING: usize = 256;

/// Why a page's walk stopped early.
enum Stop {
    Time,
    /// The per-file unpacked-bytes budget ran out (what, bytes wanted).
    Unpacked(String),
}

/// What one file may still spend: decompressed stream bytes (charged to the file's
/// [`Budget`], shared with archives it sits in) and wall time.
struct Spend {
    room: u64,
    spent: u64,
    started: Instant,
    max_time: std::time::Duration,
    stop: Option<Stop>,
    /// Content streams that could not be decoded (kept as raw bytes or skipped).
    notes: Vec<String>,
}

impl Spend {
    fn out_of_time(&self) -> bool {
        self.started.elapsed() > self.max_time
    }
    fn left(&self) -> usize {
        usize::try_from(self.room.saturating_sub(self.spent)).unwrap_or(usize::MAX)
    }
    /// Inflate a stream within what is left of the budget. A plain FlateDecode stream (the
    /// usual content stream) is first inflated into a counter: a bomb is refused without
    /// allocating anything, and a stream within budget is inflated into a buffer of its exact
    /// size. Letting a Vec grow instead (lopdf's read_to_end) doubles it past the budget, and
    /// under mimalloc the copy touches both: 1.3 GB peak RSS for a 512 MiB budget.
    fn inflate(&mut self, s: &lopdf::Stream, what: &str) -> Option<Vec<u8>> {
        use std::io::Read;
        let left = self.left();
        let plain_flate = match s.dict.get(b"Filter") {
            Ok(Object::Name(n)) => n == b"FlateDecode",
            Ok(Object::Array(a)) => a.len() == 1 && a[0].as_name().ok() == Some(b"FlateDecode"),
            _ => false,
        } && s.dict.get(b"DecodeParms").is_err();
        if plain_flate && !s.content.is_empty() {
            let mut z = flate2::read::ZlibDecoder::new(&s.content[..]).take(left as u64 + 1);
            // A corrupt stream (an error here) goes to lopdf below, which also tries raw deflate.
            if let Ok(n) = std::io::copy(&mut z, &mut std::io::sink()) {
                if n > left as u64 {
                    self.stop = Some(Stop::Unpacked(what.to_string()));
                    return None;
                }
                let mut d = Vec::with_capacity(n as usize);
                if flate2::read::ZlibDecoder::new(&s.content[..]).take(n).read_to_end(&mut d).is_ok() {
                    self.spent += d.len() as u64;
                    return Some(d);
                }
            }
        }
        match s.decompressed_content_with_limit(left) {
            Ok(d) => {
                self.spent += d.len() as u64;
                Some(d)
            }
            Err(PdfError::Decompress(DecompressError::MemoryLimitExceeded { .. })) => {
                self.stop = Some(Stop::Unpacked(what.to_string()));
                None
            }
            // An unknown filter or a corrupt stream: its raw bytes, as lopdf's own
            // get_page_content does (DCT/JBIG2 images are not content anyway).
            Err(e) if s.content.len() <= left => {
                self.notes.push(format!("{what}: {e} (its raw bytes scanned)"));
                self.spent += s.content.len() as u64;
                Some(s.content.clone())
            }
            Err(_) => {
                self.stop = Some(Stop::Unpacked(what.to_string()));
                None
            }
        }
    }
}

/// The deepest nesting of arrays, dictionaries and literal strings in `b`, outside comments
/// and strings, stopping once it passes `limit`. lopdf 0.47 bounds arrays and dictionaries at
/// 100 levels per parse, but its nom parsers take several stack frames per level and the
/// limit restarts in each indirect object and content stream, so a file-level bound here
/// keeps every shape (and every future parser change) off the stack: no real PDF nests
/// anywhere near 256 levels (a deep outline or page tree nests by reference, not in place).
fn nesting_depth(b: &[u8], limit: usize) -> usize {
    let (mut depth, mut max, mut paren) = (0usize, 0usize, 0usize);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if paren > 0 {
            match c {
                b'\\' => i += 1,
                b'(' => {
                    paren += 1;
                    max = max.max(depth + paren);
                }
                b')' => paren -= 1,
                _ => {}
            }
        } else {
            match c {
                b'%' => {
                    // A comment runs to the end of the line (binary after `stream` too:
                    // the bytes of a stream are not PDF syntax, and are skipped below).
                    while i < b.len() && b[i] != b'\n' && b[i] != b'\r' {
                        i += 1;
                    }
                }
                b'(' => {
                    paren = 1;
                    max = max.max(depth + 1);
                }
                b'[' => {
                    depth += 1;
                    max = max.max(depth);
                }
                b'<' if b.get(i + 1) == Some(&b'<') => {
                    depth += 1;
                    max = max.max(depth);
                    i += 1;
                }
                b']' => depth = depth.saturating_sub(1),
                b'>' if b.get(i + 1) == Some(&b'>') => {
                    depth = depth.saturating_sub(1);
                    i += 1;
                }
                b's' if b[i..].starts_with(b"stream") => {
                    // Stream data is opaque here (compressed content is checked by lopdf's
                    // limit after inflation); the dictionary before it closed already.
                    match memchr::memmem::find(&b[i + 6..], b"endstream") {
                        Some(k) => i += 6 + k + 8,
                        None => return max,
                    }
                    depth = 0;
                }
                _ => {}
            }
        }
        if max > limit {
            return max;
        }
        i += 1;
    }
    max
}

pub(crate) fn extract_pdf(member: Option<&str>, bytes: &[u8], budget: &mut Budget, ex: &mut Extracted) {
    let depth = nesting_depth(bytes, MAX_NESTING);
    if depth > MAX_NESTING {
        ex.truncated = true;
        problem(
            ex,
            member,
            format!("PDFの入れ子が深すぎます(上限{MAX_NESTING}段)/ PDF objects nested deeper than {MAX_NESTING} levels: not parsed"),
        );
        return;
    }
    let mut spend = Spend {
        room: budget.limits.max_unpacked_bytes.saturating_sub(budget.unpacked),
        spent: 0,
        started: budget.started,
        max_time: budget.limits.max_time,
        stop: None,
        notes: Vec::new(),
    };
    // Object and cross-reference streams are inflated while loading: the same budget bounds
    // each of them (they are not charged to it: lopdf does not say how much it inflated).
    let opts = LoadOptions {
        max_decompressed_size: Some(spend.left()),
        ..LoadOptions::default()
    };
    let doc = match guarded(|| Document::load_mem_with_options(bytes, opts).map_err(|e| e.to_string())) {
        Ok(d) => d,
        Err(e) => {
            problem(ex, member, format!("PDFを読めません / unreadable PDF: {e}"));
            return;
        }
    };
    let pages: Vec<(u32, ObjectId)> = doc.get_pages().into_iter().collect();
    let n_pages = pages.len();
    let mut any_text = false;
    let mut undecoded = 0usize;
    // Fonts are shared by pages: each is loaded (its ToUnicode parsed) once per file.
    let mut font_cache: HashMap<*const Dictionary, Rc<Font>> = HashMap::new();
    let (mut refused_once, mut more_refused) = (false, Vec::<u32>::new());
    for (p, id) in pages {
        if spend.out_of_time() {
            spend.stop = Some(Stop::Time);
        }
        if let Some(stop) = spend.stop.take() {
            ex.truncated = true;
            let why = match stop {
                Stop::Time => format!(
                    "時間制限({} 秒)/ time limit ({} s) reached at page {p} of {n_pages}: pages {p}-{n_pages} not scanned",
                    budget.limits.max_time.as_secs_f64(),
                    budget.limits.max_time.as_secs_f64()
                ),
                Stop::Unpacked(what) => format!(
                    "展開サイズの上限 / unpacked-bytes limit ({} bytes) reached before page {p} of {n_pages} ({what}): pages {p}-{n_pages} not scanned",
                    budget.limits.max_unpacked_bytes
                ),
            };
            problem(ex, member, why);
            break;
        }
        let page = guarded(|| page_glyphs(&doc, id, &mut font_cache, &mut spend));
        for n in std::mem::take(&mut spend.notes) {
            problem(ex, member, format!("PDFの{p}ページの一部を読めません / page {p} partly unreadable: {n}"));
        }
        match page {
            Ok((glyphs, missing)) => {
                undecoded += missing;
                let lines = lines_of(glyphs);
                let (text, table) = split_tables(&lines);
                if !text.trim().is_empty() || !table.is_empty() {
                    any_text = true;
                }
                ex.segments.push(Segment {
                    member: member.map(str::to_string),
                    place: Place::Page(p),
                    content: Content::Text(text),
                });
                if !table.is_empty() {
                    ex.segments.push(Segment {
                        member: member.map(str::to_string),
                        // Table findings are located by sheet and cell: the sheet names the page.
                        place: Place::Sheet(format!("{p}ページ / page {p}")),
                        content: Content::Table(table),
                    });
                }
            }
            Err(e) => problem(ex, member, format!("PDFの{p}ページを読めません / page {p} unreadable: {e}")),
        }
        // A stop inside the page: what was read of it is kept (above), and the message names
        // the page it stopped in.
        match spend.stop.take() {
            Some(Stop::Time) => {
                ex.truncated = true;
                problem(
                    ex,
                    member,
                        format!(
                        "時間制限({} 秒)/ time limit ({} s) reached in page {p} of {n_pages}: the rest of page {p}{} not scanned",
                        budget.limits.max_time.as_secs_f64(),
                        budget.limits.max_time.as_secs_f64(),
                        if (p as usize) < n_pages { format!(" and pages {}-{n_pages}", p + 1) } else { String::new() }
                    ),
                );
                break;
            }
            Some(Stop::Unpacked(what)) => {
                // One stream over the budget is refused; the page's other streams and the
                // next pages still run on what is left (a bomb cannot hide what follows).
                // Once the budget is spent every later stream is refused: those are summed
                // up in one problem below, not one per page.
                if refused_once {
                    more_refused.push(p);
                    continue;
                }
                refused_once = true;
                ex.truncated = true;
                problem(
                    ex,
                    member,
                    format!(
                        "展開サイズの上限 / unpacked-bytes limit ({} bytes) reached: page {p} of {n_pages}, {what} not scanned (zip/flate bomb?)",
                        budget.limits.max_unpacked_bytes
                    ),
                );
            }
            None => {}
        }
    }
    if let (Some(first), Some(last)) = (more_refused.first(), more_refused.last()) {
        problem(
            ex,
            member,
            format!(
                "展開サイズの上限 / unpacked-bytes limit ({} bytes): content of {} more pages ({first}-{last}) not scanned",
                budget.limits.max_unpacked_bytes,
                more_refused.len()
            ),
        );
    }
    budget.unpacked += spend.spent;
    if undecoded > 0 {
        problem(
            ex,
            member,
            format!("PDFの{undecoded}文字は文字コードに変換できません(ToUnicodeなし)/ {undecoded} glyphs without a Unicode mapping not scanned"),
        );
    }
    if !any_text && !ex.truncated {
        problem(
            ex,
            member,
            "PDFに文字情報がありません(画像のみ?)/ PDF has no text layer (scanned image?)".into(),
        );
    }
}

/// A 2-D affine matrix `[a b c d e f]` (PDF order).
#[derive(Clone, Copy, Debug)]
struct M([f64; 6]);

impl M {
    const ID: M = M([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
    /// `self × o` (apply self first, then o).
    fn mul(&self, o: &M) -> M {
        let [a, b, c, d, e, f] = self.0;
        let [a2, b2, c2, d2, e2, f2] = o.0;
        M([
            a * a2 + b * c2,
            a * b2 + b * d2,
            c * a2 + d * c2,
            c * b2 + d * d2,
            e * a2 + f * c2 + e2,
            e * b2 + f * d2 + f2,
        ])
    }
    fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        let [a, b, c, d, e, f] = self.0;
        (a * x + c * y + e, b * x + d * y + f)
    }
    fn translate(x: f64, y: f64) -> M {
        M([1.0, 0.0, 0.0, 1.0, x, y])
    }
}

/// One drawn glyph in device space.
#[derive(Clone, Debug)]
struct Glyph {
    x0: f64,
    x1: f64,
    /// Baseline.
    y: f64,
    /// Font size in device units.
    h: f64,
    text: String,
}

enum Decoder<'a> {
    Lopdf(Encoding<'a>),
    Utf16,
    Sjis,
    EucJp,
    None,
}

struct Font<'a> {
    dec: Decoder<'a>,
    two_byte: bool,
    vertical: bool,
    /// Widths in glyph space (thousandths of the size, or Type 3 glyph units × `scale`).
    widths: HashMap<u32, f64>,
    default_width: f64,
    scale: f64,
}

fn num(o: &Object) -> Option<f64> {
    match o {
        Object::Integer(i) => Some(*i as f64),
        Object::Real(r) => Some(*r as f64),
        _ => None,
    }
}

fn deref<'a>(doc: &'a Document, o: &'a Object) -> &'a Object {
    match o {
        Object::Reference(id) => doc.get_object(*id).unwrap_or(o),
        _ => o,
    }
}

fn dict_of<'a>(doc: &'a Document, o: &'a Object) -> Option<&'a Dictionary> {
    match deref(doc, o) {
        Object::Dictionary(d) => Some(d),
        Object::Stream(s) => Some(&s.dict),
        _ => None,
    }
}

/// `cmap_limit`: the most a ToUnicode CMap may inflate to.
fn load_font<'a>(doc: &'a Document, font: &'a Dictionary, cmap_limit: usize) -> Font<'a> {
    let subtype = font.get(b"Subtype").and_then(Object::as_name).unwrap_or(b"");
    let enc_name = font.get(b"Encoding").map(|o| deref(doc, o)).and_then(Object::as_name).ok();
    let has_to_unicode = font.get(b"ToUnicode").is_ok();
    let mut widths = HashMap::new();
    let mut default_width = 500.0;
    let mut scale = 0.001;
    let two_byte = subtype == b"Type0";
    if two_byte {
        default_width = 1000.0;
        let desc = font
            .get(b"DescendantFonts")
            .map(|o| deref(doc, o))
            .and_then(Object::as_array)
            .ok()
            .and_then(|a| a.first())
            .and_then(|o| dict_of(doc, o));
        if let Some(d) = desc {
            if let Some(dw) = d.get(b"DW").ok().and_then(num) {
                default_width = dw;
            }
            if let Ok(w) = d.get(b"W").map(|o| deref(doc, o)).and_then(Object::as_array) {
                // [c [w1 w2 …]] or [c_first c_last w]
                let mut i = 0;
                while i < w.len() && widths.len() < 70_000 {
                    let Some(c) = num(&w[i]) else { break };
                    match w.get(i + 1).map(|o| deref(doc, o)) {
                        Some(Object::Array(ws)) => {
                            for (k, x) in ws.iter().enumerate().take(70_000) {
                                if let Some(x) = num(x) {
                                    widths.insert(c as u32 + k as u32, x);
                                }
                            }
                            i += 2;
                        }
                        Some(o) => {
                            let (Some(last), Some(x)) = (num(o), w.get(i + 2).and_then(num)) else { break };
                            let (c, last) = (c.max(0.0) as u32, last.max(0.0) as u32);
                            for k in c..=last.min(c.saturating_add(70_000)) {
                                widths.insert(k, x);
                            }
                            i += 3;
                        }
                        None => break,
                    }
                }
            }
        }
    } else {
        if subtype == b"Type3"
            && let Some(s) = font.get(b"FontMatrix").and_then(Object::as_array).ok().and_then(|m| m.first()).and_then(num)
        {
            scale = s;
        }
        let first = font.get(b"FirstChar").ok().and_then(num).unwrap_or(0.0) as u32;
        if let Ok(w) = font.get(b"Widths").map(|o| deref(doc, o)).and_then(Object::as_array) {
            for (k, x) in w.iter().enumerate().take(256) {
                if let Some(x) = num(deref(doc, x)) {
                    widths.insert(first + k as u32, x);
                }
            }
        }
        if subtype == b"Type3" {
            default_width = 0.0;
        }
    }
    let vertical = enc_name.is_some_and(|n| n.ends_with(b"-V"));
    let dec = if has_to_unicode {
        // Prefer the ToUnicode CMap even where /Encoding names a simple encoding (LibreOffice
        // subsets Japanese into one-byte TrueType fonts labelled WinAnsiEncoding): without
        // /Encoding, lopdf decodes through ToUnicode.
        let mut d = font.clone();
        d.remove(b"Encoding");
        if two_byte {
            d.set("Encoding", Object::Name(b"Identity-H".to_vec()));
        }
        match d.get_font_encoding_with_limit(doc, cmap_limit) {
            Ok(Encoding::UnicodeMapEncoding(m)) => Decoder::Lopdf(Encoding::UnicodeMapEncoding(m)),
            _ => predefined(enc_name).unwrap_or(Decoder::None),
        }
    } else if let Some(p) = predefined(enc_name) {
        p
    } else if two_byte {
        Decoder::None
    } else {
        match font.get_font_encoding_with_limit(doc, cmap_limit) {
            Ok(e) => Decoder::Lopdf(e),
            Err(_) => Decoder::None,
        }
    };
    // Shift_JIS / EUC codes are one or two bytes; they are split while decoding.
    let two_byte = two_byte && !matches!(dec, Decoder::Sjis | Decoder::EucJp);
    Font {
        dec,
        two_byte,
        vertical,
        widths,
        default_width,
        scale,
    }
}

/// Predefined CJK CMaps of fonts that carry no ToUnicode (older Word/一太郎 PDFs with
/// non-embedded fonts).
fn predefined(name: Option<&[u8]>) -> Option<Decoder<'static>> {
    let n = name?;
    let has = |s: &[u8]| n.windows(s.len()).any(|w| w == s);
    if has(b"UCS2") || has(b"UTF16") {
        Some(Decoder::Utf16)
    } else if has(b"RKSJ") {
        Some(Decoder::Sjis)
    } else if has(b"EUC") {
        Some(Decoder::EucJp)
    } else {
        None
    }
}

/// The codes of a shown string with their text (None: no mapping).
fn codes(font: &Font, s: &[u8]) -> Vec<(u32, Option<String>, bool)> {
    let mut out = Vec::new();
    match &font.dec {
        Decoder::Sjis | Decoder::EucJp => {
            let enc = if matches!(font.dec, Decoder::Sjis) { encoding_rs::SHIFT_JIS } else { encoding_rs::EUC_JP };
            let mut i = 0;
            while i < s.len() {
                let lead = s[i];
                let two = match font.dec {
                    Decoder::Sjis => matches!(lead, 0x81..=0x9F | 0xE0..=0xFC),
                    _ => lead >= 0x8E,
                };
                let n = if two && i + 1 < s.len() { 2 } else { 1 };
                let (t, _, bad) = enc.decode(&s[i..i + n]);
                let code = if n == 2 { (lead as u32) << 8 | s[i + 1] as u32 } else { lead as u32 };
                out.push((code, (!bad).then(|| t.into_owned()), n == 1 && lead == 32));
                i += n;
            }
        }
        _ => {
            let step = if font.two_byte { 2 } else { 1 };
            for c in s.chunks(step) {
                let code = c.iter().fold(0u32, |a, &b| a << 8 | b as u32);
                let t = match &font.dec {
                    Decoder::Lopdf(Encoding::UnicodeMapEncoding(m)) => {
                        m.get(code, c.len() as u8).and_then(|u| String::from_utf16(&u).ok())
                    }
                    Decoder::Lopdf(e) => e.bytes_to_string(c).ok(),
                    Decoder::Utf16 => (c.len() == 2).then(|| String::from_utf16_lossy(&[code as u16])),
                    _ => None,
                };
                out.push((code, t, step == 1 && code == 32));
            }
        }
    }
    out
}

struct TextState {
    tm: M,
    tlm: M,
    size: f64,
    tc: f64,
    tw: f64,
    th: f64,
    tl: f64,
    rise: f64,
    font: Option<Vec<u8>>,
}

struct Walk<'a, 's> {
    doc: &'a Document,
    fonts: HashMap<Vec<u8>, Rc<Font<'a>>>,
    cache: &'s mut HashMap<*const Dictionary, Rc<Font<'a>>>,
    spend: &'s mut Spend,
    glyphs: Vec<Glyph>,
    missing: usize,
    ops: usize,
}

/// A font by its dictionary, loaded once per file (pages share fonts; parsing a CMap on every
/// one of 20,000 pages was most of their time). The key is the dictionary's address in the
/// document, which does not move while the document lives.
fn font_for<'a>(doc: &'a Document, f: &'a Dictionary, cache: &mut HashMap<*const Dictionary, Rc<Font<'a>>>, spend: &Spend) -> Rc<Font<'a>> {
    cache
        .entry(f as *const Dictionary)
        .or_insert_with(|| Rc::new(load_font(doc, f, spend.left().min(MAX_CMAP_BYTES))))
        .clone()
}

fn page_glyphs<'a>(
    doc: &'a Document,
    page: ObjectId,
    cache: &mut HashMap<*const Dictionary, Rc<Font<'a>>>,
    spend: &mut Spend,
) -> Result<(Vec<Glyph>, usize), String> {
    let fonts = doc.get_page_fonts(page).map_err(|e| e.to_string())?;
    let (res, res_ids) = doc.get_page_resources(page).map_err(|e| e.to_string())?;
    let mut xobjects: Vec<&Dictionary> = Vec::new();
    for r in res.into_iter().chain(res_ids.iter().filter_map(|id| doc.get_dictionary(*id).ok())) {
        if let Some(x) = r.get(b"XObject").ok().and_then(|o| dict_of(doc, o)) {
            xobjects.push(x);
        }
    }
    // The page's content streams, each inflated within the budget: a stream over it is
    // refused alone, so the page's other streams (and pages) are still read.
    let mut content = Vec::new();
    for sid in doc.get_page_contents(page) {
        let Ok(s) = doc.get_object(sid).and_then(Object::as_stream) else { continue };
        if let Some(d) = spend.inflate(s, &format!("content stream {} {} R", sid.0, sid.1)) {
            // The usual single stream is taken as is, not copied.
            if content.is_empty() {
                content = d;
            } else {
                content.extend_from_slice(&d);
            }
            content.push(b'\n');
        }
    }
    let fonts = fonts.into_iter().map(|(n, f)| (n, font_for(doc, f, cache, spend))).collect();
    let mut w = Walk {
        doc,
        fonts,
        cache,
        spend,
        glyphs: Vec::new(),
        missing: 0,
        ops: 0,
    };
    w.run(&content, M::ID, &xobjects, 0)?;
    Ok((w.glyphs, w.missing))
}

impl<'a> Walk<'a, '_> {
    fn run(&mut self, content: &[u8], ctm0: M, xobjects: &[&'a Dictionary], depth: usize) -> Result<(), String> {
        let mut ctm = ctm0;
        let mut stack: Vec<M> = Vec::new();
        let mut ts = TextState {
            tm: M::ID,
            tlm: M::ID,
            size: 0.0,
            tc: 0.0,
            tw: 0.0,
            th: 1.0,
            tl: 0.0,
            rise: 0.0,
            font: None,
        };
        // q/Q save the text state parameters with the graphics state (not Tm, which BT resets).
        type Saved = (f64, f64, f64, f64, f64, f64, Option<Vec<u8>>);
        let mut ts_stack: Vec<Saved> = Vec::new();
        // One operation at a time: a long stream never holds all its parsed operations
        // (each costs several times its bytes), and the clock is read as it goes.
        for op in Ops::decode_iter(content) {
            let op = match op {
                Ok(op) => op,
                // What was read before the bad bytes is kept.
                Err(e) => {
                    self.spend.notes.push(format!("content stream syntax error after {} operations ({e}): the rest of it not read", self.ops));
                    break;
                }
            };
            self.ops += 1;
            if self.ops.is_multiple_of(OPS_PER_CLOCK) && self.spend.out_of_time() {
                self.spend.stop = Some(Stop::Time);
                return Ok(());
            }
            let a = &op.operands;
            let n = |i: usize| a.get(i).and_then(num).unwrap_or(0.0);
            match op.operator.as_str() {
                "q" if stack.len() < 1024 => {
                    stack.push(ctm);
                    ts_stack.push((ts.size, ts.tc, ts.tw, ts.th, ts.tl, ts.rise, ts.font.clone()));
                }
                "Q" => {
                    if let Some(m) = stack.pop() {
                        ctm = m;
                    }
                    if let Some(s) = ts_stack.pop() {
                        (ts.size, ts.tc, ts.tw, ts.th, ts.tl, ts.rise, ts.font) = s;
                    }
                }
                "cm" if a.len() == 6 => ctm = M([n(0), n(1), n(2), n(3), n(4), n(5)]).mul(&ctm),
                "BT" => {
                    ts.tm = M::ID;
                    ts.tlm = M::ID;
                }
                "Tf" => {
                    ts.font = a.first().and_then(|o| o.as_name().ok()).map(<[u8]>::to_vec);
                    ts.size = n(1);
                }
                "Tc" => ts.tc = n(0),
                "Tw" => ts.tw = n(0),
                "Tz" => ts.th = n(0) / 100.0,
                "TL" => ts.tl = n(0),
                "Ts" => ts.rise = n(0),
                "Td" => {
                    ts.tlm = M::translate(n(0), n(1)).mul(&ts.tlm);
                    ts.tm = ts.tlm;
                }
                "TD" => {
                    ts.tl = -n(1);
                    ts.tlm = M::translate(n(0), n(1)).mul(&ts.tlm);
                    ts.tm = ts.tlm;
                }
                "Tm" if a.len() == 6 => {
                    ts.tlm = M([n(0), n(1), n(2), n(3), n(4), n(5)]);
                    ts.tm = ts.tlm;
                }
                "T*" => {
                    ts.tlm = M::translate(0.0, -ts.tl).mul(&ts.tlm);
                    ts.tm = ts.tlm;
                }
                "Tj" => {
                    if let Some(Object::String(s, _)) = a.first() {
                        self.show(&mut ts, &ctm, s);
                    }
                }
                "'" | "\"" => {
                    if op.operator == "\"" {
                        ts.tw = n(0);
                        ts.tc = n(1);
                    }
                    ts.tlm = M::translate(0.0, -ts.tl).mul(&ts.tlm);
                    ts.tm = ts.tlm;
                    if let Some(Object::String(s, _)) = a.last() {
                        self.show(&mut ts, &ctm, s);
                    }
                }
                "TJ" => {
                    if let Some(Object::Array(items)) = a.first() {
                        for it in items {
                            match it {
                                Object::String(s, _) => self.show(&mut ts, &ctm, s),
                                o => {
                                    if let Some(k) = num(o) {
                                        let tx = -k / 1000.0 * ts.size * ts.th;
                                        ts.tm = M::translate(tx, 0.0).mul(&ts.tm);
                                    }
                                }
                            }
                        }
                    }
                }
                "Do" if depth < MAX_FORM_DEPTH => {
                    let Some(name) = a.first().and_then(|o| o.as_name().ok()) else { continue };
                    let Some(obj) = xobjects.iter().find_map(|x| x.get(name).ok()) else { continue };
                    let Ok(Object::Stream(s)) = self.doc.get_object(match obj {
                        Object::Reference(id) => *id,
                        _ => continue,
                    }) else {
                        continue;
                    };
                    if s.dict.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Form") {
                        continue;
                    }
                    let m = s
                        .dict
                        .get(b"Matrix")
                        .and_then(Object::as_array)
                        .ok()
                        .filter(|m| m.len() == 6)
                        .map(|m| M([0, 1, 2, 3, 4, 5].map(|i| num(&m[i]).unwrap_or(0.0))))
                        .unwrap_or(M::ID);
                    let Some(data) = self.spend.inflate(s, &format!("form XObject {}", String::from_utf8_lossy(name))) else {
                        continue;
                    };
                    let res = s.dict.get(b"Resources").ok().and_then(|o| dict_of(self.doc, o));
                    let mut xs: Vec<&'a Dictionary> = xobjects.to_vec();
                    // The form's own fonts shadow the page's under the same name: keep them apart.
                    let saved: Option<HashMap<Vec<u8>, Rc<Font<'a>>>> = res.and_then(|r| {
                        if let Some(x) = r.get(b"XObject").ok().and_then(|o| dict_of(self.doc, o)) {
                            xs.insert(0, x);
                        }
                        let fd = r.get(b"Font").ok().and_then(|o| dict_of(self.doc, o))?;
                        let mut own = HashMap::new();
                        for (k, v) in fd.iter() {
                            if let Some(f) = dict_of(self.doc, v) {
                                own.insert(k.clone(), font_for(self.doc, f, self.cache, self.spend));
                            }
                        }
                        Some(std::mem::replace(&mut self.fonts, own))
                    });
                    let r = self.run(&data, m.mul(&ctm), &xs, depth + 1);
                    if let Some(f) = saved {
                        self.fonts = f;
                    }
                    r?;
                    if self.spend.stop.is_some() {
                        return Ok(());
                    }
                }
                _ => {}
            }
            if self.glyphs.len() > MAX_GLYPHS {
                return Err(format!("more than {MAX_GLYPHS} glyphs on one page"));
            }
        }
        Ok(())
    }

    fn show(&mut self, ts: &mut TextState, ctm: &M, s: &[u8]) {
        let Some(font) = ts.font.as_ref().and_then(|f| self.fonts.get(f)) else { return };
        for (code, text, is_space) in codes(font, s) {
            let w = font.widths.get(&code).copied().unwrap_or(font.default_width) * font.scale;
            let trm = M([ts.size * ts.th, 0.0, 0.0, ts.size, 0.0, ts.rise]).mul(&ts.tm).mul(ctm);
            let (x0, y0) = trm.apply(0.0, 0.0);
            let adv = if font.vertical {
                0.0
            } else {
                (w * ts.size + ts.tc + if is_space { ts.tw } else { 0.0 }) * ts.th
            };
            let (x1, y1) = M::translate(adv, 0.0).mul(&ts.tm).mul(ctm).apply(0.0, 0.0);
            let h = (trm.0[2].powi(2) + trm.0[3].powi(2)).sqrt();
            match text.map(radicals_to_ideographs) {
                Some(t) if !t.is_empty() => {
                    if font.vertical {
                        // A column of vertical text: one "line" per column, read top to bottom.
                        self.glyphs.push(Glyph { x0: -y0, x1: -y0 + h, y: x0, h, text: t });
                    } else {
                        let _ = y1;
                        self.glyphs.push(Glyph { x0, x1: x1.max(x0), y: y0, h, text: t });
                    }
                }
                Some(_) => {}
                None => self.missing += 1,
            }
            if font.vertical {
                let adv_v = -(1.0 * ts.size + ts.tc);
                ts.tm = M::translate(0.0, adv_v).mul(&ts.tm);
            } else {
                ts.tm = M::translate(adv, 0.0).mul(&ts.tm);
            }
        }
    }
}

/// Chromium's ToUnicode maps many kanji to the look-alike radicals (`⼭⽥` for 山田; a
/// font's cmap gives both code points one glyph). Kangxi radicals (U+2F00–U+2FD5) have the
/// ideograph as their NFKC form; of the CJK Radicals Supplement (U+2E80–U+2EF3), which have
/// none, the ones that stand for a whole kanji are mapped by hand (⻄ 西, ⻑ 長, ⻘ 青 …), so
/// the extracted text reads (and is traced) as written.
fn radicals_to_ideographs(t: String) -> String {
    use unicode_normalization::UnicodeNormalization;
    const SUPPLEMENT: &[(char, char)] = &[
        ('\u{2E9F}', '母'), ('\u{2EA0}', '民'), ('\u{2EA9}', '王'), ('\u{2EAC}', '示'), ('\u{2EAE}', '竹'),
        ('\u{2EB7}', '羊'), ('\u{2EC4}', '西'), ('\u{2EC6}', '角'), ('\u{2ECA}', '足'), ('\u{2ED1}', '長'),
        ('\u{2ED7}', '雨'), ('\u{2ED8}', '青'), ('\u{2EDD}', '食'), ('\u{2EE4}', '鬼'), ('\u{2EE9}', '黄'),
        ('\u{2EEB}', '斉'), ('\u{2EED}', '歯'), ('\u{2EEF}', '竜'), ('\u{2EF2}', '亀'), ('\u{2EF3}', '亀'),
        // Kangxi radicals whose NFKC form is the traditional kanji, not the Japanese one the
        // glyph stands for (⿊ → 黑, but 黒滝村).
        ('\u{2FCA}', '黒'), ('\u{2FAD}', '青'), ('\u{2FC8}', '黄'),
    ];
    if !t.chars().any(|c| ('\u{2E80}'..='\u{2FDF}').contains(&c)) {
        return t;
    }
    let mut out = String::with_capacity(t.len());
    for c in t.chars() {
        if let Some(&(_, k)) = SUPPLEMENT.iter().find(|(r, _)| *r == c) {
            out.push(k);
        } else if ('\u{2F00}'..='\u{2FDF}').contains(&c) {
            out.extend(std::iter::once(c).nfkc());
        } else {
            out.push(c);
        }
    }
    out
}

/// A line's cell: its left edge, its text, and its glyphs (for re-cutting at column edges).
#[derive(Debug, Clone)]
struct Cell {
    x0: f64,
    text: String,
    glyphs: Vec<Glyph>,
}

/// Glyphs in x order → text: a gap of more than half the size is a space (producers draw
/// spaces as glyphs; LibreOffice adds about a quarter of an em between kanji and digits,
/// which must not split `28番8号`).
fn join_glyphs(glyphs: &[Glyph]) -> String {
    let mut t = String::new();
    let mut prev_end = f64::NEG_INFINITY;
    for g in glyphs {
        if g.x0 - prev_end > 0.5 * g.h.max(0.01) && !t.is_empty() && !t.ends_with(' ') && !g.text.starts_with(' ') {
            t.push(' ');
        }
        t.push_str(&g.text);
        prev_end = prev_end.max(g.x1);
    }
    t.trim().to_string()
}

/// Glyphs → lines (top to bottom) of cells (left to right): a horizontal gap of more than 0.8
/// of the size starts a new cell.
fn lines_of(mut glyphs: Vec<Glyph>) -> Vec<Vec<Cell>> {
    glyphs.retain(|g| g.x0.is_finite() && g.y.is_finite() && g.h.is_finite());
    glyphs.sort_by(|a, b| b.y.total_cmp(&a.y).then(a.x0.total_cmp(&b.x0)));
    let mut lines: Vec<Vec<Glyph>> = Vec::new();
    for g in glyphs {
        match lines.last_mut() {
            Some(l) if (l[0].y - g.y).abs() <= 0.4 * l[0].h.max(g.h).max(0.01) => l.push(g),
            _ => lines.push(vec![g]),
        }
    }
    let mut out = Vec::new();
    for mut l in lines {
        l.sort_by(|a, b| a.x0.total_cmp(&b.x0));
        let mut groups: Vec<Vec<Glyph>> = Vec::new();
        let mut prev_end = f64::NEG_INFINITY;
        for g in l {
            let x1 = g.x1;
            match groups.last_mut() {
                Some(c) if g.x0 - prev_end <= 0.8 * g.h.max(0.01) => c.push(g),
                _ => groups.push(vec![g]),
            }
            prev_end = prev_end.max(x1);
        }
        let cells: Vec<Cell> = groups
            .into_iter()
            .map(|g| Cell { x0: g[0].x0, text: join_glyphs(&g), glyphs: g })
            .filter(|c| !c.text.is_empty())
            .collect();
        if !cells.is_empty() {
            out.push(cells);
        }
    }
    out
}

/// Lines → page text and table rows. A run of lines with at least two cells, in which at
/// least three lines have the run's most common cell count and that count is at least three,
/// is a table (the first line its header). Its column edges are the leftmost start of each
/// column over those lines, and every glyph of every line in the run is placed in the column
/// whose edge is at or left of it: a cell whose text ran into the next one (a cell padded by
/// 1 px, the longest entry of a column) is cut apart again, and a short row's cells land under
/// the right columns even when the header is centred. Other lines are text, cells joined by
/// tabs.
fn split_tables(lines: &[Vec<Cell>]) -> (String, Vec<Vec<String>>) {
    let mut text = String::new();
    let mut table: Vec<Vec<String>> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let mut j = i;
        while j < lines.len() && lines[j].len() >= 2 {
            j += 1;
        }
        let run = &lines[i..j];
        let mut counts: std::collections::BTreeMap<usize, usize> = std::collections::BTreeMap::new();
        for l in run {
            *counts.entry(l.len()).or_default() += 1;
        }
        let (mode, n_mode) = counts.iter().max_by_key(|(k, n)| (**n, **k)).map(|(k, n)| (*k, *n)).unwrap_or((0, 0));
        if mode >= 3 && n_mode >= 3 {
            let mut edges = vec![f64::INFINITY; mode];
            for l in run.iter().filter(|l| l.len() == mode) {
                for (k, c) in l.iter().enumerate() {
                    edges[k] = edges[k].min(c.x0);
                }
            }
            let ordered = edges.windows(2).all(|w| w[0] < w[1]);
            for l in run {
                if l.len() == mode || !ordered {
                    table.push(l.iter().map(|c| c.text.clone()).collect());
                    continue;
                }
                let mut cols: Vec<Vec<Glyph>> = vec![Vec::new(); mode];
                for g in l.iter().flat_map(|c| &c.glyphs) {
                    let k = edges.iter().rposition(|&e| e <= g.x0 + 0.25 * g.h).unwrap_or(0);
                    cols[k].push(g.clone());
                }
                table.push(cols.iter().map(|g| join_glyphs(g)).collect());
            }
            // A blank row keeps two tables of one page apart.
            table.push(Vec::new());
            i = j;
        } else {
            let end = j.max(i + 1);
            for l in &lines[i..end] {
                let cells: Vec<&str> = l.iter().map(|c| c.text.as_str()).collect();
                text.push_str(&cells.join("\t"));
                text.push('\n');
            }
            i = end;
        }
    }
    while table.last().is_some_and(|r| r.is_empty()) {
        table.pop();
    }
    (text, table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(x0: f64, y: f64, t: &str) -> Glyph {
        Glyph { x0, x1: x0 + 10.0 * t.chars().count() as f64, y, h: 10.0, text: t.into() }
    }

    fn texts(lines: &[Vec<Cell>]) -> Vec<Vec<String>> {
        lines.iter().map(|l| l.iter().map(|c| c.text.clone()).collect()).collect()
    }

    #[test]
    fn gaps_split_cells_and_small_gaps_are_spaces() {
        let lines = lines_of(vec![g(0.0, 700.0, "山"), g(10.0, 700.0, "田"), g(26.0, 700.0, "太"), g(36.0, 700.0, "郎"), g(55.0, 700.0, "奈"), g(65.0, 700.0, "良"), g(77.0, 700.0, "1")]);
        assert_eq!(texts(&lines), vec![vec!["山田 太郎", "奈良1"]]);
    }

    #[test]
    fn aligned_lines_become_a_table_cut_at_the_column_edges() {
        let mut gl = vec![g(0.0, 800.0, "住民名簿")];
        // Header centred over its columns; row 2's name ran into its address (no gap).
        let rows: [&[(f64, &str)]; 4] = [
            &[(5.0, "番号"), (60.0, "氏名"), (160.0, "住所")],
            &[(0.0, "1"), (40.0, "山田太郎"), (120.0, "奈良県奈良市")],
            &[(0.0, "2"), (45.0, "佐々木真由美子"), (120.0, "奈良県生駒市")],
            &[(0.0, "3"), (40.0, "鈴木一郎"), (120.0, "奈良県天理市")],
        ];
        for (r, cells) in rows.iter().enumerate() {
            for (x, t) in cells.iter() {
                // One glyph per character, as drawn.
                for (k, ch) in t.chars().enumerate() {
                    gl.push(g(x + 10.0 * k as f64, 780.0 - 20.0 * r as f64, &ch.to_string()));
                }
            }
        }
        gl.push(g(0.0, 600.0, "以上"));
        gl.push(g(0.0, 580.0, "a"));
        gl.push(g(40.0, 580.0, "b"));
        let (text, table) = split_tables(&lines_of(gl));
        assert_eq!(text, "住民名簿\n以上\na\tb\n");
        assert_eq!(table.len(), 4, "{table:?}");
        assert_eq!(table[0], vec!["番号", "氏名", "住所"]);
        assert_eq!(table[1], vec!["1", "山田太郎", "奈良県奈良市"]);
        assert_eq!(table[2], vec!["2", "佐々木真由美子", "奈良県生駒市"], "cut at the edge of 住所 (x 120)");
        assert_eq!(table[3], vec!["3", "鈴木一郎", "奈良県天理市"]);
    }

    #[test]
    fn two_column_forms_stay_text() {
        let gl = vec![g(0.0, 700.0, "氏名"), g(100.0, 700.0, "山田太郎"), g(0.0, 680.0, "住所"), g(100.0, 680.0, "奈良県奈良市"), g(0.0, 660.0, "電話"), g(100.0, 660.0, "090-1234-5678")];
        let (text, table) = split_tables(&lines_of(gl));
        assert!(table.is_empty());
        assert_eq!(text, "氏名\t山田太郎\n住所\t奈良県奈良市\n電話\t090-1234-5678\n");
    }
}
