//! Dates as HR rosters write them: `2022-04-01`, `2022/4/1`, `20220401`, `2022年4月1日`, and the
//! Japanese era calendar (和暦): `令和4年4月1日`, `令和元年5月1日`, `R4.4.1`, `H31.4.30`,
//! `S64.1.7`, full-width digits included (`令和４年４月１日`), because rosters are typed by
//! people and exported by Excel.
//!
//! Era years are checked against the era's real span: 平成31年5月1日 does not exist (平成 ended
//! on 2019-04-30), nor does 令和1年4月30日 (令和 began on 2019-05-01). Silently mapping them to
//! the "right" Gregorian day would hide a typo in a personnel order, so they are errors.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A Japanese era (元号) the parser knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Era {
    /// 明治 (M). Accepted only from 明治6年1月1日 (1873-01-01), when Japan adopted the
    /// Gregorian calendar; earlier 明治 dates are lunar and cannot be converted by arithmetic.
    Meiji,
    /// 大正 (T), 1912-07-30 … 1926-12-24.
    Taisho,
    /// 昭和 (S), 1926-12-25 … 1989-01-07.
    Showa,
    /// 平成 (H), 1989-01-08 … 2019-04-30.
    Heisei,
    /// 令和 (R), from 2019-05-01.
    Reiwa,
}

impl Era {
    /// The era's name in kanji.
    pub fn kanji(self) -> &'static str {
        match self {
            Era::Meiji => "明治",
            Era::Taisho => "大正",
            Era::Showa => "昭和",
            Era::Heisei => "平成",
            Era::Reiwa => "令和",
        }
    }

    /// The era's name in romaji.
    pub fn romaji(self) -> &'static str {
        match self {
            Era::Meiji => "Meiji",
            Era::Taisho => "Taisho",
            Era::Showa => "Showa",
            Era::Heisei => "Heisei",
            Era::Reiwa => "Reiwa",
        }
    }

    /// The Gregorian year of the era's first year (元年).
    fn first_year(self) -> u32 {
        match self {
            Era::Meiji => 1868,
            Era::Taisho => 1912,
            Era::Showa => 1926,
            Era::Heisei => 1989,
            Era::Reiwa => 2019,
        }
    }

    /// First day this parser accepts for the era.
    pub fn first_day(self) -> NaiveDate {
        let (y, m, d) = match self {
            Era::Meiji => (1873, 1, 1),
            Era::Taisho => (1912, 7, 30),
            Era::Showa => (1926, 12, 25),
            Era::Heisei => (1989, 1, 8),
            Era::Reiwa => (2019, 5, 1),
        };
        ymd(y, m, d)
    }

    /// Last day of the era, if it has ended.
    pub fn last_day(self) -> Option<NaiveDate> {
        let (y, m, d) = match self {
            Era::Meiji => (1912, 7, 29),
            Era::Taisho => (1926, 12, 24),
            Era::Showa => (1989, 1, 7),
            Era::Heisei => (2019, 4, 30),
            Era::Reiwa => return None,
        };
        Some(ymd(y, m, d))
    }

    fn from_name(s: &str) -> Option<(Era, usize)> {
        const NAMES: [(&str, Era); 15] = [
            ("明治", Era::Meiji),
            ("大正", Era::Taisho),
            ("昭和", Era::Showa),
            ("平成", Era::Heisei),
            ("令和", Era::Reiwa),
            // The single-character era ligatures (㍾㍽㍼㍻㋿) appear in text pasted from Word.
            ("㍾", Era::Meiji),
            ("㍽", Era::Taisho),
            ("㍼", Era::Showa),
            ("㍻", Era::Heisei),
            ("㋿", Era::Reiwa),
            ("M", Era::Meiji),
            ("T", Era::Taisho),
            ("S", Era::Showa),
            ("H", Era::Heisei),
            ("R", Era::Reiwa),
        ];
        NAMES.iter().find_map(|(name, era)| {
            let upper = s.get(..name.len())?;
            upper
                .eq_ignore_ascii_case(name)
                .then_some((*era, name.len()))
        })
    }
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    // Only called with the constant era boundaries above, which are valid dates.
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

