//! Full-text search (FTS5 trigram), Japanese included.
mod common;

use common::*;
use mamori_store::{EventKind, Query};
use serde_json::json;

fn q_ids(s: &mamori_store::Store, q: &str) -> Vec<u64> {
    let mut v: Vec<u64> = s
        .search(&Query {
            q: Some(q.into()),
            limit: Some(1000),
            ..Default::default()
        })
        .unwrap()
        .events
        .into_iter()
        .map(|h| h.id)
        .collect();
    v.sort_unstable();
    v
}

fn store_with(docs: Vec<serde_json::Value>) -> (tempfile::TempDir, mamori_store::Store) {
    let (d, mut s) = fresh();
    let docs: Vec<_> = docs.into_iter().map(|d| (EventKind::Event, d)).collect();
    index_all(&mut s, &docs, 100);
    (d, s)
}

fn sample() -> (tempfile::TempDir, mamori_store::Store) {
    store_with(vec![
        doc(
            0,
            "tanaka",
            "pc-01",
            "file-read",
            "/共有/住民課/住民基本台帳/2024.xlsx",
            "住民基本台帳ファイルを閲覧しました",
        ),
        doc(
            1,
            "sato",
            "pc-02",
            "file-copy",
            "/共有/税務課/課税台帳.csv",
            "USBメモリへコピー",
        ),
        doc(2, "ito", "pc-02", "logon", "/", "Logon SUCCEEDED"),
        doc(
            3,
            "suzuki",
            "pc-03",
            "print",
            "/共有/住民課/転入届.pdf",
            "住民 基本 台帳",
        ),
        json!({"@timestamp": ts(4), "event": {"original": "<13>Apr  1 host sshd: 個人番号 照会"}, "message": "parsed"}),
        json!({"@timestamp": ts(5), "process": {"command_line": "robocopy D:\\住民票 E:\\"}}),
    ])
}

#[test]
fn japanese_substrings_of_three_or_more_characters_match() {
    let (_d, s) = sample();
    assert_eq!(q_ids(&s, "住民基本台帳"), vec![0]);
    assert_eq!(
        q_ids(&s, "基本台"),
        vec![0],
        "substring in the middle of a word"
    );
    assert_eq!(q_ids(&s, "課税台帳"), vec![1], "found via file.path");
    assert_eq!(q_ids(&s, "メモリ"), vec![1]);
    assert_eq!(q_ids(&s, "個人番号"), vec![4], "found via event.original");
    assert_eq!(
        q_ids(&s, "住民票"),
        vec![5],
        "found via process.command_line"
    );
    assert_eq!(q_ids(&s, "住民課"), vec![0, 3]);
    assert!(q_ids(&s, "戸籍謄本").is_empty());
}

#[test]
fn terms_are_anded_case_insensitive_literal_substrings() {
    let (_d, s) = sample();
    assert_eq!(
        q_ids(&s, "住民課　転入届"),
        vec![3],
        "the ideographic space U+3000 separates terms too"
    );
    assert_eq!(q_ids(&s, "住民課 転入届"), vec![3]);
    assert_eq!(q_ids(&s, "住民課 2024"), vec![0]);
    assert_eq!(q_ids(&s, "logon succeeded"), vec![2]);
    assert_eq!(q_ids(&s, "LOGON"), vec![2]);
    assert_eq!(q_ids(&s, "tanaka"), vec![0], "user.name is indexed");
    // Text that would be FTS5 syntax is taken literally and does not error.
    assert!(q_ids(&s, "\"AND\" NOT( ((( ^^^^").is_empty());
    assert!(q_ids(&s, "NEAR(abc def)").is_empty());
    assert!(q_ids(&s, "col:umn *star*").is_empty());
}

#[test]
fn full_text_combines_with_filters() {
    let (_d, s) = sample();
    let p = s
        .search(&Query {
            q: Some("住民課".into()),
            user: Some("suzuki".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(p.events.iter().map(|h| h.id).collect::<Vec<_>>(), vec![3]);
    let p = s
        .search(&Query {
            q: Some("住民課".into()),
            from: Some(ts(1)),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(p.events.iter().map(|h| h.id).collect::<Vec<_>>(), vec![3]);
}
