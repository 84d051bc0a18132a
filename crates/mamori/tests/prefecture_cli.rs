//! `mamori prefecture init|add-city|serve` with a real clickhouse-server on 127.0.0.1: tokens
//! printed once, two cities ingesting through their own `_bulk`, the prefecture's health
//! (aggregates, witnessing), indexing through NATS JetStream (`--nats`, a real nats-server),
//! and each city's own `mamori verify` accepting the prefecture's cosignature after the server
//! stopped. `prefecture add-user`: a city's web-UI account with a one-time password printed
//! once, which opens only the change-password page of that city's UI until it is changed.

mod common;

use common::{PrefServe, mamori, run_ok};
use mamori_store_clickhouse::local::LocalServer;
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

/// The line after the one containing `label`.
fn after(out: &str, label: &str) -> String {
    let mut it = out.lines();
    while let Some(l) = it.next() {
        if l.contains(label) {
            return it.next().unwrap().trim().to_owned();
        }
    }
    panic!("no {label:?} in {out}");
}

fn form(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

fn csrf_of(html: &str) -> String {
    let k = "name=\"_csrf\" value=\"";
    let i = html.find(k).unwrap_or_else(|| panic!("no csrf in {html}")) + k.len();
    html[i..].split('"').next().unwrap().to_owned()
}

fn set_cookies(r: &reqwest::blocking::Response) -> Vec<String> {
    r.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok().map(str::to_owned)).collect()
}

