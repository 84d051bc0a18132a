//! Grants (issue #11): a city's admin opens the city's events to the prefecture for a while.
//! Real clickhouse-server on 127.0.0.1, the tenant-mode API over HTTP, two cities: without a
//! grant the prefecture gets 403; a non-admin city token or the prefecture cannot grant; a
//! grant lets the prefecture read that city's events (only events, only inside the grant's
//! range, only that city) and every read lands in the city's ledger; revoked or expired grants
//! give 403 again; bad requests are 400 with a clear message; grants survive a restart.

mod common;
use common::Api;

use std::time::{Duration, Instant};

use mamori_prefecture::{TenantId, init_city, init_prefecture};
use mamori_store::IndexBackend;
use mamori_store_clickhouse::local::LocalServer;
use mamori_store_clickhouse::{ClickHouseStore, Config, schema};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn ndjson(city: &str, n: usize) -> String {
    (0..n)
        .map(|i| {
            json!({
                "@timestamp": format!("2024-05-01T09:{:02}:00+09:00", i % 60),
                "user": {"name": (["tanaka", "suzuki", "sato"][i % 3])},
                "event": {"action": "file-read"},
                "message": format!("{city}-secret 住民記録 {i}"),
            })
            .to_string()
                + "\n"
        })
        .collect()
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn events(v: &Value) -> &Vec<Value> {
    v["events"].as_array().unwrap_or_else(|| panic!("{v}"))
}

/// Polls the city's admin entries with `event.action` = `action` (as the city's officer sees
/// them) until `pred` holds on them.
fn wait_admin(
    api: &Api,
    city: &str,
    token: &str,
    action: &str,
    pred: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (s, v) = api.get_with(
            &format!("/t/{city}/api/v1/events?kind=admin&action={action}&limit=1000"),
            token,
        );
        assert_eq!(s, StatusCode::OK, "{v}");
        let docs: Vec<Value> = events(&v).iter().map(|h| h["doc"].clone()).collect();
        if pred(&docs) {
            return docs;
        }
        assert!(
            Instant::now() < deadline,
            "{action} entries not as expected: {docs:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn grants_open_one_citys_events_to_the_prefecture_ledgered_revocable_expiring() {
    let dir = tempfile::tempdir().unwrap();
    let ch = LocalServer::start(&dir.path().join("ch"), None).expect("start clickhouse-server");
    let cfg = Config::single(&ch.url());
    schema::create_single(&cfg).unwrap();
    let root = dir.path().join("pref");
    init_prefecture(&root, "iwate.lg.jp").unwrap();
    let a = TenantId::new("kamaishi").unwrap();
    let b = TenantId::new("miyako").unwrap();
    let admin_a = init_city(&root, "iwate.lg.jp", &a).unwrap().admin_token;
    let admin_b = init_city(&root, "iwate.lg.jp", &b).unwrap().admin_token;
    let cities = [a.clone(), b.clone()];
    let open = || common::open_when_free(&root, &cities, &cfg);
    let pref = open();
    let off_a = pref
        .create_token(Some(&a), "officer-a", mamori_auth::Role::Officer, "test")
        .unwrap();
    let pref_off = pref
        .create_token(None, "pref-officer", mamori_auth::Role::Officer, "test")
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
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(mamori_prefecture::serve(pref.clone(), listener, async {
        let _ = stop_rx.await;
    }));
    let api = Api {
        base: format!("http://{addr}"),
        http: reqwest::blocking::Client::new(),
    };

    let (s, v) = api.post(
        "/t/kamaishi/api/v1/events",
        &admin_a,
        ndjson("kamaishi", 30),
    );
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = api.post("/t/miyako/api/v1/events", &admin_b, ndjson("miyako", 20));
    assert_eq!(s, StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !pref.cities().all(|c| {
        ClickHouseStore::open(cfg.clone(), c.tenant.clone())
            .unwrap()
            .indexed_upto()
            .unwrap()
            == Some(c.ledger.durable_size() - 1)
    }) {
        assert!(Instant::now() < deadline, "indexing did not catch up");
        std::thread::sleep(Duration::from_millis(100));
    }

    // No grant: 403, exactly as before.
    let (s, v) = api.get_with("/t/kamaishi/api/v1/events?limit=1000", &pref_off);
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, _) = api.get_with("/t/kamaishi/api/v1/events/1", &pref_off);
    assert_eq!(s, StatusCode::FORBIDDEN);

    let in_days = |d: i64| rfc3339(chrono::Utc::now() + chrono::Duration::days(d));
    let grant_body =
        |reason: &str, exp: &str| json!({"reason": reason, "expires_at": exp}).to_string();
    // Only the city's admin grants: not its officer, not the prefecture, not another city.
    let (s, v) = api.post(
        "/t/kamaishi/api/v1/grants",
        &off_a,
        grant_body("調査", &in_days(7)),
    );
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v) = api.post(
        "/t/kamaishi/api/v1/grants",
        &pref_off,
        grant_body("調査", &in_days(7)),
    );
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, _) = api.post(
        "/t/kamaishi/api/v1/grants",
        &admin_b,
        grant_body("調査", &in_days(7)),
    );
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Bad requests: 400 with a message naming what is wrong.
    let (s, v) = api.post(
        "/t/kamaishi/api/v1/grants",
        &admin_a,
        json!({"expires_at": in_days(7)}).to_string(),
    );
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"]["message_en"]
            .as_str()
            .unwrap()
            .contains("reason is required"),
        "{v}"
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains("理由"),
        "{v}"
    );
    let (s, v) = api.post(
        "/t/kamaishi/api/v1/grants",
        &admin_a,
        grant_body("調査", &in_days(91)),
    );
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"]["message_en"]
            .as_str()
            .unwrap()
            .contains("at most 90 days"),
        "{v}"
    );
    let (s, v) = api.post(
        "/t/kamaishi/api/v1/grants",
        &admin_a,
        json!({"reason": "調査"}).to_string(),
    );
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"]["message_en"]
            .as_str()
            .unwrap()
            .contains("expires_at is required"),
        "{v}"
    );
    let (s, v) = api.post(
        "/t/kamaishi/api/v1/grants",
        &admin_a,
        grant_body("調査", "next week"),
    );
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"]["message_en"]
            .as_str()
            .unwrap()
            .contains("RFC 3339"),
        "{v}"
    );
    // Nothing was granted by any of those.
    let (s, _) = api.get_with("/t/kamaishi/api/v1/events", &pref_off);
    assert_eq!(s, StatusCode::FORBIDDEN);

    // A grant: the prefecture reads kamaishi's events, and only kamaishi's.
    let reason = "県 CSIRT による不審アクセス調査(2024-05 住民記録)";
    let (s, v) = api.post(
        "/t/kamaishi/api/v1/grants",
        &admin_a,
        grant_body(reason, &in_days(7)),
    );
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let g1 = v["grant"]["id"].as_str().unwrap().to_owned();
    assert_eq!(v["grant"]["state"], "active");
    assert_eq!(v["grant"]["reason"], reason);
    let (s, v) = api.get_with(
        "/t/kamaishi/api/v1/events?user=tanaka&limit=1000",
        &pref_off,
    );
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(events(&v).len(), 10);
    assert!(
        events(&v).iter().all(|h| h["doc"]["message"]
            .as_str()
            .unwrap()
            .starts_with("kamaishi-secret")),
        "{v}"
    );
    // Events only: the city's admin entries (tokens, grants) stay closed.
    let (s, v) = api.get_with("/t/kamaishi/api/v1/events?kind=admin&limit=1000", &pref_off);
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(events(&v).len(), 30, "{v}");
    assert!(events(&v).iter().all(|h| h["kind"] == "event"), "{v}");
    let eid = events(&v)[0]["id"].as_u64().unwrap();
    // The event of 09:00 JST, outside the range of a later grant.
    let e0 = events(&v)
        .iter()
        .find(|h| h["doc"]["message"] == "kamaishi-secret 住民記録 0")
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    let (s, v) = api.get_with(&format!("/t/kamaishi/api/v1/events/{eid}"), &pref_off);
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["event"]["id"], eid);
    let (s, _) = api.get_with("/t/kamaishi/api/v1/events/0", &pref_off); // the first admin entry
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Another city stays closed; nothing but reads opens (no writes, no timelines).
    let (s, _) = api.get_with("/t/miyako/api/v1/events", &pref_off);
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = api.post("/t/kamaishi/api/v1/events", &pref_off, ndjson("pref", 1));
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = api.get_with("/t/kamaishi/api/v1/timeline/tanaka", &pref_off);
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Grants are the city's to see; the prefecture's health shows counts only.
    let (s, v) = api.get_with("/t/kamaishi/api/v1/grants", &pref_off);
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v) = api.get_with("/t/kamaishi/api/v1/grants", &admin_a);
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["grants"][0]["id"], g1.as_str());
    assert_eq!(v["grants"][0]["granted_by"], "initial-admin");
    let pref_admin_health = |api: &Api| {
        let (s, v) = api.get_with("/prefecture/api/v1/health", &pref_off);
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    };
    let h = pref_admin_health(&api);
    let ha = h["cities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["tenant"] == "kamaishi")
        .unwrap();
    let hb = h["cities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["tenant"] == "miyako")
        .unwrap();
    assert_eq!(
        ha["grants"],
        json!({"active": 1, "expired": 0, "revoked": 0})
    );
    assert_eq!(
        hb["grants"],
        json!({"active": 0, "expired": 0, "revoked": 0})
    );
    assert!(
        !h.to_string().contains("CSIRT"),
        "health shows more than counts: {h}"
    );

    // Every read is in the city's ledger: who, under which grant, what query, how many.
    let issued = wait_admin(&api, "kamaishi", &off_a, "prefecture-grant-issued", |d| {
        d.len() == 1
    });
    assert_eq!(issued[0]["user"]["name"], "initial-admin");
    assert_eq!(issued[0]["mamori"]["grant"]["reason"], reason);
    let reads = wait_admin(&api, "kamaishi", &off_a, "prefecture-read", |d| {
        d.len() == 4
    });
    assert!(
        reads
            .iter()
            .all(|d| d["user"]["name"] == "prefecture:pref-officer"
                && d["mamori"]["grant"]["id"] == g1.as_str()),
        "{reads:?}"
    );
    let q = reads
        .iter()
        .find(|d| d["mamori"]["grant"]["read"]["query"]["user"] == "tanaka")
        .expect("search by user ledgered");
    assert_eq!(q["mamori"]["grant"]["returned"], 10);
    assert!(
        reads
            .iter()
            .any(|d| d["mamori"]["grant"]["read"]["event_id"] == eid),
        "{reads:?}"
    );
    // Miyako's ledger has none of it.
    let (_, v) = api.get_with(
        "/t/miyako/api/v1/events?kind=admin&action=prefecture-read",
        &admin_b,
    );
    assert!(events(&v).is_empty(), "{v}");

    // Revoked: 403 again, and the revocation is ledgered.
    let (s, v) = api.delete(&format!("/t/kamaishi/api/v1/grants/{g1}"), &off_a);
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v) = api.delete(&format!("/t/kamaishi/api/v1/grants/{g1}"), &admin_a);
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["grant"]["state"], "revoked");
    let (s, _) = api.get_with("/t/kamaishi/api/v1/events", &pref_off);
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = api.get_with(&format!("/t/kamaishi/api/v1/events/{eid}"), &pref_off);
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = api.delete(&format!("/t/kamaishi/api/v1/grants/{g1}"), &admin_a);
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = api.delete("/t/kamaishi/api/v1/grants/grant-none", &admin_a);
    assert_eq!(s, StatusCode::NOT_FOUND);
    wait_admin(&api, "kamaishi", &off_a, "prefecture-grant-revoked", |d| {
        d.len() == 1 && d[0]["mamori"]["grant"]["id"] == g1.as_str()
    });

    // A grant limited to a time range: 09:10–09:20 JST of the 30 events (09:00–09:29).
    let body = json!({"reason": "範囲限定", "expires_at": in_days(1),
        "from": "2024-05-01T00:10:00Z", "to": "2024-05-01T00:20:00Z"})
    .to_string();
    let (s, v) = api.post("/t/kamaishi/api/v1/grants", &admin_a, body);
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let g2 = v["grant"]["id"].as_str().unwrap().to_owned();
    let (s, v) = api.get_with("/t/kamaishi/api/v1/events?limit=1000", &pref_off);
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(events(&v).len(), 10, "{v}");
    // Asking for more than the range gives the range only.
    let (_, v) = api.get_with(
        "/t/kamaishi/api/v1/events?from=2024-04-01T00:00:00Z&to=2024-05-01T00:15:00Z&limit=1000",
        &pref_off,
    );
    assert_eq!(events(&v).len(), 5, "{v}");
    let (s, v) = api.get_with(&format!("/t/kamaishi/api/v1/events/{e0}"), &off_a);
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = api.get_with(&format!("/t/kamaishi/api/v1/events/{e0}"), &pref_off);
    assert_eq!(s, StatusCode::NOT_FOUND, "outside the grant's range: {v}");
    let (s, v) = api.delete(&format!("/t/kamaishi/api/v1/grants/{g2}"), &admin_a);
    assert_eq!(s, StatusCode::OK, "{v}");

    // An expired grant: 403 once the expiry has passed.
    let exp = chrono::Utc::now() + chrono::Duration::seconds(3);
    let (s, v) = api.post(
        "/t/kamaishi/api/v1/grants",
        &admin_a,
        grant_body("短時間", &rfc3339(exp + chrono::Duration::seconds(1))),
    );
    assert_eq!(s, StatusCode::CREATED, "{v}");
    while chrono::Utc::now() <= exp + chrono::Duration::seconds(2) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let (s, v) = api.get_with("/t/kamaishi/api/v1/events", &pref_off);
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let h = pref_admin_health(&api);
    let ha = h["cities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["tenant"] == "kamaishi")
        .unwrap();
    assert_eq!(
        ha["grants"],
        json!({"active": 0, "expired": 1, "revoked": 2})
    );

    // A restart rebuilds the grants from the city's own ledger.
    drop(api);
    stop_tx.send(()).unwrap();
    rt.block_on(server).unwrap().unwrap();
    pref.close();
    drop(pref);
    let pref = open();
    let states: Vec<&str> = {
        let c = pref.city(&a).unwrap();
        let now = chrono::Utc::now();
        c.grants.list().iter().map(|g| g.state_at(now)).collect()
    };
    assert_eq!(states, ["revoked", "revoked", "expired"]);
    let g = &pref.city(&a).unwrap().grants.list()[0];
    assert_eq!(
        (g.id.as_str(), g.reason.as_str(), g.granted_by.as_str()),
        (g1.as_str(), reason, "initial-admin")
    );
    assert!(pref.city(&b).unwrap().grants.list().is_empty());
    pref.close();
}
