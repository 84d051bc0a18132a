//! Tenant-mode operations with real servers on 127.0.0.1 (clickhouse-server, nats-server, and
//! util-linux `logger` as the syslog sender):
//!
//! * `Secure` cookies: each city's web-UI cookies carry `Secure` with [`Options::secure_cookies`]
//!   or the prefecture's `[server] secure_cookies`, and not without.
//! * syslog per tenant: two cities, each with its own TCP and UDP listener from its own
//!   `config.toml`; `logger` sends to each; every message lands in its own city's ledger, SQLite
//!   index and ClickHouse rows, none in the other city's. A city's port already taken is a
//!   typed error naming the city, the protocol, the address and the hint "port in use".
//! * detection per city from the bus: with NATS, each city's streaming detection is the durable
//!   consumer `detect-<city>`; a city's Sigma rule fires once per matching event; reopened while
//!   NATS is down, the detector raises nothing for events its ledger and index already hold
//!   (it does not read the ledger itself), and once NATS is back it raises exactly the missing
//!   alerts, none twice.

mod common;
use common::urlencode;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mamori_ledger::{EntryKind, NewEntry};
use mamori_prefecture::{
    Options, Prefecture, TenantId, city_dir, init_city, init_prefecture, router, serve_syslog,
    set_city_syslog,
};
use mamori_store::IndexBackend;
use mamori_store_clickhouse::local::LocalServer;
use mamori_store_clickhouse::{ClickHouseStore, Config, schema};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Serves `pref`'s router on a free loopback port; returns the base URL.
fn serve_http(rt: &tokio::runtime::Runtime, pref: &Arc<Prefecture>) -> String {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(pref.clone());
    rt.spawn(async move { axum::serve(listener, app).await });
    base
}