/// Submits `tenant`'s login form; returns (status, Location, Set-Cookie headers).
fn ui_login(http: &reqwest::blocking::Client, base: &str, tenant: &str, user: &str, pw: &str) -> (u16, String, Vec<String>) {
    let page = http.get(format!("{base}/t/{tenant}/ui/login")).send().unwrap();
    let mut cookies = set_cookies(&page);
    assert_eq!(page.status(), 200);
    let nonce = csrf_of(&page.text().unwrap());
    let r = http
        .post(format!("{base}/t/{tenant}/ui/login"))
        .header("cookie", format!("mamori_login={nonce}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("_csrf", &nonce), ("username", user), ("password", pw)]))
        .send()
        .unwrap();
    let loc = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let status = r.status().as_u16();
    cookies.extend(set_cookies(&r));
    (status, loc, cookies)
}

fn session_pair(cookies: &[String]) -> String {
    let c = cookies.iter().find(|c| c.starts_with("mamori_session=")).unwrap_or_else(|| panic!("no session cookie in {cookies:?}"));
    c.split(';').next().unwrap().to_owned()
}

fn no_redirects() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

#[test]
fn prefecture_cli_add_user_prints_a_one_time_password_that_must_be_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let ch = LocalServer::start(&tmp.path().join("ch"), None).expect("start clickhouse-server");
    let root = tmp.path().join("iwate");
    let r = root.to_str().unwrap();
    run_ok(mamori().args(["prefecture", "init", "--root", r, "--domain", "iwate.lg.jp"]));
    let mut city_tokens = Vec::new();
    for id in ["aoba-shi", "midori-machi"] {
        // midori-machi has its own syslog listener (port 0: the bound port is printed by serve).
        let syslog: &[&str] = if id == "midori-machi" { &["--syslog-tcp", "127.0.0.1:0"] } else { &[] };
        let out = run_ok(mamori().args(["prefecture", "add-city", "--root", r, "--id", id]).args(syslog));
        city_tokens.push(after(&out, "city admin token (shown once)"));
    }
    let bad = mamori().args(["prefecture", "add-city", "--root", r, "--id", "kuji", "--syslog-tcp", "nowhere"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("syslog の待受アドレス"), "{}", String::from_utf8_lossy(&bad.stderr));

    let out = run_ok(mamori().args(["prefecture", "add-user", "--root", r, "--city", "aoba-shi", "--name", "tanaka", "--role", "officer"]));
    let otp = after(&out, "one-time password (shown once");
    assert_eq!(otp.len(), 19, "xxxx-xxxx-xxxx-xxxx: {out}");
    assert!(out.contains("/t/aoba-shi/ui/login"), "{out}");

    // Unknown city, unknown role, an existing name: refused, Japanese first, nothing created.
    let refused = |args: &[&str]| {
        let o = mamori().args(["prefecture", "add-user", "--root", r]).args(args).output().unwrap();
        assert!(!o.status.success(), "{args:?} accepted");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let e = refused(&["--city", "kuroiwa", "--name", "sato", "--role", "officer"]);
    assert!(e.contains("市町村 kuroiwa はこの県にありません / no city kuroiwa"), "{e}");
    assert!(e.contains("aoba-shi, midori-machi"), "lists the cities: {e}");
    assert!(!root.join("cities/kuroiwa").exists());
    let e = refused(&["--city", "aoba-shi", "--name", "sato", "--role", "root"]);
    let ja = e.find("ロール \"root\" はありません").unwrap_or_else(|| panic!("{e}"));
    assert!(e.find("unknown role").is_some_and(|en| en > ja), "Japanese first: {e}");
    let e = refused(&["--city", "aoba-shi", "--name", "tanaka", "--role", "viewer"]);
    assert!(e.contains("tanaka"), "{e}");

    let mut srv = PrefServe::start(&["--root", r, "--clickhouse", &ch.url(), "--secure-cookies"]);
    let base = srv.base.clone();
    let http = no_redirects();
    let syslog_addr = srv
        .lines
        .iter()
        .find_map(|l| l.strip_prefix("syslog TCP midori-machi: "))
        .unwrap_or_else(|| panic!("no syslog listener printed: {:?}", srv.lines))
        .trim()
        .to_owned();
    assert!(!srv.lines.iter().any(|l| l.contains("syslog") && l.contains("aoba-shi")), "{:?}", srv.lines);

    // The one-time password opens only aoba-shi's change-password page.
    let (st, loc, cookies) = ui_login(&http, &base, "aoba-shi", "tanaka", &otp);
    assert_eq!((st, loc.as_str()), (303, "/t/aoba-shi/ui/password"), "{cookies:?}");
    let sess = session_pair(&cookies);
    // --secure-cookies: the city's UI cookies are Secure.
    assert!(cookies.iter().all(|c| c.split(';').any(|a| a.trim() == "Secure")), "{cookies:?}");
    let r2 = http.get(format!("{base}/t/aoba-shi/ui/events")).header("cookie", &sess).send().unwrap();
    assert_eq!(r2.status(), 303);
    assert_eq!(r2.headers()["location"], "/t/aoba-shi/ui/password");
    // Not an account of the other city, and no API access with a one-time password.
    let (st, _, cookies_b) = ui_login(&http, &base, "midori-machi", "tanaka", &otp);
    assert_eq!(st, 401, "{cookies_b:?}");
    let api = http.get(format!("{base}/t/aoba-shi/api/v1/events")).basic_auth("tanaka", Some(&otp)).send().unwrap();
    assert_eq!(api.status(), 401);

    // Changing it: the new password then logs in to the dashboard, the one-time one no more.
    let page = http.get(format!("{base}/t/aoba-shi/ui/password")).header("cookie", &sess).send().unwrap();
    assert_eq!(page.status(), 200);
    let csrf = csrf_of(&page.text().unwrap());
    let newpw = "tanaka-own-password-2026";
    let ch_resp = http
        .post(format!("{base}/t/aoba-shi/ui/password"))
        .header("cookie", &sess)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("_csrf", &csrf), ("current", &otp), ("new", newpw), ("confirm", newpw)]))
        .send()
        .unwrap();
    assert_eq!(ch_resp.status(), 303, "{}", ch_resp.text().unwrap_or_default());
    let (st, loc, _) = ui_login(&http, &base, "aoba-shi", "tanaka", newpw);
    assert_eq!((st, loc.as_str()), (303, "/t/aoba-shi/ui/"));
    let (st, _, _) = ui_login(&http, &base, "aoba-shi", "tanaka", &otp);
    assert_eq!(st, 401);

    // Ledgered in aoba-shi's own ledger as admin actions by the CLI (only the hash), not in
    // midori-machi's.
    let deadline = Instant::now() + Duration::from_secs(90);
    let admin = |tenant: &str, tok: &str| -> Vec<Value> {
        let v: Value = http
            .get(format!("{base}/t/{tenant}/api/v1/events?kind=admin&limit=100"))
            .bearer_auth(tok)
            .send()
            .unwrap()
            .json()
            .unwrap();
        v["events"].as_array().cloned().unwrap_or_default()
    };
    let ops = loop {
        let ev = admin("aoba-shi", &city_tokens[0]);
        let ops: Vec<(String, String, String)> = ev
            .iter()
            .filter(|e| e["doc"]["mamori"]["admin"]["name"] == "tanaka")
            .map(|e| {
                let d = &e["doc"];
                (d["event"]["action"].as_str().unwrap_or("").to_owned(), d["user"]["name"].as_str().unwrap_or("").to_owned(), d["mamori"]["admin"]["op"].as_str().unwrap_or("").to_owned())
            })
            .collect();
        if ops.len() >= 3 {
            assert!(!serde_json::to_string(&ev).unwrap().contains(&otp), "the password itself is never ledgered");
            break ops;
        }
        assert!(Instant::now() < deadline, "admin entries not indexed: {ev:?}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut ops = ops;
    ops.sort();
    assert_eq!(
        ops,
        vec![
            ("password-changed".into(), "tanaka".into(), "password_changed".into()),
            ("password-reset".into(), "cli".into(), "password_reset".into()),
            ("user-added".into(), "cli".into(), "user_added".into()),
        ]
    );
    assert!(admin("midori-machi", &city_tokens[1]).iter().all(|e| e["doc"]["mamori"]["admin"]["name"] != "tanaka"));

    // midori-machi's own syslog listener: a real `logger` message lands in midori-machi only.
    let (host, port) = syslog_addr.rsplit_once(':').unwrap();
    let st = Command::new("logger").args(["--tcp", "--server", host, "--port", port, "--rfc5424", "--tag", "sshd", "clisyslogmark midori"]).status().unwrap();
    assert!(st.success());
    let hits = |tenant: &str, tok: &str| -> usize {
        let v: Value = http.get(format!("{base}/t/{tenant}/api/v1/events?q=clisyslogmark")).bearer_auth(tok).send().unwrap().json().unwrap();
        v["events"].as_array().map_or(0, Vec::len)
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    while hits("midori-machi", &city_tokens[1]) != 1 {
        assert!(Instant::now() < deadline, "the syslog message never reached midori-machi");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(hits("aoba-shi", &city_tokens[0]), 0);
    srv.stop();
}

#[test]
fn prefecture_cli_init_add_city_serve_and_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let ch = LocalServer::start(&tmp.path().join("ch"), None).expect("start clickhouse-server");
    let nats = mamori_bus::local::NatsServer::start(&tmp.path().join("nats")).expect("start nats-server");
    let root = tmp.path().join("iwate");
    let r = root.to_str().unwrap();

    let out = run_ok(mamori().args(["prefecture", "init", "--root", r, "--domain", "iwate.lg.jp"]));
    let pref_token = after(&out, "prefecture admin token (shown once)");
    let wkey = after(&out, "prefecture witness key");
    assert!(wkey.starts_with("iwate.lg.jp/prefecture/witness+"), "{out}");
    let mut city_tokens = Vec::new();
    for id in ["aoba-shi", "midori-machi"] {
        let out = run_ok(mamori().args(["prefecture", "add-city", "--root", r, "--id", id]));
        assert!(out.contains(&format!("iwate.lg.jp/{id}")), "{out}");
        assert!(out.contains(&wkey), "prints the verify command with the witness key: {out}");
        city_tokens.push(after(&out, "city admin token (shown once)"));
    }
    // Bad ids and a second init are refused with a message.
    let bad = mamori().args(["prefecture", "add-city", "--root", r, "--id", "Aoba'"]).output().unwrap();
    assert!(!bad.status.success());
    let again = mamori().args(["prefecture", "init", "--root", r]).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already"), "{}", String::from_utf8_lossy(&again.stderr));

    let mut serve = PrefServe::start(&["--root", r, "--clickhouse", &ch.url(), "--nats", &nats.url()]);
    let base = serve.base.clone();
    let http = reqwest::blocking::Client::new();

    // Each city ships through its own `_bulk`.
    for (n, (id, tok)) in ["aoba-shi", "midori-machi"].iter().zip(&city_tokens).enumerate() {
        let body: String = (0..3 + n)
            .map(|i| format!("{{\"create\":{{}}}}\n{{\"@timestamp\":\"2024-05-01T09:00:0{i}+09:00\",\"user\":{{\"name\":\"sato\"}},\"message\":\"{id} {i}\"}}\n"))
            .collect();
        let resp = http.post(format!("{base}/t/{id}/_bulk")).bearer_auth(tok).body(body).send().unwrap();
        assert_eq!(resp.status(), 200);
        let v: Value = resp.json().unwrap();
        assert_eq!(v["errors"], false, "{v}");
    }
    // The other city's token does not work there.
    let resp = http.post(format!("{base}/t/aoba-shi/_bulk")).bearer_auth(&city_tokens[1]).body("{\"create\":{}}\n{}\n").send().unwrap();
    assert_eq!(resp.status(), 401);

    // The prefecture's health: both cities indexed and cosigned by the prefecture's witness.
    let deadline = Instant::now() + Duration::from_secs(90);
    let h = loop {
        let h: Value = http.get(format!("{base}/prefecture/api/v1/health")).bearer_auth(&pref_token).send().unwrap().json().unwrap();
        let ok = h["cities"].as_array().is_some_and(|cs| {
            cs.len() == 2
                && cs.iter().all(|c| {
                    let size = c["ledger_size"].as_u64().unwrap_or(0);
                    size > 1
                        && c["feed"] == "nats"
                        && c["indexed_upto"].as_u64() == Some(size - 1)
                        && c["witness"]["cosigned_size"].as_u64() == Some(size)
                })
        });
        if ok {
            break h;
        }
        assert!(Instant::now() < deadline, "not indexed and cosigned: {h}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(h["witness"]["vkey"], wkey.as_str());
    assert_eq!(h["witness"]["alarms"], 0);
    assert!(!h.to_string().contains("aoba-shi 0"), "aggregates only: {h}");

    serve.stop();

    // Each city's own verify accepts the prefecture's cosignature as a required witness.
    for id in ["aoba-shi", "midori-machi"] {
        let data = root.join("cities").join(id);
        let out = run_ok(mamori().args(["verify", "--data", data.to_str().unwrap(), "--witness-key", &wkey]));
        assert!(out.contains("iwate.lg.jp/prefecture/witness"), "{out}");
    }
}
