//! Search filters, combined filters and invalid parameters.
mod common;

use common::*;
use mamori_store::{EventKind, Query, StoreError};
use serde_json::Value;

fn ids(store: &mamori_store::Store, q: Query) -> Vec<u64> {
    let q = Query {
        limit: Some(1000),
        ..q
    };
    store
        .search(&q)
        .unwrap()
        .events
        .into_iter()
        .map(|h| h.id)
        .collect()
}

/// Expected ids, newest first, by a predicate over the corpus.
fn expect(docs: &[(EventKind, Value)], pred: impl Fn(&Value) -> bool) -> Vec<u64> {
    let mut v: Vec<(i64, u64)> = docs
        .iter()
        .enumerate()
        .filter(|(_, (_, d))| pred(d))
        .map(|(i, (_, d))| {
            let t =
                chrono::DateTime::parse_from_rfc3339(d["@timestamp"].as_str().unwrap()).unwrap();
            (t.timestamp_micros(), i as u64)
        })
        .collect();
    v.sort_unstable_by(|a, b| b.cmp(a));
    v.into_iter().map(|(_, i)| i).collect()
}

#[test]
fn each_filter_matches_exactly_the_expected_events() {
    let (_d, mut s) = fresh();
    let docs = corpus(300);
    index_all(&mut s, &docs, 64);

    let all = ids(&s, Query::default());
    assert_eq!(all, expect(&docs, |_| true));

    let by_user = ids(
        &s,
        Query {
            user: Some("sato".into()),
            ..Default::default()
        },
    );
    assert_eq!(by_user.len(), 60);
    assert_eq!(by_user, expect(&docs, |d| d["user"]["name"] == "sato"));

    assert_eq!(
        ids(
            &s,
            Query {
                host: Some("srv-01".into()),
                ..Default::default()
            }
        ),
        expect(&docs, |d| d["host"]["name"] == "srv-01")
    );
    assert_eq!(
        ids(
            &s,
            Query {
                action: Some("print".into()),
                ..Default::default()
            }
        ),
        expect(&docs, |d| d["event"]["action"] == "print")
    );

    let by_path = ids(
        &s,
        Query {
            path: Some("/共有/住民課/".into()),
            ..Default::default()
        },
    );
    assert_eq!(by_path.len(), 150);
    assert_eq!(
        by_path,
        expect(&docs, |d| d["file"]["path"]
            .as_str()
            .unwrap()
            .starts_with("/共有/住民課/"))
    );
    // A prefix is a prefix, not a substring.
    assert!(
        ids(
            &s,
            Query {
                path: Some("住民課".into()),
                ..Default::default()
            }
        )
        .is_empty()
    );

    let combined = ids(
        &s,
        Query {
            user: Some("tanaka".into()),
            host: Some("pc-01".into()),
            action: Some("file-read".into()),
            ..Default::default()
        },
    );
    assert_eq!(
        combined,
        expect(&docs, |d| d["user"]["name"] == "tanaka"
            && d["host"]["name"] == "pc-01"
            && d["event"]["action"] == "file-read")
    );
    assert!(!combined.is_empty());

    assert!(
        ids(
            &s,
            Query {
                user: Some("nobody".into()),
                ..Default::default()
            }
        )
        .is_empty()
    );
}

#[test]
fn time_range_is_from_inclusive_to_exclusive() {
    let (_d, mut s) = fresh();
    let docs = corpus(300);
    index_all(&mut s, &docs, 1000);
    let (from, to) = (ts(20), ts(40));
    let got = ids(
        &s,
        Query {
            from: Some(from.clone()),
            to: Some(to),
            ..Default::default()
        },
    );
    let lo = BASE_MICROS + 20_000_000;
    let hi = BASE_MICROS + 40_000_000;
    let want = expect(&docs, |d| {
        let t = chrono::DateTime::parse_from_rfc3339(d["@timestamp"].as_str().unwrap())
            .unwrap()
            .timestamp_micros();
        t >= lo && t < hi
    });
    assert_eq!(got, want);
    assert!(!got.is_empty());
    // Offsets are honoured: the same instant written in JST.
    let jst = chrono::DateTime::parse_from_rfc3339(&from)
        .unwrap()
        .with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).unwrap())
        .to_rfc3339();
    assert_eq!(
        ids(
            &s,
            Query {
                from: Some(jst),
                to: Some(ts(40)),
                ..Default::default()
            }
        ),
        want
    );
}

