//! NFKC normalisation with a map back to the original byte offsets.
//!
//! Detectors run on normalised text (full-width digits and letters become ASCII, half-width
//! katakana become full-width, ㍻ becomes 平成, every dash becomes `-`, every space becomes
//! ` `) but findings must point into the original text. Hand-written around
//! `unicode-normalization` for speed: most bytes of Japanese text (kanji, kana, ASCII) are
//! NFKC-stable, so they are copied in runs and only the few characters that can change go
//! through the normaliser; the offset map records only the places where lengths change.

use std::borrow::Cow;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::compose;

/// Normalised text plus a sparse map from its byte offsets to the original's.
#[derive(Debug, Clone)]
pub struct Normalized<'a> {
    /// The normalised text: the input itself when nothing changes (no copy).
    pub text: Cow<'a, str>,
    /// `(normalised offset, original offset)` at every place lengths diverge, ascending.
    /// Empty when the text did not change. Borrowed from the caller's buffer by
    /// [`normalize_into`].
    map: Cow<'a, [(u32, u32)]>,
    orig_len: usize,
}

impl Normalized<'_> {
    /// The original byte offset of normalised byte offset `n` (the start of the original
    /// character that produced it).
    pub fn orig(&self, n: usize) -> usize {
        if self.map.is_empty() {
            return n.min(self.orig_len);
        }
        let i = self.map.partition_point(|&(nn, _)| nn as usize <= n);
        if i == 0 {
            return n;
        }
        let (bn, bo) = self.map[i - 1];
        (bo as usize + (n - bn as usize)).min(self.orig_len)
    }

    /// The original byte range of a normalised byte range (end is exclusive).
    pub fn orig_range(&self, start: usize, end: usize) -> (usize, usize) {
        if self.map.is_empty() {
            return (start, end);
        }
        let s = self.orig(start);
        // The end maps to the end of the original character that produced byte end-1.
        let e = if end == 0 { 0 } else { self.orig_end(end) };
        (s, e.max(s))
    }

    /// [`Normalized::orig_range`] for ranges asked in ascending order of `start` (findings in
    /// text order): `cursor` (start at 0) remembers how far into the offset map the last one
    /// got, so each range costs a few steps instead of two binary searches. Any order still
    /// gives the right answer (a smaller `start` searches again).
    pub fn orig_range_at(&self, start: usize, end: usize, cursor: &mut usize) -> (usize, usize) {
        let m: &[(u32, u32)] = &self.map;
        if m.is_empty() {
            return (start, end);
        }
        // `le` = entries with offset <= start (what `orig` searches for).
        let mut le = *cursor;
        if le > m.len() || (le > 0 && m[le - 1].0 as usize > start) {
            le = m.partition_point(|&(nn, _)| nn as usize <= start);
        }
        while le < m.len() && m[le].0 as usize <= start {
            le += 1;
        }
        *cursor = le;
        let at = |i: usize, n: usize| {
            if i == 0 {
                n
            } else {
                let (bn, bo) = m[i - 1];
                (bo as usize + (n - bn as usize)).min(self.orig_len)
            }
        };
        let s = at(le, start);
        if end == 0 {
            return (s, s);
        }
        // Entries with offset < end, then <= end (as `orig_end`), counted on from `le` when
        // the range runs forward; an empty range (end <= start) searches afresh.
        let (mut lt, mut le_end) = if end > start {
            (le, le)
        } else {
            let lt = m.partition_point(|&(nn, _)| (nn as usize) < end);
            (lt, lt)
        };
        while lt < m.len() && (m[lt].0 as usize) < end {
            lt += 1;
        }
        // The next range starts at or after this one's end (candidates do not overlap): the
        // entries before `end` need not be walked again.
        *cursor = lt;
        let e = if lt < m.len() && m[lt].0 as usize == end {
            m[lt].1 as usize
        } else {
            le_end = le_end.max(lt);
            while le_end < m.len() && m[le_end].0 as usize <= end {
                le_end += 1;
            }
            at(le_end, end)
        };
        (s, e.max(s))
    }

    fn orig_end(&self, end: usize) -> usize {
        // Find the breakpoint at or after `end`: if a changed char ends exactly at `end` there
        // is a breakpoint there.
        let i = self.map.partition_point(|&(nn, _)| (nn as usize) < end);
        if i < self.map.len() && self.map[i].0 as usize == end {
            return self.map[i].1 as usize;
        }
        self.orig(end)
    }
}

