//! Joiners, movers and leavers between two dates or two roster snapshots.
mod common;
use common::*;
use mamori_directory::{ChangeKind, Directory, KnownAt, Status, View};

/// Fiscal-year change on 2021-04-01: one hire, one transfer, one retirement on 3/31, one
/// promotion in place, one unchanged.
fn fixture() -> Directory {
    let mut dir = Directory::new();
    import(
        &mut dir,
        "fy2020",
        "1,田中,,1100,市民課,主事,2015/4/1,採用,,\n\
         2,佐藤,,2200,税務課,課長,1990/4/1,採用,,\n\
         3,鈴木,,3100,福祉課,主事,2018/4/1,採用,,\n\
         4,高橋,,1100,市民課,主事,2019/4/1,採用,,\n",
        at(2020, 4, 2),
    );
    import(
        &mut dir,
        "fy2021",
        "1,田中,,4100,建設課,主事,2021/4/1,異動,,\n\
         2,佐藤,,,,,2021/3/31,定年退職,,\n\
         3,鈴木,,,,主任,2021/4/1,昇任,,\n\
         5,伊藤,,1100,市民課,主事,2021/4/1,採用,,\n",
        at(2021, 4, 2),
    );
    dir
}

#[test]
fn fiscal_year_change_between_dates() {
    let dir = fixture();
    let ch = dir.changes_between(d(2021, 3, 31), d(2021, 4, 1));
    let ids: Vec<_> = ch.iter().map(|c| c.staff_id.as_str()).collect();
    assert_eq!(ids, ["1", "2", "3", "5"], "高橋 did not change");
    assert!(ch[0].is_mover() && !ch[0].is_leaver());
    assert!(
        matches!(&ch[0].kinds[..], [ChangeKind::Moved { from, to }] if from.dept_code == "1100" && to.dept_code == "4100")
    );
    assert_eq!(
        ch[1].kinds,
        vec![ChangeKind::Left {
            last_day: Some(d(2021, 3, 31))
        }]
    );
    assert_eq!(
        (ch[1].before, ch[1].after),
        (Status::Employed, Status::Retired)
    );
    assert_eq!(
        ch[2].kinds,
        vec![ChangeKind::TitleChanged {
            from: "主事".into(),
            to: "主任".into()
        }]
    );
    assert_eq!(
        ch[3].kinds,
        vec![ChangeKind::Joined {
            first_day: d(2021, 4, 1),
            rehire: false
        }]
    );
    assert!(ch[3].is_joiner());
}

#[test]
fn no_changes_within_a_quiet_period() {
    let dir = fixture();
    assert!(
        dir.changes_between(d(2021, 4, 1), d(2021, 12, 31))
            .is_empty()
    );
}

#[test]
fn short_employment_inside_the_interval_is_reported() {
    let mut dir = fixture();
    import(
        &mut dir,
        "temp",
        "6,臨時,,1100,市民課,臨時職員,2021/6/1,採用,2021/8/31,\n",
        at(2021, 9, 1),
    );
    let ch = dir.changes_between(d(2021, 4, 1), d(2022, 3, 31));
    assert_eq!(ch.len(), 1);
    assert_eq!(
        ch[0].kinds,
        vec![
            ChangeKind::Joined {
                first_day: d(2021, 6, 1),
                rehire: false
            },
            ChangeKind::Left {
                last_day: Some(d(2021, 8, 31))
            }
        ]
    );
}

#[test]
fn difference_between_two_roster_snapshots() {
    let dir = fixture();
    // What the FY2021 roster changed about 2021-04-01 compared with what was known before it.
    let date = d(2021, 4, 1);
    let before = View {
        date,
        known: dir.known_after("fy2020").unwrap(),
    };
    let after = View {
        date,
        known: dir.known_after("fy2021").unwrap(),
    };
    let ch = dir.changes(before, after);
    let ids: Vec<_> = ch.iter().map(|c| c.staff_id.as_str()).collect();
    assert_eq!(ids, ["1", "2", "3", "5"]);
    assert_eq!(
        ch[3].before,
        Status::BeforeEmployment,
        "伊藤 was unknown before the FY2021 roster"
    );
    // Same date, same knowledge: nothing.
    assert!(
        dir.changes(
            after,
            View {
                date,
                known: KnownAt::Latest
            }
        )
        .is_empty()
    );
}
