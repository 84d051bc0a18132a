//! Shared helpers: where `../shared` is, reading EVTX records as JSON.
#![allow(dead_code)]

use std::path::PathBuf;

/// `<repo>/../shared` (CI has it at the same relative place).
pub fn shared() -> PathBuf {
    let crate_dir = std::fs::canonicalize(env!("CARGO_MANIFEST_DIR")).expect("crate dir");
    crate_dir.join("../../../shared")
}

/// The SigmaHQ Windows rules the benchmarks use, plus emerging threats (for the oracle).
pub fn rule_dirs(emerging: bool) -> Vec<PathBuf> {
    let r = shared().join("corpora/sigma-rules");
    let mut v = vec![r.join("rules/windows"), r.join("rules-threat-hunting/windows")];
    if emerging {
        v.push(r.join("rules-emerging-threats"));
    }
    v
}

/// Every record of an EVTX file as the `evtx` crate's JSON.
pub fn evtx_records(path: &std::path::Path) -> Vec<serde_json::Value> {
    let mut p = evtx::EvtxParser::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    p.records_json_value().filter_map(Result::ok).map(|r| r.data).collect()
}
