//! SigmaHQ's regression oracle: every `regression_data/**/info.yml` names a rule and an EVTX
//! file on which that rule must fire. Run against the whole SigmaHQ rule set (loaded in one
//! batch, as `mamori hunt` does), the expected rule must be among the matches.

mod common;

use std::path::{Path, PathBuf};

use mamori_sigma::{IssueKind, LoadOptions, RuleSet};

struct Case {
    rule_id: String,
    evtx: PathBuf,
}

/// `info.yml` is small and regular: the rule id under `rule_metadata`, the EVTX path under
/// `regression_tests_info`.
fn read_info(path: &Path, base: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut ids = Vec::new();
    let mut files = Vec::new();
    let mut section = "";
    for line in text.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            section = line.trim_end_matches(':');
        }
        let t = line.trim().trim_start_matches("- ");
        if section == "rule_metadata" && let Some(id) = t.strip_prefix("id:") {
            ids.push(id.trim().to_owned());
        }
        if section == "regression_tests_info" && let Some(p) = t.strip_prefix("path:") {
            files.push(base.join(p.trim()));
        }
    }
    ids.iter().flat_map(|id| files.iter().map(|f| Case { rule_id: id.clone(), evtx: f.clone() })).collect()
}

fn find_infos(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            find_infos(&p, out);
        } else if p.file_name().is_some_and(|n| n == "info.yml") {
            out.push(p);
        }
    }
}

fn run(subdirs: &[&str], emerging: bool) -> (usize, Vec<String>) {
    let base = common::shared().join("corpora/evtx/sigma-regression");
    let mut infos = Vec::new();
    for subdir in subdirs {
        find_infos(&base.join("regression_data").join(subdir), &mut infos);
    }
    infos.sort();
    let (set, issues) = RuleSet::load_paths(&common::rule_dirs(emerging), &LoadOptions::default()).unwrap();
    let errors: Vec<_> = issues.iter().filter(|i| i.kind == IssueKind::Error).collect();
    assert!(errors.is_empty(), "SigmaHQ rules failed to parse: {errors:#?}");
    let mut cases = 0;
    let mut failed = Vec::new();
    for info in infos {
        for case in read_info(&info, &base) {
            cases += 1;
            let Some(want) = set.rules().iter().position(|r| r.id.as_deref() == Some(case.rule_id.as_str())) else {
                let why = issues.iter().find(|i| i.rule_id.as_deref() == Some(case.rule_id.as_str())).map(|i| i.to_string()).unwrap_or_else(|| "not found".into());
                failed.push(format!("{} not loaded: {why}", case.rule_id));
                continue;
            };
            let fired = common::evtx_records(&case.evtx).iter().any(|r| set.matches(r).contains(&want));
            if !fired {
                failed.push(format!("{} ({}) did not fire on {}", case.rule_id, set.rules()[want].title, case.evtx.display()));
            }
            // The same record as mamori stores it (ECS with winlog.*) must fire the rule too.
            let bytes = std::fs::read(&case.evtx).unwrap();
            let ecs_fired = mamori_sources::parse_evtx("r.evtx", &bytes).into_iter().filter_map(Result::ok).any(|e| set.matches(&serde_json::Value::Object(e.doc)).contains(&want));
            if !ecs_fired {
                failed.push(format!("{} ({}) did not fire on the ECS form of {}", case.rule_id, set.rules()[want].title, case.evtx.display()));
            }
        }
    }
    (cases, failed)
}

/// The 193 cases for `rules/windows` and `rules-threat-hunting/windows` (Chainsaw passes 168,
/// Hayabusa 186), with exactly the 2,535 rules of the benchmark loaded.
#[test]
fn sigmahq_regression_windows_rules_all_fire() {
    let (cases, failed) = run(&["rules/windows", "rules-threat-hunting/windows"], false);
    eprintln!("regression_data windows: {}/{} passed", cases - failed.len(), cases);
    assert_eq!(cases, 193, "the oracle has 193 Windows rule cases");
    assert!(failed.is_empty(), "{} of {cases} failed:\n{}", failed.len(), failed.join("\n"));
}

/// The emerging-threats cases, with every SigmaHQ rule loaded (3,008).
#[test]
fn sigmahq_regression_emerging_threats_rules_fire() {
    let (cases, failed) = run(&["rules-emerging-threats"], true);
    eprintln!("regression_data emerging threats: {}/{} passed", cases - failed.len(), cases);
    assert!(cases >= 9);
    assert!(failed.is_empty(), "{} of {cases} failed:\n{}", failed.len(), failed.join("\n"));
}
