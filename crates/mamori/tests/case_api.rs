//! The case, PPC-report, log-review and takeout-ledger API of a real `mamori serve`, per role
//! (officer manages cases, auditor signs reviews, viewer reads, ingest and admin read nothing
//! here), with the state surviving a restart.

mod common;

use common::{Server, mamori, run_ok};
use reqwest::blocking::Client;
use serde_json::{Value, json};
use std::path::Path;

mod case_support;

use case_support as case_cli;

fn token(data: &Path, name: &str, role: &str) -> String {
    run_ok(
        mamori()
            .args(["token", "--name", name, "--role", role, "--data"])
            .arg(data)
            .env("RUST_LOG", "warn"),
    )
    .trim()
    .to_owned()
}

struct Api {
    c: Client,
    base: String,
}

impl Api {
    fn get(&self, tok: &str, path: &str) -> (u16, Vec<u8>) {
        let r = self.c.get(format!("{}{path}", self.base)).bearer_auth(tok).send().unwrap();
        (r.status().as_u16(), r.bytes().unwrap().to_vec())
    }
    fn post(&self, tok: &str, path: &str, body: Value) -> (u16, Value) {
        let r = self.c.post(format!("{}{path}", self.base)).bearer_auth(tok).json(&body).send().unwrap();
        let s = r.status().as_u16();
        (s, r.json().unwrap_or(Value::Null))
    }
}

fn json_of(b: &[u8]) -> Value {
    serde_json::from_slice(b).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(b)))
}

