//! The latest witnessed checkpoint, with a real witness: a city's `mamori serve` submits its
//! checkpoints to a prefecture's `mamori serve` acting as its witness (c2sp tlog-witness over
//! HTTP). While the witness is down the city keeps publishing checkpoints without a
//! cosignature, and the ledger status (`GET /api/v1/status`) and the dashboard still show the
//! latest cosigned one — its size, when and by whom it was cosigned, how far behind the current
//! tree it is — also after the city restarts; when the witness returns it catches up.

mod common;
#[path = "common/ui_fixture.rs"]
mod ui_fixture;
#[path = "common/webdriver.rs"]
mod webdriver;

use common::{Server, mamori};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};
use ui_fixture::{UiClient, screenshots_dir};

struct Init {
    vkey: String,
    witness_vkey: String,
    admin: String,
}

fn init(data: &Path, origin: &str) -> Init {
    let out = mamori().args(["init", "--origin", origin, "--data"]).arg(data).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let after = |label: &str| lines[lines.iter().position(|l| l.contains(label)).unwrap_or_else(|| panic!("{label} in {text}")) + 1].trim().to_owned();
    let cfg = data.join("config.toml");
    let c = std::fs::read_to_string(&cfg).unwrap().replace("checkpoint_interval_ms = 500", "checkpoint_interval_ms = 100");
    std::fs::write(&cfg, c).unwrap();
    Init { vkey: after("log verifier key"), witness_vkey: after("witness verifier key"), admin: after("admin token") }
}

fn edit_config(data: &Path, from: &str, to: &str) {
    let p = data.join("config.toml");
    let c = std::fs::read_to_string(&p).unwrap();
    assert!(c.contains(from), "{from:?} not in {c}");
    std::fs::write(&p, c.replace(from, to)).unwrap();
}

fn status(http: &reqwest::blocking::Client, srv: &Server, token: &str) -> Value {
    http.get(format!("{}/api/v1/status", srv.http)).bearer_auth(token).send().unwrap().json().unwrap()
}

