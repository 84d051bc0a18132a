//! The Japanese public-holiday calendar (国民の祝日に関する法律) and the city's closed days.
//!
//! Computed from the Act's rules rather than a table, so it needs no yearly update:
//! - fixed-date and "Happy Monday" holidays with the years each rule was in force;
//! - 春分の日 / 秋分の日 from the usual equinox approximation (the Cabinet Office announces the
//!   dates each February from the National Astronomical Observatory's calculation; the formula
//!   agrees with every announced date 1980–2099);
//! - 振替休日 (Art. 3(2)): from 1973-04-12 a holiday on a Sunday moves to the next day; from
//!   2007 to the next day that is not a holiday;
//! - 国民の休日 (Art. 3(3)): from 1985-12-27 a day between two holidays is a holiday;
//! - one-off holidays by special laws (大喪の礼, 即位の礼, the 2019 accession, the 2020/2021
//!   Olympic moves).
//!
//! [`Calendar`] adds 年末年始 (12/29–1/3, the usual 閉庁日 under each city's 休日条例) and
//! weekends, which is what "office hours" needs.

use chrono::{Datelike, NaiveDate, Weekday};

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// The n-th (1-based) Monday of a month.
fn nth_monday(y: i32, m: u32, n: u32) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(y, m, Weekday::Mon, n as u8).expect("valid")
}

/// 春分日 (day of March).
pub fn vernal_equinox_day(y: i32) -> u32 {
    equinox(y, [20.8357, 20.8431, 21.8510])
}

/// 秋分日 (day of September).
pub fn autumnal_equinox_day(y: i32) -> u32 {
    equinox(y, [23.2588, 23.2488, 24.2488])
}

fn equinox(y: i32, c: [f64; 3]) -> u32 {
    let (base, from) = match y {
        ..=1979 => (c[0], 1983),
        1980..=2099 => (c[1], 1980),
        _ => (c[2], 1980),
    };
    let dy = f64::from(y - 1980);
    let leap = (f64::from(y - from) / 4.0).floor();
    (base + 0.242194 * dy - leap).floor() as u32
}

/// The holiday named by the Act (or a special law) on this date, without 振替休日 and 国民の休日.
fn base_holiday(d: NaiveDate) -> Option<&'static str> {
    let (y, m, day) = (d.year(), d.month(), d.day());
    if y < 1949 {
        return None;
    }
    let special = match (y, m, day) {
        (1959, 4, 10) => Some("皇太子明仁親王の結婚の儀"),
        (1989, 2, 24) => Some("昭和天皇の大喪の礼"),
        (1990, 11, 12) => Some("即位礼正殿の儀"),
        (1993, 6, 9) => Some("皇太子徳仁親王の結婚の儀"),
        (2019, 5, 1) => Some("天皇の即位の日"),
        (2019, 10, 22) => Some("即位礼正殿の儀"),
        _ => None,
    };
    if special.is_some() {
        return special;
    }
    match m {
        1 if day == 1 => Some("元日"),
        1 if (y <= 1999 && day == 15) || (y >= 2000 && d == nth_monday(y, 1, 2)) => Some("成人の日"),
        2 if y >= 1967 && day == 11 => Some("建国記念の日"),
        2 if y >= 2020 && day == 23 => Some("天皇誕生日"),
        3 if day == vernal_equinox_day(y) => Some("春分の日"),
        4 if day == 29 => Some(match y {
            ..=1988 => "天皇誕生日",
            1989..=2006 => "みどりの日",
            _ => "昭和の日",
        }),
        5 if day == 3 => Some("憲法記念日"),
        5 if y >= 2007 && day == 4 => Some("みどりの日"),
        5 if day == 5 => Some("こどもの日"),
        7 => match y {
            1996..=2002 if day == 20 => Some("海の日"),
            2020 if day == 23 => Some("海の日"),
            2021 if day == 22 => Some("海の日"),
            2020 if day == 24 => Some("スポーツの日"),
            2021 if day == 23 => Some("スポーツの日"),
            2003.. if y != 2020 && y != 2021 && d == nth_monday(y, 7, 3) => Some("海の日"),
            _ => None,
        },
        8 => match y {
            2020 if day == 10 => Some("山の日"),
            2021 if day == 8 => Some("山の日"),
            2016.. if y != 2020 && y != 2021 && day == 11 => Some("山の日"),
            _ => None,
        },
        9 if day == autumnal_equinox_day(y) => Some("秋分の日"),
        9 if (1966..=2002).contains(&y) && day == 15 => Some("敬老の日"),
        9 if y >= 2003 && d == nth_monday(y, 9, 3) => Some("敬老の日"),
        10 if (1966..=1999).contains(&y) && day == 10 => Some("体育の日"),
        10 if (2000..=2019).contains(&y) && d == nth_monday(y, 10, 2) => Some("体育の日"),
        10 if y >= 2022 && d == nth_monday(y, 10, 2) => Some("スポーツの日"),
        11 if day == 3 => Some("文化の日"),
        11 if day == 23 => Some("勤労感謝の日"),
        12 if (1989..=2018).contains(&y) && day == 23 => Some("天皇誕生日"),
        _ => None,
    }
}

