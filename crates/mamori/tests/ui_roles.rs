//! The web UI's role test over HTTP: one table says, for every page and the actions of the
//! core pages (the case/takeout/log-review actions are exercised in ui_workflows), which
//! roles are allowed; each role logs in through the login form and is allowed or refused
//! (403) accordingly. Also: no session → login page, a POST without or with a wrong CSRF token
//! is refused, the security headers and cookie flags, login rate limiting, and that account
//! names searched for do not reach the URL or the request log.

mod common;
#[path = "common/ui_fixture.rs"]
mod ui_fixture;

use common::mamori;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};
use ui_fixture::{UiClient, city, csrf_of, password};

/// Roles that can use the UI, and their accounts.
const ROLES: &[(&str, &str)] = &[("admin", "kanri"), ("officer", "tanto"), ("auditor", "kansa"), ("viewer", "etsuran")];

/// (what, method, path, form fields, roles allowed). `{alert}` is the alert's number.
/// Written out by hand from the issue and mamori-auth's PERMISSIONS, not derived from the code.
type Row = (&'static str, &'static str, &'static str, &'static [(&'static str, &'static str)], &'static [&'static str]);
const TABLE: &[Row] = &[
    ("dashboard", "GET", "/ui/", &[], &["admin", "officer", "auditor", "viewer"]),
    ("event search page", "GET", "/ui/events", &[], &["admin", "officer", "auditor", "viewer"]),
    ("event search", "POST", "/ui/events", &[("q", "課税台帳")], &["admin", "officer", "auditor", "viewer"]),
    ("person timeline", "POST", "/ui/events/person", &[("account", "suzuki.i")], &["officer", "auditor", "viewer"]),
    ("alert list", "GET", "/ui/alerts", &[], &["officer", "auditor", "viewer"]),
    ("alert detail", "GET", "/ui/alerts/{alert}", &[], &["officer", "auditor", "viewer"]),
    ("alert triage", "POST", "/ui/alerts/{alert}/triage", &[("reason", "確認する")], &["officer"]),
    ("staff and departments", "GET", "/ui/people", &[], &["officer", "auditor", "viewer"]),
    ("person history", "POST", "/ui/people/person", &[("staff_id", "1003")], &["officer", "auditor", "viewer"]),
    ("access review", "GET", "/ui/review", &[], &["officer", "auditor", "viewer"]),
    ("access review sign-off", "POST", "/ui/review/sign", &[("as_of", "2024-04-01"), ("summary", "確認済み")], &["admin", "officer"]),
    ("USB register", "GET", "/ui/usb", &[], &["officer", "auditor", "viewer"]),
    ("takeout requests", "GET", "/ui/takeouts", &[], &["officer", "auditor", "viewer"]),
    ("takeout ledger PDF", "GET", "/ui/takeouts.pdf", &[], &["officer", "auditor", "viewer"]),
    ("vendors", "GET", "/ui/vendors", &[], &["officer", "auditor", "viewer"]),
    ("monthly log review", "GET", "/ui/logreview", &[], &["officer", "auditor", "viewer"]),
    ("cases", "GET", "/ui/cases", &[], &["officer", "auditor", "viewer"]),
    ("PPC reports", "GET", "/ui/ppc", &[], &["officer", "auditor", "viewer"]),
    ("open a case", "POST", "/ui/cases", &[("title", "役割表の確認 {role}"), ("recognized_on", "2026-12-01")], &["officer"]),
    ("log review comment", "POST", "/ui/logreview/comment", &[("month", "2018-12"), ("kind", "general"), ("text", "役割表の確認 {role}")], &["auditor"]),
    ("settings", "GET", "/ui/settings", &[], &["admin", "auditor"]),
    ("add user", "POST", "/ui/settings/users", &[("name", "added.by.{role}"), ("role", "viewer"), ("password", "added-password-0001")], &["admin"]),
    ("change a user's role", "POST", "/ui/settings/users/role", &[("name", "ziel"), ("role", "auditor")], &["admin"]),
    ("disable a user", "POST", "/ui/settings/users/disable", &[("name", "ziel")], &["admin"]),
    ("re-enable a user", "POST", "/ui/settings/users/enable", &[("name", "ziel")], &["admin"]),
    ("reset a password", "POST", "/ui/settings/users/reset", &[("name", "ziel")], &["admin"]),
    ("revoke a token", "POST", "/ui/settings/tokens/revoke", &[("id", "{token}")], &["admin"]),
    ("change own password (page)", "GET", "/ui/password", &[], &["admin", "officer", "auditor", "viewer"]),
];

