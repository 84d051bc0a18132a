//! Hot reload of Sigma rules on a running server: a rule file added while serving fires after
//! `POST /api/v1/rules/reload`; a rule edited on disk is picked up by the rules-directory watch
//! (ledgered as a new `sigma-rules-loaded` entry; the old version stops firing); a file with a
//! syntax error is reported per file and the other rules keep firing; removing the files is
//! ledgered and stops them. Each admin reload is itself a ledgered admin action.

mod common;

use common::*;
use mamori_server::detection::{RELOAD_ACTION, SIGMA_ACTION};
use serde_json::{Value, json};
use std::time::Duration;

const RULE_A: &str = "title: 住基 CSV 読み出し / register CSV read
id: 5b0f7c1e-2a44-4e0c-9a51-7d2f7a9e0a11
level: high
logsource:
  product: mamori
detection:
  selection:
    file.path|endswith: '.csv'
  condition: selection
";

const RULE_B: &str = "title: 税システムの全件出力 / tax full export
id: 7d9a3c2b-8e51-4f6a-b0c4-1e2d3f4a5b61
level: high
logsource:
  product: mamori
detection:
  selection:
    event.action: 'tax-full-export'
  condition: selection
";

/// Not YAML at all (an unclosed flow mapping).
const BROKEN: &str = "title: broken\nlogsource: {product: mamori\ndetection:\n  s:\n    a: b\n  condition: s\n";

/// Admin ledger entries with `event.action == action`, in ledger order (read from the ledger).
fn admin_entries(srv: &Srv, action: &str) -> Vec<Value> {
    let l = &srv.st.ledger;
    let recs = mamori_ledger::engine::read_records(l.dir(), 0, l.durable_size(), usize::MAX).unwrap();
    recs.iter()
        .filter(|r| r.kind == mamori_ledger::EntryKind::Admin)
        .map(mamori_server::indexer::doc_of)
        .filter(|d| d.pointer("/event/action").and_then(Value::as_str) == Some(action))
        .collect()
}

/// Ingests one event as `tanaka` and waits until the detector has evaluated it; its ledger id.
async fn ingest(srv: &Srv, admin: &str, action: &str, path: &str) -> u64 {
    let body = format!("{}\n", json!({"@timestamp": "2026-05-12T01:00:00Z", "user": {"name": "tanaka"}, "event": {"action": action}, "file": {"path": path}}));
    let (s, v) = srv.post("/api/v1/events", admin, body.into_bytes()).await;
    assert_eq!(s, 200, "{v}");
    let id = v["items"][0]["id"].as_u64().unwrap();
    let det = srv.st.detection.clone();
    assert!(tokio::task::spawn_blocking(move || det.wait_for(id, Duration::from_secs(20))).await.unwrap(), "detector reached {id}");
    id
}