/// True if `c` can change under NFKC or under our dash/space folding.
#[inline]
fn may_change(c: char) -> bool {
    let u = c as u32;
    matches!(u,
        0x00A0..=0x00FF
        | 0x2000..=0x2FFF
        | 0x3000
        | 0x3099..=0x309C
        | 0x3200..=0x33FF
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE6F
        | 0xFF00..=0xFFEF)
}

#[inline]
fn fold(c: char) -> char {
    match c {
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{2043}' | '\u{FE63}' | '\u{FF0D}' => '-',
        '\u{3000}' | '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' => ' ',
        _ => c,
    }
}

/// Normalise `s` (NFKC per character, half-width voiced marks composed, dashes and spaces
/// folded).
pub fn normalize(s: &str) -> Normalized<'_> {
    if !needs_work(s.as_bytes()) {
        return Normalized {
            text: Cow::Borrowed(s),
            map: Cow::Borrowed(&[]),
            orig_len: s.len(),
        };
    }
    let mut out = String::new();
    let mut map = Vec::new();
    normalize_to(s, &mut out, &mut map);
    Normalized {
        text: Cow::Owned(out),
        map: Cow::Owned(map),
        orig_len: s.len(),
    }
}

/// [`normalize`], writing a changed text into `buf` and its offset map into `map` (both
/// cleared first) instead of a new `String` and `Vec`: a caller scanning file after file
/// passes the same buffers, whose pages are already mapped (a fresh 30 MB buffer costs the
/// kernel ~8,000 page faults, as much CPU as the lexicon pass; the map of dense records, an
/// entry per full-width character, grew by doubling into fresh pages).
pub fn normalize_into<'a>(s: &'a str, buf: &'a mut String, map: &'a mut Vec<(u32, u32)>) -> Normalized<'a> {
    if !needs_work(s.as_bytes()) {
        return Normalized {
            text: Cow::Borrowed(s),
            map: Cow::Borrowed(&[]),
            orig_len: s.len(),
        };
    }
    normalize_to(s, buf, map);
    Normalized {
        text: Cow::Borrowed(buf.as_str()),
        map: Cow::Borrowed(map.as_slice()),
        orig_len: s.len(),
    }
}

/// The ASCII byte that a 3-byte character at `b[i..]` becomes, for the commonest changes in
/// Japanese text, read from its bytes: full-width ASCII U+FF01–FF5E (０-９, Ａ-Ｚ, ：, （ …;
/// NFKC is the ASCII character), the ideographic space U+3000 and the dashes U+2010–2015 and
/// U+2212 (folded, see [`fold`]). `None` for anything else.
#[inline(always)]
fn ascii_fold3(b: &[u8], i: usize) -> Option<u8> {
    match *b.get(i..i + 3)? {
        [0xEF, 0xBC, z @ 0x81..=0xBF] => Some(z - 0x81 + 0x21),
        [0xEF, 0xBD, z @ 0x80..=0x9E] => Some(z - 0x80 + 0x60),
        [0xE3, 0x80, 0x80] => Some(b' '),
        [0xE2, 0x80, 0x90..=0x95] | [0xE2, 0x88, 0x92] => Some(b'-'),
        _ => None,
    }
}

/// The normalised text of `s` into `out` and its offset map into `map` (both cleared first).
fn normalize_to(s: &str, out: &mut String, map: &mut Vec<(u32, u32)>) {
    normalize_to_impl(s, out, true, map)
}

