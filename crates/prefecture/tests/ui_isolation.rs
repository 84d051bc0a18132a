//! Each city's web UI under `/t/{tenant}/ui/` in tenant mode, over real HTTP with a real
//! clickhouse-server: two cities each have a local account named `officer` (different
//! passwords). City A's officer logs in on A's UI and finds A's events (never B's); the same
//! session cookie is scoped to `/t/kamaishi/` and, even sent to B's UI, is not a session there
//! (redirect to B's login); B's password does not open A; the prefecture's API token gets no
//! UI page and no events. Cookies and CSRF tokens are handled by hand, as a browser would.

mod common;
use common::urlencode;

use std::time::{Duration, Instant};

use mamori_prefecture::{Prefecture, TenantId, init_city, init_prefecture, router};
use mamori_store_clickhouse::local::LocalServer;
use mamori_store_clickhouse::{Config, schema};

const PW_A: &str = "kamaishi-officer-pass-01";
const PW_B: &str = "miyako-officer-pass-0001";

struct Resp {
    status: u16,
    location: Option<String>,
    set_cookies: Vec<String>,
    content_type: String,
    body: String,
}

fn resp(r: reqwest::blocking::Response) -> Resp {
    let h = r.headers().clone();
    let s = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).map(str::to_owned);
    Resp {
        status: r.status().as_u16(),
        location: s("location"),
        set_cookies: h
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect(),
        content_type: s("content-type").unwrap_or_default(),
        body: r.text().unwrap_or_default(),
    }
}

fn csrf_of(html: &str) -> Option<String> {
    let k = "name=\"_csrf\" value=\"";
    let i = html.find(k)? + k.len();
    Some(html[i..].split('"').next()?.to_owned())
}

struct Http {
    base: String,
    http: reqwest::blocking::Client,
}

impl Http {
    fn get(&self, path: &str, cookie: Option<&str>, bearer: Option<&str>) -> Resp {
        let mut r = self.http.get(format!("{}{path}", self.base));
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        if let Some(t) = bearer {
            r = r.bearer_auth(t);
        }
        resp(r.send().unwrap())
    }

    fn post(
        &self,
        path: &str,
        cookie: Option<&str>,
        bearer: Option<&str>,
        fields: &[(&str, &str)],
    ) -> Resp {
        let mut r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(urlencode(fields));
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        if let Some(t) = bearer {
            r = r.bearer_auth(t);
        }
        resp(r.send().unwrap())
    }

    /// Submits `tenant`'s login form; returns the response.
    fn login(&self, tenant: &str, user: &str, pw: &str) -> Resp {
        let form = self.get(&format!("/t/{tenant}/ui/login"), None, None);
        assert_eq!(form.status, 200, "{tenant} login page: {}", form.body);
        let nonce = csrf_of(&form.body).expect("login nonce");
        // The nonce cookie is scoped to the city's UI.
        assert!(
            form.set_cookies
                .iter()
                .any(|c| c.starts_with("mamori_login=")
                    && c.contains(&format!("Path=/t/{tenant}/ui;"))),
            "{:?}",
            form.set_cookies
        );
        self.post(
            &format!("/t/{tenant}/ui/login"),
            Some(&format!("mamori_login={nonce}")),
            None,
            &[
                ("_csrf", nonce.as_str()),
                ("username", user),
                ("password", pw),
            ],
        )
    }
}

fn session_of(r: &Resp) -> Option<(String, String)> {
    let c = r
        .set_cookies
        .iter()
        .find(|c| c.starts_with("mamori_session="))?;
    let pair = c.split(';').next()?.to_owned();
    Some((pair, c.clone()))
}

fn ndjson(city: &str, n: usize) -> String {
    (0..n)
        .map(|i| {
            let user = ["tanaka", "suzuki", "sato"][i % 3];
            serde_json::json!({
                "@timestamp": format!("2024-05-01T09:{:02}:00+09:00", i % 60),
                "user": {"name": user},
                "event": {"action": "file-read"},
                "file": {"path": format!("/共有/住民課/{city}-secret/{i}.csv")},
                "message": format!("{city}-secret 住民記録 {i}"),
            })
            .to_string()
                + "\n"
        })
        .collect()
}

