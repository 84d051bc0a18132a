//! The web UI over HTTPS (`mamori serve --tls-cert/--tls-key`): every cookie the UI sets —
//! the login nonce, the session, the language preference, the logout's removal — carries
//! `Secure` next to `HttpOnly` and `SameSite=Strict`, and a login over TLS works with curl
//! checking the certificate against our own CA. (Over plain HTTP the same cookies come without
//! `Secure`: ui_roles checks that; docs/ui.md explains why.)

mod common;

use common::{Server, mamori, run_ok};
use std::process::Command;

/// curl with our CA; returns (status line and headers, body).
fn curl(ca: &str, args: &[&str]) -> (String, String) {
    let out = Command::new("curl").args(["-sS", "--max-time", "20", "--cacert", ca, "-D", "-"]).args(args).output().expect("curl is installed by scripts/test.sh");
    assert!(out.status.success(), "curl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.to_owned(), body.to_owned())
}

fn set_cookies(head: &str) -> Vec<String> {
    head.lines().filter_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: "))).map(|l| l.trim().to_owned()).collect()
}

fn status(head: &str) -> u16 {
    head.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn attrs_of<'a>(cookies: &'a [String], name: &str) -> &'a str {
    cookies.iter().find(|c| c.starts_with(&format!("{name}="))).unwrap_or_else(|| panic!("no {name} cookie in {cookies:?}"))
}

fn assert_hardened(cookie: &str) {
    let attrs: Vec<&str> = cookie.split(';').map(str::trim).collect();
    for a in ["Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(attrs.contains(&a), "{a} missing: {cookie}");
    }
}

#[test]
fn session_cookie_is_secure_over_https() {
    let tmp = tempfile::tempdir().unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "mamori UI test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let (ca_pem, cert_pem, key_pem) = (tmp.path().join("ca.pem"), tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    std::fs::write(&ca_pem, ca.pem()).unwrap();
    std::fs::write(&cert_pem, cert.pem()).unwrap();
    std::fs::write(&key_pem, key.serialize_pem()).unwrap();
    let ca_s = ca_pem.to_str().unwrap();

    let data = tmp.path().join("data");
    let init = run_ok(mamori().args(["init", "--data"]).arg(&data));
    let admin = init.split_whitespace().find(|w| w.starts_with("mamori_admin_")).expect("admin token").to_owned();
    let srv = Server::start(&data, &["--listen", "127.0.0.1:0", "--tls-cert", cert_pem.to_str().unwrap(), "--tls-key", key_pem.to_str().unwrap()]);
    let base = srv.http.clone();
    assert!(base.starts_with("https://"), "{base}");
    let (head, body) = curl(ca_s, &["-X", "POST", "-H", &format!("Authorization: Bearer {admin}"), "-H", "Content-Type: application/json", "--data", r#"{"name":"tanto","role":"officer","password":"tanto-password-0001"}"#, &format!("{base}/api/v1/admin/users")]);
    assert_eq!(status(&head), 201, "{head}{body}");

    // The login form sets its nonce cookie: Secure.
    let (head, body) = curl(ca_s, &[&format!("{base}/ui/login")]);
    assert_eq!(status(&head), 200, "{head}");
    let cookies = set_cookies(&head);
    let nonce_cookie = attrs_of(&cookies, "mamori_login");
    assert_hardened(nonce_cookie);
    let nonce = body.split("name=\"_csrf\" value=\"").nth(1).and_then(|s| s.split('"').next()).expect("nonce in the form").to_owned();

    // The login: the session cookie is Secure; HttpOnly; SameSite=Strict, and works.
    let (head, body) = curl(
        ca_s,
        &["-X", "POST", "-H", &format!("Cookie: mamori_login={nonce}"), "--data-urlencode", &format!("_csrf={nonce}"), "--data-urlencode", "username=tanto", "--data-urlencode", "password=tanto-password-0001", &format!("{base}/ui/login")],
    );
    assert_eq!(status(&head), 303, "{head}{body}");
    let cookies = set_cookies(&head);
    let session = attrs_of(&cookies, "mamori_session");
    assert_hardened(session);
    assert!(session.contains("Path=/"), "{session}");
    assert!(!session.contains("Max-Age") && !session.contains("Expires"), "a browser-session cookie, not persisted: {session}");
    let sid = session.split(';').next().unwrap().to_owned();
    let (head, body) = curl(ca_s, &["-H", &format!("Cookie: {sid}"), &format!("{base}/ui/")]);
    assert_eq!(status(&head), 200, "{head}");
    assert!(body.contains("ダッシュボード"));
    let csrf = body.split("name=\"_csrf\" value=\"").nth(1).and_then(|s| s.split('"').next()).unwrap().to_owned();

    // The language preference and the logout's removal are Secure too.
    let (head, _) = curl(ca_s, &["-H", &format!("Cookie: {sid}"), &format!("{base}/ui/lang?to=en&back=/ui/")]);
    assert_hardened(attrs_of(&set_cookies(&head), "mamori_lang"));
    let (head, _) = curl(ca_s, &["-X", "POST", "-H", &format!("Cookie: {sid}"), "--data-urlencode", &format!("_csrf={csrf}"), &format!("{base}/ui/logout")]);
    assert_eq!(status(&head), 303, "{head}");
    let cleared = attrs_of(&set_cookies(&head), "mamori_session").to_owned();
    assert_hardened(&cleared);
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let (head, _) = curl(ca_s, &["-H", &format!("Cookie: {sid}"), &format!("{base}/ui/")]);
    assert_eq!(status(&head), 303, "the session ended with the logout");
    drop(srv);
}

/// Behind a reverse proxy that terminates TLS, mamori serves plain HTTP; `[server]
/// secure_cookies = true` still marks the UI's cookies `Secure` (the default over plain HTTP
/// leaves it out).
#[test]
fn secure_cookies_behind_a_tls_proxy() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    run_ok(mamori().args(["init", "--data"]).arg(&data));
    let cfg = data.join("config.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("secure_cookies = false"), "init writes the default: {text}");
    std::fs::write(&cfg, text.replace("secure_cookies = false", "secure_cookies = true")).unwrap();
    let srv = Server::start(&data, &["--listen", "127.0.0.1:0"]);
    assert!(srv.http.starts_with("http://"));
    let out = Command::new("curl").args(["-sS", "--max-time", "20", "-D", "-", "-o", "/dev/null", &format!("{}/ui/login", srv.http)]).output().unwrap();
    let head = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_hardened(attrs_of(&set_cookies(&head), "mamori_login"));
    drop(srv);
}
