//! 兼務 (concurrent posts): added without ending the main post; 異動 ends them; 昇任 keeps them.
mod common;
use common::*;
use mamori_directory::{ChangeKind, Directory};

fn codes(dir: &Directory, id: &str, day: chrono::NaiveDate) -> Vec<String> {
    dir.person(id, day)
        .unwrap()
        .dept_codes()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

#[test]
fn concurrent_post_adds_a_department() {
    let mut dir = Directory::new();
    import(
        &mut dir,
        "r",
        "10,田中,,1100,市民課,主査,2019/4/1,採用,,\n10,田中,,9100,選挙管理委員会事務局,書記,2020/7/1,兼務,,\n",
        at(2020, 7, 2),
    );
    assert_eq!(codes(&dir, "10", d(2020, 6, 30)), ["1100"]);
    assert_eq!(codes(&dir, "10", d(2020, 7, 1)), ["1100", "9100"]);
    let p = dir.person("10", d(2020, 7, 1)).unwrap();
    assert_eq!(
        p.post.unwrap().dept_code,
        "1100",
        "the main post is unchanged"
    );
    assert_eq!(p.concurrent[0].title, "書記");
}

#[test]
fn transfer_ends_concurrent_posts_unless_reissued_the_same_day() {
    let mut dir = Directory::new();
    import(
        &mut dir,
        "r",
        "10,田中,,1100,市民課,主査,2019/4/1,採用,,\n\
         10,田中,,9100,選挙管理委員会事務局,書記,2020/7/1,兼務,,\n\
         11,佐藤,,1100,市民課,主事,2019/4/1,採用,,\n\
         11,佐藤,,9100,選挙管理委員会事務局,書記,2020/7/1,兼務,,\n\
         10,田中,,2200,保険年金課,主査,2021/4/1,異動,,\n\
         11,佐藤,,9100,選挙管理委員会事務局,書記,2021/4/1,兼務,,\n\
         11,佐藤,,2200,保険年金課,主事,2021/4/1,異動,,\n",
        at(2021, 4, 2),
    );
    assert_eq!(codes(&dir, "10", d(2021, 4, 1)), ["2200"]);
    // The 兼務 row comes before the 異動 row in the file, but on the same day 異動 applies first.
    assert_eq!(codes(&dir, "11", d(2021, 4, 1)), ["2200", "9100"]);
}

#[test]
fn promotion_keeps_concurrent_posts_and_release_ends_one() {
    let mut dir = Directory::new();
    import(
        &mut dir,
        "r",
        "12,鈴木,,1100,市民課,主査,2019/4/1,採用,,\n\
         12,鈴木,,9100,選管,書記,2019/4/1,兼務,,\n\
         12,鈴木,,9200,監査委員事務局,書記,2019/4/1,兼務,,\n\
         12,鈴木,,,,係長,2020/4/1,昇任,,\n\
         12,鈴木,,9100,,,2020/10/1,兼務解除,,\n",
        at(2020, 10, 2),
    );
    assert_eq!(codes(&dir, "12", d(2020, 4, 1)), ["1100", "9100", "9200"]);
    assert_eq!(
        dir.person("12", d(2020, 4, 1)).unwrap().post.unwrap().title,
        "係長"
    );
    assert_eq!(codes(&dir, "12", d(2020, 10, 1)), ["1100", "9200"]);
}

#[test]
fn retirement_ends_concurrent_posts() {
    let mut dir = Directory::new();
    import(
        &mut dir,
        "r",
        "13,高橋,,1100,市民課,主査,2019/4/1,採用,,\n13,高橋,,9100,選管,書記,2019/4/1,兼務,,\n13,高橋,,,,,2020/3/31,退職,,\n",
        at(2020, 4, 2),
    );
    let p = dir.person("13", d(2020, 4, 1)).unwrap();
    assert!(p.concurrent.is_empty() && p.post.is_none());
}

#[test]
fn concurrent_changes_are_reported_as_moves() {
    let mut dir = Directory::new();
    import(
        &mut dir,
        "r",
        "10,田中,,1100,市民課,主査,2019/4/1,採用,,\n10,田中,,9100,選管,書記,2020/7/1,兼務,,\n",
        at(2020, 7, 2),
    );
    let ch = dir.changes_between(d(2020, 6, 30), d(2020, 7, 1));
    assert_eq!(ch.len(), 1);
    assert!(ch[0].is_mover() && !ch[0].is_joiner());
    assert!(matches!(&ch[0].kinds[..], [ChangeKind::ConcurrentAdded(p)] if p.dept_code == "9100"));
}
