//! 和暦 dates in rosters, era boundaries included.
mod common;
use common::*;
use mamori_directory::{Column, DateError, Era, Problem, parse_roster};

#[test]
fn era_dates_in_a_roster() {
    let body = "1,a,,1100,課,主事,平成31年4月30日,採用,,\n\
                2,b,,1100,課,主事,令和元年5月1日,採用,,\n\
                3,c,,1100,課,主事,R4.4.1,採用,,\n\
                4,d,,1100,課,主事,H31.4.30,採用,,\n\
                5,e,,1100,課,主事,S63.4.1,採用,令和5年3月31日,\n\
                6,f,,1100,課,主事,令和４年４月１日,採用,,\n";
    let (rows, errs) = parse_roster(format!("{HEADER}{body}").as_bytes(), at(2023, 1, 1));
    assert!(errs.is_empty(), "{errs:?}");
    let dates: Vec<_> = rows.iter().map(|r| r.effective).collect();
    assert_eq!(
        dates,
        [
            d(2019, 4, 30),
            d(2019, 5, 1),
            d(2022, 4, 1),
            d(2019, 4, 30),
            d(1988, 4, 1),
            d(2022, 4, 1)
        ]
    );
    assert_eq!(rows[4].retirement_date, Some(d(2023, 3, 31)));
}

#[test]
fn dates_across_era_boundaries_are_errors_naming_row_and_column() {
    let body = "1,a,,1100,課,主事,平成31年5月1日,採用,,\n\
                2,b,,1100,課,主事,令和1年4月30日,採用,,\n\
                3,c,,1100,課,主事,2019/5/1,採用,H31.5.1,\n\
                4,d,,1100,課,主事,令和元年5月1日,採用,,\n";
    let (rows, errs) = parse_roster(format!("{HEADER}{body}").as_bytes(), at(2023, 1, 1));
    assert_eq!(rows.len(), 1, "the good row still imports");
    assert_eq!(rows[0].row, 5);
    assert_eq!(errs.len(), 3);
    assert_eq!((errs[0].row, errs[0].column), (2, Some(Column::Effective)));
    assert!(matches!(
        errs[0].problem,
        Problem::BadDate(DateError::OutsideEra {
            era: Era::Heisei,
            ..
        })
    ));
    assert_eq!(
        errs[0].to_string(),
        "2行目「発令日」: 平成の期間外です(平成は1989-01-08〜2019-04-30)(平成31年5月1日)\
         / row 2, column 発令日: outside the Heisei era (1989-01-08 – 2019-04-30)"
    );
    assert!(matches!(
        errs[1].problem,
        Problem::BadDate(DateError::OutsideEra {
            era: Era::Reiwa,
            ..
        })
    ));
    assert!(
        errs[1]
            .to_string()
            .contains("令和の期間外です(令和は2019-05-01〜)"),
        "{}",
        errs[1]
    );
    assert_eq!(
        (errs[2].row, errs[2].column),
        (4, Some(Column::RetirementDate))
    );
}

#[test]
fn showa_and_taisho_boundaries() {
    use mamori_directory::parse_date;
    assert_eq!(parse_date("昭和64年1月7日"), Ok(d(1989, 1, 7)));
    assert!(parse_date("昭和64年1月8日").is_err());
    assert_eq!(parse_date("平成元年1月8日"), Ok(d(1989, 1, 8)));
    assert!(parse_date("平成元年1月7日").is_err());
    assert_eq!(parse_date("大正15年12月24日"), Ok(d(1926, 12, 24)));
    assert_eq!(parse_date("昭和元年12月25日"), Ok(d(1926, 12, 25)));
    assert!(parse_date("T15.12.25").is_err());
}
