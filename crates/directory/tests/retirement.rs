//! The retirement boundary: employed through the 退職日, retired from the next day (Hiratsuka).
mod common;
use common::*;
use mamori_directory::{Directory, Status};

/// A fixture modelled on the Hiratsuka case: a long-serving employee of 市民課 retiring on
/// 2018-12-21 (the real date is not public; the case says he copied data on 2018-12-22, "the
/// day after retirement").
fn hiratsuka() -> Directory {
    let mut dir = Directory::new();
    import(
        &mut dir,
        "roster-2018",
        "50021,平塚 一郎,ヒラツカ イチロウ,2100,市民課,主任,1995/4/1,採用,,\"HIRATSUKA\\hira.i;hira.i@city.example.lg.jp\"\n\
         50021,平塚 一郎,ヒラツカ イチロウ,2100,市民課,主任,2018/12/21,退職,2018/12/21,\n",
        at(2019, 1, 10),
    );
    dir
}

#[test]
fn hiratsuka_login_after_retirement() {
    let dir = hiratsuka();
    let p = person(dir.resolve("HIRATSUKA\\hira.i", d(2018, 12, 22)));
    assert_eq!(p.staff_id, "50021");
    assert_eq!(p.status, Status::Retired);
    assert_eq!(p.post, None, "a retired person holds no post");
    assert_eq!(
        p.last_post.as_ref().map(|x| x.dept_code.as_str()),
        Some("2100")
    );
    assert_eq!(p.period.as_ref().and_then(|x| x.end), Some(d(2018, 12, 21)));
}

#[test]
fn retirement_day_itself_is_still_employed() {
    let dir = hiratsuka();
    // 2018-11-29: the first copy, while employed; 2018-12-21: the last working day.
    for day in [d(2018, 11, 29), d(2018, 12, 21)] {
        let p = person(dir.resolve("hira.i@city.example.lg.jp", day));
        assert_eq!(p.status, Status::Employed, "{day}");
        assert_eq!(p.post.as_ref().map(|x| x.dept_code.as_str()), Some("2100"));
    }
}

#[test]
fn before_hire_is_before_employment() {
    let dir = hiratsuka();
    assert_eq!(
        status(&dir, "50021", d(1995, 3, 31)),
        Status::BeforeEmployment
    );
    assert_eq!(status(&dir, "50021", d(1995, 4, 1)), Status::Employed);
}

#[test]
fn retirement_row_without_date_uses_effective_date() {
    let mut dir = Directory::new();
    import(
        &mut dir,
        "r",
        "1,田中,,1100,市民課,主事,2010/4/1,採用,,\n1,田中,,,,,2020/3/31,定年退職,,\n",
        at(2020, 4, 2),
    );
    assert_eq!(status(&dir, "1", d(2020, 3, 31)), Status::Employed);
    assert_eq!(status(&dir, "1", d(2020, 4, 1)), Status::Retired);
    assert_eq!(
        dir.history("1", mamori_directory::KnownAt::Latest)[1].change_label,
        "定年退職"
    );
}

#[test]
fn retirement_date_on_a_hire_row_ends_the_fixed_term() {
    // 会計年度任用職員: hired for one fiscal year; the roster carries the end in 退職日.
    let mut dir = Directory::new();
    import(
        &mut dir,
        "r",
        "9001,臨時 花子,,1100,市民課,会計年度任用職員,2023/4/1,採用,2024/3/31,\n",
        at(2023, 4, 1),
    );
    assert_eq!(status(&dir, "9001", d(2024, 3, 31)), Status::Employed);
    assert_eq!(status(&dir, "9001", d(2024, 4, 1)), Status::Retired);
}

#[test]
fn retroactive_retirement_does_not_reopen_employment() {
    // The order was issued on 2019-01-10 with effect from 2018-12-21.
    let mut dir = Directory::new();
    import(
        &mut dir,
        "r",
        "1,田中,,1100,市民課,主事,2010/4/1,採用,,\n1,田中,,,,,2019/1/10,退職,2018/12/21,\n",
        at(2019, 1, 11),
    );
    assert_eq!(status(&dir, "1", d(2018, 12, 22)), Status::Retired);
    assert_eq!(status(&dir, "1", d(2019, 2, 1)), Status::Retired);
}

#[test]
fn retirement_only_row_implies_employment_up_to_it() {
    // A roster of leavers only: the person was employed on the 退職日, start unknown.
    let mut dir = Directory::new();
    import(
        &mut dir,
        "r",
        "7,佐藤,,3100,税務課,主査,2021/3/31,退職,,\n",
        at(2021, 4, 1),
    );
    let p = dir.person("7", d(2021, 3, 31)).unwrap();
    assert_eq!(p.status, Status::Employed);
    assert!(p.period.unwrap().start_inferred);
    assert_eq!(status(&dir, "7", d(2021, 4, 1)), Status::Retired);
}

#[test]
fn scheduled_retirement_is_listed_in_periods() {
    let mut dir = Directory::new();
    import(
        &mut dir,
        "r",
        "1,田中,,1100,市民課,主事,2010/4/1,採用,,\n1,田中,,,,,2030/3/31,定年退職,,\n",
        at(2025, 4, 2),
    );
    let periods = dir.periods("1", mamori_directory::KnownAt::Latest);
    assert_eq!(periods.len(), 1);
    assert_eq!(periods[0].end, Some(d(2030, 3, 31)));
    // On a date before it, the end is not yet a fact.
    assert_eq!(
        dir.person("1", d(2025, 5, 1)).unwrap().period.unwrap().end,
        None
    );
}
