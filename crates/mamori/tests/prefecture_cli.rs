//! `mamori prefecture init|add-city|serve` with a real clickhouse-server on 127.0.0.1: tokens
//! printed once, two cities ingesting through their own `_bulk`, the prefecture's health
//! (aggregates, witnessing), indexing through NATS JetStream (`--nats`, a real nats-server),
//! and each city's own `mamori verify` accepting the prefecture's cosignature after the server
//! stopped.

mod common;

use common::{mamori, run_ok};
use mamori_store_clickhouse::local::LocalServer;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The line after the one containing `label`.
fn after(out: &str, label: &str) -> String {
    let mut it = out.lines();
    while let Some(l) = it.next() {
        if l.contains(label) {
            return it.next().unwrap().trim().to_owned();
        }
    }
    panic!("no {label:?} in {out}");
}

#[test]
fn prefecture_cli_init_add_city_serve_and_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let ch = LocalServer::start(&tmp.path().join("ch"), None).expect("start clickhouse-server");
    let nats = mamori_bus::local::NatsServer::start(&tmp.path().join("nats")).expect("start nats-server");
    let root = tmp.path().join("iwate");
    let r = root.to_str().unwrap();

    let out = run_ok(mamori().args(["prefecture", "init", "--root", r, "--domain", "iwate.lg.jp"]));
    let pref_token = after(&out, "prefecture admin token (shown once)");
    let wkey = after(&out, "prefecture witness key");
    assert!(wkey.starts_with("iwate.lg.jp/prefecture/witness+"), "{out}");
    let mut city_tokens = Vec::new();
    for id in ["aoba-shi", "midori-machi"] {
        let out = run_ok(mamori().args(["prefecture", "add-city", "--root", r, "--id", id]));
        assert!(out.contains(&format!("iwate.lg.jp/{id}")), "{out}");
        assert!(out.contains(&wkey), "prints the verify command with the witness key: {out}");
        city_tokens.push(after(&out, "city admin token (shown once)"));
    }
    // Bad ids and a second init are refused with a message.
    let bad = mamori().args(["prefecture", "add-city", "--root", r, "--id", "Aoba'"]).output().unwrap();
    assert!(!bad.status.success());
    let again = mamori().args(["prefecture", "init", "--root", r]).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already"), "{}", String::from_utf8_lossy(&again.stderr));

    let mut child = mamori()
        .args(["prefecture", "serve", "--root", r, "--clickhouse", &ch.url(), "--nats", &nats.url(), "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let l = lines.next().expect("server output").unwrap();
        if l.contains("listening on") {
            let i = l.rfind("http").unwrap();
            break l[i..].split_whitespace().next().unwrap().trim_end_matches('/').to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let http = reqwest::blocking::Client::new();

    // Each city ships through its own `_bulk`.
    for (n, (id, tok)) in ["aoba-shi", "midori-machi"].iter().zip(&city_tokens).enumerate() {
        let body: String = (0..3 + n)
            .map(|i| format!("{{\"create\":{{}}}}\n{{\"@timestamp\":\"2024-05-01T09:00:0{i}+09:00\",\"user\":{{\"name\":\"sato\"}},\"message\":\"{id} {i}\"}}\n"))
            .collect();
        let resp = http.post(format!("{base}/t/{id}/_bulk")).bearer_auth(tok).body(body).send().unwrap();
        assert_eq!(resp.status(), 200);
        let v: Value = resp.json().unwrap();
        assert_eq!(v["errors"], false, "{v}");
    }
    // The other city's token does not work there.
    let resp = http.post(format!("{base}/t/aoba-shi/_bulk")).bearer_auth(&city_tokens[1]).body("{\"create\":{}}\n{}\n").send().unwrap();
    assert_eq!(resp.status(), 401);

    // The prefecture's health: both cities indexed and cosigned by the prefecture's witness.
    let deadline = Instant::now() + Duration::from_secs(90);
    let h = loop {
        let h: Value = http.get(format!("{base}/prefecture/api/v1/health")).bearer_auth(&pref_token).send().unwrap().json().unwrap();
        let ok = h["cities"].as_array().is_some_and(|cs| {
            cs.len() == 2
                && cs.iter().all(|c| {
                    let size = c["ledger_size"].as_u64().unwrap_or(0);
                    size > 1
                        && c["feed"] == "nats"
                        && c["indexed_upto"].as_u64() == Some(size - 1)
                        && c["witness"]["cosigned_size"].as_u64() == Some(size)
                })
        });
        if ok {
            break h;
        }
        assert!(Instant::now() < deadline, "not indexed and cosigned: {h}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(h["witness"]["vkey"], wkey.as_str());
    assert_eq!(h["witness"]["alarms"], 0);
    assert!(!h.to_string().contains("aoba-shi 0"), "aggregates only: {h}");

    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "prefecture serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Each city's own verify accepts the prefecture's cosignature as a required witness.
    for id in ["aoba-shi", "midori-machi"] {
        let data = root.join("cities").join(id);
        let out = run_ok(mamori().args(["verify", "--data", data.to_str().unwrap(), "--witness-key", &wkey]));
        assert!(out.contains("iwate.lg.jp/prefecture/witness"), "{out}");
    }
}
