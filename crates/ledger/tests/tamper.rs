//! Tampering with any stored byte is detected, and the report names the tile, entry index, payload
//! or checkpoint involved. Rewrites by someone holding the signing key are caught by a trusted
//! earlier checkpoint and by a witness.

mod common;

use common::*;
use mamori_ledger::engine::StoreTileReader;
use mamori_ledger::merkle::leaf_hash;
use mamori_ledger::verify::{VerifyOptions, verify_log};
use mamori_ledger::wal::{self, decode_record};
use mamori_ledger::witness::{AddOutcome, Witness, add_checkpoint_body};
use mamori_ledger::{Cosigner, Ledger, SignedCheckpoint};
use std::collections::BTreeMap;
use std::path::Path;
use tlog_tiles::{TileHashReader, check_tree, prove_tree};

fn verify_err(dir: &Path) -> String {
    verify_with(dir, &opts(dir))
}

fn verify_with(dir: &Path, o: &VerifyOptions) -> String {
    match verify_log(&store(dir), o) {
        Ok(r) => panic!("tampering not detected: verified {} entries", r.size),
        Err(e) => e.0,
    }
}

fn open_err(dir: &Path) -> String {
    match Ledger::open(config(dir)) {
        Ok(l) => {
            l.close();
            panic!("Ledger::open accepted tampered tiles")
        }
        Err(e) => e.to_string(),
    }
}

fn assert_contains(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "{msg:?} should mention {p:?}");
    }
}

fn log_of(size: u64) -> (tempfile::TempDir, SignedCheckpoint) {
    let tmp = tempfile::tempdir().unwrap();
    let cp = grow_to(tmp.path(), size);
    verify_log(&store(tmp.path()), &opts(tmp.path())).unwrap();
    (tmp, cp)
}

/// Flips a byte inside entry `k` of a bundle file.
fn flip_entry(path: &Path, k: usize) {
    let b = std::fs::read(path).unwrap();
    flip(path, entry_offset(&b, k) + 20);
}

#[test]
fn flipped_byte_in_a_full_entry_bundle() {
    let (tmp, _) = log_of(600);
    flip_entry(&tmp.path().join("tile/entries/001"), 100);
    let msg = verify_err(tmp.path());
    assert_contains(&msg, &["entry 356", "tile/entries/001", "tile/0/001"]);
}

#[test]
fn flipped_length_prefix_in_an_entry_bundle() {
    let (tmp, _) = log_of(600);
    let p = tmp.path().join("tile/entries/000");
    let b = std::fs::read(&p).unwrap();
    flip(&p, entry_offset(&b, 7) - 1);
    let msg = verify_err(tmp.path());
    assert_contains(&msg, &["tile/entries/000"]);
}

#[test]
fn flipped_byte_in_a_partial_entry_bundle() {
    let (tmp, _) = log_of(600);
    flip_entry(&tmp.path().join("tile/entries/002.p/88"), 5);
    let msg = verify_err(tmp.path());
    assert_contains(&msg, &["entry 517", "tile/entries/002.p/88"]);
    // The engine must not carry the tampered entry into the full bundle.
    let msg = open_err(tmp.path());
    assert_contains(&msg, &["tile/entries/002.p/88", "entry 517"]);
}

#[test]
fn flipped_byte_in_a_full_level0_tile() {
    let (tmp, _) = log_of(600);
    flip(&tmp.path().join("tile/0/001"), 10 * 32 + 3);
    let msg = verify_err(tmp.path());
    assert_contains(&msg, &["entry 266", "tile/0/001"]);
}

#[test]
fn flipped_byte_in_a_partial_level0_tile() {
    let (tmp, _) = log_of(600);
    flip(&tmp.path().join("tile/0/002.p/88"), 40 * 32);
    let msg = verify_err(tmp.path());
    assert_contains(&msg, &["entry 552", "tile/0/002.p/88"]);
    let msg = open_err(tmp.path());
    assert_contains(&msg, &["tiles do not match the checkpoint", "entry 552"]);
    // A flipped hash of an entry whose bundle entry is also rewritten to match still changes
    // the root: caught by the checkpoint.
    let (tmp, _) = log_of(600);
    let t = tmp.path().join("tile/0/002.p/88");
    let b = std::fs::read(tmp.path().join("tile/entries/002.p/88")).unwrap();
    let mut es: Vec<Vec<u8>> = mamori_ledger::tiles::split_bundle(&b).unwrap().iter().map(|e| e.to_vec()).collect();
    es[40][30] ^= 1;
    let mut nb = Vec::new();
    for e in &es {
        mamori_ledger::tiles::push_bundle_entry(&mut nb, e);
    }
    std::fs::write(tmp.path().join("tile/entries/002.p/88"), nb).unwrap();
    let mut tile = std::fs::read(&t).unwrap();
    tile[40 * 32..41 * 32].copy_from_slice(&leaf_hash(&es[40]).0);
    std::fs::write(&t, tile).unwrap();
    assert_contains(&open_err(tmp.path()), &["tiles do not match the checkpoint", "size 600"]);
    let mut o = opts(tmp.path());
    o.payload_dir = None;
    assert_contains(&verify_with(tmp.path(), &o), &["checkpoint (size 600)"]);
}