/// Waits until `pred` holds for the ledger status; returns it.
fn wait_status(http: &reqwest::blocking::Client, srv: &Server, token: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = status(http, srv, token);
        if pred(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn ingest(http: &reqwest::blocking::Client, srv: &Server, token: &str, tag: &str, n: usize) {
    let body: String = (0..n).map(|i| format!("{{\"user\":{{\"name\":\"tanaka\"}},\"message\":\"{tag} {i}\"}}\n")).collect();
    let r = http.post(format!("{}/api/v1/events", srv.http)).bearer_auth(token).body(body).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[test]
fn dashboard_shows_the_latest_witnessed_checkpoint_while_the_witness_is_down() {
    let tmp = tempfile::tempdir().unwrap();
    let (city_dir, pref_dir) = (tmp.path().join("city"), tmp.path().join("pref"));
    let city = init(&city_dir, "mamori.city.example.lg.jp/audit");
    let pref = init(&pref_dir, "mamori.pref.example.lg.jp/audit");
    let wname = mamori_ledger::checkpoint::Cosigner::from_skey(&std::fs::read_to_string(pref_dir.join("keys/witness.key")).unwrap()).unwrap().name().to_owned();
    edit_config(&pref_dir, "[witness]\nenabled = false\nlogs = []", &format!("[witness]\nenabled = true\nlogs = [\"{}\"]", city.vkey));
    let pref_srv = Server::start(&pref_dir, &["--listen", "127.0.0.1:0"]);
    let pref_addr = pref_srv.http.trim_start_matches("http://").to_owned();
    edit_config(&city_dir, "witnesses = []\n", "");
    let mut c = std::fs::read_to_string(city_dir.join("config.toml")).unwrap();
    c.push_str(&format!("\n[[witnesses]]\nurl = \"{}\"\nvkey = \"{}\"\n", pref_srv.http, pref.witness_vkey));
    std::fs::write(city_dir.join("config.toml"), c).unwrap();

    let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let city_srv = Server::start(&city_dir, &["--listen", "127.0.0.1:0"]);
    let r = http.post(format!("{}/api/v1/admin/users", city_srv.http)).bearer_auth(&city.admin).json(&json!({"name": "tanto", "role": "officer", "password": "tanto-password-0001"})).send().unwrap();
    assert_eq!(r.status(), 201);
    ingest(&http, &city_srv, &city.admin, "batch-A", 3);
    // Cosigned up to the current checkpoint: behind 0, by the prefecture, with its time.
    let v = wait_status(&http, &city_srv, &city.admin, "witnessed up to the current checkpoint", |v| {
        let l = &v["ledger"];
        l["checkpoint_size"].as_u64() >= Some(5) && l["latest_witnessed"]["size"] == l["checkpoint_size"]
    });
    let w = &v["ledger"]["latest_witnessed"];
    let witnessed = w["size"].as_u64().unwrap();
    assert_eq!(w["behind"], 0);
    assert_eq!(w["consistent"], true);
    assert_eq!(w["witnesses"][0]["name"], wname.as_str(), "{w}");
    let t = chrono::DateTime::parse_from_rfc3339(w["witnesses"][0]["time"].as_str().unwrap()).unwrap();
    assert!((chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds().abs() < 600, "cosigned just now: {t}");
    assert_eq!(v["ledger"]["witnesses_configured"], 1);

    // The witness goes down; the city publishes 4 more entries without a cosignature.
    pref_srv.stop();
    ingest(&http, &city_srv, &city.admin, "batch-B", 4);
    let v = wait_status(&http, &city_srv, &city.admin, "a newer, uncosigned checkpoint", |v| v["ledger"]["checkpoint_size"].as_u64() == Some(witnessed + 4));
    let w = &v["ledger"]["latest_witnessed"];
    assert_eq!((w["size"].as_u64(), w["behind"].as_u64()), (Some(witnessed), Some(4)), "{v}");
    assert_eq!(w["consistent"], true);

    // After a restart (witness still down) it is still known: persisted by the ledger.
    city_srv.stop();
    let city_srv = Server::start(&city_dir, &["--listen", "127.0.0.1:0"]);
    let v = status(&http, &city_srv, &city.admin);
    let w = &v["ledger"]["latest_witnessed"];
    assert_eq!((w["size"].as_u64(), w["behind"].as_u64()), (Some(witnessed), Some(4)), "after restart: {v}");
    assert_eq!(w["witnesses"][0]["name"], wname.as_str());

    // The dashboard says the same.
    let officer = UiClient::login(&city_srv.http, "tanto");
    let page = officer.get("/ui/").body;
    assert!(page.contains(&format!("id=\"witnessed\" data-size=\"{witnessed}\" data-behind=\"4\"")), "{page}");
    assert!(page.contains("最新の証人連署付きチェックポイント"));
    assert!(page.contains(&wname) && page.contains("4 件がまだ連署されていません"), "{page}");
    let b = webdriver::Browser::start();
    b.login(&city_srv.http, "tanto", "tanto-password-0001");
    assert_eq!(b.text("#witnessed-size"), witnessed.to_string());
    assert!(b.text("#witnessed-by").contains(&wname));
    b.exec("document.getElementById('h-witnessed').scrollIntoView()");
    b.screenshot(&screenshots_dir(), "dashboard-witnessed");
    drop(b);

    // The witness returns at the same address: the city catches up by itself.
    let pref_srv = Server::start(&pref_dir, &["--listen", &pref_addr]);
    let v = wait_status(&http, &city_srv, &city.admin, "caught up", |v| v["ledger"]["latest_witnessed"]["behind"] == 0 && v["ledger"]["latest_witnessed"]["size"].as_u64() > Some(witnessed));
    assert_eq!(v["ledger"]["latest_witnessed"]["size"], v["ledger"]["checkpoint_size"]);
    let page = officer.get("/ui/").body;
    assert!(page.contains("最新のチェックポイントまで連署済み"), "{page}");
    drop(pref_srv);
}