/// Why a text is not an acceptable date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{} / {}", self.ja(), self.en())]
pub enum DateError {
    /// The text has none of the accepted shapes (or a month > 12, a day > 31).
    NotADate,
    /// The shape is right but the day does not exist (2023-02-29, 4月31日).
    NoSuchDay,
    /// Year 0 of an era: the first year is 元年 (= 1).
    YearZero {
        /// The era written.
        era: Era,
    },
    /// The day lies outside the era's span (平成31年5月1日, 令和1年4月30日).
    OutsideEra {
        /// The era written.
        era: Era,
        /// First accepted day of the era.
        first: NaiveDate,
        /// Last day of the era, if it ended.
        last: Option<NaiveDate>,
    },
    /// Before 1873-01-01 (Japan's adoption of the Gregorian calendar): almost certainly a typo.
    TooEarly,
}

impl DateError {
    /// The message in Japanese (for the officers who fix the roster).
    pub fn ja(&self) -> String {
        match self {
            DateError::NotADate => "日付として読めません".into(),
            DateError::NoSuchDay => "存在しない日付です".into(),
            DateError::YearZero { era } => format!("{}0年はありません(元年が1年です)", era.kanji()),
            DateError::OutsideEra { era, first, last } => format!(
                "{}の期間外です({}は{}〜{})",
                era.kanji(),
                era.kanji(),
                first,
                last.map(|d| d.to_string()).unwrap_or_default()
            ),
            DateError::TooEarly => "1873年より前の日付です".into(),
        }
    }

    /// The message in English.
    pub fn en(&self) -> String {
        match self {
            DateError::NotADate => "not a date".into(),
            DateError::NoSuchDay => "no such day".into(),
            DateError::YearZero { era } => {
                format!("there is no year 0 of {} (元年 is year 1)", era.romaji())
            }
            DateError::OutsideEra { era, first, last } => match last {
                Some(l) => format!("outside the {} era ({first} – {l})", era.romaji()),
                None => format!("outside the {} era (from {first})", era.romaji()),
            },
            DateError::TooEarly => "before 1873 (likely a typo)".into(),
        }
    }
}

/// Maps full-width ASCII (Ｒ４．４．１) and the ideographic space to their ASCII forms: Japanese
/// spreadsheets mix both widths freely and a roster must not fail on that.
pub fn halfwidth(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect()
}

/// Parses a roster date. See the module doc for the accepted forms. A trailing time of day
/// (`2022/4/1 0:00`, as Excel writes date-time cells) is ignored.
pub fn parse_date(text: &str) -> Result<NaiveDate, DateError> {
    let norm = halfwidth(text);
    let mut parts = norm.split_whitespace();
    let date = parts.next().ok_or(DateError::NotADate)?;
    if let Some(time) = parts.next() {
        let is_time = time.contains(':') && time.chars().all(|c| c.is_ascii_digit() || c == ':');
        if !is_time || parts.next().is_some() {
            return Err(DateError::NotADate);
        }
    }
    if let Some((era, len)) = Era::from_name(date) {
        return parse_era(era, &date[len..]);
    }
    let (y, m, d) = if date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()) {
        // YYYYMMDD, as HR systems export.
        (num(&date[..4])?, num(&date[4..6])?, num(&date[6..])?)
    } else {
        let (y, m, d) = split3(date)?;
        if y.len() != 4 {
            return Err(DateError::NotADate);
        }
        (num(y)?, num(m)?, num(d)?)
    };
    let date = make(y, m, d)?;
    if date < Era::Meiji.first_day() {
        return Err(DateError::TooEarly);
    }
    Ok(date)
}

fn parse_era(era: Era, rest: &str) -> Result<NaiveDate, DateError> {
    let (y, m, d) = split3(rest)?;
    let year = if y == "元" { 1 } else { num(y)? };
    if year == 0 {
        return Err(DateError::YearZero { era });
    }
    if y.len() > 3 {
        return Err(DateError::NotADate);
    }
    let date = make(era.first_year() + year - 1, num(m)?, num(d)?)?;
    let first = era.first_day();
    let last = era.last_day();
    if date < first || last.is_some_and(|l| date > l) {
        return Err(DateError::OutsideEra { era, first, last });
    }
    Ok(date)
}

