//! Scale-out benchmark (numbers go to docs/benchmarks.md, "Scale-out"):
//!
//! * `ingest`: ledger → NATS JetStream → indexers → one ClickHouse table, with 1 and with 3
//!   indexers (one per city, each its own ledger, publisher and durable consumer), all on
//!   127.0.0.1. Each city's ledger is filled first; the clock runs from starting the
//!   publishers and consumers until every city is indexed.
//! * `bytes`: the same realistic events indexed into SQLite and into ClickHouse; bytes on disk
//!   per event (SQLite file after a WAL checkpoint; ClickHouse active parts after OPTIMIZE).
//! * `query`: synthetic rows generated inside ClickHouse (`INSERT … SELECT … FROM numbers()`,
//!   the same columns the indexer writes), then query latency through `ClickHouseStore`.
//!
//! `cargo run --release -p mamori-bus --example scale_bench -- ingest 200000`
//! `cargo run --release -p mamori-bus --example scale_bench -- bytes 1000000`
//! `cargo run --release -p mamori-bus --example scale_bench -- query 100000000`
//! Servers are private processes under a temp dir (set MAMORI_BENCH_DIR to keep it elsewhere).

use std::time::{Duration, Instant};

use mamori_bus::local::NatsServer;
use mamori_bus::{BusConfig, Consumer, IndexSink, Publisher};
use mamori_ledger::{CheckpointSigner, EntryKind, Ledger, LedgerConfig, NewEntry};
use mamori_store::{EventKind, IndexBackend, IndexEvent, Query, Store};
use mamori_store_clickhouse::local::LocalServer;
use mamori_store_clickhouse::{ClickHouseStore, Config, schema};
use mamori_tenant::TenantId;
use serde_json::{Value, json};

fn event(i: u64) -> Value {
    let users = 1000;
    let actions = [
        "file-read",
        "file-write",
        "print",
        "logon",
        "export",
        "mail-send",
    ];
    json!({
        "@timestamp": format!("2024-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+09:00", 1 + (i / 2_000_000) % 12, 1 + (i / 70_000) % 28, 8 + (i / 3600) % 10, (i / 60) % 60, i % 60, i % 1000),
        "event": {"kind": "event", "category": ["file"], "action": actions[(i % 6) as usize], "outcome": "success", "module": "samba", "dataset": "samba.full_audit"},
        "user": {"name": format!("staff{:04}", i % users), "domain": "CITY"},
        "host": {"name": format!("pc-{:04}", (i * 7) % 1200), "ip": [format!("10.1.{}.{}", (i / 250) % 250, i % 250)]},
        "source": {"ip": format!("10.1.{}.{}", (i / 250) % 250, i % 250)},
        "file": {"path": format!("/共有/住民課/住民基本台帳/{}/世帯_{:06}.xlsx", i % 40, i % 100_000), "extension": "xlsx"},
        "process": {"name": "smbd", "pid": 4000 + i % 3000},
        "message": format!("{} {} /共有/住民課/住民基本台帳/{}/世帯_{:06}.xlsx", format_args!("staff{:04}", i % users), actions[(i % 6) as usize], i % 40, i % 100_000),
        "event.original": format!("<13>Apr  1 09:00:00 fs01 smbd_audit: staff{:04}|10.1.0.1|pc-{:04}|{}|ok|/共有/住民課/住民基本台帳/{}/世帯_{:06}.xlsx", i % users, (i * 7) % 1200, actions[(i % 6) as usize], i % 40, i % 100_000),
    })
}

fn dir() -> tempfile::TempDir {
    match std::env::var("MAMORI_BENCH_DIR") {
        Ok(d) => tempfile::tempdir_in(d).unwrap(),
        Err(_) => tempfile::tempdir().unwrap(),
    }
}

fn fill_ledger(path: &std::path::Path, origin: &str, n: u64) -> Ledger {
    let (signer, _) = CheckpointSigner::generate(origin).unwrap();
    let ledger = Ledger::open(LedgerConfig::new(path, signer)).unwrap();
    let mut i = 0;
    while i < n {
        let k = 4096.min(n - i);
        let entries = (i..i + k)
            .map(|j| NewEntry {
                kind: EntryKind::Event,
                payload: event(j).to_string().into_bytes(),
            })
            .collect();
        ledger.append_blocking(entries).unwrap();
        i += k;
    }
    ledger
}

