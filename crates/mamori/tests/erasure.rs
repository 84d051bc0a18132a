//! `mamori erase`: a resident's personal data leaves every file of the data directory after its
//! retention period, a tombstone records who erased what and why, and the log still verifies.

mod common;

use common::{mamori, run_ok};

fn files_contain(dir: &std::path::Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            hits.extend(files_contain(&p, needle));
        } else if std::fs::read(&p).unwrap().windows(needle.len()).any(|w| w == needle) {
            hits.push(p.display().to_string());
        }
    }
    hits
}

#[test]
fn erased_personal_data_is_gone_and_the_log_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    run_ok(mamori().args(["init", "--data"]).arg(&data));
    let events = tmp.path().join("e.ndjson");
    let name = "住民 鈴木一郎さんの転出届";
    std::fs::write(
        &events,
        format!(
            "{{\"message\":\"{name} を閲覧\",\"user\":{{\"name\":\"sato.y\"}},\"file\":{{\"path\":\"\\\\\\\\fs01\\\\{name}.pdf\"}}}}\n\
             {{\"message\":\"別の操作 keep-me-12345\",\"user\":{{\"name\":\"sato.y\"}}}}\n"
        ),
    )
    .unwrap();
    run_ok(mamori().args(["ingest", "--format", "ecs-ndjson", "--data"]).arg(&data).arg(&events));
    let hits = run_ok(mamori().args(["search", "--json", "--q", "鈴木一郎", "--data"]).arg(&data));
    let id = serde_json::from_str::<serde_json::Value>(hits.lines().next().unwrap()).unwrap()["id"].as_u64().unwrap();
    assert!(!files_contain(&data, name.as_bytes()).is_empty(), "the name is stored before erasure");
    let before = std::fs::read(data.join("ledger/checkpoint")).unwrap();
    std::fs::write(tmp.path().join("before.cp"), &before).unwrap();

    // Admin records are the audit trail: they cannot be erased.
    let out = mamori().args(["erase", "--id", "0", "--reason", "x", "--data"]).arg(&data).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be erased"));

    let out = run_ok(mamori().args(["erase", "--id", &id.to_string(), "--reason", "保存期間5年経過 / retention 5 years", "--data"]).arg(&data));
    assert!(out.contains(&format!("[{id}]")), "{out}");
    assert_eq!(files_contain(&data, name.as_bytes()), Vec::<String>::new(), "personal data left on disk");
    assert_eq!(files_contain(&data, "鈴木一郎".as_bytes()), Vec::<String>::new());
    assert!(!files_contain(&data, b"keep-me-12345").is_empty(), "other events are kept");
    assert_eq!(run_ok(mamori().args(["search", "--json", "--q", "鈴木一郎", "--data"]).arg(&data)).trim(), "");

    // The tombstone is in the ledger, with the reason; the log verifies, also against the
    // checkpoint taken before the erasure, and counts the erased payload.
    let t = run_ok(mamori().args(["search", "--json", "--kind", "tombstone", "--data"]).arg(&data));
    assert!(t.contains("retention 5 years") && t.contains(&format!("[{id}]")), "{t}");
    let v = run_ok(mamori().args(["verify", "--trusted-checkpoint"]).arg(tmp.path().join("before.cp")).arg("--data").arg(&data));
    assert!(v.contains("(1 erased)"), "{v}");
    // A rebuild of the index from the ledger gives the same stub.
    run_ok(mamori().args(["reindex", "--data"]).arg(&data));
    assert_eq!(files_contain(&data, "鈴木一郎".as_bytes()), Vec::<String>::new());
    let e = run_ok(mamori().args(["search", "--json", "--data"]).arg(&data));
    assert!(e.lines().any(|l| l.contains(&format!("\"id\":{id},")) && l.contains("\"erased\":true")), "{e}");
}
