//! The prefecture as the witness of a city on its own box, over HTTP (c2sp tlog-witness): a
//! real single-city `mamori serve` lists `mamori prefecture serve` (real binary, real
//! clickhouse-server on 127.0.0.1) in its `[[witnesses]]`; its checkpoints are cosigned, its own
//! `mamori verify --witness-key <prefecture key>` passes; an old checkpoint replayed answers 409
//! with the cosigned size and raises a `rollback` alarm (health, prefecture ledger). Then the
//! city rotates its key (`mamori rotate-key`): a forged rotation (the key entry's payload
//! altered to name another key) is refused (422, `bad-rotation` alarm), the genuine evidence
//! (sent by `mamori prefecture follow-rotation`) is accepted, and the city's checkpoints signed
//! by the new key are cosigned again.

mod common;

use common::{PrefServe, Server, mamori, run_ok};
use mamori_ledger::witness::add_checkpoint_body;
use mamori_store_clickhouse::local::LocalServer;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

fn after(out: &str, label: &str) -> String {
    let mut it = out.lines();
    while let Some(l) = it.next() {
        if l.contains(label) {
            return it.next().unwrap().trim().to_owned();
        }
    }
    panic!("no {label:?} in {out}");
}

fn health(http: &reqwest::blocking::Client, pref: &PrefServe, token: &str) -> Value {
    http.get(format!("{}/prefecture/api/v1/health", pref.base)).bearer_auth(token).send().unwrap().json().unwrap()
}

