//! `mamori hunt --evtx … --rules …`: standalone Sigma hunt over real EVTX files (SigmaHQ's
//! regression samples and public attack samples in `../shared`) with the SigmaHQ rules.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn shared() -> PathBuf {
    std::fs::canonicalize(env!("CARGO_MANIFEST_DIR")).unwrap().join("../../../shared")
}

fn hunt(args: &[&std::ffi::OsStr]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mamori")).arg("hunt").args(args).output().expect("run mamori");
    (out.status.success(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

fn os(p: &std::path::Path) -> &std::ffi::OsStr {
    p.as_os_str()
}

/// Three SigmaHQ regression cases: (rule id, EVTX file).
fn cases() -> Vec<(String, PathBuf)> {
    let base = shared().join("corpora/evtx/sigma-regression/regression_data/rules/windows");
    let mut out = Vec::new();
    for sub in ["process_creation", "registry/registry_set", "builtin/security"] {
        let dir = base.join(sub);
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        let case = &entries[0];
        let evtx = std::fs::read_dir(case).unwrap().map(|e| e.unwrap().path()).find(|p| p.extension().is_some_and(|e| e == "evtx")).unwrap();
        let id = evtx.file_stem().unwrap().to_string_lossy().into_owned();
        out.push((id, evtx));
    }
    out
}

#[test]
fn json_lines_name_rule_file_record_and_event() {
    let rules = shared().join("corpora/sigma-rules");
    let cases = cases();
    let mut args: Vec<&std::ffi::OsStr> = vec!["--json".as_ref(), "--evtx".as_ref()];
    args.extend(cases.iter().map(|c| os(&c.1)));
    args.push("--rules".as_ref());
    let (w, h) = (rules.join("rules/windows"), rules.join("rules-threat-hunting/windows"));
    args.push(os(&w));
    args.push(os(&h));
    let (ok, stdout, stderr) = hunt(&args);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("loaded 2535 rules"), "{stderr}");
    let lines: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for (id, file) in &cases {
        let hit = lines.iter().find(|l| l["rule_id"] == id.as_str() && l["file"] == file.display().to_string()).unwrap_or_else(|| panic!("{id} did not fire on {}:\n{stdout}", file.display()));
        assert_eq!(hit["type"], "match");
        assert!(hit["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(hit["rule_file"].as_str().unwrap().ends_with(".yml"));
        assert!(hit["record_id"].as_u64().is_some());
        assert!(hit["event_id"].as_u64().is_some());
        assert!(hit["channel"].as_str().is_some_and(|c| !c.is_empty()));
        assert!(hit["computer"].as_str().is_some_and(|c| !c.is_empty()));
        assert!(chrono::DateTime::parse_from_rfc3339(hit["timestamp"].as_str().unwrap()).is_ok());
        // The record named is the one the JSON twin of the sample describes.
        let json_twin = std::fs::read_to_string(file.with_extension("json")).unwrap();
        let twin: Value = serde_json::from_str(&json_twin).unwrap();
        assert_eq!(hit["record_id"], twin["Event"]["System"]["EventRecordID"]);
        assert_eq!(hit["computer"], twin["Event"]["System"]["Computer"]);
    }
}

#[test]
fn table_is_japanese_and_english_and_lists_load_problems() {
    let dir = tempfile::tempdir().unwrap();
    let good = shared().join("corpora/sigma-rules/rules/windows/builtin/security/win_security_user_creation.yml");
    std::fs::copy(&good, dir.path().join("good.yml")).unwrap();
    std::fs::write(dir.path().join("broken.yml"), "title: [oops\n").unwrap();
    std::fs::write(dir.path().join("odd.yml"), "title: odd\nid: 44444444-0000-4000-8000-000000000000\nlogsource:\n    product: windows\n    service: security\ndetection:\n    s:\n        EventID: 1\n    condition: s and missing\n").unwrap();
    let evtx = shared().join("corpora/evtx/attack/DeepBlueCLI/new-user-security.evtx");
    let (ok, stdout, stderr) = hunt(&["--evtx".as_ref(), os(&evtx), "--rules".as_ref(), os(dir.path())]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("broken.yml"), "{stderr}");
    assert!(stderr.contains("unsupported") && stderr.contains("44444444-0000-4000-8000-000000000000") && stderr.contains("missing"), "{stderr}");
    assert!(stdout.contains("重要度 / level"), "{stdout}");
    assert!(stdout.contains("Local User Creation") && stdout.contains("低 low") && stdout.contains("new-user-security.evtx#"), "{stdout}");
    let summary = stdout.lines().last().unwrap();
    assert!(summary.starts_with("検知 ") && summary.contains("detections"), "{summary}");
    assert!(!summary.starts_with("検知 0 "), "the sample creates a local user (4720): {stdout}");
}

#[test]
fn correlations_run_over_the_files_in_time_order() {
    let rules = shared().join("corpora/sigma-rules/correlation-examples/handwritten/ec.yml");
    let evtx = shared().join("corpora/evtx/attack/DeepBlueCLI/smb-password-guessing-security.evtx");
    let (ok, stdout, stderr) = hunt(&["--json".as_ref(), "--evtx".as_ref(), os(&evtx), "--rules".as_ref(), os(&rules)]);
    assert!(ok, "{stderr}");
    let lines: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let corr: Vec<&Value> = lines.iter().filter(|l| l["type"] == "correlation").collect();
    assert!(!corr.is_empty(), "{stderr}");
    for c in &corr {
        assert_eq!(c["title"], "Many failed logins");
        assert!(c["events"].as_u64().unwrap() >= 5);
        assert!(c["group"]["TargetUserName"].is_string() && c["group"]["IpAddress"].is_string());
        let first = chrono::DateTime::parse_from_rfc3339(c["first"].as_str().unwrap()).unwrap();
        let last = chrono::DateTime::parse_from_rfc3339(c["timestamp"].as_str().unwrap()).unwrap();
        assert!(last >= first && last - first <= chrono::Duration::minutes(5));
    }
    // The base rule's own matches are there too (one per 4625).
    assert!(lines.iter().filter(|l| l["type"] == "match").count() >= 5 * corr.len());
}

#[test]
fn missing_input_is_a_clear_error() {
    let rules = shared().join("corpora/sigma-rules/correlation-examples/handwritten/ec.yml");
    let (ok, _, stderr) = hunt(&["--evtx".as_ref(), "/nonexistent/x.evtx".as_ref(), "--rules".as_ref(), os(&rules)]);
    assert!(!ok);
    assert!(stderr.contains("/nonexistent/x.evtx") && stderr.contains("no such file"), "{stderr}");
}