#[test]
fn flipped_byte_in_a_partial_level1_tile() {
    let (tmp, _) = log_of(600);
    flip(&tmp.path().join("tile/1/000.p/2"), 32 + 7);
    let msg = verify_err(tmp.path());
    assert_contains(&msg, &["tile/1/000.p/2", "hash 1"]);
    let msg = open_err(tmp.path());
    assert_contains(&msg, &["tiles do not match the checkpoint"]);
}

#[test]
fn missing_partial_tile_is_refused() {
    let (tmp, _) = log_of(600);
    std::fs::remove_file(tmp.path().join("tile/0/002.p/88")).unwrap();
    assert_contains(&verify_err(tmp.path()), &["tile/0/002.p/88", "missing"]);
    assert_contains(&open_err(tmp.path()), &["tile/0/002.p/88"]);
}

#[test]
fn flipped_byte_in_a_full_level1_tile() {
    // 65,536 entries fill the first level-1 tile; a few more leave partials above it.
    let (tmp, _) = log_of(65_536 + 300);
    flip(&tmp.path().join("tile/1/000"), 3 * 32 + 31);
    let msg = verify_err(tmp.path());
    assert_contains(&msg, &["tile/1/000:", "hash 3"]);
}

#[test]
fn flipped_byte_in_the_checkpoint() {
    let (tmp, cp) = log_of(600);
    let p = tmp.path().join("checkpoint");
    let note = std::fs::read(&p).unwrap();
    // Change the size line "600" to "601".
    let at = note.windows(5).position(|w| w == b"\n600\n").unwrap() + 3;
    flip(&p, at);
    assert!(std::fs::read(&p).unwrap().windows(5).any(|w| w == b"\n601\n"));
    let msg = verify_err(tmp.path());
    assert_contains(&msg, &["does not verify", ORIGIN]);
    assert_contains(&open_err(tmp.path()), &["checkpoint", "does not verify"]);
    // A flipped root byte too.
    std::fs::write(&p, &cp.note).unwrap();
    let at = note.iter().position(|&b| b == b'\n').unwrap() + 5 + 10;
    let mut bad = cp.note.clone();
    bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(&p, bad).unwrap();
    assert_contains(&verify_err(tmp.path()), &["does not verify"]);
}

/// Offset of record `index` in the (single) segment, and of its payload.
fn record_offset(seg: &[u8], index: u64) -> (usize, usize) {
    let mut off = 16;
    loop {
        let (rec, n) = decode_record(&seg[off..]).unwrap();
        if rec.index == index {
            return (off, off + 4 + 8 + 8 + 1 + 1 + 16);
        }
        off += n;
    }
}

#[test]
fn flipped_payload_byte_in_the_payload_store() {
    let (tmp, _) = log_of(600);
    let seg = tmp.path().join("wal").join(wal::segment_name(0));
    let bytes = std::fs::read(&seg).unwrap();
    let (rec_off, payload_off) = record_offset(&bytes, 300);
    flip(&seg, payload_off + 3);
    let msg = verify_err(tmp.path());
    // Caught by the record checksum; the report names the index, the segment and the offset.
    assert_contains(&msg, &["payload 300", &seg.display().to_string(), &format!("byte {rec_off}"), "checksum"]);
    // The engine refuses to start on a damaged segment (valid records follow the bad one).
    assert_contains(&open_err(tmp.path()), &[&format!("byte {rec_off}")]);
}

#[test]
fn altered_payload_with_fixed_checksum_breaks_the_commitment() {
    let (tmp, _) = log_of(600);
    let seg = tmp.path().join("wal").join(wal::segment_name(0));
    let mut bytes = std::fs::read(&seg).unwrap();
    let (rec_off, payload_off) = record_offset(&bytes, 300);
    let (_, n) = decode_record(&bytes[rec_off..]).unwrap();
    bytes[payload_off + 3] ^= 0x01;
    // Recompute the CRC, as someone editing the file deliberately would.
    let crc = crc32c::crc32c(&bytes[rec_off + 4..rec_off + n - 4]);
    bytes[rec_off + n - 4..rec_off + n].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&seg, &bytes).unwrap();
    let msg = verify_err(tmp.path());
    assert_contains(&msg, &["payload 300", "does not match the log entry", "commitment"]);
}