fn ingest(per_city: u64) {
    let d = dir();
    let ch = LocalServer::start(&d.path().join("ch"), None).unwrap();
    let nats = NatsServer::start(&d.path().join("nats")).unwrap();
    let cfg = Config::single(&ch.url());
    schema::create_single(&cfg).unwrap();
    let bus = BusConfig::new(&nats.url());
    for k in [1usize, 3] {
        let tenants: Vec<TenantId> = (0..k)
            .map(|c| TenantId::new(&format!("run{k}-city{c}")).unwrap())
            .collect();
        let ledgers: Vec<Ledger> = tenants
            .iter()
            .map(|t| {
                fill_ledger(
                    &d.path().join(t.as_str()),
                    &format!("bench.lg.jp/{t}"),
                    per_city,
                )
            })
            .collect();
        let bytes: u64 = (0..per_city.min(1000))
            .map(|i| event(i).to_string().len() as u64)
            .sum::<u64>()
            / per_city.min(1000);
        let start = Instant::now();
        let pubs: Vec<Publisher> = tenants
            .iter()
            .zip(&ledgers)
            .map(|(t, l)| Publisher::spawn(l.clone(), bus.clone(), t.clone()))
            .collect();
        let cons: Vec<Consumer<IndexSink<ClickHouseStore>>> = tenants
            .iter()
            .map(|t| {
                Consumer::spawn(
                    bus.clone(),
                    t.clone(),
                    &format!("index-{t}"),
                    IndexSink::new(ClickHouseStore::open(cfg.clone(), t.clone()).unwrap()),
                )
            })
            .collect();
        while cons.iter().any(|c| c.delivered() < per_city) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let secs = start.elapsed().as_secs_f64();
        let total = per_city * k as u64;
        println!(
            "ingest indexers={k} events={total} (≈{bytes} B JSON each) seconds={secs:.2} events_per_s={:.0}",
            total as f64 / secs
        );
        drop(cons);
        for p in pubs {
            p.stop();
        }
        for l in ledgers {
            l.close();
        }
    }
}

fn bytes(n: u64) {
    let d = dir();
    let docs: Vec<Value> = (0..n).map(event).collect();
    let raws: Vec<String> = docs.iter().map(|v| v.to_string()).collect();
    let json_bytes: usize = raws.iter().map(String::len).sum();
    let evs: Vec<IndexEvent<'_>> = docs
        .iter()
        .zip(&raws)
        .enumerate()
        .map(|(i, (doc, raw))| IndexEvent {
            id: i as u64,
            ingested_micros: 1_711_929_600_000_000 + i as i64,
            kind: EventKind::Event,
            doc,
            raw: Some(raw.as_bytes()),
        })
        .collect();
    let path = d.path().join("index.db");
    let mut sqlite = Store::open(&path).unwrap();
    let t = Instant::now();
    for c in evs.chunks(16384) {
        sqlite.index_batch(c).unwrap();
    }
    let s_secs = t.elapsed().as_secs_f64();
    sqlite.checkpoint().unwrap();
    drop(sqlite);
    let s_bytes = std::fs::metadata(&path).unwrap().len();

    let ch = LocalServer::start(&d.path().join("ch"), None).unwrap();
    let cfg = Config::single(&ch.url());
    schema::create_single(&cfg).unwrap();
    let mut store = ClickHouseStore::open(cfg.clone(), TenantId::new("bench").unwrap()).unwrap();
    let t = Instant::now();
    for c in evs.chunks(16384) {
        store.index_batch(c).unwrap();
    }
    let c_secs = t.elapsed().as_secs_f64();
    store
        .client()
        .exec("optimize", "OPTIMIZE TABLE mamori_events FINAL")
        .unwrap();
    let c_bytes = ch.table_bytes("default", "mamori_events").unwrap();
    #[derive(serde::Deserialize)]
    struct Col {
        name: String,
        b: u64,
    }
    let cols: Vec<Col> = store
        .client()
        .select("columns", "SELECT name, data_compressed_bytes AS b FROM system.columns WHERE table = 'mamori_events' ORDER BY b DESC")
        .unwrap();
    println!(
        "bytes events={n} json_bytes_per_event={}",
        json_bytes as u64 / n
    );
    println!(
        "bytes sqlite index_seconds={s_secs:.1} events_per_s={:.0} bytes_on_disk={s_bytes} per_event={}",
        n as f64 / s_secs,
        s_bytes / n
    );
    println!(
        "bytes clickhouse index_seconds={c_secs:.1} events_per_s={:.0} bytes_on_disk={c_bytes} per_event={}",
        n as f64 / c_secs,
        c_bytes / n
    );
    for c in cols.iter().take(6) {
        println!(
            "bytes clickhouse column {} per_event={:.1}",
            c.name,
            c.b as f64 / n as f64
        );
    }
}

fn pct(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (v[v.len() / 2], v[(v.len() * 95 / 100).min(v.len() - 1)])
}

