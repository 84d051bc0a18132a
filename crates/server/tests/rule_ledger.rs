//! Rule changes are ledgered: at every detector start the Sigma rule set (fingerprint, every
//! file's path, SHA-256 and text, per-rule load issues) and `rules/municipal.toml` (text and
//! SHA-256) are compared with what the ledger last recorded; a change gives one new admin
//! entry, an unchanged set none, and removing the rules is recorded too.

mod common;

use common::init;
use mamori_server::DataDir;
use mamori_server::detection::{Detection, SIGMA_ACTION};
use serde_json::Value;

const RULE_A: &str = "title: 住基 CSV 読み出し / register CSV read
id: 0a3c6a2e-6d7e-4c39-9d68-3f1f3b0c0a01
logsource:
  product: mamori
detection:
  selection:
    file.path|endswith: '.csv'
  condition: selection
";

const POLICY: &str = "[[entitlement]]\ndepartment = \"2010\"\nresource = \"share:juki\"\n";

/// Starts (and stops) the detector once, as `mamori serve` does at start; returns the admin
/// entries of `action` in ledger order.
fn start_once(root: &std::path::Path, action: &str) -> Vec<Value> {
    let dir = DataDir::new(root);
    let opened = dir.open().expect("open");
    let det = Detection::start(&dir, &opened.ledger).expect("detector");
    drop(det);
    opened.ledger.close();
    drop(opened);
    // Reopen: the index catches up with what the start ledgered.
    let opened = dir.open().expect("reopen");
    let store = opened.store.lock().unwrap();
    let q = mamori_store::Query { kind: Some("admin".into()), action: Some(action.into()), limit: Some(100), ..Default::default() };
    let mut v: Vec<(u64, Value)> = store.search(&q).unwrap().events.into_iter().map(|h| (h.id, h.doc)).collect();
    drop(store);
    opened.ledger.close();
    v.sort_by_key(|(id, _)| *id);
    v.into_iter().map(|(_, d)| d).collect()
}

fn sha256(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

#[test]
fn changed_rule_file_is_ledgered_unchanged_is_not() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("d");
    init(&root, "rules.example.lg.jp/audit", None);
    let rules = root.join("rules");
    std::fs::create_dir_all(rules.join("pack")).unwrap();
    std::fs::write(rules.join("pack/register.yml"), RULE_A).unwrap();
    std::fs::write(rules.join("municipal.toml"), POLICY).unwrap();

    let first = start_once(&root, SIGMA_ACTION);
    assert_eq!(first.len(), 1, "{first:?}");
    let s = &first[0]["mamori"]["sigma"];
    assert_eq!(s["rules"], 1);
    assert_eq!(s["texts"][0]["file"], "pack/register.yml");
    assert_eq!(s["texts"][0]["text"], RULE_A);
    assert_eq!(s["texts"][0]["sha256"], sha256(RULE_A));
    assert_eq!(first[0]["user"]["name"], "mamori-server");
    let pol = start_once(&root, mamori_detect::POLICY_ACTION);
    assert_eq!(pol.len(), 1);
    assert_eq!(pol[0]["mamori"]["detection_policy"]["toml"], POLICY);
    assert_eq!(pol[0]["mamori"]["detection_policy"]["sha256"], sha256(POLICY));

    // Unchanged: no new entry for either.
    assert_eq!(start_once(&root, SIGMA_ACTION).len(), 1);
    assert_eq!(start_once(&root, mamori_detect::POLICY_ACTION).len(), 1);

    // Edited rule: a new entry with the new text; the old one stays in the ledger.
    let edited = RULE_A.replace("'.csv'", "'.xlsx'");
    std::fs::write(rules.join("pack/register.yml"), &edited).unwrap();
    let after = start_once(&root, SIGMA_ACTION);
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(after[0]["mamori"]["sigma"]["texts"][0]["text"], RULE_A);
    assert_eq!(after[1]["mamori"]["sigma"]["texts"][0]["text"], edited);
    assert_ne!(after[0]["mamori"]["sigma"]["fingerprint"], after[1]["mamori"]["sigma"]["fingerprint"]);

    // A rule that cannot be loaded is ledgered with its issue.
    std::fs::write(rules.join("pack/bad.yml"), "title: bad\nlogsource: {product: mamori}\ndetection:\n  s:\n    a|nosuchmodifier: x\n  condition: s\n").unwrap();
    let after = start_once(&root, SIGMA_ACTION);
    assert_eq!(after.len(), 3);
    let issues = after[2]["mamori"]["sigma"]["issues"].as_array().unwrap();
    assert!(issues.iter().any(|i| i["file"].as_str().unwrap().ends_with("bad.yml") && i["message"].as_str().unwrap().contains("nosuchmodifier")), "{issues:?}");
    assert_eq!(after[2]["mamori"]["sigma"]["texts"].as_array().unwrap().len(), 2);

    // Policy changed: one new policy entry.
    std::fs::write(rules.join("municipal.toml"), format!("{POLICY}[[entitlement]]\ndepartment = \"2020\"\nresource = \"share:zei\"\n")).unwrap();
    assert_eq!(start_once(&root, mamori_detect::POLICY_ACTION).len(), 2);

    // Every Sigma file removed: recorded as an empty set, once.
    std::fs::remove_dir_all(rules.join("pack")).unwrap();
    let after = start_once(&root, SIGMA_ACTION);
    assert_eq!(after.len(), 4);
    assert_eq!(after[3]["mamori"]["sigma"]["fingerprint"], "");
    assert_eq!(after[3]["mamori"]["sigma"]["rules"], 0);
    assert_eq!(start_once(&root, SIGMA_ACTION).len(), 4);
}
