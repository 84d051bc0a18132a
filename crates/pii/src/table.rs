//! Whole-column classification of tables (CSV, sheets, docx tables).
//!
//! A column whose header says 氏名/住所/生年月日/個人番号 … and whose cells agree is one
//! finding with a count and a cell range (`B2:B398`), so a 397-name list is one strong
//! finding. A column without such a header is classified by content when ≥ 80 % of at least
//! three cells agree. Other cells are scanned one by one with their column header as label.
//! A table with a 役職/所属 column is a staff list (org chart): its name column stays low.

use crate::detect::{Candidate, detect};
use crate::lexicon::{Label, lexicon};
use crate::normalize::normalize;
use crate::{Finding, Kind, Location};

/// Header words → kind (checked after NFKC, as substrings; the first match wins).
const HEADERS: &[(&str, Kind)] = &[
    ("住民票コード", Kind::JuminhyoCode),
    ("個人番号", Kind::MyNumber),
    ("マイナンバー", Kind::MyNumber),
    ("法人番号", Kind::CorporateNumber),
    ("基礎年金番号", Kind::BasicPensionNumber),
    ("年金番号", Kind::BasicPensionNumber),
    ("免許証", Kind::DriversLicense),
    ("旅券", Kind::Passport),
    ("パスポート", Kind::Passport),
    ("被保険者番号", Kind::HealthInsurance),
    ("保険証", Kind::HealthInsurance),
    ("口座番号", Kind::BankAccount),
    ("カード番号", Kind::CreditCard),
    ("郵便番号", Kind::PostalCode),
    ("〒", Kind::PostalCode),
    ("メール", Kind::Email),
    ("mail", Kind::Email),
    ("Mail", Kind::Email),
    ("電話", Kind::Phone),
    ("TEL", Kind::Phone),
    ("携帯", Kind::Phone),
    ("連絡先", Kind::Phone),
    ("生年月日", Kind::BirthDate),
    ("誕生日", Kind::BirthDate),
    ("住所", Kind::Address),
    ("居所", Kind::Address),
    ("住民登録地", Kind::Address),
    ("氏名", Kind::PersonName),
    ("名前", Kind::PersonName),
    ("フリガナ", Kind::PersonName),
    ("ふりがな", Kind::PersonName),
    ("カナ", Kind::PersonName),
    ("世帯主", Kind::PersonName),
    ("申請者", Kind::PersonName),
];

const STAFF_HEADERS: &[&str] = &["役職", "職名", "職位", "所属", "部署", "課名", "係名", "内線"];
const DECOY_HEADERS: &[&str] = &[
    "注文番号",
    "請求書番号",
    "伝票番号",
    "製品コード",
    "商品コード",
    "品番",
    "型番",
    "管理番号",
    "受付番号",
];

fn header_kind(h: &str) -> Option<Kind> {
    if DECOY_HEADERS.iter().any(|d| h.contains(d)) {
        return None;
    }
    HEADERS.iter().find(|(w, _)| h.contains(w)).map(|(_, k)| *k)
}

/// A1 column letters for a 0-based column.
pub fn col_letters(mut c: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (c % 26) as u8);
        if c < 26 {
            break;
        }
        c = c / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

/// Does a single cell look like a name even when the text detector cannot say (1-character
/// surnames, kana readings)?
fn name_like(cell: &str) -> bool {
    let lex = lexicon();
    let t = cell.trim();
    if t.is_empty() || t.chars().count() > 20 {
        return false;
    }
    let first = t.split([' ', '　']).next().unwrap_or("");
    if lex.surnames.contains(first) {
        return true;
    }
    // Any dictionary surname of 1–3 chars as a prefix, followed by a given name.
    for n in 1..=3 {
        let Some((i, _)) = t.char_indices().nth(n) else { break };
        if lex.surnames.contains(&t[..i]) && lex.given.contains(t[i..].trim()) {
            return true;
        }
    }
    // Kana readings (ヤマダ タロウ / やまだ たろう).
    t.chars().filter(|c| *c != ' ').count() >= 2 && t.chars().all(|c| c == ' ' || matches!(c as u32, 0x3041..=0x3096 | 0x30A1..=0x30FC))
}

fn address_like(cell: &str) -> bool {
    let lex = lexicon();
    lex.find(cell).iter().any(|h| h.pat == crate::lexicon::Pat::Municipality)
        && cell.chars().any(|c| c.is_ascii_digit() || "一二三四五六七八九十丁番号".contains(c))
}

