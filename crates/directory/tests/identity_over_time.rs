//! Identity at time t across transfers, including the Kamaishi pattern, and the bitemporal
//! "as known at" questions.
mod common;
use common::*;
use mamori_directory::{Directory, KnownAt, Status, View};

/// Departments whose staff may read the resident register (住基). Access grants are not this
/// crate's business; the test stands in for the detection rule that will use them.
const REGISTER_DEPTS: [&str; 1] = ["2110"];

fn has_register_access(dir: &Directory, account: &str, day: chrono::NaiveDate) -> bool {
    let p = person(dir.resolve(account, day));
    p.status.is_employed() && p.dept_codes().iter().any(|c| REGISTER_DEPTS.contains(c))
}

/// Kamaishi: staff A moves on 2021-04-01 from 市民課 (register access) to 建設課 (none);
/// staff B stays in 市民課.
fn kamaishi() -> Directory {
    let mut dir = Directory::new();
    import(
        &mut dir,
        "roster-fy2020",
        "1001,職員 A,,2110,市民課,係長,2015/4/1,採用,,\"KAMAISHI\\staff.a;staff.a@city.example.lg.jp\"\n\
         1002,職員 B,,2110,市民課,主査,2012/4/1,採用,,KAMAISHI\\staff.b\n",
        at(2020, 4, 3),
    );
    import(
        &mut dir,
        "roster-fy2021",
        "1001,職員 A,,4100,建設課,係長,2021/4/1,異動,,\n",
        at(2021, 4, 2),
    );
    dir
}

#[test]
fn kamaishi_staff_a_loses_register_department_on_transfer() {
    let dir = kamaishi();
    let before = person(dir.resolve("KAMAISHI\\staff.a", d(2021, 3, 31)));
    assert_eq!(before.post.as_ref().unwrap().dept_name, "市民課");
    assert!(has_register_access(
        &dir,
        "KAMAISHI\\staff.a",
        d(2021, 3, 31)
    ));

    let after = person(dir.resolve("staff.a@city.example.lg.jp", d(2021, 4, 1)));
    assert_eq!(after.status, Status::Employed);
    let post = after.post.unwrap();
    assert_eq!(
        (post.dept_code.as_str(), post.dept_name.as_str()),
        ("4100", "建設課")
    );
    assert_eq!(post.since, d(2021, 4, 1));
    assert!(!has_register_access(&dir, "staff.a", d(2021, 4, 1)));
    // B, who kept sending A register data, still has it.
    assert!(has_register_access(&dir, "staff.b", d(2022, 1, 31)));
}

#[test]
fn transfer_as_known_before_the_roster_arrived() {
    let dir = kamaishi();
    // On 2021-04-01 at 09:00 the FY2021 roster had not been imported yet (it was on 04-02).
    let known_then = KnownAt::Time(at(2021, 4, 1));
    let p = dir
        .person_at(
            "1001",
            View {
                date: d(2021, 4, 1),
                known: known_then,
            },
        )
        .unwrap();
    assert_eq!(
        p.post.unwrap().dept_code,
        "2110",
        "as known then, A was still in 市民課"
    );
    let p = dir
        .person_at(
            "1001",
            View {
                date: d(2021, 4, 1),
                known: KnownAt::Latest,
            },
        )
        .unwrap();
    assert_eq!(
        p.post.unwrap().dept_code,
        "4100",
        "as known now, A had moved"
    );
    // Before the first import nothing was known.
    assert!(
        dir.person_at(
            "1001",
            View {
                date: d(2021, 4, 1),
                known: KnownAt::Time(at(2019, 1, 1))
            }
        )
        .is_none()
    );
}

#[test]
fn a_later_import_corrects_an_order() {
    let mut dir = kamaishi();
    // The FY2021 roster had the wrong department; HR re-issues the row with the right one.
    import(
        &mut dir,
        "fix",
        "1001,職員 A,,4200,都市計画課,係長,2021/4/1,異動,,\n",
        at(2021, 4, 20),
    );
    assert_eq!(
        dir.person("1001", d(2021, 4, 1))
            .unwrap()
            .post
            .unwrap()
            .dept_code,
        "4200"
    );
    let before_fix = dir.known_after("roster-fy2021").unwrap();
    let p = dir
        .person_at(
            "1001",
            View {
                date: d(2021, 4, 1),
                known: before_fix,
            },
        )
        .unwrap();
    assert_eq!(p.post.unwrap().dept_code, "4100");
    assert_eq!(
        dir.history("1001", KnownAt::Latest).len(),
        2,
        "the superseded row is not in force"
    );
}

#[test]
fn promotion_in_place_keeps_department_and_since() {
    let mut dir = Directory::new();
    import(
        &mut dir,
        "r",
        "5,田中,,1100,市民課,主事,2018/4/1,採用,,\n5,田中,,,,主任,2020/4/1,昇任,,\n",
        at(2020, 4, 2),
    );
    let p = dir.person("5", d(2020, 4, 1)).unwrap().post.unwrap();
    assert_eq!(
        (p.dept_code.as_str(), p.dept_name.as_str(), p.title.as_str()),
        ("1100", "市民課", "主任")
    );
    assert_eq!(p.since, d(2018, 4, 1));
    assert_eq!(
        dir.person("5", d(2020, 3, 31)).unwrap().post.unwrap().title,
        "主事"
    );
}

#[test]
fn leave_and_return() {
    let mut dir = Directory::new();
    import(
        &mut dir,
        "r",
        "6,佐藤,,1100,市民課,主事,2018/4/1,採用,,\n6,佐藤,,,,,2020/6/1,育児休業,,\n6,佐藤,,2200,保険年金課,主事,2021/6/1,復職,,\n",
        at(2021, 6, 2),
    );
    let on_leave = dir.person("6", d(2020, 12, 1)).unwrap();
    assert_eq!(on_leave.status, Status::OnLeave);
    assert_eq!(
        on_leave.post.unwrap().dept_code,
        "1100",
        "the post is kept during leave"
    );
    let back = dir.person("6", d(2021, 6, 1)).unwrap();
    assert_eq!(
        (back.status, back.post.unwrap().dept_code.as_str()),
        (Status::Employed, "2200")
    );
}

#[test]
fn snapshot_roster_without_hire_row_infers_employment() {
    let mut dir = Directory::new();
    import(
        &mut dir,
        "snap",
        "8,高橋,,3100,税務課,主査,2021/4/1,異動,,\n",
        at(2021, 5, 1),
    );
    let p = dir.person("8", d(2021, 4, 1)).unwrap();
    assert_eq!(p.status, Status::Employed);
    assert!(p.period.unwrap().start_inferred);
    assert_eq!(status(&dir, "8", d(2021, 3, 31)), Status::BeforeEmployment);
}

#[test]
fn name_change_follows_valid_time() {
    let mut dir = Directory::new();
    import(
        &mut dir,
        "r",
        "9,旧姓 花子,キュウセイ ハナコ,1100,市民課,主事,2018/4/1,採用,,\n9,新姓 花子,シンセイ ハナコ,1200,税務課,主事,2021/4/1,異動,,\n",
        at(2021, 4, 2),
    );
    assert_eq!(dir.person("9", d(2020, 1, 1)).unwrap().name, "旧姓 花子");
    assert_eq!(
        dir.person("9", d(2021, 4, 1)).unwrap().name_kana,
        "シンセイ ハナコ"
    );
}
