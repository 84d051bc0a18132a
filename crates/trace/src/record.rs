//! Resident records as found in lists: column detection by header (with synonyms) or by
//! content, merged columns ("氏名 生年月日" in one cell) split by token, and free text (one record
//! per line, as typed or OCR'd from postcards).

use crate::normalize;
use serde::{Deserialize, Serialize};

/// A field of a resident record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Field {
    /// 氏名.
    Name,
    /// 氏名のカナ (reading).
    Kana,
    /// 生年月日.
    Birth,
    /// 住所.
    Address,
    /// 電話番号.
    Phone,
    /// 郵便番号.
    Postal,
}

/// A resident record, each field normalised (see [`crate::normalize`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// 氏名.
    pub name: Option<String>,
    /// カナ.
    pub kana: Option<String>,
    /// 生年月日 (ISO).
    pub birth: Option<String>,
    /// 住所 (normalised).
    pub address: Option<String>,
    /// 電話 (digits).
    pub phone: Option<String>,
    /// 郵便番号 (7 digits).
    pub postal: Option<String>,
}

impl Record {
    /// The normalised value of `f`.
    pub fn get(&self, f: Field) -> Option<&str> {
        match f {
            Field::Name => self.name.as_deref(),
            Field::Kana => self.kana.as_deref(),
            Field::Birth => self.birth.as_deref(),
            Field::Address => self.address.as_deref(),
            Field::Phone => self.phone.as_deref(),
            Field::Postal => self.postal.as_deref(),
        }
    }

    fn slot(&mut self, f: Field) -> &mut Option<String> {
        match f {
            Field::Name => &mut self.name,
            Field::Kana => &mut self.kana,
            Field::Birth => &mut self.birth,
            Field::Address => &mut self.address,
            Field::Phone => &mut self.phone,
            Field::Postal => &mut self.postal,
        }
    }

    /// Sets `f` from raw text (normalising it); returns whether a value was set.
    pub fn set_raw(&mut self, f: Field, raw: &str) -> bool {
        let v = match f {
            Field::Name => normalize::name(raw),
            Field::Kana => normalize::name(raw),
            Field::Birth => normalize::birth(raw),
            Field::Address => normalize::address(raw),
            Field::Phone => normalize::phone(raw),
            Field::Postal => normalize::postal(raw),
        };
        match v {
            Some(v) => {
                *self.slot(f) = Some(v);
                true
            }
            None => false,
        }
    }

    /// Number of fields present.
    pub fn field_count(&self) -> usize {
        [&self.name, &self.kana, &self.birth, &self.address, &self.phone, &self.postal].iter().filter(|v| v.is_some()).count()
    }

    /// Whether the record carries enough to be fingerprinted (at least one feature pair).
    pub fn is_usable(&self) -> bool {
        !crate::features::pairs_present(self).is_empty()
    }
}

/// Header synonyms, checked after NFKC and removing spaces. Order matters: カナ before 氏名
/// (氏名カナ is the reading), 郵便 before 住所.
const HEADERS: &[(Field, &[&str])] = &[
    (Field::Kana, &["カナ", "かな", "フリガナ", "ふりがな", "ヨミ", "よみ", "読み", "kana", "furigana"]),
    (Field::Postal, &["郵便番号", "郵便", "〒", "postal", "zip"]),
    (Field::Birth, &["生年月日", "誕生日", "生年", "birth", "dob"]),
    (Field::Phone, &["電話", "tel", "phone", "携帯", "連絡先"]),
    (Field::Address, &["住所", "所在地", "住居", "address", "現住所"]),
    (Field::Name, &["氏名", "名前", "お名前", "姓名", "name", "世帯主", "住民名", "宛名"]),
];

/// What a header cell names: none, one field, or several (a merged column).
pub fn header_fields(cell: &str) -> Vec<Field> {
    let c: String = normalize::nfkc(cell).chars().filter(|c| !c.is_whitespace()).collect::<String>().to_lowercase();
    let mut out = Vec::new();
    let mut rest = c.clone();
    for (f, words) in HEADERS {
        for w in *words {
            if let Some(pos) = rest.find(&w.to_lowercase()) {
                if !out.contains(f) {
                    out.push(*f);
                }
                rest.replace_range(pos..pos + w.to_lowercase().len(), "\u{1}");
                break;
            }
        }
    }
    out
}

/// How a column of a table is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Column {
    /// One field.
    One(Field),
    /// Several fields in one cell (a merged column, or unknown content): split by token.
    Mixed,
    /// Not personal data (番号, 備考 …).
    Ignore,
}

