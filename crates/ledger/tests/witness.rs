//! c2sp.org/tlog-witness add-checkpoint: every status code the spec prescribes, and a real
//! ledger cosigned step by step with the consistency proofs it serves.

mod common;

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use common::*;
use mamori_ledger::checkpoint::CheckpointSigner;
use mamori_ledger::merkle::EMPTY_TREE_HASH;
use mamori_ledger::verify::verify_log;
use mamori_ledger::witness::{AddOutcome, Witness, WitnessedLog, add_checkpoint_body, parse_conflict};
use mamori_ledger::{Cosigner, Ledger, SignedCheckpoint};
use std::collections::BTreeMap;
use std::time::Duration;

const NOW: u64 = 1_750_000_000;

fn new_witness() -> (Witness, String) {
    let (c, _) = Cosigner::generate("witness.example/w1");
    let v = c.vkey();
    let mut w = Witness::new(c, BTreeMap::new());
    w.add_log(&vkey()).unwrap();
    (w, v)
}

/// A ledger with checkpoints at 10 and 20 (kept open so it serves proofs).
struct Fixture {
    _tmp: tempfile::TempDir,
    l: Ledger,
    cp10: SignedCheckpoint,
    cp20: SignedCheckpoint,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let l = open(tmp.path());
    append_n(&l, 0, 10, 10);
    let cp10 = l.wait_checkpoint(10, Duration::from_secs(10));
    append_n(&l, 10, 10, 3);
    let cp20 = l.wait_checkpoint(20, Duration::from_secs(10));
    assert_eq!((cp10.size, cp20.size), (10, 20));
    Fixture { _tmp: tmp, l, cp10, cp20 }
}

fn cosigned(out: AddOutcome) -> Vec<u8> {
    match out {
        AddOutcome::Cosigned(line) => line,
        other => panic!("expected 200, got {} {other:?}", other.status()),
    }
}

#[test]
fn status_200_returns_a_verifying_cosignature() {
    let f = fixture();
    let (mut w, wv) = new_witness();
    let out = w.add_checkpoint(&add_checkpoint_body(0, &[], &f.cp10.note), NOW);
    assert_eq!(out.status(), 200);
    let line = cosigned(out);
    let s = String::from_utf8(line.clone()).unwrap();
    assert!(s.starts_with("— witness.example/w1 ") && s.ends_with('\n') && s.lines().count() == 1, "{s}");
    // timestamp is in the signature: base64(keyid[4] || time[8] || sig[64]).
    let raw = BASE64_STANDARD.decode(s.trim_end().rsplit(' ').next().unwrap()).unwrap();
    assert_eq!(raw.len(), 4 + 8 + 64);
    assert_eq!(&raw[4..12], &NOW.to_be_bytes());

    let mut note = f.cp10.note.clone();
    note.extend_from_slice(&line);
    let (cp, names) = SignedCheckpoint::verify(&note, &vkey(), std::slice::from_ref(&wv)).unwrap();
    assert_eq!((cp.size, cp.root), (10, f.cp10.root));
    assert_eq!(names, vec!["witness.example/w1".to_owned()]);
    // The cosignature covers this checkpoint only.
    let mut other = f.cp20.note.clone();
    other.extend_from_slice(&line);
    assert!(SignedCheckpoint::verify(&other, &vkey(), std::slice::from_ref(&wv)).is_err());
    // Another witness key does not accept it.
    let (c2, _) = Cosigner::generate("witness.example/w1");
    assert!(SignedCheckpoint::verify(&note, &vkey(), &[c2.vkey()]).map(|(_, n)| n.is_empty()).unwrap_or(true));

    // Persisted state says 10 / root.
    let state: BTreeMap<String, WitnessedLog> = serde_json::from_str(&w.state_json()).unwrap();
    let s = &state[ORIGIN];
    assert_eq!((s.size, s.root.clone()), (10, BASE64_STANDARD.encode(f.cp10.root.0)));
    // Presenting the same checkpoint again (old = size, same root, empty proof) is fine.
    assert_eq!(w.add_checkpoint(&add_checkpoint_body(10, &[], &f.cp10.note), NOW + 1).status(), 200);
    // And it advances with a consistency proof.
    let p = f.l.consistency_proof(10, 20).unwrap();
    cosigned(w.add_checkpoint(&add_checkpoint_body(10, &p.hashes, &f.cp20.note), NOW + 2));
    // A witness restored from the persisted state continues from 20.
    let state: BTreeMap<String, WitnessedLog> = serde_json::from_str(&w.state_json()).unwrap();
    let (c3, _) = Cosigner::generate("witness.example/w2");
    let mut w2 = Witness::new(c3, state);
    assert_eq!(w2.add_checkpoint(&add_checkpoint_body(10, &p.hashes, &f.cp20.note), NOW), AddOutcome::Conflict(20));
    assert_eq!(w2.add_checkpoint(&add_checkpoint_body(20, &[], &f.cp20.note), NOW).status(), 200);
    f.l.close();
}

