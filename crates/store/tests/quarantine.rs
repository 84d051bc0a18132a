//! Quarantine listing and re-ingest marking (derived from Admin ledger events).
mod common;

use common::*;
use mamori_store::{EventKind, IndexEvent, Query};
use serde_json::{Value, json};

fn quarantine(reason: &str, line: u64) -> (EventKind, Value) {
    (
        EventKind::Quarantine,
        json!({"@timestamp": ts(line as i64), "message": format!("unparseable: {reason}"),
               "mamori": {"quarantine": {"reason": reason, "source": "syslog:514", "line": line, "offset": line * 100, "raw_b64": "PDEzPmdhcmJhZ2U="}}}),
    )
}

fn reingest(qid: u64, new_ids: &[u64]) -> (EventKind, Value) {
    (
        EventKind::Admin,
        json!({"mamori": {"reingest": {"quarantine_id": qid, "new_ids": new_ids}}}),
    )
}

#[test]
fn quarantine_is_listed_and_reingest_events_mark_it() {
    let (_d, mut s) = fresh();
    let mut docs = corpus(3); // ids 0..3 ordinary
    docs.push(quarantine("bad priority", 1)); // 3
    docs.push(quarantine("truncated", 2)); // 4
    docs.push(quarantine("invalid utf-8", 3)); // 5
    docs.push(corpus(1).remove(0)); // 6: the fixed re-ingested event
    docs.push(reingest(4, &[6])); // 7
    docs.push(reingest(2, &[6])); // 8: refers to a non-quarantine row: ignored
    index_all(&mut s, &docs, 4);

    let all = s.list_quarantine(None, None, false).unwrap();
    let ids: Vec<u64> = all.items.iter().map(|i| i.hit.id).collect();
    assert_eq!(ids, vec![5, 4, 3], "newest first");
    let q4 = &all.items[1];
    assert_eq!(q4.reason.as_deref(), Some("truncated"));
    assert_eq!(q4.source.as_deref(), Some("syslog:514"));
    assert_eq!(
        q4.hit.doc["mamori"]["quarantine"]["raw_b64"],
        "PDEzPmdhcmJhZ2U="
    );
    let r = q4.reingested.as_ref().expect("marked by the admin event");
    assert_eq!((r.admin_event_id, r.new_ids.clone()), (Some(7), vec![6]));
    assert!(all.items[0].reingested.is_none());

    let pending: Vec<u64> = s
        .list_quarantine(None, None, true)
        .unwrap()
        .items
        .iter()
        .map(|i| i.hit.id)
        .collect();
    assert_eq!(pending, vec![5, 3]);

    let st = s.stats().unwrap();
    assert_eq!((st.quarantine_total, st.quarantine_pending), (3, 2));
    assert_eq!(st.by_kind.get("admin"), Some(&2));
    assert_eq!(st.total, 9);

    // Quarantined records are searchable by reason and by kind.
    let p = s
        .search(&Query {
            q: Some("truncated".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(p.events.iter().map(|h| h.id).collect::<Vec<_>>(), vec![4]);
    assert_eq!(
        s.search(&Query {
            kind: Some("quarantine".into()),
            ..Default::default()
        })
        .unwrap()
        .events
        .len(),
        3
    );
}

#[test]
fn mark_reingested_directly_and_pagination() {
    let (_d, mut s) = fresh();
    let docs: Vec<_> = (0..25).map(|i| quarantine("x", i)).collect();
    index_all(&mut s, &docs, 10);
    assert!(s.mark_reingested(10, &[100, 101]).unwrap());
    assert!(!s.mark_reingested(1000, &[1]).unwrap(), "unknown id");
    let item = s
        .list_quarantine(Some(1000), None, false)
        .unwrap()
        .items
        .into_iter()
        .find(|i| i.hit.id == 10)
        .unwrap();
    assert_eq!(item.reingested.unwrap().new_ids, vec![100, 101]);

    let mut seen = Vec::new();
    let mut c: Option<String> = None;
    loop {
        let p = s.list_quarantine(Some(4), c.as_deref(), true).unwrap();
        assert!(p.items.len() <= 4);
        seen.extend(p.items.iter().map(|i| i.hit.id));
        match p.next_cursor {
            Some(n) => c = Some(n),
            None => break,
        }
    }
    let want: Vec<u64> = (0..25).rev().filter(|&i| i != 10).collect();
    assert_eq!(seen, want);
    let e = s.list_quarantine(None, Some("s00"), false).unwrap_err();
    assert!(matches!(
        e,
        mamori_store::StoreError::InvalidParam {
            param: "cursor",
            ..
        }
    ));
}

#[test]
fn reingest_within_the_same_batch_as_the_quarantine_row() {
    let (_d, mut s) = fresh();
    let docs = [quarantine("y", 0), reingest(0, &[])];
    let evs: Vec<_> = docs
        .iter()
        .enumerate()
        .map(|(i, (k, d))| IndexEvent {
            id: i as u64,
            ingested_micros: 0,
            kind: k.clone(),
            doc: d,
            raw: None,
        })
        .collect();
    s.index_batch(&evs).unwrap();
    assert_eq!(s.stats().unwrap().quarantine_pending, 0);
    let it = &s.list_quarantine(None, None, false).unwrap().items[0];
    assert_eq!(it.reingested.as_ref().unwrap().admin_event_id, Some(1));
}
