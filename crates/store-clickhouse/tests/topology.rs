//! A 3-shard cluster on one machine: three private clickhouse-server processes, a Distributed
//! table over their local MergeTree tables, and an indexer that follows a real ledger into it.
//! One shard is killed (SIGKILL) in the middle of ingest and started again: every event the
//! ledger acknowledged is indexed exactly once (no loss, no duplicate from the retried
//! half-inserted batches), spread over all three shards, and indexing catches up by itself.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mamori_ledger::{CheckpointSigner, EntryKind, Ledger, LedgerConfig, NewEntry};
use mamori_store::{EventKind, IndexBackend, IndexEvent, Query};
use mamori_store_clickhouse::local::{LocalServer, ShardAddr, free_port};
use mamori_store_clickhouse::{ClickHouseStore, Client, Config, schema};
use mamori_tenant::TenantId;
use serde_json::{Value, json};

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The follower: reads the ledger from the index's position and indexes batches; after any
/// error it starts over as a restarted indexer would (reopen, re-read the position).
fn follow(
    ledger: Ledger,
    cfg: Config,
    tenant: TenantId,
    stop: Arc<AtomicBool>,
    errors: Arc<AtomicU64>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            let mut store = match ClickHouseStore::open(cfg.clone(), tenant.clone()) {
                Ok(s) => s,
                Err(_) => {
                    errors.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(200));
                    continue;
                }
            };
            let from = match store.indexed_upto() {
                Ok(u) => u.map_or(0, |u| u + 1),
                Err(_) => continue,
            };
            let mut cursor = ledger.records_from(from);
            loop {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let records = cursor
                    .read(ledger.durable_size(), 500)
                    .expect("reading the ledger");
                if records.is_empty() {
                    ledger.wait_durable_beyond(cursor.position(), Duration::from_millis(100));
                    continue;
                }
                let docs: Vec<Value> = records
                    .iter()
                    .map(|r| serde_json::from_slice(&r.payload).unwrap())
                    .collect();
                let events: Vec<IndexEvent<'_>> = records
                    .iter()
                    .zip(&docs)
                    .map(|(r, d)| IndexEvent {
                        id: r.index,
                        ingested_micros: r.ingested_micros,
                        kind: EventKind::from_name(r.kind.as_str()),
                        doc: d,
                        raw: Some(&r.payload),
                    })
                    .collect();
                if store.index_batch(&events).is_err() {
                    errors.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(200));
                    break;
                }
            }
        }
    })
}

fn ingest(ledger: &Ledger, from: u64, batches: u64, per: u64) -> Vec<u64> {
    let mut acked = Vec::new();
    for b in 0..batches {
        let entries = (0..per)
            .map(|k| {
                let i = from + b * per + k;
                let doc = json!({
                    "@timestamp": format!("2024-04-{:02}T09:{:02}:00+09:00", 1 + i % 28, i % 60),
                    "user": {"name": format!("staff{}", i % 13)},
                    "event": {"action": "file-read"},
                    "message": format!("閲覧 record {i}"),
                });
                NewEntry {
                    kind: EntryKind::Event,
                    payload: doc.to_string().into_bytes(),
                }
            })
            .collect();
        let r = ledger.append_blocking(entries).expect("ledger append");
        acked.extend(r.first_index..r.first_index + r.count);
        std::thread::sleep(Duration::from_millis(20));
    }
    acked
}

#[derive(serde::Deserialize)]
struct N {
    n: u64,
}

fn count(c: &Client, sql: &str) -> u64 {
    c.select::<N>("count", sql).unwrap()[0].n
}

