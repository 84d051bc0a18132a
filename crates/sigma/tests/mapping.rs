//! Field and logsource mapping on real records: Security 4688 read through Sysmon's names
//! (Image ← NewProcessName, as pySigma's windows_audit_pipeline does), logsource dispatch,
//! and ECS documents (mamori's EVTX mapping, and plain ECS from other sources).

mod common;

use mamori_sigma::RuleSet;
use serde_json::{Value, json};

fn one_rule(logsource: &str, detection: &str) -> RuleSet {
    let yaml = format!("title: t\nid: 33333333-0000-4000-8000-000000000000\nlogsource:\n{logsource}\ndetection:\n{detection}\n");
    let (set, issues) = RuleSet::from_sources(&[("t.yml".into(), yaml)]);
    assert!(issues.is_empty(), "{issues:#?}");
    set
}

fn sysmon_4688_file() -> std::path::PathBuf {
    common::shared().join("corpora/evtx/attack/EVTX-ATTACK-SAMPLES/Lateral Movement/LM_WMI_4624_4688_TargetHost.evtx")
}

fn s(v: &Value) -> String {
    v.as_str().map(str::to_owned).unwrap_or_default()
}

#[test]
fn security_4688_is_process_creation_with_sysmon_field_names() {
    let recs = common::evtx_records(&sysmon_4688_file());
    let procs: Vec<&Value> = recs.iter().filter(|r| r["Event"]["System"]["EventID"] == json!(4688)).collect();
    assert!(!procs.is_empty());
    for r in procs {
        let data = &r["Event"]["EventData"];
        let image = s(&data["NewProcessName"]);
        let parent = s(&data["ParentProcessName"]);
        let base = |p: &str| p.rsplit('\\').next().unwrap_or("").to_owned();
        // Older Windows versions do not log the parent's name.
        let parent_sel = if parent.is_empty() { String::new() } else { format!("\n        ParentImage|endswith: '\\{}'", base(&parent)) };
        let det = format!("    sel:\n        Image|endswith: '\\{}'{parent_sel}\n    condition: sel", base(&image).to_uppercase());
        let set = one_rule("    product: windows\n    category: process_creation", &det);
        assert_eq!(set.matches(r), vec![0], "4688 {image} from {parent}");
        // The same selection under another category does not apply to 4688.
        let set = one_rule("    product: windows\n    category: network_connection", &det);
        assert!(set.matches(r).is_empty());
        // Rules written for the Security log's own names still work.
        let set = one_rule("    product: windows\n    service: security", &format!("    sel:\n        EventID: 4688\n        NewProcessName: '{}'\n    condition: sel", image.replace('\'', "''")));
        assert_eq!(set.matches(r), vec![0]);
    }
}

#[test]
fn ecs_documents_from_mamoris_evtx_mapping_match_like_the_raw_record() {
    let path = sysmon_4688_file();
    let bytes = std::fs::read(&path).unwrap();
    let docs: Vec<Value> = mamori_sources::parse_evtx("t.evtx", &bytes).into_iter().filter_map(Result::ok).map(|e| Value::Object(e.doc)).collect();
    let raw = common::evtx_records(&path);
    assert_eq!(docs.len(), raw.len());
    let set = one_rule("    product: windows\n    category: process_creation", "    sel:\n        Image|endswith: '.exe'\n    condition: sel");
    let sec = one_rule("    product: windows\n    service: security", "    sel:\n        EventID: 4624\n        LogonType: 3\n    condition: sel");
    let mut seen = 0;
    for (d, r) in docs.iter().zip(&raw) {
        assert_eq!(set.matches(d), set.matches(r), "process_creation on {}", d["winlog"]["record_id"]);
        assert_eq!(sec.matches(d), sec.matches(r), "4624 on {}", d["winlog"]["record_id"]);
        seen += set.matches(d).len() + sec.matches(d).len();
    }
    assert!(seen > 0, "the file has 4688 and 4624 records");
}

#[test]
fn plain_ecs_documents_use_the_documented_ecs_paths() {
    // A product-less rule applies to any source; Sigma names map to ECS paths, and ECS paths
    // can be named directly.
    let set = one_rule(
        "    category: process_creation",
        "    sel:\n        Image|endswith: '/curl'\n        CommandLine|contains: 'upload'\n        user.name: 'tanaka'\n    condition: sel",
    );
    let doc = json!({"@timestamp": "2026-04-01T00:00:00Z", "process": {"executable": "/usr/bin/curl", "command_line": "curl --upload-file x https://e.example"}, "user": {"name": "tanaka"}});
    assert_eq!(set.matches(&doc), vec![0]);
    let flat = json!({"process.executable": "/usr/bin/curl", "process.command_line": "curl --upload-file x", "user.name": "Tanaka"});
    assert_eq!(set.matches(&flat), vec![0], "flat dotted keys");
    let other = json!({"process": {"executable": "/usr/bin/wget", "command_line": "upload"}, "user": {"name": "tanaka"}});
    assert!(set.matches(&other).is_empty());
    // Windows-only rules do not fire on non-Windows documents.
    let win = one_rule("    product: windows\n    category: process_creation", "    sel:\n        Image|endswith: '/curl'\n    condition: sel");
    assert!(win.matches(&doc).is_empty());
}