#[test]
fn status_404_unknown_origin() {
    let (mut w, _) = new_witness();
    let (other, _) = CheckpointSigner::generate("other.example/log").unwrap();
    let cp = other.sign(0, &EMPTY_TREE_HASH).unwrap();
    let out = w.add_checkpoint(&add_checkpoint_body(0, &[], &cp.note), NOW);
    assert_eq!(out.status(), 404, "{out:?}");
    assert!(matches!(&out, AddOutcome::UnknownLog(m) if m.contains("other.example/log")));
    assert!(!out.is_alarm());
}

#[test]
fn status_403_bad_or_unknown_signature() {
    let f = fixture();
    let (mut w, _) = new_witness();
    // Same origin, another key (an impostor).
    let (impostor, _) = CheckpointSigner::generate(ORIGIN).unwrap();
    let cp = impostor.sign(10, &f.cp10.root).unwrap();
    let out = w.add_checkpoint(&add_checkpoint_body(0, &[], &cp.note), NOW);
    assert_eq!(out.status(), 403, "{out:?}");
    // The genuine note with its signature bytes altered.
    let mut bad = f.cp10.note.clone();
    let n = bad.len();
    bad[n - 5] = if bad[n - 5] == b'A' { b'B' } else { b'A' };
    assert_eq!(w.add_checkpoint(&add_checkpoint_body(0, &[], &bad), NOW).status(), 403);
    // The genuine signature over an altered text.
    let text = String::from_utf8(f.cp10.note.clone()).unwrap().replacen("\n10\n", "\n11\n", 1);
    assert_eq!(w.add_checkpoint(&add_checkpoint_body(0, &[], text.as_bytes()), NOW).status(), 403);
    // Nothing was recorded.
    assert!(w.state_json().contains("\"size\": 0"));
    f.l.close();
}

#[test]
fn status_400_old_above_size_and_malformed_bodies() {
    let f = fixture();
    let (mut w, _) = new_witness();
    let out = w.add_checkpoint(&add_checkpoint_body(11, &[], &f.cp10.note), NOW);
    assert_eq!(out.status(), 400, "{out:?}");
    let note = String::from_utf8(f.cp10.note.clone()).unwrap();
    let h = BASE64_STANDARD.encode([7u8; 32]);
    let long_proof = format!("{h}\n").repeat(64);
    for body in [
        format!("\n{note}"),
        format!("old\n\n{note}"),
        format!("old 01\n\n{note}"),
        format!("old -1\n\n{note}"),
        format!("old +1\n\n{note}"),
        format!("old  1\n\n{note}"),
        format!("old 1 \n\n{note}"),
        format!("new 0\n\n{note}"),
        format!("old 99999999999999999999999\n\n{note}"),
        format!("old 0\n{note}"),
        format!("old 0\nnot-base64!\n\n{note}"),
        format!("old 0\n{}\n\n{note}", BASE64_STANDARD.encode([1u8; 31])),
        format!("old 0\n{long_proof}\n{note}"),
        "old 0".to_owned(),
        "old 0\n\n".to_owned(),
        "old 0\n\nnot a checkpoint\n".to_owned(),
    ] {
        let out = w.add_checkpoint(body.as_bytes(), NOW);
        assert_eq!(out.status(), 400, "body {body:?} gave {out:?}");
    }
    let mut bin = b"old 0\n\xff\xfe\n\n".to_vec();
    bin.extend_from_slice(&f.cp10.note);
    assert_eq!(w.add_checkpoint(&bin, NOW).status(), 400);
    // 63 proof lines are allowed by the parser (then the proof is simply wrong: 422).
    let ok63 = format!("old 0\n{}\n{note}", format!("{h}\n").repeat(63));
    assert_eq!(w.add_checkpoint(ok63.as_bytes(), NOW).status(), 422);
    f.l.close();
}

