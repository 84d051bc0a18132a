//! End-to-end ingest benchmark against a real `mamori serve` (release build): 1 KB ECS events
//! over NDJSON (`POST /api/v1/events`) and the Elasticsearch `_bulk` API, ack = durable.
//! Reports events/s, p50/p99 ack latency per request, time until everything is indexed, the
//! largest index lag seen, bytes on disk per event, and timeline query latency.
//!
//! `cargo bench -p mamori --bench e2e` — env: MAMORI_BENCH_EVENTS (default 1,000,000),
//! MAMORI_BENCH_CLIENTS (4), MAMORI_BENCH_BATCH (1,000 events per request).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A deterministic ~1 KB ECS event (xorshift, no external RNG needed).
fn event(seed: &mut u64) -> String {
    let mut next = || {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    };
    let user = next() % 600;
    let host = next() % 50;
    let actions = ["file-open", "file-copy", "file-write", "print", "email-send", "logon", "usb-mount", "export"];
    let action = actions[(next() % actions.len() as u64) as usize];
    let day = 1 + next() % 28;
    let (h, m, s) = (8 + next() % 10, next() % 60, next() % 60);
    let rec = next() % 100_000;
    let pad = "x".repeat(430);
    format!(
        r#"{{"@timestamp":"2026-04-{day:02}T{h:02}:{m:02}:{s:02}+09:00","event":{{"action":"{action}","category":["file"],"outcome":"success","dataset":"bench.city"}},"user":{{"name":"staff{user:03}","domain":"CITY"}},"host":{{"name":"PC-{host:03}"}},"source":{{"ip":"10.1.{}.{}"}},"file":{{"path":"\\\\fs-honcho-01\\住民基本台帳\\2026\\抽出_{rec}.csv","size":{rec}}},"message":"staff{user:03} が {action} を実行しました 住民記録 {rec} 件 {pad}"}}"#,
        host, user % 250
    )
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if v.is_empty() { 0.0 } else { v[((v.len() - 1) as f64 * p).round() as usize] }
}