fn witness_for(log_vkey: &str) -> (Witness, String) {
    let (c, _) = Cosigner::generate("witness.example/w1");
    let vkey = c.vkey();
    let mut w = Witness::new(c, BTreeMap::new());
    w.add_log(log_vkey).unwrap();
    (w, vkey)
}

/// Has the witness cosign `cp` (from size 0) and returns the cosigned note.
fn witness_cosign(w: &mut Witness, cp: &SignedCheckpoint) -> Vec<u8> {
    match w.add_checkpoint(&add_checkpoint_body(0, &[], &cp.note), 1_700_000_000) {
        AddOutcome::Cosigned(line) => {
            let mut c = cp.clone();
            c.add_cosignature_lines(&line).unwrap();
            c.note
        }
        other => panic!("{other:?}"),
    }
}

fn consistency_from_tiles(dir: &Path, old: u64, cp: &SignedCheckpoint) -> Vec<tlog_tiles::Hash> {
    let st = store(dir);
    let reader = StoreTileReader(&st);
    let thr = TileHashReader::new(cp.size, cp.root, &reader);
    prove_tree(cp.size, old, &thr).unwrap()
}

#[test]
fn truncation_resigned_with_the_stolen_key() {
    let (tmp, cp600) = log_of(600);
    let (mut w, w_vkey) = witness_for(&vkey());
    let witnessed = witness_cosign(&mut w, &cp600);
    // The attacker keeps the first 400 entries and signs a fresh checkpoint with the same key.
    let entries = read_entries(tmp.path(), 600);
    let forged = tempfile::tempdir().unwrap();
    let cp400 = forge_log(forged.path(), &entries[..400], &signer());
    // On its own the truncated log is internally consistent …
    let mut o = opts(forged.path());
    o.payload_dir = None;
    verify_log(&store(forged.path()), &o).unwrap();
    // … but not against the checkpoint obtained earlier.
    o.trusted_checkpoint = Some(witnessed.clone());
    assert_contains(&verify_with(forged.path(), &o), &["truncated", "600", "400"]);
    // A verifier demanding the witness's cosignature rejects the re-signed checkpoint outright.
    o.trusted_checkpoint = None;
    o.witness_vkeys = vec![w_vkey];
    assert_contains(&verify_with(forged.path(), &o), &["no valid cosignature", "witness.example/w1"]);
    // The witness that cosigned 600 will not cosign 400.
    let out = w.add_checkpoint(&add_checkpoint_body(600, &[], &cp400.note), 1_700_000_001);
    assert_eq!(out.status(), 400, "{out:?}");
    let out = w.add_checkpoint(&add_checkpoint_body(400, &[], &cp400.note), 1_700_000_001);
    assert_eq!(out, AddOutcome::Conflict(600));
    let out = w.add_checkpoint(&add_checkpoint_body(0, &[], &cp400.note), 1_700_000_001);
    assert_eq!(out, AddOutcome::Conflict(600));
}

#[test]
fn swapped_entries() {
    let (tmp, cp600) = log_of(600);
    let dir = tmp.path();
    let entries = read_entries(dir, 600);
    // 1. Swap entries 10 and 11 inside the bundle only: the tiles no longer match.
    let p = dir.join("tile/entries/000");
    let b = std::fs::read(&p).unwrap();
    let (o10, o11, o12) = (entry_offset(&b, 10) - 2, entry_offset(&b, 11) - 2, entry_offset(&b, 12) - 2);
    let mut swapped = b[..o10].to_vec();
    swapped.extend_from_slice(&b[o11..o12]);
    swapped.extend_from_slice(&b[o10..o11]);
    swapped.extend_from_slice(&b[o12..]);
    assert_ne!(swapped, b);
    std::fs::write(&p, &swapped).unwrap();
    assert_contains(&verify_err(dir), &["entry 10", "tile/entries/000"]);

    // 2. The attacker recomputes every tile and re-signs with the stolen key.
    let mut e2 = entries.clone();
    e2.swap(10, 11);
    let forged = tempfile::tempdir().unwrap();
    let fcp = forge_log(forged.path(), &e2, &signer());
    assert_eq!(fcp.size, 600);
    assert_ne!(fcp.root, cp600.root);
    let mut o = opts(forged.path());
    o.payload_dir = None;
    verify_log(&store(forged.path()), &o).unwrap();
    // The payload store still has the original order.
    let mut with_payloads = opts(forged.path());
    with_payloads.payload_dir = Some(dir.join("wal"));
    assert_contains(&verify_with(forged.path(), &with_payloads), &["payload 10", "does not match the log entry"]);
    // A trusted earlier checkpoint catches it …
    o.trusted_checkpoint = Some(cp600.note.clone());
    assert_contains(&verify_with(forged.path(), &o), &["history was rewritten", "first 600 entries"]);
    // … and so does a witness that cosigned the original (same size, other root: 422, an alarm).
    let (mut w, _) = witness_for(&vkey());
    witness_cosign(&mut w, &cp600);
    let out = w.add_checkpoint(&add_checkpoint_body(600, &[], &fcp.note), 1_700_000_002);
    assert_eq!(out.status(), 422, "{out:?}");
    assert!(out.is_alarm());
    assert!(matches!(&out, AddOutcome::Fork { size: 600, why } if why.contains("fork")), "{out:?}");
}