#[test]
fn status_409_returns_the_cosigned_size() {
    let f = fixture();
    let (mut w, _) = new_witness();
    cosigned(w.add_checkpoint(&add_checkpoint_body(0, &[], &f.cp10.note), NOW));
    // A client without state starts with 0 and learns 10.
    let out = w.add_checkpoint(&add_checkpoint_body(0, &[], &f.cp20.note), NOW);
    assert_eq!(out, AddOutcome::Conflict(10));
    assert_eq!(out.status(), 409);
    assert!(!out.is_alarm());
    assert_eq!(parse_conflict(b"10\n"), Some(10));
    assert_eq!(parse_conflict(b"x\n"), None);
    let p = f.l.consistency_proof(5, 20).unwrap();
    assert_eq!(w.add_checkpoint(&add_checkpoint_body(5, &p.hashes, &f.cp20.note), NOW), AddOutcome::Conflict(10));
    // Retrying with the returned size succeeds.
    let p = f.l.consistency_proof(10, 20).unwrap();
    cosigned(w.add_checkpoint(&add_checkpoint_body(10, &p.hashes, &f.cp20.note), NOW));
    // Rolling back is refused: old 10 is no longer the cosigned size.
    assert_eq!(w.add_checkpoint(&add_checkpoint_body(10, &[], &f.cp10.note), NOW), AddOutcome::Conflict(20));
    f.l.close();
}

#[test]
fn status_422_bad_proofs() {
    let f = fixture();
    let (mut w, _) = new_witness();
    // A non-empty proof from size 0.
    let p = f.l.consistency_proof(10, 20).unwrap();
    let out = w.add_checkpoint(&add_checkpoint_body(0, &p.hashes, &f.cp10.note), NOW);
    assert_eq!(out.status(), 422, "{out:?}");
    assert!(out.is_alarm());
    cosigned(w.add_checkpoint(&add_checkpoint_body(0, &[], &f.cp10.note), NOW));
    // Each hash of a good proof flipped in turn; a missing hash; an extra hash; an empty proof.
    assert!(!p.hashes.is_empty());
    for k in 0..p.hashes.len() {
        let mut bad = p.hashes.clone();
        bad[k].0[0] ^= 1;
        let out = w.add_checkpoint(&add_checkpoint_body(10, &bad, &f.cp20.note), NOW);
        assert_eq!(out.status(), 422, "flip {k}: {out:?}");
        assert!(matches!(&out, AddOutcome::Unprocessable(m) if m.contains("does not verify")));
    }
    let short = &p.hashes[..p.hashes.len() - 1];
    assert_eq!(w.add_checkpoint(&add_checkpoint_body(10, short, &f.cp20.note), NOW).status(), 422);
    let mut long = p.hashes.clone();
    long.push(p.hashes[0]);
    assert_eq!(w.add_checkpoint(&add_checkpoint_body(10, &long, &f.cp20.note), NOW).status(), 422);
    assert_eq!(w.add_checkpoint(&add_checkpoint_body(10, &[], &f.cp20.note), NOW).status(), 422);
    // A proof for other sizes.
    let p2 = f.l.consistency_proof(11, 20).unwrap();
    assert_eq!(w.add_checkpoint(&add_checkpoint_body(10, &p2.hashes, &f.cp20.note), NOW).status(), 422);
    // A non-empty proof between equal sizes.
    assert_eq!(w.add_checkpoint(&add_checkpoint_body(10, &p.hashes[..1], &f.cp10.note), NOW).status(), 422);
    // None of that moved the witness.
    assert!(w.state_json().contains("\"size\": 10"));
    cosigned(w.add_checkpoint(&add_checkpoint_body(10, &p.hashes, &f.cp20.note), NOW));
    f.l.close();
}

