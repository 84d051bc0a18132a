//! Two cities on one shared ClickHouse table, through the tenant-mode API: each city's token
//! sees only its own city's events (same user names, same ledger ids in both cities), another
//! city's token is unknown on its path, and the prefecture's token sees aggregates only.
//! Each city ingests through its own Elasticsearch-compatible `_bulk` and gets its own
//! streaming detection: a city's alerts are never visible to the other city or the prefecture.

mod common;
use common::Api;

use std::time::{Duration, Instant};

use mamori_prefecture::{Prefecture, TenantId, init_city, init_prefecture, router};
use mamori_store::IndexBackend;
use mamori_store_clickhouse::local::LocalServer;
use mamori_store_clickhouse::{ClickHouseStore, Config, schema};
use reqwest::StatusCode;
use serde_json::Value;

fn ndjson(city: &str, n: usize) -> String {
    (0..n)
        .map(|i| {
            let user = ["tanaka", "suzuki", "sato"][i % 3];
            serde_json::json!({
                "@timestamp": format!("2024-05-01T09:{:02}:00+09:00", i % 60),
                "user": {"name": user},
                "event": {"action": "file-read"},
                "file": {"path": format!("/共有/住民課/{city}/{i}.csv")},
                "message": format!("{city}-secret 住民記録 {i}"),
            })
            .to_string()
                + "\n"
        })
        .collect()
}

const SIGMA_CSV: &str = "title: 住基 CSV 読み出し / register CSV read
id: 0a3c6a2e-6d7e-4c39-9d68-3f1f3b0c0a01
logsource:
  product: mamori
detection:
  selection:
    file.path|endswith: '.csv'
  condition: selection
";

fn ids(v: &Value) -> Vec<u64> {
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_u64().unwrap())
        .collect()
}