/// The national holiday on `d`, by name, including 振替休日 and 国民の休日.
pub fn holiday_name(d: NaiveDate) -> Option<&'static str> {
    if let Some(n) = base_holiday(d) {
        return Some(n);
    }
    // 振替休日.
    if d >= ymd(1973, 4, 12) {
        let mut p = d.pred_opt()?;
        if d.year() >= 2007 {
            // The next non-holiday day after a Sunday holiday: walk back over holidays.
            while base_holiday(p).is_some() {
                if p.weekday() == Weekday::Sun {
                    return Some("振替休日");
                }
                p = p.pred_opt()?;
            }
        } else if d.weekday() == Weekday::Mon && base_holiday(p).is_some() {
            return Some("振替休日");
        }
    }
    // 国民の休日: between two holidays (Art. 3(3)); not a Sunday (already a day off) and, before
    // 2007, not a 振替休日 (handled above).
    if d >= ymd(1985, 12, 27)
        && d.weekday() != Weekday::Sun
        && let (Some(p), Some(n)) = (d.pred_opt(), d.succ_opt())
        && base_holiday(p).is_some()
        && base_holiday(n).is_some()
    {
        return Some("国民の休日");
    }
    None
}

/// True on a national holiday (incl. 振替休日 and 国民の休日).
pub fn is_national_holiday(d: NaiveDate) -> bool {
    holiday_name(d).is_some()
}

/// All national holidays of a year, in order, with their names.
pub fn holidays_of_year(y: i32) -> Vec<(NaiveDate, &'static str)> {
    let mut d = ymd(y, 1, 1);
    let mut out = Vec::new();
    while d.year() == y {
        if let Some(n) = holiday_name(d) {
            out.push((d, n));
        }
        d = d.succ_opt().expect("date");
    }
    out
}

/// True during 年末年始 (12/29 – 1/3).
pub fn is_year_end(d: NaiveDate) -> bool {
    matches!((d.month(), d.day()), (12, 29..=31) | (1, 1..=3))
}

/// Why a day is not a working day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayOff {
    /// Saturday or Sunday.
    Weekend,
    /// A national holiday, by name.
    Holiday(&'static str),
    /// 年末年始.
    YearEnd,
    /// A closed day the city added (e.g. a 条例 day).
    Extra,
}

impl DayOff {
    /// Japanese label.
    pub fn label(self) -> &'static str {
        match self {
            DayOff::Weekend => "土日",
            DayOff::Holiday(n) => n,
            DayOff::YearEnd => "年末年始",
            DayOff::Extra => "閉庁日",
        }
    }
}

/// The city's working calendar: weekends, national holidays, 年末年始 and extra closed days.
#[derive(Clone, Debug, Default)]
pub struct Calendar {
    /// Extra closed days (閉庁日) the city adds.
    pub extra_closed: Vec<NaiveDate>,
    /// Days that are working days despite the rules (e.g. an election Sunday).
    pub extra_open: Vec<NaiveDate>,
}

