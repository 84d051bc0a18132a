//! Authorization of every authenticated endpoint of the real server, for every role, from ONE
//! table written here (least privilege as documented in mamori-auth: ingest only submits,
//! witness only cosigns, auditor reads everything but changes nothing, only admin manages, admin
//! does not read proofs/timelines), cross-checked with `mamori_auth::allowed`. Also: missing,
//! malformed, unknown and revoked credentials are 401; and no route edits or deletes events.

mod common;

use common::*;
use mamori_auth::{Action, Role};
use serde_json::{Value, json};
use std::collections::BTreeSet;

use Role::{Admin, Auditor, Ingest, Officer, Viewer};

const ALL_ROLES: [Role; 6] = Role::ALL;

/// One endpoint: method, route pattern (as in the router), concrete path, body, the roles the
/// docs say may call it, the `Action`s the server checks (for the cross-check), and the status an
/// allowed call answers here.
struct Row {
    method: &'static str,
    pattern: &'static str,
    path: String,
    body: Option<String>,
    allowed: &'static [Role],
    actions: &'static [Action],
    ok: u16,
}

fn routes_in_source() -> BTreeSet<(String, String)> {
    // Every `.route("<path>", get(..).post(..)…)` in http.rs and es.rs.
    let mut out = BTreeSet::new();
    for f in ["src/http.rs", "src/es.rs"] {
        let text = std::fs::read_to_string(format!("{}/{f}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        for chunk in text.split(".route(\"").skip(1) {
            let (path, rest) = chunk.split_once('"').unwrap();
            let call = &rest[..rest.find('\n').unwrap_or(rest.len())];
            for m in ["get", "post", "put", "head", "delete", "patch"] {
                let needle_a = format!(" {m}(");
                let needle_b = format!(".{m}(");
                let needle_c = format!("::{m}(");
                if call.contains(&needle_a) || call.contains(&needle_b) || call.contains(&needle_c) {
                    out.insert((m.to_uppercase(), path.to_owned()));
                }
            }
        }
    }
    out
}

/// Routes deliberately public: the ES probes Beats make before authenticating (answers are
/// constants, nothing is stored), the tlog-tiles / checkpoint (salted commitments only), and the
/// tlog-witness endpoint (authenticated by the log's checkpoint signature, not by a token).
const PUBLIC: &[(&str, &str)] = &[
    ("GET", "/"),
    ("HEAD", "/"),
    ("GET", "/_license"),
    ("GET", "/_xpack"),
    ("PUT", "/_index_template/{name}"),
    ("GET", "/_index_template/{name}"),
    ("HEAD", "/_index_template/{name}"),
    ("PUT", "/_template/{name}"),
    ("HEAD", "/_template/{name}"),
    ("PUT", "/_ilm/policy/{name}"),
    ("GET", "/_ilm/policy/{name}"),
    ("PUT", "/_data_stream/{name}"),
    ("GET", "/_data_stream/{name}"),
    ("GET", "/_nodes"),
    ("GET", "/_cluster/health"),
    ("GET", "/checkpoint"),
    ("GET", "/tile/{*path}"),
    ("POST", "/add-checkpoint"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_endpoint_by_every_role() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("d");
    let boot = init(&root, "authz.example.lg.jp/audit", None);
    let srv = start(&root).await;

    // One token per role, created through the admin API.
    let mut tokens = Vec::new();
    for r in ALL_ROLES {
        let (_, secret) = srv.token(&boot, &format!("tok-{}", r.as_str()), r.as_str()).await;
        tokens.push((r, secret));
    }
    let tok = |r: Role| tokens.iter().find(|(x, _)| *x == r).unwrap().1.clone();

    // Data the endpoints need: a good event, a quarantined still-bad record, a checkpoint.
    let (s, v) = srv.post("/api/v1/events", &boot, b"{\"user\":{\"name\":\"tanaka\"},\"message\":\"authz probe\"}\n{\"user\":{\"name\":5}}\n".to_vec()).await;
    assert_eq!(s, 200, "{v}");
    let ev = v["items"][0]["id"].as_u64().unwrap();
    let qid = v["items"][1]["quarantine_id"].as_u64().unwrap();
    let ledger = srv.st.ledger.clone();
    let size = ledger.durable_size();
    tokio::task::spawn_blocking(move || ledger.wait_checkpoint(size, std::time::Duration::from_secs(5))).await.unwrap();
    srv.wait_indexed().await;
    let (victim, _) = srv.token(&boot, "to-be-revoked", "viewer").await;
    // The account the admin rows change (role, disable/enable, password reset).
    let (s, v) = srv.post("/api/v1/admin/users", &boot, br#"{"name":"target","role":"viewer","password":"correct horse battery staple 2026"}"#.to_vec()).await;
    assert_eq!(s, 201, "{v}");

    let nd = |s: &str| Some(format!("{s}\n"));
    let bulk = Some("{\"create\":{}}\n{\"message\":\"bulk authz\"}\n".to_owned());
    let rows = vec![
        Row { method: "POST", pattern: "/api/v1/events", path: "/api/v1/events".into(), body: nd(r#"{"message":"authz ingest"}"#), allowed: &[Admin, Ingest], actions: &[Action::IngestEvents], ok: 200 },
        Row { method: "GET", pattern: "/api/v1/events", path: "/api/v1/events?user=tanaka".into(), body: None, allowed: &[Admin, Officer, Auditor, Viewer], actions: &[Action::ReadEvents], ok: 200 },
        Row { method: "GET", pattern: "/api/v1/events/{id}", path: format!("/api/v1/events/{ev}"), body: None, allowed: &[Admin, Officer, Auditor, Viewer], actions: &[Action::ReadEvents], ok: 200 },
        Row { method: "GET", pattern: "/api/v1/events/{id}/proof", path: format!("/api/v1/events/{ev}/proof"), body: None, allowed: &[Officer, Auditor, Viewer], actions: &[Action::ReadProofs], ok: 200 },
        Row { method: "GET", pattern: "/api/v1/timeline/{user}", path: "/api/v1/timeline/tanaka".into(), body: None, allowed: &[Officer, Auditor, Viewer], actions: &[Action::ReadTimeline], ok: 200 },
        Row { method: "GET", pattern: "/api/v1/quarantine", path: "/api/v1/quarantine".into(), body: None, allowed: &[Admin, Officer, Auditor], actions: &[Action::ReadQuarantine], ok: 200 },
        // The record is still bad: an allowed caller gets 422, a denied one 403.
        Row { method: "POST", pattern: "/api/v1/quarantine/{id}/reingest", path: format!("/api/v1/quarantine/{qid}/reingest"), body: None, allowed: &[Admin, Officer], actions: &[Action::ReingestQuarantine], ok: 422 },
        Row { method: "POST", pattern: "/api/v1/admin/users", path: "/api/v1/admin/users".into(), body: Some(r#"{"name":"user-{role}","role":"viewer","password":"correct horse battery staple 2026"}"#.into()), allowed: &[Admin], actions: &[Action::ManageUsers], ok: 201 },
        Row { method: "GET", pattern: "/api/v1/admin/users", path: "/api/v1/admin/users".into(), body: None, allowed: &[Admin, Auditor], actions: &[Action::ManageUsers, Action::ReadAdminAudit], ok: 200 },
        Row { method: "POST", pattern: "/api/v1/admin/users/role", path: "/api/v1/admin/users/role".into(), body: Some(r#"{"name":"target","role":"auditor"}"#.into()), allowed: &[Admin], actions: &[Action::ManageUsers], ok: 200 },
        Row { method: "POST", pattern: "/api/v1/admin/users/disable", path: "/api/v1/admin/users/disable".into(), body: Some(r#"{"name":"target"}"#.into()), allowed: &[Admin], actions: &[Action::ManageUsers], ok: 200 },
        Row { method: "POST", pattern: "/api/v1/admin/users/enable", path: "/api/v1/admin/users/enable".into(), body: Some(r#"{"name":"target"}"#.into()), allowed: &[Admin], actions: &[Action::ManageUsers], ok: 200 },
        Row { method: "POST", pattern: "/api/v1/admin/users/password-reset", path: "/api/v1/admin/users/password-reset".into(), body: Some(r#"{"name":"target"}"#.into()), allowed: &[Admin], actions: &[Action::ManageUsers], ok: 200 },
        Row { method: "POST", pattern: "/api/v1/admin/tokens", path: "/api/v1/admin/tokens".into(), body: Some(r#"{"name":"made-by-{role}","role":"viewer"}"#.into()), allowed: &[Admin], actions: &[Action::ManageTokens], ok: 201 },
        Row { method: "POST", pattern: "/api/v1/admin/tokens/{id}/revoke", path: format!("/api/v1/admin/tokens/{victim}/revoke"), body: None, allowed: &[Admin], actions: &[Action::ManageTokens], ok: 200 },
        Row { method: "GET", pattern: "/api/v1/admin/audit", path: "/api/v1/admin/audit".into(), body: None, allowed: &[Admin, Auditor], actions: &[Action::ReadAdminAudit], ok: 200 },
        Row { method: "GET", pattern: "/api/v1/alerts", path: "/api/v1/alerts".into(), body: None, allowed: &[Officer, Auditor, Viewer], actions: &[Action::ReadAlerts], ok: 200 },
        // No such alert: an allowed caller gets 404, a denied one 403.
        Row { method: "GET", pattern: "/api/v1/alerts/{id}", path: "/api/v1/alerts/999999".into(), body: None, allowed: &[Officer, Auditor, Viewer], actions: &[Action::ReadAlerts], ok: 404 },
        Row { method: "POST", pattern: "/api/v1/alerts/{id}/triage", path: "/api/v1/alerts/999999/triage".into(), body: Some(r#"{"reason":"authz"}"#.into()), allowed: &[Officer], actions: &[Action::ManageAlerts], ok: 404 },
        Row { method: "POST", pattern: "/api/v1/alerts/{id}/close", path: "/api/v1/alerts/999999/close".into(), body: Some(r#"{"reason":"authz"}"#.into()), allowed: &[Officer], actions: &[Action::ManageAlerts], ok: 404 },
        Row { method: "POST", pattern: "/api/v1/rules/reload", path: "/api/v1/rules/reload".into(), body: None, allowed: &[Admin], actions: &[Action::ManageConfig], ok: 200 },
        Row { method: "GET", pattern: "/api/v1/sources", path: "/api/v1/sources".into(), body: None, allowed: &[Admin, Officer, Auditor, Viewer], actions: &[Action::ReadEvents, Action::ReadMetrics], ok: 200 },
        Row { method: "GET", pattern: "/api/v1/mappings", path: "/api/v1/mappings".into(), body: None, allowed: &[Admin, Officer, Auditor, Viewer, Ingest], actions: &[Action::IngestEvents, Action::ReadEvents, Action::ManageConfig], ok: 200 },
        // Not JSON: kept as a quarantined record, 202 for an allowed sender.
        Row { method: "POST", pattern: "/api/v1/webhook/{mapping}", path: "/api/v1/webhook/chat-a".into(), body: Some("not json".into()), allowed: &[Admin, Ingest], actions: &[Action::IngestEvents], ok: 202 },
        // Not a valid mapping: an allowed caller gets 400, a denied one 403.
        Row { method: "PUT", pattern: "/api/v1/admin/mappings/{name}", path: "/api/v1/admin/mappings/authz".into(), body: Some("this is not toml [".into()), allowed: &[Admin], actions: &[Action::ManageConfig], ok: 400 },
        Row { method: "GET", pattern: "/api/v1/status", path: "/api/v1/status".into(), body: None, allowed: &[Admin, Officer, Auditor, Viewer], actions: &[Action::ReadEvents, Action::ReadMetrics], ok: 200 },
        Row { method: "GET", pattern: "/metrics", path: "/metrics".into(), body: None, allowed: &[Admin, Officer, Auditor], actions: &[Action::ReadMetrics], ok: 200 },
        Row { method: "POST", pattern: "/_bulk", path: "/_bulk".into(), body: bulk.clone(), allowed: &[Admin, Ingest], actions: &[Action::IngestEvents], ok: 200 },
        Row { method: "PUT", pattern: "/_bulk", path: "/_bulk".into(), body: bulk.clone(), allowed: &[Admin, Ingest], actions: &[Action::IngestEvents], ok: 200 },
        Row { method: "POST", pattern: "/{index}/_bulk", path: "/winlogbeat-8/_bulk".into(), body: bulk.clone(), allowed: &[Admin, Ingest], actions: &[Action::IngestEvents], ok: 200 },
        Row { method: "PUT", pattern: "/{index}/_bulk", path: "/winlogbeat-8/_bulk".into(), body: bulk.clone(), allowed: &[Admin, Ingest], actions: &[Action::IngestEvents], ok: 200 },
        Row { method: "POST", pattern: "/{index}/_doc", path: "/rsyslog/_doc".into(), body: Some(r#"{"message":"doc authz"}"#.into()), allowed: &[Admin, Ingest], actions: &[Action::IngestEvents], ok: 201 },
    ];

    // The table covers every route of the router, except the documented public ones.
    let covered: BTreeSet<(String, String)> = rows.iter().map(|r| (r.method.to_owned(), r.pattern.to_owned())).chain(PUBLIC.iter().map(|(m, p)| (m.to_string(), p.to_string()))).collect();
    let in_source = routes_in_source();
    assert!(in_source.len() > 20, "route scan found too little: {in_source:?}");
    let missing: Vec<_> = in_source.difference(&covered).collect();
    assert!(missing.is_empty(), "routes with no authorization expectation in this test: {missing:?}");
    let stale: Vec<_> = covered.difference(&in_source).collect();
    assert!(stale.is_empty(), "table rows for routes that no longer exist: {stale:?}");

    // The expectation agrees with the permission table, and is least privilege.
    for row in &rows {
        let by_lib: BTreeSet<Role> = ALL_ROLES.into_iter().filter(|r| row.actions.iter().any(|a| mamori_auth::allowed(*r, *a))).collect();
        let expected: BTreeSet<Role> = row.allowed.iter().copied().collect();
        assert_eq!(by_lib, expected, "{} {}: mamori_auth::PERMISSIONS disagrees with the documented expectation", row.method, row.pattern);
        assert!(!expected.contains(&Role::Witness), "the witness role must not reach {}", row.pattern);
    }

    let denied0 = srv.metric("mamori_auth_denied_total", &boot).await;
    let mut denials = 0.0;
    let mut failures = Vec::new();
    for row in &rows {
        for role in ALL_ROLES {
            let body = row.body.as_ref().map(|b| b.replace("{role}", role.as_str()).into_bytes());
            let (s, v) = srv.req(row.method, &row.path, Some(&tok(role)), body).await;
            let want_allowed = row.allowed.contains(&role);
            let ok = if want_allowed { s == row.ok } else { s == 403 && v["error"]["code"] == "forbidden" };
            if !want_allowed {
                denials += 1.0;
            }
            if !ok {
                failures.push(format!("{} {} as {}: got {s} (expected {}) {v}", row.method, row.path, role.as_str(), if want_allowed { row.ok.to_string() } else { "403".into() }));
            }
        }
    }
    assert!(failures.is_empty(), "authorization mismatches:\n{}", failures.join("\n"));
    // Every refusal is counted (the status endpoint checks two actions, so at least).
    assert!(srv.metric("mamori_auth_denied_total", &boot).await - denied0 >= denials);

    // Without credentials, with malformed or unknown ones: 401 everywhere, with a challenge.
    let revoked_admin = {
        let (id, secret) = srv.token(&boot, "admin-to-revoke", "admin").await;
        let (s, _) = srv.req("GET", "/api/v1/events", Some(&secret), None).await;
        assert_eq!(s, 200, "before revocation");
        let (s, v) = srv.req("POST", &format!("/api/v1/admin/tokens/{id}/revoke"), Some(&boot), None).await;
        assert_eq!(s, 200, "{v}");
        secret
    };
    let forged = format!("{}x", tok(Admin));
    for row in &rows {
        let m = reqwest::Method::from_bytes(row.method.as_bytes()).unwrap();
        let cases: Vec<(&str, Option<String>)> = vec![
            ("no Authorization", None),
            ("unknown token", Some(format!("Bearer {forged}"))),
            ("revoked admin token", Some(format!("Bearer {revoked_admin}"))),
            ("unknown scheme", Some("Digest abc".into())),
            ("empty bearer", Some("Bearer ".into())),
            ("wrong password", Some(format!("Basic {}", b64("user-admin:wrong password 123456")))),
        ];
        for (what, h) in cases {
            let mut r = srv.client.request(m.clone(), srv.url(&row.path));
            if let Some(h) = &h {
                r = r.header("authorization", h);
            }
            if let Some(b) = &row.body {
                r = r.body(b.replace("{role}", "anon"));
            }
            let resp = r.send().await.unwrap();
            assert_eq!(resp.status().as_u16(), 401, "{} {} with {what}", row.method, row.path);
            assert!(resp.headers().get("www-authenticate").is_some(), "{} {}: 401 without a challenge", row.method, row.path);
        }
    }

    // Other credential forms: Basic with the token as password (rsyslog/Fluent Bit), and a local
    // user's password (created above by the admin row as a viewer).
    let basic = |user: &str, pw: &str| format!("Basic {}", b64(&format!("{user}:{pw}")));
    for (h, path, want) in [
        (basic("tok-ingest", &tok(Ingest)), "/_bulk", 200u16),
        (basic("tok-ingest", &tok(Ingest)), "/api/v1/events", 403),
        (basic("user-admin", "correct horse battery staple 2026"), "/api/v1/events", 200),
        (basic("user-admin", "correct horse battery staple 2026"), "/metrics", 403),
    ] {
        let m = if path == "/_bulk" { reqwest::Method::POST } else { reqwest::Method::GET };
        let mut r = srv.client.request(m, srv.url(path)).header("authorization", h);
        if path == "/_bulk" {
            r = r.body(bulk.clone().unwrap());
        }
        assert_eq!(r.send().await.unwrap().status().as_u16(), want, "{path}");
    }

    // Public routes answer without credentials (never 401).
    for (m, p) in [("GET", "/"), ("GET", "/_license"), ("GET", "/checkpoint"), ("GET", "/_cluster/health"), ("PUT", "/_index_template/x"), ("GET", "/tile/0/000")] {
        let (s, _) = srv.req(m, p, None, None).await;
        assert!(s != 401 && s != 403, "{m} {p}: {s}");
    }
    // /add-checkpoint exists only on a witness.
    let (s, _) = srv.req("POST", "/add-checkpoint", None, Some(b"old 0\n\nx".to_vec())).await;
    assert_eq!(s, 404);
    srv.stop().await;
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::prelude::BASE64_STANDARD.encode(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_route_edits_or_deletes_events() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("d");
    let admin = init(&root, "noedit.example.lg.jp/audit", None);
    let srv = start(&root).await;
    let (s, v) = srv.post("/api/v1/events", &admin, b"{\"message\":\"immutable original\"}\n".to_vec()).await;
    assert_eq!(s, 200, "{v}");
    let id = v["items"][0]["id"].as_u64().unwrap();
    srv.wait_indexed().await;
    let before = srv.get_ok(&format!("/api/v1/events/{id}"), &admin).await;
    let size0 = srv.st.ledger.durable_size();

    let edit = Some(br#"{"message":"edited"}"#.to_vec());
    let attempts: Vec<(&str, String, Option<Vec<u8>>)> = vec![
        ("DELETE", format!("/api/v1/events/{id}"), None),
        ("PUT", format!("/api/v1/events/{id}"), edit.clone()),
        ("PATCH", format!("/api/v1/events/{id}"), edit.clone()),
        ("POST", format!("/api/v1/events/{id}"), edit.clone()),
        ("DELETE", "/api/v1/events".into(), None),
        ("PUT", "/api/v1/events".into(), edit.clone()),
        ("DELETE", format!("/api/v1/events/{id}/proof"), None),
        ("DELETE", "/api/v1/quarantine".into(), None),
        ("DELETE", format!("/mamori/_doc/{id}"), None),
        ("PUT", format!("/mamori/_doc/{id}"), edit.clone()),
        ("POST", format!("/mamori/_update/{id}"), edit.clone()),
        ("POST", "/mamori/_delete_by_query".into(), Some(br#"{"query":{"match_all":{}}}"#.to_vec())),
        ("POST", "/mamori/_update_by_query".into(), Some(br#"{"query":{"match_all":{}}}"#.to_vec())),
        ("DELETE", "/mamori".into(), None),
        ("DELETE", "/_bulk".into(), None),
        ("DELETE", "/checkpoint".into(), None),
        ("PUT", "/checkpoint".into(), edit.clone()),
    ];
    for (m, p, body) in attempts {
        let (s, v) = srv.req(m, &p, Some(&admin), body).await;
        assert!(s == 404 || s == 405, "{m} {p} answered {s}: {v}");
    }
    // _bulk delete/update items are refused per item.
    let body = format!("{{\"delete\":{{\"_index\":\"mamori\",\"_id\":\"{id}\"}}}}\n{{\"update\":{{\"_index\":\"mamori\",\"_id\":\"{id}\"}}}}\n{{\"doc\":{{\"message\":\"edited\"}}}}\n");
    for path in ["/_bulk", "/mamori/_bulk"] {
        let (s, v) = srv.post(path, &admin, body.clone().into_bytes()).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["errors"], true);
        let items = v["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{v}");
        assert_eq!(items[0]["delete"]["status"], 405, "{v}");
        assert_eq!(items[1]["update"]["status"], 405, "{v}");
        assert!(items[0]["delete"].get("_id").is_none() || items[0]["delete"]["result"] != "deleted");
    }
    assert_eq!(srv.st.ledger.durable_size(), size0, "nothing was appended by the attempts");
    srv.wait_indexed().await;
    let after = srv.get_ok(&format!("/api/v1/events/{id}"), &admin).await;
    assert_eq!(before, after, "the event is unchanged");
    assert_eq!(after["event"]["message"], json!("immutable original"));
    let _: Value = after;
    srv.stop().await;
}
