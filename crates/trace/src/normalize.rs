//! Per-field normalisation: the same resident written by two systems (or typed from a postcard)
//! must give the same normalised text, so that the keyed fingerprints match.
//!
//! - 氏名/カナ: NFKC (full-width and half-width kana), spaces and middle dots removed, 異体字 folded
//!   by the committed table `data/itaiji.tsv` (髙→高, 﨑→崎, 邊/邉→辺 …), katakana folded to
//!   hiragana (so ヤマダ and やまだ match).
//! - 生年月日: ISO `YYYY-MM-DD` from 西暦 and 和暦 in the forms `mamori_directory::parse_date`
//!   accepts, plus 漢数字 (昭和四十五年三月二日), one-kanji eras (昭45.3.2), spaces and `生`.
//! - 住所: NFKC, 異体字, prefecture dropped (optional in lists), 漢数字 → digits, 丁目/番地/番/号/の
//!   and every hyphen form → `-`, and cut after the block number (building names are often
//!   dropped or abbreviated by whoever re-types a list).
//! - 電話: digits only, `+81` → `0`. 郵便番号: the 7 digits.

use std::collections::HashMap;
use std::sync::OnceLock;
use unicode_normalization::UnicodeNormalization;

/// The 47 prefectures, as written at the start of an address.
pub const PREFECTURES: [&str; 47] = [
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県", "埼玉県", "千葉県",
    "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県", "岐阜県", "静岡県", "愛知県", "三重県",
    "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県", "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県",
    "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
];

fn itaiji() -> &'static HashMap<char, char> {
    static T: OnceLock<HashMap<char, char>> = OnceLock::new();
    T.get_or_init(|| {
        include_str!("../data/itaiji.tsv")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let mut it = l.split('\t');
                let from = it.next()?.chars().next()?;
                let to = it.next()?.chars().next()?;
                Some((from, to))
            })
            .collect()
    })
}

/// Number of variant pairs in the committed 異体字 table.
pub fn itaiji_pairs() -> usize {
    itaiji().len()
}

/// CJK Radicals Supplement characters that PDF text layers put for the ideograph sharing
/// their glyph (a font's cmap maps both code points to one glyph and the PDF writer's ToUnicode
/// picks the radical); NFKC leaves them alone, so they are mapped here.
fn radical(c: char) -> char {
    match c {
        '⻘' => '青',
        '⻄' => '西',
        '⻑' => '長',
        '⻤' => '鬼',
        '⻝' => '食',
        '⻩' => '黄',
        '⻲' => '亀',
        '⻯' => '竜',
        '⻭' => '歯',
        '⻫' => '斉',
        '⻨' => '麦',
        '⻖' => '阝',
        '⻗' => '雨',
        '⻌' => '辶',
        '⻍' => '辶',
        _ => c,
    }
}

/// NFKC, with CJK radicals that stand for ideographs mapped to the ideographs.
pub fn nfkc(s: &str) -> String {
    s.nfkc().map(radical).collect()
}

fn is_space_like(c: char) -> bool {
    c.is_whitespace() || matches!(c, '・' | '･' | '\u{200B}' | '\u{FEFF}')
}

/// Folds a katakana letter to hiragana (ァ..ヶ → ぁ..ゖ); other characters unchanged.
pub fn kana_fold(c: char) -> char {
    match c {
        '\u{30A1}'..='\u{30F6}' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
        _ => c,
    }
}

/// Normalises a name (氏名 or its reading). `None` when nothing is left.
pub fn name(s: &str) -> Option<String> {
    let t = itaiji();
    let out: String = nfkc(s)
        .chars()
        .filter(|c| !is_space_like(*c))
        .map(|c| *t.get(&c).unwrap_or(&c))
        .map(kana_fold)
        .collect();
    (!out.is_empty()).then_some(out)
}