/// Creates the account `ziel` (viewer) and a token issued to it, for the admin rows of the
/// table; returns the token's id.
fn admin_targets(base: &str, admin_token: &str) -> String {
    let http = reqwest::blocking::Client::new();
    let r = http.post(format!("{base}/api/v1/admin/users")).bearer_auth(admin_token).json(&serde_json::json!({"name": "ziel", "role": "viewer", "password": "ziel-password-0001"})).send().unwrap();
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = http.post(format!("{base}/api/v1/admin/tokens")).bearer_auth(admin_token).json(&serde_json::json!({"name": "ziel script", "role": "viewer", "user": "ziel"})).send().unwrap().json().unwrap();
    v["id"].as_str().expect("token id").to_owned()
}

#[test]
fn every_page_and_action_per_role_from_one_table() {
    let c = city();
    let base = &c.srv.http;
    let clients: Vec<(&str, UiClient)> = ROLES.iter().map(|(role, user)| (*role, UiClient::login(base, user))).collect();
    let token = admin_targets(base, &c.admin_token);
    let mut failures = Vec::new();
    for (what, method, path, fields, allowed) in TABLE {
        let path = path.replace("{alert}", &c.alert_id.to_string());
        for (role, client) in &clients {
            let fields: Vec<(String, String)> = fields.iter().map(|(k, v)| (k.to_string(), v.replace("{role}", role).replace("{token}", &token))).collect();
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let r = match *method {
                "GET" => client.get(&path),
                _ => client.post(&path, Some(&client.csrf()), &fields),
            };
            let expect_ok = allowed.contains(role);
            let ok = match r.status {
                200 | 303 => true,
                403 => false,
                other => panic!("{what} as {role}: unexpected {other}: {}", r.body),
            };
            if ok && r.status == 303 {
                assert_ne!(r.location.as_deref(), Some("/ui/login"), "{what} as {role}: sent to the login page");
            }
            if ok != expect_ok {
                failures.push(format!("{what} ({method} {path}) as {role}: {} (expected {})", r.status, if expect_ok { "allowed" } else { "refused" }));
            }
            if !ok {
                assert!(r.body.contains("権限がありません"), "{what} as {role}: the refusal says why in Japanese: {}", r.body);
            }
        }
    }
    assert!(failures.is_empty(), "role table violated:\n{}", failures.join("\n"));

    // The menu shows exactly the GET pages the table allows.
    for (role, client) in &clients {
        let home = client.get("/ui/");
        for (what, method, path, _, allowed) in TABLE.iter().filter(|r| r.1 == "GET" && !r.2.contains('{') && !r.2.ends_with(".pdf") && r.2 != "/ui/") {
            let _ = method;
            let shown = home.body.contains(&format!("<a href=\"{path}\""));
            assert_eq!(shown, allowed.contains(role), "menu entry {what} for {role}");
        }
    }

    // Ingest-only accounts cannot log in to the UI.
    let mut ing = UiClient::new(base);
    let r = ing.try_login("torikomi", password("torikomi"));
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(ing.cookie.is_none());
}

