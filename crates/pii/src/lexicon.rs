//! The bundled word lists and the matchers built from them ([`Lexicon::find`]).
//!
//! One pass over the characters ([`Lexicon::find`]):
//! - context words and era names (≈260) are looked up at every character by its pair with
//!   the next one: a bit filter over hashed pairs, then one table of the words starting so
//!   ([`PairTable`], words checked 16 bytes at a time);
//! - surnames (≈11k) the same way, but only where a name can start — after a non-kanji
//!   character or right after a context word, the rule [`crate::detect`] applies anyway;
//! - prefectures and municipalities are looked up backwards from their last character, since
//!   every one of them ends in 都道府県 or 市区町村, while the characters read so far end
//!   some place name.
//!
//! This replaced one 13k-pattern Aho-Corasick DFA over the whole text (≈18 instructions a
//! byte and a transition table of tens of MB that missed the cache on nearly every byte), and
//! then a small context-word DFA beside a character loop (still ≈36 instructions a byte). Single-character surnames (林, 森 …) are left out:
//! they would match nearly every line of Japanese text; such names are still found as whole
//! columns of a table (see [`crate::table`]).

use crate::Kind;
use std::collections::HashSet;
use std::sync::OnceLock;

const SURNAMES: &str = include_str!("../data/surnames.txt");
const GIVEN: &str = include_str!("../data/given_names.txt");
const MUNICIPALITIES: &str = include_str!("../data/municipalities.tsv");

/// What a context word says about the numbers and names near it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// A label for one kind (個人番号 → my_number).
    For(Kind),
    /// An order/invoice/product number label: the number next to it is not personal data.
    Decoy,
    /// A job title (課長, 係長 …): the name next to it is staff in an org chart.
    Title,
    /// The city hall's own details (市役所, 所在地, 問い合わせ …).
    Office,
    /// 記号 (insurance card symbol) — health insurance only with 保険 near.
    Symbol,
}

/// What a pattern of the automaton is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pat {
    /// A surname (index into [`Lexicon::surnames`]).
    Surname,
    /// A prefecture.
    Prefecture,
    /// A municipality (市区町村).
    Municipality,
    /// An era name; value = index into [`ERAS`].
    Era(u8),
    /// A context word.
    Ctx(Label),
}

/// Era name, first Gregorian year, last year of the era (in era years) — see [`crate::detect`]
/// for the day boundaries.
pub const ERAS: [(&str, i32, i32); 5] = [
    ("明治", 1868, 45),
    ("大正", 1912, 15),
    ("昭和", 1926, 64),
    ("平成", 1989, 31),
    ("令和", 2019, 99),
];

fn context_words() -> Vec<(&'static str, Label)> {
    use Kind::*;
    use Label::*;
    let mut v: Vec<(&'static str, Label)> = Vec::new();
    let mut add = |ws: &[&'static str], l: Label| v.extend(ws.iter().map(|w| (*w, l)));
    add(
        &[
            "個人番号",
            "マイナンバー",
            "My Number",
            "MyNumber",
            "個人番号カード",
            "マイナンバーカード",
        ],
        For(MyNumber),
    );
    add(&["法人番号", "会社法人等番号"], For(CorporateNumber));
    add(&["住民票コード", "住基コード"], For(JuminhyoCode));
    add(&["基礎年金番号", "年金番号", "年金手帳"], For(BasicPensionNumber));
    add(
        &["運転免許証番号", "運転免許証", "運転免許", "免許証番号", "免許番号", "免許証"],
        For(DriversLicense),
    );
    add(
        &["旅券番号", "旅券", "パスポート番号", "パスポート", "Passport", "PASSPORT"],
        For(Passport),
    );
    add(
        &["被保険者番号", "被保険者証", "保険証番号", "保険証", "被保険者記号"],
        For(HealthInsurance),
    );
    add(
        &["口座番号", "普通預金", "当座預金", "普通口座", "振込先", "口座"],
        For(BankAccount),
    );
    add(&["クレジットカード", "カード番号", "クレジット", "有効期限"], For(CreditCard));
    add(
        &[
            "電話番号",
            "電話",
            "TEL",
            "Tel",
            "tel",
            "携帯番号",
            "携帯電話",
            "携帯",
            "連絡先",
            "自宅",
        ],
        For(Phone),
    );
    add(&["郵便番号", "〒"], For(PostalCode));
    add(&["メールアドレス", "メール", "E-mail", "e-mail", "Email", "email"], For(Email));
    add(
        &[
            "現住所",
            "住所",
            "住民登録地",
            "居所",
            "本籍",
            "送付先",
            "転居先",
            "転出先",
            "お住まい",
        ],
        For(Address),
    );
    add(&["生年月日", "誕生日", "出生日", "生年"], For(BirthDate));
    add(
        &[
            "氏名",
            "名前",
            "お名前",
            "姓名",
            "申請者",
            "世帯主",
            "被保険者",
            "届出人",
            "受給者",
            "対象者",
            "本人",
            "患者",
            "児童",
            "生徒",
            "保護者",
            "筆頭者",
            "相談者",
            "利用者",
            "契約者",
            "納税者",
            "死亡者",
            "宛名",
        ],
        For(PersonName),
    );
    add(
        &[
            "注文番号",
            "受注番号",
            "発注番号",
            "請求書番号",
            "請求番号",
            "伝票番号",
            "製品コード",
            "商品コード",
            "製品番号",
            "品番",
            "型番",
            "管理番号",
            "受付番号",
            "問合せ番号",
            "追跡番号",
            "お問い合わせ番号",
            "部品番号",
            "シリアル番号",
            "ロット",
            "JAN",
            "注文No",
            "Order",
            "Invoice",
            "SKU",
            "文書番号",
            "契約番号",
            "案件番号",
            "図面番号",
        ],
        Decoy,
    );
    add(
        &[
            "課長補佐",
            "課長",
            "係長",
            "部長",
            "次長",
            "室長",
            "所長",
            "局長",
            "主査",
            "主任",
            "主事",
            "参事",
            "副市長",
            "市長",
            "町長",
            "村長",
            "副町長",
            "担当",
            "技師",
            "事務局長",
            "班長",
            "課員",
            "係員",
            "主幹",
            "会計管理者",
            "教育長",
        ],
        Title,
    );
    add(
        &[
            "市役所",
            "区役所",
            "町役場",
            "村役場",
            "役場",
            "庁舎",
            "所在地",
            "問い合わせ",
            "問合せ",
            "お問い合わせ",
            "窓口",
            "会場",
            "本庁",
            "支所",
            "代表電話",
            "代表",
            "開庁",
            "担当課",
            "FAX",
            "ファクス",
            "ファックス",
            "事務所",
            "センター",
        ],
        Office,
    );
    add(&["記号"], Symbol);
    // Honorifics (様, 殿, さん) and 生/生まれ after a date are checked with `starts_with` at
    // the end of a candidate, not put in the automaton: one-character words would match on
    // almost every line and cost more than they find.
    v
}

/// A word found in a text: byte range and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Start byte.
    pub start: usize,
    /// End byte (exclusive).
    pub end: usize,
    /// What the word is.
    pub pat: Pat,
}

/// The word lists and matchers.
pub struct Lexicon {
    /// Given names (for the name after a surname).
    pub given: FastSet<&'static str>,
    /// All surnames incl. single-character ones (table columns).
    pub surnames: FastSet<&'static str>,
    /// Municipality names (市区町村) for table content checks.
    pub municipalities: FastSet<&'static str>,
    /// Context words, era names and surnames of ≥ 2 characters by their first two
    /// characters (see [`PairTable`]).
    pairs: PairTable,
    /// One-character context words (〒).
    ctx_single: Vec<(u32, Pat)>,
    /// Bit filters over hashed character pairs in front of the two maps above (most pairs of
    /// characters start no word: one load instead of a hash-map probe).
    ctx_filter: Vec<u64>,
    surname_filter: Vec<u64>,
    /// Flags per BMP character ([`KANJI`], [`CTX_FIRST`] …): one load per character decides
    /// whether anything needs looking up there.
    class: Box<[u8; 0x1_0000]>,
    /// The fast path's view of `class` for 3-byte characters, indexed by their raw bytes
    /// (`(lead & 0x0F) << 16 | second << 8 | third`, 1 MiB of which 256 KiB is ever touched):
    /// bit 0 = stop here after a non-kanji, bit 1 = after a kanji, bits 2–3 the same inside a
    /// context word (where none starts), bits 6–7 = the stop mask
    /// for the next character (1 after a non-kanji, 2 after a kanji), and [`STEP_HARD`],
    /// [`STEP_ASCII_NEXT`]. Saves the decoding.
    step3: Box<[u8; 1 << 20]>,
    /// The first two characters of every context word and surname when both are 3 bytes, as
    /// raw bytes, in a bit filter (see [`skip3`]).
    raw_pairs: Box<[u64; 1 << (RAW_PAIR_BITS - 6)]>,
    /// Per two bytes (first | second << 8), for the fast path's ASCII loop ([`ascii_run`]):
    /// bit 0 where the first is not ASCII or the two start a context word, bit 1 there too,
    /// where the second is not ASCII, and where the two are the second and third bytes of a
    /// context word (64 KiB, a few lines of it touched).
    ascii_pairs: Box<[u8; 1 << 16]>,
    /// Bit filter ([`ascii3_bit`]) over the first three bytes of the context words that start
    /// with ASCII (all of them have three or more).
    ascii3: Box<[u64; 1 << (ASCII3_BITS - 6)]>,
    /// Every ending of ≥ 2 characters of a prefecture or municipality name by [`place_hash`]
    /// (read backwards), with the place if the ending is a whole name.
    place_suffixes: PlaceTable,
    /// Bit filter over the keys of `place_suffixes`.
    place_filter: Vec<u64>,
    /// Longest place name in characters.
    place_chars: usize,
}

/// `std` sets and maps with foldhash: the lexicon is hashed on every candidate, and SipHash's
/// flooding resistance buys nothing for fixed, bundled word lists.
pub type FastSet<T> = foldhash::HashSet<T>;
type FastMap<K, V> = foldhash::HashMap<K, V>;

const CTX_FILTER_BITS: u32 = 16;
const SURNAME_FILTER_BITS: u32 = 19;
const PLACE_FILTER_BITS: u32 = 16;

/// The shared lexicon (built once, ~50 ms).
pub fn lexicon() -> &'static Lexicon {
    static L: OnceLock<Lexicon> = OnceLock::new();
    L.get_or_init(build)
}

