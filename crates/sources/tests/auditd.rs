//! Linux audit logs through `parse_auditd`.
//!
//! `fixtures/auditd/auditd_3.0.9_enriched_watch.log` was written by the real Debian 12
//! `auditd` 3.0.9 (`auditd -n -c <tmp>`, `log_format = ENRICHED`, log file in a temp dir) on
//! this project's VM with the rules
//! `-w <tmp>/jumin -p rwa -k jumin` and `-a always,exit -F arch=b64 -S execve -F uid=<u> -k
//! exec-h5`, while `su h5tanaka -c` read `jumin/台帳.csv`, copied it to `jumin/my copy.csv`,
//! renamed that to `jumin/持出.csv` and deleted it (the same steps
//! crates/mamori/tests/auditd.rs runs against a live auditd). Names with a space or
//! non-ASCII bytes are hex-encoded by the kernel, so the fixture exercises the decoding.
//! `fixtures/auditd/audit-userspace_test4.log` is auparse's own test log
//! (linux-audit/audit-userspace `auparse/test/test4.log`, GPL-2.0, RAW format): long EXECVE
//! records with 48 and 216 arguments.

use std::path::PathBuf;
use std::process::Command;

use mamori_sources::{AuditdErrorReason, parse_auditd};
use serde_json::{Map, Value, json};

type Doc = Map<String, Value>;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/auditd").join(name)).unwrap()
}

fn events(name: &str) -> Vec<Doc> {
    parse_auditd(&fixture(name)).into_iter().map(|r| r.unwrap().doc).collect()
}

fn with_key<'a>(docs: &'a [Doc], key: &str) -> Vec<&'a Doc> {
    docs.iter().filter(|d| d.get("mamori").and_then(|m| m["audit"].get("key")) == Some(&json!(key))).collect()
}

#[test]
fn records_are_assembled_by_serial() {
    let raw = fixture("auditd_3.0.9_enriched_watch.log");
    let lines = raw.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count();
    let docs = events("auditd_3.0.9_enriched_watch.log");
    // Every line belongs to exactly one event.
    let records: usize = docs.iter().map(|d| d["mamori"]["audit"]["records"].as_array().unwrap().len()).sum();
    assert_eq!(records, lines);
    // One event per distinct serial.
    let text = String::from_utf8(raw).unwrap();
    let mut serials: Vec<&str> = text.lines().filter_map(|l| l.split("msg=audit(").nth(1)?.split(')').next()).collect();
    serials.dedup();
    serials.sort();
    serials.dedup();
    assert_eq!(docs.len(), serials.len());
    for d in &docs {
        let types = d["mamori"]["audit"]["record_types"].as_array().unwrap();
        // SYSCALL first, PROCTITLE last in every syscall event.
        if types[0] == "SYSCALL" {
            assert_eq!(types.last().unwrap(), "PROCTITLE", "{d:?}");
        }
    }
}

