//! Ledger replay: import records survive JSON and rebuild the same directory, deterministically.
mod common;
use common::*;
use mamori_directory::{ApplyError, Directory, ImportRecord, KnownAt, View};

fn records() -> Vec<ImportRecord> {
    vec![
        record(
            "2020-04",
            "1,田中,,1100,市民課,主事,2015/4/1,採用,,CITY\\tanaka\n2,佐藤,,2200,税務課,主事,2016/4/1,採用,,CITY\\sato\n\
             2,佐藤,,9100,選管,書記,2019/7/1,兼務,,\n",
            at(2020, 4, 2),
        ),
        record(
            "2021-04",
            "1,田中,,3100,福祉課,主任,2021/4/1,異動,,\n2,佐藤,,,,,2021/3/31,退職,,\n",
            at(2021, 4, 2),
        ),
        // A correction of the 2021 transfer.
        record(
            "2021-04-fix",
            "1,田中,,3200,子育て支援課,主任,2021/4/1,異動,,\n",
            at(2021, 4, 15),
        ),
    ]
}

fn via_json(recs: &[ImportRecord]) -> Vec<ImportRecord> {
    recs.iter()
        .map(|r| serde_json::from_str(&serde_json::to_string(r).unwrap()).unwrap())
        .collect()
}

fn build(recs: &[ImportRecord]) -> Directory {
    let mut dir = Directory::new();
    for r in recs {
        dir.apply(r).unwrap();
    }
    dir
}

#[test]
fn json_round_trip_rebuilds_an_equal_directory() {
    let recs = records();
    let replayed = via_json(&recs);
    assert_eq!(replayed, recs, "records survive JSON unchanged");
    let a = build(&recs);
    let b = build(&replayed);
    assert_eq!(a, b);
    let view = View {
        date: d(2021, 4, 1),
        known: KnownAt::Latest,
    };
    assert_eq!(a.people_at(view), b.people_at(view));
    assert_eq!(
        serde_json::to_string(&a.people_at(view)).unwrap(),
        serde_json::to_string(&b.people_at(view)).unwrap()
    );
    assert_eq!(
        a.person("1", d(2021, 4, 1))
            .unwrap()
            .post
            .unwrap()
            .dept_code,
        "3200"
    );
}

#[test]
fn replay_order_is_what_decides_corrections() {
    let recs = records();
    let reordered = vec![recs[0].clone(), recs[2].clone(), recs[1].clone()];
    let dir = build(&reordered);
    // Applied last, the uncorrected row wins: order matters, so the ledger order is the order.
    assert_eq!(
        dir.person("1", d(2021, 4, 1))
            .unwrap()
            .post
            .unwrap()
            .dept_code,
        "3100"
    );
    // And the same order always gives the same answer.
    assert_eq!(build(&reordered), dir);
}

#[test]
fn knowledge_at_each_import() {
    let dir = build(&records());
    let date = d(2021, 4, 1);
    let depts: Vec<Option<String>> = (0..=3)
        .map(|n| {
            dir.person_at(
                "1",
                View {
                    date,
                    known: KnownAt::Imports(n),
                },
            )
            .map(|p| p.post.unwrap().dept_code)
        })
        .collect();
    assert_eq!(
        depts,
        [
            None,
            Some("1100".into()),
            Some("3100".into()),
            Some("3200".into())
        ]
    );
    assert_eq!(dir.known_after("2021-04"), Some(KnownAt::Imports(2)));
    assert_eq!(dir.known_after("nope"), None);
    let ids: Vec<_> = dir.imports().iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["2020-04", "2021-04", "2021-04-fix"]);
}

#[test]
fn applying_twice_or_a_bad_record_changes_nothing() {
    let recs = records();
    let mut dir = build(&recs);
    let snapshot = dir.clone();
    assert_eq!(
        dir.apply(&recs[0]),
        Err(ApplyError::DuplicateImport("2020-04".into()))
    );

    let mut future = recs[0].clone();
    future.id = "future".into();
    future.format = 99;
    assert_eq!(dir.apply(&future), Err(ApplyError::UnsupportedFormat(99)));

    let mut tampered = recs[1].clone();
    tampered.id = "tampered".into();
    tampered.rows[1].recorded_at = at(2000, 1, 1);
    assert_eq!(
        dir.apply(&tampered),
        Err(ApplyError::RecordedAtMismatch {
            row: tampered.rows[1].row
        })
    );
    assert_eq!(dir, snapshot, "a refused record leaves no trace");
}

#[test]
fn a_record_with_an_invalid_account_does_not_deserialize() {
    let rec = &records()[0];
    let json = serde_json::to_string(rec)
        .unwrap()
        .replace("city\\\\tanaka", "city\\\\ta naka");
    assert!(serde_json::from_str::<ImportRecord>(&json).is_err());
}