#[test]
fn kind_filter_and_empty_strings_are_absent() {
    let (_d, mut s) = fresh();
    let mut docs = corpus(10);
    docs[4].0 = EventKind::Admin;
    docs[7].0 = EventKind::Other("custom".into());
    index_all(&mut s, &docs, 3);
    assert_eq!(
        ids(
            &s,
            Query {
                kind: Some("admin".into()),
                ..Default::default()
            }
        ),
        vec![4]
    );
    assert_eq!(
        ids(
            &s,
            Query {
                kind: Some("custom".into()),
                ..Default::default()
            }
        ),
        vec![7]
    );
    assert_eq!(
        ids(
            &s,
            Query {
                kind: Some("event".into()),
                ..Default::default()
            }
        )
        .len(),
        8
    );
    let empty = Query {
        user: Some(String::new()),
        q: Some(String::new()),
        cursor: Some(String::new()),
        from: Some(String::new()),
        ..Default::default()
    };
    assert_eq!(ids(&s, empty).len(), 10);
    let hit = s.get(7).unwrap().unwrap();
    assert_eq!(hit.kind, EventKind::Other("custom".into()));
}

fn param_of(e: StoreError) -> &'static str {
    assert!(e.is_invalid_input(), "{e}");
    match e {
        StoreError::InvalidParam { param, .. } => param,
        other => panic!("expected InvalidParam, got {other}"),
    }
}

#[test]
fn invalid_parameters_are_named() {
    let (_d, mut s) = fresh();
    index_all(&mut s, &corpus(10), 5);
    let bad = |q: Query| param_of(s.search(&q).unwrap_err());
    assert_eq!(
        bad(Query {
            from: Some("2024-04-01".into()),
            ..Default::default()
        }),
        "from"
    );
    assert_eq!(
        bad(Query {
            to: Some("tomorrow".into()),
            ..Default::default()
        }),
        "to"
    );
    assert_eq!(
        bad(Query {
            from: Some(ts(10)),
            to: Some(ts(5)),
            ..Default::default()
        }),
        "to"
    );
    assert_eq!(
        bad(Query {
            cursor: Some("garbage".into()),
            ..Default::default()
        }),
        "cursor"
    );
    assert_eq!(
        bad(Query {
            limit: Some(0),
            ..Default::default()
        }),
        "limit"
    );
    assert_eq!(
        bad(Query {
            limit: Some(1001),
            ..Default::default()
        }),
        "limit"
    );
    assert_eq!(
        bad(Query {
            q: Some("住民".into()),
            ..Default::default()
        }),
        "q"
    );
    // A timeline cursor is not a search cursor.
    let t = s.timeline("tanaka", None, None, Some(1), None).unwrap();
    let tc = t.next_cursor.expect("tanaka has 2 events");
    assert_eq!(
        bad(Query {
            cursor: Some(tc),
            ..Default::default()
        }),
        "cursor"
    );
    assert_eq!(
        param_of(
            s.timeline("tanaka", Some("x"), None, None, None)
                .unwrap_err()
        ),
        "from"
    );
    assert_eq!(
        param_of(s.timeline("", None, None, None, None).unwrap_err()),
        "user"
    );
    let msg = s
        .search(&Query {
            from: Some("2024-04-01".into()),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
    assert!(msg.contains("`from`") && msg.contains("RFC 3339"), "{msg}");
}

#[test]
fn default_limit_is_100() {
    let (_d, mut s) = fresh();
    index_all(&mut s, &corpus(150), 150);
    let p = s.search(&Query::default()).unwrap();
    assert_eq!(p.events.len(), 100);
    assert!(p.next_cursor.is_some());
}
