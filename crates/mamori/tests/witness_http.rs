//! Witnessing over HTTP between two real `mamori serve` processes: a city's log and the
//! prefecture acting as its witness (c2sp tlog-witness). The city's published checkpoint carries
//! the prefecture's cosignature, `mamori verify` demands it, and a fork made with the city's own
//! signing key is refused by the witness (422, alarms on both sides) and by
//! `verify --trusted-checkpoint`.

mod common;

use common::{Server, mamori};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

struct Init {
    vkey: String,
    witness_vkey: String,
    admin: String,
}

fn init(data: &Path, origin: &str) -> Init {
    let out = mamori().args(["init", "--origin", origin, "--data"]).arg(data).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let after = |label: &str| lines[lines.iter().position(|l| l.contains(label)).unwrap_or_else(|| panic!("{label} in {text}")) + 1].trim().to_owned();
    let cfg = data.join("config.toml");
    let c = std::fs::read_to_string(&cfg).unwrap().replace("checkpoint_interval_ms = 500", "checkpoint_interval_ms = 100");
    std::fs::write(&cfg, c).unwrap();
    Init { vkey: after("log verifier key"), witness_vkey: after("witness verifier key"), admin: after("admin token") }
}

fn edit_config(data: &Path, from: &str, to: &str) {
    let p = data.join("config.toml");
    let c = std::fs::read_to_string(&p).unwrap();
    assert!(c.contains(from), "{from:?} not in {c}");
    std::fs::write(&p, c.replace(from, to)).unwrap();
}

fn run(args: &[&str]) -> (i32, String) {
    let out: Output = mamori().args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn ingest(client: &reqwest::blocking::Client, srv: &Server, token: &str, tag: &str, n: usize) {
    let body: String = (0..n).map(|i| format!("{{\"user\":{{\"name\":\"tanaka\"}},\"message\":\"{tag} {i}\"}}\n")).collect();
    let r = client.post(format!("{}/api/v1/events", srv.http)).bearer_auth(token).body(body).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: serde_json::Value = r.json().unwrap();
    assert_eq!(v["accepted"], n);
}

fn checkpoint(client: &reqwest::blocking::Client, srv: &Server) -> Vec<u8> {
    client.get(format!("{}/checkpoint", srv.http)).send().unwrap().bytes().unwrap().to_vec()
}

/// Waits for the log's published checkpoint of exactly `size` carrying a cosignature that
/// verifies with `wkey`; returns it.
fn wait_cosigned(client: &reqwest::blocking::Client, srv: &Server, log_vkey: &str, wkey: &str, size: u64) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let note = checkpoint(client, srv);
        if let Ok((cp, w)) = mamori_ledger::SignedCheckpoint::verify(&note, log_vkey, &[wkey.to_owned()])
            && cp.size == size
            && !w.is_empty()
        {
            return note;
        }
        assert!(Instant::now() < deadline, "no cosigned checkpoint of size {size}; last:\n{}", String::from_utf8_lossy(&note));
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn metric(client: &reqwest::blocking::Client, srv: &Server, token: &str, name: &str) -> f64 {
    let text = client.get(format!("{}/metrics", srv.http)).bearer_auth(token).send().unwrap().text().unwrap();
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' '))).unwrap().trim().parse().unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    let st = Command::new("cp").arg("-a").arg(from).arg(to).status().unwrap();
    assert!(st.success());
}