#[test]
fn case_and_review_api_by_role() {
    let tmp = tempfile::tempdir().unwrap();
    let data = case_cli::setup(tmp.path());
    let alert = case_cli::retirement_alert(&data);
    let officer = token(&data, "officer1", "officer");
    let auditor = token(&data, "auditor1", "auditor");
    let viewer = token(&data, "viewer1", "viewer");
    let admin = token(&data, "admin2", "admin");
    let ingest = token(&data, "rsyslog", "ingest");
    let srv = Server::start(&data, &["--listen", "127.0.0.1:0"]);
    let api = Api {
        c: Client::new(),
        base: srv.http.clone(),
    };

    // Open: officer only.
    let open = json!({"alerts": [alert], "recognized_on": "2026-12-01", "data_items": ["氏名", "住所"]});
    for (tok, who) in [(&auditor, "auditor"), (&viewer, "viewer"), (&admin, "admin"), (&ingest, "ingest")] {
        let (s, v) = api.post(tok, "/api/v1/cases", open.clone());
        assert_eq!(s, 403, "{who} may not open a case: {v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("権限がありません"), "{v}");
    }
    let (s, v) = api.post(&officer, "/api/v1/cases", open.clone());
    assert_eq!(s, 201, "{v}");
    let id = v["case"]["id"].as_str().unwrap().to_owned();
    assert_eq!(v["case"]["persons"]["value"], 243);
    assert_eq!(v["case"]["proof_verified"], true);
    let (s, v) = api.post(&officer, "/api/v1/cases", json!({"alerts": [99999]}));
    assert_eq!(s, 404, "{v}");

    // Actions: officer only; refusals are 409 with the reason.
    let (s, _) = api.post(&viewer, &format!("/api/v1/cases/{id}/actions"), json!({"op": "close", "reason": "x"}));
    assert_eq!(s, 403);
    let (s, v) = api.post(
        &officer,
        &format!("/api/v1/cases/{id}/actions"),
        json!({"op": "edit", "fields": {"unlawful_purpose": true, "cause": "退職時のアカウント削除漏れ"}}),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["case"]["deadlines"]["kakuho_days"], 60);
    let (s, v) = api.post(
        &officer,
        &format!("/api/v1/cases/{id}/actions"),
        json!({"op": "record_action", "on": "2026-12-02", "text": "本人に通知"}),
    );
    assert_eq!(s, 200, "{v}");
    let (s, v) = api.post(&officer, &format!("/api/v1/cases/{id}/actions"), json!({"op": "reopen", "reason": "x"}));
    assert_eq!(s, 409, "{v}");
    let (s, v) = api.post(&officer, &format!("/api/v1/cases/{id}/actions"), json!({"op": "add_evidence", "ids": [5, 6]}));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["case"]["evidence"].as_array().unwrap().len(), 4);
    let (s, _) = api.post(&officer, "/api/v1/cases/nope/actions", json!({"op": "close", "reason": "x"}));
    assert_eq!(s, 404);

    // Reads: officer, auditor, viewer; not admin or ingest.
    for tok in [&officer, &auditor, &viewer] {
        let (s, b) = api.get(tok, &format!("/api/v1/cases/{id}"));
        assert_eq!(s, 200);
        assert_eq!(json_of(&b)["history"].as_array().unwrap().len(), 4);
    }
    for tok in [&admin, &ingest] {
        assert_eq!(api.get(tok, "/api/v1/cases").0, 403);
        assert_eq!(api.get(tok, &format!("/api/v1/cases/{id}/ppc?kind=sokuho")).0, 403);
    }

    // The PPC draft as JSON and as PDF.
    let (s, b) = api.get(&viewer, &format!("/api/v1/cases/{id}/ppc?kind=kakuho&as_of=2026-12-02"));
    assert_eq!(s, 200);
    let r = json_of(&b);
    assert_eq!(r["deadlines"]["kakuho_by"], "2027-02-01");
    assert_eq!(r["items"][3]["text"], "退職時のアカウント削除漏れ");
    let (s, b) = api.get(&officer, &format!("/api/v1/cases/{id}/ppc?kind=sokuho&format=pdf&as_of=2026-12-02"));
    assert_eq!(s, 200);
    assert!(b.starts_with(b"%PDF"));
    let pdf = tmp.path().join("sokuho.pdf");
    std::fs::write(&pdf, &b).unwrap();
    let text = case_cli::pdftotext(&pdf);
    for want in ["(速報)案", "本人への対応の実施状況", "243人", "2026-12-06", "本人に通知"] {
        assert!(text.contains(want), "PDF lacks {want:?}:\n{text}");
    }
    assert_eq!(api.get(&officer, &format!("/api/v1/cases/{id}/ppc?kind=x")).0, 400);

    // The log review: everyone who reads alerts reads it; only the auditor comments and signs.
    let (s, b) = api.get(&officer, "/api/v1/logreview/2018-12?sample=5");
    assert_eq!(s, 200);
    let lr = json_of(&b);
    assert_eq!(lr["events"], 31);
    let digest = lr["digest"].as_str().unwrap().to_owned();
    assert_eq!(api.get(&ingest, "/api/v1/logreview/2018-12").0, 403);
    assert_eq!(api.get(&officer, "/api/v1/logreview/2018-13").0, 400);
    let sign = json!({"reviewer": "監査 花子", "summary": "確認済み", "digest": digest, "sample": 5});
    for tok in [&officer, &viewer, &admin] {
        assert_eq!(api.post(tok, "/api/v1/logreview/2018-12/signoff", sign.clone()).0, 403);
        assert_eq!(api.post(tok, "/api/v1/logreview/2018-12/comments", json!({"text": "x"})).0, 403);
    }
    let (s, v) = api.post(
        &auditor,
        "/api/v1/logreview/2018-12/comments",
        json!({"target": {"type": "alert", "id": alert}, "text": "事案化済み"}),
    );
    assert_eq!(s, 201, "{v}");
    let (s, v) = api.post(
        &auditor,
        "/api/v1/logreview/2018-12/signoff",
        json!({"reviewer": "監査 花子", "digest": "0000", "sample": 5}),
    );
    assert_eq!(s, 409, "a stale digest is refused: {v}");
    let (s, v) = api.post(&auditor, "/api/v1/logreview/2018-12/signoff", sign.clone());
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["digest"], digest.as_str());
    assert_eq!(api.post(&auditor, "/api/v1/logreview/2018-12/signoff", sign.clone()).0, 409, "signed twice");
    let (s, b) = api.get(&viewer, "/api/v1/logreview/2018-12?sample=5&format=pdf");
    assert_eq!(s, 200);
    let pdf = tmp.path().join("lr.pdf");
    std::fs::write(&pdf, &b).unwrap();
    let text = case_cli::pdftotext(&pdf);
    assert!(
        text.contains("操作ログ点検結果 2018年12月") && text.contains("事案化済み") && text.contains("監査 花子"),
        "{text}"
    );

    // The takeout ledger PDF: readers of takeouts only.
    assert_eq!(api.get(&admin, "/api/v1/reports/takeouts").0, 403);
    let (s, b) = api.get(&auditor, "/api/v1/reports/takeouts?as_of=2018-12-20");
    assert_eq!(s, 200);
    assert!(b.starts_with(b"%PDF"));

    // Restart: the same case, the sign-off still there.
    srv.stop();
    let srv = Server::start(&data, &["--listen", "127.0.0.1:0"]);
    let api = Api {
        c: Client::new(),
        base: srv.http.clone(),
    };
    let (_, b) = api.get(&viewer, &format!("/api/v1/cases/{id}"));
    let c = json_of(&b);
    assert_eq!(c["history"].as_array().unwrap().len(), 4);
    assert_eq!(c["actions"][0]["text"], "本人に通知");
    assert_eq!(c["history"][0]["actor"], "officer1", "ledgered under the caller's name");
    let (_, b) = api.get(&viewer, "/api/v1/logreview/2018-12?sample=5");
    let lr = json_of(&b);
    assert_eq!(lr["signed_current"], true);
    assert_eq!(lr["record"]["signoffs"][0]["by"], "auditor1");
    srv.stop();
}