#[test]
fn same_size_other_root_is_a_fork() {
    let f = fixture();
    let (mut w, _) = new_witness();
    cosigned(w.add_checkpoint(&add_checkpoint_body(0, &[], &f.cp10.note), NOW));
    // The log key signs a second root for size 10.
    let forked = signer().sign(10, &f.cp20.root).unwrap();
    let out = w.add_checkpoint(&add_checkpoint_body(10, &[], &forked.note), NOW);
    // c2sp tlog-witness: "If the old size matches the checkpoint size, the witness MUST check
    // that the root hashes are also identical. If they don't match, the witness MUST respond
    // with a "422 Unprocessable Entity" HTTP status code."
    assert_eq!(out.status(), 422, "{out:?}");
    assert!(out.is_alarm());
    assert!(matches!(&out, AddOutcome::Fork { size: 10, why } if why.contains("fork")));
    // A size-0 checkpoint must carry the empty root.
    let (mut w0, _) = new_witness();
    let zero = signer().sign(0, &f.cp10.root).unwrap();
    assert_eq!(w0.add_checkpoint(&add_checkpoint_body(0, &[], &zero.note), NOW).status(), 422);
    f.l.close();
}

/// A real ledger grows in 12 steps; after each, the witness cosigns the new checkpoint given the
/// ledger's consistency proof from the last cosigned size, the cosignature is attached to the
/// ledger's checkpoint, and the whole log verifies requiring that witness.
#[test]
fn ledger_cosigned_step_by_step() {
    let tmp = tempfile::tempdir().unwrap();
    let l = open(tmp.path());
    let (mut w, wv) = new_witness();
    let mut cosigned_size = 0u64;
    let mut sizes = vec![0u64];
    for (step, add) in [1u64, 1, 2, 5, 8, 60, 179, 1, 255, 256, 300, 3].into_iter().enumerate() {
        let have = l.durable_size();
        append_n(&l, have, add, 64);
        let cp = l.wait_checkpoint(have + add, Duration::from_secs(10));
        assert_eq!(cp.size, have + add);
        let p = l.consistency_proof(cosigned_size, cp.size).unwrap();
        assert_eq!(p.hashes.is_empty(), cosigned_size == 0);
        let line = cosigned(w.add_checkpoint(&add_checkpoint_body(cosigned_size, &p.hashes, &cp.note), NOW + step as u64));
        assert!(l.add_cosignatures(cp.size, &line).unwrap());
        let (_, names) = SignedCheckpoint::verify(&l.checkpoint().note, &vkey(), std::slice::from_ref(&wv)).unwrap();
        assert_eq!(names, vec!["witness.example/w1".to_owned()]);
        // The checkpoint file on disk carries the cosignature too.
        let mut o = opts(tmp.path());
        o.witness_vkeys = vec![wv.clone()];
        if step % 4 == 3 {
            let r = verify_log(&store(tmp.path()), &o).unwrap();
            assert_eq!((r.size, r.witnesses.clone()), (cp.size, vec!["witness.example/w1".to_owned()]));
        }
        cosigned_size = cp.size;
        sizes.push(cp.size);
    }
    // A cosignature for a stale size is not attached.
    assert!(!l.add_cosignatures(1, b"").unwrap());
    l.close();
    assert_eq!(*sizes.last().unwrap(), 1071);
    let state: BTreeMap<String, WitnessedLog> = serde_json::from_str(&w.state_json()).unwrap();
    assert_eq!(state[ORIGIN].size, 1071);
}