#[inline(always)]
fn pair_key(a: u32, b: u32) -> u64 {
    ((a as u64) << 21) | b as u64
}

#[inline(always)]
fn filter_bit(key: u64, bits: u32) -> usize {
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
}

#[inline(always)]
fn filter_has(f: &[u64], bit: usize) -> bool {
    f[bit >> 6] & (1 << (bit & 63)) != 0
}

fn filter_set(f: &mut [u64], bit: usize) {
    f[bit >> 6] |= 1 << (bit & 63);
}

/// The character at byte `i` of `b` (valid UTF-8, `i` on a boundary) and its length.
#[inline(always)]
fn decode(b: &[u8], i: usize) -> (u32, usize) {
    let x = b[i] as u32;
    if x < 0x80 {
        (x, 1)
    } else if x < 0xE0 {
        (((x & 0x1F) << 6) | (b[i + 1] as u32 & 0x3F), 2)
    } else if x < 0xF0 {
        let s = &b[i..i + 3];
        (((x & 0x0F) << 12) | ((s[1] as u32 & 0x3F) << 6) | (s[2] as u32 & 0x3F), 3)
    } else {
        (
            ((x & 0x07) << 18) | ((b[i + 1] as u32 & 0x3F) << 12) | ((b[i + 2] as u32 & 0x3F) << 6) | (b[i + 3] as u32 & 0x3F),
            4,
        )
    }
}

/// From byte `i` of `w`, steps over the 3-byte characters at which [`Lexicon::find`] would
/// find nothing (`step` is `Lexicon::step3`, `sm` its stop mask for the character at `i`):
/// those that start no word and end no place, and those that may start a word but whose pair
/// with the next character is not in `raw_pairs` (the first two characters of every context
/// word and surname, as raw bytes). Returns where it stopped (a character that may need a
/// look, one that is not 3 bytes, or fewer than 8 bytes left) and the stop mask there. Eight
/// bytes are loaded at a time and classified by one table load per character, without
/// decoding; two characters per load when both are 3 bytes. Inlined: it runs once per stop,
/// and a call's register saves cost more than a short skip.
#[inline(always)]
fn skip3(step: &[u8; 1 << 20], raw_pairs: &[u64; 1 << (RAW_PAIR_BITS - 6)], w: &[u8], mut i: usize, mut sm: u8) -> (usize, u8) {
    while let Some(q) = w.get(i..).and_then(|r| r.first_chunk::<8>()) {
        let q = u64::from_be_bytes(*q);
        if q >> 60 != 0xE {
            // Bytes below 0x40 (digits, spaces, newlines, punctuation) start nothing and end
            // nothing (see `build`), and reset the mask to "after a non-kanji": dense records
            // switch between them and kanji every few characters, and leaving this loop for
            // each switch cost more than the skip. Not past `w.len() - 2` (the caller's limit).
            let skip = ((q & 0xC0C0_C0C0_C0C0_C0C0).leading_zeros() / 8) as usize;
            let skip = skip.min((w.len() - 2).saturating_sub(i));
            if skip == 0 {
                break;
            }
            i += skip;
            sm = 1;
            continue;
        }
        let st = step[(q >> 40) as usize & 0xF_FFFF];
        if st & sm == 0 {
            // Nothing here; the next character (from the same load) if it is 3 bytes too.
            let sm1 = st >> STEP_NEXT;
            if (q >> 36) & 0xF == 0xE {
                let st1 = step[(q >> 16) as usize & 0xF_FFFF];
                if st1 & sm1 == 0 {
                    sm = st1 >> STEP_NEXT;
                    i += 6;
                    continue;
                }
            }
            sm = sm1;
            i += 3;
            continue;
        }
        // A place may end here (or 〒): always a look. Else the next character decides.
        if st & STEP_HARD != 0 {
            break;
        }
        if (q >> 36) & 0xF != 0xE {
            // The next character is not 3 bytes. If it is ASCII, only a context word with
            // an ASCII second character could start here (no surname has one), and for
            // most characters none does: a kanji before a newline, a space or a digit
            // (号, 日, 市 in dense records) need no look.
            if (q >> 39) & 1 != 0 || st & STEP_ASCII_NEXT != 0 {
                break;
            }
        } else {
            let bit = raw_pair_bit(q >> 16);
            if raw_pairs[bit >> 6] & (1 << (bit & 63)) != 0 {
                break;
            }
        }
        sm = st >> STEP_NEXT;
        i += 3;
    }
    (i, sm)
}

/// From byte `i` of `w`, the first byte before the last that may start a context word or is
/// not ASCII ([`Lexicon::ascii_pairs`]: bit 0 of its pair with the next byte), or the last
/// byte. Bytes whose pair has bit 0 but which start no word may be passed over: the caller
/// would go on after them anyway. Not inlined: a tight loop of its own, away from the
/// register pressure of [`Lexicon::find`].
///
/// Every other byte only: each ASCII context word has three bytes or more, so its first or
/// its second pair falls on a byte looked at, and bit 1 is set for both (and for a pair whose
/// second byte is not ASCII). English letters went byte by byte before, 7 % of the lexicon's
/// time on dense records.
#[inline(never)]
fn ascii_run(pairs: &[u8; 1 << 16], w: &[u8], from: usize) -> usize {
    let last = w.len().saturating_sub(1);
    let pair = |k: usize| pairs[w[k] as usize | (w[k + 1] as usize) << 8];
    let mut i = from;
    while i + 1 < last {
        if pair(i) & 2 != 0 {
            if i > from && pair(i - 1) & 1 != 0 {
                return i - 1;
            }
            if pair(i) & 1 != 0 {
                return i;
            }
            if w[i + 1] >= 0x80 {
                return i + 1;
            }
        }
        i += 2;
    }
    // The byte before `i` (its word's second pair would be at `i`) and the last ones.
    let mut i = if i > from { i - 1 } else { i };
    while i < last {
        if pair(i) & 1 != 0 {
            return i;
        }
        i += 1;
    }
    last
}

