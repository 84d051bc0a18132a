//! Detectors over normalised text (see [`crate::normalize`]).
//!
//! One pass of the lexicon's matchers finds surnames, places, eras and context words; one pass
//! over digit runs (a vectorisable byte prefilter) finds every number-shaped token; `@` is
//! found with `memchr`. Each candidate's confidence comes from its own shape (check digit,
//! grouping) and from the *nearest label before it* (個人番号, 注文番号 …) within a window,
//! so "注文番号 123456789018 / 個人番号 123456789018" gives a decoy and a strong finding.
//! Phone-shaped 11-digit numbers are phones, not 住民票コード; numbers glued to letters
//! (`ABC-1234…`) are product codes.

use crate::Kind;
use crate::lexicon::{ERAS, Hit, Label, Pat, lexicon};
use std::cell::Cell;

/// A finding in normalised coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// What it is.
    pub kind: Kind,
    /// Start byte in the normalised text.
    pub start: usize,
    /// End byte (exclusive) in the normalised text.
    pub end: usize,
    /// The value, normalised (digits without separators for IDs).
    pub value: Value,
    /// 0..1.
    pub confidence: f32,
}

/// A candidate's value, a `str` (by `Deref`): up to 24 bytes in place, longer ones
/// (addresses, some e-mails) on the heap. Dense records give a candidate every ~100 bytes and
/// ~87 % of their values are that short (IDs, dates, names): a `String` each cost an
/// allocation, a scattered write and a free. A `CompactString`, not an inline buffer of our
/// own: this crate has no `unsafe`, and the UTF-8 check of such a buffer on every `Deref`
/// cost ~1 % of a dense scan (`str::from_utf8`, measured).
#[derive(Clone)]
pub struct Value(compact_str::CompactString);

impl Value {
    /// The value as a `str`.
    #[inline]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// `bytes` (ASCII) as a value.
    fn ascii<const N: usize>(bytes: [u8; N]) -> Value {
        Value(compact_str::CompactString::from_utf8(bytes).unwrap_or_default())
    }
}

impl From<&str> for Value {
    #[inline]
    fn from(s: &str) -> Value {
        Value(compact_str::CompactString::new(s))
    }
}

impl std::ops::Deref for Value {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        self.as_str() == other.as_str()
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self.as_str(), f)
    }
}

/// How far before a value its label may stand (bytes of normalised text; ≈ 50 kanji).
const LABEL_WINDOW: usize = 150;
/// How far the city hall's own words reach (public notices).
const OFFICE_WINDOW: usize = 90;
/// Confidence of a labelled 住民票コード whose check digit fails (see the 11-digit rule):
/// below the CLI's default `--min-confidence` of 0.5.
pub const JUMINHYO_UNCHECKED_CONFIDENCE: f32 = 0.4;

struct Ctx<'a> {
    text: &'a str,
    hits: &'a [Hit],
    /// The number/field labels among the hits (For, Decoy, Symbol), ascending: the only
    /// ones [`Ctx::nearest_label`] returns (the nearest of them before a position is the
    /// one it wants, since hits do not overlap and their ends ascend too).
    num_labels: &'a [Hit],
    /// Job titles and the city hall's own words (for [`Ctx::near`]), ascending.
    titles: &'a [Hit],
    offices: &'a [Hit],
    /// Cursors into the three lists: candidates are asked about in text order within each
    /// pass, so the next answer is usually at or just after the last one.
    num_cursor: Cell<usize>,
    title_cursor: Cell<usize>,
    office_cursor: Cell<usize>,
    hint: Option<Label>,
}

/// How many of `list` end at or before `pos`, walking on from the last answer (`cursor`) when
/// `pos` did not go back, else by binary search.
#[inline]
fn ended_by(list: &[Hit], pos: usize, cursor: &Cell<usize>) -> usize {
    let mut i = cursor.get();
    if i > list.len() || (i > 0 && list[i - 1].end > pos) {
        i = list.partition_point(|h| h.end <= pos);
    } else {
        let mut steps = 0;
        while i < list.len() && list[i].end <= pos {
            i += 1;
            steps += 1;
            if steps == 8 {
                i = gallop(list, i, pos);
                break;
            }
        }
    }
    cursor.set(i);
    i
}

/// How many of `list` end at or before `pos`, given that the first `i` do: probes 16, 32, 64 …
/// hits on from `i`, then a binary search between the last two probes. A binary search over
/// the whole rest of a list of ~100k hits missed the cache on nearly every probe (the
/// answer is usually a few dozen hits on); this one touches lines near the answer.
fn gallop(list: &[Hit], mut i: usize, pos: usize) -> usize {
    let mut span = 16;
    loop {
        let probe = i + span;
        if probe >= list.len() || list[probe].end > pos {
            let hi = probe.min(list.len());
            return i + list[i..hi].partition_point(|h| h.end <= pos);
        }
        // Ends ascend: every hit up to `probe` ends at or before `pos`.
        i = probe + 1;
        span *= 2;
    }
}

impl Ctx<'_> {
    /// The nearest number/field label (For, Decoy, Symbol) ending at or before `pos`, at any
    /// distance, and that distance: one lookup per token, whatever windows it is asked about.
    fn label_before(&self, pos: usize) -> Option<(Label, usize)> {
        let i = ended_by(self.num_labels, pos, &self.num_cursor);
        if i > 0
            && let h = self.num_labels[i - 1]
            && let Pat::Ctx(l) = h.pat
        {
            return Some((l, pos - h.end));
        }
        None
    }

    /// [`Ctx::nearest_label`] from a [`Ctx::label_before`] answer.
    fn within(&self, before: Option<(Label, usize)>, window: usize) -> Option<(Label, usize)> {
        match before {
            Some((l, d)) if d <= window => Some((l, d)),
            _ => self.hint.map(|l| (l, window)),
        }
    }

    /// The nearest label before `pos` among number/field labels (For, Decoy, Symbol).
    fn nearest_label(&self, pos: usize, window: usize) -> Option<(Label, usize)> {
        self.within(self.label_before(pos), window)
    }

    fn label_for(&self, pos: usize, kinds: &[Kind]) -> LabelVerdict {
        self.verdict(self.label_before(pos), pos, kinds)
    }

    /// [`Ctx::label_for`] from a [`Ctx::label_before`] answer at `pos`.
    fn verdict(&self, before: Option<(Label, usize)>, pos: usize, kinds: &[Kind]) -> LabelVerdict {
        match self.within(before, LABEL_WINDOW) {
            Some((Label::For(k), _)) if kinds.contains(&k) => LabelVerdict::Yes,
            Some((Label::Symbol, _)) if kinds.contains(&Kind::HealthInsurance) && self.health_near(pos) => LabelVerdict::Yes,
            Some((Label::Decoy, _)) => LabelVerdict::Decoy,
            Some((Label::For(_), d)) if d < 40 => LabelVerdict::Other,
            _ => LabelVerdict::None,
        }
    }

    fn health_near(&self, pos: usize) -> bool {
        let from = pos.saturating_sub(200);
        let s = floor_char(self.text, from);
        self.text[s..pos].contains("保険")
    }

    /// Is a word of `label` (Title or Office) within `before` bytes before `start` or `after`
    /// bytes after `end`?
    fn near(&self, start: usize, end: usize, label: Label, before: usize, after: usize) -> bool {
        let (list, cursor) = match label {
            Label::Title => (self.titles, &self.title_cursor),
            Label::Office => (self.offices, &self.office_cursor),
            _ => unreachable!("near() is asked about titles and office words"),
        };
        let i = ended_by(list, start, cursor);
        if i > 0 && start - list[i - 1].end <= before {
            return true;
        }
        list[i..].iter().take_while(|h| h.start < end + after).any(|h| h.start >= end)
    }

    /// The hit starting at `pos`, looked for from `*from` on (every hit before `*from` must
    /// start before `pos`), which it leaves at the first hit starting at or after `pos`: the
    /// words' checks ask about a few positions just after the hit they are at, in order.
    fn hit_from(&self, from: &mut usize, pos: usize) -> Option<Hit> {
        let mut i = *from;
        while i < self.hits.len() && self.hits[i].start < pos {
            i += 1;
        }
        *from = i;
        self.hits.get(i).filter(|h| h.start == pos).copied()
    }
}