/// The latest witnessed checkpoint is kept (in `witnessed-checkpoint`) when the log moves on
/// without a cosignature, when a cosignature arrives for a checkpoint that is no longer the
/// published one, and across a restart; an older one never replaces it, and a second
/// witness's cosignature of the same checkpoint is merged.
#[test]
fn latest_witnessed_checkpoint_survives_growth_and_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let l = open(tmp.path());
    assert!(l.latest_witnessed().is_none());
    let (mut w, wv) = new_witness();
    append_n(&l, 0, 10, 10);
    let cp10 = l.wait_checkpoint(10, Duration::from_secs(10));
    let line = cosigned(w.add_checkpoint(&add_checkpoint_body(0, &[], &cp10.note), NOW));
    assert!(l.add_cosignatures(10, &line).unwrap());
    // The log grows; the witness is late and cosigns 20 after 30 is published.
    append_n(&l, 10, 10, 3);
    let cp20 = l.wait_checkpoint(20, Duration::from_secs(10));
    append_n(&l, 20, 10, 3);
    let cp30 = l.wait_checkpoint(30, Duration::from_secs(10));
    assert_eq!(cp30.size, 30);
    let p = l.consistency_proof(10, 20).unwrap();
    let line20 = cosigned(w.add_checkpoint(&add_checkpoint_body(10, &p.hashes, &cp20.note), NOW + 5));
    assert!(!l.add_cosignatures(20, &line20).unwrap(), "no longer the published checkpoint");
    let mut late = cp20.clone();
    late.add_cosignature_lines(&line20).unwrap();
    assert!(l.record_witnessed(&late.note).unwrap());
    let (got, cos) = SignedCheckpoint::verify_cosignatures(&l.latest_witnessed().unwrap().note, &[vkey()], std::slice::from_ref(&wv)).unwrap();
    assert_eq!(got.size, 20);
    assert_eq!(cos.len(), 1);
    assert_eq!((cos[0].name.as_str(), cos[0].timestamp), ("witness.example/w1", Some(NOW + 5)));
    // An older witnessed checkpoint does not replace it.
    let mut older = cp10.clone();
    older.add_cosignature_lines(&line).unwrap();
    assert!(!l.record_witnessed(&older.note).unwrap());
    // A second witness cosigns the same checkpoint: both lines are kept.
    let (c2, _) = Cosigner::generate("witness.example/w2");
    let wv2 = c2.vkey();
    let mut w2 = Witness::new(c2, BTreeMap::new());
    w2.add_log(&vkey()).unwrap();
    let line2 = cosigned(w2.add_checkpoint(&add_checkpoint_body(0, &[], &cp20.note), NOW + 7));
    let mut by2 = cp20.clone();
    by2.add_cosignature_lines(&line2).unwrap();
    assert!(l.record_witnessed(&by2.note).unwrap());
    // Something not signed by this log is refused.
    let foreign = CheckpointSigner::generate(ORIGIN).unwrap().0.sign(40, &cp30.root).unwrap();
    assert!(l.record_witnessed(&foreign.note).is_err());
    l.close();
    drop(l);

    // After a restart: still size 20, with both witnesses, while the published one is 30.
    let l = open(tmp.path());
    assert_eq!(l.checkpoint().size, 30);
    let kept = l.latest_witnessed().expect("persisted");
    let (got, cos) = SignedCheckpoint::verify_cosignatures(&kept.note, &[vkey()], &[wv.clone(), wv2.clone()]).unwrap();
    assert_eq!(got.size, 20);
    let mut names: Vec<_> = cos.iter().map(|c| c.name.clone()).collect();
    names.sort();
    assert_eq!(names, ["witness.example/w1", "witness.example/w2"]);
    assert_eq!(std::fs::read(tmp.path().join(mamori_ledger::engine::WITNESSED_FILE)).unwrap(), kept.note);
    l.close();
}