/// Classifies one token of free text.
pub fn classify_token(tok: &str) -> Option<Field> {
    let t = normalize::nfkc(tok);
    let t = t.trim();
    if t.is_empty() {
        return None;
    }
    if normalize::birth(t).is_some() {
        return Some(Field::Birth);
    }
    let digits = t.chars().filter(|c| c.is_ascii_digit()).count();
    let only_num = t.chars().all(|c| c.is_ascii_digit() || "-()+ ".contains(c));
    if t.starts_with('〒') || (only_num && digits == 7 && t.len() == 8 && t.as_bytes()[3] == b'-') {
        return Some(Field::Postal);
    }
    if only_num && (9..=11).contains(&digits) && t.starts_with(['0', '+']) {
        return Some(Field::Phone);
    }
    if only_num {
        return None;
    }
    if looks_like_address(t) {
        return Some(Field::Address);
    }
    let cjk = t.chars().all(|c| is_kana(c) || is_kanji(c) || c == '々' || c == 'ー');
    if cjk {
        if t.chars().all(|c| is_kana(c) || c == 'ー') {
            return Some(Field::Kana);
        }
        return Some(Field::Name);
    }
    None
}

fn is_kana(c: char) -> bool {
    ('\u{3041}'..='\u{3096}').contains(&c) || ('\u{30A1}'..='\u{30FA}').contains(&c)
}

fn is_kanji(c: char) -> bool {
    ('\u{4E00}'..='\u{9FFF}').contains(&c) || ('\u{3400}'..='\u{4DBF}').contains(&c) || ('\u{F900}'..='\u{FAFF}').contains(&c) || ('\u{20000}'..='\u{2FFFF}').contains(&c)
}

/// Whether a token reads as an address: a prefecture, or a 市/区/町/村/郡 followed somewhere by a
/// block number.
pub fn looks_like_address(t: &str) -> bool {
    if normalize::PREFECTURES.iter().any(|p| t.starts_with(p)) {
        return true;
    }
    let t = normalize::kanji_numerals_to_digits(t);
    let Some(pos) = t.find(['市', '区', '町', '村', '郡']) else { return false };
    t[pos..].chars().any(|c| c.is_ascii_digit()) && t.chars().count() >= 4
}

/// Splits free text (a line, a merged cell) into tokens, joining neighbours that only together
/// make a date (昭和45年 3月 2日) or continue an address (本町 1-2-3).
fn tokens(text: &str) -> Vec<String> {
    let t = normalize::nfkc(text);
    let raw: Vec<&str> = t.split(|c: char| c.is_whitespace() || matches!(c, ',' | '、' | '\t' | '|' | ';')).filter(|s| !s.is_empty()).collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let mut best = (1, raw[i].to_owned());
        if normalize::birth(raw[i]).is_none() {
            for n in 2..=3.min(raw.len() - i) {
                let joined: String = raw[i..i + n].concat();
                if normalize::birth(&joined).is_some() {
                    best = (n, joined);
                    break;
                }
            }
        }
        out.push(best.1);
        i += best.0;
    }
    out
}

/// Parses free text (one record) into a record: each token classified, name tokens joined
/// (姓 名), a token starting with a digit after an address appended to it.
pub fn parse_free(text: &str, rec: &mut Record) {
    let toks = tokens(text);
    let mut name = String::new();
    let mut kana = String::new();
    let mut addr = String::new();
    let mut last: Option<Field> = None;
    for tok in &toks {
        let class = classify_token(tok);
        match class {
            Some(Field::Name) if rec.name.is_none() && (name.is_empty() || last == Some(Field::Name)) => name.push_str(tok),
            Some(Field::Kana) if rec.kana.is_none() => kana.push_str(tok),
            Some(Field::Address) if addr.is_empty() && rec.address.is_none() => addr.push_str(tok),
            None if last == Some(Field::Address) && tok.starts_with(|c: char| c.is_ascii_digit()) => addr.push_str(tok),
            Some(Field::Name) if last == Some(Field::Address) => addr.push_str(tok),
            Some(f @ (Field::Birth | Field::Phone | Field::Postal)) if rec.get(f).is_none() => {
                rec.set_raw(f, tok);
            }
            _ => {}
        }
        last = class.or(last);
    }
    // A kana-only name with no kanji name: it is the name's reading and its only spelling.
    if !name.is_empty() {
        rec.set_raw(Field::Name, &name);
    }
    if !kana.is_empty() {
        rec.set_raw(Field::Kana, &kana);
    }
    if !addr.is_empty() {
        rec.set_raw(Field::Address, &addr);
    }
}

/// Column layout of a table: detected from a header row when one is found in the first rows,
/// else from the content of the first rows.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Index of the header row, if any.
    pub header_row: Option<usize>,
    /// How each column is read.
    pub columns: Vec<Column>,
}