/// Every case, report and log-review route by every role, from one table (cross-checked with
/// `mamori_auth::allowed`): allowed calls get past authorization (bodies that the check then
/// refuses keep the state unchanged), refused calls are 403, no credentials 401.
#[test]
fn every_case_route_by_every_role() {
    use Role::{Auditor, Officer, Viewer};
    use mamori_auth::{Action, Role, allowed};
    let tmp = tempfile::tempdir().unwrap();
    let data = case_cli::setup(tmp.path());
    run_ok(
        mamori()
            .args(["case", "open", "--title", "表の確認", "--recognized-on", "2026-12-01", "--data"])
            .arg(&data)
            .env("RUST_LOG", "warn"),
    );
    let tokens: Vec<(Role, String)> = Role::ALL.iter().map(|r| (*r, token(&data, &format!("t-{}", r.as_str()), r.as_str()))).collect();
    let srv = Server::start(&data, &["--listen", "127.0.0.1:0"]);
    let api = Api {
        c: Client::new(),
        base: srv.http.clone(),
    };
    // (method, path, body, roles allowed, action checked)
    type Row = (&'static str, &'static str, Option<Value>, &'static [Role], Action);
    let table: &[Row] = &[
        ("GET", "/api/v1/cases", None, &[Officer, Auditor, Viewer], Action::ReadAlerts),
        ("POST", "/api/v1/cases", Some(json!({"title": " "})), &[Officer], Action::ManageAlerts),
        ("GET", "/api/v1/cases/2026-001", None, &[Officer, Auditor, Viewer], Action::ReadAlerts),
        (
            "POST",
            "/api/v1/cases/2026-001/actions",
            Some(json!({"op": "close", "reason": " "})),
            &[Officer],
            Action::ManageAlerts,
        ),
        (
            "GET",
            "/api/v1/cases/2026-001/ppc?kind=sokuho",
            None,
            &[Officer, Auditor, Viewer],
            Action::ReadAlerts,
        ),
        (
            "GET",
            "/api/v1/cases/2026-001/ppc?kind=kakuho&format=pdf",
            None,
            &[Officer, Auditor, Viewer],
            Action::ReadAlerts,
        ),
        ("GET", "/api/v1/logreview/2018-12", None, &[Officer, Auditor, Viewer], Action::ReadAlerts),
        (
            "GET",
            "/api/v1/logreview/2018-12?format=pdf",
            None,
            &[Officer, Auditor, Viewer],
            Action::ReadAlerts,
        ),
        (
            "POST",
            "/api/v1/logreview/2018-12/comments",
            Some(json!({"text": " "})),
            &[Auditor],
            Action::SignReviews,
        ),
        (
            "POST",
            "/api/v1/logreview/2018-12/signoff",
            Some(json!({"reviewer": "x", "digest": "stale"})),
            &[Auditor],
            Action::SignReviews,
        ),
        ("GET", "/api/v1/reports/takeouts", None, &[Officer, Auditor, Viewer], Action::ReadTimeline),
    ];
    for (method, path, body, roles, action) in table {
        for (role, tok) in &tokens {
            assert_eq!(
                roles.contains(role),
                allowed(*role, *action),
                "table and mamori-auth disagree: {role} {method} {path}"
            );
            let status = match *method {
                "GET" => api.get(tok, path).0,
                _ => api.post(tok, path, body.clone().unwrap()).0,
            };
            if roles.contains(role) {
                assert!(status != 401 && status != 403, "{role} {method} {path}: {status}");
                if *method == "GET" {
                    assert_eq!(status, 200, "{role} {method} {path}");
                }
            } else {
                assert_eq!(status, 403, "{role} {method} {path}");
            }
        }
        let r = match *method {
            "GET" => api.c.get(format!("{}{path}", api.base)).send().unwrap(),
            _ => api.c.post(format!("{}{path}", api.base)).json(body.as_ref().unwrap()).send().unwrap(),
        };
        assert_eq!(r.status().as_u16(), 401, "no credentials: {method} {path}");
    }
    // The refused bodies changed nothing.
    let (_, b) = api.get(&tokens[1].1, "/api/v1/cases");
    let v = json_of(&b);
    assert_eq!(v["cases"].as_array().unwrap().len(), 1);
    assert_eq!(v["cases"][0]["history"].as_array().unwrap().len(), 1);
    srv.stop();
}