/// Bits of [`Lexicon::ascii3`].
const ASCII3_BITS: u32 = 12;

#[inline(always)]
fn ascii3_bit(x: u8, y: u8, z: u8) -> usize {
    filter_bit(x as u64 | (y as u64) << 8 | (z as u64) << 16, ASCII3_BITS)
}

/// Bits of the raw-pair filter of [`skip3`] (128 KiB).
const RAW_PAIR_BITS: u32 = 20;
/// `step3` bit: a place may end here, or a one-character word starts here.
const STEP_HARD: u8 = 16;
/// `step3` bit: a context word starts with this character and an ASCII one.
const STEP_ASCII_NEXT: u8 = 32;
/// `step3` shift: the top two bits are the stop mask for the next character.
const STEP_NEXT: u32 = 6;

/// The filter bit of two 3-byte characters as raw bytes (48 bits, big-endian).
#[inline(always)]
fn raw_pair_bit(six_bytes: u64) -> usize {
    ((six_bytes & 0xFFFF_FFFF_FFFF).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - RAW_PAIR_BITS)) as usize
}

/// Kanji (incl. 々 and the extension blocks): a name can only start where the character
/// before is not one (see [`crate::detect`]).
#[inline(always)]
pub fn is_kanji_u32(c: u32) -> bool {
    c.wrapping_sub(0x4E00) < 0x5200 || matches!(c, 0x3400..=0x4DBF | 0xF900..=0xFAFF | 0x3005 | 0x20000..=0x2FFFF)
}

/// 都道府県 and 市区町村: every prefecture and municipality ends with one of these.
#[inline(always)]
fn is_place_suffix(c: u32) -> bool {
    matches!(c, 0x90FD | 0x9053 | 0x5E9C | 0x770C | 0x5E02 | 0x533A | 0x753A | 0x6751)
}

/// A word of [`PairTable`]: its first 16 bytes (zero-padded), checked against a candidate
/// with two 8-byte compares under the mask of its length ([`HEAD_MASKS`]) instead of a
/// `memcmp` call. 32 bytes, aligned: one cache line a word (with the masks in it, 40 bytes,
/// three in five spanned two, and their loads were `words_at`'s slowest, perf annotate).
#[derive(Clone, Copy)]
#[repr(align(32))]
struct Word {
    head: [u64; 2],
    len: u32,
    pat: Pat,
    /// A context word none of whose characters after the first may need a look inside it
    /// (see [`in_word_clear`]): the fast path jumps to its end.
    clear: bool,
}

/// The masks of the first `min(len, 16)` bytes of a word of `len` bytes, by that number.
const HEAD_MASKS: [[u64; 2]; 17] = {
    let mut m = [[0u64; 2]; 17];
    let mut k = 1;
    while k <= 16 {
        m[k] = if k <= 8 { [u64::MAX >> (64 - 8 * k), 0] } else { [u64::MAX, u64::MAX >> (128 - 8 * k)] };
        k += 1;
    }
    m
};

/// The words that start with a given pair of characters (context words and eras, then
/// surnames, each longest first) in one open-addressed table: one probe for both lists.
struct PairTable {
    /// By [`filter_bit`] of the pair key (key 0 = empty), linear probing. The entries
    /// themselves, not indices into a list of them: that second load, to a random line of
    /// 200 KB, was where `words_at` waited most (perf annotate, 15 % of its samples).
    slots: Box<[PairEntry]>,
    words: Vec<Word>,
    /// The whole word, for those longer than 16 bytes.
    texts: Vec<&'static str>,
}

/// The words of one pair: `ctx` context words from `start` in `words`, then `sur` surnames.
#[derive(Clone, Copy, Default)]
struct PairEntry {
    key: u64,
    start: u32,
    ctx: u16,
    sur: u16,
}

impl PairEntry {
    /// (start, count) of its context words in `words`.
    #[inline(always)]
    fn ctx(&self) -> (usize, usize) {
        (self.start as usize, self.ctx as usize)
    }

    /// (start, count) of its surnames in `words`.
    #[inline(always)]
    fn sur(&self) -> (usize, usize) {
        (self.start as usize + self.ctx as usize, self.sur as usize)
    }
}

/// 16 Ki entries of 16 bytes, about half of them used.
const PAIR_SLOT_BITS: u32 = 14;

impl PairTable {
    fn new(ctx: &FastMap<u64, Vec<(&'static str, Pat)>>, sur: &FastMap<u64, Vec<&'static str>>, clear: impl Fn(&str) -> bool) -> PairTable {
        let mut keys: Vec<u64> = ctx.keys().chain(sur.keys()).copied().collect();
        keys.sort_unstable();
        keys.dedup();
        assert!(keys.len() < (1 << PAIR_SLOT_BITS) * 3 / 4, "pair table too small: {} keys", keys.len());
        let mut t = PairTable { slots: vec![PairEntry::default(); 1 << PAIR_SLOT_BITS].into_boxed_slice(), words: Vec::new(), texts: Vec::new() };
        for key in keys {
            assert!(key != 0, "pair key 0");
            let start = t.words.len() as u32;
            let mut add = |list: &mut dyn Iterator<Item = (&'static str, Pat)>| {
                let from = t.words.len();
                for (w, pat) in list {
                    let wb = w.as_bytes();
                    let mut head = [0u64; 2];
                    for (k, &x) in wb.iter().take(16).enumerate() {
                        head[k / 8] |= (x as u64) << (8 * (k % 8));
                    }
                    // Zero bytes would match the padding past the end of the text.
                    assert!(!wb.contains(&0));
                    let clear = matches!(pat, Pat::Ctx(_) | Pat::Era(_)) && clear(w);
                    t.words.push(Word { head, len: wb.len() as u32, pat, clear });
                    t.texts.push(w);
                }
                u16::try_from(t.words.len() - from).expect("words per pair")
            };
            let c = add(&mut ctx.get(&key).into_iter().flatten().copied());
            let s = add(&mut sur.get(&key).into_iter().flatten().map(|w| (*w, Pat::Surname)));
            let mut i = filter_bit(key, PAIR_SLOT_BITS);
            while t.slots[i].key != 0 {
                i = (i + 1) & ((1 << PAIR_SLOT_BITS) - 1);
            }
            t.slots[i] = PairEntry { key, start, ctx: c, sur: s };
        }
        t
    }

    /// The entry of `key`; `None` if no word starts with that pair. (Key 0, no pair of
    /// characters of a text but NUL NUL, may give an empty slot: no words either.)
    #[inline(always)]
    fn get(&self, key: u64) -> Option<&PairEntry> {
        let mut i = filter_bit(key, PAIR_SLOT_BITS);
        loop {
            let e = &self.slots[i];
            if e.key == key {
                return Some(e);
            }
            if e.key == 0 {
                return None;
            }
            i = (i + 1) & ((1 << PAIR_SLOT_BITS) - 1);
        }
    }

    /// The first (longest) of `words[start..start + n]` that `b[p..]` starts with; `t` =
    /// [`head16`] of `b` at `p`.
    #[inline(always)]
    fn longest(&self, start: usize, n: usize, t: [u64; 2], b: &[u8], p: usize) -> Option<&Word> {
        for (k, w) in self.words[start..start + n].iter().enumerate() {
            let mask = &HEAD_MASKS[(w.len as usize).min(16)];
            if ((t[0] & mask[0]) ^ w.head[0]) | ((t[1] & mask[1]) ^ w.head[1]) == 0
                && (w.len <= 16 || b[p..].starts_with(self.texts[start + k].as_bytes()))
            {
                return Some(w);
            }
        }
        None
    }
}

/// The 16 bytes of `b` from `p` as two little-endian words, zero-padded past the end.
#[inline(always)]
fn head16(b: &[u8], p: usize) -> [u64; 2] {
    let le = |w: &[u8]| u64::from_le_bytes(w.try_into().expect("8 bytes"));
    match b.get(p..p + 16) {
        Some(w) => [le(&w[..8]), le(&w[8..])],
        None => {
            let mut t = [0u64; 2];
            for (k, &x) in b[p..].iter().enumerate() {
                t[k / 8] |= (x as u64) << (8 * (k % 8));
            }
            t
        }
    }
}

const KANJI: u8 = 1;
const CTX_FIRST: u8 = 2;
/// `KANJI << 2` (the fast path of [`Lexicon::find`] relies on it).
const SURNAME_FIRST: u8 = 4;
const PLACE_LAST: u8 = 8;
const CTX_SINGLE: u8 = 16;

impl Lexicon {
    /// Every word of interest in `text`, by start, non-overlapping: leftmost-longest across
    /// context words, eras, places and surnames (what one Aho-Corasick automaton over all of
    /// them gave, which this replaced for speed). Surnames are only reported where a name can
    /// start: after a non-kanji character or right after a context word.
    pub fn find(&self, text: &str) -> Vec<Hit> {
        let mut hits = Vec::new();
        self.find_impl(text, true, &mut hits);
        hits
    }

