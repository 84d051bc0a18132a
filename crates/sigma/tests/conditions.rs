//! Conformance: the condition grammar, and load-time reporting of what is not supported.

use mamori_sigma::{IssueKind, RuleSet};
use serde_json::{Map, Value, json};

fn ev(fields: &[(&str, &str)]) -> Value {
    let mut data = Map::new();
    for (k, v) in fields {
        data.insert((*k).into(), Value::String((*v).into()));
    }
    json!({"Event": {"System": {"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1}, "EventData": data}})
}

/// Detections `a`, `b`, `c` (and `sel_x`, `sel_y`, `_aux`) each test one field for "1".
fn with_condition(cond: &str) -> RuleSet {
    let yaml = format!(
        "title: t\nid: 00000000-0000-4000-8000-00000000000c\nlogsource:\n    product: windows\n    category: process_creation\ndetection:\n    a:\n        A: '1'\n    b:\n        B: '1'\n    c:\n        C: '1'\n    sel_x:\n        X: '1'\n    sel_y:\n        Y: '1'\n    _aux:\n        Z: '1'\n    condition: {cond}\n"
    );
    let (set, issues) = RuleSet::from_sources(&[("c.yml".into(), yaml)]);
    assert!(issues.is_empty(), "{issues:#?}");
    set
}

/// Does the condition fire with exactly these fields set to "1"?
fn truth(set: &RuleSet, on: &[&str]) -> bool {
    let f: Vec<(&str, &str)> = on.iter().map(|k| (*k, "1")).collect();
    !set.matches(&ev(&f)).is_empty()
}

#[test]
fn and_binds_tighter_than_or() {
    let s = with_condition("a or b and c");
    assert!(truth(&s, &["A"]));
    assert!(!truth(&s, &["B"]));
    assert!(truth(&s, &["B", "C"]));
}

#[test]
fn parentheses_override_precedence() {
    let s = with_condition("(a or b) and c");
    assert!(!truth(&s, &["A"]));
    assert!(truth(&s, &["A", "C"]));
    assert!(truth(&s, &["B", "C"]));
}

#[test]
fn not_binds_tightest() {
    let s = with_condition("not a and b");
    assert!(truth(&s, &["B"]));
    assert!(!truth(&s, &["A", "B"]));
    let s = with_condition("not (a or b)");
    assert!(truth(&s, &["C"]));
    assert!(!truth(&s, &["B"]));
}

#[test]
fn one_of_and_all_of_patterns() {
    let s = with_condition("1 of sel_*");
    assert!(truth(&s, &["X"]));
    assert!(truth(&s, &["Y"]));
    assert!(!truth(&s, &["A"]));
    let s = with_condition("all of sel_*");
    assert!(!truth(&s, &["X"]));
    assert!(truth(&s, &["X", "Y"]));
    let s = with_condition("a and not 1 of sel_*");
    assert!(truth(&s, &["A"]));
    assert!(!truth(&s, &["A", "Y"]));
}

#[test]
fn them_quantifiers() {
    let s = with_condition("all of them");
    assert!(!truth(&s, &["A", "B", "C", "X"]));
    // `them` leaves out detections whose names start with `_`.
    assert!(truth(&s, &["A", "B", "C", "X", "Y"]));
    let s = with_condition("1 of them");
    assert!(truth(&s, &["C"]));
    assert!(!truth(&s, &["Z"]));
    let s = with_condition("any of them");
    assert!(truth(&s, &["B"]));
    assert!(!truth(&s, &[]));
}

#[test]
fn counted_selector() {
    let s = with_condition("2 of them");
    assert!(!truth(&s, &["A"]));
    assert!(truth(&s, &["A", "Y"]));
}

#[test]
fn condition_list_is_or() {
    let yaml = "title: t\nlogsource:\n    product: windows\n    category: process_creation\ndetection:\n    a:\n        A: '1'\n    b:\n        B: '1'\n    condition:\n        - a\n        - b\n";
    let (set, issues) = RuleSet::from_sources(&[("l.yml".into(), yaml.into())]);
    assert!(issues.is_empty());
    assert!(truth(&set, &["B"]));
    assert!(!truth(&set, &["C"]));
}

fn issues_for(yaml: &str) -> (usize, Vec<mamori_sigma::LoadIssue>) {
    let (set, issues) = RuleSet::from_sources(&[("bad.yml".into(), yaml.into())]);
    (set.rules().len(), issues)
}

#[test]
fn unsupported_features_are_reported_per_rule() {
    let head = "title: Odd rule\nid: 22222222-0000-4000-8000-000000000000\nlogsource:\n    product: windows\n    category: process_creation\ndetection:\n";
    for (body, needle) in [
        ("    sel:\n        A: x\n    condition: sel\n    timeframe: 5m\n", "timeframe"),
        ("    sel:\n        A: x\n    condition: sel and nothere\n", "nothere"),
        ("    sel:\n        A|re: '(?<=x)y'\n    condition: sel\n", "|re"),
        ("    sel:\n        A|cidr: 'not-a-net'\n    condition: sel\n", "cidr"),
        ("    sel:\n        A|gt: abc\n    condition: sel\n", "number"),
        ("    sel:\n        A|base64: 'x*'\n    condition: sel\n", "wildcards"),
    ] {
        let (n, issues) = issues_for(&format!("{head}{body}"));
        assert_eq!(n, 0, "{body}");
        let i = issues.iter().find(|i| i.kind == IssueKind::Unsupported).unwrap_or_else(|| panic!("no issue for {body}: {issues:?}"));
        assert_eq!(i.rule_id.as_deref(), Some("22222222-0000-4000-8000-000000000000"));
        assert_eq!(i.title.as_deref(), Some("Odd rule"));
        assert_eq!(i.file, "bad.yml");
        assert!(i.message.contains(needle), "{needle}: {}", i.message);
    }
}

#[test]
fn broken_files_are_errors_and_the_rest_still_loads() {
    let good = "title: ok\nlogsource:\n    product: windows\n    category: process_creation\ndetection:\n    a:\n        A: '1'\n    condition: a\n";
    let (set, issues) = RuleSet::from_sources(&[
        ("bad1.yml".into(), "title: [unclosed".into()),
        ("bad2.yml".into(), "title: x\ndetection:\n    a:\n        A|nosuchmodifier: 1\n    condition: a\n".into()),
        ("good.yml".into(), good.into()),
    ]);
    assert_eq!(set.rules().len(), 1);
    assert_eq!(set.rules()[0].file, "good.yml");
    assert!(issues.iter().any(|i| i.file == "bad1.yml" && i.kind == IssueKind::Error));
    assert!(issues.iter().any(|i| i.file == "bad2.yml" && i.kind == IssueKind::Error && i.message.contains("nosuchmodifier")));
}

#[test]
fn unmapped_logsource_is_a_warning_and_the_rule_runs_everywhere() {
    let yaml = "title: web\nlogsource:\n    category: webserver\n    product: windows\ndetection:\n    a:\n        A: '1'\n    condition: a\n";
    let (set, issues) = RuleSet::from_sources(&[("w.yml".into(), yaml.into())]);
    assert_eq!(set.rules().len(), 1);
    assert!(issues.iter().any(|i| i.kind == IssueKind::Warning && i.message.contains("webserver")));
    let e = json!({"Event": {"System": {"Channel": "Anything", "EventID": 5}, "EventData": {"A": "1"}}});
    assert_eq!(set.matches(&e), vec![0]);
}

#[test]
fn multi_document_files_and_fingerprint() {
    let two = "title: one\nlogsource:\n    product: windows\n    service: security\ndetection:\n    a:\n        EventID: 4625\n    condition: a\n---\ntitle: two\nlogsource:\n    product: windows\n    service: security\ndetection:\n    a:\n        EventID: 4624\n    condition: a\n";
    let (set, _) = RuleSet::from_sources(&[("m.yml".into(), two.into())]);
    assert_eq!(set.rules().iter().map(|r| r.title.as_str()).collect::<Vec<_>>(), ["one", "two"]);
    let sec = |id: u32| json!({"Event": {"System": {"Channel": "Security", "EventID": id}, "EventData": {}}});
    assert_eq!(set.matches(&sec(4624)), vec![1]);
    assert_eq!(set.matches(&sec(4625)), vec![0]);
    assert!(set.matches(&json!({"Event": {"System": {"Channel": "System", "EventID": 4625}}})).is_empty(), "wrong channel");
    // Fingerprint: independent of order, changes with any edit.
    let a = ("a.yml".to_string(), "title: a".to_string());
    let b = ("b.yml".to_string(), "title: b".to_string());
    let f1 = RuleSet::from_sources(&[a.clone(), b.clone()]).0.fingerprint().to_owned();
    let f2 = RuleSet::from_sources(&[b.clone(), a.clone()]).0.fingerprint().to_owned();
    let f3 = RuleSet::from_sources(&[a, ("b.yml".into(), "title: b2".into())]).0.fingerprint().to_owned();
    assert_eq!(f1, f2);
    assert_ne!(f1, f3);
    assert_eq!(f1.len(), 64);
}

/// Cut and mangled copies of real SigmaHQ rules (every prefix, every line dropped): loading
/// never panics and reports every failure against the file.
#[test]
fn cut_and_mangled_rule_files_never_panic() {
    let dir = std::fs::canonicalize(env!("CARGO_MANIFEST_DIR")).unwrap().join("../../../shared/corpora/sigma-rules/rules/windows/process_creation");
    for name in ["proc_creation_win_powershell_base64_iex.yml", "proc_creation_win_certoc_load_dll.yml"] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let mut variants: Vec<String> = (0..text.len()).step_by(7).filter(|i| text.is_char_boundary(*i)).map(|i| text[..i].to_string()).collect();
        let lines: Vec<&str> = text.lines().collect();
        for skip in 0..lines.len() {
            variants.push(lines.iter().enumerate().filter(|(i, _)| *i != skip).map(|(_, l)| *l).collect::<Vec<_>>().join("\n"));
        }
        for v in variants {
            let (set, issues) = RuleSet::from_sources(&[("v.yml".into(), v)]);
            assert!(set.rules().len() <= 1);
            assert!(issues.iter().all(|i| i.file == "v.yml"));
            let _ = set.matches(&ev(&[("CommandLine", "powershell iex ([Text.Encoding]::Unicode.GetString([Convert]::FromBase64String('x')))")]));
        }
    }
}