/// [`normalize_to`]; `fast = false` sends every character through the general step (the
/// reference the fast path must equal, see the tests).
fn normalize_to_impl(s: &str, out_buf: &mut String, fast: bool, map_buf: &mut Vec<(u32, u32)>) {
    // Local buffers, put back at the end: through the `&mut`s, every store into one buffer
    // made LLVM reload the other's length and pointer (the heap may alias them).
    let (mut out_v, mut map_v) = (std::mem::take(out_buf), std::mem::take(map_buf));
    let (out, map) = (&mut out_v, &mut map_v);
    let bytes = s.as_bytes();
    out.clear();
    out.reserve(s.len());
    map.clear();
    let mut run_start = 0usize;
    let mut buf = String::new();
    let mut pos = 0usize;
    while let Some(i) = next_candidate(bytes, pos) {
        // Runs of full-width digits and letters, spaces and dashes (most of what changes in
        // Japanese records: 電話 ０９０－１２３４－５６７８) byte by byte, without decoding
        // or the normaliser; the map gets exactly the entries the general step below gives.
        if fast && let Some(mut a) = ascii_fold3(bytes, i) {
            out.push_str(&s[run_start..i]);
            let mut j = i;
            loop {
                let o = out.len() as u32;
                map.extend_from_slice(&[(o, j as u32), (o + 1, (j + 3) as u32)]);
                // ASCII: one byte of valid UTF-8 (the mask, a no-op, tells LLVM so: it
                // tested for a two-byte encoding on every character).
                out.push((a & 0x7F) as char);
                j += 3;
                if let Some(x) = ascii_fold3(bytes, j) {
                    a = x;
                    continue;
                }
                // One character that never changes between two that do (５４７５ ２４６４,
                // １９３１/０７, ６年４月): copied here rather than leaving the loop, which
                // costs a new search and a copy call (56k of the 136k runs of dense records).
                match bytes.get(j).copied() {
                    Some(c @ 0x00..=0x7F) if let Some(x) = ascii_fold3(bytes, j + 1) => {
                        out.push(c as char);
                        j += 1;
                        a = x;
                    }
                    Some(0xE3..=0xE9) if !exact_at(bytes, j) && let Some(x) = ascii_fold3(bytes, j + 3) => {
                        out.push_str(&s[j..j + 3]);
                        j += 3;
                        a = x;
                    }
                    _ => break,
                }
            }
            run_start = j;
            pos = j;
            continue;
        }
        let c = s[i..].chars().next().expect("a char starts at a candidate");
        pos = i + c.len_utf8();
        debug_assert!(may_change(c), "{c:?}");
        buf.clear();
        let f = fold(c);
        if f != c {
            buf.push(f);
        } else if let '\u{FF01}'..='\u{FF5E}' = c {
            // Full-width ASCII (０-９, Ａ-Ｚ, ：, （ …): NFKC is the ASCII character.
            buf.push(char::from_u32(c as u32 - 0xFEE0).unwrap_or(c));
        } else {
            for d in std::iter::once(c).nfkc() {
                buf.push(fold(d));
            }
        }
        let clen = c.len_utf8();
        if buf.len() == clen && buf.as_bytes() == &bytes[i..i + clen] {
            continue;
        }
        out.push_str(&s[run_start..i]);
        // Half-width voiced sound marks: compose with the previous char (ｶﾞ → ガ).
        if let Some(m @ ('\u{3099}' | '\u{309A}')) = buf.chars().next()
            && buf.chars().count() == 1
            && let Some(prev) = out.chars().next_back()
            && let Some(comp) = compose(prev, m)
        {
            out.truncate(out.len() - prev.len_utf8());
            while map.last().is_some_and(|&(nn, _)| nn as usize > out.len()) {
                map.pop();
            }
            out.push(comp);
            map.push((out.len() as u32, (i + clen) as u32));
            run_start = i + clen;
            continue;
        }
        map.push((out.len() as u32, i as u32));
        out.push_str(&buf);
        map.push((out.len() as u32, (i + clen) as u32));
        run_start = i + clen;
    }
    out.push_str(&s[run_start..]);
    (*out_buf, *map_buf) = (out_v, map_v);
}

