//! A small city for the UI tests: a roster with a leaver (平塚-style: reads after retirement
//! raise an alert), events, a USB register, and one local account per role, created through
//! the ledgered admin API. Plus an HTTP client that logs in through the UI's form (cookies and
//! CSRF tokens handled by hand) for the role table.
#![allow(dead_code)]

use crate::common::{Server, mamori, run_ok};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

/// (user, role, password) of the accounts created.
pub const USERS: &[(&str, &str, &str)] = &[
    ("kanri", "admin", "kanri-password-0001"),
    ("tanto", "officer", "tanto-password-0001"),
    ("kansa", "auditor", "kansa-password-0001"),
    ("etsuran", "viewer", "etsuran-password-01"),
    ("torikomi", "ingest", "torikomi-password-1"),
];

/// The password of `user`.
pub fn password(user: &str) -> &'static str {
    USERS.iter().find(|u| u.0 == user).map(|u| u.2).unwrap()
}

const ROSTER: &str = "職員番号,氏名,氏名カナ,所属コード,所属名,職名,発令日,異動区分,退職日,アカウント
1003,鈴木 一郎,スズキ イチロウ,2010,市民課,主事,2000/4/1,採用,,suzuki.i@city.example.lg.jp
1003,鈴木 一郎,スズキ イチロウ,2010,市民課,主事,2018/12/21,退職,,
1004,佐藤 花子,サトウ ハナコ,2010,市民課,主任,2005/4/1,採用,,sato.h@city.example.lg.jp
1004,佐藤 花子,サトウ ハナコ,3020,税務課,主任,2016/4/1,異動,,
1005,高橋 健,タカハシ ケン,3020,税務課,係長,2001/4/1,採用,,takahashi.k@city.example.lg.jp
";

const USB: &str = "管理番号,ベンダーID,製品ID,シリアル,種別,所有者,状態,登録日,備考,状態変更日
USB-001,0781,5567,4C530001,セキュアUSB,所属:2010,使用中,令和5年4月1日,市民課共用,
USB-002,0951,1666,AA11BB22,一般,職員:1004,紛失,2023-04-01,,2024-01-10
";

/// A running server over the small city, with the admin API token.
pub struct City {
    /// The server.
    pub srv: Server,
    /// The admin token printed by `init`.
    pub admin_token: String,
    /// The alert raised for the leaver.
    pub alert_id: u64,
    /// Keeps the data directory.
    pub _tmp: tempfile::TempDir,
}

