//! `mamori ingest --format evtx`: Windows event log files from the public sample corpus
//! (`shared/corpora/evtx` beside the repository, read in place) into a data directory, found
//! again by `mamori search` under their mapped actions, with a damaged copy's bad record
//! quarantined (named by chunk and record) and the ledger still verifying.

mod common;

use common::{Server, mamori, run_ok};
use serde_json::Value;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpora/evtx");
const LOGONS: &str = "attack/EVTX-ATTACK-SAMPLES/Credential Access/CA_4624_4625_LogonType2_LogonProc_chrome.evtx";
const ETERNAL_ROMANCE: &str =
    "attack/EVTX-to-MITRE-Attack/EVTX_full_APT_attack_steps/ID4624,4688,5140,5145-Eternal Romance - MS17_010_psexec (GLOBAL).evtx";

fn corpus(rel: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(CORPUS);
    assert!(
        dir.is_dir(),
        "EVTX corpus not found at {CORPUS}: this test needs shared/corpora/evtx beside the repository"
    );
    let p = dir.join(rel);
    assert!(p.is_file(), "corpus file missing: {}", p.display());
    p
}

fn search(data: &std::path::Path, args: &[&str]) -> Vec<Value> {
    let out = run_ok(mamori().args(["search", "--json", "--data"]).arg(data).args(args));
    out.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn ingest_evtx_files_search_by_action_and_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    run_ok(mamori().args(["init", "--data"]).arg(&data));

    // A damaged copy of the logon file: record 2's header magic destroyed (the records' header
    // numbers run 1–4 in this exported file; Windows' EventRecordIDs are 137222–137225).
    let mut damaged = std::fs::read(corpus(LOGONS)).unwrap();
    let second = 4096 + 512 + u32::from_le_bytes(damaged[4096 + 516..4096 + 520].try_into().unwrap()) as usize;
    assert_eq!(&damaged[second..second + 4], b"**\0\0");
    damaged[second..second + 4].copy_from_slice(b"XXXX");
    let damaged_path = tmp.path().join("pc-042-security.evtx");
    std::fs::write(&damaged_path, &damaged).unwrap();

    let out = mamori()
        .args(["ingest", "--format", "evtx", "--data"])
        .arg(&data)
        .arg(corpus(LOGONS))
        .arg(corpus(ETERNAL_ROMANCE))
        .arg(&damaged_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("accepted 4,") && stdout.contains("accepted 46,"), "{stdout}");
    assert!(stdout.contains("accepted 3,") && stdout.contains("quarantined 1"), "the damaged copy: {stdout}");
    assert!(
        stderr.contains(&format!("pc-042-security.evtx: chunk 0, record 2 (file offset {second:#x}): the record cannot be read")),
        "the error names file, chunk and record: {stderr}"
    );

    // 4625 from the logon file and from the damaged copy (its record 1 is intact).
    let failed = search(&data, &["--action", "logon-failed"]);
    assert_eq!(failed.len(), 2, "{failed:#?}");
    for h in &failed {
        let e = &h["event"];
        assert_eq!(e["event"]["code"], "4625");
        assert_eq!(e["user"]["name"], "IEUser");
        assert_eq!(e["host"]["name"], "MSEDGEWIN10");
        assert_eq!(e["winlog"]["record_id"], 137222);
        assert_eq!(e["winlog"]["logon"]["type"], "Interactive");
        assert_eq!(e["@timestamp"], "2020-09-09T13:18:23.627952Z");
    }

    let cleared = search(&data, &["--action", "audit-log-cleared"]);
    assert_eq!(cleared.len(), 1);
    assert_eq!(cleared[0]["event"]["user"]["name"], "admmig");
    assert_eq!(cleared[0]["event"]["winlog"]["record_id"], 435110);

    let processes = search(&data, &["--action", "created-process"]);
    assert_eq!(processes.len(), 5);
    assert!(processes.iter().any(|h| h["event"]["process"]["name"] == "powershell.exe"));

    let shares = search(&data, &["--action", "network-share-object-checked", "--user", "admmig"]);
    assert!(shares.iter().any(|h| h["event"]["file"]["path"] == r"\\*\C$\Users\admmig\Desktop\MS17_010_psexec.evtx"), "{shares:#?}");

    // Unmapped event IDs are events too, searchable by their raw content.
    let raw = search(&data, &["--q", "4964"]);
    assert!(raw.iter().any(|h| h["event"]["event"]["code"] == "4964"), "{raw:#?}");

    let q = search(&data, &["--kind", "quarantine"]);
    assert_eq!(q.len(), 1);
    let reason = q[0]["event"]["mamori"]["quarantine"]["reason"].as_str().unwrap();
    assert!(reason.contains("chunk 0, record 2"), "{reason}");
    assert_eq!(q[0]["event"]["mamori"]["quarantine"]["format"], "evtx");
    assert_eq!(q[0]["event"]["mamori"]["quarantine"]["offset"], second as u64);

    let out = run_ok(mamori().args(["verify", "--data"]).arg(&data));
    assert!(out.contains("verified"), "{out}");

    // The same file through a running server (`--server`, `POST /api/v1/events?format=evtx`).
    let token = run_ok(mamori().args(["token", "--name", "wef", "--role", "ingest", "--data"]).arg(&data)).trim().to_owned();
    let before = search(&data, &["--action", "audit-log-cleared"]).len();
    let srv = Server::start(&data, &["--listen", "127.0.0.1:0"]);
    let out = mamori().args(["ingest", "--format", "evtx", "--server", &srv.http, "--token", &token]).arg(corpus(ETERNAL_ROMANCE)).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("quarantined 0"), "{}", String::from_utf8_lossy(&out.stdout));
    srv.stop();
    assert_eq!(search(&data, &["--action", "audit-log-cleared"]).len(), before + 1, "the log-cleared event arrived through the server");
}
