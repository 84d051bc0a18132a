//! Re-hire: 採用 after 退職 starts a new employment period (定年退職 → 再任用).
mod common;
use common::*;
use mamori_directory::{ChangeKind, Directory, KnownAt, Status};

fn fixture() -> Directory {
    let mut dir = Directory::new();
    import(
        &mut dir,
        "r",
        "300,山田 太郎,,1100,市民課,課長,1985/4/1,採用,,yamada.t\n\
         300,山田 太郎,,,,,2022/3/31,定年退職,,\n\
         300,山田 太郎,,1100,市民課,再任用主任,2022/4/1,再任用,,yamada.t\n",
        at(2022, 4, 5),
    );
    dir
}

#[test]
fn rehire_starts_a_new_period() {
    let dir = fixture();
    let periods = dir.periods("300", KnownAt::Latest);
    assert_eq!(periods.len(), 2);
    assert_eq!(
        (periods[0].start, periods[0].end),
        (d(1985, 4, 1), Some(d(2022, 3, 31)))
    );
    assert_eq!(
        (periods[1].start, periods[1].end, periods[1].start_inferred),
        (d(2022, 4, 1), None, false)
    );
}

#[test]
fn status_across_the_gapless_rehire() {
    let dir = fixture();
    let on_last_day = dir.person("300", d(2022, 3, 31)).unwrap();
    assert_eq!(on_last_day.status, Status::Employed);
    assert_eq!(on_last_day.post.unwrap().title, "課長");
    let next = dir.person("300", d(2022, 4, 1)).unwrap();
    assert_eq!(next.status, Status::Employed);
    assert_eq!(next.post.as_ref().unwrap().title, "再任用主任");
    assert_eq!(
        next.post.unwrap().since,
        d(2022, 4, 1),
        "a new period starts a new post"
    );
    assert_eq!(next.period.unwrap().start, d(2022, 4, 1));
}

#[test]
fn rehire_after_a_gap() {
    let mut dir = Directory::new();
    import(
        &mut dir,
        "r",
        "301,鈴木,,1100,市民課,主事,2010/4/1,採用,,\n301,鈴木,,,,,2015/3/31,退職,,\n301,鈴木,,2200,保険年金課,主事,2018/4/1,採用,,\n",
        at(2018, 4, 2),
    );
    assert_eq!(status(&dir, "301", d(2016, 1, 1)), Status::Retired);
    let p = dir.person("301", d(2018, 4, 1)).unwrap();
    assert_eq!(
        (p.status, p.post.unwrap().dept_code.as_str()),
        (Status::Employed, "2200")
    );
}

#[test]
fn rehire_shows_as_leaver_and_joiner() {
    let dir = fixture();
    let changes = dir.changes_between(d(2022, 3, 1), d(2022, 4, 30));
    assert_eq!(changes.len(), 1);
    assert_eq!(
        changes[0].kinds,
        vec![
            ChangeKind::Left {
                last_day: Some(d(2022, 3, 31))
            },
            ChangeKind::Joined {
                first_day: d(2022, 4, 1),
                rehire: true
            },
        ]
    );
}