    /// [`Lexicon::find`] into `hits` (cleared first): a caller going from text to text passes
    /// the same vector, whose pages are already mapped (dense records give a hit every ~50
    /// bytes: a fresh vector of MBs, grown by doubling, cost page faults and copies).
    pub fn find_into(&self, text: &str, hits: &mut Vec<Hit>) {
        self.find_impl(text, true, hits);
    }

    /// [`Lexicon::find_into`]; `fast = false` leaves out the fast path (every character
    /// through the general step: the reference the fast path must equal, see the tests).
    fn find_impl(&self, text: &str, fast: bool, raw: &mut Vec<Hit>) {
        let b = text.as_bytes();
        let n = b.len();
        raw.clear();
        raw.reserve(n / 64 + 16);
        // End of the last context word: they do not overlap each other.
        let mut ctx_end = 0usize;
        let mut prev_kanji = false;
        let mut i = 0;
        let class: &[u8; 0x1_0000] = &self.class;
        while i < n {
            // Fast path over the characters that start nothing and end no place (most of them):
            // ASCII and 3-byte characters (kana, kanji, CJK punctuation) one table load each,
            // without the pair decoding below. A surname can only start after a non-kanji, so
            // after a kanji only context-word starts and place ends matter, except at the end
            // of the last context word. Each run goes up to that end (`lim`), where a surname
            // may start after a kanji, then on with the stop mask of a non-kanji. A 3-byte
            // character that may start a word or end a place is looked up here, as the general
            // step below would; everything else it stops at goes through that step.
            if fast {
                let step: &[u8; 1 << 20] = &self.step3;
                // The stop mask of `step3` (1: after a non-kanji or at `ctx_end`, 2: after a
                // kanji).
                let mut sm: u8 = if prev_kanji { 2 } else { 1 };
                'run: loop {
                    if i == ctx_end {
                        sm = 1;
                    }
                    let lim = if ctx_end > i { ctx_end } else { n };
                    // Where a 3-byte character may start (`i + 2 < n`, as below).
                    let end3 = lim.min(n.saturating_sub(2));
                    let w = &b[..(end3 + 2).min(n)];
                    'fast: loop {
                        let from = i;
                        if ctx_end > i {
                            // Inside a context word only a place end or a surname after a
                            // non-kanji matters (bits 2–3 of `step3`), up to its end (what
                            // `skip3` cannot reach: it loads eight bytes).
                            while let Some(&[x, y, z]) = b.get(i..i + 3) {
                                if i >= lim || x & 0xF0 != 0xE0 {
                                    break;
                                }
                                let st = step[((x as usize & 0x0F) << 16) | ((y as usize) << 8) | z as usize];
                                if st & (sm << 2) != 0 {
                                    break;
                                }
                                sm = st >> STEP_NEXT;
                                i += 3;
                            }
                            // At the word's end (most words): straight to the next run, not
                            // through the loops below, which would find nothing before `lim`.
                            if i == lim && i < n {
                                continue 'run;
                            }
                        }
                        // The characters that need no look (most), in `skip3`; then each one
                        // that may need one, here.
                        loop {
                            (i, sm) = skip3(step, &self.raw_pairs, w, i, sm);
                            if i + 4 > w.len() || w[i] & 0xF0 != 0xE0 {
                                break;
                            }
                            let (x, y, z) = (w[i], w[i + 1], w[i + 2]);
                            let st = step[((x as usize & 0x0F) << 16) | ((y as usize) << 8) | z as usize];
                            let c = ((((x as usize & 0x0F) << 12) | ((y as usize & 0x3F) << 6) | (z as usize & 0x3F)) & 0xFFFF) as u32;
                            let fl = class[c as usize];
                            // The next character: ASCII, or 3 bytes; others in the general step.
                            let p = b[i + 3];
                            let c1 = if p < 0x80 {
                                p as u32
                            } else if p & 0xF0 == 0xE0 {
                                ((p as u32 & 0x0F) << 12) | ((b[i + 4] as u32 & 0x3F) << 6) | (b[i + 5] as u32 & 0x3F)
                            } else {
                                break 'fast;
                            };
                            // The general step's tests (`i <= ctx_end` here is `i == ctx_end`).
                            let key = pair_key(c, c1);
                            let ctx = fl & CTX_FIRST != 0
                                && ctx_end <= i
                                && (fl & CTX_SINGLE != 0 || filter_has(&self.ctx_filter, filter_bit(key, CTX_FILTER_BITS)));
                            let name = sm == 1 && c1 >= 0x80 && fl & SURNAME_FIRST != 0 && filter_has(&self.surname_filter, filter_bit(key, SURNAME_FILTER_BITS));
                            let end0 = ctx_end;
                            let clear = (ctx || name) && self.words_at_inline(text, i, c, 3, key, ctx, name, &mut ctx_end, raw);
                            if fl & PLACE_LAST != 0 {
                                self.place_ending(text, i + 3, raw);
                            }
                            if clear {
                                // A context word with nothing to look at inside: on from its end.
                                i = ctx_end;
                                continue 'run;
                            }
                            sm = st >> STEP_NEXT;
                            i += 3;
                            if ctx_end != end0 {
                                // A context word: a new run up to its end.
                                continue 'run;
                            }
                        }
                        // The last character before `lim` (no fourth byte to load) as before.
                        while let Some(&[x, y, z]) = w.get(i..i + 3) {
                            if x & 0xF0 != 0xE0 {
                                break;
                            }
                            let c = (((x as usize & 0x0F) << 12) | ((y as usize & 0x3F) << 6) | (z as usize & 0x3F)) & 0xFFFF;
                            let fl = class[c];
                            let mask = CTX_FIRST | PLACE_LAST | if sm == 1 { SURNAME_FIRST } else { 0 };
                            if fl & mask != 0 {
                                break 'fast;
                            }
                            sm = if fl & KANJI != 0 { 2 } else { 1 };
                            i += 3;
                        }
                        // ASCII: only context words start here (no surname or place has ASCII).
                        // Byte by byte, each with the next one in one bit of `ascii_pairs`
                        // (set for a non-ASCII byte and for the first two bytes of every
                        // context word), then the third in `ascii3` (their first letters e, t,
                        // M … are common in English, and "te" starts "tel"). Up to the last
                        // byte of the text, which the loop after this one takes.
                        let a_end = lim.min(n - 1);
                        let from_ascii = i;
                        while i < a_end {
                            i = ascii_run(&self.ascii_pairs, &b[..a_end + 1], i);
                            // A non-ASCII character, or a context word's first two bytes: the
                            // third decides (the loop below stops there too).
                            if i == a_end
                                || b[i] >= 0x80
                                || i >= ctx_end && b.get(i + 2).is_some_and(|&z| filter_has(&self.ascii3[..], ascii3_bit(b[i], b[i + 1], z)))
                            {
                                break;
                            }
                            i += 1;
                        }
                        if i != from_ascii {
                            sm = 1;
                        }
                        // The pair filter, as the general step below would ask it.
                        let a = &b[..lim];
                        while i < a.len() {
                            let x = a[i];
                            // From a byte below 0x40 (digits, spaces, punctuation: no context
                            // word starts with one, see `build`), up to eight such bytes at a
                            // time: the first with bit 6 or 7 set (a letter, a lead byte) ends
                            // the skip. Letters stay byte by byte (English prose would pay for
                            // the test).
                            if x < 0x40 {
                                let skip = match a.get(i..i + 8) {
                                    Some(q) => ((u64::from_le_bytes(q.try_into().expect("8 bytes")) & 0xC0C0_C0C0_C0C0_C0C0).trailing_zeros() / 8) as usize,
                                    None => 1,
                                };
                                sm = 1;
                                i += skip;
                                continue;
                            }
                            if x >= 0x80 {
                                break;
                            }
                            let fl = class[x as usize];
                            if fl & CTX_FIRST != 0 && i >= ctx_end {
                                let c1 = match b.get(i + 1) {
                                    None => 0,
                                    Some(&y) if y < 0x80 => y as u32,
                                    Some(_) => break,
                                };
                                if fl & CTX_SINGLE != 0 || filter_has(&self.ctx_filter, filter_bit(pair_key(x as u32, c1), CTX_FILTER_BITS)) {
                                    break;
                                }
                            }
                            sm = 1;
                            i += 1;
                        }
                        if i == from {
                            break;
                        }
                    }
                    // At the end of a context word: on from there, without the general step.
                    if i == lim && lim == ctx_end && i < n {
                        continue 'run;
                    }
                    break;
                }
                prev_kanji = sm == 2;
                if i >= n {
                    break;
                }
            }
            let x = b[i];
            // Kana and kanji (3 bytes) and ASCII inline; the rest through `decode`.
            let (c, len) = if x < 0x80 {
                (x as u32, 1)
            } else if (0xE0..0xF0).contains(&x) && i + 2 < n {
                (((x as u32 & 0x0F) << 12) | ((b[i + 1] as u32 & 0x3F) << 6) | (b[i + 2] as u32 & 0x3F), 3)
            } else {
                decode(b, i)
            };
            let fl = if c < 0x1_0000 {
                class[c as usize & 0xFFFF]
            } else if is_kanji_u32(c) {
                KANJI
            } else {
                0
            };
            if fl & (CTX_FIRST | SURNAME_FIRST) != 0 {
                // Only pairs that pass a filter go on to the hash maps (most do not).
                let want_ctx = fl & CTX_FIRST != 0 && i >= ctx_end;
                let want_name = fl & SURNAME_FIRST != 0 && (!prev_kanji || i == ctx_end);
                if want_ctx || want_name {
                    let c1 = if i + len < n { decode(b, i + len).0 } else { 0 };
                    let key = pair_key(c, c1);
                    let ctx = want_ctx && (fl & CTX_SINGLE != 0 || filter_has(&self.ctx_filter, filter_bit(key, CTX_FILTER_BITS)));
                    let name = want_name && c1 >= 0x80 && filter_has(&self.surname_filter, filter_bit(key, SURNAME_FILTER_BITS));
                    if ctx || name {
                        self.words_at(text, i, c, len, key, ctx, name, &mut ctx_end, raw);
                    }
                }
            }
            if fl & PLACE_LAST != 0 {
                self.place_ending(text, i + len, raw);
            }
            prev_kanji = fl & KANJI != 0;
            i += len;
        }
        // Leftmost, then longest, wins (`raw` is ordered by start, longest first). In place: a
        // second vector of MB on large texts cost its page faults.
        // Without a branch: each hit is written at `k`, which moves on only if it is kept.
        let (mut k, mut last_end) = (0, 0);
        for j in 0..raw.len() {
            let h = raw[j];
            let keep = h.start >= last_end;
            raw[k] = h;
            k += keep as usize;
            last_end = if keep { h.end } else { last_end };
        }
        raw.truncate(k);
    }

    /// Context words (`ctx`) and surnames (`name`) starting at byte `p` (character `c` of
    /// `len` bytes; `key` = it and the next character). True if a context word was found whose
    /// characters after the first need no look ([`Word::clear`]).
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn words_at(&self, text: &str, p: usize, c: u32, len: usize, key: u64, ctx: bool, name: bool, ctx_end: &mut usize, out: &mut Vec<Hit>) -> bool {
        self.words_at_inline(text, p, c, len, key, ctx, name, ctx_end, out)
    }

    /// [`Lexicon::words_at`], inlined into the fast path of [`Lexicon::find_impl`] (~173k calls
    /// per 8 MB of dense records: the call passed five arguments on the stack and saved five
    /// registers).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn words_at_inline(&self, text: &str, p: usize, c: u32, len: usize, key: u64, ctx: bool, name: bool, ctx_end: &mut usize, out: &mut Vec<Hit>) -> bool {
        let b = text.as_bytes();
        let e = self.pairs.get(key);
        let t = head16(b, p);
        let mut cx: Option<Hit> = None;
        let mut clear = false;
        if ctx {
            if let Some(w) = e.and_then(|e| self.pairs.longest(e.ctx().0, e.ctx().1, t, b, p)) {
                cx = Some(Hit { start: p, end: p + w.len as usize, pat: w.pat });
                clear = w.clear;
            } else if let Some((_, pat)) = self.ctx_single.iter().find(|(x, _)| *x == c) {
                cx = Some(Hit { start: p, end: p + len, pat: *pat });
            }
            if let Some(h) = cx {
                *ctx_end = h.end;
            }
        }
        let mut sur: Option<Hit> = None;
        if name && let Some(w) = e.and_then(|e| self.pairs.longest(e.sur().0, e.sur().1, t, b, p)) {
            sur = Some(Hit { start: p, end: p + w.len as usize, pat: Pat::Surname });
        }
        match (cx, sur) {
            (Some(c), Some(s)) if s.end > c.end => out.extend([s, c]),
            (Some(c), Some(s)) => out.extend([c, s]),
            (Some(h), None) | (None, Some(h)) => out.push(h),
            (None, None) => {}
        }
        clear
    }

    /// The longest prefecture or municipality ending at byte `end`, kept in (start, longest
    /// first) order among the hits already found. Walks back one character at a time while
    /// the characters so far end some place name (`place_suffixes`, by a hash of the
    /// characters: most walks stop at the second, on one bit of `place_filter`).
    fn place_ending(&self, text: &str, end: usize, out: &mut Vec<Hit>) {
        let b = text.as_bytes();
        // The last character, 3 bytes like every place name's (都道府県市区町村).
        if end < 3 || b[end - 3] & 0xF0 != 0xE0 {
            return;
        }
        let mut s = end - 3;
        let mut h = place_hash(0, ((b[s] as u32 & 0x0F) << 12) | ((b[s + 1] as u32 & 0x3F) << 6) | (b[s + 2] as u32 & 0x3F));
        let mut best = None;
        for _ in 2..=self.place_chars {
            // The character before `s`: 3 bytes (most), else found by its lead byte.
            let c = if s >= 3 && b[s - 3] & 0xF0 == 0xE0 {
                s -= 3;
                ((b[s] as u32 & 0x0F) << 12) | ((b[s + 1] as u32 & 0x3F) << 6) | (b[s + 2] as u32 & 0x3F)
            } else {
                if s == 0 {
                    break;
                }
                s -= 1;
                while s > 0 && b[s] & 0xC0 == 0x80 {
                    s -= 1;
                }
                if b[s] < 0x80 {
                    break;
                }
                decode(b, s).0
            };
            h = place_hash(h, c);
            if !filter_has(&self.place_filter, filter_bit(h, PLACE_FILTER_BITS)) {
                break;
            }
            match self.place_suffixes.get(h) {
                None => break,
                // The hash is only a guide: the bytes decide.
                Some(&Some((w, p))) if w.as_bytes() == &b[s..end] => best = Some(Hit { start: s, end, pat: p }),
                Some(_) => {}
            }
        }
        let Some(h) = best else { return };
        let mut at = out.len();
        while at > 0 && (out[at - 1].start, std::cmp::Reverse(out[at - 1].end)) > (h.start, std::cmp::Reverse(h.end)) {
            at -= 1;
        }
        out.insert(at, h);
    }
}

