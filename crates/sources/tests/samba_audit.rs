//! Samba `vfs_full_audit` lines through `parse_syslog`.
//!
//! `fixtures/samba/smbd_4.17_rsyslog_rfc5424.log` was written by Debian's
//! rsyslogd (template RSYSLOG_SyslogProtocol23Format, imuxsock) from a real
//! `smbd` 4.17.12-Debian with `full_audit:prefix = %u|%I|%m|%S|%P` while
//! smbclient made a directory, put, got, renamed and deleted a file as
//! `mamoritest1` and tried to get a missing file as `mamoritest2` (the same
//! run as crates/mamori/tests/samba.rs). It also holds smbd's own debug lines
//! (app-name `smbd`), which must stay untouched.

use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use mamori_sources::{SyslogContext, parse_samba_audit, parse_syslog};
use serde_json::{Map, Value, json};

type Doc = Map<String, Value>;

fn ctx() -> SyslogContext {
    let mut c = SyslogContext::new(Utc.with_ymd_and_hms(2026, 11, 23, 13, 40, 0).unwrap());
    c.peer = Some("192.0.2.10".parse().unwrap());
    c
}

fn fixture(dir: &str, name: &str) -> Vec<Doc> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir)
        .join(name);
    std::fs::read(&path)
        .unwrap()
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| parse_syslog(l, &ctx()).unwrap())
        .collect()
}

fn audit(docs: &[Doc]) -> Vec<&Doc> {
    docs.iter()
        .filter(|d| d["process"]["name"] == "smbd_audit")
        .collect()
}

fn find<'a>(docs: &[&'a Doc], user: &str, action: &str, path: &str) -> &'a Doc {
    docs.iter()
        .copied()
        .find(|d| {
            d["user"]["name"] == user && d["event"]["action"] == action && d["file"]["path"] == path
        })
        .unwrap_or_else(|| panic!("no {user} {action} {path}"))
}

#[test]
fn real_smbd_lines_become_file_events() {
    let docs = fixture("samba", "smbd_4.17_rsyslog_rfc5424.log");
    let a = audit(&docs);
    assert!(a.len() > 20);
    for d in &a {
        assert!(d["mamori"]["samba"].get("unparsed").is_none(), "{d:?}");
        assert_eq!(d["source"]["ip"], "127.0.0.1");
        assert_eq!(d["observer"]["ip"], "192.0.2.10", "syslog peer kept");
        assert_eq!(d["mamori"]["share"], "juki");
        assert_eq!(d["source"]["domain"], "vm");
        assert_eq!(d["event"]["category"], json!(["file"]));
        assert_eq!(d["log"]["syslog"]["facility"]["name"], "local5");
        // The raw line stays searchable.
        assert!(d["message"].as_str().unwrap().contains("|juki|"));
    }
    let u1 = "mamoritest1";
    let mk = find(&a, u1, "directory-create", "/住民");
    assert_eq!(mk["event"]["outcome"], "success");
    assert_eq!(mk["mamori"]["samba"]["server_path"], "/tmp/sx/share/住民");
    let open_w = find(&a, u1, "file-open", "/住民/台帳.txt");
    assert_eq!(open_w["file"]["name"], "台帳.txt");
    assert_eq!(open_w["file"]["directory"], "/住民");
    assert_eq!(open_w["file"]["extension"], "txt");
    assert!(a.iter().any(|d| d["event"]["action"] == "file-open"
        && d["mamori"]["samba"]["open_mode"] == "write"
        && d["file"]["path"] == "/住民/台帳.txt"));
    find(&a, u1, "file-write", "/住民/台帳.txt");
    find(&a, u1, "file-write-request", "/住民/台帳.txt");
    let read = find(&a, u1, "file-read", "/住民/台帳.txt");
    assert_eq!(read["mamori"]["samba"]["op"], "pread_recv");
    let ren = find(&a, u1, "file-rename", "/住民/台帳.txt");
    assert_eq!(ren["mamori"]["file"]["target_path"], "/住民/台帳2.txt");
    let del = find(&a, u1, "file-delete", "/住民/台帳2.txt");
    assert_eq!(del["event"]["type"], json!(["deletion"]));
    let conn = a
        .iter()
        .find(|d| d["user"]["name"] == u1 && d["event"]["action"] == "share-connect")
        .unwrap();
    assert!(conn.get("file").is_none());
    assert!(
        a.iter()
            .any(|d| d["user"]["name"] == u1 && d["event"]["action"] == "share-disconnect")
    );
    // The share root opens as "/".
    assert!(
        a.iter()
            .any(|d| d.get("file").is_some_and(|f| f["path"] == "/"))
    );

    let miss = find(&a, "mamoritest2", "file-open", "/nosuch.txt");
    assert_eq!(miss["event"]["outcome"], "failure");
    assert_eq!(miss["error"]["message"], "No such file or directory");

    // smbd's own debug lines are not audit lines and are left alone.
    let own: Vec<_> = docs
        .iter()
        .filter(|d| d["process"]["name"] == "smbd")
        .collect();
    assert!(!own.is_empty());
    for d in own {
        assert!(d.get("user").is_none() && d["event"].get("action").is_none());
        assert!(d.get("mamori").is_none());
    }
}