/// Searches `tenant`'s UI for user `tanaka` until `want` results show (the city's own index
/// follows its ledger); returns the results page.
fn search_tanaka(h: &Http, tenant: &str, cookie: &str, want: usize) -> Resp {
    let page = h.get(&format!("/t/{tenant}/ui/events"), Some(cookie), None);
    assert_eq!(page.status, 200, "{tenant} search form: {}", page.body);
    let csrf = csrf_of(&page.body).expect("csrf");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let r = h.post(
            &format!("/t/{tenant}/ui/events"),
            Some(cookie),
            None,
            &[("_csrf", csrf.as_str()), ("user", "tanaka")],
        );
        assert_eq!(r.status, 200, "{tenant} search: {}", r.body);
        if r.body.contains(&format!("({want}件)")) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "{tenant}: the UI search never showed {want} events"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn city_officer_sees_only_own_city_in_the_web_ui() {
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
    let pref = std::sync::Arc::new(Prefecture::open(&root, &[a.clone(), b.clone()], cfg).unwrap());
    // The same account name in both cities, each in its own city's accounts.
    pref.create_user(&a, "officer", mamori_auth::Role::Officer, PW_A, "test")
        .unwrap();
    pref.create_user(&b, "officer", mamori_auth::Role::Officer, PW_B, "test")
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
    let h = Http {
        base: format!("http://{addr}"),
        http: reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
    };

    for (t, tok, n) in [("kamaishi", &tok_a, 30), ("miyako", &tok_b, 21)] {
        let r = h
            .http
            .post(format!("{}/t/{t}/api/v1/events", h.base))
            .bearer_auth(tok)
            .body(ndjson(t, n))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{t} ingest");
    }

    // The login page's form, links and assets are under the city's prefix.
    let login = h.get("/t/kamaishi/ui/login", None, None);
    assert!(
        login.body.contains("action=\"/t/kamaishi/ui/login\""),
        "{}",
        login.body
    );
    assert!(
        login
            .body
            .contains("href=\"/t/kamaishi/ui/assets/style.css\"")
    );
    assert!(!login.body.contains("=\"/ui/"), "an unprefixed UI URL");
    let css = h.get("/t/kamaishi/ui/assets/style.css", None, None);
    assert_eq!(css.status, 200);
    assert!(
        css.content_type.starts_with("text/css"),
        "{}",
        css.content_type
    );
    // No session: the city's pages send to the city's login page.
    let r = h.get("/t/kamaishi/ui/", None, None);
    assert_eq!(
        (r.status, r.location.as_deref()),
        (303, Some("/t/kamaishi/ui/login"))
    );

    // B's password does not open A (same account name), nor A's B.
    let r = h.login("kamaishi", "officer", PW_B);
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(session_of(&r).is_none());
    let r = h.login("miyako", "officer", PW_A);
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(session_of(&r).is_none());

    // A's officer logs in on A: redirected to A's dashboard, session cookie scoped to A.
    let r = h.login("kamaishi", "officer", PW_A);
    assert_eq!(
        (r.status, r.location.as_deref()),
        (303, Some("/t/kamaishi/ui/")),
        "{}",
        r.body
    );
    let (cookie_a, set_a) = session_of(&r).expect("session cookie");
    assert!(set_a.contains("Path=/t/kamaishi/;"), "{set_a}");
    assert!(set_a.contains("HttpOnly") && set_a.contains("SameSite=Strict"));
    let dash = h.get("/t/kamaishi/ui/", Some(&cookie_a), None);
    assert_eq!(dash.status, 200, "{}", dash.body);
    assert!(dash.body.contains("href=\"/t/kamaishi/ui/events\""));
    assert!(dash.body.contains("action=\"/t/kamaishi/ui/logout\""));
    assert!(!dash.body.contains("=\"/ui/"), "an unprefixed UI URL");

    // A's search: A's 10 tanaka events, none of B's (B also has a tanaka).
    let res = search_tanaka(&h, "kamaishi", &cookie_a, 10);
    assert!(res.body.contains("kamaishi-secret"), "{}", res.body);
    assert!(!res.body.contains("miyako-secret"), "{}", res.body);
    let r = h.post(
        "/t/kamaishi/ui/events",
        Some(&cookie_a),
        None,
        &[
            ("_csrf", csrf_of(&res.body).unwrap().as_str()),
            ("q", "miyako-secret"),
        ],
    );
    assert_eq!(r.status, 200);
    assert!(r.body.contains("(0件)"), "{}", r.body);

    // The same session on B's UI (a browser would not even send it there): not logged in.
    for p in ["/t/miyako/ui/", "/t/miyako/ui/events"] {
        let r = h.get(p, Some(&cookie_a), None);
        assert_eq!(
            (r.status, r.location.as_deref()),
            (303, Some("/t/miyako/ui/login")),
            "{p}"
        );
    }
    let r = h.post(
        "/t/miyako/ui/events",
        Some(&cookie_a),
        None,
        &[
            ("_csrf", csrf_of(&res.body).unwrap().as_str()),
            ("user", "tanaka"),
        ],
    );
    assert_eq!(
        (r.status, r.location.as_deref()),
        (303, Some("/t/miyako/ui/login"))
    );
    assert!(!r.body.contains("miyako-secret"));

    // B's officer on B sees B's 7 tanaka events only.
    let r = h.login("miyako", "officer", PW_B);
    assert_eq!(r.status, 303, "{}", r.body);
    let (cookie_b, set_b) = session_of(&r).unwrap();
    assert!(set_b.contains("Path=/t/miyako/;"), "{set_b}");
    let res = search_tanaka(&h, "miyako", &cookie_b, 7);
    assert!(!res.body.contains("kamaishi-secret"), "{}", res.body);
    assert!(res.body.contains("miyako-secret"));

    // The prefecture's tokens get no UI page and no events: the UI knows only sessions of
    // the city's own accounts.
    for tok in [&pref_aud, &pref_admin] {
        let r = h.get("/t/kamaishi/ui/events", None, Some(tok));
        assert_eq!(
            (r.status, r.location.as_deref()),
            (303, Some("/t/kamaishi/ui/login"))
        );
        let r = h.post(
            "/t/kamaishi/ui/events",
            None,
            Some(tok),
            &[("user", "tanaka")],
        );
        assert_eq!(r.status, 303);
        assert!(!r.body.contains("kamaishi-secret"));
    }

    // Logout on A ends A's session only (B's still works).
    let page = h.get("/t/kamaishi/ui/", Some(&cookie_a), None);
    let r = h.post(
        "/t/kamaishi/ui/logout",
        Some(&cookie_a),
        None,
        &[("_csrf", csrf_of(&page.body).unwrap().as_str())],
    );
    assert_eq!(
        (r.status, r.location.as_deref()),
        (303, Some("/t/kamaishi/ui/login"))
    );
    assert!(
        r.set_cookies
            .iter()
            .any(|c| c.starts_with("mamori_session=;") && c.contains("Path=/t/kamaishi/;"))
    );
    assert_eq!(h.get("/t/kamaishi/ui/", Some(&cookie_a), None).status, 303);
    assert_eq!(h.get("/t/miyako/ui/", Some(&cookie_b), None).status, 200);

    pref.close();
}