#[test]
fn sessions_csrf_headers_and_rate_limit() {
    let c = city();
    let base = &c.srv.http;

    // No session: every page sends to the login page; assets are public.
    let anon = UiClient::new(base);
    for p in ["/ui/", "/ui/alerts", "/ui/settings", "/ui/events"] {
        let r = anon.get(p);
        assert_eq!((r.status, r.location.as_deref()), (303, Some("/ui/login")), "{p}");
    }
    let r = anon.post("/ui/alerts/1/triage", Some("x"), &[("reason", "x")]);
    assert_eq!((r.status, r.location.as_deref()), (303, Some("/ui/login")));
    assert_eq!(anon.get("/ui/assets/style.css").status, 200);
    assert_eq!(anon.get("/ui/assets/app.js").status, 200);

    // Headers on every page: CSP without inline script, no framing, no caching.
    let login = anon.get("/ui/login");
    let csp = login.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(login.headers["x-frame-options"], "DENY");
    assert_eq!(login.headers["cache-control"], "no-store");
    assert!(!login.body.contains("<script>") && !login.body.contains("style=\""), "no inline script or style");

    // The login form needs its nonce cookie (login CSRF).
    let nonce = csrf_of(&login.body).unwrap();
    let http = reqwest::blocking::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = ui_fixture::with_form(http.post(format!("{base}/ui/login")), &[("_csrf", nonce.as_str()), ("username", "tanto"), ("password", password("tanto"))]).send().unwrap();
    assert_eq!(r.status(), 403, "login without the nonce cookie");

    // The session cookie: HttpOnly, SameSite=Strict (no Secure over plain HTTP).
    let mut officer = UiClient::new(base);
    let r = officer.try_login("tanto", password("tanto"));
    assert_eq!(r.status, 303);
    let sc = r.set_cookies.iter().find(|c| c.starts_with("mamori_session=")).unwrap();
    assert!(sc.contains("HttpOnly") && sc.contains("SameSite=Strict"), "{sc}");
    assert!(!sc.contains("Secure"), "plain HTTP");

    // CSRF: a POST without the token, or with another session's token, is refused and
    // nothing is ledgered; with the token it is.
    let path = format!("/ui/alerts/{}/triage", c.alert_id);
    let r = officer.post(&path, None, &[("reason", "CSRF なし")]);
    assert_eq!(r.status, 403);
    assert!(r.body.contains("フォームの有効期限が切れたか"), "{}", r.body);
    let other = UiClient::login(base, "kansa");
    let r = officer.post(&path, Some(&other.csrf()), &[("reason", "他人のトークン")]);
    assert_eq!(r.status, 403);
    let v: serde_json::Value = http.get(format!("{base}/api/v1/alerts/{}", c.alert_id)).basic_auth("tanto", Some(password("tanto"))).send().unwrap().json().unwrap();
    assert_eq!(v["state"], "new", "nothing was ledgered");
    let r = officer.post(&path, Some(&officer.csrf()), &[("reason", "正しいトークン")]);
    assert_eq!(r.status, 303, "{}", r.body);
    let v: serde_json::Value = http.get(format!("{base}/api/v1/alerts/{}", c.alert_id)).basic_auth("tanto", Some(password("tanto"))).send().unwrap().json().unwrap();
    assert_eq!(v["state"], "triaged");
    // A second triage is refused by the state (as the API refuses it), not ledgered twice.
    let r = officer.post(&path, Some(&officer.csrf()), &[("reason", "二度目")]);
    assert_eq!(r.status, 409, "{}", r.body);

    // Logout ends the session on the server: the old cookie no longer works.
    let old = officer.cookie.clone();
    let r = officer.post("/ui/logout", Some(&officer.csrf()), &[]);
    assert_eq!(r.status, 303);
    officer.cookie = old;
    assert_eq!(officer.get("/ui/").location.as_deref(), Some("/ui/login"));

    // Rate limiting: after 5 wrong passwords the account is refused for a while, even with
    // the right one; another account is not affected.
    let mut v = UiClient::new(base);
    for i in 0..5 {
        let r = v.try_login("etsuran", &format!("wrong-password-{i:04}"));
        assert_eq!(r.status, 401, "attempt {i}");
    }
    let r = v.try_login("etsuran", password("etsuran"));
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    assert!(r.body.contains("しばらくログインできません"));
    assert!(v.cookie.is_none());
    let r = UiClient::new(base).try_login("kansa", password("kansa"));
    assert_eq!(r.status, 303, "another account still logs in");

}