/// The older four-field prefix (`%u|%I|%m|%S`) with share-relative paths, as
/// in the RFC 3164 fixture from the syslog tests.
#[test]
fn four_field_prefix_rfc3164() {
    let docs = fixture("syslog", "samba_full_audit.log");
    assert_eq!(docs[0]["user"]["name"], "tanaka");
    assert_eq!(docs[0]["source"]["ip"], "10.20.30.41");
    assert_eq!(docs[0]["mamori"]["share"], "kojin_joho");
    assert_eq!(docs[0]["event"]["action"], "file-open");
    assert_eq!(docs[0]["file"]["path"], "/住民票/2024/山田太郎.pdf");
    assert_eq!(docs[1]["event"]["action"], "file-rename");
    assert_eq!(docs[1]["mamori"]["file"]["target_path"], "/tmp/a.pdf");
    assert_eq!(docs[2]["event"]["action"], "file-delete");
    assert_eq!(docs[2]["event"]["outcome"], "failure");
    assert_eq!(docs[2]["error"]["message"], "Permission denied");
    // The syslog view of the line is unchanged.
    assert_eq!(docs[2]["event"]["dataset"], "syslog.smbd_audit");
    assert_eq!(docs[2]["process"], json!({"name": "smbd_audit"}));
}

fn direct(line: &str) -> Doc {
    let mut d = Doc::new();
    parse_samba_audit(line, &mut d);
    d
}

#[test]
fn malformed_lines_are_kept_and_flagged() {
    for line in [
        "",
        "|",
        "||||||",
        "garbage without separators",
        "tanaka|10.0.0.1|pc|juki|openat",             // no status
        "tanaka|10.0.0.1|pc|juki|OPENAT|ok|r|/x",     // not an op name
        "openat|ok|r|/x",                             // no prefix at all
        "tanaka|10.0.0.1|pc|juki|openat|failed|r|/x", // not ok/fail (…)
        "tanaka|10.0.0.1|pc|juki|openat|fail (unterminated|r|/x",
        "\u{FFFD}\u{FFFD}|\0|smbd",
    ] {
        let d = direct(line);
        assert_eq!(d["mamori"]["samba"]["unparsed"], true, "{line:?}");
        assert!(d.get("event").is_none(), "{line:?}");
    }
    // Through syslog: the event exists, message searchable, flagged.
    let raw = b"<173>Nov 23 13:38:18 fs01 smbd_audit: \xff\xfe broken line";
    let d = parse_syslog(raw, &ctx()).unwrap();
    assert_eq!(d["mamori"]["samba"]["unparsed"], true);
    assert!(d["message"].as_str().unwrap().contains("broken line"));
    assert_eq!(d["mamori"]["syslog"]["invalid_utf8"], true);
}

#[test]
fn partially_broken_lines_keep_what_is_known() {
    let d = direct("tanaka|not-an-ip|pc|juki|openat|ok");
    assert_eq!(d["event"]["action"], "file-open");
    assert_eq!(d["mamori"]["samba"]["unparsed"], true);
    assert_eq!(d["mamori"]["samba"]["client_ip_invalid"], "not-an-ip");
    assert!(d["source"].get("ip").is_none());
    let d = direct("tanaka|10.0.0.1|pc|juki|/s|renameat|ok|/s/a");
    assert_eq!(d["file"]["path"], "/a");
    assert_eq!(d["mamori"]["samba"]["unparsed"], true);
    let d = direct("tanaka|10.0.0.1|pc|juki|/s|fsync|ok|/s/a");
    assert_eq!(d["event"]["action"], "samba-fsync");
    assert_eq!(d["mamori"]["samba"]["args"], json!(["/s/a"]));
    // `..` cannot climb above the share root.
    let d = direct("u|10.0.0.1|pc|juki|/s|unlinkat|ok|/s/../../etc/passwd");
    assert_eq!(d["file"]["path"], "/etc/passwd");
    // A prefix field that looks like "ok" does not confuse the op search.
    let d = direct("ok|10.0.0.1|pc|juki|mkdirat|ok|a/b");
    assert_eq!(d["user"]["name"], "ok");
    assert_eq!(d["file"]["path"], "/a/b");
}