fn query(n: u64) {
    let d = dir();
    let ch = LocalServer::start(&d.path().join("ch"), None).unwrap();
    let cfg = Config {
        timeout: Duration::from_secs(3600),
        ..Config::single(&ch.url())
    };
    schema::create_single(&cfg).unwrap();
    let store = ClickHouseStore::open(cfg.clone(), TenantId::new("bench").unwrap()).unwrap();
    let c = store.client();
    let t = Instant::now();
    let chunk = 10_000_000u64;
    let mut at = 0;
    while at < n {
        let k = chunk.min(n - at);
        // One event every 315 ms over a year; 1,000 staff, 1,200 PCs, 5 actions, 5,000 files.
        let sql = format!(
            "INSERT INTO mamori_events (tenant, id, ts, ingested, kind, user_name, host_name, action, file_path, q_reason, q_source, reingest_of, reingest_new_ids, body, doc) \
             SELECT 'bench', number, 1704034800000000 + number * 315000 AS t, t + 1000, 'event', \
               concat('staff', toString(number % 1000)) AS u, concat('pc-', toString((number * 7) % 1200)) AS h, \
               ['file-read','file-write','print','logon','export'][number % 5 + 1] AS a, \
               concat('/共有/住民課/住民基本台帳/', toString(number % 5000), '.xlsx') AS p, NULL, NULL, -1, '', \
               lower(concat(a, ' ', p, ' by ', u, ' #', toString(number), ' ', p, ' ', u, ' ', h, ' ', a)) AS body, \
               concat('{{\"@timestamp\":\"', replaceOne(toString(toDateTime(intDiv(t, 1000000), 'UTC')), ' ', 'T'), 'Z\",\"user\":{{\"name\":\"', u, \
                 '\"}},\"host\":{{\"name\":\"', h, '\"}},\"event\":{{\"action\":\"', a, '\"}},\"file\":{{\"path\":\"', p, \
                 '\"}},\"message\":\"', a, ' ', p, ' by ', u, ' #', toString(number), '\"}}') \
             FROM numbers({at}, {k})"
        );
        c.exec("generating rows", &sql).unwrap();
        at += k;
        eprintln!("loaded {at} rows, {:.0} s", t.elapsed().as_secs_f64());
    }
    let load = t.elapsed().as_secs_f64();
    c.exec(
        "progress",
        &format!(
            "INSERT INTO mamori_progress (tenant, upto) VALUES ('bench', {})",
            n - 1
        ),
    )
    .unwrap();
    let bytes = ch.table_bytes("default", "mamori_events").unwrap();
    println!(
        "query rows={n} load_seconds={load:.0} rows_per_s={:.0} bytes_on_disk={bytes} per_row={:.1}",
        n as f64 / load,
        bytes as f64 / n as f64
    );
    let mid = 1704034800000000i64 + (n as i64 / 2) * 315_000;
    let ts = |m: i64| {
        let secs = m / 1_000_000;
        #[derive(serde::Deserialize)]
        struct S {
            s: String,
        }
        let r: Vec<S> = c
            .select("ts", &format!("SELECT concat(replaceOne(toString(toDateTime({secs}, 'UTC')), ' ', 'T'), 'Z') AS s"))
            .unwrap();
        r[0].s.clone()
    };
    let (from, to) = (ts(mid), ts(mid + 86_400_000_000));
    let rare = format!("#{}", n / 3 + 17);
    let cases: Vec<(&str, Query)> = vec![
        (
            "newest page, no filter",
            Query {
                limit: Some(100),
                ..Query::default()
            },
        ),
        (
            "user, newest 100",
            Query {
                user: Some("staff42".into()),
                ..Query::default()
            },
        ),
        (
            "user + 1 day",
            Query {
                user: Some("staff42".into()),
                from: Some(from.clone()),
                to: Some(to.clone()),
                ..Query::default()
            },
        ),
        (
            "host + action",
            Query {
                host: Some("pc-77".into()),
                action: Some("file-write".into()),
                ..Query::default()
            },
        ),
        (
            "path prefix + 1 day",
            Query {
                path: Some("/共有/住民課/住民基本台帳/123".into()),
                from: Some(from.clone()),
                to: Some(to.clone()),
                ..Query::default()
            },
        ),
        (
            "full text, one match",
            Query {
                q: Some(rare.clone()),
                ..Query::default()
            },
        ),
        (
            "full text common + user",
            Query {
                q: Some("print".into()),
                user: Some("staff42".into()),
                ..Query::default()
            },
        ),
    ];
    for (name, q) in &cases {
        let mut lat = Vec::new();
        let mut hits = 0;
        for r in 0..6 {
            let t = Instant::now();
            let p = store.search(q).unwrap();
            if r > 0 {
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            hits = p.events.len();
        }
        let (p50, p95) = pct(lat);
        println!("query {name}: hits={hits} p50_ms={p50:.1} p95_ms={p95:.1}");
    }
    let mut lat = Vec::new();
    for r in 0..6 {
        let t = Instant::now();
        let p = store
            .timeline("staff42", Some(&from), None, Some(100), None)
            .unwrap();
        assert!(!p.events.is_empty());
        if r > 0 {
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let (p50, p95) = pct(lat);
    println!("query timeline staff42 from mid-year, 100: p50_ms={p50:.1} p95_ms={p95:.1}");
    let mut lat = Vec::new();
    for r in 0..6u64 {
        let t = Instant::now();
        assert!(store.get(n / 2 + r * 1000).unwrap().is_some());
        if r > 0 {
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let (p50, p95) = pct(lat);
    println!("query get by id: p50_ms={p50:.1} p95_ms={p95:.1}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    match args.get(1).map(String::as_str) {
        Some("ingest") => ingest(n),
        Some("bytes") => bytes(n),
        Some("query") => query(n),
        _ => eprintln!("usage: scale_bench ingest|bytes|query N"),
    }
}