/// The endings of place names by [`place_hash`] in an open-addressed table indexed by the
/// hash's top bits: the hash is one already, and a `HashMap` probe (hashing it again) cost
/// more than the rest of a place lookup.
struct PlaceTable {
    /// Keys (0 = empty slot), linear probing.
    keys: Box<[u64]>,
    vals: Box<[Option<(&'static str, Pat)>]>,
    shift: u32,
}

impl PlaceTable {
    fn new(m: &FastMap<u64, Option<(&'static str, Pat)>>) -> PlaceTable {
        let bits = (m.len() * 2).next_power_of_two().trailing_zeros().max(4);
        let mut t = PlaceTable { keys: vec![0; 1 << bits].into_boxed_slice(), vals: vec![None; 1 << bits].into_boxed_slice(), shift: 64 - bits };
        for (&k, &v) in m {
            assert!(k != 0, "place hash 0");
            let mut i = (k >> t.shift) as usize;
            while t.keys[i] != 0 {
                i = (i + 1) & (t.keys.len() - 1);
            }
            t.keys[i] = k;
            t.vals[i] = v;
        }
        t
    }

    /// `None` if no place name ends so; else the place whose whole name hashes to `h`, if any.
    #[inline(always)]
    fn get(&self, h: u64) -> Option<&Option<(&'static str, Pat)>> {
        let mut i = (h >> self.shift) as usize;
        loop {
            let k = self.keys[i];
            if k == h {
                return Some(&self.vals[i]);
            }
            if k == 0 {
                return None;
            }
            i = (i + 1) & (self.keys.len() - 1);
        }
    }
}

/// The hash of a place name's last characters, read backwards: `h` of the characters after
/// `c`, then `c` (0 before the first).
#[inline(always)]
fn place_hash(h: u64, c: u32) -> u64 {
    (h ^ c as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29)
}

fn build() -> Lexicon {
    let mut seen: HashSet<&'static str> = HashSet::new();
    // Identical strings: the first kind wins (context words, eras, places, surnames).
    let mut ctx_words: Vec<(&'static str, Pat)> = Vec::new();
    for (w, l) in context_words() {
        if seen.insert(w) {
            ctx_words.push((w, Pat::Ctx(l)));
        }
    }
    for (i, (e, _, _)) in ERAS.iter().enumerate() {
        if seen.insert(e) {
            ctx_words.push((e, Pat::Era(i as u8)));
        }
    }
    let mut ctx_pairs: FastMap<u64, Vec<(&'static str, Pat)>> = FastMap::default();
    let mut ctx_single = Vec::new();
    let mut ctx_filter = vec![0u64; 1 << (CTX_FILTER_BITS - 6)];
    for (w, p) in ctx_words {
        let mut cs = w.chars();
        match (cs.next(), cs.next()) {
            (Some(a), Some(b)) => {
                let key = pair_key(a as u32, b as u32);
                ctx_pairs.entry(key).or_default().push((w, p));
                filter_set(&mut ctx_filter, filter_bit(key, CTX_FILTER_BITS));
            }
            (Some(a), None) => ctx_single.push((a as u32, p)),
            _ => {}
        }
    }
    for v in ctx_pairs.values_mut() {
        v.sort_by_key(|(w, _)| std::cmp::Reverse(w.len()));
    }
    let mut municipalities = FastSet::default();
    let mut places: FastMap<&'static str, Pat> = FastMap::default();
    for line in MUNICIPALITIES.lines().filter(|l| !l.starts_with('#')) {
        let mut f = line.split('\t');
        let (_code, pref, city) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or(""));
        if !pref.is_empty() && seen.insert(pref) {
            places.insert(pref, Pat::Prefecture);
        }
        if !city.is_empty() {
            municipalities.insert(city);
            if seen.insert(city) {
                places.insert(city, Pat::Municipality);
            }
        }
    }
    debug_assert!(places.keys().all(|p| p.chars().last().is_some_and(|c| is_place_suffix(c as u32))));
    let place_chars = places.keys().map(|p| p.chars().count()).max().unwrap_or(0);
    let mut place_suffixes: FastMap<u64, Option<(&'static str, Pat)>> = FastMap::default();
    let mut place_filter = vec![0u64; 1 << (PLACE_FILTER_BITS - 6)];
    for (&w, &p) in &places {
        let mut h = 0u64;
        for (k, c) in w.chars().rev().enumerate() {
            h = place_hash(h, c as u32);
            if k == 0 {
                continue;
            }
            filter_set(&mut place_filter, filter_bit(h, PLACE_FILTER_BITS));
            let e = place_suffixes.entry(h).or_insert(None);
            if k + 1 == w.chars().count() {
                // Two names with one hash would lose one of them.
                assert!(e.is_none(), "place hash collision: {w}");
                *e = Some((w, p));
            }
        }
    }
    let place_suffixes = PlaceTable::new(&place_suffixes);
    let surnames: FastSet<&'static str> = SURNAMES.lines().filter(|l| !l.is_empty()).collect();
    let mut surname_pairs: FastMap<u64, Vec<&'static str>> = FastMap::default();
    let mut surname_filter = vec![0u64; 1 << (SURNAME_FILTER_BITS - 6)];
    for s in SURNAMES.lines() {
        let mut cs = s.chars();
        let (Some(a), Some(b)) = (cs.next(), cs.next()) else { continue };
        if STOP_SURNAMES.contains(&s) || !seen.insert(s) {
            continue;
        }
        let key = pair_key(a as u32, b as u32);
        surname_pairs.entry(key).or_default().push(s);
        filter_set(&mut surname_filter, filter_bit(key, SURNAME_FILTER_BITS));
    }
    for v in surname_pairs.values_mut() {
        v.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
    let mut class: Box<[u8; 0x1_0000]> = vec![0u8; 0x1_0000].into_boxed_slice().try_into().expect("64 Ki entries");
    for (u, f) in class.iter_mut().enumerate() {
        if is_kanji_u32(u as u32) {
            *f |= KANJI;
        }
        if is_place_suffix(u as u32) {
            *f |= PLACE_LAST;
        }
    }
    let first = |w: &str| w.chars().next().map_or(0, |c| c as usize);
    for list in ctx_pairs.values() {
        for (w, _) in list {
            class[first(w)] |= CTX_FIRST;
        }
    }
    for (c, _) in &ctx_single {
        class[*c as usize] |= CTX_FIRST | CTX_SINGLE;
    }
    for list in surname_pairs.values() {
        for w in list {
            class[first(w)] |= SURNAME_FIRST;
        }
    }
    // The ASCII fast path of `find` only looks for context words.
    assert!(class[..0x80].iter().all(|f| f & (SURNAME_FIRST | PLACE_LAST | KANJI) == 0));
    // It skips bytes below 0x40 eight at a time: no context word may start with one.
    assert!(class[..0x40].iter().all(|f| f & CTX_FIRST == 0));
    // First characters of the context words whose second character is ASCII (電話TEL …).
    let ascii_second: HashSet<u32> = ctx_pairs
        .values()
        .flatten()
        .filter_map(|(w, _)| {
            let mut cs = w.chars();
            match (cs.next(), cs.next()) {
                (Some(a), Some(b)) if b.is_ascii() => Some(a as u32),
                _ => None,
            }
        })
        .collect();
    let mut step3: Box<[u8; 1 << 20]> = vec![0u8; 1 << 20].into_boxed_slice().try_into().expect("1 Mi entries");
    for x in 0xE0u32..0xF0 {
        for y in 0x80u32..0xC0 {
            for z in 0x80u32..0xC0 {
                let c = ((x & 0x0F) << 12) | ((y & 0x3F) << 6) | (z & 0x3F);
                let fl = class[c as usize];
                let after_other = fl & (CTX_FIRST | PLACE_LAST | SURNAME_FIRST) != 0;
                let after_kanji = fl & (CTX_FIRST | PLACE_LAST) != 0;
                // Inside a context word (bits 2–3).
                let in_word_other = fl & (PLACE_LAST | SURNAME_FIRST) != 0;
                let in_word_kanji = fl & PLACE_LAST != 0;
                let next = if fl & KANJI != 0 { 2 } else { 1 };
                let hard = if fl & (PLACE_LAST | CTX_SINGLE) != 0 { STEP_HARD } else { 0 };
                let ascii_next = if ascii_second.contains(&c) { STEP_ASCII_NEXT } else { 0 };
                step3[(((x & 0x0F) << 16) | (y << 8) | z) as usize] = after_other as u8 | (after_kanji as u8) << 1 | (in_word_other as u8) << 2 | (in_word_kanji as u8) << 3 | next << STEP_NEXT | hard | ascii_next;
            }
        }
    }
    let mut raw_pairs: Box<[u64; 1 << (RAW_PAIR_BITS - 6)]> = vec![0u64; 1 << (RAW_PAIR_BITS - 6)].into_boxed_slice().try_into().expect("filter size");
    let words = ctx_pairs.values().flat_map(|l| l.iter().map(|(w, _)| *w)).chain(surname_pairs.values().flatten().copied());
    for w in words {
        let wb = w.as_bytes();
        if wb.len() >= 6 && wb[0] & 0xF0 == 0xE0 && wb[3] & 0xF0 == 0xE0 {
            let six = wb[..6].iter().fold(0u64, |a, &x| (a << 8) | x as u64);
            let bit = raw_pair_bit(six);
            raw_pairs[bit >> 6] |= 1 << (bit & 63);
        }
    }
    let mut ascii_pairs: Box<[u8; 1 << 16]> = vec![0u8; 1 << 16].into_boxed_slice().try_into().expect("table size");
    let mut ascii3: Box<[u64; 1 << (ASCII3_BITS - 6)]> = vec![0u64; 1 << (ASCII3_BITS - 6)].into_boxed_slice().try_into().expect("filter size");
    for p in 0..1usize << 16 {
        if p & 0xFF >= 0x80 {
            ascii_pairs[p] = 3;
        }
        if p >> 8 >= 0x80 {
            ascii_pairs[p] |= 2;
        }
    }
    // One-character context words that are ASCII would need every pair set; there are none.
    assert!(ctx_single.iter().all(|(c, _)| *c >= 0x80));
    for w in ctx_pairs.values().flatten().map(|(w, _)| w.as_bytes()).filter(|w| w[0] < 0x80) {
        assert!(w.len() >= 3, "the ASCII loop of `find` checks three bytes");
        ascii_pairs[w[0] as usize | (w[1] as usize) << 8] |= 3;
        ascii_pairs[w[1] as usize | (w[2] as usize) << 8] |= 2;
        filter_set(&mut ascii3[..], ascii3_bit(w[0], w[1], w[2]));
    }
    let pairs = PairTable::new(&ctx_pairs, &surname_pairs, |w| in_word_clear(&class, w));
    let given = GIVEN.lines().filter(|l| !l.is_empty() && !STOP_GIVEN.contains(l)).collect();
    Lexicon {
        given,
        surnames,
        municipalities,
        pairs,
        ctx_single,
        ctx_filter,
        surname_filter,
        class,
        step3,
        raw_pairs,
        ascii_pairs,
        ascii3,
        place_suffixes,
        place_filter,
        place_chars,
    }
}

/// Whether no character of `w` after the first can be where [`Lexicon::find`] looks inside
/// the context word `w`: there only a place end, or a surname after a non-kanji, could be
/// found (the in-word stop bits of `step3`, the general step's `want_name`), and every
/// character is ASCII or 3 bytes (the fast path's). The text there is `w` itself, so this is
/// known per word.
fn in_word_clear(class: &[u8; 0x1_0000], w: &str) -> bool {
    let mut cs = w.chars();
    let Some(first) = cs.next() else { return false };
    let mut prev_kanji = (first as u32) < 0x1_0000 && class[first as usize] & KANJI != 0;
    for c in cs {
        if !(c.is_ascii() || c.len_utf8() == 3) {
            return false;
        }
        let fl = class[c as usize];
        if fl & PLACE_LAST != 0 || (!prev_kanji && fl & SURNAME_FIRST != 0) {
            return false;
        }
        prev_kanji = fl & KANJI != 0;
    }
    true
}

/// Surnames in the IPA dictionary that are far more often ordinary words in municipal text.
const STOP_SURNAMES: &[&str] = &[
    "日本", "中央", "会計", "市民", "住民", "番号", "記号", "一般", "公共", "福祉", "保険", "年金", "教育", "生活", "保健", "文化", "交通",
    "安全", "地域", "環境", "産業", "観光", "都市", "建設", "財政", "税務", "上下", "水道", "道路", "公園", "防災", "東西", "南北", "今年",
    "今月", "本日", "明日", "昨日", "以上", "以下", "平成", "昭和", "令和", "大正", "明治", "年度", "月日", "時間", "生年", "大字", "丁目",
    "番地", "本町", "新町", "仲町", "元町",
];

/// Given names that are mostly ordinary words when they follow a surname-like word.
const STOP_GIVEN: &[&str] = &[
    "市", "町", "村", "区", "県", "府", "都", "道", "様", "殿", "氏", "課", "係", "部", "室", "局",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// [`Lexicon::find_impl`] into a fresh vector.
    fn find_with(lex: &Lexicon, text: &str, fast: bool) -> Vec<Hit> {
        let mut hits = Vec::new();
        lex.find_impl(text, fast, &mut hits);
        hits
    }

    /// `ascii_run`, two bytes a step, stops at or before every ASCII context word and every
    /// non-ASCII byte from any start, as the byte-by-byte loop it replaced did.
    #[test]
    fn ascii_run_passes_no_word_start() {
        let lex = lexicon();
        let words: Vec<&str> = context_words().into_iter().map(|(w, _)| w).filter(|w| w.as_bytes()[0] < 0x80).collect();
        let pieces = ["TEL", "tel", "Tel", "email", "E-mail", "Order", "My Number", "MyNumber", "Passport", "JAN", "SKU", "FAX", "Invoice", "te", "t", "e", "ma", "y ", "as", "el", "a", "x", " ", "1", "の", "é"];
        let mut rnd = crate::xorshift(0x9E37_79B9_7F4A_7C15);
        for _ in 0..2000 {
            let mut t = String::new();
            for _ in 0..12 {
                t.push_str(pieces[rnd(pieces.len() as u64)]);
            }
            let b = t.as_bytes();
            for from in (0..b.len()).filter(|&k| t.is_char_boundary(k) && b[k] < 0x80) {
                let got = ascii_run(&lex.ascii_pairs, b, from);
                let want = (from..b.len().saturating_sub(1)).find(|&k| b[k] >= 0x80 || words.iter().any(|w| b[k..].starts_with(w.as_bytes()))).unwrap_or(b.len().saturating_sub(1));
                assert!(got <= want, "{t:?} from {from}: {got} > {want}");
                assert!(got == b.len() - 1 || b[got] >= 0x80 || lex.ascii_pairs[b[got] as usize | (b[got + 1] as usize) << 8] & 1 != 0, "{t:?} from {from}: {got}");
            }
        }
    }

    /// `HEAD_MASKS[k]` covers exactly the first `k` bytes of 16 (little-endian words).
    #[test]
    fn head_masks_cover_the_first_bytes() {
        for (k, m) in HEAD_MASKS.iter().enumerate() {
            let bytes: Vec<u8> = m.iter().flat_map(|w| w.to_le_bytes()).collect();
            assert!(bytes.iter().enumerate().all(|(j, &x)| x == if j < k { 0xFF } else { 0 }), "{k}: {m:x?}");
        }
    }

    /// Every pair key is found in its slot, with its own words (ctx then surnames).
    #[test]
    fn pair_table_entries_hold_their_words() {
        let lex = lexicon();
        let t = &lex.pairs;
        let used: Vec<&PairEntry> = t.slots.iter().filter(|e| e.key != 0).collect();
        assert!(used.len() > 5_000, "{} keys", used.len());
        for e in used {
            let got = t.get(e.key).expect("own key");
            assert_eq!((got.start, got.ctx, got.sur), (e.start, e.ctx, e.sur));
            let (s, n) = e.sur();
            let (cs, cn) = e.ctx();
            assert_eq!(cs + cn, s);
            for (k, w) in t.words[cs..s + n].iter().enumerate() {
                let text = t.texts[cs + k];
                let mut ch = text.chars();
                let key = pair_key(ch.next().unwrap() as u32, ch.next().unwrap() as u32);
                assert_eq!(key, e.key, "{text}");
                assert_eq!(matches!(w.pat, Pat::Surname), k >= cn, "{text}");
            }
        }
    }

    /// A vector passed again to [`Lexicon::find_into`] holds only the new text's hits.
    #[test]
    fn find_into_a_used_vector_equals_find() {
        let lex = lexicon();
        let (a, b) = ("氏名 山田太郎 住所 奈良県奈良市登大路町30番地 昭和45年", "個人番号 佐藤");
        let mut hits = Vec::new();
        lex.find_into(a, &mut hits);
        assert!(hits.len() > 3, "{hits:?}");
        lex.find_into(b, &mut hits);
        assert_eq!(hits, lex.find(b));
        assert!(hits.iter().all(|h| h.end <= b.len()));
    }

    /// Every context word, era and surname of ≥ 2 characters is found by `words_at` at the
    /// start of a text made of it and `。`, with its own kind (the pair table and its 16-byte
    /// checks, against the word lists themselves); every place name by `place_ending` at its
    /// end after `、` (the suffix table), and a place-like word that is no place is not.
    #[test]
    fn every_listed_word_is_found_whole() {
        let lex = lexicon();
        let mut places: HashSet<&str> = HashSet::new();
        for l in MUNICIPALITIES.lines().filter(|l| !l.starts_with('#')) {
            places.extend(l.split('\t').skip(1).filter(|w| !w.is_empty()));
        }
        let ctx: Vec<(&str, Pat)> = context_words().into_iter().map(|(w, l)| (w, Pat::Ctx(l))).chain(ERAS.iter().enumerate().map(|(i, e)| (e.0, Pat::Era(i as u8)))).collect();
        let at = |w: &str, want_ctx: bool| {
            let t = format!("{w}。");
            let mut cs = t.chars();
            let (c, c1) = (cs.next().unwrap(), cs.next().unwrap());
            let (mut end, mut out) = (0, Vec::new());
            lex.words_at(&t, 0, c as u32, c.len_utf8(), pair_key(c as u32, c1 as u32), want_ctx, !want_ctx, &mut end, &mut out);
            out
        };
        let mut seen: HashSet<&str> = HashSet::new();
        for &(w, pat) in &ctx {
            if w.chars().count() >= 2 && seen.insert(w) {
                assert_eq!(at(w, true), vec![Hit { start: 0, end: w.len(), pat }], "{w}");
            }
        }
        let mut n = 0;
        for w in SURNAMES.lines().filter(|w| w.chars().count() >= 2 && !STOP_SURNAMES.contains(w) && !seen.contains(w) && !places.contains(w)) {
            assert_eq!(at(w, false), vec![Hit { start: 0, end: w.len(), pat: Pat::Surname }], "{w}");
            n += 1;
        }
        assert!(n > 10_000, "{n} surnames");
        for w in &places {
            let t = format!("、{w}");
            let mut out = Vec::new();
            lex.place_ending(&t, t.len(), &mut out);
            assert_eq!(out.len(), 1, "{w}");
            assert_eq!((out[0].start, out[0].end), (3, t.len()), "{w}");
            assert!(matches!(out[0].pat, Pat::Prefecture | Pat::Municipality), "{w}");
        }
        for w in ["、本市", "、新しい市", "、東京都市", "、区", "、北海道道"] {
            let mut out = Vec::new();
            lex.place_ending(w, w.len(), &mut out);
            assert!(out.iter().all(|h| places.contains(&w[h.start..h.end])), "{w}: {out:?}");
        }
    }

    /// Random text from pieces that start, end and almost start words (surnames, context
    /// words, places, eras, their first characters alone, kana, ASCII, other scripts) must give
    /// the same hits with and without the fast path.
    #[test]
    fn fast_path_equals_general_step() {
        let lex = lexicon();
        let mut pieces: Vec<String> = [
            "山田", "佐藤", "鈴木", "高橋", "太郎", "花子", "氏名", "個人番号", "マイナンバー", "住所", "奈良県", "奈良市", "釜石市",
            "北海道", "虻田郡", "洞爺湖町", "東京都", "千代田区", "昭和", "平成", "令和", "市", "町", "村", "区", "県", "〒", "課長",
            "市役所", "の", "は", "を", "、", "。", "「", "」", "々", "ー", "ア", "ん", "お", "お名前", "TEL", "Tel", "tel", "email",
            "E-mail", "Order", "My Number", "e", "t", "M", "ten", "Te", "Em", "Or", "y ", "ma", "as", "el", "rd", "nv", "the plan for ", "hotel", " ", "\n", "1", "0", "123-4567", "0120-123-456 (9:00-17:00) ", "12345678901234567890", "TEL:090-1234-5678", "a", "é", "Ω", "😀", "𠮷", "\u{3000}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Some real surnames and municipalities too.
        pieces.extend(SURNAMES.lines().step_by(97).take(60).map(str::to_string));
        pieces.extend(MUNICIPALITIES.lines().filter(|l| !l.starts_with('#')).step_by(53).take(40).filter_map(|l| l.split('\t').nth(2).map(str::to_string)));
        // Every context word and era between neighbours (the jump over a `clear` word).
        for (w, _) in context_words().into_iter().chain(ERAS.iter().map(|e| (e.0, Label::Symbol))) {
            for (a, z) in [("", ""), ("、", "山田太郎"), ("本", "奈良市"), ("a", "TEL"), ("1", "佐藤")] {
                let t = format!("{a}{w}{z}{w}。");
                assert_eq!(find_with(lex, &t, true), find_with(lex, &t, false), "{t}");
            }
        }
        let mut rnd = crate::xorshift(0x2545_F491_4F6C_DD1D);
        for round in 0..300 {
            let mut t = String::new();
            for _ in 0..(20 + round % 200) {
                t.push_str(&pieces[rnd(pieces.len() as u64)]);
            }
            assert_eq!(find_with(lex, &t, true), find_with(lex, &t, false), "{t}");
            // Every suffix too (the fast path's limits near the end of the text).
            for (k, _) in t.char_indices().filter(|(k, _)| k % 7 == 0) {
                assert_eq!(find_with(lex, &t[k..], true), find_with(lex, &t[k..], false), "{}", &t[k..]);
            }
        }
    }
}