/// Detects the layout of `rows` (cells as text).
pub fn detect_layout(rows: &[Vec<String>]) -> Layout {
    for (i, row) in rows.iter().take(10).enumerate() {
        let fields: Vec<Vec<Field>> = row.iter().map(|c| header_fields(c)).collect();
        let named = fields.iter().filter(|f| !f.is_empty()).count();
        // A header row names fields and holds no data values itself.
        let holds_values = row.iter().any(|c| matches!(classify_token(c), Some(Field::Birth | Field::Phone | Field::Postal | Field::Address)));
        if named >= 1 && !holds_values {
            let columns = fields
                .into_iter()
                .map(|f| match f.len() {
                    0 => Column::Ignore,
                    1 => Column::One(f[0]),
                    _ => Column::Mixed,
                })
                .collect();
            return Layout { header_row: Some(i), columns };
        }
    }
    // No header: by content. A column is one field when most of its sampled cells classify as
    // that field alone; otherwise mixed.
    let width = rows.iter().take(50).map(|r| r.len()).max().unwrap_or(0);
    let mut columns = Vec::with_capacity(width);
    for col in 0..width {
        let mut counts: std::collections::HashMap<Option<Field>, usize> = Default::default();
        let mut multi = 0;
        let mut n = 0;
        for row in rows.iter().take(50) {
            let Some(cell) = row.get(col) else { continue };
            if cell.trim().is_empty() {
                continue;
            }
            n += 1;
            if tokens(cell).len() > 1 && classify_token(cell).is_none() {
                multi += 1;
            }
            *counts.entry(classify_token(cell)).or_default() += 1;
        }
        let best = counts.iter().filter(|(k, _)| k.is_some()).max_by_key(|(_, v)| **v).map(|(k, v)| (*k, *v));
        columns.push(match best {
            _ if n == 0 => Column::Ignore,
            _ if multi * 3 > n => Column::Mixed,
            Some((Some(f), v)) if v * 2 > n => Column::One(f),
            _ => Column::Ignore,
        });
    }
    Layout { header_row: None, columns }
}

/// Reads one data row with `layout`.
pub fn read_row(layout: &Layout, row: &[String]) -> Record {
    let mut rec = Record::default();
    let mut mixed = String::new();
    for (i, cell) in row.iter().enumerate() {
        if cell.trim().is_empty() {
            continue;
        }
        match layout.columns.get(i).unwrap_or(&Column::Mixed) {
            Column::One(f) => {
                if !rec.set_raw(*f, cell) {
                    // A value that does not parse as the header says (a typo'd date, a merged
                    // cell): try it as free text rather than losing it.
                    mixed.push(' ');
                    mixed.push_str(cell);
                }
            }
            Column::Mixed => {
                mixed.push(' ');
                mixed.push_str(cell);
            }
            Column::Ignore => {}
        }
    }
    if !mixed.is_empty() {
        parse_free(&mixed, &mut rec);
    }
    rec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_synonyms_and_merged_headers() {
        assert_eq!(header_fields("氏名"), vec![Field::Name]);
        assert_eq!(header_fields("フリガナ"), vec![Field::Kana]);
        assert_eq!(header_fields("氏名カナ"), vec![Field::Kana, Field::Name]);
        assert_eq!(header_fields("電話番号"), vec![Field::Phone]);
        assert_eq!(header_fields("氏名 生年月日"), vec![Field::Birth, Field::Name]);
        assert!(header_fields("備考").is_empty());
    }

    #[test]
    fn free_text_line_postcard_style() {
        let mut r = Record::default();
        parse_free("山田 太郎　昭和45年 3月 2日　青森県弘前市本町1丁目2番3号 090-1234-5678", &mut r);
        assert_eq!(r.name.as_deref(), Some("山田太郎"));
        assert_eq!(r.birth.as_deref(), Some("1970-03-02"));
        assert_eq!(r.address.as_deref(), Some("弘前市本町1-2-3"));
        assert_eq!(r.phone.as_deref(), Some("09012345678"));
    }

    #[test]
    fn layout_by_header_and_by_content() {
        let rows: Vec<Vec<String>> = vec![
            vec!["No".into(), "氏名 生年月日".into(), "住所".into()],
            vec!["1".into(), "山田太郎 1970/3/2".into(), "弘前市本町1-2-3".into()],
        ];
        let l = detect_layout(&rows);
        assert_eq!(l.header_row, Some(0));
        assert_eq!(l.columns, vec![Column::Ignore, Column::Mixed, Column::One(Field::Address)]);
        let r = read_row(&l, &rows[1]);
        assert_eq!(r.name.as_deref(), Some("山田太郎"));
        assert_eq!(r.birth.as_deref(), Some("1970-03-02"));

        let rows: Vec<Vec<String>> = vec![
            vec!["佐藤花子".into(), "S50.1.5".into(), "弘前市城東2丁目3-4".into()],
            vec!["鈴木一郎".into(), "S52.2.6".into(), "弘前市城東3丁目3-4".into()],
        ];
        let l = detect_layout(&rows);
        assert_eq!(l.header_row, None);
        assert_eq!(l.columns, vec![Column::One(Field::Name), Column::One(Field::Birth), Column::One(Field::Address)]);
    }
}