/// The conservative test of a possible lead byte at `x` (its next bytes `y`, `z`) of a
/// character that may change: a C2, C3, E2 or EF lead byte, or E3 followed by 80 80, 82
/// 98–9F, 88–8F or (rare CJK extension A) 92 A8–AF, 9A B0–B7, A2 B8–BF ([`exact_at`] then
/// decides).
#[inline(always)]
fn lead_hit(x: u8, y: u8, z: u8) -> bool {
    // After E3, `y` and `z` are continuation bytes 80–BF, so `y | z == 80` is 80 80, and
    // `z & F8 == y + 16` holds for 82 98–9F and the rare rest: two and three vector
    // operations where exact tests took three and four (the test runs on every byte).
    let t = ((y | z) == 0x80) | ((z & 0xF8) == y.wrapping_add(0x16)) | ((y & 0xF8) == 0x88);
    // C2, C3, E2 or E3 in one masked compare; an E3 counts only with `t`.
    let (lead, e) = ((x & 0xDE) == 0xC2, x == 0xE3);
    (lead & !(e & !t)) | (x == 0xEF)
}

/// Could a character that may change start in `b[i..i + 32]`? [`lead_hit`] over three
/// shifted views, which LLVM vectorises (as `detect::next_digit`). Japanese text is mostly
/// kanji and kana that never change; the plain byte loop cost ~8 instructions a byte. Needs
/// `i + 34 <= len`.
#[inline]
fn chunk_may_hold(b: &[u8], i: usize) -> bool {
    let w = &b[i..i + 34];
    let (c0, c1, c2) = (&w[..32], &w[1..33], &w[2..34]);
    let mut any = false;
    for k in 0..32 {
        any |= lead_hit(c0[k], c1[k], c2[k]);
    }
    any
}