fn ingest(http: &reqwest::blocking::Client, srv: &Server, token: &str, tag: &str, n: usize) {
    let body: String = (0..n).map(|i| format!("{{\"user\":{{\"name\":\"tanaka\"}},\"message\":\"{tag} {i}\"}}\n")).collect();
    let r = http.post(format!("{}/api/v1/events", srv.http)).bearer_auth(token).body(body).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

/// Waits until the city publishes a checkpoint of at least `min` entries, signed by `vkey` and
/// cosigned by the prefecture, and the prefecture's health shows that size cosigned.
fn wait_cosigned(http: &reqwest::blocking::Client, srv: &Server, pref: &PrefServe, token: &str, vkey: &str, wkey: &str, min: u64) -> (Vec<u8>, u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let note = http.get(format!("{}/checkpoint", srv.http)).send().unwrap().bytes().unwrap().to_vec();
        let h = health(http, pref, token);
        if let Ok((cp, w)) = mamori_ledger::SignedCheckpoint::verify(&note, vkey, &[wkey.to_owned()])
            && cp.size >= min
            && !w.is_empty()
            && h["remote_cities"][0]["witness"]["cosigned_size"].as_u64() == Some(cp.size)
        {
            return (note, cp.size);
        }
        assert!(Instant::now() < deadline, "no cosigned checkpoint of size ≥ {min}; last:\n{}\nhealth {h}", String::from_utf8_lossy(&note));
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn prefecture_ledger_payloads(root: &Path) -> Vec<String> {
    let dir = root.join("prefecture").join("ledger");
    let size = mamori_ledger::SignedCheckpoint::parse_unverified(&std::fs::read(dir.join("checkpoint")).unwrap()).unwrap().size;
    mamori_ledger::engine::read_records(&dir, 0, size, 1_000_000)
        .unwrap()
        .into_iter()
        .map(|r| String::from_utf8_lossy(&r.payload).into_owned())
        .collect()
}

#[test]
fn remote_city_is_witnessed_over_http_refuses_a_replay_and_follows_a_proven_rotation() {
    let tmp = tempfile::tempdir().unwrap();
    let ch = LocalServer::start(&tmp.path().join("ch"), None).expect("start clickhouse-server");
    let root = tmp.path().join("iwate");
    let r = root.to_str().unwrap();
    let out = run_ok(mamori().args(["prefecture", "init", "--root", r, "--domain", "iwate.lg.jp"]));
    let pref_token = after(&out, "prefecture admin token (shown once)");
    let wkey = after(&out, "prefecture witness key");

    // The city: its own data dir, as on its own box.
    let city = tmp.path().join("kita");
    let out = run_ok(mamori().args(["init", "--origin", "kita-machi.example.lg.jp", "--data"]).arg(&city));
    let vkey = after(&out, "log verifier key");
    let admin = after(&out, "admin token");
    let cfg = city.join("config.toml");
    let c = std::fs::read_to_string(&cfg).unwrap().replace("checkpoint_interval_ms = 500", "checkpoint_interval_ms = 100");
    assert!(c.contains("witnesses = []\n"), "{c}");
    std::fs::write(&cfg, c.replace("witnesses = []\n", "")).unwrap();

    // Registration: a key not named after the origin is refused; the right one is ledgered.
    let bad = mamori()
        .args(["prefecture", "add-remote-city", "--root", r, "--name", "kita-machi", "--origin", "other.example.lg.jp", "--key", &vkey])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not named after the origin"), "{}", String::from_utf8_lossy(&bad.stderr));
    let out = run_ok(mamori().args(["prefecture", "add-remote-city", "--root", r, "--name", "kita-machi", "--origin", "kita-machi.example.lg.jp", "--key", &vkey]));
    assert!(out.contains(&wkey) && out.contains("/prefecture/witness"), "{out}");
    assert!(prefecture_ledger_payloads(&root).iter().any(|p| p.contains("remote-city-added") && p.contains(&vkey)));

    let mut pref = PrefServe::start(&["--root", r, "--clickhouse", &ch.url()]);
    let mut c = std::fs::read_to_string(&cfg).unwrap();
    c.push_str(&format!("\n[[witnesses]]\nurl = \"{}/prefecture/witness\"\nvkey = \"{wkey}\"\n", pref.base));
    std::fs::write(&cfg, c).unwrap();
    let http = reqwest::blocking::Client::new();

    let srv = Server::start(&city, &["--listen", "127.0.0.1:0"]);
    ingest(&http, &srv, &admin, "a", 3);
    let (old_note, s1) = wait_cosigned(&http, &srv, &pref, &pref_token, &vkey, &wkey, 4);
    ingest(&http, &srv, &admin, "b", 2);
    let (_, s2) = wait_cosigned(&http, &srv, &pref, &pref_token, &vkey, &wkey, s1 + 2);
    let h = health(&http, &pref, &pref_token);
    assert_eq!(h["witness"]["alarms"], 0, "{h}");
    assert_eq!(h["remote_cities"][0]["name"], "kita-machi", "{h}");

    // An old checkpoint replayed: 409 with the cosigned size, and a rollback alarm.
    let endpoint = format!("{}/prefecture/witness/add-checkpoint", pref.base);
    let resp = http.post(&endpoint).body(add_checkpoint_body(s1, &[], &old_note)).send().unwrap();
    assert_eq!(resp.status().as_u16(), 409);
    assert_eq!(resp.headers()["content-type"], "text/x.tlog.size");
    assert_eq!(resp.text().unwrap(), format!("{s2}\n"));
    let h = health(&http, &pref, &pref_token);
    assert_eq!(h["witness"]["alarms"], 1, "{h}");
    assert_eq!(h["witness"]["refused_cities"][0], "kita-machi", "{h}");
    assert_eq!(h["remote_cities"][0]["witness"]["alarm"]["kind"], "rollback", "{h}");
    assert_eq!(h["remote_cities"][0]["witness"]["alarm"]["checkpoint_size"], s1, "{h}");
    // An unknown log: 404; not a request: 400; neither is an alarm.
    let (other, _) = mamori_ledger::CheckpointSigner::generate("other.example.lg.jp").unwrap();
    let other_cp = other.sign(0, &mamori_ledger::merkle::EMPTY_TREE_HASH).unwrap();
    assert_eq!(http.post(&endpoint).body(add_checkpoint_body(0, &[], &other_cp.note)).send().unwrap().status().as_u16(), 404);
    assert_eq!(http.post(&endpoint).body("hello").send().unwrap().status().as_u16(), 400);
    assert_eq!(health(&http, &pref, &pref_token)["witness"]["alarms"], 1);

    // The city goes on being cosigned; its own verify requires and accepts the prefecture.
    ingest(&http, &srv, &admin, "c", 1);
    let (_, s3) = wait_cosigned(&http, &srv, &pref, &pref_token, &vkey, &wkey, s2 + 1);
    srv.stop();
    let out = run_ok(mamori().args(["verify", "--data"]).arg(&city).args(["--witness-key", &wkey]));
    assert!(out.contains("iwate.lg.jp/prefecture/witness"), "{out}");

    // Key rotation. The evidence: the key entry, proved in the bridge checkpoint the old key
    // signed, consistent with what the prefecture cosigned.
    let out = run_ok(mamori().args(["rotate-key", "--reason", "年次更新 annual rotation", "--data"]).arg(&city));
    let new_vkey = std::fs::read_to_string(city.join("keys/log.vkey")).unwrap().trim().to_owned();
    assert!(out.contains(&new_vkey));
    let cosigned = health(&http, &pref, &pref_token)["remote_cities"][0]["witness"]["cosigned_size"].as_u64().unwrap();
    assert!(cosigned >= s3);
    let evidence = {
        let dd = mamori_server::DataDir::new(&city);
        let opened = dd.open().unwrap();
        let bridge = opened.ledger.checkpoint();
        assert!(mamori_ledger::SignedCheckpoint::verify(&bridge.note, &vkey, &[]).is_ok(), "the bridge is signed by the old key");
        let key_index = mamori_ledger::engine::read_records(opened.ledger.dir(), s3.saturating_sub(1), bridge.size, 1000)
            .unwrap()
            .into_iter()
            .find(|r| r.kind == mamori_ledger::EntryKind::Key)
            .expect("the key entry")
            .index;
        let ev = mamori_prefecture::witness::rotation_evidence(&opened.ledger, key_index, &bridge, cosigned).unwrap();
        opened.ledger.close();
        ev
    };
    let rotate = format!("{}/prefecture/witness/rotate-key", pref.base);
    // Forged: the same entry with its payload naming an attacker's key.
    let (attacker, _) = mamori_ledger::CheckpointSigner::generate("kita-machi.example.lg.jp").unwrap();
    let mut forged = evidence.clone();
    forged.payload = forged.payload.replace(&new_vkey, attacker.vkey());
    let resp = http.post(&rotate).json(&serde_json::json!({"origin": "kita-machi.example.lg.jp", "evidence": forged})).send().unwrap();
    assert_eq!(resp.status().as_u16(), 422);
    let v: Value = resp.json().unwrap();
    assert!(v["error"]["message_en"].as_str().unwrap().contains("commitment"), "{v}");
    let h = health(&http, &pref, &pref_token);
    assert_eq!(h["remote_cities"][0]["witness"]["alarm"]["kind"], "bad-rotation", "{h}");
    assert_eq!(h["remote_cities"][0]["vkey"], vkey.as_str(), "the forged key is not trusted: {h}");
    // A checkpoint signed by the attacker's key: 403 and a bad-signature alarm.
    let fake = attacker.sign(s3 + 5, &mamori_ledger::merkle::EMPTY_TREE_HASH).unwrap();
    assert_eq!(http.post(&endpoint).body(add_checkpoint_body(s3, &[], &fake.note)).send().unwrap().status().as_u16(), 403);
    assert_eq!(health(&http, &pref, &pref_token)["remote_cities"][0]["witness"]["alarm"]["kind"], "bad-signature");

    // The genuine evidence, sent by the city's `mamori prefecture follow-rotation` (the key
    // entry proved in the bridge), is accepted; the city's new-key checkpoints are cosigned again.
    let out = run_ok(mamori().args(["prefecture", "follow-rotation", "--data"]).arg(&city).args(["--witness", &format!("{}/prefecture/witness", pref.base)]));
    assert!(out.contains(&new_vkey), "{out}");
    let h = health(&http, &pref, &pref_token);
    assert_eq!(h["remote_cities"][0]["vkey"], new_vkey.as_str(), "{h}");
    let srv = Server::start(&city, &["--listen", "127.0.0.1:0"]);
    ingest(&http, &srv, &admin, "d", 2);
    let (note, _) = wait_cosigned(&http, &srv, &pref, &pref_token, &new_vkey, &wkey, evidence.tree_size + 2);
    assert!(mamori_ledger::SignedCheckpoint::verify(&note, &vkey, &[]).is_err(), "signed by the new key only");
    srv.stop();
    let out = run_ok(mamori().args(["verify", "--data"]).arg(&city).args(["--witness-key", &wkey]));
    assert!(out.contains("iwate.lg.jp/prefecture/witness"), "{out}");
    pref.stop();

    // Ledgered in the prefecture's ledger: the replay, the forged rotation, the followed one.
    let payloads = prefecture_ledger_payloads(&root);
    let has = |a: &str, b: &str| payloads.iter().any(|p| p.contains(a) && p.contains(b));
    assert!(has("witness-alarm", "\"rollback\""), "{payloads:?}");
    assert!(has("witness-alarm", "\"bad-rotation\""), "{payloads:?}");
    assert!(has("witness-alarm", "\"bad-signature\""), "{payloads:?}");
    assert!(has("witness-key-followed", &new_vkey), "{payloads:?}");
}