#[test]
fn file_watch_events_name_file_user_and_key() {
    let docs = events("auditd_3.0.9_enriched_watch.log");
    let w = with_key(&docs, "jumin");
    let read = w.iter().find(|d| d["process"]["name"] == "cat").expect("cat opened the file");
    assert_eq!(read["file"]["path"], "/tmp/h5a/jumin/台帳.csv");
    assert_eq!(read["file"]["name"], "台帳.csv");
    assert_eq!(read["event"]["action"], "opened-file");
    assert_eq!(read["event"]["category"], json!(["file"]));
    assert_eq!(read["event"]["outcome"], "success");
    assert_eq!(read["user"]["name"], "h5tanaka");
    assert_eq!(read["user"]["id"], "1001");
    assert!(read["user"].get("audit").is_none(), "auid unset gives no user.audit");
    assert_eq!(read["process"]["executable"], "/usr/bin/cat");
    assert_eq!(read["process"]["working_directory"], "/tmp/h5a");
    assert_eq!(read["tags"], json!(["jumin"]));
    assert_eq!(read["mamori"]["audit"]["syscall"], "openat");
    // Proctitle is hex with NUL separators.
    assert_eq!(read["process"]["title"], "cat /tmp/h5a/jumin/台帳.csv");

    let copy = w.iter().find(|d| d["event"]["action"] == "opened-file-for-write").expect("cp wrote the copy");
    assert_eq!(copy["file"]["path"], "/tmp/h5a/jumin/my copy.csv");
    assert_eq!(copy["event"]["type"], json!(["change"]));

    let mv = w.iter().find(|d| d["event"]["action"] == "renamed-file").unwrap();
    assert_eq!(mv["file"]["path"], "/tmp/h5a/jumin/my copy.csv");
    assert_eq!(mv["mamori"]["file"]["target_path"], "/tmp/h5a/jumin/持出.csv");
    assert_eq!(mv["file"]["owner"], "h5tanaka");

    let rm = w.iter().find(|d| d["event"]["action"] == "deleted-file").unwrap();
    assert_eq!(rm["file"]["path"], "/tmp/h5a/jumin/持出.csv");
    assert_eq!(rm["event"]["type"], json!(["deletion"]));
}

#[test]
fn execve_arguments_are_decoded() {
    let docs = events("auditd_3.0.9_enriched_watch.log");
    let ex = with_key(&docs, "exec-h5");
    let mv = ex.iter().find(|d| d["process"]["name"] == "mv").unwrap();
    assert_eq!(mv["event"]["action"], "executed");
    assert_eq!(mv["process"]["args"], json!(["mv", "/tmp/h5a/jumin/my copy.csv", "/tmp/h5a/jumin/持出.csv"]));
    assert_eq!(mv["process"]["args_count"], 3);
    assert_eq!(mv["file"]["path"], "/usr/bin/mv");
}

#[test]
fn user_space_records_are_authentication_events() {
    let docs = events("auditd_3.0.9_enriched_watch.log");
    let auth = docs.iter().find(|d| d["mamori"]["audit"]["record_type"] == "USER_AUTH").unwrap();
    assert_eq!(auth["event"]["category"], json!(["authentication"]));
    assert_eq!(auth["user"]["name"], "h5tanaka");
    assert_eq!(auth["process"]["executable"], "/usr/bin/su");
    assert_eq!(auth["event"]["outcome"], "success");
    let start = docs.iter().find(|d| d["mamori"]["audit"]["record_type"] == "USER_START").unwrap();
    assert_eq!(start["event"]["action"], "started-session");
    let cfg = docs.iter().find(|d| d["mamori"]["audit"]["record_type"] == "CONFIG_CHANGE").unwrap();
    assert_eq!(cfg["event"]["category"], json!(["configuration"]));
}

#[test]
fn long_execve_from_auparse_test_log() {
    let docs = events("audit-userspace_test4.log");
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["process"]["args_count"], 48);
    assert_eq!(docs[0]["process"]["args"].as_array().unwrap().len(), 48);
    assert_eq!(docs[0]["process"]["args"][22], "ztest105133.so");
    assert_eq!(docs[1]["process"]["args"].as_array().unwrap().len(), 216);
    assert_eq!(docs[1]["process"]["working_directory"], "/usr/src/RPM/BUILD/zlib-1.2.11-alt1/contrib/minizip");
    // RAW format: no names, only ids.
    assert_eq!(docs[0]["user"]["id"], "583");
    assert!(docs[0]["user"].get("name").is_none());
    assert_eq!(docs[0]["user"]["audit"]["id"], "573");
}

