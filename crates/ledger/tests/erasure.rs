//! Erasure after the retention period: payloads and salts disappear from the payload store,
//! while the tree, every checkpoint and every proof stay valid (docs/ledger.md).

mod common;

use common::*;
use mamori_ledger::verify::verify_log;
use mamori_ledger::{EntryKind, NewEntry};
use std::time::Duration;

fn marker(i: u64) -> Vec<u8> {
    format!("{{\"message\":\"住民 山田花子 marker-{i:05}\"}}").into_bytes()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn all_files_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(all_files_bytes(&p));
        } else {
            out.extend(std::fs::read(&p).unwrap());
        }
    }
    out
}

#[test]
fn erased_payloads_are_gone_and_the_log_still_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let l = open(dir);
    for i in 0..600 {
        l.append_blocking(vec![NewEntry { kind: EntryKind::Event, payload: marker(i) }]).unwrap();
    }
    let before = l.wait_checkpoint(600, Duration::from_secs(10));
    assert_eq!(before.size, 600);
    let proof_before = l.inclusion_proof(3).unwrap();
    l.close();
    drop(l);

    let erased = mamori_ledger::erase_payloads(dir, &[3, 300, 599]).unwrap();
    assert_eq!(erased, vec![3, 300, 599]);
    let bytes = all_files_bytes(dir);
    for i in [3u64, 300, 599] {
        assert!(!contains(&bytes, format!("marker-{i:05}").as_bytes()), "payload {i} still on disk");
    }
    assert!(contains(&bytes, b"marker-00004"), "other payloads are kept");

    // The tree is untouched: verify (with payloads) passes and counts the erasures; the earlier
    // checkpoint is consistent; the old inclusion proof still checks against the same root.
    let mut o = opts(dir);
    o.trusted_checkpoint = Some(before.note.clone());
    let r = verify_log(&store(dir), &o).unwrap();
    assert_eq!((r.size, r.payloads_erased, r.payloads_checked), (600, 3, 600));
    tlog_tiles::check_record(&proof_before.hashes, 600, before.root, 3, mamori_ledger::merkle::leaf_hash(&proof_before.entry)).unwrap();

    // Erasing again is a no-op; an index that does not exist is an error.
    assert!(mamori_ledger::erase_payloads(dir, &[3]).unwrap().is_empty());
    assert!(mamori_ledger::erase_payloads(dir, &[10_000]).is_err());

    // The ledger reopens and keeps growing; erased records read back as erased.
    let l = open(dir);
    let recs = l.records_from(2).read(5, 3).unwrap();
    assert!(!recs[0].erased && recs[1].erased && !recs[2].erased);
    assert!(recs[1].payload.is_empty() && recs[1].salt == [0u8; 16]);
    l.append_blocking(vec![NewEntry { kind: EntryKind::Tombstone, payload: b"{\"erased\":[3,300,599]}".to_vec() }]).unwrap();
    let after = l.wait_checkpoint(601, Duration::from_secs(10));
    assert_eq!(after.size, 601);
    l.close();
    let r = verify_log(&store(dir), &opts(dir)).unwrap();
    assert_eq!(r.payloads_erased, 3);
}

#[test]
fn erasure_refuses_while_a_writer_holds_the_ledger() {
    let tmp = tempfile::tempdir().unwrap();
    let l = open(tmp.path());
    l.append_blocking(vec![NewEntry { kind: EntryKind::Event, payload: marker(0) }]).unwrap();
    let e = mamori_ledger::erase_payloads(tmp.path(), &[0]).unwrap_err();
    assert!(e.to_string().contains("in use"), "{e}");
    l.close();
}
