//! Key rotation is a ledgered event and keeps the log verifiable across the change of key.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn mamori(args: &[&str], data: &std::path::Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mamori")).args(args).arg("--data").arg(data).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

#[test]
fn rotated_key_is_ledgered_bridged_and_verifiable() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/../../samples/demo-events.ndjson");
    assert!(mamori(&["init"], &data).0);
    assert!(mamori(&["ingest", "--format", "ecs-ndjson", sample], &data).0);
    let old_vkey = std::fs::read_to_string(data.join("keys/log.vkey")).unwrap().trim().to_owned();
    let before = std::fs::read(data.join("ledger/checkpoint")).unwrap();
    let before_path = tmp.path().join("before.cp");
    std::fs::write(&before_path, &before).unwrap();

    let (ok, out) = mamori(&["rotate-key", "--reason", "年次更新 annual rotation"], &data);
    assert!(ok, "{out}");
    let new_vkey = std::fs::read_to_string(data.join("keys/log.vkey")).unwrap().trim().to_owned();
    assert_ne!(old_vkey, new_vkey);
    assert!(out.contains(&new_vkey));
    assert_eq!(std::fs::metadata(data.join("keys/log.key")).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::read_to_string(data.join("keys/previous.vkeys")).unwrap().trim(), old_vkey);

    // The bridge checkpoint carries both signatures.
    let bridge = std::fs::read(data.join("ledger/checkpoint")).unwrap();
    let (b_old, _) = mamori_ledger::SignedCheckpoint::verify(&bridge, &old_vkey, &[]).expect("old key signed the bridge");
    let (b_new, _) = mamori_ledger::SignedCheckpoint::verify(&bridge, &new_vkey, &[]).expect("new key signed the bridge");
    assert_eq!(b_old.size, b_new.size);

    // The rotation is in the ledger, with both keys and the reason.
    let (ok, out) = mamori(&["search", "--kind", "key", "--json"], &data);
    assert!(ok, "{out}");
    assert!(out.contains(&new_vkey) && out.contains(&old_vkey) && out.contains("annual rotation"), "{out}");

    // New entries are signed by the new key only; everything verifies, also against the
    // checkpoint signed by the retired key.
    assert!(mamori(&["ingest", "--format", "ecs-ndjson", sample], &data).0);
    let after = std::fs::read(data.join("ledger/checkpoint")).unwrap();
    assert!(mamori_ledger::SignedCheckpoint::verify(&after, &new_vkey, &[]).is_ok());
    assert!(mamori_ledger::SignedCheckpoint::verify(&after, &old_vkey, &[]).is_err(), "the retired key must not sign new checkpoints");
    let (ok, out) = mamori(&["verify", "--trusted-checkpoint", before_path.to_str().unwrap()], &data);
    assert!(ok, "{out}");
    assert!(out.contains("consistent with the trusted checkpoint"), "{out}");
}