fn messages(v: &Value) -> Vec<String> {
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["doc"]["message"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn two_cities_one_table_strictly_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let ch = LocalServer::start(&dir.path().join("ch"), None).expect("start clickhouse-server");
    let cfg = Config::single(&ch.url());
    schema::create_single(&cfg).unwrap();

    let root = dir.path().join("pref");
    let pref_admin = init_prefecture(&root, "iwate.lg.jp").unwrap().admin_token;
    let a = TenantId::new("kamaishi").unwrap();
    let b = TenantId::new("miyako").unwrap();
    let tok_a = init_city(&root, "iwate.lg.jp", &a).unwrap().admin_token;
    let tok_b = init_city(&root, "iwate.lg.jp", &b).unwrap().admin_token;
    // Kamaishi runs a Sigma rule (its rule set is its own; miyako has none).
    let rules = mamori_prefecture::city_dir(&root, &a).join("rules/pack");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("csv.yml"), SIGMA_CSV).unwrap();
    let pref =
        std::sync::Arc::new(Prefecture::open(&root, &[a.clone(), b.clone()], cfg.clone()).unwrap());

    // Officers read; the first admin tokens ingest (least privilege: admins may not read timelines).
    let off_a = pref
        .create_token(Some(&a), "officer-a", mamori_auth::Role::Officer, "test")
        .unwrap();
    let off_b = pref
        .create_token(Some(&b), "officer-b", mamori_auth::Role::Officer, "test")
        .unwrap();
    let pref_aud = pref
        .create_token(None, "pref-auditor", mamori_auth::Role::Auditor, "test")
        .unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(pref.clone());
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    let api = Api {
        base: format!("http://{addr}"),
        http: reqwest::blocking::Client::new(),
    };

    // Each city ingests through its own path with its own token.
    let (s, v) = api.post(
        "/t/kamaishi/api/v1/events",
        &tok_a,
        ndjson("kamaishi", 30) + "not json\n",
    );
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["ids"].as_array().unwrap().len(), 30);
    assert_eq!(v["rejected"][0]["line"], 31);
    let (s, _) = api.post("/t/miyako/api/v1/events", &tok_b, ndjson("miyako", 20));
    assert_eq!(s, StatusCode::OK);
    // A city's token cannot write into another city.
    let (s, _) = api.post("/t/miyako/api/v1/events", &tok_a, ndjson("kamaishi", 1));
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Wait until both followers indexed their ledgers (first admin entry + events).
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let done = pref.cities().all(|c| {
            let size = c.ledger.durable_size();
            ClickHouseStore::open(cfg.clone(), c.tenant.clone())
                .unwrap()
                .indexed_upto()
                .unwrap()
                == Some(size - 1)
        });
        if done {
            break;
        }
        assert!(Instant::now() < deadline, "indexing did not catch up");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Queries: same user names in both cities, each sees only its own.
    let (s, va) = api.get(
        "/t/kamaishi/api/v1/events?user=tanaka&limit=1000",
        Some(&off_a),
    );
    assert_eq!(s, StatusCode::OK, "{va}");
    let ma = messages(&va);
    assert_eq!(ma.len(), 10);
    assert!(
        ma.iter().all(|m| m.starts_with("kamaishi-secret")),
        "{ma:?}"
    );
    let (_, vb) = api.get(
        "/t/miyako/api/v1/events?user=tanaka&limit=1000",
        Some(&off_b),
    );
    let mb = messages(&vb);
    assert_eq!(mb.len(), 7);
    assert!(mb.iter().all(|m| m.starts_with("miyako-secret")), "{mb:?}");
    // Full text for the other city's marker finds nothing; the same search in that city does.
    let (_, v) = api.get("/t/kamaishi/api/v1/events?q=miyako-secret", Some(&off_a));
    assert!(ids(&v).is_empty(), "{v}");
    let (_, v) = api.get(
        "/t/miyako/api/v1/events?q=miyako-secret&limit=1000",
        Some(&off_b),
    );
    assert_eq!(ids(&v).len(), 20);
    // The same ledger id exists in both cities; each gets its own event.
    let (_, ea) = api.get("/t/kamaishi/api/v1/events/5", Some(&off_a));
    let (_, eb) = api.get("/t/miyako/api/v1/events/5", Some(&off_b));
    assert!(
        ea["event"]["doc"]["message"]
            .as_str()
            .unwrap()
            .starts_with("kamaishi-secret")
    );
    assert!(
        eb["event"]["doc"]["message"]
            .as_str()
            .unwrap()
            .starts_with("miyako-secret")
    );
    // Beyond miyako's ledger, kamaishi's ids are not reachable through miyako's path.
    let (s, _) = api.get("/t/miyako/api/v1/events/25", Some(&off_b));
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, t) = api.get("/t/miyako/api/v1/timeline/sato?limit=1000", Some(&off_b));
    assert!(messages(&t).iter().all(|m| m.starts_with("miyako-secret")) && !ids(&t).is_empty());

    // Cross-city tokens: unknown on the other city's path, for every route.
    for path in [
        "/t/miyako/api/v1/events",
        "/t/miyako/api/v1/events/5",
        "/t/miyako/api/v1/timeline/tanaka",
        "/t/miyako/api/v1/health",
    ] {
        let (s, v) = api.get(path, Some(&off_a));
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{path}: {v}");
        assert!(!v.to_string().contains("miyako-secret"));
    }
    // The city's first admin token is refused on timelines (role), the prefecture's admin too.
    let (s, _) = api.get("/t/kamaishi/api/v1/timeline/tanaka", Some(&tok_a));
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = api.get("/t/kamaishi/api/v1/events", Some(&pref_admin));
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = api.get("/t/kamaishi/api/v1/events", None);
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Tenant ids are validated; unknown tenants are 404.
    let (s, _) = api.get("/t/Kamaishi'--/api/v1/events", Some(&off_a));
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = api.get("/t/ofunato/api/v1/events", Some(&off_a));
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The prefecture: aggregates of every city, never events.
    for path in [
        "/t/kamaishi/api/v1/events",
        "/t/kamaishi/api/v1/events/5",
        "/t/miyako/api/v1/timeline/tanaka",
    ] {
        let (s, v) = api.get(path, Some(&pref_aud));
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {v}");
    }
    let (s, h) = api.get("/prefecture/api/v1/health", Some(&pref_aud));
    assert_eq!(s, StatusCode::OK, "{h}");
    let text = h.to_string();
    assert!(
        !text.contains("secret") && !text.contains("住民記録"),
        "aggregates only: {text}"
    );
    let agg = h["aggregates"].as_array().unwrap();
    let events_of = |t: &str| {
        agg.iter().find(|r| r["tenant"] == t).unwrap()["events"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(
        events_of("kamaishi"),
        33,
        "30 events + the first admin token + the ledgered Sigma rule set + the officer token"
    );
    assert_eq!(events_of("miyako"), 22);
    let (s, _) = api.get("/t/miyako/api/v1/health", Some(&pref_aud));
    assert_eq!(s, StatusCode::OK);
    // A city cannot see the prefecture view or another city's health.
    let (s, _) = api.get("/prefecture/api/v1/health", Some(&off_a));
    assert!(
        s == StatusCode::UNAUTHORIZED || s == StatusCode::FORBIDDEN,
        "{s}"
    );
    // Each city's log is signed with its own key, under its own origin.
    let (_, cpa) = api.get("/t/kamaishi/checkpoint", None);
    let (_, cpb) = api.get("/t/miyako/checkpoint", None);
    assert!(cpa.as_str().unwrap().starts_with("iwate.lg.jp/kamaishi\n"));
    assert!(cpb.as_str().unwrap().starts_with("iwate.lg.jp/miyako\n"));

    // Elasticsearch-compatible ingest per city, with that city's token (Beats probe the base
    // URL `http://host/t/<city>` first).
    let (s, v) = api.get("/t/miyako/", None);
    assert_eq!(s, StatusCode::OK, "{v}");
    let bulk: String = (0..5)
        .map(|i| {
            format!(
                "{{\"create\":{{}}}}\n{}\n",
                serde_json::json!({"@timestamp": "2024-05-02T10:00:00+09:00", "user": {"name": "tanaka"},
                    "event": {"action": "file-read"}, "file": {"path": format!("/共有/miyako/bulk{i}.csv")},
                    "message": format!("miyako-secret bulk {i}")})
            )
        })
        .collect();
    let (s, v) = api.post("/t/miyako/_bulk", &tok_b, bulk.clone());
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["errors"], false, "{v}");
    assert_eq!(v["items"].as_array().unwrap().len(), 5);
    let (s, _) = api.post("/t/miyako/_bulk", &tok_a, bulk.clone());
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = api.post("/t/miyako/_bulk", &pref_admin, bulk);
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // The bulk events reach miyako's index only.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, v) = api.get("/t/miyako/api/v1/events?q=bulk&limit=100", Some(&off_b));
        if ids(&v).len() == 5 {
            break;
        }
        assert!(Instant::now() < deadline, "bulk events not indexed: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, v) = api.get("/t/kamaishi/api/v1/events?q=bulk", Some(&off_a));
    assert!(ids(&v).is_empty(), "{v}");

    // Streaming detection per city: kamaishi's rule raises kamaishi's alert from kamaishi's
    // events; miyako (no rules) has none, even though its events match the same rule text.
    let deadline = Instant::now() + Duration::from_secs(60);
    let alerts_a = loop {
        let (s, v) = api.get("/t/kamaishi/api/v1/alerts", Some(&off_a));
        assert_eq!(s, StatusCode::OK, "{v}");
        if !v["alerts"].as_array().unwrap().is_empty() {
            break v;
        }
        assert!(Instant::now() < deadline, "no kamaishi alert: {v}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let text = alerts_a.to_string();
    assert!(!text.contains("miyako"), "{text}");
    let ev: Vec<u64> = alerts_a["alerts"][0]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_u64().unwrap())
        .collect();
    assert!(!ev.is_empty());
    for id in ev {
        let (_, e) = api.get(&format!("/t/kamaishi/api/v1/events/{id}"), Some(&off_a));
        assert!(
            e["event"]["doc"]["message"]
                .as_str()
                .unwrap()
                .starts_with("kamaishi-secret"),
            "{e}"
        );
    }
    let (s, v) = api.get("/t/miyako/api/v1/alerts", Some(&off_b));
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["alerts"].as_array().unwrap().is_empty(), "{v}");
    // Another city's token and the prefecture's are unknown to a city's alerts.
    let (s, _) = api.get("/t/kamaishi/api/v1/alerts", Some(&off_b));
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = api.get("/t/kamaishi/api/v1/alerts", Some(&pref_aud));
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // The prefecture sees alert counts only.
    let (_, h) = api.get("/prefecture/api/v1/health", Some(&pref_aud));
    let count = |t: &str| {
        h["cities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["tenant"] == t)
            .unwrap()["alerts"]
            .as_u64()
            .unwrap()
    };
    assert!(count("kamaishi") >= 1, "{h}");
    assert_eq!(count("miyako"), 0, "{h}");
    // The rest of the single-city API is not reachable under a city's prefix.
    let (s, _) = api.get("/t/kamaishi/api/v1/admin/audit", Some(&tok_a));
    assert_eq!(s, StatusCode::NOT_FOUND);

    pref.close();
}
