//! Business chat and cloud-sharing webhooks end to end: real HTTP requests to a running
//! `mamori serve` (`POST /api/v1/webhook/{mapping}` with an ingest-role token), payloads that do
//! not map quarantined, and `mamori ingest --format webhook` for files of JSON lines.
//!
//! The chat and storage services cannot run here: payloads are the deterministic generator's
//! output committed under `crates/sources/tests/fixtures/webhook/` (checked there).

mod common;

use common::{Server, mamori, run_ok};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sources/tests/fixtures/webhook").join(name)
}

fn token(data: &Path, name: &str, role: &str) -> String {
    run_ok(mamori().args(["token", "--name", name, "--role", role, "--data"]).arg(data)).trim().to_owned()
}

/// Polls the event API until `pred` holds for the result (bounded wait; the index follows the
/// ledger asynchronously).
fn wait_events(c: &reqwest::blocking::Client, srv: &Server, tok: &str, query: &[(&str, &str)], pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v: Value = c.get(format!("{}/api/v1/events", srv.http)).query(query).bearer_auth(tok).send().unwrap().json().unwrap();
        let evs = v["events"].as_array().cloned().unwrap_or_default();
        if pred(&evs) {
            return evs;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {query:?}: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn webhooks_over_http_and_files_of_json_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    run_ok(mamori().args(["init", "--data"]).arg(&data));
    let ingest = token(&data, "chat-webhook", "ingest");
    let viewer = token(&data, "viewer", "viewer");
    let officer = token(&data, "officer", "officer");
    let srv = Server::start(&data, &["--listen", "127.0.0.1:0"]);
    let c = reqwest::blocking::Client::new();
    let hook = |mapping: &str, tok: Option<&str>, body: Vec<u8>| {
        let mut r = c.post(format!("{}/api/v1/webhook/{mapping}", srv.http)).header("content-type", "application/json").body(body);
        if let Some(t) = tok {
            r = r.bearer_auth(t);
        }
        let r = r.send().unwrap();
        let status = r.status().as_u16();
        (status, r.json::<Value>().unwrap_or_default())
    };
    let chat = std::fs::read_to_string(fixture("chat-a.jsonl")).unwrap();
    let first = chat.lines().next().unwrap().as_bytes().to_vec();
    assert_eq!(hook("chat-a", None, first.clone()).0, 401);
    assert_eq!(hook("chat-a", Some(&viewer), first.clone()).0, 403);
    for line in chat.lines() {
        let (s, v) = hook("chat-a", Some(&ingest), line.as_bytes().to_vec());
        assert_eq!((s, v["accepted"].as_u64()), (200, Some(1)), "{v}");
    }
    let (s, v) = hook("share-b", Some(&ingest), std::fs::read(fixture("share-b.json")).unwrap());
    assert_eq!((s, v["accepted"].as_u64()), (200, Some(3)), "one page, three records: {v}");

    // A payload that does not map is kept in quarantine with the path that is missing.
    let (s, v) = hook("chat-a", Some(&ingest), br#"{"event_id":"E9","event_time":1711933200,"event":{"type":"message","text":"no user"}}"#.to_vec());
    assert_eq!((s, v["quarantined"].as_u64()), (202, Some(1)), "{v}");
    assert!(v["items"][0]["error"].as_str().unwrap().contains("/event/user"), "{v}");
    let qid = v["items"][0]["quarantine_id"].as_u64().unwrap();
    let (s, v) = hook("chat-a", Some(&ingest), b"not json at all".to_vec());
    assert_eq!((s, v["quarantined"].as_u64()), (202, Some(1)));
    assert_eq!(hook("no-such-mapping", Some(&ingest), first.clone()).0, 404);
    assert_eq!(hook("juki-a", Some(&ingest), first).0, 400, "a CSV mapping is not a webhook");

    // Kamaishi: the attachment sent to an outsider is an event an officer can find.
    let shared = wait_events(&c, &srv, &officer, &[("action", "file-shared")], |e| e.len() >= 2);
    let outside: Vec<&Value> = shared.iter().filter(|h| h["event"]["mamori"]["sharing"]["external"] == true).collect();
    assert_eq!(outside.len(), 1, "{shared:?}");
    assert_eq!(outside[0]["event"]["file"]["name"], "住民名簿.xlsx");
    // Fukuoka: the invitation to an outsider, with no expiry, and its revocation.
    let invites = wait_events(&c, &srv, &officer, &[("action", "share-invite")], |e| !e.is_empty());
    assert_eq!(invites[0]["event"]["mamori"]["sharing"]["no_expiry"], true);
    assert_eq!(invites[0]["event"]["mamori"]["sharing"]["external_recipients"][0], "outsider@example.net");
    wait_events(&c, &srv, &officer, &[("action", "share-revoked")], |e| e.len() == 1 && e[0]["event"]["mamori"]["sharing"]["revoked"] == true);
    let q: Value = c.get(format!("{}/api/v1/quarantine", srv.http)).bearer_auth(&officer).send().unwrap().json().unwrap();
    assert!(q["items"].as_array().unwrap().iter().any(|i| i["id"] == qid));
    srv.stop();

    // Files of JSON lines from the CLI; the bad line is named and kept.
    let file = tmp.path().join("export.jsonl");
    std::fs::write(&file, format!("{chat}{{\"event_time\": \"soon\"}}\n")).unwrap();
    let out = mamori().args(["ingest", "--format", "webhook", "--mapping", "chat-a", "--data"]).arg(&data).arg(&file).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("accepted 3,") && stdout.contains("quarantined 1"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 4"), "{}", String::from_utf8_lossy(&out.stderr));
    run_ok(mamori().args(["verify", "--data"]).arg(&data));
}
