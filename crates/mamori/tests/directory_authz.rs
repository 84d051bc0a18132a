//! Authorization of every directory API route (crates/server/src/directory_http.rs) for every
//! role, cross-checked with mamori-auth's permission table: reads name people (ReadTimeline:
//! officer, auditor, viewer); changes are admin or officer work (ManageConfig / ManageAlerts);
//! no credentials is 401. Also checks that the table below lists every route in the file.

mod common;

use common::{Server, mamori, run_ok};
use mamori_auth::{Action, Role};
use std::collections::BTreeSet;
use std::process::Command;

fn curl(args: &[&str]) -> u16 {
    let out = Command::new("curl").args(["-s", "-o", "/dev/null", "-w", "%{http_code}"]).args(args).output().expect("curl");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// (method, route pattern, concrete path, body, actions checked)
type Row = (&'static str, &'static str, &'static str, Option<&'static str>, &'static [Action]);

const READ: &[Action] = &[Action::ReadTimeline];
const WRITE: &[Action] = &[Action::ManageConfig, Action::ManageAlerts];

#[test]
fn every_directory_route_by_every_role() {
    let table: Vec<Row> = vec![
        ("GET", "/api/v1/review/access", "/api/v1/review/access?as_of=2024-04-10", None, READ),
        ("POST", "/api/v1/review/access/signoff", "/api/v1/review/access/signoff", Some(r#"{"as_of":"2024-04-10","reviewer":"x"}"#), WRITE),
        ("GET", "/api/v1/directory/accounts/unknown", "/api/v1/directory/accounts/unknown", None, READ),
        ("GET", "/api/v1/directory/grants/{account}", "/api/v1/directory/grants/sato.h", None, READ),
        ("GET", "/api/v1/takeouts", "/api/v1/takeouts", None, READ),
        ("POST", "/api/v1/takeouts", "/api/v1/takeouts", Some(r#"{"action":"take","id":"nope","on":"2024-05-01"}"#), WRITE),
        ("GET", "/api/v1/takeouts/reminders", "/api/v1/takeouts/reminders", None, READ),
        ("POST", "/api/v1/takeouts/reconcile", "/api/v1/takeouts/reconcile", Some("[]"), READ),
        ("GET", "/api/v1/vendors", "/api/v1/vendors", None, READ),
        ("POST", "/api/v1/vendors", "/api/v1/vendors", Some(r#"{"action":"certificate","id":"nope","on":"2024-05-01","note":"x"}"#), WRITE),
        ("GET", "/api/v1/vendors/reminders", "/api/v1/vendors/reminders", None, READ),
    ];
    // The table covers the source.
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../server/src/directory_http.rs")).unwrap();
    let mut in_src = BTreeSet::new();
    for chunk in src.split(".route(\"").skip(1) {
        let (path, rest) = chunk.split_once('"').unwrap();
        let call = &rest[..rest.find('\n').unwrap_or(rest.len())];
        for m in ["get", "post", "put", "delete", "patch"] {
            if call.contains(&format!(" {m}(")) || call.contains(&format!(".{m}(")) {
                in_src.insert((m.to_uppercase(), path.to_owned()));
            }
        }
    }
    let in_table: BTreeSet<(String, String)> = table.iter().map(|r| (r.0.to_owned(), r.1.to_owned())).collect();
    assert_eq!(in_src, in_table, "every route has a row");

    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    run_ok(mamori().args(["init", "--data"]).arg(&data));
    let roles = [Role::Admin, Role::Officer, Role::Auditor, Role::Viewer, Role::Ingest, Role::Witness];
    let tokens: Vec<(Role, String)> = roles
        .iter()
        .map(|r| {
            let t = run_ok(mamori().args(["token", "--name", &format!("t-{r:?}"), "--role", &format!("{r:?}").to_lowercase(), "--data"]).arg(&data));
            (*r, t.trim().to_owned())
        })
        .collect();
    let srv = Server::start(&data, &["--listen", "127.0.0.1:0", "--syslog-tcp", "127.0.0.1:0", "--syslog-udp", "127.0.0.1:0"]);
    for (method, _, path, body, actions) in &table {
        let url = format!("{}{path}", srv.http);
        let mut base: Vec<String> = vec!["-X".into(), (*method).into()];
        if let Some(b) = body {
            base.extend(["-H".into(), "Content-Type: application/json".into(), "-d".into(), (*b).into()]);
        }
        let call = |extra: &[String]| {
            let mut a: Vec<&str> = base.iter().map(String::as_str).collect();
            a.extend(extra.iter().map(String::as_str));
            a.push(&url);
            curl(&a)
        };
        assert_eq!(call(&[]), 401, "{method} {path} without credentials");
        for (role, token) in &tokens {
            let code = call(&["-H".into(), format!("Authorization: Bearer {token}")]);
            let allowed = actions.iter().any(|a| mamori_auth::allowed(*role, *a));
            if allowed {
                // Allowed: anything but 401/403 (a refused change is 409, as here on purpose).
                assert!(code != 401 && code != 403, "{method} {path} as {role:?}: {code}");
                if body.is_some() && *method == "POST" && path.contains("takeouts") && !path.contains("reconcile") {
                    assert_eq!(code, 409, "the unknown request is refused, not ledgered");
                }
            } else {
                assert_eq!(code, 403, "{method} {path} as {role:?}");
            }
        }
    }
    srv.stop();
}