/// The decoding agrees with auditd's own `ausearch --interpret` on the same file.
#[test]
fn decoding_matches_ausearch_interpret() {
    let Ok(out) = Command::new("ausearch").args(["--input-logs", "-if"]).arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/auditd/auditd_3.0.9_enriched_watch.log")).args(["-i", "-k", "jumin"]).output() else {
        panic!("ausearch is not installed: run ./scripts/test.sh, which installs auditd");
    };
    let text = String::from_utf8_lossy(&out.stdout);
    // ausearch prints `name=<decoded>` for each PATH; every decoded file path of ours is there.
    let docs = events("auditd_3.0.9_enriched_watch.log");
    let ours: Vec<String> = with_key(&docs, "jumin").iter().filter_map(|d| d.get("file").and_then(|f| f["path"].as_str()).map(str::to_owned)).collect();
    assert!(ours.len() >= 4);
    for p in &ours {
        assert!(text.contains(&format!("name={p} ")), "ausearch has no name={p}:\n{text}");
    }
    for d in with_key(&docs, "jumin") {
        if let Some(t) = d["process"].get("title").and_then(Value::as_str) {
            assert!(text.contains(&format!("proctitle={t} ")), "ausearch has no proctitle={t}");
        }
    }
}

#[test]
fn malformed_lines_are_errors_and_the_rest_is_kept() {
    let good = fixture("auditd_3.0.9_enriched_watch.log");
    let good_events = parse_auditd(&good).len();
    let mut input = b"this is not audit\n".to_vec();
    input.extend_from_slice(&good);
    input.extend_from_slice(b"type=SYSCALL msg=audit(17961817x.1:2): arch=c000003e\ntype=PATH item=0\ntype=NEWTYPE msg=audit(1796181769.999:99999): foo=bar baz=\"q\"\n");
    let out = parse_auditd(&input);
    let errs: Vec<_> = out.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(errs.len(), 3);
    assert_eq!((errs[0].line, errs[0].offset, errs[0].reason.clone()), (1, 0, AuditdErrorReason::NoType));
    assert_eq!(errs[0].raw, b"this is not audit");
    assert!(errs[0].to_string().contains("行 1"));
    let n = good.split(|&b| b == b'\n').count();
    assert_eq!(errs[1].line, n + 1);
    assert_eq!(errs[1].reason, AuditdErrorReason::BadStamp);
    assert_eq!(errs[2].reason, AuditdErrorReason::NoStamp);
    assert!(errs[2].to_string().contains("column 11"), "{}", errs[2]);
    // The good events are all still there, and the unknown record type is kept as an event.
    let docs: Vec<_> = out.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(docs.len(), good_events + 1);
    let unknown = docs.last().unwrap();
    assert_eq!(unknown.doc["mamori"]["audit"]["record_type"], "NEWTYPE");
    assert_eq!(unknown.doc["event"]["action"], "audit-newtype");
    assert_eq!(unknown.doc["mamori"]["audit"]["records"][0]["foo"], "bar");
}

#[test]
fn interleaved_serials_and_window() {
    // Two events interleaved, and one that never ends until the input does.
    let input = "type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=257 success=yes a2=0 comm=\"a\" key=\"k\"\n\
type=SYSCALL msg=audit(1.000:2): arch=c000003e syscall=87 success=no comm=\"b\" key=\"k\"\n\
type=PATH msg=audit(1.000:1): item=0 name=\"/x/1\" nametype=NORMAL\n\
type=PATH msg=audit(1.000:2): item=0 name=\"2\" nametype=DELETE\n\
type=CWD msg=audit(1.000:2): cwd=\"/y\"\n\
type=EOE msg=audit(1.000:2):\n";
    let out: Vec<Doc> = mamori_sources::format::auditd::parse_auditd_with_window(input.as_bytes(), 2).into_iter().map(|r| r.unwrap().doc).collect();
    assert_eq!(out.len(), 2);
    assert_eq!(out[0]["file"]["path"], "/x/1");
    assert_eq!(out[1]["file"]["path"], "/y/2");
    assert_eq!(out[1]["event"]["outcome"], "failure");
    assert_eq!(out[1]["event"]["action"], "deleted-file");
}