/// The administrator's account actions, through the UI and the API: each is ledgered as an
/// admin action; a role change and a disabled account take effect on the user's next request
/// (their open session ends); a disabled user's token stops working; a reset password is a
/// one-time password that opens only the change-password page and no API; nobody disables or
/// demotes their own account or the last administrator.
#[test]
fn account_changes_take_effect_at_once_and_are_ledgered() {
    let c = city();
    let base = &c.srv.http;
    let http = reqwest::blocking::Client::new();
    let api = |path: &str, body: serde_json::Value| {
        let r = http.post(format!("{base}{path}")).bearer_auth(&c.admin_token).json(&body).send().unwrap();
        let status = r.status().as_u16();
        (status, r.json::<serde_json::Value>().unwrap_or_default())
    };
    // The admin audit trail (read from the index, which follows the ledger within moments).
    let audit = |action: &str| -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let v: serde_json::Value = http.get(format!("{base}/api/v1/admin/audit?action={action}")).bearer_auth(&c.admin_token).send().unwrap().json().unwrap();
            let events = v["events"].as_array().cloned().unwrap_or_default();
            if !events.is_empty() || Instant::now() > deadline {
                return events;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let admin = UiClient::login(base, "kanri");
    let csrf = admin.csrf();

    // Role change: the viewer's open session becomes an officer's at its next request.
    let viewer = UiClient::login(base, "etsuran");
    assert_eq!(viewer.post(&format!("/ui/alerts/{}/triage", c.alert_id), Some(&viewer.csrf()), &[("reason", "閲覧者")]).status, 403);
    let r = admin.post("/ui/settings/users/role", Some(&csrf), &[("name", "etsuran"), ("role", "officer")]);
    assert_eq!(r.status, 303, "{}", r.body);
    let page = viewer.get(&format!("/ui/alerts/{}", c.alert_id));
    assert!(page.body.contains("triage-form"), "the new role is read on the next request");
    assert!(viewer.get("/ui/").body.contains("情報セキュリティ担当"));
    let rec = audit("user-role-changed");
    assert_eq!(rec.len(), 1, "{rec:?}");
    assert_eq!(rec[0]["event"]["mamori"]["admin"]["role"], "officer");
    assert_eq!(rec[0]["event"]["user"]["name"], "kanri", "the administrator is the actor");

    // Disable: the open session ends, the login is refused, the API refuses the password and
    // the token issued to the account; re-enabling restores both.
    let v: serde_json::Value = http.post(format!("{base}/api/v1/admin/tokens")).bearer_auth(&c.admin_token).json(&serde_json::json!({"name": "etsuran cli", "role": "viewer", "user": "etsuran"})).send().unwrap().json().unwrap();
    let secret = v["token"].as_str().unwrap().to_owned();
    assert_eq!(http.get(format!("{base}/api/v1/events")).bearer_auth(&secret).send().unwrap().status(), 200);
    let r = admin.post("/ui/settings/users/disable", Some(&csrf), &[("name", "etsuran")]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(viewer.get("/ui/").location.as_deref(), Some("/ui/login"), "the session ended");
    let mut again = UiClient::new(base);
    assert_eq!(again.try_login("etsuran", password("etsuran")).status, 401);
    assert!(again.cookie.is_none());
    assert_eq!(http.get(format!("{base}/api/v1/events")).basic_auth("etsuran", Some(password("etsuran"))).send().unwrap().status(), 401);
    assert_eq!(http.get(format!("{base}/api/v1/events")).bearer_auth(&secret).send().unwrap().status(), 401, "the user's token stops working");
    let settings = admin.get("/ui/settings").body;
    assert!(settings.contains("data-state=\"disabled\""), "shown as disabled");
    let r = admin.post("/ui/settings/users/enable", Some(&csrf), &[("name", "etsuran")]);
    assert_eq!(r.status, 303);
    assert_eq!(http.get(format!("{base}/api/v1/events")).bearer_auth(&secret).send().unwrap().status(), 200);
    UiClient::login(base, "etsuran");
    assert_eq!(audit("user-disabled").len(), 1);
    assert_eq!(audit("user-enabled").len(), 1);

    // Password reset: the one-time password is shown once, on the answer page only.
    let auditor = UiClient::login(base, "kansa");
    let r = admin.post("/ui/settings/users/reset", Some(&csrf), &[("name", "kansa")]);
    assert_eq!(r.status, 200, "{}", r.body);
    let otp = r.body.split("<code id=\"otp\">").nth(1).and_then(|s| s.split('<').next()).expect("one-time password shown").to_owned();
    assert_eq!(otp.len(), 19, "{otp}");
    assert!(!r.location.unwrap_or_default().contains(&otp));
    assert!(!admin.get("/ui/settings").body.contains(&otp), "not shown again");
    assert_eq!(auditor.get("/ui/settings").location.as_deref(), Some("/ui/login"), "the user's sessions ended");
    let rec = audit("password-reset");
    assert_eq!(rec.len(), 1);
    assert!(rec[0]["event"]["mamori"]["admin"].get("password_phc").is_none(), "no hash served");
    // The old password is gone; the one-time one is no API credential.
    assert_eq!(UiClient::new(base).try_login("kansa", password("kansa")).status, 401);
    assert_eq!(http.get(format!("{base}/api/v1/events")).basic_auth("kansa", Some(&otp)).send().unwrap().status(), 401);
    // It opens only the change-password page.
    let mut k = UiClient::new(base);
    let r = k.try_login("kansa", &otp);
    assert_eq!((r.status, r.location.as_deref()), (303, Some("/ui/password")));
    for p in ["/ui/", "/ui/settings", "/ui/alerts"] {
        assert_eq!(k.get(p).location.as_deref(), Some("/ui/password"), "{p}");
    }
    let form = k.get("/ui/password");
    assert_eq!(form.status, 200);
    let kcsrf = ui_fixture::csrf_of(&form.body).unwrap();
    let r = k.post("/ui/password", Some(&kcsrf), &[("current", "not-the-otp-0000"), ("new", "kansa-password-0002"), ("confirm", "kansa-password-0002")]);
    assert_eq!(r.status, 400, "wrong current password");
    let r = k.post("/ui/password", Some(&kcsrf), &[("current", &otp), ("new", "kansa-password-0002"), ("confirm", "kansa-password-0003")]);
    assert_eq!(r.status, 400, "confirmation differs");
    let r = k.post("/ui/password", Some(&kcsrf), &[("current", &otp), ("new", "kansa-password-0002"), ("confirm", "kansa-password-0002")]);
    assert_eq!((r.status, r.location.as_deref()), (303, Some("/ui/")), "{}", r.body);
    let new_cookie = r.set_cookies.iter().find(|c| c.starts_with("mamori_session=")).expect("a new session id").split(';').next().unwrap().to_owned();
    assert_ne!(Some(&new_cookie), k.cookie.as_ref());
    k.cookie = Some(new_cookie);
    assert_eq!(k.get("/ui/settings").status, 200, "the auditor's pages again");
    assert_eq!(http.get(format!("{base}/api/v1/events")).basic_auth("kansa", Some("kansa-password-0002")).send().unwrap().status(), 200);
    let rec = audit("password-changed");
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0]["event"]["user"]["name"], "kansa", "changed by the user");

    // Token revocation from the settings page.
    let v: serde_json::Value = http.post(format!("{base}/api/v1/admin/tokens")).bearer_auth(&c.admin_token).json(&serde_json::json!({"name": "fs01", "role": "ingest"})).send().unwrap().json().unwrap();
    let (tid, tsecret) = (v["id"].as_str().unwrap().to_owned(), v["token"].as_str().unwrap().to_owned());
    assert_eq!(http.post(format!("{base}/api/v1/events")).bearer_auth(&tsecret).body("{\"message\":\"x\"}\n").send().unwrap().status(), 200);
    let r = admin.post("/ui/settings/tokens/revoke", Some(&csrf), &[("id", &tid)]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(http.post(format!("{base}/api/v1/events")).bearer_auth(&tsecret).body("{\"message\":\"x\"}\n").send().unwrap().status(), 401);
    assert!(audit("token-revoked").iter().any(|e| e["event"]["mamori"]["admin"]["id"] == tid.as_str()));

    // The rules: not one's own account, not the last administrator (refused, nothing ledgered).
    let r = admin.post("/ui/settings/users/disable", Some(&csrf), &[("name", "kanri")]);
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("自分のアカウント"), "{}", r.body);
    let (status, body) = api("/api/v1/admin/users/role", serde_json::json!({"name": "kanri", "role": "viewer"}));
    assert_eq!(status, 409, "the token's admin may not demote the last administrator: {body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("最後の有効な管理者"), "{body}");
    assert_eq!(audit("user-disabled").len(), 1);
    // The same actions through the API.
    let (status, body) = api("/api/v1/admin/users/disable", serde_json::json!({"name": "tanto"}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(http.get(format!("{base}/api/v1/alerts")).basic_auth("tanto", Some(password("tanto"))).send().unwrap().status(), 401);
    let (status, _) = api("/api/v1/admin/users/disable", serde_json::json!({"name": "tanto"}));
    assert_eq!(status, 409, "already disabled");
    let (status, body) = api("/api/v1/admin/users/password-reset", serde_json::json!({"name": "nobody"}));
    assert_eq!(status, 409, "{body}");
    let v: serde_json::Value = http.get(format!("{base}/api/v1/admin/users")).bearer_auth(&c.admin_token).send().unwrap().json().unwrap();
    let tanto = v["users"].as_array().unwrap().iter().find(|u| u["name"] == "tanto").unwrap().clone();
    assert_eq!(tanto["disabled"], true);
    assert!(!v.to_string().contains("argon2"), "no password hashes: {v}");
    // The viewer may not call them.
    let r = http.post(format!("{base}/api/v1/admin/users/enable")).basic_auth("etsuran", Some(password("etsuran"))).json(&serde_json::json!({"name": "tanto"})).send().unwrap();
    assert_eq!(r.status(), 403);

    // After a restart the accounts are the same (replayed from the ledger). Meanwhile an
    // event past its retention period is erased: the settings page lists the erasure.
    let v: serde_json::Value = http.get(format!("{base}/api/v1/events?user=sato.h&limit=1")).bearer_auth(&c.admin_token).send().unwrap().json().unwrap();
    let old_event = v["events"][0]["id"].as_u64().expect("an event").to_string();
    let data = c._tmp.path().join("d");
    c.srv.stop();
    common::run_ok(mamori().args(["erase", "--id", &old_event, "--reason", "保存期間満了(試験)", "--data"]).arg(&data));
    let srv = common::Server::start(&data, &["--listen", "127.0.0.1:0"]);
    let b = &srv.http;
    assert_eq!(UiClient::new(b).try_login("tanto", password("tanto")).status, 401, "still disabled");
    assert_eq!(UiClient::new(b).try_login("kansa", "kansa-password-0002").status, 303, "the changed password");
    let mut e = UiClient::new(b);
    e.try_login("etsuran", password("etsuran"));
    assert!(e.get("/ui/").body.contains("情報セキュリティ担当"), "the changed role");
    let settings = UiClient::login(b, "kanri").get("/ui/settings").body;
    assert!(settings.contains("id=\"erasures\" data-count=\"1\""), "{settings}");
    assert!(settings.contains("保存期間満了(試験)"));
    drop(srv);
}

#[test]
fn personal_data_stays_out_of_urls_and_the_request_log() {
    let c = city();
    let data = c._tmp.path().join("d");
    c.srv.stop();
    // Our own server, with the request log (tower_http spans: method and URI) on stderr.
    let log = c._tmp.path().join("serve.log");
    let mut child = mamori()
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .env("RUST_LOG", "info,tower_http=debug")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let l = lines.next().expect("server output").unwrap();
        if l.contains("listening on") {
            let i = l.rfind("http").unwrap();
            break l[i..].trim_end_matches('/').to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let guard = KillOnDrop(child);
    let officer = UiClient::login(&base, "tanto");
    let csrf = officer.csrf();
    let r = officer.post("/ui/events", Some(&csrf), &[("user", "suzuki.i"), ("path", "/住基/")]);
    assert_eq!(r.status, 200);
    assert!(r.body.contains("PC-SHIMIN-07"), "the search found the events");
    let r = officer.post("/ui/events/person", Some(&csrf), &[("account", "suzuki.i")]);
    assert!(r.body.contains("鈴木 一郎"));
    let r = officer.post("/ui/people/person", Some(&csrf), &[("staff_id", "1003")]);
    assert!(r.body.contains("鈴木 一郎"));
    // Links on the pages: no account or staff number in any href.
    for page in [officer.get("/ui/alerts").body, officer.get(&format!("/ui/alerts/{}", c.alert_id)).body, officer.get("/ui/people").body] {
        for href in page.split("href=\"").skip(1).map(|s| s.split('"').next().unwrap()) {
            assert!(!href.contains("suzuki") && !href.contains("1003") && !href.contains("鈴木"), "personal data in a link: {href}");
        }
    }
    // The request log has the UI requests, and none of the personal data.
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let t = std::fs::read_to_string(&log).unwrap();
        if t.contains("/ui/people/person") || Instant::now() > deadline {
            break t;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(text.contains("/ui/events/person"), "the UI requests are logged: {text}");
    for secret in ["suzuki", "鈴木", "住基", password("tanto")] {
        assert!(!text.contains(secret), "{secret:?} in the server log:\n{text}");
    }
    drop(guard);
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
