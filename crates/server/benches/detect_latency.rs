//! Streaming detection latency: events appended to the ledger at a steady rate (default
//! 20,000/s for 10 s) flow through the indexer into the detector (municipal rule pack with a
//! roster of 600 staff); 1 in 100 events is an after-retirement access on a new day (a new
//! alert each). Latency = ledger acceptance of the triggering event → its alert committed in
//! alerts.db. Reports p50/p99/max, achieved rate, whether the detector kept up, and the CPU
//! time of each thread (from /proc: the box is shared, so wall time alone says little).
//!
//! `cargo bench -p mamori-server --bench detect_latency` — env: MAMORI_BENCH_RATE (20000),
//! MAMORI_BENCH_SECONDS (10). Not a test: numbers go to docs/benchmarks.md ("Detection").

use mamori_ledger::{EntryKind, NewEntry};
use mamori_server::{AppState, DataDir};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    // SAFETY: set before any thread is started.
    unsafe { std::env::set_var("MAMORI_DETECT_LATENCY", "1") };
    let rate = env("MAMORI_BENCH_RATE", 20_000);
    let secs = env("MAMORI_BENCH_SECONDS", 10);
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path().join("d"));
    dir.init("bench.example.lg.jp/audit").unwrap();
    let mut roster = String::from("職員番号,氏名,氏名カナ,所属コード,所属名,職名,発令日,異動区分,退職日,アカウント\n");
    for i in 0..600 {
        roster.push_str(&format!("{i:04},職員{i},ショクイン,{},課{},主事,2010/4/1,採用,,staff{i:03}@city.example.lg.jp\n", 2000 + i % 30, i % 30));
    }
    roster.push_str("9999,退職 者,タイショク,2010,市民課,主事,2000/4/1,採用,,retired@city.example.lg.jp\n9999,退職 者,タイショク,2010,市民課,主事,2020/3/31,退職,,\n");
    dir.import_roster("bench", "roster.csv", roster.as_bytes()).unwrap();
    std::fs::create_dir_all(dir.root.join("rules")).unwrap();
    std::fs::write(dir.root.join("rules/municipal.toml"), "[[entitlement]]\ndepartment = \"20\"\nresource = \"share:juki\"\n").unwrap();

    let opened = dir.open().unwrap();
    let st = AppState::new(dir.clone(), &opened).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let indexer = mamori_server::indexer::spawn(opened.ledger.clone(), opened.store.clone(), stop.clone());

    let batch = (rate / 20).max(1); // one batch every 50 ms
    let total = rate * secs;
    let start = Instant::now();
    let mut sent = 0u64;
    let mut triggers = 0u64;
    let mut seq = 0u64;
    let mut last = None;
    while sent < total {
        let due = start + Duration::from_micros(sent * 1_000_000 / rate);
        if let Some(w) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(w);
        }
        let mut entries = Vec::with_capacity(batch as usize);
        for _ in 0..batch {
            seq += 1;
            let doc = if seq.is_multiple_of(100) {
                triggers += 1;
                // A new day each time: a new alert (rule + person + day).
                let day = chrono::NaiveDate::from_ymd_opt(2021, 1, 1).unwrap() + chrono::Duration::days(triggers as i64);
                format!(r#"{{"@timestamp":"{day}T01:00:00Z","user":{{"name":"retired"}},"event":{{"action":"file-read","type":["access"]}},"mamori":{{"share":"juki"}},"file":{{"path":"/台帳/{seq}.csv","name":"{seq}.csv"}}}}"#)
            } else {
                let u = seq % 600;
                format!(r#"{{"@timestamp":"2026-04-0{}T0{}:00:00Z","user":{{"name":"staff{u:03}"}},"event":{{"action":"file-read","type":["access"]}},"mamori":{{"share":"juki"}},"file":{{"path":"/台帳/{seq}.csv","name":"{seq}.csv"}},"message":"住民記録の参照 {seq}"}}"#, [1, 2, 3, 6, 7, 8, 9][(seq % 7) as usize], seq % 8)
            };
            entries.push(NewEntry { kind: EntryKind::Event, payload: doc.into_bytes() });
        }
        last = Some(opened.ledger.submit(entries).expect("ledger accepts"));
        sent += batch;
    }
    let send_secs = start.elapsed().as_secs_f64();
    // Every batch durable before the target is taken (the last ones were still in flight, so
    // their triggers looked like missing alerts).
    let receipt = last.map(|rx| rx.blocking_recv().expect("receipt").expect("appended"));
    let target = receipt.map_or(0, |r| r.first_index + batch);
    let caught = st.detection.wait_for(target.saturating_sub(1), Duration::from_secs(120));
    let drain_secs = start.elapsed().as_secs_f64();
    let mut lat = st.detection.take_latencies();
    lat.sort_unstable();
    let pct = |p: f64| lat.get(((lat.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0) as f64 / 1000.0;
    println!("events: {sent} in {send_secs:.1} s ({:.0}/s offered), alerts: {} (triggers {triggers})", sent as f64 / send_secs, lat.len());
    println!("detector caught up: {caught} after {drain_secs:.1} s");
    println!("event→alert latency ms: p50 {:.1}  p99 {:.1}  max {:.1}", pct(0.5), pct(0.99), pct(1.0));
    println!("CPU seconds by thread (user+system): {}", thread_cpu());
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = indexer.join();
    opened.ledger.close();
}

/// `name=seconds` for each thread of this process with at least 0.05 s of CPU (Linux /proc).
fn thread_cpu() -> String {
    let tick = 100.0; // USER_HZ on Linux
    let mut out = Vec::new();
    for t in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else { continue };
        let (Some(a), Some(b)) = (stat.find('('), stat.rfind(')')) else { continue };
        let name = &stat[a + 1..b];
        let f: Vec<&str> = stat[b + 2..].split(' ').collect();
        let cpu = (f.get(11).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0) + f.get(12).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0)) / tick;
        if cpu >= 0.05 {
            out.push(format!("{name}={cpu:.2}"));
        }
    }
    out.join(" ")
}