/// The evidence ids of the alert of Sigma rule `id` (empty: no such alert).
async fn evidence(srv: &Srv, officer: &str, id: &str) -> Vec<u64> {
    let v = srv.get_ok(&format!("/api/v1/alerts?rule=sigma:{id}"), officer).await;
    v["alerts"].as_array().unwrap().iter().flat_map(|a| a["evidence"].as_array().unwrap().iter().map(|e| e.as_u64().unwrap())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rules_reload_while_serving() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("d");
    let admin = init(&root, "reload.example.lg.jp/audit", None);
    let rules = root.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    let srv = start(&root).await;
    let (_, officer) = srv.token(&admin, "officer-1", "officer").await;
    let (_, viewer) = srv.token(&admin, "viewer-1", "viewer").await;
    let id_a = "5b0f7c1e-2a44-4e0c-9a51-7d2f7a9e0a11";
    let id_b = "7d9a3c2b-8e51-4f6a-b0c4-1e2d3f4a5b61";

    // No rules yet: nothing fires.
    let before = ingest(&srv, &admin, "file-read", "/台帳/住基_全件.csv").await;
    assert!(evidence(&srv, &officer, id_a).await.is_empty());

    // A rule file added while serving, loaded by the admin API (only an admin may).
    std::fs::write(rules.join("register.yml"), RULE_A).unwrap();
    let (s, _) = srv.post("/api/v1/rules/reload", &viewer, Vec::new()).await;
    assert_eq!(s, 403);
    let (s, r) = srv.post("/api/v1/rules/reload", &admin, Vec::new()).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["sigma_changed"], true, "{r}");
    assert_eq!(r["rules"], 1, "{r}");
    assert!(r["issues"].as_array().unwrap().is_empty(), "{r}");
    let sigma_at = r["sigma_ledger_id"].as_u64().unwrap();
    let loaded = admin_entries(&srv, SIGMA_ACTION);
    assert_eq!(loaded.last().unwrap()["mamori"]["sigma"]["texts"][0]["text"], RULE_A);
    let reloads = admin_entries(&srv, RELOAD_ACTION);
    assert_eq!(reloads.len(), 1);
    assert_ne!(reloads[0]["user"]["name"], "mamori-server", "the admin's reload is ledgered as theirs: {}", reloads[0]);
    assert_eq!(reloads[0]["mamori"]["rules_reload"]["changed"], true);

    let hit = ingest(&srv, &admin, "file-read", "/台帳/住基_全件.csv").await;
    assert!(hit > sigma_at);
    let ev = evidence(&srv, &officer, id_a).await;
    assert!(ev.contains(&hit), "the new rule fired on {hit}: {ev:?}");
    assert!(!ev.contains(&before), "an event before the reload is not evaluated again: {ev:?}");

    // Reloading an unchanged directory ledgers the request but no rule change.
    let (s, r) = srv.post("/api/v1/rules/reload", &admin, Vec::new()).await;
    assert_eq!((s, r["changed"].clone()), (200, json!(false)), "{r}");
    assert_eq!(admin_entries(&srv, SIGMA_ACTION).len(), loaded.len());
    assert_eq!(admin_entries(&srv, RELOAD_ACTION).len(), 2);

    // Edited on disk: the rules-directory watch picks it up (no API call), ledgers the new
    // text, and the old version stops firing.
    let edited = RULE_A.replace("'.csv'", "'.xlsx'");
    std::fs::write(rules.join("register.yml"), &edited).unwrap();
    let entries = eventually(20, "the watch ledgers the edited rule", || async {
        let e = admin_entries(&srv, SIGMA_ACTION);
        (e.len() == loaded.len() + 1).then_some(e)
    })
    .await;
    let last = entries.last().unwrap();
    assert_eq!(last["mamori"]["sigma"]["texts"][0]["text"], edited.as_str());
    assert_eq!(last["user"]["name"], "mamori-server");
    assert_eq!(entries[entries.len() - 2]["mamori"]["sigma"]["texts"][0]["text"], RULE_A, "the old text stays in the ledger");
    let csv = ingest(&srv, &admin, "file-read", "/台帳/住基_全件2.csv").await;
    let xlsx = ingest(&srv, &admin, "file-read", "/台帳/住基_全件.xlsx").await;
    let ev = evidence(&srv, &officer, id_a).await;
    assert!(!ev.contains(&csv), "the old version no longer fires: {ev:?}");
    assert!(ev.contains(&xlsx), "the edited version fires: {ev:?}");

    // A file with a syntax error is reported with its file; the others still fire.
    std::fs::write(rules.join("broken.yml"), BROKEN).unwrap();
    std::fs::write(rules.join("tax.yml"), RULE_B).unwrap();
    let (s, r) = srv.post("/api/v1/rules/reload", &admin, Vec::new()).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["rules"], 2, "register.yml and tax.yml load: {r}");
    let issues = r["issues"].as_array().unwrap();
    assert!(issues.iter().any(|i| i["file"].as_str().unwrap().ends_with("broken.yml") && i["kind"] == "error"), "{r}");
    assert!(r["message"].as_str().unwrap().contains("読み込めなかった"), "{r}");
    let ledgered = admin_entries(&srv, SIGMA_ACTION);
    let issues = ledgered.last().unwrap()["mamori"]["sigma"]["issues"].as_array().unwrap().clone();
    assert!(issues.iter().any(|i| i["file"].as_str().unwrap().ends_with("broken.yml")), "the load issue is ledgered: {issues:?}");
    let tax = ingest(&srv, &admin, "tax-full-export", "/税/課税台帳.txt").await;
    let xlsx2 = ingest(&srv, &admin, "file-read", "/台帳/住基_全件3.xlsx").await;
    assert!(evidence(&srv, &officer, id_b).await.contains(&tax), "the new rule fires next to the broken file");
    assert!(evidence(&srv, &officer, id_a).await.contains(&xlsx2), "the other rule still fires");

    // Every rule file removed: ledgered as the empty set; nothing fires any more.
    for f in ["register.yml", "tax.yml", "broken.yml"] {
        std::fs::remove_file(rules.join(f)).unwrap();
    }
    let (s, r) = srv.post("/api/v1/rules/reload", &admin, Vec::new()).await;
    assert_eq!((s, r["sigma_changed"].clone(), r["fingerprint"].clone()), (200, json!(true), json!("")), "{r}");
    assert_eq!(admin_entries(&srv, SIGMA_ACTION).last().unwrap()["mamori"]["sigma"]["rules"], 0);
    let gone = ingest(&srv, &admin, "file-read", "/台帳/住基_全件4.xlsx").await;
    assert!(!evidence(&srv, &officer, id_a).await.contains(&gone), "a removed rule no longer fires");
    srv.stop().await;
}
