//! Tenant mode fed through NATS JetStream: each city's ledger is published to the bus and its
//! ClickHouse rows come from a durable consumer. nats-server is SIGKILLed mid-ingest: the
//! city's ingest API keeps acknowledging (ledger only), nothing reaches the index while NATS is
//! down, and after the restart everything acknowledged is indexed exactly once, per city.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mamori_bus::BusConfig;
use mamori_bus::local::NatsServer;
use mamori_prefecture::{Prefecture, TenantId, init_city, init_prefecture, router};
use mamori_store::IndexBackend;
use mamori_store_clickhouse::local::LocalServer;
use mamori_store_clickhouse::{ClickHouseStore, Config, schema};
use serde_json::Value;

fn ndjson(city: &str, from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| {
            serde_json::json!({"@timestamp": "2024-05-01T09:00:00+09:00", "user": {"name": "ito"},
                "message": format!("{city} via bus {i}")})
            .to_string()
                + "\n"
        })
        .collect()
}

#[test]
fn tenant_mode_through_nats_killed_mid_ingest_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ch = LocalServer::start(&dir.path().join("ch"), None).expect("start clickhouse-server");
    let mut nats = NatsServer::start(&dir.path().join("nats")).expect("start nats-server");
    let cfg = Config::single(&ch.url());
    schema::create_single(&cfg).unwrap();
    let root = dir.path().join("pref");
    init_prefecture(&root, "iwate.lg.jp").unwrap();
    let a = TenantId::new("ofunato").unwrap();
    let b = TenantId::new("rikuzentakata").unwrap();
    let tok_a = init_city(&root, "iwate.lg.jp", &a).unwrap().admin_token;
    let tok_b = init_city(&root, "iwate.lg.jp", &b).unwrap().admin_token;
    let pref = Arc::new(
        Prefecture::open_with(
            &root,
            &[a.clone(), b.clone()],
            cfg.clone(),
            Some(BusConfig::new(&nats.url())),
        )
        .unwrap(),
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(pref.clone());
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::blocking::Client::new();
    let post = |city: &str, tok: &str, body: String| -> usize {
        let r = http
            .post(format!("{base}/t/{city}/api/v1/events"))
            .bearer_auth(tok)
            .body(body)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json::<Value>().unwrap()["ids"].as_array().unwrap().len()
    };
    let indexed = |t: &TenantId| {
        ClickHouseStore::open(cfg.clone(), t.clone())
            .unwrap()
            .indexed_upto()
            .unwrap()
    };
    let wait = |what: &str, f: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !f() {
            assert!(Instant::now() < deadline, "timed out: {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };

    assert_eq!(post("ofunato", &tok_a, ndjson("ofunato", 0, 50)), 50);
    assert_eq!(
        post("rikuzentakata", &tok_b, ndjson("rikuzentakata", 0, 20)),
        20
    );
    let city_a = pref.city(&a).unwrap().clone();
    wait("the first events indexed through the bus", &|| {
        indexed(&a) == Some(city_a.ledger.durable_size() - 1)
    });

    // NATS dies; the cities' ingest goes on (acknowledged = in the ledger).
    nats.kill();
    let before = indexed(&a);
    assert_eq!(post("ofunato", &tok_a, ndjson("ofunato", 50, 100)), 100);
    assert_eq!(
        post("rikuzentakata", &tok_b, ndjson("rikuzentakata", 20, 30)),
        30
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(indexed(&a), before, "nothing is indexed while NATS is down");

    nats.restart().expect("restart nats-server");
    for t in [&a, &b] {
        let c = pref.city(t).unwrap().clone();
        wait(
            "every acknowledged event indexed after the restart",
            &|| indexed(t) == Some(c.ledger.durable_size() - 1),
        );
        assert_eq!(c.bus_published(), Some(c.ledger.durable_size()));
    }
    // Exactly once, each city its own.
    for (t, n) in [(&a, 150u64), (&b, 50)] {
        let store = ClickHouseStore::open(cfg.clone(), t.clone()).unwrap();
        let stats = store.stats().unwrap();
        assert_eq!(stats.total, pref.city(t).unwrap().ledger.durable_size());
        assert_eq!(stats.by_kind.get("event").copied(), Some(n), "{t}");
        let page = store
            .search(&mamori_store::Query {
                q: Some("via bus".into()),
                limit: Some(1000),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(page.events.len() as u64, n);
        assert!(
            page.events
                .iter()
                .all(|h| h.doc["message"].as_str().unwrap().starts_with(t.as_str()))
        );
    }
    let h: Value = http
        .get(format!("{base}/t/ofunato/api/v1/health"))
        .bearer_auth(&tok_a)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(h["feed"], "nats", "{h}");
    pref.close();
}