impl Calendar {
    /// Why `d` is a day off, or None on a working day.
    pub fn day_off(&self, d: NaiveDate) -> Option<DayOff> {
        if self.extra_open.contains(&d) {
            return None;
        }
        if self.extra_closed.contains(&d) {
            return Some(DayOff::Extra);
        }
        if let Some(n) = holiday_name(d) {
            return Some(DayOff::Holiday(n));
        }
        if is_year_end(d) {
            return Some(DayOff::YearEnd);
        }
        if matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            return Some(DayOff::Weekend);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(y: i32) -> Vec<String> {
        holidays_of_year(y).into_iter().map(|(d, _)| d.format("%m-%d").to_string()).collect()
    }

    // Lists as published by the Cabinet Office (内閣府「国民の祝日について」).
    #[test]
    fn known_years() {
        assert_eq!(
            days(2019),
            [
                "01-01", "01-14", "02-11", "03-21", "04-29", "04-30", "05-01", "05-02", "05-03", "05-04", "05-05", "05-06",
                "07-15", "08-11", "08-12", "09-16", "09-23", "10-14", "10-22", "11-03", "11-04", "11-23"
            ]
        );
        assert_eq!(
            days(2020),
            ["01-01", "01-13", "02-11", "02-23", "02-24", "03-20", "04-29", "05-03", "05-04", "05-05", "05-06", "07-23", "07-24", "08-10", "09-21", "09-22", "11-03", "11-23"]
        );
        assert_eq!(
            days(2021),
            ["01-01", "01-11", "02-11", "02-23", "03-20", "04-29", "05-03", "05-04", "05-05", "07-22", "07-23", "08-08", "08-09", "09-20", "09-23", "11-03", "11-23"]
        );
        assert_eq!(
            days(2025),
            ["01-01", "01-13", "02-11", "02-23", "02-24", "03-20", "04-29", "05-03", "05-04", "05-05", "05-06", "07-21", "08-11", "09-15", "09-23", "10-13", "11-03", "11-23", "11-24"]
        );
        assert_eq!(
            days(2026),
            ["01-01", "01-12", "02-11", "02-23", "03-20", "04-29", "05-03", "05-04", "05-05", "05-06", "07-20", "08-11", "09-21", "09-22", "09-23", "10-12", "11-03", "11-23"]
        );
        // Pre-2007 rules: 5/4 was a 国民の休日, 振替休日 only on the Monday.
        assert_eq!(holiday_name(ymd(2006, 5, 4)), Some("国民の休日"));
        assert_eq!(holiday_name(ymd(1989, 2, 24)), Some("昭和天皇の大喪の礼"));
        assert_eq!(holiday_name(ymd(2009, 9, 22)), Some("国民の休日"));
        assert_eq!(holiday_name(ymd(2015, 9, 22)), Some("国民の休日"));
        assert_eq!(holiday_name(ymd(2018, 12, 24)), Some("振替休日"));
        assert_eq!(holiday_name(ymd(2019, 12, 23)), None);
    }

    #[test]
    fn equinoxes() {
        // Announced dates.
        for (y, s, a) in [(2000, 20, 23), (2012, 20, 22), (2023, 21, 23), (2024, 20, 22), (2025, 20, 23), (2026, 20, 23), (2027, 21, 23)] {
            assert_eq!((vernal_equinox_day(y), autumnal_equinox_day(y)), (s, a), "{y}");
        }
    }

    #[test]
    fn closed_days() {
        let c = Calendar::default();
        assert_eq!(c.day_off(ymd(2026, 12, 29)), Some(DayOff::YearEnd));
        assert_eq!(c.day_off(ymd(2027, 1, 1)), Some(DayOff::Holiday("元日")));
        assert_eq!(c.day_off(ymd(2027, 1, 4)), None);
        assert_eq!(c.day_off(ymd(2026, 12, 5)), Some(DayOff::Weekend));
        assert_eq!(c.day_off(ymd(2026, 12, 2)), None);
    }
}