#[test]
fn three_shards_one_killed_mid_ingest_nothing_acknowledged_lost() {
    let dir = tempfile::tempdir().unwrap();
    let ports: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();
    let shards: Vec<ShardAddr> = ports.iter().map(|p| ShardAddr { tcp_port: p.1 }).collect();
    let mut nodes: Vec<LocalServer> = ports
        .iter()
        .enumerate()
        .map(|(i, (h, t))| {
            LocalServer::start_on(
                &dir.path().join(format!("ch{i}")),
                *h,
                *t,
                Some(("mamori3", &shards)),
            )
            .expect("start clickhouse-server")
        })
        .collect();
    for n in &nodes {
        let c = Client::new(&n.url(), "default", Duration::from_secs(30)).unwrap();
        c.exec(
            "local table",
            &schema::events_table("mamori_events_local", "MergeTree"),
        )
        .unwrap();
    }
    let coord = Client::new(&nodes[0].url(), "default", Duration::from_secs(30)).unwrap();
    coord
        .exec(
            "distributed table",
            &schema::distributed_table(
                "mamori_events",
                "mamori3",
                "default",
                "mamori_events_local",
            ),
        )
        .unwrap();
    coord
        .exec("progress table", &schema::progress_table("mamori_progress"))
        .unwrap();
    let cfg = Config {
        distributed: true,
        timeout: Duration::from_secs(20),
        ..Config::single(&nodes[0].url())
    };

    let (signer, _) = CheckpointSigner::generate("test.lg.jp/hirosaki").unwrap();
    let ledger = Ledger::open(LedgerConfig::new(dir.path().join("ledger"), signer)).unwrap();
    let tenant = TenantId::new("hirosaki").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let follower = follow(
        ledger.clone(),
        cfg.clone(),
        tenant.clone(),
        stop.clone(),
        errors.clone(),
    );

    let mut acked = ingest(&ledger, 0, 10, 300);
    let reader = ClickHouseStore::open(cfg.clone(), tenant.clone()).unwrap();
    wait_until("first batches indexed", Duration::from_secs(120), || {
        reader.indexed_upto().unwrap().is_some()
    });

    // Shard 3 dies mid-ingest. The ledger keeps acknowledging; inserts fail until it is back.
    nodes[2].kill();
    acked.extend(ingest(&ledger, 3000, 10, 300));
    wait_until(
        "the indexer to hit the dead shard",
        Duration::from_secs(120),
        || errors.load(Ordering::SeqCst) > 0,
    );
    let upto_while_down = reader.indexed_upto().unwrap();
    nodes[2].restart().expect("restart the killed shard");
    acked.extend(ingest(&ledger, 6000, 10, 300));

    let total = acked.len() as u64;
    assert_eq!(acked, (0..total).collect::<Vec<_>>());
    assert!(
        upto_while_down.is_none_or(|u| u + 1 < total),
        "the kill was mid-ingest"
    );
    wait_until("indexing to catch up", Duration::from_secs(180), || {
        reader.indexed_upto().unwrap() == Some(total - 1)
    });
    stop.store(true, Ordering::SeqCst);
    follower.join().unwrap();

    // Exactly once: as many rows as distinct ids as acknowledged events, on all three shards.
    assert_eq!(
        count(&coord, "SELECT count() AS n FROM mamori_events"),
        total
    );
    assert_eq!(
        count(&coord, "SELECT uniqExact(id) AS n FROM mamori_events"),
        total
    );
    let mut per_shard = 0;
    for n in &nodes {
        let c = Client::new(&n.url(), "default", Duration::from_secs(30)).unwrap();
        let k = count(&c, "SELECT count() AS n FROM mamori_events_local");
        assert!(k > total / 10, "shard {} holds {k} of {total}", n.url());
        per_shard += k;
    }
    assert_eq!(per_shard, total);
    let stats = reader.stats().unwrap();
    assert_eq!((stats.total, stats.indexed_upto), (total, Some(total - 1)));
    for id in [0, 4500, total - 1] {
        let h = reader.get(id).unwrap().unwrap();
        assert_eq!(h.doc["message"], format!("閲覧 record {id}"));
    }
    let page = reader
        .search(&Query {
            q: Some("record 4500".into()),
            ..Query::default()
        })
        .unwrap();
    assert_eq!(
        page.events.iter().map(|h| h.id).collect::<Vec<_>>(),
        vec![4500]
    );
    ledger.close();

    // The same query suite as on one node, for a second city on the same Distributed table;
    // the first city's rows stay invisible to it.
    let mut other = ClickHouseStore::open(cfg.clone(), TenantId::new("ikeda").unwrap()).unwrap();
    let docs = common::corpus(300, "");
    common::index_corpus(&mut other, &docs, 64);
    common::check_queries(&other, &docs, "");
    assert_eq!(reader.stats().unwrap().total, total);
}