fn main() {
    let total = env("MAMORI_BENCH_EVENTS", 1_000_000);
    let clients = env("MAMORI_BENCH_CLIENTS", 4);
    let batch = env("MAMORI_BENCH_BATCH", 1000);
    let bin = env!("CARGO_BIN_EXE_mamori");
    let tmp = tempfile::tempdir_in(std::env::var("MAMORI_BENCH_DIR").unwrap_or_else(|_| env!("CARGO_TARGET_TMPDIR").into())).unwrap();
    let data = tmp.path().join("data");
    let run = |args: &[&str]| {
        let o = Command::new(bin).args(args).arg("--data").arg(&data).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap().trim().to_owned()
    };
    run(&["init"]);
    let ingest = run(&["token", "--name", "bench", "--role", "ingest"]);
    let reader = run(&["token", "--name", "bench-r", "--role", "auditor"]);
    let mut child = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let l = lines.next().unwrap().unwrap();
        if let Some(i) = l.find("http://") {
            break l[i..].split_whitespace().next().unwrap().trim_end_matches('/').to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(120)).build().unwrap();
    let status = |c: &reqwest::blocking::Client| -> serde_json::Value {
        c.get(format!("{base}/api/v1/status")).bearer_auth(&reader).send().unwrap().json().unwrap()
    };
    let max_lag = Arc::new(AtomicU64::new(0));
    let mut report = String::new();
    let t_all = Instant::now();
    for (phase, path) in [("NDJSON /api/v1/events", "/api/v1/events"), ("ES /_bulk", "/_bulk")] {
        let per_client = total / 2 / clients;
        let t0 = Instant::now();
        let done = Arc::new(AtomicU64::new(0));
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let (base, token, client, done) = (base.clone(), ingest.clone(), client.clone(), done.clone());
                let path = path.to_owned();
                std::thread::spawn(move || {
                    let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ ((c as u64 + 1) * 7919) ^ path.len() as u64;
                    let mut lat = Vec::new();
                    let mut sent = 0;
                    while sent < per_client {
                        let n = batch.min(per_client - sent);
                        let mut body = String::with_capacity(n * 1100);
                        for _ in 0..n {
                            if path == "/_bulk" {
                                body.push_str("{\"create\":{\"_index\":\"winlogbeat-bench\"}}\n");
                            }
                            body.push_str(&event(&mut seed));
                            body.push('\n');
                        }
                        loop {
                            let t = Instant::now();
                            let r = client.post(format!("{base}{path}")).bearer_auth(&token).body(body.clone()).send().unwrap();
                            if r.status().as_u16() == 503 {
                                std::thread::sleep(Duration::from_millis(200));
                                continue;
                            }
                            assert!(r.status().is_success(), "HTTP {}", r.status());
                            let _ = r.bytes();
                            lat.push(t.elapsed().as_secs_f64() * 1000.0);
                            break;
                        }
                        sent += n;
                        done.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    lat
                })
            })
            .collect();
        // Sample the index lag while ingesting.
        let sampler = {
            let (c, ml, done) = (client.clone(), max_lag.clone(), done.clone());
            let (base, reader) = (base.clone(), reader.clone());
            let target = (per_client * clients) as u64;
            std::thread::spawn(move || {
                while done.load(Ordering::Relaxed) < target {
                    if let Ok(r) = c.get(format!("{base}/api/v1/status")).bearer_auth(&reader).send()
                        && let Ok(v) = r.json::<serde_json::Value>() {
                            ml.fetch_max(v["index"]["lag"].as_u64().unwrap_or(0), Ordering::Relaxed);
                        }
                    std::thread::sleep(Duration::from_millis(250));
                }
            })
        };
        let mut lat: Vec<f64> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        sampler.join().unwrap();
        let secs = t0.elapsed().as_secs_f64();
        let n = per_client * clients;
        report.push_str(&format!(
            "| {phase} | {n} | {:.0} | {:.1} | {:.1} |\n",
            n as f64 / secs,
            pct(&mut lat, 0.5),
            pct(&mut lat, 0.99)
        ));
    }
    let ingest_secs = t_all.elapsed().as_secs_f64();
    // Wait until the index has caught up.
    let (indexed, checkpointed) = loop {
        let v = status(&client);
        if v["index"]["lag"].as_u64() == Some(0) && v["ledger"]["checkpoint_size"] == v["ledger"]["durable_size"] {
            break (v["index"]["indexed"].as_u64().unwrap(), v["ledger"]["checkpoint_size"].as_u64().unwrap());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let indexed_secs = t_all.elapsed().as_secs_f64();
    let du = Command::new("du").args(["-sb"]).arg(&data).output().unwrap();
    let bytes: u64 = String::from_utf8_lossy(&du.stdout).split_whitespace().next().unwrap().parse().unwrap();
    let ledger_du = Command::new("du").args(["-sb"]).arg(data.join("ledger")).output().unwrap();
    let ledger_bytes: u64 = String::from_utf8_lossy(&ledger_du.stdout).split_whitespace().next().unwrap().parse().unwrap();
    let mut tl = Vec::new();
    let mut seed = 42u64;
    for _ in 0..100 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let user = format!("staff{:03}", (seed >> 33) % 600);
        let t = Instant::now();
        let r = client.get(format!("{base}/api/v1/timeline/{user}?limit=100")).bearer_auth(&reader).send().unwrap();
        assert!(r.status().is_success());
        let v: serde_json::Value = r.json().unwrap();
        assert!(!v["events"].as_array().unwrap().is_empty());
        tl.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let _ = child.kill();
    let _ = child.wait();
    println!("events: {total}, clients: {clients}, events per request: {batch}, event size ≈ 1 KB\n");
    println!("| path | events | events/s (ack = durable) | p50 ack ms | p99 ack ms |\n|---|---:|---:|---:|---:|\n{report}");
    println!("- all ingested in {ingest_secs:.1} s; indexed ({indexed}) and checkpointed ({checkpointed}) after {indexed_secs:.1} s → **{:.0} events/s indexed end to end**", indexed as f64 / indexed_secs);
    println!("- largest index lag seen while ingesting: {} events", max_lag.load(Ordering::Relaxed));
    println!("- bytes on disk per event: {:.0} total ({:.0} ledger incl. payloads, {:.0} index)", bytes as f64 / indexed as f64, ledger_bytes as f64 / indexed as f64, (bytes - ledger_bytes) as f64 / indexed as f64);
    println!("- timeline (/api/v1/timeline/{{user}}?limit=100, HTTP round trip) at {indexed} events: p50 {:.1} ms, p99 {:.1} ms", pct(&mut tl.clone(), 0.5), pct(&mut tl, 0.99));
}