/// Scan a table; `sheet` names it in locations (`""` for CSV).
pub fn scan_table(rows: &[Vec<String>], sheet: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    if rows.is_empty() {
        return out;
    }
    // Header: the first of the first five rows with a known header word.
    let header_row = rows
        .iter()
        .take(5)
        .position(|r| r.iter().any(|c| header_kind(&normalize(c).text).is_some()));
    let headers: Vec<String> = header_row
        .map(|h| rows[h].iter().map(|c| normalize(c).text.into_owned()).collect())
        .unwrap_or_default();
    let staff = headers.iter().any(|h| STAFF_HEADERS.iter().any(|s| h.contains(s)));
    let data_start = header_row.map_or(0, |h| h + 1);
    let ncols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    for col in 0..ncols {
        let hkind = headers.get(col).and_then(|h| header_kind(h));
        let hint = hkind.map(Label::For);
        let mut cells: Vec<(usize, String, Vec<Candidate>)> = Vec::new();
        for (ri, r) in rows.iter().enumerate().skip(data_start) {
            let Some(raw) = r.get(col) else { continue };
            if raw.trim().is_empty() {
                continue;
            }
            let n = normalize(raw).text.into_owned();
            let c = detect(&n, hint);
            cells.push((ri, n, c));
        }
        if cells.is_empty() {
            continue;
        }
        let supports = |k: Kind, n: &str, c: &[Candidate]| -> bool {
            c.iter().any(|x| x.kind == k && x.confidence >= 0.3)
                || (k == Kind::PersonName && name_like(n))
                || (k == Kind::Address && address_like(n))
        };
        let nonempty = cells.len();
        // Header kind, if the content agrees with it.
        let mut class = hkind.filter(|&k| cells.iter().filter(|(_, n, c)| supports(k, n, c)).count() * 2 >= nonempty);
        let mut by_content = false;
        if class.is_none() && hkind.is_none() && nonempty >= 3 {
            for k in [
                Kind::PersonName,
                Kind::Address,
                Kind::BirthDate,
                Kind::MyNumber,
                Kind::Phone,
                Kind::Email,
            ] {
                let ok = cells
                    .iter()
                    .filter(|(_, _, c)| c.iter().any(|x| x.kind == k && x.confidence >= 0.3))
                    .count();
                if ok * 5 >= nonempty * 4 {
                    class = Some(k);
                    by_content = true;
                    break;
                }
            }
        }
        match class {
            Some(k) => {
                let matching: Vec<&(usize, String, Vec<Candidate>)> =
                    cells.iter().filter(|(_, n, c)| supports(k, n, c) || by_content).collect();
                let first = matching.first().map_or(0, |m| m.0);
                let last = matching.last().map_or(0, |m| m.0);
                let letters = col_letters(col);
                let mut conf = if by_content { 0.8 } else { 0.95 };
                if staff && k == Kind::PersonName {
                    conf = 0.2;
                }
                let values: Vec<String> = matching
                    .iter()
                    .map(|(_, n, c)| {
                        c.iter()
                            .find(|x| x.kind == k)
                            .map(|x| x.value.to_string())
                            .unwrap_or_else(|| n.trim().to_string())
                    })
                    .collect();
                let location = Location::Cell {
                    sheet: sheet.to_string(),
                    cell: format!("{letters}{}:{letters}{}", first + 1, last + 1),
                };
                let header = headers.get(col).map_or("", String::as_str);
                let value = values.first().map_or("", String::as_str);
                out.push(Finding::new(k, value, location, conf, header, "").with_column(values));
            }
            None => {
                for (ri, n, cands) in cells {
                    for c in cands {
                        let location = Location::Cell {
                            sheet: sheet.to_string(),
                            cell: format!("{}{}", col_letters(col), ri + 1),
                        };
                        out.push(crate::finding_in(&n, c.start, c.end, c.kind, &c.value, location, c.confidence, None));
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters() {
        assert_eq!(col_letters(0), "A");
        assert_eq!(col_letters(25), "Z");
        assert_eq!(col_letters(26), "AA");
        assert_eq!(col_letters(27), "AB");
    }

    #[test]
    fn name_column_is_one_finding() {
        let mut rows = vec![vec!["番号".to_string(), "氏名".to_string()]];
        for (i, n) in ["山田 太郎", "林 一郎", "佐藤 花子", "鈴木 次郎"].iter().enumerate() {
            rows.push(vec![format!("{}", i + 1), n.to_string()]);
        }
        let f = scan_table(&rows, "名簿");
        let names: Vec<&Finding> = f.iter().filter(|x| x.kind == Kind::PersonName).collect();
        assert_eq!(names.len(), 1);
        assert_eq!(names[0].count, 4);
        assert_eq!(
            names[0].location,
            Location::Cell {
                sheet: "名簿".into(),
                cell: "B2:B5".into()
            }
        );
    }
}
