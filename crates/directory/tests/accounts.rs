//! Accounts → person: normalisation, shared accounts, reassigned accounts, unknown accounts.
mod common;
use common::*;
use mamori_directory::{AccountError, Directory, KnownAt, Resolution, Status, UnknownReason, View};

fn fixture() -> Directory {
    let mut dir = Directory::new();
    import(
        &mut dir,
        "r",
        "1,田中 健,,1100,市民課,主事,2015/4/1,採用,,\"CITY\\tanaka.k;tanaka.k@city.example.lg.jp;A01234\"\n\
         2,佐藤 一,,1100,市民課,主事,2015/4/1,採用,,\"CITY\\sato.h;madoguchi01\"\n\
         3,鈴木 二,,1100,市民課,主事,2016/4/1,採用,,\"CITY\\suzuki.j;madoguchi01\"\n\
         4,高橋 三,,2200,税務課,主事,2010/4/1,採用,,CITY\\zeimu.tanto\n\
         4,高橋 三,,,,,2019/3/31,退職,,\n\
         5,伊藤 四,,2200,税務課,主事,2020/4/1,採用,,CITY\\zeimu.tanto\n",
        at(2020, 4, 2),
    );
    dir
}

#[test]
fn all_forms_of_one_account_resolve_to_the_person() {
    let dir = fixture();
    for name in [
        "CITY\\tanaka.k",
        "city\\TANAKA.K",
        "tanaka.k",
        "Tanaka.K@City.Example.LG.JP",
        "田中 健 <tanaka.k@city.example.lg.jp>",
        "a01234",
        "ＣＩＴＹ＼ｔａｎａｋａ．ｋ",
    ] {
        let p = person(dir.resolve(name, d(2021, 1, 1)));
        assert_eq!(p.staff_id, "1", "{name}");
    }
    let p = person(dir.resolve("tanaka.k", d(2021, 1, 1)));
    let listed: Vec<String> = p.accounts.iter().map(ToString::to_string).collect();
    assert_eq!(
        listed,
        ["a01234", "city\\tanaka.k", "tanaka.k@city.example.lg.jp"]
    );
}

#[test]
fn an_account_of_two_employed_people_is_shared() {
    let dir = fixture();
    match dir.resolve("madoguchi01", d(2021, 1, 1)) {
        Resolution::Shared(ps) => {
            let ids: Vec<_> = ps.iter().map(|p| p.staff_id.as_str()).collect();
            assert_eq!(ids, ["2", "3"]);
        }
        other => panic!("expected Shared, got {other:?}"),
    }
    // Before 鈴木 was hired only 佐藤 could have used it.
    assert_eq!(
        person(dir.resolve("madoguchi01", d(2015, 6, 1))).staff_id,
        "2"
    );
}

#[test]
fn a_handed_on_account_resolves_by_date() {
    let dir = fixture();
    let old = person(dir.resolve("CITY\\zeimu.tanto", d(2019, 3, 31)));
    assert_eq!((old.staff_id.as_str(), old.status), ("4", Status::Employed));
    // Between the two holders: nobody employed; the last to leave is the likely user.
    let gap = person(dir.resolve("CITY\\zeimu.tanto", d(2019, 10, 1)));
    assert_eq!((gap.staff_id.as_str(), gap.status), ("4", Status::Retired));
    let new = person(dir.resolve("CITY\\zeimu.tanto", d(2020, 4, 1)));
    assert_eq!((new.staff_id.as_str(), new.status), ("5", Status::Employed));
}

#[test]
fn shared_accounts_report_tells_shared_from_reassigned() {
    let dir = fixture();
    let report = dir.shared_accounts(KnownAt::Latest);
    let summary: Vec<_> = report
        .iter()
        .map(|s| (s.user.as_str(), s.holders.clone(), s.overlapping))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("madoguchi01", vec!["2".to_owned(), "3".to_owned()], true),
            ("zeimu.tanto", vec!["4".to_owned(), "5".to_owned()], false),
        ]
    );
}

#[test]
fn unknown_accounts_are_explicit() {
    let dir = fixture();
    assert_eq!(
        dir.resolve("yamada.x", d(2021, 1, 1)),
        Resolution::Unknown(UnknownReason::NotInRoster)
    );
    assert_eq!(
        dir.resolve("CITY\\yamada.x", d(2021, 1, 1)),
        Resolution::Unknown(UnknownReason::NotInRoster)
    );
    // A private mail address with the employee's user name is not the employee.
    assert_eq!(
        dir.resolve("tanaka.k@gmail.com", d(2021, 1, 1)),
        Resolution::Unknown(UnknownReason::ExternalDomain("gmail.com".into()))
    );
    // Nor is a local machine account.
    assert_eq!(
        dir.resolve("PC0123\\tanaka.k", d(2021, 1, 1)),
        Resolution::Unknown(UnknownReason::ExternalDomain("pc0123".into()))
    );
    assert_eq!(
        dir.resolve("  ", d(2021, 1, 1)),
        Resolution::Unknown(UnknownReason::Invalid(AccountError::Empty))
    );
    assert_eq!(
        Directory::new().resolve("tanaka.k", d(2021, 1, 1)),
        Resolution::Unknown(UnknownReason::NotInRoster)
    );
}

#[test]
fn accounts_are_known_only_from_their_import_on() {
    let mut dir = fixture();
    import(
        &mut dir,
        "later",
        "6,渡辺,,1100,市民課,主事,2021/4/1,採用,,CITY\\watanabe\n",
        at(2021, 4, 2),
    );
    let before = View {
        date: d(2021, 4, 1),
        known: KnownAt::Time(at(2021, 4, 1)),
    };
    assert_eq!(
        dir.resolve_at("watanabe", before),
        Resolution::Unknown(UnknownReason::NotInRoster)
    );
    assert_eq!(person(dir.resolve("watanabe", d(2021, 4, 1))).staff_id, "6");
}

#[test]
fn account_used_before_the_person_was_hired() {
    let dir = fixture();
    let p = person(dir.resolve("CITY\\suzuki.j", d(2016, 3, 1)));
    assert_eq!(
        (p.staff_id.as_str(), p.status),
        ("3", Status::BeforeEmployment)
    );
}