/// Splits `Y<sep>M<sep>D[日]` where sep is `-`, `/`, `.` or 年/月.
fn split3(s: &str) -> Result<(&str, &str, &str), DateError> {
    let s = s.strip_suffix('日').unwrap_or(s);
    if let Some((y, rest)) = s.split_once('年') {
        let (m, d) = rest.split_once('月').ok_or(DateError::NotADate)?;
        return Ok((y, m, d));
    }
    for sep in ['-', '/', '.'] {
        let mut it = s.split(sep);
        if let (Some(y), Some(m), Some(d), None) = (it.next(), it.next(), it.next(), it.next()) {
            return Ok((y, m, d));
        }
    }
    Err(DateError::NotADate)
}

fn num(s: &str) -> Result<u32, DateError> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DateError::NotADate);
    }
    s.parse().map_err(|_| DateError::NotADate)
}

fn make(y: u32, m: u32, d: u32) -> Result<NaiveDate, DateError> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(DateError::NotADate);
    }
    NaiveDate::from_ymd_opt(y as i32, m, d).ok_or(DateError::NoSuchDay)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).unwrap()
    }

    #[test]
    fn western_forms() {
        for s in [
            "2022-04-01",
            "2022/04/01",
            "2022/4/1",
            "20220401",
            "2022年4月1日",
            "2022.4.1",
        ] {
            assert_eq!(parse_date(s), Ok(d(2022, 4, 1)), "{s}");
        }
        assert_eq!(parse_date("２０２２／４／１"), Ok(d(2022, 4, 1)));
        assert_eq!(parse_date("2022/4/1 0:00"), Ok(d(2022, 4, 1)));
        assert_eq!(parse_date("2022/4/1 foo"), Err(DateError::NotADate));
    }

    #[test]
    fn era_forms() {
        assert_eq!(parse_date("令和4年4月1日"), Ok(d(2022, 4, 1)));
        assert_eq!(parse_date("R4.4.1"), Ok(d(2022, 4, 1)));
        assert_eq!(parse_date("r04.04.01"), Ok(d(2022, 4, 1)));
        assert_eq!(parse_date("Ｒ４．４．１"), Ok(d(2022, 4, 1)));
        assert_eq!(parse_date("令和元年5月1日"), Ok(d(2019, 5, 1)));
        assert_eq!(parse_date("平成元年1月8日"), Ok(d(1989, 1, 8)));
        assert_eq!(parse_date("S64.1.7"), Ok(d(1989, 1, 7)));
        assert_eq!(parse_date("T15.12.24"), Ok(d(1926, 12, 24)));
        assert_eq!(parse_date("㍻31年4月30日"), Ok(d(2019, 4, 30)));
    }

    #[test]
    fn era_boundaries_are_enforced() {
        assert!(matches!(
            parse_date("平成31年5月1日"),
            Err(DateError::OutsideEra {
                era: Era::Heisei,
                ..
            })
        ));
        assert!(matches!(
            parse_date("令和1年4月30日"),
            Err(DateError::OutsideEra {
                era: Era::Reiwa,
                ..
            })
        ));
        assert!(matches!(
            parse_date("S64.1.8"),
            Err(DateError::OutsideEra { .. })
        ));
        assert_eq!(
            parse_date("令和0年5月1日"),
            Err(DateError::YearZero { era: Era::Reiwa })
        );
        assert!(matches!(
            parse_date("明治5年1月1日"),
            Err(DateError::OutsideEra { .. })
        ));
    }

    #[test]
    fn bad_dates() {
        assert_eq!(parse_date("令和4年13月1日"), Err(DateError::NotADate));
        assert_eq!(parse_date("2023-02-29"), Err(DateError::NoSuchDay));
        assert_eq!(parse_date("22-4-1"), Err(DateError::NotADate));
        assert_eq!(parse_date("0202-04-01"), Err(DateError::TooEarly));
        assert_eq!(parse_date(""), Err(DateError::NotADate));
        assert_eq!(parse_date("44652"), Err(DateError::NotADate));
        assert_eq!(parse_date("R99999.1.1"), Err(DateError::NotADate));
    }

    #[test]
    fn error_text_is_japanese_first() {
        let e = parse_date("平成31年5月1日").unwrap_err().to_string();
        assert!(
            e.starts_with("平成の期間外です(平成は1989-01-08〜2019-04-30)"),
            "{e}"
        );
        assert!(e.contains("outside the Heisei era"), "{e}");
    }
}