/// The `Set-Cookie` headers of the city's login page and of a failed login attempt.
fn login_cookies(base: &str, tenant: &str) -> Vec<String> {
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .get(format!("{base}/t/{tenant}/ui/login"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// Logs `user` in on `tenant`'s UI; returns the session cookie header as set.
fn session_cookie(base: &str, tenant: &str, user: &str, pw: &str) -> String {
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http
        .get(format!("{base}/t/{tenant}/ui/login"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let k = "name=\"_csrf\" value=\"";
    let i = page.find(k).unwrap() + k.len();
    let nonce = page[i..].split('"').next().unwrap().to_owned();
    let r = http
        .post(format!("{base}/t/{tenant}/ui/login"))
        .header("cookie", format!("mamori_login={nonce}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(urlencode(&[
            ("_csrf", nonce.as_str()),
            ("username", user),
            ("password", pw),
        ]))
        .send()
        .unwrap();
    assert_eq!(r.status(), 303, "login of {user} on {tenant}");
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("mamori_session="))
        .expect("session cookie")
}

fn setup(dir: &Path, ids: &[&str]) -> (LocalServer, Config, std::path::PathBuf, Vec<TenantId>) {
    let ch = LocalServer::start(&dir.join("ch"), None).expect("start clickhouse-server");
    let cfg = Config::single(&ch.url());
    schema::create_single(&cfg).unwrap();
    let root = dir.join("pref");
    init_prefecture(&root, "iwate.lg.jp").unwrap();
    let ts: Vec<TenantId> = ids.iter().map(|i| TenantId::new(i).unwrap()).collect();
    for t in &ts {
        init_city(&root, "iwate.lg.jp", t).unwrap();
    }
    (ch, cfg, root, ts)
}

#[test]
fn city_ui_cookies_are_secure_only_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let (_ch, cfg, root, ts) = setup(dir.path(), &["kamaishi"]);
    const PW: &str = "kamaishi-officer-pass-01";
    // (how it is opened, whether the cookies must be Secure)
    let rounds: [(&str, bool); 3] = [("default", false), ("option", true), ("config", true)];
    for (how, secure) in rounds {
        if how == "config" {
            // The prefecture's own config.toml: `[server] secure_cookies = true`.
            let p = root.join("prefecture/config.toml");
            let mut v: toml::Table = std::fs::read_to_string(&p).unwrap().parse().unwrap();
            v.entry("server")
                .or_insert_with(|| toml::Value::Table(Default::default()))
                .as_table_mut()
                .unwrap()
                .insert("secure_cookies".into(), toml::Value::Boolean(true));
            std::fs::write(&p, toml::to_string(&v).unwrap()).unwrap();
        }
        let opts = Options {
            secure_cookies: how == "option",
            ..Options::default()
        };
        let pref = Arc::new(Prefecture::open_opts(&root, &ts, cfg.clone(), opts).unwrap());
        if how == "default" {
            pref.create_user(&ts[0], "officer", mamori_auth::Role::Officer, PW, "test")
                .unwrap();
        }
        let rt = runtime();
        let base = serve_http(&rt, &pref);
        let mut cookies = login_cookies(&base, "kamaishi");
        cookies.push(session_cookie(&base, "kamaishi", "officer", PW));
        assert!(
            cookies.iter().any(|c| c.starts_with("mamori_login="))
                && cookies.iter().any(|c| c.starts_with("mamori_session=")),
            "{how}: {cookies:?}"
        );
        for c in &cookies {
            assert!(c.contains("Path=/t/kamaishi/"), "{how}: {c}");
            assert_eq!(
                c.split(';').any(|a| a.trim() == "Secure"),
                secure,
                "{how}: Secure must be {secure}: {c}"
            );
        }
        pref.close();
        // The HTTP server's tasks hold the prefecture (and its ledgers' locks) until they are
        // dropped: dropping the runtime waits for that (`shutdown_background` did not, and the
        // next round's open found the ledger still locked now and then).
        drop(rt);
        drop(pref);
    }
}

fn logger(proto: &str, addr: std::net::SocketAddr, msg: &str) {
    let st = Command::new("logger")
        .args([
            proto,
            "--server",
            &addr.ip().to_string(),
            "--port",
            &addr.port().to_string(),
            "--rfc5424",
            "--tag",
            "smbd_audit",
            msg,
        ])
        .status()
        .expect("run logger (util-linux)");
    assert!(st.success(), "logger {proto} {addr} {msg}");
}

/// Messages of the city's ledger records containing `marker`.
fn ledger_messages(pref: &Prefecture, t: &TenantId, marker: &str) -> Vec<String> {
    let c = pref.city(t).unwrap();
    let mut cur = c.ledger.records_from(0);
    let recs = cur.read(c.ledger.durable_size(), 1 << 20).unwrap();
    recs.iter()
        .map(|r| String::from_utf8_lossy(&r.payload).into_owned())
        .filter(|p| p.contains(marker))
        .collect()
}

fn sqlite_hits(pref: &Prefecture, t: &TenantId, q: &str) -> usize {
    let c = pref.city(t).unwrap();
    let query = mamori_store::Query {
        q: Some(q.into()),
        limit: Some(1000),
        ..Default::default()
    };
    c.server
        .reader
        .lock()
        .unwrap()
        .search(&query)
        .unwrap()
        .events
        .len()
}

fn clickhouse_hits(cfg: &Config, t: &TenantId, q: &str) -> usize {
    let s = ClickHouseStore::open(cfg.clone(), t.clone()).unwrap();
    let query = mamori_store::Query {
        q: Some(q.into()),
        limit: Some(1000),
        ..Default::default()
    };
    s.search(&query).unwrap().events.len()
}

#[test]
fn syslog_per_city_lands_only_in_its_own_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let (_ch, cfg, root, ts) = setup(dir.path(), &["kamaishi", "miyako"]);
    // Each city's own listeners, in its own config.toml (port 0: the bound port is reported).
    for t in &ts {
        set_city_syslog(&root, t, Some("127.0.0.1:0"), Some("127.0.0.1:0")).unwrap();
        let text = std::fs::read_to_string(city_dir(&root, t).join("config.toml")).unwrap();
        assert!(text.contains("syslog_tcp = \"127.0.0.1:0\""), "{text}");
    }
    // Bad addresses and unknown cities are refused, Japanese first.
    let e = set_city_syslog(&root, &ts[0], Some("localhost"), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("syslog の待受アドレス"), "{e}");
    let e = set_city_syslog(
        &root,
        &TenantId::new("kuji").unwrap(),
        Some("127.0.0.1:1"),
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("市町村 kuji はこの県にありません"), "{e}");

    let pref = Arc::new(Prefecture::open(&root, &ts, cfg.clone()).unwrap());
    let rt = runtime();
    let listeners = rt.block_on(serve_syslog(&pref)).unwrap();
    let mut addr: BTreeMap<(String, &str), std::net::SocketAddr> = BTreeMap::new();
    for l in &listeners {
        assert_ne!(l.addr.port(), 0);
        addr.insert((l.tenant.to_string(), l.proto), l.addr);
    }
    assert_eq!(addr.len(), 4, "{listeners:?}");

    // Three messages per city and protocol, each naming its city and protocol.
    const N: usize = 3;
    for t in &ts {
        for (flag, proto) in [("--tcp", "tcp"), ("--udp", "udp")] {
            for i in 0..N {
                logger(
                    flag,
                    addr[&(t.to_string(), proto)],
                    &format!("sysmark{t}{proto} file-read /共有/{t}/{i}.csv"),
                );
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    for t in &ts {
        for proto in ["tcp", "udp"] {
            let m = format!("sysmark{t}{proto}");
            loop {
                let (l, s, c) = (
                    ledger_messages(&pref, t, &m).len(),
                    sqlite_hits(&pref, t, &m),
                    clickhouse_hits(&cfg, t, &m),
                );
                if (l, s, c) == (N, N, N) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{t} {proto}: ledger {l}, SQLite {s}, ClickHouse {c} of {N}"
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    // Parsed as syslog (host, program), not quarantined.
    let msg = &ledger_messages(&pref, &ts[0], "sysmarkkamaishitcp")[0];
    let doc: serde_json::Value = serde_json::from_str(msg).unwrap();
    assert_eq!(
        doc["process"]["name"], "smbd_audit",
        "parsed from RFC 5424: {doc}"
    );
    // Nothing crossed: the other city's ledger, SQLite index and ClickHouse rows have none.
    for (t, other) in [(&ts[0], &ts[1]), (&ts[1], &ts[0])] {
        for proto in ["tcp", "udp"] {
            let m = format!("sysmark{other}{proto}");
            assert!(
                ledger_messages(&pref, t, &m).is_empty(),
                "{m} in {t}'s ledger"
            );
            assert_eq!(sqlite_hits(&pref, t, &m), 0, "{m} in {t}'s SQLite index");
            assert_eq!(
                clickhouse_hits(&cfg, t, &m),
                0,
                "{m} in {t}'s ClickHouse rows"
            );
        }
    }
    pref.close();
}

#[test]
fn a_city_syslog_port_already_taken_is_a_typed_error_naming_the_city() {
    let dir = tempfile::tempdir().unwrap();
    let (_ch, cfg, root, ts) = setup(dir.path(), &["kamaishi", "miyako"]);
    // miyako's TCP port is held by another program.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = held.local_addr().unwrap().to_string();
    set_city_syslog(&root, &ts[0], Some("127.0.0.1:0"), None).unwrap();
    set_city_syslog(&root, &ts[1], Some(&taken), None).unwrap();
    let pref = Arc::new(Prefecture::open(&root, &ts, cfg).unwrap());
    let e = runtime().block_on(serve_syslog(&pref)).unwrap_err();
    match &e {
        mamori_prefecture::PrefectureError::SyslogListen { tenant, error } => {
            assert_eq!(tenant, &ts[1]);
            assert_eq!(error.protocol(), mamori_server::syslog::Protocol::Tcp);
            assert_eq!(error.addr(), taken);
        }
        e => panic!("not a listener error: {e:?}"),
    }
    let msg = e.to_string();
    for want in [
        "市町村 miyako",
        "syslog TCP の受信口",
        taken.as_str(),
        "ポートは使用中",
        "port in use",
    ] {
        assert!(msg.contains(want), "{want:?} missing in: {msg}");
    }
    pref.close();
}

const SIGMA_CSV: &str = "title: 住基 CSV 読み出し / register CSV read
id: 0a3c6a2e-6d7e-4c39-9d68-3f1f3b0c0a02
logsource:
  product: mamori
detection:
  selection:
    file.path|endswith: '.csv'
  condition: selection
";

/// Appends events to `t`'s ledger: `matching` reading a CSV file (the rule's match), `other`
/// reading a text file. Returns the ids of the matching ones.
fn append(pref: &Prefecture, t: &TenantId, tag: &str, matching: usize, other: usize) -> Vec<u64> {
    let c = pref.city(t).unwrap();
    let mut entries = Vec::new();
    for i in 0..matching + other {
        let ext = if i < matching { "csv" } else { "txt" };
        let doc = serde_json::json!({
            "@timestamp": "2024-05-01T09:00:00+09:00",
            "user": {"name": format!("staff{i}")},
            "host": {"name": format!("pc-{tag}-{i}")},
            "event": {"action": "file-read"},
            "file": {"path": format!("/共有/住民課/{tag}-{i}.{ext}")},
            "message": format!("{t} {tag} {i}"),
        });
        entries.push(NewEntry {
            kind: EntryKind::Event,
            payload: serde_json::to_vec(&doc).unwrap(),
        });
    }
    let r = c.ledger.append_blocking(entries).unwrap();
    (r.first_index..r.first_index + matching as u64).collect()
}

/// Ledger ids of the evidence of every alert of `t`, with multiplicity.
fn alert_evidence(pref: &Prefecture, t: &TenantId) -> Vec<u64> {
    let c = pref.city(t).unwrap();
    let mut ev: Vec<u64> = c
        .server
        .detection
        .list(None, None, u32::MAX)
        .unwrap()
        .iter()
        .flat_map(|a| a.evidence.clone())
        .collect();
    ev.sort();
    ev
}

fn wait_evidence(pref: &Prefecture, t: &TenantId, want: &[u64]) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let ev = alert_evidence(pref, t);
        if ev == want {
            return;
        }
        assert!(
            ev.len() <= want.len(),
            "{t}: more alerts than matching events: {ev:?}"
        );
        assert!(
            Instant::now() < deadline,
            "{t}: alerts on {ev:?}, want {want:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn city_detection_runs_as_its_own_bus_consumer() {
    let dir = tempfile::tempdir().unwrap();
    let (_ch, cfg, root, ts) = setup(dir.path(), &["kamaishi", "miyako"]);
    let (a, b) = (&ts[0], &ts[1]);
    let rules = city_dir(&root, a).join("rules/pack");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("csv.yml"), SIGMA_CSV).unwrap();
    let mut nats = mamori_bus::local::NatsServer::start(&dir.path().join("nats")).unwrap();
    let url = nats.url();
    let opts = || Options {
        bus: Some(mamori_bus::BusConfig::new(&url)),
        ..Options::default()
    };

    let pref = Arc::new(Prefecture::open_opts(&root, &ts, cfg.clone(), opts()).unwrap());
    let mut want_a = append(&pref, a, "first", 3, 2);
    append(&pref, b, "first", 3, 2);
    wait_evidence(&pref, a, &want_a);
    // miyako has no rules: its detector (its own consumer) went past its events, no alerts.
    let cb = pref.city(b).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while cb.server.detection.next_index() < cb.ledger.durable_size() {
        assert!(
            Instant::now() < deadline,
            "miyako's detector never caught up"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(alert_evidence(&pref, b).is_empty());
    // Health names the feed of both indexing and detection.
    let rt = runtime();
    let base = serve_http(&rt, &pref);
    let pref_token = pref
        .create_token(None, "ops", mamori_auth::Role::Auditor, "test")
        .unwrap();
    let h: serde_json::Value = reqwest::blocking::Client::new()
        .get(format!("{base}/prefecture/api/v1/health"))
        .bearer_auth(&pref_token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    for c in h["cities"].as_array().unwrap() {
        assert_eq!(c["detect_feed"], "nats", "{c}");
        assert!(c["detect_delivered"].as_u64().unwrap() >= 5, "{c}");
    }
    pref.close();
    drop(rt); // waits until the server's tasks (holding the prefecture) are dropped
    drop(pref);

    // Consumer restart with NATS down: new matching events reach kamaishi's ledger and SQLite
    // index, but the detector only takes records from its consumer — nothing is raised.
    nats.kill();
    let pref = Arc::new(Prefecture::open_opts(&root, &ts, cfg.clone(), opts()).unwrap());
    let more = append(&pref, a, "second", 2, 1);
    let ca = pref.city(a).unwrap();
    let last = *more.last().unwrap() + 1; // the non-matching one
    let deadline = Instant::now() + Duration::from_secs(60);
    while ca.server.reader.lock().unwrap().indexed_upto().unwrap() < Some(last) {
        assert!(
            Instant::now() < deadline,
            "kamaishi's SQLite index never took them"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        ca.server.detection.next_index() <= more[0],
        "the detector read the ledger"
    );
    assert_eq!(alert_evidence(&pref, a), want_a, "alerts without the bus");

    // NATS back: exactly the two new alerts, none of the first three again.
    nats.restart().unwrap();
    want_a.extend(&more);
    wait_evidence(&pref, a, &want_a);
    let deadline = Instant::now() + Duration::from_secs(120);
    while ca.server.detection.next_index() < ca.ledger.durable_size() {
        assert!(
            Instant::now() < deadline,
            "kamaishi's detector never caught up"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(alert_evidence(&pref, a), want_a);
    assert!(alert_evidence(&pref, b).is_empty());
    pref.close();
}
