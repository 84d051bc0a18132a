//! Elastic's official Python client (elasticsearch 8.x from PyPI, installed by
//! scripts/test.sh into target/test-venv) talks to mamori as to Elasticsearch: `info()` passes
//! the client's product check, `helpers.bulk` ships 500 events with an API key, a bad document
//! is a per-item 400 (and quarantined), and `delete` is refused per item (405).

mod common;

use common::{Server, mamori, run_ok};
use std::path::Path;
use std::process::Command;

#[test]
fn official_python_client_bulk_ships_events() {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-venv/bin/python");
    assert!(venv.exists(), "{} missing: run ./scripts/test.sh (it creates the venv with the elasticsearch client)", venv.display());
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    run_ok(mamori().args(["init", "--data"]).arg(&data));
    let token = run_ok(mamori().args(["token", "--name", "beats", "--role", "ingest", "--data"]).arg(&data)).trim().to_owned();
    let reader = run_ok(mamori().args(["token", "--name", "r", "--role", "auditor", "--data"]).arg(&data)).trim().to_owned();
    // The public token id is the first 8 hex digits of the secret's SHA-256 (mamori-auth).
    let id = mamori_auth::token_sha256_hex(&token)[..8].to_owned();
    let srv = Server::start(&data, &["--listen", "127.0.0.1:0"]);
    let marker = format!("pyclient-{}", std::process::id());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/es_bulk_client.py");
    let out = Command::new(&venv).arg(&script).args([&srv.http, &id, &token, &marker]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "client failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let steps: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(steps[0]["version"].as_str().unwrap().starts_with("8."));
    assert_eq!((steps[1]["ok"].as_u64(), steps[1]["errors"].as_u64()), (Some(500), Some(0)), "{stdout}");
    assert_eq!(steps[2]["errors"], serde_json::json!([400]));
    assert_eq!(steps[3]["errors"], serde_json::json!([405]));
    // All 500 are searchable (after the index catches up).
    let client = reqwest::blocking::Client::new();
    let mut n = 0;
    for _ in 0..100 {
        let v: serde_json::Value = client
            .get(format!("{}/api/v1/events?q={marker}&limit=1000", srv.http))
            .bearer_auth(&reader)
            .send()
            .unwrap()
            .json()
            .unwrap();
        n = v["events"].as_array().unwrap().len();
        if n == 500 {
            assert_eq!(v["events"][0]["event"]["event"]["dataset"], "pyclient-test");
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(n, 500);
    let q: serde_json::Value = client.get(format!("{}/api/v1/quarantine", srv.http)).bearer_auth(&reader).send().unwrap().json().unwrap();
    assert!(q["items"].as_array().unwrap().iter().any(|i| i["source"] == "es-bulk"), "{q}");
}