/// [`chunk_may_hold`] as a bit mask, bit k for `b[i + k]`: the positions of the possible
/// lead bytes. The bytes are gathered eight at a time by a multiply (bit k of the top byte
/// of `w * 0x0102_0408_1020_4080` is byte k of `w`, each 0 or 1): a mask built bit by bit
/// in the loop was vectorised four lanes wide and made normalising 3x slower. Only lead
/// bytes can match, so `i` may be inside a character. Needs `i + 34 <= len`.
#[inline]
fn chunk_mask(b: &[u8], i: usize) -> u32 {
    let c0: &[u8; 32] = b[i..i + 32].try_into().expect("32 bytes");
    let c1: &[u8; 32] = b[i + 1..i + 33].try_into().expect("32 bytes");
    let c2: &[u8; 32] = b[i + 2..i + 34].try_into().expect("32 bytes");
    let mut h = [0u8; 32];
    for k in 0..32 {
        h[k] = lead_hit(c0[k], c1[k], c2[k]) as u8;
    }
    let mut m = 0u32;
    for (w, word) in h.chunks_exact(8).enumerate() {
        let x = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        m |= ((x.wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32) << (8 * w);
    }
    m
}

/// Does a character for which [`may_change`] holds start at `b[k]` (a lead byte of a
/// character, or anything else: then false)?
#[inline(always)]
fn exact_at(b: &[u8], k: usize) -> bool {
    let at = |k: usize| b.get(k).copied().unwrap_or(0);
    match b[k] {
        0xC2 => at(k + 1) >= 0xA0,
        0xC3 | 0xE2 => true,
        0xE3 => {
            let (y, z) = (at(k + 1), at(k + 2));
            (y == 0x80 && z == 0x80) || (y == 0x82 && (0x99..=0x9C).contains(&z)) || (0x88..=0x8F).contains(&y)
        }
        0xEF => {
            let u = 0xF000 | (((at(k + 1) & 0x3F) as u32) << 6) | (at(k + 2) & 0x3F) as u32;
            matches!(u, 0xF900..=0xFAFF | 0xFE30..=0xFE6F | 0xFF00..=0xFFEF)
        }
        _ => false,
    }
}

/// Byte offset of the next character at or after `i` (a char boundary) for which
/// [`may_change`] holds, from its UTF-8 bytes alone (no char decoding for the kanji, kana and
/// ASCII that make up most text). The chunk mask gives the possible lead bytes' positions
/// directly: in dense records a chunk with one is common, and the byte loop that walked such
/// a chunk char by char (a jump table, mispredicted) was a quarter of normalising. The last
/// bytes go through the byte loop, which may start inside a character: it steps over
/// continuation bytes one at a time and only lead bytes can match.
#[inline]
fn next_candidate(b: &[u8], mut i: usize) -> Option<usize> {
    while i + 34 <= b.len() {
        if !chunk_may_hold(b, i) {
            i += 32;
            continue;
        }
        let mut m = chunk_mask(b, i);
        while m != 0 {
            let k = i + m.trailing_zeros() as usize;
            if exact_at(b, k) {
                return Some(k);
            }
            m &= m - 1;
        }
        i += 32;
    }
    while i < b.len() {
        match b[i] {
            0xC2..=0xC3 | 0xE2..=0xE3 | 0xEF if exact_at(b, i) => return Some(i),
            0x00..=0xC1 => i += 1,
            0xC2..=0xDF => i += 2,
            0xE0..=0xEF => i += 3,
            _ => i += 4,
        }
    }
    None
}

/// Can anything in `b` change?
fn needs_work(b: &[u8]) -> bool {
    next_candidate(b, 0).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fullwidth_digits_and_dashes_fold_and_map_back() {
        let s = "番号：１２３４－５６７８　ｶﾞ";
        let n = normalize(s);
        assert_eq!(n.text, "番号:1234-5678 ガ");
        let p = n.text.find('1').unwrap();
        assert_eq!(&s[n.orig(p)..n.orig(p) + 3], "１");
        let e = n.text.find('8').unwrap() + 1;
        let (os, oe) = n.orig_range(p, e);
        assert_eq!(&s[os..oe], "１２３４－５６７８");
        let g = n.text.find('ガ').unwrap();
        let (gs, ge) = n.orig_range(g, g + 'ガ'.len_utf8());
        assert_eq!(&s[gs..ge], "ｶﾞ");
    }

    #[test]
    fn byte_scan_finds_exactly_the_chars_that_may_change() {
        // Every char from U+0000 to U+FFFF plus some astral ones, with kanji between.
        let mut s = String::new();
        for u in (0u32..0x1_0000).chain(0x1_F000..0x1_F100) {
            if let Some(c) = char::from_u32(u) {
                s.push(c);
                s.push('字');
            }
        }
        let b = s.as_bytes();
        let mut found = Vec::new();
        let mut pos = 0;
        while let Some(i) = next_candidate(b, pos) {
            found.push(i);
            pos = i + s[i..].chars().next().unwrap().len_utf8();
        }
        let want: Vec<usize> = s.char_indices().filter(|&(_, c)| may_change(c)).map(|(i, _)| i).collect();
        assert_eq!(found, want);
    }

    #[test]
    fn chunk_test_misses_no_candidate_at_any_offset() {
        // Each char that may change, alone after fillers that never change (ASCII, kana,
        // kanji and near misses of the E3 tests: 、む゘備), at every offset of a 32-byte chunk
        // and across its end: a prefilter that skipped the chunk would find it later or never.
        let fill = ["a", "あ", "、", "む", "\u{3098}", "備", "字"];
        for c in (0u32..0x1_0000).filter_map(char::from_u32).filter(|&c| may_change(c)) {
            for off in 0..40 {
                let mut s = String::new();
                let mut k = off;
                while s.len() < off {
                    let f = fill[k % fill.len()];
                    s.push_str(if s.len() + f.len() <= off { f } else { "a" });
                    k += 1;
                }
                s.push(c);
                s.push_str("字あ、a字字あ、a字字あ、a字字");
                assert_eq!(next_candidate(s.as_bytes(), 0), Some(off), "{c:?} at {off}");
            }
        }
    }

    #[test]
    fn chunk_mask_is_the_byte_test_per_position() {
        // Bytes that the test looks at (leads, the continuations it compares, ASCII), mixed at
        // random: each bit of the mask is `lead_hit` at its byte, and the any-test agrees.
        let vals = [0x00u8, 0x41, 0x80, 0x82, 0x88, 0x8F, 0x90, 0x98, 0x9C, 0xA2, 0xBC, 0xBF, 0xC2, 0xC3, 0xE2, 0xE3, 0xE4, 0xEF];
        let mut rnd = crate::xorshift(0x9E37_79B9_7F4A_7C15);
        let b: Vec<u8> = (0..4096)
            .map(|_| vals[rnd(vals.len() as u64)])
            .collect();
        for i in 0..b.len() - 34 {
            let m = chunk_mask(&b, i);
            let want = (0..32).fold(0u32, |m, k| m | (lead_hit(b[i + k], b[i + k + 1], b[i + k + 2]) as u32) << k);
            assert_eq!(m, want, "at {i}");
            assert_eq!(chunk_may_hold(&b, i), m != 0, "at {i}");
        }
    }

    #[test]
    fn cursor_ranges_equal_searched_ranges() {
        let s = "氏名ｶﾞｸ　１２３－４５６７ ㍻元年 abc\u{FF21}\u{2212}９ 山田\u{3000}\u{3000}ﾊﾟ";
        let n = normalize(s);
        let len = n.text.len();
        let bounds: Vec<usize> = (0..=len).filter(|&i| n.text.is_char_boundary(i)).collect();
        let mut ranges = Vec::new();
        for &a in &bounds {
            for &b in bounds.iter().filter(|&&b| b > a) {
                ranges.push((a, b));
            }
        }
        // Ascending starts (one cursor over all ranges), then in reverse (the cursor resets).
        for rev in [false, true] {
            let mut cur = 0;
            let it: Vec<&(usize, usize)> = if rev { ranges.iter().rev().collect() } else { ranges.iter().collect() };
            for &&(a, b) in &it {
                assert_eq!(n.orig_range_at(a, b, &mut cur), n.orig_range(a, b), "{a}..{b}");
            }
        }
        assert_eq!(n.orig_range_at(0, 0, &mut 0), n.orig_range(0, 0));
    }

    #[test]
    fn fast_path_equals_general_step() {
        // Every character the fast path takes, and its neighbours (U+FF00, U+FF5F, U+2016,
        // U+2211 …), in runs and alone, beside voiced marks, kana and kanji.
        let mut pieces: Vec<String> = (0xFF00u32..=0xFF60).chain(0x2000..=0x2016).chain([0x2211, 0x2212, 0x2213, 0x3000, 0x3001, 0x2043, 0xFE63])
            .filter_map(char::from_u32)
            .map(String::from)
            .collect();
        pieces.extend(["ｶﾞ", "ﾞ", "ﾟ", "ﾊ", "㍻", "山田", "ア", "a", "1", " ", "\n", "é", "\u{00A0}", "😀", "０９０－１２３４－５６７８"].map(String::from));
        // What the fast loop copies between two characters that change (one ASCII byte, one
        // kanji or kana), and E3 characters it must not copy (U+3099, U+309B, ㈱; U+34A8 passes
        // the chunk test's widened E3 82 test but never changes).
        pieces.extend(["/", "年", "丁目", "あ", "、", "\u{3099}", "\u{309B}", "㈱", "\u{34A8}", "１ ２", "６年４月１日", "１９３１/０７"].map(String::from));
        let mut rnd = crate::xorshift(0x2545_F491_4F6C_DD1D);
        // The same buffers every round, as `normalize_into`'s callers pass them: each call
        // must clear what the last one left.
        let (mut a, mut b, mut ma, mut mb) = (String::new(), String::new(), Vec::new(), Vec::new());
        for round in 0..2000 {
            let mut t = String::new();
            for _ in 0..(1 + round % 60) {
                t.push_str(&pieces[rnd(pieces.len() as u64)]);
            }
            normalize_to_impl(&t, &mut a, true, &mut ma);
            normalize_to_impl(&t, &mut b, false, &mut mb);
            assert_eq!((&a, &ma), (&b, &mb), "{t:?}");
            let fresh = normalize(&t);
            assert_eq!((fresh.text.as_ref(), fresh.map.as_ref()), (a.as_str(), ma.as_slice()), "{t:?}");
        }
    }

    #[test]
    fn era_square_and_unchanged_text() {
        assert_eq!(normalize("㍻元年").text, "平成元年");
        let n = normalize("山田太郎、奈良市。");
        assert_eq!(n.text, "山田太郎、奈良市。");
        assert_eq!(n.orig(6), 6);
    }
}