#[derive(PartialEq)]
enum LabelVerdict {
    Yes,
    Decoy,
    Other,
    None,
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Detect everything in normalised `text`. `hint` acts as a label standing before the text
/// (a table column's header).
pub fn detect(text: &str, hint: Option<Label>) -> Vec<Candidate> {
    let mut out = Vec::new();
    detect_into(text, hint, &mut out);
    out
}

/// [`detect`] into `out` (cleared first). The lists detection builds on the way (the
/// lexicon's hits, the labels among them, each pass's candidates) are kept per thread for the
/// next text, as `out` is by a caller going from text to text: for dense records they are
/// several times the text's size, and fresh ones cost the kernel a page fault per 4 KiB
/// (with the allocator's copies as they grew, about a quarter of a scan's time, measured).
pub fn detect_into(text: &str, hint: Option<Label>, out: &mut Vec<Candidate>) {
    let mut scratch = crate::take_buffer(&SCRATCH);
    detect_with(text, hint, &mut scratch, out, BLOCK);
    crate::keep_buffer(&SCRATCH, scratch);
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// What [`detect_into`] builds on the way, kept between texts (see there).
#[derive(Default)]
pub(crate) struct Scratch {
    hits: Vec<Hit>,
    num_labels: Vec<Hit>,
    titles: Vec<Hit>,
    offices: Vec<Hit>,
    word_hits: Vec<usize>,
    /// The candidates of the three passes: numbers, e-mails, words.
    runs: [Vec<Candidate>; 3],
}

impl crate::Buffer for Scratch {
    fn capacity_bytes(&self) -> usize {
        let hits = self.hits.capacity() + self.num_labels.capacity() + self.titles.capacity() + self.offices.capacity();
        let runs: usize = self.runs.iter().map(Vec::capacity).sum();
        hits * size_of::<Hit>() + self.word_hits.capacity() * size_of::<usize>() + runs * size_of::<Candidate>()
    }
    fn clear_contents(&mut self) {
        // The candidates' values are dropped now, not when the next text comes.
        self.runs.iter_mut().for_each(Vec::clear);
    }
}

fn detect_with(text: &str, hint: Option<Label>, scratch: &mut Scratch, out: &mut Vec<Candidate>, block: usize) {
    let Scratch {
        hits,
        num_labels,
        titles,
        offices,
        word_hits,
        runs,
    } = scratch;
    lexicon().find_into(text, hits);
    label_lists(hits, num_labels, titles, offices, word_hits);
    // One context per pass: each pass asks about positions in text order, so its cursors
    // only walk forward.
    let cx = || Ctx {
        text,
        num_labels,
        titles,
        offices,
        num_cursor: Cell::new(0),
        title_cursor: Cell::new(0),
        office_cursor: Cell::new(0),
        hits,
        hint,
    };
    let (cn, ce, cw) = (cx(), cx(), cx());
    // Dense records: about one number candidate per ~170 bytes, one word candidate per ~4
    // hits; each pass reserves once.
    let [nums, mails, wds] = &mut *runs;
    nums.clear();
    nums.reserve(text.len() / 128);
    mails.clear();
    wds.clear();
    wds.reserve(word_hits.len());
    // The three passes go through the text a block at a time, each taking up where it left
    // off: one pass after another over the whole text read it from memory again (the words'
    // first look at the text after an era, in `ymd_at`, was most of that function's time).
    // Each pass's candidates are those of one whole pass (a pass reads past a block's end as
    // far as a token, e-mail or word goes, and starts the next block after it).
    let (mut num_at, mut mail_at, mut word_at) = (NumbersAt::default(), EmailsAt::default(), WordsAt::default());
    let mut from = 0;
    while from < text.len() {
        let until = from.saturating_add(block).min(text.len());
        numbers(&cn, &mut num_at, until, nums);
        emails(&ce, &mut mail_at, until, mails);
        words(&cw, word_hits, &mut word_at, until, wds);
        from = until;
    }
    resolve_overlaps(runs, out);
}

/// The text's bytes per block of [`detect_with`]'s passes: a block, its hits and its
/// candidates stay in the core's cache (1 MiB of L2 here) from one pass to the next.
const BLOCK: usize = 64 << 10;

/// The number/field labels, the job titles and the city hall's words among `hits`, and the
/// indices of the hits [`words`] looks at (surnames, municipalities, eras: the rest of its
/// walk over every hit was a skip), in one counting pass and one filling pass (exact
/// capacities: no regrowth of lists of ~70k hits), into the four lists (cleared first).
fn label_lists(hits: &[Hit], a: &mut Vec<Hit>, b: &mut Vec<Hit>, c: &mut Vec<Hit>, w: &mut Vec<usize>) {
    // 0: number/field label, 1: title, 2: office, 3: a word of [`words`], 4: a prefecture.
    let class = |h: &Hit| match h.pat {
        Pat::Ctx(Label::For(_) | Label::Decoy | Label::Symbol) => 0,
        Pat::Ctx(Label::Title) => 1,
        Pat::Ctx(Label::Office) => 2,
        Pat::Surname | Pat::Municipality | Pat::Era(_) => 3,
        Pat::Prefecture => 4,
    };
    let mut n = [0usize; 5];
    for h in hits {
        n[class(h)] += 1;
    }
    for (v, n) in [(&mut *a, n[0]), (&mut *b, n[1]), (&mut *c, n[2])] {
        v.clear();
        v.reserve(n);
    }
    w.clear();
    w.reserve(n[3]);
    for (i, h) in hits.iter().enumerate() {
        match class(h) {
            0 => a.push(*h),
            1 => b.push(*h),
            2 => c.push(*h),
            3 => w.push(i),
            _ => {}
        }
    }
}

/// The candidates of the three passes in order of start (longest first at one start; at the
/// same start and end, numbers before e-mails before words), an overlapping one replacing the
/// one it overlaps only when more confident. Each pass yields its candidates in that order
/// already (one per token, per `@`, per hit, at ascending starts), so a merge of the three runs
/// gives what a stable sort of their concatenation gives, without the sort's moves; a run
/// out of order (not expected) is sorted first.
/// Into `out` (cleared first); the runs are left empty, with their capacity.
fn resolve_overlaps(runs: &mut [Vec<Candidate>; 3], out: &mut Vec<Candidate>) {
    let key = |c: &Candidate| (c.start, std::cmp::Reverse(c.end));
    for r in runs.iter_mut() {
        if !r.is_sorted_by_key(key) {
            r.sort_by_key(key);
        }
    }
    out.clear();
    out.reserve(runs.iter().map(Vec::len).sum());
    let mut its = runs.each_mut().map(|r| r.drain(..));
    // After every real key (a start is below usize::MAX): an exhausted run.
    const DONE: (usize, std::cmp::Reverse<usize>) = (usize::MAX, std::cmp::Reverse(0));
    loop {
        // The run whose next candidate comes first, the earlier run on a tie (stable), looked
        // at in place: each candidate is moved once, into `out`.
        let [k0, k1, k2] = [0, 1, 2].map(|i| its[i].as_slice().first().map_or(DONE, key));
        let i = if k0 <= k1 && k0 <= k2 {
            0
        } else if k1 <= k2 {
            1
        } else {
            2
        };
        let Some(c) = its[i].next() else { break };
        if let Some(last) = out.last_mut()
            && c.start < last.end
        {
            if c.confidence > last.confidence {
                *last = c;
            }
            continue;
        }
        out.push(c);
    }
}

// ---------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------

/// Position of the next ASCII digit at or after `from`. Hand-written, since `memchr` has no
/// byte-range search: a 32-byte "any digit?" test that LLVM vectorises (compare, movemask),
/// then the first digit of a chunk that has one from eight-byte words (dense records have a
/// digit in most chunks; no second byte-by-byte scan).
#[inline]
fn next_digit(b: &[u8], mut from: usize) -> Option<usize> {
    while from + 32 <= b.len() {
        let chunk: &[u8; 32] = b[from..from + 32].try_into().expect("32 bytes");
        let mut any = 0u8;
        for &x in chunk {
            any |= (x.wrapping_sub(b'0') < 10) as u8;
        }
        if any != 0 {
            for (w, word) in chunk.chunks_exact(8).enumerate() {
                let m = digit_bytes(u64::from_le_bytes(word.try_into().expect("8 bytes")));
                if m != 0 {
                    return Some(from + w * 8 + m.trailing_zeros() as usize / 8);
                }
            }
        }
        from += 32;
    }
    b[from..].iter().position(|x| x.is_ascii_digit()).map(|p| from + p)
}

/// The high bit of each byte of `x` that is an ASCII digit, exactly: `t = byte ^ 0x30` is
/// below 10 for digits only; `(t & 0x7f) + 0x76` sets the high bit when `t & 0x7f >= 10` and
/// cannot carry into the next byte.
#[inline]
fn digit_bytes(x: u64) -> u64 {
    const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HI: u64 = 0x8080_8080_8080_8080;
    let t = x ^ 0x3030_3030_3030_3030;
    let h = (t & LO7).wrapping_add(0x7676_7676_7676_7676);
    !(h | t) & HI
}

const SEP_DASH: u8 = 1;
const SEP_SPACE: u8 = 2;
const SEP_DOT: u8 = 4;
const SEP_SLASH: u8 = 8;
const SEP_PAREN: u8 = 16;
const SEP_OTHER: u8 = 32;

/// A number-shaped token, in fixed arrays (no allocation): dense records have a digit run
/// every few dozen bytes.
struct Tok {
    start: usize,
    end: usize,
    /// The digits without separators (the first 24 of each group, at most 48 in all).
    dbuf: [u8; 48],
    dlen: usize,
    /// Digits per group.
    gbuf: [u8; 8],
    glen: usize,
    seps: u8,
}

impl Tok {
    fn shape(&self, g: &[u8]) -> bool {
        self.groups() == g
    }

    fn groups(&self) -> &[u8] {
        &self.gbuf[..self.glen]
    }

    /// The digits: a slice of `text` itself for one group (no UTF-8 check of a copy).
    fn digits<'a>(&'a self, text: &'a str) -> &'a str {
        if self.glen == 1 {
            return &text[self.start..self.start + self.dlen];
        }
        // ASCII digits only.
        std::str::from_utf8(&self.dbuf[..self.dlen]).unwrap_or("")
    }
}

/// The end of the run of ASCII digits at `j`, eight bytes at a time (groups are 1–8 digits).
#[inline]
fn digits_end(b: &[u8], mut j: usize) -> usize {
    while let Some(w) = b.get(j..j + 8) {
        let m = digit_bytes(u64::from_le_bytes(w.try_into().expect("8 bytes")));
        // The first byte that is not a digit (8 when all are).
        let n = (!m & 0x8080_8080_8080_8080).trailing_zeros() as usize / 8;
        j += n;
        if n < 8 {
            return j;
        }
    }
    while j < b.len() && b[j].is_ascii_digit() {
        j += 1;
    }
    j
}

/// `dbuf[at..at + n] = b[from..from + n]` for `at, n <= 24`: a fixed 24-byte copy when the text
/// has the bytes (no `memcpy` call per group; what lands after `at + n` is overwritten by the
/// next group or lies past `dlen`).
#[inline]
fn copy_digits(dbuf: &mut [u8; 48], at: usize, b: &[u8], from: usize, n: usize) {
    match b.get(from..from + 24) {
        Some(src) => dbuf[at..at + 24].copy_from_slice(src),
        None => dbuf[at..at + n].copy_from_slice(&b[from..from + n]),
    }
}

/// The separator kind of each one-byte separator, 0 for any other byte.
const SEP_OF: [u8; 256] = {
    let mut t = [0; 256];
    t[b'-' as usize] = SEP_DASH;
    t[b' ' as usize] = SEP_SPACE;
    t[b'.' as usize] = SEP_DOT;
    t[b'/' as usize] = SEP_SLASH;
    t[b'(' as usize] = SEP_PAREN;
    t[b')' as usize] = SEP_PAREN;
    t[b',' as usize] = SEP_OTHER;
    t[b':' as usize] = SEP_OTHER;
    t
};

/// The separator at `i` and its length: one table load for the one-byte ones (asked after
/// every digit run).
#[inline]
fn sep_at(b: &[u8], i: usize) -> Option<(u8, usize)> {
    let c = *b.get(i)?;
    let k = SEP_OF[c as usize];
    if k != 0 {
        return Some((k, 1));
    }
    // ー (katakana prolonged sound mark) typed as a dash between digits.
    (c == 0xE3 && b.get(i + 1) == Some(&0x83) && b.get(i + 2) == Some(&0xBC)).then_some((SEP_DASH, 3))
}

/// Where [`numbers`] goes on from: no digit token starts between the last one's end and `i`.
#[derive(Default)]
struct NumbersAt {
    i: usize,
}

/// The number candidates of the tokens starting before `until`, from `at` on.
fn numbers(cx: &Ctx, at: &mut NumbersAt, until: usize, out: &mut Vec<Candidate>) {
    let b = cx.text.as_bytes();
    let mut i = at.i;
    loop {
        let Some(s) = next_digit(b, i) else {
            at.i = b.len();
            return;
        };
        if s >= until {
            at.i = s;
            return;
        }
        // A lone digit with neither a digit nor a separator after it (令和6年, 4丁目; many
        // digit runs) is skipped before a token is built: it would be one.
        if !b.get(s + 1).is_some_and(u8::is_ascii_digit) && sep_at(b, s + 1).is_none() {
            i = s + 1;
            continue;
        }
        let mut t = Tok {
            start: s,
            end: s,
            dbuf: [0; 48],
            dlen: 0,
            gbuf: [0; 8],
            glen: 0,
            seps: 0,
        };
        let mut j = s;
        loop {
            let g0 = j;
            j = digits_end(b, j);
            // The digits are copied only for a token of several groups (`Tok::digits` slices
            // the text for one): the first group when the second one starts.
            if t.glen == 1 {
                copy_digits(&mut t.dbuf, 0, b, s, t.dlen);
            }
            if t.dlen < 24 {
                let take = (j - g0).min(24);
                if t.glen > 0 {
                    copy_digits(&mut t.dbuf, t.dlen, b, g0, take);
                }
                t.dlen += take;
            }
            t.gbuf[t.glen] = (j - g0).min(255) as u8;
            t.glen += 1;
            t.end = j;
            // One separator (a ")" may be followed by a space or dash) then a digit.
            let mut k = j;
            let mut seps = 0;
            let mut nsep = 0;
            while let Some((kind, len)) = sep_at(b, k) {
                seps |= kind;
                k += len;
                nsep += 1;
                if nsep == 2 && seps & SEP_PAREN == 0 {
                    break;
                }
                if nsep > 2 {
                    break;
                }
            }
            if nsep == 0 || nsep > 2 || !(k < b.len() && b[k].is_ascii_digit()) || t.glen >= 8 {
                break;
            }
            if nsep == 2 && seps & SEP_PAREN == 0 {
                break;
            }
            t.seps |= seps;
            j = k;
        }
        i = t.end.max(s + 1);
        // A lone digit is nothing (no date, passport, phone, ID or labelled number has one
        // digit); dense records have many (令和6年4月1日, 4丁目).
        if t.glen == 1 && t.dlen == 1 {
            continue;
        }
        classify(cx, &t, out);
    }
}

fn glued_before(b: &[u8], s: usize) -> bool {
    if s == 0 {
        return false;
    }
    let p = b[s - 1];
    if p.is_ascii_alphanumeric() || p == b'_' {
        return true;
    }
    (p == b'-' || p == b'#') && s >= 2 && (b[s - 2].is_ascii_alphanumeric())
}

fn glued_after(b: &[u8], e: usize) -> bool {
    match b.get(e) {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' => true,
        Some(b'-') => b.get(e + 1).is_some_and(|c| c.is_ascii_alphanumeric()),
        _ => false,
    }
}

fn push(out: &mut Vec<Candidate>, kind: Kind, start: usize, end: usize, value: impl Into<Value>, confidence: f32) {
    out.push(Candidate {
        kind,
        start,
        end,
        value: value.into(),
        confidence,
    });
}

/// The candidate of number token `t` (not a lone digit: [`numbers`] skips those), if any.
fn classify(cx: &Ctx, t: &Tok, out: &mut Vec<Candidate>) {
    let b = cx.text.as_bytes();
    // Dates first: they have their own shapes (S45.3.2, 1970/03/02, 1970年3月2日); only a
    // token of three groups or with a four-digit first group can start one (the
    // [`date_at_token`] call is skipped for the rest).
    if (t.gbuf[0] == 4 || (t.glen >= 3 && t.gbuf[0] <= 2))
        && let Some((end, y, m, d, era_start)) = date_at_token(cx.text, t)
    {
        let start = era_start.unwrap_or(t.start);
        birth(cx, start, end, y, m, d, out);
        return;
    }
    // Passport: two capital letters glued before seven digits.
    if t.glen == 1 && t.gbuf[0] == 7 && t.start >= 2 {
        let (a, c) = (b[t.start - 2], b[t.start - 1]);
        let third = t.start >= 3 && b[t.start - 3].is_ascii_alphanumeric();
        if a.is_ascii_uppercase() && c.is_ascii_uppercase() && !third && !glued_after(b, t.end) {
            let conf = match cx.label_for(t.start - 2, &[Kind::Passport]) {
                LabelVerdict::Yes => 0.9,
                LabelVerdict::Decoy => 0.05,
                LabelVerdict::Other => 0.15,
                LabelVerdict::None => 0.35,
            };
            push(
                out,
                Kind::Passport,
                t.start - 2,
                t.end,
                &cx.text[t.start - 2..t.end],
                conf,
            );
            return;
        }
    }
    if glued_before(b, t.start) || glued_after(b, t.end) || t.seps & SEP_OTHER != 0 {
        return;
    }
    let n = t.dlen;
    let d = t.digits(cx.text);
    let g = t.groups();
    let single = g.len() == 1;
    let dash_only = t.seps & !(SEP_DASH) == 0;
    let clean = t.seps & !(SEP_DASH | SEP_SPACE) == 0 && (t.seps.count_ones() <= 1);
    // The label before the token, looked up once (most tokens ask about it more than once).
    let memo: Cell<Option<Option<(Label, usize)>>> = Cell::new(None);
    let before = || {
        if let Some(r) = memo.get() {
            return r;
        }
        let r = cx.label_before(t.start);
        memo.set(Some(r));
        r
    };
    let lv = |kinds: &[Kind]| cx.verdict(before(), t.start, kinds);

    // 〒 / postal code NNN-NNNN.
    if t.shape(&[3, 4]) && dash_only {
        let mark = t.start >= 3 && &cx.text[floor_char(cx.text, t.start - 3)..t.start] == "〒";
        let mark = mark || (t.start >= 4 && cx.text[floor_char(cx.text, t.start - 4)..t.start].trim_end() == "〒");
        let mut conf: f32 = match lv(&[Kind::PostalCode, Kind::Address]) {
            LabelVerdict::Yes => 0.75,
            LabelVerdict::Decoy => 0.05,
            _ if mark => 0.7,
            _ => 0.3,
        };
        if cx.near(t.start, t.end, Label::Office, OFFICE_WINDOW, 40) {
            conf = conf.min(0.25);
        }
        push(out, Kind::PostalCode, t.start, t.end, d, conf);
        return;
    }
    // Phone numbers (checked before the IDs: phone-shaped 10/11-digit numbers are phones).
    if let Some(conf) = phone_shape(d, g, t.seps) {
        let v = lv(&[Kind::Phone]);
        let mut c = match v {
            LabelVerdict::Yes => conf.max(0.8),
            LabelVerdict::Decoy => 0.05,
            LabelVerdict::Other if single => 0.1,
            _ => conf,
        };
        // An ID label right before a phone-shaped 11/12-digit number wins (個人番号 0901…).
        let id_kinds = [
            Kind::JuminhyoCode,
            Kind::MyNumber,
            Kind::DriversLicense,
            Kind::BasicPensionNumber,
            Kind::BankAccount,
            Kind::HealthInsurance,
        ];
        if !matches!(v, LabelVerdict::Yes) && single && lv(&id_kinds) == LabelVerdict::Yes {
            // fall through to the ID checks below
        } else {
            if cx.near(t.start, t.end, Label::Office, OFFICE_WINDOW, 40) {
                c = c.min(0.3);
            }
            push(out, Kind::Phone, t.start, t.end, d, c);
            return;
        }
    }
    if !clean {
        return;
    }
    // Credit cards: 13–19 digits, Luhn + IIN, grouped 4-4-4-4 / 4-6-5 / 4-4-4-4-3 or plain.
    if (13..=19).contains(&n)
        && crate::checkdigit::credit_card(d)
        && (single || g.iter().take(g.len() - 1).all(|&x| x == 4) || t.shape(&[4, 6, 5]) || t.shape(&[4, 6, 4]))
    {
        let c = match lv(&[Kind::CreditCard]) {
            LabelVerdict::Yes => 0.95,
            LabelVerdict::Decoy => 0.1,
            LabelVerdict::Other => 0.4,
            LabelVerdict::None => 0.7,
        };
        push(out, Kind::CreditCard, t.start, t.end, d, c);
        return;
    }
    // 12 digits: 運転免許証 (label decides) or 個人番号 (check digit + label).
    if n == 12 && (single || t.shape(&[4, 4, 4])) {
        if lv(&[Kind::DriversLicense]) == LabelVerdict::Yes {
            push(out, Kind::DriversLicense, t.start, t.end, d, 0.9);
            return;
        }
        if crate::checkdigit::my_number(d) {
            let c = match lv(&[Kind::MyNumber]) {
                LabelVerdict::Yes => 0.95,
                LabelVerdict::Decoy => 0.05,
                LabelVerdict::Other => 0.15,
                LabelVerdict::None if !single => 0.55,
                LabelVerdict::None => 0.4,
            };
            push(out, Kind::MyNumber, t.start, t.end, d, c);
        }
        return;
    }
    // 13 digits: 法人番号.
    if n == 13 && (single || t.shape(&[1, 4, 4, 4])) && crate::checkdigit::corporate_number(d) {
        let c = match lv(&[Kind::CorporateNumber]) {
            LabelVerdict::Yes => 0.9,
            LabelVerdict::Decoy => 0.05,
            LabelVerdict::Other => 0.15,
            LabelVerdict::None if !single => 0.5,
            LabelVerdict::None => 0.3,
        };
        push(out, Kind::CorporateNumber, t.start, t.end, d, c);
        return;
    }
    // 11 digits: 住民票コード.
    if n == 11 && (single || t.shape(&[4, 4, 3]) || t.shape(&[3, 4, 4])) {
        let labelled = lv(&[Kind::JuminhyoCode]);
        if crate::checkdigit::juminhyo_code(d) {
            let c = match labelled {
                LabelVerdict::Yes => 0.9,
                LabelVerdict::Decoy => 0.05,
                LabelVerdict::Other => 0.1,
                LabelVerdict::None => 0.3,
            };
            push(out, Kind::JuminhyoCode, t.start, t.end, d, c);
            return;
        }
        // The check-digit weights are not confirmed from 平成14年総務省告示第436号 itself
        // (docs/pii.md). So that an error in them cannot hide real codes, a *labelled*
        // 11-digit number that fails the check is still reported, below the default
        // --min-confidence (0.5): an invalid-check decoy stays out of the default output, and
        // `--min-confidence 0.4` shows every labelled code whatever the weights.
        if labelled == LabelVerdict::Yes {
            push(out, Kind::JuminhyoCode, t.start, t.end, d, JUMINHYO_UNCHECKED_CONFIDENCE);
            return;
        }
    }
    // 10 digits: 基礎年金番号 (4-6).
    if n == 10 && (t.shape(&[4, 6]) || single) {
        let c = match lv(&[Kind::BasicPensionNumber]) {
            LabelVerdict::Yes => 0.9,
            _ if t.shape(&[4, 6]) && dash_only => 0.35,
            _ => 0.0,
        };
        if c > 0.0 {
            push(out, Kind::BasicPensionNumber, t.start, t.end, d, c);
            return;
        }
    }
    // Labelled-only kinds: 口座番号 (7 digits), 被保険者 記号・番号 (1–10 digits).
    if single && n <= 10 {
        match cx.within(before(), 60) {
            Some((Label::For(Kind::BankAccount), _)) if n == 7 => {
                push(out, Kind::BankAccount, t.start, t.end, d, 0.9);
            }
            Some((Label::For(Kind::HealthInsurance), _)) if n >= 2 => {
                push(out, Kind::HealthInsurance, t.start, t.end, d, 0.85);
            }
            Some((Label::Symbol, _)) if n >= 2 && cx.health_near(t.start) => {
                push(out, Kind::HealthInsurance, t.start, t.end, d, 0.8);
            }
            _ => {}
        }
    }
}

/// Phone-number shapes with a base confidence: mobile 070/080/090, IP 050, free dial
/// 0120/0800 (an organisation's, so low), fixed lines (10 digits: 0 + area code of 1–4
/// digits + local number ending in four digits).
fn phone_shape(d: &str, g: &[u8], seps: u8) -> Option<f32> {
    let n = d.len();
    if !d.starts_with('0') || d.starts_with("00") || seps & (SEP_SLASH | SEP_DOT | SEP_OTHER) != 0 && seps & SEP_DOT == 0 {
        return None;
    }
    if seps & (SEP_SLASH | SEP_OTHER) != 0 {
        return None;
    }
    let single = g.len() == 1;
    let mobile = ["070", "080", "090", "050"].iter().any(|p| d.starts_with(p));
    if n == 11 && mobile && (single || g == [3, 4, 4]) {
        return Some(0.65);
    }
    if (n == 10 && d.starts_with("0120") && (single || g == [4, 3, 3] || g == [4, 2, 4]))
        || (n == 11 && d.starts_with("0800") && (single || g == [4, 3, 4]))
    {
        return Some(0.3);
    }
    if n == 10 && !mobile && !d.starts_with("0120") {
        if single {
            return Some(0.45);
        }
        if g.len() == 3 && g[2] == 4 && (2..=5).contains(&g[0]) && g[0] + g[1] == 6 {
            return Some(0.6);
        }
    }
    None
}

// ---------------------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------------------

/// Era boundaries (inclusive) as (y, m, d).
/// A Gregorian (year, month, day).
type Ymd = (i32, u32, u32);

const ERA_SPANS: [(Ymd, Ymd); 5] = [
    ((1868, 1, 1), (1912, 7, 29)),
    ((1912, 7, 30), (1926, 12, 24)),
    ((1926, 12, 25), (1989, 1, 7)),
    ((1989, 1, 8), (2019, 4, 30)),
    ((2019, 5, 1), (2118, 12, 31)),
];

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// Gregorian date of an era date, if it exists and lies inside the era.
pub fn era_to_gregorian(era: usize, year: u32, m: u32, d: u32) -> Option<(i32, u32, u32)> {
    let (_, first, max) = ERAS.get(era)?;
    if year == 0 || year as i32 > *max {
        return None;
    }
    let y = first + year as i32 - 1;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let (lo, hi) = ERA_SPANS[era];
    ((y, m, d) >= lo && (y, m, d) <= hi).then_some((y, m, d))
}

fn kanji_digit(c: char) -> Option<u32> {
    Some(match c {
        '〇' | '零' => 0,
        '一' => 1,
        '二' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

/// A number at byte `i`: ASCII digits (1–4) or 漢数字 (四十五, 十, 一九七〇), or 元 (= 1).
/// Leading spaces are skipped. Returns (value, end).
#[inline]
fn number_at(s: &str, mut i: usize) -> Option<(u32, usize)> {
    let b = s.as_bytes();
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    let st = i;
    while i < b.len() && b[i].is_ascii_digit() && i - st < 4 {
        i += 1;
    }
    if i > st {
        if b.get(i).is_some_and(|c| c.is_ascii_digit()) {
            return None;
        }
        // At most four ASCII digits: no `str::parse` (one per date part; dense records have many).
        let v = b[st..i].iter().fold(0u32, |v, &c| v * 10 + (c - b'0') as u32);
        return Some((v, i));
    }
    // No 漢数字 or 元 starts below 0xE3 (most date parts are ASCII digits; the kanji path is out
    // of line, so the digit path inlines into its callers).
    if b.get(i).is_some_and(|&c| c >= 0xE3) { kanji_number_at(s, i) } else { None }
}

/// [`number_at`] for 漢数字 or 元 at byte `i`.
#[inline(never)]
fn kanji_number_at(s: &str, i: usize) -> Option<(u32, usize)> {
    let rest = &s[i..];
    if rest.starts_with('元') {
        return Some((1, i + '元'.len_utf8()));
    }
    let mut val = 0u32;
    let mut cur = 0u32;
    let mut any = false;
    let mut positional = true; // 一九七〇 style
    let mut pos_val = 0u32;
    for (off, c) in rest.char_indices() {
        if let Some(dg) = kanji_digit(c) {
            cur = dg;
            pos_val = pos_val * 10 + dg;
            any = true;
        } else if c == '十' {
            val += if cur == 0 { 10 } else { cur * 10 };
            cur = 0;
            positional = false;
            any = true;
        } else if c == '百' {
            val += if cur == 0 { 100 } else { cur * 100 };
            cur = 0;
            positional = false;
            any = true;
        } else {
            if !any {
                return None;
            }
            let v = if positional { pos_val } else { val + cur };
            return Some((v, i + off));
        }
        if off > 12 {
            return None;
        }
    }
    if any {
        let v = if positional { pos_val } else { val + cur };
        return Some((v, s.len()));
    }
    None
}

fn skip_spaces(b: &[u8], mut i: usize) -> usize {
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    i
}

/// "Y年M月D日" or "Y.M.D" / "Y/M/D" / "Y-M-D" at byte `i`; returns (y, m, d, end).
fn ymd_at(s: &str, i: usize) -> Option<(u32, u32, u32, usize)> {
    let (y, j) = number_at(s, i)?;
    let b = s.as_bytes();
    let j = skip_spaces(b, j);
    if s[j..].starts_with('年') {
        let (m, k) = number_at(s, j + 3)?;
        let k = skip_spaces(b, k);
        if !s[k..].starts_with('月') {
            return None;
        }
        let (d, l) = number_at(s, k + 3)?;
        let l = skip_spaces(b, l);
        if !s[l..].starts_with('日') {
            return None;
        }
        return Some((y, m, d, l + 3));
    }
    let sep = *b.get(j)?;
    if !matches!(sep, b'.' | b'/' | b'-') {
        return None;
    }
    let (m, k) = number_at(s, j + 1)?;
    if b.get(k) != Some(&sep) || !b.get(k + 1).is_some_and(|c| c.is_ascii_digit()) {
        return None;
    }
    let (d, l) = number_at(s, k + 1)?;
    if b.get(l).is_some_and(|c| c.is_ascii_digit() || *c == sep) {
        return None;
    }
    Some((y, m, d, l))
}

/// A date starting at a digit token: letter era (S45.3.2) or Western (1970/3/2, 1970年3月2日).
/// Returns (end, y, m, d, start if the date starts before the token).
fn date_at_token(s: &str, t: &Tok) -> Option<(usize, i32, u32, u32, Option<usize>)> {
    let b = s.as_bytes();
    let letter = if t.start >= 1 { Some(b[t.start - 1]) } else { None };
    let letter_era = match letter {
        Some(b'M') => Some(0),
        Some(b'T') => Some(1),
        Some(b'S') => Some(2),
        Some(b'H') => Some(3),
        Some(b'R') => Some(4),
        _ => None,
    };
    if let Some(era) = letter_era
        && !(t.start >= 2 && b[t.start - 2].is_ascii_alphanumeric())
        && t.glen >= 3
        && t.gbuf[0] <= 2
    {
        let (y, m, d, end) = ymd_at(s, t.start)?;
        let (gy, gm, gd) = era_to_gregorian(era, y, m, d)?;
        return Some((end, gy, gm, gd, Some(t.start - 1)));
    }
    if t.gbuf[0] == 4 && (t.glen >= 3 || s[t.start + 4..].trim_start_matches(' ').starts_with('年')) {
        let (y, m, d, end) = ymd_at(s, t.start)?;
        if !(1868..=2100).contains(&y) || !(1..=12).contains(&m) || d == 0 || d > days_in_month(y as i32, m) {
            return None;
        }
        return Some((end, y as i32, m, d, None));
    }
    None
}

/// `YYYY-MM-DD` without `format!` (one per date; dense records have many).
fn iso_date(y: i32, m: u32, d: u32) -> Value {
    let y = y.clamp(0, 9999) as u32;
    let digit = |v: u32| b'0' + (v % 10) as u8;
    Value::ascii([
        digit(y / 1000),
        digit(y / 100),
        digit(y / 10),
        digit(y),
        b'-',
        digit(m / 10),
        digit(m),
        b'-',
        digit(d / 10),
        digit(d),
    ])
}

fn birth(cx: &Ctx, start: usize, end: usize, y: i32, m: u32, d: u32, out: &mut Vec<Candidate>) {
    let labelled = matches!(cx.nearest_label(start, 60), Some((Label::For(Kind::BirthDate), _)));
    // 生 (生まれ) within 12 bytes after the date, past spaces and parentheses: by bytes.
    let b = cx.text.as_bytes();
    let lim = floor_char(cx.text, (end + 12).min(b.len()));
    let mut i = end;
    while i < lim && matches!(b[i], b' ' | b'(' | b')') {
        i += 1;
    }
    let born = b[i..lim].starts_with("生".as_bytes());
    let conf = if labelled {
        0.9
    } else if born {
        0.85
    } else {
        0.15
    };
    push(out, Kind::BirthDate, start, end, iso_date(y, m, d), conf);
}

// ---------------------------------------------------------------------------------------
// E-mail
// ---------------------------------------------------------------------------------------

/// Where [`emails`] goes on from: the next `@` to look at is at or after `from`; the last
/// e-mail ended at `last_end`.
#[derive(Default)]
struct EmailsAt {
    from: usize,
    last_end: usize,
}

/// The e-mails of the `@`s before `until`, from `state` on.
fn emails(cx: &Ctx, state: &mut EmailsAt, until: usize, out: &mut Vec<Candidate>) {
    let b = cx.text.as_bytes();
    let local = |c: u8| c.is_ascii_alphanumeric() || b"._%+-".contains(&c);
    let dom = |c: u8| c.is_ascii_alphanumeric() || c == b'.' || c == b'-';
    let from = state.from;
    state.from = until.max(from);
    let mut last_end = state.last_end;
    for at in memchr::memchr_iter(b'@', &b[from..until.max(from)]).map(|p| p + from) {
        if at < last_end {
            continue;
        }
        let mut s = at;
        while s > 0 && local(b[s - 1]) && at - s < 64 {
            s -= 1;
        }
        let mut e = at + 1;
        while e < b.len() && dom(b[e]) && e - at < 255 {
            e += 1;
        }
        while e > at + 1 && (b[e - 1] == b'.' || b[e - 1] == b'-') {
            e -= 1;
        }
        if s == at || e <= at + 1 {
            continue;
        }
        let domain = &cx.text[at + 1..e];
        let Some(dot) = domain.rfind('.') else { continue };
        let tld = &domain[dot + 1..];
        if tld.len() < 2 || !tld.bytes().all(|c| c.is_ascii_alphabetic()) || domain.starts_with('.') {
            continue;
        }
        let localpart = cx.text[s..at].to_ascii_lowercase();
        let role = [
            "info",
            "contact",
            "support",
            "soumu",
            "kouhou",
            "koho",
            "webmaster",
            "admin",
            "office",
            "somu",
            "jinji",
            "noreply",
            "no-reply",
        ]
        .iter()
        .any(|r| localpart.strip_prefix(r).is_some_and(|x| x.is_empty() || x.starts_with(['-', '.'])));
        let mut conf: f32 = if role { 0.35 } else { 0.75 };
        if cx.label_for(s, &[Kind::Email]) == LabelVerdict::Yes && !role {
            conf = 0.85;
        }
        if cx.near(s, e, Label::Office, OFFICE_WINDOW, 40) {
            conf = conf.min(0.35);
        }
        last_end = e;
        state.last_end = e;
        push(out, Kind::Email, s, e, &cx.text[s..e], conf);
    }
}

// ---------------------------------------------------------------------------------------
// Names, addresses, era dates (from the automaton's hits)
// ---------------------------------------------------------------------------------------

fn is_kanji(c: char) -> bool {
    crate::lexicon::is_kanji_u32(c as u32)
}

fn is_kana(c: char) -> bool {
    matches!(c as u32, 0x3041..=0x3096 | 0x30A1..=0x30FA | 0x30FC)
}

/// Where [`words`] goes on from: the next of the word hits to look at, and the end of the
/// last candidate (hits starting before it are skipped).
#[derive(Default)]
struct WordsAt {
    next: usize,
    covered_until: usize,
}

/// The candidates of the hits at `word_hits` (indices into `cx.hits`, ascending) starting
/// before `until`, from `at` on.
fn words(cx: &Ctx, word_hits: &[usize], at: &mut WordsAt, until: usize, out: &mut Vec<Candidate>) {
    let mut covered_until = at.covered_until;
    while let Some(&hi) = word_hits.get(at.next) {
        let h = &cx.hits[hi];
        if h.start >= until {
            break;
        }
        at.next += 1;
        if h.start < covered_until {
            continue;
        }
        match h.pat {
            Pat::Surname => {
                if let Some(c) = name_at(cx, hi, *h) {
                    covered_until = c.end;
                    out.push(c);
                }
            }
            Pat::Municipality => {
                let pref = (hi > 0)
                    .then(|| cx.hits[hi - 1])
                    .filter(|p| p.pat == Pat::Prefecture && pref_joins(cx.text, p.end, h.start));
                if let Some(c) = address_at(cx, pref.map(|p| p.start), hi, *h) {
                    covered_until = c.end;
                    out.push(c);
                }
            }
            Pat::Era(e) => {
                if let Some((y, m, d, end)) = ymd_at(cx.text, h.end)
                    && let Some((gy, gm, gd)) = era_to_gregorian(e as usize, y, m, d)
                {
                    birth(cx, h.start, end, gy, gm, gd, out);
                    covered_until = end;
                }
            }
            _ => {}
        }
    }
    at.covered_until = covered_until;
}

/// A prefecture joins a municipality directly or across a 郡 (北海道虻田郡洞爺湖町).
fn pref_joins(text: &str, pref_end: usize, muni_start: usize) -> bool {
    if pref_end == muni_start {
        return true;
    }
    if muni_start < pref_end || muni_start - pref_end > 18 {
        return false;
    }
    let gap = &text[pref_end..muni_start];
    gap.ends_with('郡') && gap.chars().all(is_kanji)
}

const HONORIFICS: Words<5> = Words::new(["様", "殿", "さん", "君", "氏"]);

/// What ends a block number (四丁目, 四番地) rather than a town name (二条大路南).
const BLOCK_WORDS: Words<4> = Words::new(["丁目", "番地", "番", "号"]);

/// What follows a block number in an address (after the "-" that may also follow one), in the
/// order they are tried.
const BLOCK_SUFFIXES: Words<6> = Words::new(["丁目", "番地の", "番地", "番", "号", "の"]);

/// Japanese words (each of at least 3 bytes) with the first three bytes of each as one number:
/// a probe compares one integer per word, and the rest of a word only when those match (an
/// address is checked against ~40 words, most probes fail on the first character).
struct Words<const N: usize> {
    heads: [u32; N],
    words: [&'static str; N],
}

/// The first three bytes of `b` (at least three) as one number.
#[inline]
const fn head3(b: &[u8]) -> u32 {
    b[0] as u32 | (b[1] as u32) << 8 | (b[2] as u32) << 16
}

impl<const N: usize> Words<N> {
    const fn new(words: [&'static str; N]) -> Self {
        let mut heads = [0; N];
        let mut i = 0;
        while i < N {
            assert!(words[i].len() >= 3, "Words holds words of 3 bytes or more");
            heads[i] = head3(words[i].as_bytes());
            i += 1;
        }
        Self { heads, words }
    }

    /// The first of the words that `hay` starts with.
    #[inline]
    fn prefix_of(&self, hay: &str) -> Option<&'static str> {
        let h = hay.as_bytes();
        if h.len() < 3 {
            return None;
        }
        let k = head3(h);
        (0..N).find(|&i| self.heads[i] == k && h[3..].starts_with(&self.words[i].as_bytes()[3..])).map(|i| self.words[i])
    }

    /// Does `hay` start with one of the words?
    #[inline]
    fn starts(&self, hay: &str) -> bool {
        self.prefix_of(hay).is_some()
    }
}

fn name_at(cx: &Ctx, hi: usize, h: Hit) -> Option<Candidate> {
    let lex = lexicon();
    let text = cx.text;
    // The name must start a word: not glued to a preceding kanji unless that is a label.
    if let Some(prev) = text[..h.start].chars().next_back()
        && is_kanji(prev)
    {
        // The hit just before this one (hits are in order and do not overlap).
        let label_before = hi > 0 && {
            let x = cx.hits[hi - 1];
            x.end == h.start && matches!(x.pat, Pat::Ctx(_))
        };
        if !label_before {
            return None;
        }
    }
    let mut g = h.end;
    if text.as_bytes().get(g) == Some(&b' ') {
        g += 1;
    }
    // Longest given name of 1–4 chars that ends at a word boundary.
    let rest = &text[g..];
    let mut ends = [0usize; 4];
    let mut n_ends = 0;
    for (off, c) in rest.char_indices().take(4) {
        if !(is_kanji(c) || is_kana(c)) {
            break;
        }
        ends[n_ends] = off + c.len_utf8();
        n_ends += 1;
    }
    let mut given_end = None;
    for &e in ends[..n_ends].iter().rev() {
        let cand = &rest[..e];
        if !lex.given.contains(cand) {
            continue;
        }
        let after = g + e;
        let next = text[after..].chars().next();
        let boundary = match next {
            None => true,
            Some(c) if !(is_kanji(c) || is_kana(c)) => true,
            Some(c) if is_kana(c) && !cand.chars().all(is_kana) => true,
            Some(_) => {
                HONORIFICS.starts(&text[after..]) || cx.hit_from(&mut { hi }, after).is_some_and(|x| x.pat == Pat::Ctx(Label::Title))
            }
        };
        if boundary {
            given_end = Some(after);
            break;
        }
    }
    let end = given_end.unwrap_or(h.end);
    let after = text[end..].trim_start_matches(' ');
    let honorific = HONORIFICS.starts(after);
    let labelled = matches!(cx.nearest_label(h.start, 40), Some((Label::For(Kind::PersonName), _)));
    let mut conf: f32 = match (given_end.is_some(), honorific, labelled) {
        (true, true, _) | (true, _, true) => 0.9,
        (true, false, false) => 0.6,
        (false, true, _) => 0.5,
        (false, false, true) => 0.45,
        (false, false, false) => return None,
    };
    // Staff in an org chart or a notice (課長 山田太郎, 山田太郎課長): not residents' data.
    let title_before = cx.near(h.start, h.start, Label::Title, 15, 0);
    let mut k = hi;
    let title_after = cx
        .hit_from(&mut k, end)
        .or_else(|| cx.hit_from(&mut k, end + 1))
        .is_some_and(|x| x.pat == Pat::Ctx(Label::Title));
    if title_before || title_after {
        conf = conf.min(0.15);
    }
    Some(Candidate {
        kind: Kind::PersonName,
        start: h.start,
        end,
        value: text[h.start..end].into(),
        confidence: conf,
    })
}

const NOT_ADDRESS_AFTER: Words<34> = Words::new([
    "役所",
    "役場",
    "長",
    "民",
    "内",
    "立",
    "営",
    "議会",
    "教育委員会",
    "職員",
    "の",
    "が",
    "は",
    "を",
    "に",
    "と",
    "で",
    "や",
    "へ",
    "から",
    "まで",
    "全域",
    "全体",
    "周辺",
    "出身",
    "在住",
    "在勤",
    "など",
    "等",
    "外",
    "選挙",
    "消防",
    "水道",
    "社会福祉",
]);

#[allow(clippy::explicit_counter_loop)] // the counters stop at a limit, not at the iterator's end
fn address_at(cx: &Ctx, pref_start: Option<usize>, hi: usize, h: Hit) -> Option<Candidate> {
    let text = cx.text;
    let start = pref_start.unwrap_or(h.start);
    let mut p = h.end;
    let rest = &text[p..];
    if NOT_ADDRESS_AFTER.starts(rest) {
        return None;
    }
    // 政令市の区: 1–4 kanji + 区 right after a 市.
    if text[h.start..h.end].ends_with('市') {
        let mut k = 0;
        for (off, c) in rest.char_indices().take(5) {
            if c == '区' && k > 0 {
                p += off + c.len_utf8();
                break;
            }
            if !is_kanji(c) {
                break;
            }
            k += 1;
        }
    }
    // Town name (大字・字 included): kanji/kana, at most 20 chars.
    let mut aza = false;
    // Hits after this one, for the positions asked about below (ascending).
    let mut k = hi;
    let mut n = 0;
    for (off, c) in text[p..].char_indices() {
        if !(is_kanji(c) || is_kana(c) || c == 'ヶ' || c == 'ケ') || n >= 20 {
            p += off;
            break;
        }
        if kanji_digit(c).is_some() || c == '十' {
            // 二条大路南 is a town name; 四丁目 is a block number.
            let block = number_at(text, p + off).is_some_and(|(_, a)| BLOCK_WORDS.starts(&text[a..]));
            if block {
                p += off;
                break;
            }
        }
        if cx.hit_from(&mut k, p + off).is_some_and(|x| matches!(x.pat, Pat::Ctx(_))) && n > 0 {
            p += off;
            break;
        }
        n += 1;
        if c == '字' {
            aza = true;
        }
        if off + c.len_utf8() == text.len() - p {
            p = text.len();
            break;
        }
    }
    // Block numbers: 1丁目2番3号, 1-2-3, 123番地, 四丁目.
    let mut has_num = false;
    let mut q = p;
    while let Some((_, after_num)) = number_at(text, q) {
        let r = &text[after_num..];
        let suffix = if r.starts_with('-') { Some("-") } else { BLOCK_SUFFIXES.prefix_of(r) };
        has_num = true;
        match suffix {
            Some(s) => {
                q = after_num + s.len();
                if s == "号" {
                    break;
                }
            }
            None => {
                q = after_num;
                break;
            }
        }
    }
    let end = if has_num { q } else { p };
    let end = text[..end].trim_end_matches(['-', ' ']).len();
    let labelled = matches!(cx.nearest_label(start, 60), Some((Label::For(Kind::Address), _)));
    let mut conf: f32 = match (has_num, labelled) {
        (true, true) => 0.95,
        (true, false) if pref_start.is_some() || aza => 0.8,
        (true, false) => 0.7,
        (false, true) => 0.45,
        (false, false) => 0.15,
    };
    if cx.near(start, end, Label::Office, OFFICE_WINDOW, 60) {
        conf = conf.min(0.25);
    }
    Some(Candidate {
        kind: Kind::Address,
        start,
        end,
        value: text[start..end].into(),
        confidence: conf,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The passes' candidates do not depend on where the blocks end: blocks of a few bytes
    /// (every token, e-mail and word crosses one) give what one block of the whole text gives.
    #[test]
    fn block_boundaries_change_no_candidate() {
        let record = "氏名 山田太郎 生年月日 昭和四十五年三月二日 住所 奈良県奈良市二条大路南1丁目1番1号\n\
            個人番号 123456789018 注文番号 123456789018 携帯 090-1234-5678 カード番号 4111 1111 1111 1111\n\
            〒630-8580 mail: hanako.y@example.ne.jp 平成元年1月8日生 佐藤花子様 TEL 0742-34-1111\n";
        let text = crate::normalize::normalize(&record.repeat(5)).text.into_owned();
        let run = |block: usize| {
            let (mut scratch, mut out) = (Scratch::default(), Vec::new());
            detect_with(&text, None, &mut scratch, &mut out, block);
            out
        };
        let whole = run(usize::MAX);
        assert!(whole.len() >= 5 * 8, "{whole:?}");
        for block in [1, 2, 3, 5, 7, 16, 61, 256, BLOCK] {
            assert_eq!(run(block), whole, "blocks of {block} bytes");
        }
    }

    /// `ended_by` (walk, gallop or search) gives what a binary search over the whole list
    /// gives, for queries that mostly go forward by small and large steps and now and then back.
    #[test]
    fn ended_by_equals_a_binary_search() {
        let mut rnd = crate::xorshift(0x9e37_79b9_7f4a_7c15);
        for len in [0, 1, 7, 8, 9, 17, 40, 300, 5000] {
            let mut end = 0;
            let list: Vec<Hit> = (0..len)
                .map(|_| {
                    // Equal ends too (hits do not overlap, but a zero step tests the bounds).
                    end += rnd(5);
                    Hit { start: end.saturating_sub(1), end, pat: Pat::Surname }
                })
                .collect();
            let cursor = Cell::new(0);
            let mut pos = 0usize;
            for _ in 0..2000 {
                pos = match rnd(10) {
                    0 => pos.saturating_sub(rnd(50)),
                    1 => pos + rnd(5000),
                    2 => rnd(end as u64 + 10),
                    _ => pos + rnd(40),
                };
                assert_eq!(ended_by(&list, pos, &cursor), list.partition_point(|h| h.end <= pos), "len {len}, pos {pos}");
            }
        }
    }

    fn kinds(s: &str, min: f32) -> Vec<(Kind, String)> {
        detect(&crate::normalize::normalize(s).text, None)
            .into_iter()
            .filter(|c| c.confidence >= min)
            .map(|c| (c.kind, c.value.to_string()))
            .collect()
    }

    #[test]
    fn next_digit_finds_the_first_digit_at_every_offset() {
        // Every byte value at every position of a 70-byte text (two chunks and a tail), the
        // rest filled with bytes next to the digit range ('/', ':') and non-ASCII.
        let filler = [b'/', b':', 0xE3, b'a', 0x80, 0xB0, 0xB9];
        for at in 0..70 {
            for v in 0..=255u8 {
                let mut b: Vec<u8> = (0..70).map(|i| filler[i % filler.len()]).collect();
                b[at] = v;
                for from in [0, at.saturating_sub(1), at, (at + 1).min(70)] {
                    let want = b[from..].iter().position(|x| x.is_ascii_digit()).map(|p| from + p);
                    assert_eq!(next_digit(&b, from), want, "byte {v:#x} at {at}, from {from}");
                }
            }
        }
    }

    #[test]
    fn merging_the_three_runs_is_a_stable_sort_then_the_overlap_sweep() {
        // The former resolve_overlaps: a stable sort of the concatenated runs, then the sweep.
        fn reference(runs: &[Vec<Candidate>; 3]) -> Vec<Candidate> {
            let mut v: Vec<Candidate> = runs.concat();
            v.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
            let mut out: Vec<Candidate> = Vec::new();
            for c in v {
                if let Some(last) = out.last_mut()
                    && c.start < last.end
                {
                    if c.confidence > last.confidence {
                        *last = c;
                    }
                    continue;
                }
                out.push(c);
            }
            out
        }
        let mut rnd = crate::xorshift(0x2545_f491_4f6c_dd1d);
        let mut merged = Vec::new();
        for round in 0..2000 {
            let runs: [Vec<Candidate>; 3] = std::array::from_fn(|r| {
                let mut start = 0;
                let mut v: Vec<Candidate> = (0..rnd(8))
                    .map(|i| {
                        // Small steps and lengths: equal starts, equal keys across runs, overlaps.
                        start += rnd(3);
                        let c = Candidate {
                            kind: Kind::Phone,
                            start,
                            end: start + 1 + rnd(4),
                            value: format!("{r}.{i}").as_str().into(),
                            confidence: rnd(4) as f32 / 4.0,
                        };
                        start += 1;
                        c
                    })
                    .collect();
                // Now and then a run out of order (the fallback sort).
                if round % 7 == 0 {
                    v.reverse();
                }
                v
            });
            // Into a vector holding the last round's result, as the kept one does.
            let want = reference(&runs);
            let mut taken = runs.clone();
            resolve_overlaps(&mut taken, &mut merged);
            assert_eq!(merged, want, "{runs:?}");
            assert!(taken.iter().all(Vec::is_empty));
        }
    }

    #[test]
    fn words_find_the_first_listed_word_a_text_starts_with() {
        fn naive(words: &[&'static str], hay: &str) -> Option<&'static str> {
            words.iter().copied().find(|w| hay.starts_with(w))
        }
        let lists: [&[&'static str]; 4] =
            [&HONORIFICS.words, &BLOCK_WORDS.words, &BLOCK_SUFFIXES.words, &NOT_ADDRESS_AFTER.words];
        for words in lists {
            // Every word, cut short, followed by text, and with only its first character.
            let mut hays: Vec<String> = vec![String::new(), "a".into(), "ab".into(), "-1".into()];
            for w in words {
                let first = w.chars().next().unwrap();
                let mut short = w.chars();
                short.next_back();
                for h in [w.to_string(), format!("{w}1丁目"), short.as_str().to_string(), format!("{first}x"), format!("x{w}")] {
                    hays.push(h);
                }
            }
            for h in &hays {
                let got = match words.len() {
                    5 => HONORIFICS.prefix_of(h),
                    4 => BLOCK_WORDS.prefix_of(h),
                    6 => BLOCK_SUFFIXES.prefix_of(h),
                    _ => NOT_ADDRESS_AFTER.prefix_of(h),
                };
                assert_eq!(got, naive(words, h), "{h:?}");
            }
        }
        assert_eq!(BLOCK_SUFFIXES.prefix_of("番地の3"), Some("番地の"));
        assert_eq!(BLOCK_SUFFIXES.prefix_of("番地3"), Some("番地"));
    }

    #[test]
    fn digits_end_ends_every_run_of_digits() {
        // Runs of 0–20 digits ending in every byte value, at every offset of a short text.
        for len in 0..20 {
            for v in 0..=255u8 {
                let mut b = vec![b'7'; len];
                b.push(v);
                b.extend_from_slice(b"12x");
                for from in 0..b.len() {
                    let want = from + b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
                    assert_eq!(digits_end(&b, from), want, "{len} digits then {v:#x}, from {from}");
                }
            }
        }
    }

    #[test]
    fn labelled_my_number_beats_order_number() {
        let v = kinds("注文番号 123456789018\n個人番号 1234-5678-9018", 0.5);
        assert_eq!(v, vec![(Kind::MyNumber, "123456789018".into())]);
    }

    #[test]
    fn invalid_check_digit_is_not_my_number() {
        assert!(kinds("個人番号 123456789019", 0.0).is_empty());
    }

    #[test]
    fn labelled_juminhyo_code_failing_the_check_is_reported_below_the_default() {
        // 24727059608 is a published sample code; 24727059609 fails the check digit.
        assert_eq!(kinds("住民票コード 24727059608", 0.5), vec![(Kind::JuminhyoCode, "24727059608".into())]);
        assert!(kinds("住民票コード 24727059609", 0.5).is_empty(), "a decoy at the default confidence");
        let low = detect(&crate::normalize::normalize("住民票コード 24727059609").text, None);
        assert_eq!(low.len(), 1, "{low:?}");
        assert_eq!((low[0].kind, low[0].confidence), (Kind::JuminhyoCode, JUMINHYO_UNCHECKED_CONFIDENCE));
        // Without the label, a failing 11-digit number is nothing.
        assert!(kinds("お問い合わせ番号 24727059609", 0.0).iter().all(|(k, _)| *k != Kind::JuminhyoCode));
    }

    #[test]
    fn era_dates_incl_kanji_and_gannen() {
        let v = kinds("生年月日 昭和四十五年三月二日", 0.5);
        assert_eq!(v, vec![(Kind::BirthDate, "1970-03-02".into())]);
        let v = kinds("生年月日：S45.3.2", 0.5);
        assert_eq!(v, vec![(Kind::BirthDate, "1970-03-02".into())]);
        let v = kinds("平成元年1月8日生", 0.5);
        assert_eq!(v, vec![(Kind::BirthDate, "1989-01-08".into())]);
        // 平成元年1月7日 did not exist (still 昭和64年).
        assert!(kinds("生年月日 平成元年1月7日", 0.0).is_empty());
        assert!(kinds("生年月日 昭和65年1月1日", 0.0).is_empty());
    }

    #[test]
    fn names_and_org_chart() {
        let v = kinds("申請者氏名 山田 太郎 様", 0.5);
        assert_eq!(v, vec![(Kind::PersonName, "山田 太郎".into())]);
        assert!(kinds("総務課長 山田太郎", 0.5).is_empty());
    }

    #[test]
    fn addresses_and_city_hall() {
        let v = kinds("住所 奈良県奈良市二条大路南1丁目1番1号", 0.5);
        assert_eq!(v, vec![(Kind::Address, "奈良県奈良市二条大路南1丁目1番1号".into())]);
        assert!(kinds("所在地 奈良県奈良市二条大路南1丁目1番1号 奈良市役所", 0.5).is_empty());
    }

    #[test]
    fn phones_cards_postal_email() {
        let v = kinds(
            "携帯 090-1234-5678 カード番号 4111 1111 1111 1111 〒630-8580 mail: hanako.y@example.ne.jp",
            0.5,
        );
        let k: Vec<Kind> = v.iter().map(|x| x.0).collect();
        assert_eq!(k, vec![Kind::Phone, Kind::CreditCard, Kind::PostalCode, Kind::Email]);
    }
}
