//! Full-text search results are exact newest-first even though matches are walked in id order
//! bucket by bucket and timestamps are out of id order (late and future-dated events).
mod common;

use common::*;
use mamori_store::{EventKind, Query, Store};
use serde_json::Value;

fn corpus_out_of_order(n: usize) -> Vec<(EventKind, Value)> {
    (0..n)
        .map(|i| {
            let mut secs = (i / 2) as i64;
            if i % 13 == 0 {
                secs -= 3000; // very late arrival
            }
            if i % 997 == 5 {
                secs += 100_000; // clock in the future
            }
            let word = if i % 10 < 3 { "needle" } else { "hay" };
            let host = if i % 4 == 0 { "pc-a" } else { "pc-b" };
            (
                EventKind::Event,
                doc(secs, "u", host, "read", "/p", &format!("{word} {i}")),
            )
        })
        .collect()
}

fn expected(docs: &[(EventKind, Value)], pred: impl Fn(&Value, i64) -> bool) -> Vec<u64> {
    let mut v: Vec<(i64, u64)> = docs
        .iter()
        .enumerate()
        .map(|(i, (_, d))| {
            let t =
                chrono::DateTime::parse_from_rfc3339(d["@timestamp"].as_str().unwrap()).unwrap();
            (t.timestamp_micros(), i as u64, d)
        })
        .filter(|(t, _, d)| pred(d, *t))
        .map(|(t, i, _)| (t, i))
        .collect();
    v.sort_unstable_by(|a, b| b.cmp(a));
    v.into_iter().map(|(_, i)| i).collect()
}

fn walk(s: &Store, base: &Query, limit: u32) -> Vec<u64> {
    let mut out = Vec::new();
    let mut q = Query {
        limit: Some(limit),
        ..base.clone()
    };
    loop {
        let p = s.search(&q).unwrap();
        assert!(p.events.len() <= limit as usize);
        out.extend(p.events.iter().map(|h| h.id));
        match p.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => return out,
        }
    }
}

#[test]
fn full_text_walk_matches_brute_force_order() {
    let (_d, mut s) = fresh();
    let docs = corpus_out_of_order(20_000);
    index_all(&mut s, &docs, 1000);
    let needle = |d: &Value| d["message"].as_str().unwrap().starts_with("needle");

    let q = Query {
        q: Some("needle".into()),
        ..Default::default()
    };
    let want = expected(&docs, |d, _| needle(d));
    assert_eq!(
        want.len(),
        6000,
        "more than the 4096 matches of the rare-term path"
    );
    // First page only (the early-stop path) and complete walks.
    assert_eq!(
        s.search(&Query {
            limit: Some(50),
            ..q.clone()
        })
        .unwrap()
        .events
        .iter()
        .map(|h| h.id)
        .collect::<Vec<_>>(),
        want[..50]
    );
    for limit in [7, 1000] {
        assert_eq!(walk(&s, &q, limit), want, "limit {limit}");
    }

    let q = Query {
        q: Some("needle".into()),
        host: Some("pc-a".into()),
        ..Default::default()
    };
    let want = expected(&docs, |d, _| needle(d) && d["host"]["name"] == "pc-a");
    assert!(!want.is_empty());
    assert_eq!(walk(&s, &q, 100), want);

    let (lo, hi) = (
        BASE_MICROS + 1000 * 1_000_000,
        BASE_MICROS + 2000 * 1_000_000,
    );
    let q = Query {
        q: Some("needle".into()),
        from: Some(ts(1000)),
        to: Some(ts(2000)),
        ..Default::default()
    };
    let want = expected(&docs, |d, t| needle(d) && t >= lo && t < hi);
    assert!(want.len() > 100);
    assert_eq!(walk(&s, &q, 64), want);

    // A rare term (fewer matches than one chunk).
    let q = Query {
        q: Some("needle 19990".into()),
        ..Default::default()
    };
    assert_eq!(walk(&s, &q, 10), vec![19990]);
}