#[test]
fn prefecture_witnesses_the_city_and_refuses_a_fork() {
    let tmp = tempfile::tempdir().unwrap();
    let city_dir = tmp.path().join("city");
    let pref_dir = tmp.path().join("pref");
    let city = init(&city_dir, "mamori.city.example.lg.jp/audit");
    let pref = init(&pref_dir, "mamori.pref.example.lg.jp/audit");
    // The printed witness key is the one derived from keys/witness.key.
    let wskey = std::fs::read_to_string(pref_dir.join("keys/witness.key")).unwrap();
    let derived = mamori_ledger::checkpoint::Cosigner::from_skey(&wskey).unwrap();
    assert_eq!(derived.vkey(), pref.witness_vkey);
    let wname = derived.name().to_owned();

    edit_config(&pref_dir, "[witness]\nenabled = false\nlogs = []", &format!("[witness]\nenabled = true\nlogs = [\"{}\"]", city.vkey));
    let pref_srv = Server::start(&pref_dir, &["--listen", "127.0.0.1:0"]);
    let pref_addr = pref_srv.http.trim_start_matches("http://").to_owned();
    edit_config(&city_dir, "witnesses = []\n", "");
    let mut c = std::fs::read_to_string(city_dir.join("config.toml")).unwrap();
    c.push_str(&format!("\n[[witnesses]]\nurl = \"{}\"\nvkey = \"{}\"\n", pref_srv.http, pref.witness_vkey));
    std::fs::write(city_dir.join("config.toml"), c).unwrap();

    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let city_srv = Server::start(&city_dir, &["--listen", "127.0.0.1:0"]);
    // Size 1 (the initial admin token) + 3 events.
    ingest(&client, &city_srv, &city.admin, "batch-A", 3);
    let cp_a = wait_cosigned(&client, &city_srv, &city.vkey, &pref.witness_vkey, 4);
    let text = String::from_utf8_lossy(&cp_a).into_owned();
    assert!(text.lines().any(|l| l.starts_with(&format!("— {wname} "))), "cosignature line from {wname}:\n{text}");
    // The witness persisted what it cosigned.
    let state = std::fs::read_to_string(pref_dir.join("witness/state.json")).unwrap();
    assert!(state.contains("mamori.city.example.lg.jp/audit"), "{state}");
    let cp_a_path = tmp.path().join("cp-a");
    std::fs::write(&cp_a_path, &cp_a).unwrap();

    // Snapshot of the city at size 4, taken while it is stopped: the material for a fork.
    city_srv.stop();
    let snap = tmp.path().join("snap-a");
    copy_dir(&city_dir, &snap);

    let city_srv = Server::start(&city_dir, &["--listen", "127.0.0.1:0"]);
    ingest(&client, &city_srv, &city.admin, "batch-B", 2);
    let cp_b = wait_cosigned(&client, &city_srv, &city.vkey, &pref.witness_vkey, 6);
    let cp_b_path = tmp.path().join("cp-b");
    std::fs::write(&cp_b_path, &cp_b).unwrap();
    let city_url = city_srv.http.clone();
    let (code, out) = run(&["verify", "--url", &city_url, "--log-key", &city.vkey, "--witness-key", &pref.witness_vkey]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("verified: 6 entries") && out.contains(&wname), "{out}");
    let (code, out) = run(&["verify", "--data", city_dir.to_str().unwrap(), "--witness-key", &pref.witness_vkey, "--trusted-checkpoint", cp_a_path.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("consistent with the trusted checkpoint of size 4"), "{out}");

    // The witness is down: the next checkpoint is published without its cosignature, and
    // verify refuses it when the cosignature is demanded (exit 2), accepts it otherwise.
    pref_srv.stop();
    ingest(&client, &city_srv, &city.admin, "batch-uncosigned", 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    let fresh = loop {
        let note = checkpoint(&client, &city_srv);
        let (cp, w) = mamori_ledger::SignedCheckpoint::verify(&note, &city.vkey, std::slice::from_ref(&pref.witness_vkey)).unwrap();
        if cp.size == 7 {
            assert!(w.is_empty(), "size 7 cannot be cosigned: the witness is down");
            break note;
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!String::from_utf8_lossy(&fresh).contains(&format!("— {wname} ")));
    let (code, out) = run(&["verify", "--url", &city_url, "--log-key", &city.vkey, "--witness-key", &pref.witness_vkey]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("carries no valid cosignature from witness") && out.contains(&wname), "{out}");
    let (code, out) = run(&["verify", "--url", &city_url, "--log-key", &city.vkey]);
    assert_eq!(code, 0, "{out}");

    // The witness comes back (same address, persisted state): the city retries the failed
    // submission by itself, so size 7 gets cosigned without new events; the next checkpoint is
    // cosigned too, from the size it last saw.
    let pref_srv = Server::start(&pref_dir, &["--listen", &pref_addr]);
    wait_cosigned(&client, &city_srv, &city.vkey, &pref.witness_vkey, 7);
    ingest(&client, &city_srv, &city.admin, "batch-C", 1);
    let cp_c = wait_cosigned(&client, &city_srv, &city.vkey, &pref.witness_vkey, 8);
    let cp_c_path = tmp.path().join("cp-c");
    std::fs::write(&cp_c_path, &cp_c).unwrap();
    city_srv.stop();
    let (code, out) = run(&["verify", "--data", city_dir.to_str().unwrap(), "--witness-key", &pref.witness_vkey]);
    assert_eq!(code, 0, "after shutdown the data directory verifies with the cosignature: {out}");

    // The fork: the snapshot at size 4, same signing key, different events after it.
    let fork_dir = tmp.path().join("fork");
    copy_dir(&snap, &fork_dir);
    let fork_srv = Server::start(&fork_dir, &["--listen", "127.0.0.1:0"]);
    ingest(&client, &fork_srv, &city.admin, "rewritten-history", 10);
    let deadline = Instant::now() + Duration::from_secs(15);
    while metric(&client, &fork_srv, &city.admin, "mamori_witness_alarms_total") < 1.0 || metric(&client, &pref_srv, &pref.admin, "mamori_witness_alarms_total") < 1.0 {
        assert!(Instant::now() < deadline, "no witness alarm on the fork ({}) or the witness ({})", metric(&client, &fork_srv, &city.admin, "mamori_witness_alarms_total"), metric(&client, &pref_srv, &pref.admin, "mamori_witness_alarms_total"));
        std::thread::sleep(Duration::from_millis(100));
    }
    let fork_cp = checkpoint(&client, &fork_srv);
    let (fcp, w) = mamori_ledger::SignedCheckpoint::verify(&fork_cp, &city.vkey, std::slice::from_ref(&pref.witness_vkey)).expect("the fork is validly signed by the city's key");
    assert_eq!(fcp.size, 14);
    assert!(w.is_empty(), "the witness must not cosign the fork");
    fork_srv.stop();

    // Presented directly, with a consistency proof from the size the witness holds: 422.
    let (code, out) = run(&["proof", "consistency", "--data", fork_dir.to_str().unwrap(), "8", "14", "--json"]);
    assert_eq!(code, 0, "{out}");
    let proof: serde_json::Value = serde_json::from_str(&out[..out.rfind('}').unwrap() + 1]).unwrap();
    let mut body = b"old 8\n".to_vec();
    for h in proof["hashes"].as_array().unwrap() {
        body.extend_from_slice(h.as_str().unwrap().as_bytes());
        body.push(b'\n');
    }
    body.push(b'\n');
    body.extend_from_slice(&std::fs::read(fork_dir.join("ledger/checkpoint")).unwrap());
    let alarms0 = metric(&client, &pref_srv, &pref.admin, "mamori_witness_alarms_total");
    let r = client.post(format!("{}/add-checkpoint", pref_srv.http)).body(body).send().unwrap();
    assert_eq!(r.status().as_u16(), 422);
    assert!(r.text().unwrap().contains("does not verify"));
    assert_eq!(metric(&client, &pref_srv, &pref.admin, "mamori_witness_alarms_total"), alarms0 + 1.0);
    // The genuine history still extends what the witness holds.
    let state = std::fs::read_to_string(pref_dir.join("witness/state.json")).unwrap();
    let cp_c_parsed = mamori_ledger::SignedCheckpoint::verify(&cp_c, &city.vkey, &[]).unwrap().0;
    assert!(state.contains("\"size\": 8") || state.contains("\"size\":8"), "{state}");
    assert_eq!(cp_c_parsed.size, 8);
    pref_srv.stop();

    // An auditor holding an earlier cosigned checkpoint detects the rewrite and the truncation.
    let fork = fork_dir.to_str().unwrap();
    for trusted in [&cp_b_path, &cp_c_path] {
        let (code, out) = run(&["verify", "--data", fork, "--trusted-checkpoint", trusted.to_str().unwrap()]);
        assert_eq!(code, 2, "{out}");
        assert!(out.contains("rewritten"), "{out}");
    }
    let (code, out) = run(&["verify", "--data", fork, "--witness-key", &pref.witness_vkey]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no valid cosignature"), "{out}");
    let (code, out) = run(&["verify", "--data", fork, "--trusted-checkpoint", cp_a_path.to_str().unwrap()]);
    assert_eq!(code, 0, "the fork does extend the checkpoint taken before it diverged: {out}");
    let (code, out) = run(&["verify", "--data", snap.to_str().unwrap(), "--trusted-checkpoint", cp_c_path.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("truncated"), "{out}");
}
