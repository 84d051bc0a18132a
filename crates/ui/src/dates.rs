//! Dates and times as Japanese offices write them: `2026年12月2日(水) 13:05` in JST, or in the
//! era calendar (`令和8年12月2日(水)`) when the user asks for 和暦 (the `mamori_era` cookie).
//! English pages use ISO dates.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc};
use mamori_jtext::Era;

use crate::Lang;

/// Japan Standard Time (no DST).
pub fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("JST")
}

/// How years are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Calendar {
    /// 西暦 (2026年).
    #[default]
    Western,
    /// 和暦 (令和8年).
    Era,
}

const WEEKDAYS: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];
/// Each era with the Gregorian year of its first year (元年).
const ERAS: [(Era, i32); 5] = [(Era::Reiwa, 2019), (Era::Heisei, 1989), (Era::Showa, 1926), (Era::Taisho, 1912), (Era::Meiji, 1868)];

/// `令和8年` / `令和元年` for a date on or after 明治; `None` before.
pub fn era_year(d: NaiveDate) -> Option<String> {
    let (era, first) = ERAS.into_iter().find(|(e, _)| d >= e.first_day())?;
    let n = d.year() - first + 1;
    Some(if n == 1 { format!("{}元年", era.kanji()) } else { format!("{}{n}年", era.kanji()) })
}

/// A date: `2026年12月2日(水)`, `令和8年12月2日(水)` or `2026-12-02`.
pub fn date(d: NaiveDate, lang: Lang, cal: Calendar) -> String {
    if lang == Lang::En {
        return d.format("%Y-%m-%d").to_string();
    }
    let wd = WEEKDAYS[d.weekday().num_days_from_monday() as usize];
    let year = match cal {
        Calendar::Era => era_year(d).unwrap_or_else(|| format!("{}年", d.year())),
        Calendar::Western => format!("{}年", d.year()),
    };
    format!("{year}{}月{}日({wd})", d.month(), d.day())
}

/// A time of day in JST: `2026年12月2日(水) 13:05` (`2026-12-02 13:05 JST` in English).
pub fn datetime(t: DateTime<Utc>, lang: Lang, cal: Calendar) -> String {
    let l = t.with_timezone(&jst());
    match lang {
        Lang::En => l.format("%Y-%m-%d %H:%M JST").to_string(),
        Lang::Ja => format!("{} {}", date(l.date_naive(), lang, cal), l.format("%H:%M")),
    }
}

/// An RFC 3339 time as text; the input itself when it does not parse.
pub fn rfc3339(s: &str, lang: Lang, cal: Calendar) -> String {
    match DateTime::parse_from_rfc3339(s) {
        Ok(t) => datetime(t.with_timezone(&Utc), lang, cal),
        Err(_) => s.to_owned(),
    }
}

/// Today in JST.
pub fn today() -> NaiveDate {
    Utc::now().with_timezone(&jst()).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn japanese_forms() {
        let d = NaiveDate::from_ymd_opt(2019, 5, 1).unwrap();
        assert_eq!(date(d, Lang::Ja, Calendar::Era), "令和元年5月1日(水)");
        assert_eq!(date(d, Lang::Ja, Calendar::Western), "2019年5月1日(水)");
        let d = NaiveDate::from_ymd_opt(2019, 4, 30).unwrap();
        assert_eq!(date(d, Lang::Ja, Calendar::Era), "平成31年4月30日(火)");
        assert_eq!(date(d, Lang::En, Calendar::Era), "2019-04-30");
        let t = DateTime::parse_from_rfc3339("2018-12-21T16:30:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(datetime(t, Lang::Ja, Calendar::Era), "平成30年12月22日(土) 01:30");
    }
}
