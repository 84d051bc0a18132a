//! The prefecture follows a city's key rotation only with proof that the old key authorised
//! it: after `rotate-key` (a `key` entry covered by the bridge checkpoint the old key signed)
//! the city's new-key checkpoints are cosigned again, and the followed rotation is ledgered in
//! the prefecture's ledger. A key swapped in by someone without the old key — even with a
//! `key` entry of its own in the ledger, and an event that looks like a rotation — is refused:
//! a `bad-signature` alarm (health, prefecture ledger), never cosigned.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use mamori_ledger::storage::FsTileStore;
use mamori_ledger::verify::{VerifyOptions, verify_log};
use mamori_ledger::{CheckpointSigner, EntryKind, NewEntry, SignedCheckpoint};
use mamori_prefecture::{Prefecture, TenantId, city_dir, init_city, init_prefecture};
use mamori_store_clickhouse::local::LocalServer;
use mamori_store_clickhouse::{Config, schema};

fn append(p: &Prefecture, t: &TenantId, n: usize, tag: &str) {
    let entries = (0..n)
        .map(|i| NewEntry {
            kind: EntryKind::Event,
            payload:
                serde_json::json!({"user": {"name": "tanaka"}, "message": format!("{tag} {i}")})
                    .to_string()
                    .into_bytes(),
        })
        .collect();
    p.city(t).unwrap().ledger.append_blocking(entries).unwrap();
}