/// Builds the city, starts `mamori serve`, creates the accounts and waits for the alert.
pub fn city() -> City {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    let init = run_ok(mamori().args(["init", "--data"]).arg(&data));
    let admin_token = init
        .split_whitespace()
        .find(|w| w.starts_with("mamori_admin_"))
        .expect("admin token")
        .to_owned();
    let w = |name: &str, text: &str| {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    run_ok(mamori().args(["roster-import", "--data"]).arg(&data).arg(w("roster.csv", ROSTER)));
    run_ok(mamori().args(["usb-import", "--data"]).arg(&data).arg(w("usb.csv", USB)));
    let mut lines = Vec::new();
    // 鈴木 reads the register the day before and two days after his retirement (the alert).
    for t in ["2018-12-20T01:00:00Z", "2018-12-22T01:00:00Z", "2018-12-22T01:05:00Z"] {
        lines.push(json!({"@timestamp": t, "user": {"name": "suzuki.i"}, "host": {"name": "PC-SHIMIN-07"}, "event": {"action": "file-read", "type": ["access"]}, "mamori": {"share": "juki"}, "file": {"path": "/住基/台帳.csv"}}).to_string());
    }
    // Recent work in two departments, for the dashboard chart.
    let now = chrono::Utc::now();
    for i in 0..12 {
        let t = mamori_event_ts(now - chrono::Duration::hours(6 * i + 1));
        let user = if i % 3 == 0 { "takahashi.k" } else { "sato.h" };
        lines.push(json!({"@timestamp": t, "user": {"name": user}, "host": {"name": "PC-ZEIMU-02"}, "event": {"action": "file-read", "type": ["access"]}, "file": {"path": format!("/税務/課税台帳{i}.xlsx")}}).to_string());
    }
    run_ok(
        mamori()
            .args(["ingest", "--format", "ecs-ndjson", "--data"])
            .arg(&data)
            .arg(w("ev.ndjson", &(lines.join("\n") + "\n"))),
    );
    let srv = Server::start(&data, &["--listen", "127.0.0.1:0"]);
    let http = reqwest::blocking::Client::new();
    for (name, role, pw) in USERS {
        let r = http
            .post(format!("{}/api/v1/admin/users", srv.http))
            .bearer_auth(&admin_token)
            .json(&json!({"name": name, "role": role, "password": pw}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let alert_id = loop {
        let v: Value = http
            .get(format!("{}/api/v1/alerts", srv.http))
            .basic_auth("tanto", Some(password("tanto")))
            .send()
            .unwrap()
            .json()
            .unwrap();
        if let Some(a) = v["alerts"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["rule_id"] == "hiratsuka_after_retirement"))
        {
            break a["id"].as_u64().unwrap();
        }
        assert!(Instant::now() < deadline, "no alert: {v}");
        std::thread::sleep(Duration::from_millis(200));
    };
    City {
        srv,
        admin_token,
        alert_id,
        _tmp: tmp,
    }
}

fn mamori_event_ts(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The docs/screenshots directory of the repository.
pub fn screenshots_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots")
}

/// A UI session over plain HTTP: cookies and the CSRF token handled by hand, no redirects
/// followed (so a refusal and a redirect to the login page can be told apart).
pub struct UiClient {
    http: reqwest::blocking::Client,
    base: String,
    /// The session cookie (`mamori_session=…`), once logged in.
    pub cookie: Option<String>,
}

/// A response: status, headers, body.
pub struct Resp {
    /// Status.
    pub status: u16,
    /// `Location`, if any.
    pub location: Option<String>,
    /// All `Set-Cookie` values.
    pub set_cookies: Vec<String>,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body.
    pub body: String,
}

fn resp(r: reqwest::blocking::Response) -> Resp {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let location = headers.get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let set_cookies = headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect();
    Resp {
        status,
        location,
        set_cookies,
        headers,
        body: r.text().unwrap_or_default(),
    }
}

/// `application/x-www-form-urlencoded` encoding of `fields`.
pub fn urlencode(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => (b as char).to_string(),
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

/// Adds a urlencoded form body to a request.
pub fn with_form(req: reqwest::blocking::RequestBuilder, fields: &[(&str, &str)]) -> reqwest::blocking::RequestBuilder {
    req.header("content-type", "application/x-www-form-urlencoded").body(urlencode(fields))
}

/// The value of `name="_csrf"` in a page.
pub fn csrf_of(html: &str) -> Option<String> {
    let i = html.find("name=\"_csrf\" value=\"")? + "name=\"_csrf\" value=\"".len();
    Some(html[i..].split('"').next()?.to_owned())
}

impl UiClient {
    /// A client for `base` (no session yet).
    pub fn new(base: &str) -> UiClient {
        let http = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        UiClient {
            http,
            base: base.to_owned(),
            cookie: None,
        }
    }

    /// Submits the login form (with its nonce cookie); returns the response.
    pub fn try_login(&mut self, user: &str, pw: &str) -> Resp {
        let form = resp(self.http.get(format!("{}/ui/login", self.base)).send().unwrap());
        let nonce = csrf_of(&form.body).expect("login nonce");
        let r = resp(
            with_form(
                self.http
                    .post(format!("{}/ui/login", self.base))
                    .header("cookie", format!("mamori_login={nonce}")),
                &[("_csrf", nonce.as_str()), ("username", user), ("password", pw)],
            )
            .send()
            .unwrap(),
        );
        if let Some(c) = r.set_cookies.iter().find(|c| c.starts_with("mamori_session=")) {
            self.cookie = Some(c.split(';').next().unwrap().to_owned());
        }
        r
    }

    /// Logs in; panics unless it worked.
    pub fn login(base: &str, user: &str) -> UiClient {
        let mut c = UiClient::new(base);
        let r = c.try_login(user, password(user));
        assert_eq!(r.status, 303, "login {user}: {}", r.body);
        c
    }

    /// GET with the session.
    pub fn get(&self, path: &str) -> Resp {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        resp(req.send().unwrap())
    }

    /// POST a form with the session and a CSRF token taken from `page` (a GET path whose
    /// page carries one); `None` sends none.
    pub fn post(&self, path: &str, csrf: Option<&str>, fields: &[(&str, &str)]) -> Resp {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        if let Some(t) = csrf {
            form.push(("_csrf", t));
        }
        let mut req = with_form(self.http.post(format!("{}{path}", self.base)), &form);
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        resp(req.send().unwrap())
    }

    /// The session's CSRF token (from the dashboard or, for roles without it, the events page).
    pub fn csrf(&self) -> String {
        for p in ["/ui/", "/ui/events", "/ui/settings"] {
            if let Some(t) = csrf_of(&self.get(p).body) {
                return t;
            }
        }
        panic!("no CSRF token on any page");
    }
}