fn kanji_digit(c: char) -> Option<u32> {
    Some(match c {
        '〇' | '零' => 0,
        '一' | '壱' => 1,
        '二' | '弐' => 2,
        '三' | '参' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

fn is_kanji_numeral(c: char) -> bool {
    kanji_digit(c).is_some() || matches!(c, '十' | '百' | '千')
}

/// Value of a run of 漢数字: positional (一九七〇 = 1970) or with 十/百/千 (四十五 = 45).
fn kanji_number(run: &[char]) -> Option<u32> {
    if run.iter().all(|c| kanji_digit(*c).is_some()) {
        return run.iter().try_fold(0u32, |acc, c| acc.checked_mul(10)?.checked_add(kanji_digit(*c)?));
    }
    let (mut total, mut cur) = (0u32, 0u32);
    for &c in run {
        if let Some(d) = kanji_digit(c) {
            cur = cur.checked_mul(10)?.checked_add(d)?;
        } else {
            let unit = match c {
                '十' => 10,
                '百' => 100,
                '千' => 1000,
                _ => return None,
            };
            total = total.checked_add(if cur == 0 { 1 } else { cur }.checked_mul(unit)?)?;
            cur = 0;
        }
    }
    total.checked_add(cur)
}

/// Replaces runs of 漢数字 by ASCII digits. `keep_before` lists characters that, when they follow
/// the run, mark it as part of a place name to keep (none by default: both sides of a match are
/// normalised the same way, so over-conversion is harmless).
pub fn kanji_numerals_to_digits(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        if is_kanji_numeral(chars[i]) {
            let start = i;
            while i < chars.len() && is_kanji_numeral(chars[i]) {
                i += 1;
            }
            match kanji_number(&chars[start..i]) {
                Some(n) => out.push_str(&n.to_string()),
                None => out.extend(&chars[start..i]),
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Normalises a birth date to ISO `YYYY-MM-DD`. `None` when it is not a date.
pub fn birth(s: &str) -> Option<String> {
    let mut t: String = kanji_numerals_to_digits(&nfkc(s)).chars().filter(|c| !c.is_whitespace()).collect();
    for suffix in ["生まれ", "生", "頃"] {
        if let Some(x) = t.strip_suffix(suffix) {
            t = x.to_owned();
        }
    }
    // One-kanji eras (昭45.3.2) as written in forms.
    for (short, long) in [("明", "明治"), ("大", "大正"), ("昭", "昭和"), ("平", "平成"), ("令", "令和")] {
        if t.starts_with(short) && !t.starts_with(long) {
            t = format!("{long}{}", &t[short.len()..]);
            break;
        }
    }
    mamori_directory::parse_date(&t).ok().map(|d| d.format("%Y-%m-%d").to_string())
}

fn is_hyphen(c: char) -> bool {
    matches!(c, '-' | '‐' | '‑' | '‒' | '–' | '—' | '―' | '−' | 'ｰ' | 'ー' | '－' | '─' | '━')
}

/// Normalises an address: see the module doc. `None` when nothing is left.
pub fn address(s: &str) -> Option<String> {
    let t = itaiji();
    let mut a: String = nfkc(s).chars().filter(|c| !is_space_like(*c)).map(|c| *t.get(&c).unwrap_or(&c)).collect();
    if let Some(rest) = a.strip_prefix('〒') {
        a = rest.trim_start_matches(|c: char| c.is_ascii_digit() || is_hyphen(c)).to_owned();
    }
    for p in PREFECTURES {
        if let Some(rest) = a.strip_prefix(p) {
            a = rest.to_owned();
            break;
        }
    }
    a = a.replace("大字", "");
    let a = kanji_numerals_to_digits(&a);
    // 丁目/番地/番/号/の and hyphens between digits → '-'.
    let chars: Vec<char> = a.chars().collect();
    let mut out = String::with_capacity(a.len());
    let mut i = 0;
    let digit_before = |out: &String| out.chars().last().is_some_and(|c| c.is_ascii_digit());
    while i < chars.len() {
        let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
        if digit_before(&out) {
            let skip = if rest.starts_with("丁目") || rest.starts_with("番地") {
                2
            } else if matches!(chars[i], '番' | '号' | 'の' | '之') || is_hyphen(chars[i]) {
                1
            } else {
                0
            };
            if skip > 0 {
                out.push('-');
                i += skip;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    // Cut after the first run of block numbers (digits and hyphens).
    // Place names may hold numerals (二条 → 2条), so the block number is the first run with a
    // hyphen (1-2-3), else the last run.
    let bytes = out.as_bytes();
    let mut runs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let s = i;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'-') {
                i += 1;
            }
            runs.push((s, i));
        } else {
            i += 1;
        }
    }
    let pick = runs.iter().find(|(s, e)| out[*s..*e].trim_end_matches('-').contains('-')).or(runs.last());
    if let Some((_, end)) = pick {
        out.truncate(*end);
    }
    let out = out.trim_end_matches('-').to_owned();
    (!out.is_empty()).then_some(out)
}

/// Normalises a phone number to its digits (`+81` → `0`). `None` unless 9–11 digits remain.
pub fn phone(s: &str) -> Option<String> {
    let n = nfkc(s);
    let mut d: String = n.chars().filter(|c| c.is_ascii_digit()).collect();
    if n.trim_start().starts_with("+81") {
        d = format!("0{}", &d[2..]);
    }
    (9..=11).contains(&d.len()).then_some(d)
}

/// Normalises a postal code to its 7 digits.
pub fn postal(s: &str) -> Option<String> {
    let d: String = nfkc(s).chars().filter(|c| c.is_ascii_digit()).collect();
    (d.len() == 7).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_width_space_variants_and_kana() {
        assert_eq!(name("髙橋　太郎"), name("高橋太郎"));
        assert_eq!(name("渡邊 一郎"), name("渡辺一郎"));
        assert_eq!(name("渡邉一郎"), name("渡辺一郎"));
        assert_eq!(name("齋藤花子"), name("斉藤花子"));
        assert_eq!(name("山﨑"), name("山崎"));
        assert_eq!(name("⻑谷川"), name("長谷川"));
        assert_eq!(name("ﾔﾏﾀﾞ ﾀﾛｳ"), name("やまだたろう"));
        assert_eq!(name("ヤマダ・タロウ"), name("やまだたろう"));
        assert_ne!(name("山田太郎"), name("山田次郎"));
        assert_eq!(name("   "), None);
        assert!(itaiji_pairs() >= 80);
    }

    #[test]
    fn birth_dates_in_every_common_form() {
        for s in [
            "1970-03-02",
            "1970/3/2",
            "19700302",
            "1970年3月2日",
            "昭和45年3月2日",
            "昭和45年 3月 2日",
            "昭和四十五年三月二日",
            "S45.3.2",
            "s45.3.2",
            "昭45.3.2",
            "㍼45.3.2",
            "Ｓ４５．３．２",
            "昭和45年3月2日生",
            "一九七〇年三月二日",
        ] {
            assert_eq!(birth(s).as_deref(), Some("1970-03-02"), "{s}");
        }
        assert_eq!(birth("平成元年1月8日").as_deref(), Some("1989-01-08"));
        assert_eq!(birth("令和元年5月1日").as_deref(), Some("2019-05-01"));
        assert_eq!(birth("平成31年5月1日"), None);
        assert_eq!(birth("山田太郎"), None);
    }

    #[test]
    fn addresses_unify_blocks_hyphens_numerals_and_prefecture() {
        let want = address("弘前市本町1-2-3");
        assert!(want.is_some());
        for s in [
            "青森県弘前市本町1丁目2番地3号",
            "青森県弘前市本町一丁目二番三号",
            "弘前市本町１－２－３",
            "弘前市本町1‐2‐3",
            "弘前市本町1丁目2番3号 コーポ本町101",
            "弘前市 本町 1-2-3",
            "弘前市本町1の2の3",
        ] {
            assert_eq!(address(s), want, "{s}");
        }
        assert_ne!(address("弘前市本町1-2-4"), want);
        assert_eq!(address("弘前市本町1-2-3").as_deref(), Some("弘前市本町1-2-3"));
        assert_eq!(address("奈良県奈良市二条大路南1丁目2番3号").as_deref(), Some("奈良市2条大路南1-2-3"));
    }

    #[test]
    fn phone_and_postal() {
        assert_eq!(phone("0172-35-1111").as_deref(), Some("0172351111"));
        assert_eq!(phone("+81 172-35-1111").as_deref(), Some("0172351111"));
        assert_eq!(phone("０９０（１２３４）５６７８").as_deref(), Some("09012345678"));
        assert_eq!(phone("123"), None);
        assert_eq!(postal("〒036-8588").as_deref(), Some("0368588"));
    }
}