#[test]
fn rewritten_history_resigned_and_extended() {
    let (tmp, cp600) = log_of(600);
    let dir = tmp.path();
    let (mut w, w_vkey) = witness_for(&vkey());
    let witnessed = witness_cosign(&mut w, &cp600);
    // Entry 123 replaced by a different (well-formed) entry; then 50 more entries; re-signed.
    let mut entries = read_entries(dir, 600);
    let mut e = mamori_ledger::Entry::parse(&entries[123]).unwrap();
    e.commitment[0] ^= 0xff;
    entries[123] = e.to_bytes();
    for i in 0..50u64 {
        let mut x = mamori_ledger::Entry::parse(&entries[i as usize]).unwrap();
        x.ingested_micros += 1;
        entries.push(x.to_bytes());
    }
    let forged = tempfile::tempdir().unwrap();
    let fcp = forge_log(forged.path(), &entries, &signer());
    assert_eq!(fcp.size, 650);

    // The witness: the forged tree's own proof from 600 does not lead from the root it cosigned.
    let proof = consistency_from_tiles(forged.path(), 600, &fcp);
    let out = w.add_checkpoint(&add_checkpoint_body(600, &proof, &fcp.note), 1_700_000_003);
    assert_eq!(out.status(), 422, "{out:?}");
    assert!(out.is_alarm());
    assert!(matches!(&out, AddOutcome::Unprocessable(m) if m.contains("does not verify")), "{out:?}");
    // Nor does an empty proof, nor the honest log's proof (which does not exist for 650 anyway).
    assert_eq!(w.add_checkpoint(&add_checkpoint_body(600, &[], &fcp.note), 1_700_000_003).status(), 422);
    // The witness state did not move.
    assert!(w.state_json().contains("\"size\": 600"));
    // Independent check: the tlog_tiles verifier rejects the proof against the cosigned root too.
    assert!(check_tree(&proof, 650, fcp.root, 600, cp600.root).is_err());

    // verify --trusted-checkpoint: history rewritten.
    let mut o = opts(forged.path());
    o.payload_dir = None;
    o.trusted_checkpoint = Some(witnessed.clone());
    assert_contains(&verify_with(forged.path(), &o), &["history was rewritten", "first 600 entries"]);
    // And a verifier that requires the witness rejects the re-signed checkpoint.
    o.trusted_checkpoint = None;
    o.witness_vkeys = vec![w_vkey.clone()];
    assert_contains(&verify_with(forged.path(), &o), &["no valid cosignature"]);

    // Same-size rewrite of entry 123 only: a fork at the cosigned size (422 per tlog-witness).
    let mut same = read_entries(dir, 600);
    same[123] = entries[123].clone();
    let forged2 = tempfile::tempdir().unwrap();
    let fcp2 = forge_log(forged2.path(), &same, &signer());
    let out = w.add_checkpoint(&add_checkpoint_body(600, &[], &fcp2.note), 1_700_000_004);
    assert_eq!(out.status(), 422);
    assert!(out.is_alarm(), "{out:?}");
    let mut o2 = opts(forged2.path());
    o2.payload_dir = None;
    o2.trusted_checkpoint = Some(witnessed);
    assert_contains(&verify_with(forged2.path(), &o2), &["history was rewritten"]);
    // With the payload store, the changed commitment is also named.
    let mut o3 = opts(forged2.path());
    o3.payload_dir = Some(dir.join("wal"));
    assert_contains(&verify_with(forged2.path(), &o3), &["payload 123", "does not match the log entry"]);
    let _ = leaf_hash(&same[0]);
}

#[test]
fn open_refuses_tiles_from_another_history() {
    let (tmp, _) = log_of(300);
    let dir = tmp.path();
    // Replace the partial tiles with those of a different history of the same size, keeping the
    // genuine checkpoint.
    let mut entries = read_entries(dir, 300);
    entries[290] = entries[289].clone();
    for (id, bytes) in forged_tiles(&entries) {
        if !id.is_full() {
            store(dir).write_tile(&id, &bytes).unwrap();
        }
    }
    assert_contains(&open_err(dir), &["tiles do not match the checkpoint"]);
    assert_contains(&verify_err(dir), &["290"]);
    let mut o = opts(dir);
    o.payload_dir = None;
    assert_contains(&verify_with(dir, &o), &["checkpoint (size 300)"]);
}