/// Waits until the city's whole ledger is checkpointed, signed by `vkey` and cosigned by the
/// prefecture; returns its size.
fn wait_cosigned(p: &Prefecture, t: &TenantId, vkey: &str, wkey: &str) -> u64 {
    let c = p.city(t).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let size = c.ledger.durable_size();
        let cp = c.ledger.checkpoint();
        if cp.size == size
            && c.witness.status().cosigned_size == size
            && SignedCheckpoint::verify(&cp.note, vkey, &[wkey.to_owned()])
                .is_ok_and(|(_, w)| !w.is_empty())
        {
            return size;
        }
        assert!(
            Instant::now() < deadline,
            "{t}: not cosigned: ledger {size}, checkpoint {}, status {:?}",
            cp.size,
            c.witness.status()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn payloads(ledger_dir: &Path) -> Vec<String> {
    let size =
        SignedCheckpoint::parse_unverified(&std::fs::read(ledger_dir.join("checkpoint")).unwrap())
            .unwrap()
            .size;
    mamori_ledger::engine::read_records(ledger_dir, 0, size, 100_000)
        .unwrap()
        .into_iter()
        .map(|r| String::from_utf8_lossy(&r.payload).into_owned())
        .collect()
}

#[test]
fn rotation_is_followed_with_the_old_keys_proof_and_a_forged_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ch = LocalServer::start(&dir.path().join("ch"), None).expect("start clickhouse-server");
    let cfg = Config::single(&ch.url());
    schema::create_single(&cfg).unwrap();
    let root = dir.path().join("pref");
    let wkey = init_prefecture(&root, "iwate.lg.jp").unwrap().witness_vkey;
    let t = TenantId::new("ofunato").unwrap();
    let k1 = init_city(&root, "iwate.lg.jp", &t).unwrap().vkey;
    let cities = [t.clone()];
    let open = || common::open_when_free(&root, &cities, &cfg);
    let d = city_dir(&root, &t);

    // 1. Cosigned under the first key.
    let p = open();
    append(&p, &t, 4, "before");
    let s1 = wait_cosigned(&p, &t, &k1, &wkey);
    p.close();
    drop(p);

    // 2. The city rotates its key (ledgered key entry, bridge signed by both keys).
    let rot = mamori_server::DataDir::new(&d)
        .rotate_key("test", "annual rotation")
        .unwrap();
    assert_eq!(rot.old_vkey, k1);
    let k2 = rot.new_vkey.clone();
    assert!(rot.entry >= s1);

    // 3. The prefecture follows it: new-key checkpoints are cosigned, the rotation is ledgered.
    let p = open();
    append(&p, &t, 3, "after");
    let s2 = wait_cosigned(&p, &t, &k2, &wkey);
    assert!(s2 > rot.entry + 1);
    let status = p.city(&t).unwrap().witness.status();
    assert_eq!(status.keys_followed, vec![k2.clone()], "{status:?}");
    assert!(status.alarm.is_none() && status.alarms == 0, "{status:?}");
    assert_eq!(p.city(&t).unwrap().witness.log().1.vkey, k2);
    let pref_ledger = p.ledger().dir().to_owned();
    p.close();
    drop(p);
    let followed: Vec<String> = payloads(&pref_ledger)
        .into_iter()
        .filter(|p| p.contains("witness-key-followed"))
        .collect();
    assert_eq!(followed.len(), 1, "{followed:?}");
    assert!(
        followed[0].contains(&k1)
            && followed[0].contains(&k2)
            && followed[0].contains(&format!("\"index\":{}", rot.entry)),
        "{}",
        followed[0]
    );
    // The city's own verify accepts the prefecture's cosignature across the rotation.
    let opts = VerifyOptions {
        log_vkey: k2.clone(),
        previous_log_vkeys: vec![k1.clone()],
        witness_vkeys: vec![wkey.clone()],
        trusted_checkpoint: None,
        payload_dir: Some(d.join("ledger/wal")),
    };
    let r = verify_log(&FsTileStore::new(d.join("ledger")), &opts).unwrap();
    assert_eq!(
        r.witnesses,
        vec!["iwate.lg.jp/prefecture/witness".to_owned()]
    );

    // 4. Someone without k2 swaps in a key of their own: they re-sign the checkpoint, append a
    //    `key` entry naming their key (and an event that looks like a rotation), and sign the
    //    new checkpoints with it alone. The old key k2 never signed a tree holding that entry.
    let (forger, forger_skey) = CheckpointSigner::generate("iwate.lg.jp/ofunato").unwrap();
    let cp_path = d.join("ledger/checkpoint");
    let (cp, _) = SignedCheckpoint::verify(&std::fs::read(&cp_path).unwrap(), &k2, &[]).unwrap();
    std::fs::write(&cp_path, forger.sign(cp.size, &cp.root).unwrap().note).unwrap();
    std::fs::write(d.join("keys/log.key"), &forger_skey).unwrap();
    std::fs::write(d.join("keys/log.vkey"), format!("{}\n", forger.vkey())).unwrap();
    let rotation = |kind| {
        NewEntry {
        kind,
        payload: serde_json::json!({
            "event": {"kind": "event", "action": "key-rotated", "module": "mamori", "dataset": "mamori.admin"},
            "mamori": {"key": {"old_vkey": k2, "new_vkey": forger.vkey(), "reason": "forged"}},
        })
        .to_string()
        .into_bytes(),
    }
    };
    let p = open();
    let c = p.city(&t).unwrap();
    c.ledger
        .append_blocking(vec![rotation(EntryKind::Event), rotation(EntryKind::Key)])
        .unwrap();
    append(&p, &t, 2, "forged");
    let deadline = Instant::now() + Duration::from_secs(60);
    // (The checkpoint re-signed before the key entry was appended is refused too; wait for the
    // round over the checkpoint that holds it.)
    let size = c.ledger.durable_size();
    let alarm = loop {
        if let Some(a) = c.witness.status().alarm
            && a.checkpoint_size == size
        {
            break a;
        }
        assert!(
            Instant::now() < deadline,
            "no alarm: {:?}",
            c.witness.status()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(alarm.kind, "bad-signature", "{alarm:?}");
    assert_eq!(alarm.status, 403);
    assert!(
        alarm
            .message
            .contains("no checkpoint signed by the old key covers it"),
        "{}",
        alarm.message
    );
    assert_eq!(c.witness.log().1.vkey, k2, "the forged key is not followed");
    assert_eq!(
        c.witness.status().cosigned_size,
        s2,
        "nothing cosigned past the swap"
    );
    let note = c.ledger.checkpoint().note;
    assert!(
        SignedCheckpoint::verify(&note, forger.vkey(), std::slice::from_ref(&wkey))
            .is_ok_and(|(_, w)| w.is_empty()),
        "never cosigned"
    );
    p.close();
    drop(p);
    let alarms: Vec<String> = payloads(&pref_ledger)
        .into_iter()
        .filter(|p| p.contains("witness-alarm"))
        .collect();
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    assert!(
        alarms[0].contains("bad-signature") && alarms[0].contains("ofunato"),
        "{}",
        alarms[0]
    );
}

/// The evidence checks on their own: an inclusion proof of another entry, a non-key entry, a
/// rotation from a key the prefecture does not trust — each refused with why, nothing changed.
#[test]
fn rotation_evidence_is_checked_entry_by_entry() {
    use mamori_ledger::merkle::leaf_hash;
    use mamori_prefecture::witness::verify_inclusion;
    // RFC 9162 inclusion against the ledger's own proofs, for every index of a few sizes.
    let dir = tempfile::tempdir().unwrap();
    let (signer, _) = CheckpointSigner::generate("test.example/log").unwrap();
    let l = mamori_ledger::Ledger::open(mamori_ledger::LedgerConfig::new(
        dir.path().join("l"),
        signer,
    ))
    .unwrap();
    let entries = (0..13)
        .map(|i| NewEntry {
            kind: EntryKind::Event,
            payload: format!("{{\"n\":{i}}}").into_bytes(),
        })
        .collect();
    l.append_blocking(entries).unwrap();
    let cp = l.wait_checkpoint(13, Duration::from_secs(10));
    assert_eq!(cp.size, 13);
    for i in 0..13 {
        let pr = l.inclusion_proof(i).unwrap();
        assert!(
            verify_inclusion(i, 13, leaf_hash(&pr.entry), &pr.hashes, cp.root),
            "index {i}"
        );
        assert!(
            !verify_inclusion((i + 1) % 13, 13, leaf_hash(&pr.entry), &pr.hashes, cp.root),
            "index {i} moved"
        );
        let mut bad = pr.hashes.clone();
        if let Some(h) = bad.first_mut() {
            h.0[0] ^= 1;
            assert!(
                !verify_inclusion(i, 13, leaf_hash(&pr.entry), &bad, cp.root),
                "index {i} altered"
            );
        }
    }
    l.close();
}
