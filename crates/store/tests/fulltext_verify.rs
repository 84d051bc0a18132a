//! The FTS index (trigram, `detail=none`) only proposes candidates: events that contain every
//! trigram of the terms somewhere. Search must return exactly the events whose text contains
//! each term as a substring, with full pages, on every search plan.
mod common;

use common::*;
use mamori_store::{EventKind, Query, Store};
use serde_json::{Value, json};

/// Event `i`: a true match for `住民基本台帳` when `i % 3 == 0`; otherwise a trap that holds
/// all 4 trigrams of the term (住民基, 民基本, 基本台, 本台帳) but never the term itself.
fn doc_i(i: usize) -> Value {
    let msg = if i.is_multiple_of(3) {
        format!("{i} 住民基本台帳を閲覧")
    } else {
        // 住民基|民基本 … 基本台|本台帳, split across words and fields.
        format!("{i} 住民基本 基本台帳 民基本台")
    };
    // Every third trap also has the term in a field that is not full-text indexed, so the
    // cheap check on the JSON text passes and only the exact check on the body rejects it.
    let note = if i % 3 == 1 {
        "住民基本台帳"
    } else {
        "-"
    };
    json!({
        "@timestamp": ts((i / 2) as i64),
        "user": {"name": if i.is_multiple_of(2) { "tanaka" } else { "sato" }},
        "event": {"action": "read", "original": format!("orig {i}")},
        "labels": {"note": note},
        "message": msg,
    })
}

fn store_of(n: usize) -> (tempfile::TempDir, Store) {
    let (d, mut s) = fresh();
    let docs: Vec<_> = (0..n).map(|i| (EventKind::Event, doc_i(i))).collect();
    index_all(&mut s, &docs, 997);
    (d, s)
}

fn walk(s: &Store, base: &Query, limit: u32) -> Vec<u64> {
    let mut out = Vec::new();
    let mut q = Query {
        limit: Some(limit),
        ..base.clone()
    };
    loop {
        let p = s.search(&q).unwrap();
        out.extend(p.events.iter().map(|h| h.id));
        match p.next_cursor {
            Some(c) => {
                assert_eq!(
                    p.events.len(),
                    limit as usize,
                    "a page before the last is full"
                );
                q.cursor = Some(c)
            }
            None => return out,
        }
    }
}

fn expected(n: usize, pred: impl Fn(usize) -> bool) -> Vec<u64> {
    // Newest first by (ts, id); ts = i / 2.
    let mut v: Vec<(usize, usize)> = (0..n).filter(|&i| pred(i)).map(|i| (i / 2, i)).collect();
    v.sort_unstable_by(|a, b| b.cmp(a));
    v.into_iter().map(|(_, i)| i as u64).collect()
}

#[test]
fn trigram_false_positives_are_filtered_out_on_every_plan() {
    // 600 events: the rare-term plan (≤ 4096 candidates).
    let (_d, s) = store_of(600);
    let q = Query {
        q: Some("住民基本台帳".into()),
        ..Default::default()
    };
    assert_eq!(walk(&s, &q, 7), expected(600, |i| i % 3 == 0));
    assert_eq!(walk(&s, &q, 1000), expected(600, |i| i % 3 == 0));
    // With a user filter (the user index drives, candidates are a set).
    let qu = Query {
        user: Some("tanaka".into()),
        ..q.clone()
    };
    assert_eq!(walk(&s, &qu, 5), expected(600, |i| i % 6 == 0));
    // A substring that both kinds of event really contain finds all of them.
    assert_eq!(
        walk(
            &s,
            &Query {
                q: Some("民基本台".into()),
                ..Default::default()
            },
            1000
        ),
        expected(600, |_| true)
    );
    // Case-insensitive verification (ASCII and full-width Latin fold like the tokenizer).
    let (_d2, mut s2) = fresh();
    let docs = vec![
        (
            EventKind::Event,
            json!({"@timestamp": ts(0), "message": "Logon ＦＡＩＬＥＤ for ABC"}),
        ),
        (
            EventKind::Event,
            json!({"@timestamp": ts(1), "message": "logon failed for abc"}),
        ),
    ];
    index_all(&mut s2, &docs, 10);
    let ids = |q: &str| {
        let mut v: Vec<u64> = s2
            .search(&Query {
                q: Some(q.into()),
                ..Default::default()
            })
            .unwrap()
            .events
            .iter()
            .map(|h| h.id)
            .collect();
        v.sort_unstable();
        v
    };
    assert_eq!(ids("LOGON abc"), vec![0, 1]);
    assert_eq!(ids("ｆａｉｌｅｄ"), vec![0]);
    assert_eq!(ids("FAILED"), vec![1]);
}

#[test]
fn common_term_bucket_walk_verifies_and_keeps_pages_full() {
    // 9000 events: ~6000 candidates, over the 4096 of the rare plan, so the watermark bucket
    // walk runs; two thirds of its candidates are false positives.
    let (_d, s) = store_of(9000);
    let q = Query {
        q: Some("住民基本台帳".into()),
        ..Default::default()
    };
    let want = expected(9000, |i| i % 3 == 0);
    let first = s
        .search(&Query {
            limit: Some(100),
            ..q.clone()
        })
        .unwrap();
    assert_eq!(first.events.len(), 100);
    assert_eq!(
        first.events.iter().map(|h| h.id).collect::<Vec<_>>(),
        want[..100]
    );
    assert_eq!(walk(&s, &q, 333), want);
}

#[test]
fn events_with_more_words_than_fts_columns_are_fully_searchable() {
    let (_d, mut s) = fresh();
    let words: Vec<String> = (0..80).map(|k| format!("word{k:03}x")).collect();
    let docs = vec![
        (
            EventKind::Event,
            json!({"@timestamp": ts(0), "message": words.join(" ")}),
        ),
        (
            EventKind::Event,
            json!({"@timestamp": ts(1), "message": "unrelated"}),
        ),
    ];
    index_all(&mut s, &docs, 10);
    for k in [0, 30, 31, 32, 33, 79] {
        let p = s
            .search(&Query {
                q: Some(format!("WORD{k:03}X")),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            p.events.iter().map(|h| h.id).collect::<Vec<_>>(),
            vec![0],
            "{k}"
        );
    }
    // A term across two words never matches (the body separates them with a space).
    assert!(
        s.search(&Query {
            q: Some("000xword001".into()),
            ..Default::default()
        })
        .unwrap()
        .events
        .is_empty()
    );
}
