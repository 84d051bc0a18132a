//! ReplicatedMergeTree with Debian's ZooKeeper: one shard, two replicas (two clickhouse-server
//! processes), a Distributed table with internal replication, and an indexer writing through
//! it. One replica is SIGKILLed mid-ingest: inserts go on to the other replica, nothing
//! acknowledged by the ledger is lost, and the restarted replica catches up by replication until
//! both replicas hold every event exactly once.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mamori_store::{EventKind, IndexBackend, IndexEvent};
use mamori_store_clickhouse::local::{LocalServer, free_port};
use mamori_store_clickhouse::{ClickHouseStore, Client, Config, schema};
use mamori_tenant::TenantId;
use serde_json::{Value, json};

struct ZooKeeper(Child);

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn zookeeper(dir: &std::path::Path, port: u16) -> ZooKeeper {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let cfg = dir.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=500\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=ruok\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("zk.log")).unwrap();
    let child = Command::new("/usr/share/zookeeper/bin/zkServer.sh")
        .arg("start-foreground")
        .arg(&cfg)
        .env("ZOO_LOG_DIR", dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start zookeeper (Debian package zookeeper)");
    let zk = ZooKeeper(child);
    wait_until("zookeeper to answer ruok", Duration::from_secs(90), || {
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        // A connection accepted while ZooKeeper is still starting may never be answered nor
        // closed: without a read timeout this probe (and CI with it) hung forever.
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = s.write_all(b"ruok");
        let mut buf = String::new();
        let _ = s.read_to_string(&mut buf);
        buf == "imok"
    });
    zk
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[derive(serde::Deserialize)]
struct N {
    n: u64,
}

fn count(url: &str, sql: &str) -> Option<u64> {
    let c = Client::new(url, "default", Duration::from_secs(10)).ok()?;
    c.select::<N>("count", sql).ok().map(|r| r[0].n)
}

fn batch(from: u64, n: u64) -> Vec<Value> {
    (from..from + n)
        .map(|i| json!({"@timestamp": "2024-06-03T10:00:00+09:00", "user": {"name": format!("u{}", i % 5)}, "message": format!("replicated {i}")}))
        .collect()
}

#[test]
fn replica_killed_mid_ingest_catches_up_by_replication() {
    let dir = tempfile::tempdir().unwrap();
    let zk_port = free_port();
    let _zk = zookeeper(&dir.path().join("zk"), zk_port);
    let ports: Vec<(u16, u16, u16)> = (0..2)
        .map(|_| (free_port(), free_port(), free_port()))
        .collect();
    let replicas: String = ports
        .iter()
        .map(|p| {
            format!(
                "<replica><host>127.0.0.1</host><port>{}</port></replica>",
                p.1
            )
        })
        .collect();
    let mut nodes: Vec<LocalServer> = ports
        .iter()
        .enumerate()
        .map(|(i, (h, t, inter))| {
            let extra = format!(
                "<zookeeper><node><host>127.0.0.1</host><port>{zk_port}</port></node><session_timeout_ms>6000</session_timeout_ms></zookeeper>\
                 <macros><shard>01</shard><replica>r{i}</replica></macros>\
                 <interserver_http_port>{inter}</interserver_http_port><interserver_http_host>127.0.0.1</interserver_http_host>\
                 <remote_servers><repl><shard><internal_replication>true</internal_replication>{replicas}</shard></repl></remote_servers>"
            );
            LocalServer::start_custom(&dir.path().join(format!("ch{i}")), *h, *t, &extra).expect("start clickhouse-server")
        })
        .collect();
    for n in &nodes {
        let c = Client::new(&n.url(), "default", Duration::from_secs(30)).unwrap();
        c.exec(
            "replicated table",
            &schema::events_table(
                "mamori_events_local",
                "ReplicatedMergeTree('/clickhouse/tables/{shard}/mamori_events', '{replica}')",
            ),
        )
        .unwrap();
        c.exec(
            "distributed table",
            &schema::distributed_table("mamori_events", "repl", "default", "mamori_events_local"),
        )
        .unwrap();
        c.exec("progress table", &schema::progress_table("mamori_progress"))
            .unwrap();
    }
    // The indexer talks to replica 0; replica 1 is the one killed.
    let cfg = Config {
        distributed: true,
        timeout: Duration::from_secs(20),
        ..Config::single(&nodes[0].url())
    };
    let tenant = TenantId::new("ikeda").unwrap();
    let mut store = ClickHouseStore::open(cfg.clone(), tenant.clone()).unwrap();
    let mut next = 0u64;
    let index = |store: &mut ClickHouseStore, n: u64, next: &mut u64| {
        let docs = batch(*next, n);
        let evs: Vec<IndexEvent<'_>> = docs
            .iter()
            .enumerate()
            .map(|(k, d)| IndexEvent {
                id: *next + k as u64,
                ingested_micros: 1_717_376_400_000_000,
                kind: EventKind::Event,
                doc: d,
                raw: None,
            })
            .collect();
        // The ledger has acknowledged these; the indexer retries until the index takes them.
        let deadline = Instant::now() + Duration::from_secs(120);
        while let Err(e) = store.index_batch(&evs) {
            assert!(
                Instant::now() < deadline,
                "index never accepted the batch: {e}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        *next += n;
    };
    for _ in 0..5 {
        index(&mut store, 200, &mut next);
    }
    nodes[1].kill();
    for _ in 0..5 {
        index(&mut store, 200, &mut next);
    }
    assert_eq!(
        store.indexed_upto().unwrap(),
        Some(next - 1),
        "indexing went on with one replica down"
    );
    nodes[1].restart().expect("restart replica");
    for _ in 0..5 {
        index(&mut store, 200, &mut next);
    }
    let total = next;
    for n in &nodes {
        let url = n.url();
        wait_until(
            "the replica to hold every event",
            Duration::from_secs(120),
            || count(&url, "SELECT count() AS n FROM mamori_events_local") == Some(total),
        );
        assert_eq!(
            count(&url, "SELECT uniqExact(id) AS n FROM mamori_events_local"),
            Some(total),
            "{url}"
        );
    }
    let reader = ClickHouseStore::open(cfg, tenant).unwrap();
    assert_eq!(reader.stats().unwrap().total, total);
    assert_eq!(
        reader.get(1500).unwrap().unwrap().doc["message"],
        "replicated 1500"
    );
}
