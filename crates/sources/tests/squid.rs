//! Squid access.log lines, native and combined.
//!
//! `fixtures/squid/access_native.log` and `access_combined.log` were written by a real Squid 5.7
//! (Debian 12) logging the same requests in both formats, in the run of
//! crates/mamori/tests/squid.rs (`MAMORI_CAPTURE_DIR=… cargo test -p mamori --test squid`):
//! the test's port probe (a connection closed before a request), GET, GET 404 with referrer and
//! user agent, POST, a request refused with 407 (wrong proxy password) and a CONNECT, all by
//! proxy user tanaka.k.

use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use mamori_sources::format::squid::squid_line_doc;
use mamori_sources::{LinePos, SyslogContext, parse_squid_line, parse_syslog};
use serde_json::{Map, Value, json};

type Doc = Map<String, Value>;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/squid")
            .join(name),
    )
    .unwrap()
}

fn parse_all(bytes: &[u8]) -> Vec<Doc> {
    let mut off = 0u64;
    let mut out = Vec::new();
    for (i, l) in bytes.split(|&b| b == b'\n').enumerate() {
        if !l.is_empty() {
            out.push(
                parse_squid_line(
                    l,
                    LinePos {
                        line: i + 1,
                        offset: off,
                    },
                )
                .unwrap(),
            );
        }
        off += l.len() as u64 + 1;
    }
    out
}

#[test]
fn both_formats_give_the_same_request_fields() {
    let native = parse_all(&fixture("access_native.log"));
    let combined = parse_all(&fixture("access_combined.log"));
    assert_eq!(native.len(), 6);
    assert_eq!(native.len(), combined.len());
    for (n, c) in native.iter().zip(&combined) {
        assert_eq!(n["mamori"]["squid"]["format"], "native");
        assert_eq!(c["mamori"]["squid"]["format"], "combined");
        for path in [
            "/source/ip",
            "/user/name",
            "/http/request/method",
            "/http/response/status_code",
            "/http/response/bytes",
            "/url/domain",
            "/url/port",
            "/url/path",
            "/event/action",
            "/event/outcome",
            "/mamori/squid/cache_result",
            "/mamori/squid/hierarchy",
        ] {
            assert_eq!(
                Value::Object(n.clone()).pointer(path),
                Value::Object(c.clone()).pointer(path),
                "{path}: {n:?} vs {c:?}"
            );
        }
        // Native has ms precision; combined whole seconds.
        assert_eq!(
            n["@timestamp"].as_str().unwrap()[..19],
            c["@timestamp"].as_str().unwrap()[..19]
        );
    }
}

#[test]
fn ikeda_web_access_is_attributed_to_the_proxy_user() {
    // Ikeda: web access logs showed who browsed what, when.
    let native = parse_all(&fixture("access_native.log"));
    let get = &native[1];
    assert_eq!(get["user"]["name"], "tanaka.k");
    assert_eq!(
        get["url"]["full"].as_str().unwrap(),
        get["url"]["original"].as_str().unwrap()
    );
    assert!(
        get["url"]["full"]
            .as_str()
            .unwrap()
            .ends_with("/juki/list.csv?")
    );
    assert_eq!(get["url"]["path"], "/juki/list.csv");
    assert_eq!(get["mamori"]["squid"]["result_code"], "TCP_MISS/200");
    assert_eq!(get["mamori"]["squid"]["peer"], "127.0.0.1");
    assert_eq!(get["destination"]["ip"], "127.0.0.1");
    assert_eq!(get["http"]["response"]["mime_type"], "text/csv");
    assert_eq!(get["event"]["duration"], 37_000_000);
    assert_eq!(get["@timestamp"], "2026-12-02T03:51:32.739Z");
    assert_eq!(get["related"]["user"], json!(["tanaka.k"]));
    let denied = &native[4];
    assert_eq!(denied["event"]["type"], json!(["access", "denied"]));
    assert_eq!(denied["mamori"]["squid"]["hierarchy"], "HIER_NONE");
    assert!(denied["mamori"]["squid"].get("peer").is_none());
    let tunnel = &native[5];
    assert_eq!(tunnel["event"]["action"], "web-tunnel");
    assert!(tunnel["url"].get("full").is_none());
    let probe = &native[0];
    assert_eq!(probe["event"]["action"], "web-error");
    assert_eq!(probe["event"]["outcome"], "unknown");
    let combined = parse_all(&fixture("access_combined.log"));
    assert_eq!(
        combined[2]["user_agent"]["original"],
        "Mozilla/5.0 (mamori test)"
    );
    assert_eq!(combined[2]["http"]["version"], "1.1");
}

#[test]
fn malformed_lines_name_line_offset_and_column_and_stay_searchable() {
    let good = fixture("access_native.log");
    let mut input = Vec::new();
    let lines: Vec<&[u8]> = good
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    input.extend_from_slice(lines[1]);
    input.push(b'\n');
    let bad_at = input.len() as u64;
    input.extend_from_slice(b"1796183386.058     30 127.0.0.1 TCP_MISS/2OO 257 GET http://x/ tanaka.k HIER_DIRECT/1.2.3.4 text/csv\n");
    input.extend_from_slice(b"\xe4\xbd\x8f\xff not squid\n");
    input.extend_from_slice(lines[2]);
    input.push(b'\n');
    let mut off = 0u64;
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for (i, l) in input.split(|&b| b == b'\n').enumerate() {
        if !l.is_empty() {
            let (d, e) = squid_line_doc(
                l,
                LinePos {
                    line: i + 1,
                    offset: off,
                },
            );
            docs.push(d);
            errors.extend(e);
        }
        off += l.len() as u64 + 1;
    }
    assert_eq!(docs.len(), 4, "nothing dropped");
    assert_eq!(errors.len(), 2);
    assert_eq!(
        (errors[0].line, errors[0].offset, errors[0].column),
        (2, bad_at, 42)
    );
    assert!(
        errors[0]
            .to_string()
            .contains("HTTP status \"2OO\" is not a number"),
        "{}",
        errors[0]
    );
    assert_eq!(errors[1].line, 3);
    assert!(errors[1].hint.contains("squid.conf"));
    assert_eq!(docs[1]["mamori"]["squid"]["unparsed"], true);
    assert!(
        docs[1]["message"]
            .as_str()
            .unwrap()
            .contains("TCP_MISS/2OO")
    );
    assert_eq!(docs[2]["message"], "住\u{fffd} not squid");
    assert_eq!(
        docs[2]["mamori"]["squid"]["original_base64"],
        "5L2P/yBub3Qgc3F1aWQ="
    );
    assert_eq!(docs[3]["http"]["response"]["status_code"], 404);
}

#[test]
fn squid_syslog_lines_are_enriched() {
    // `access_log syslog:local4.info squid`, or rsyslog imfile with tag "squid-access:".
    let native = fixture("access_native.log");
    let line = native.split(|&b| b == b'\n').nth(1).unwrap();
    for tag in ["squid[812]", "squid-access"] {
        let mut raw = format!("<166>Dec  2 12:51:32 proxy01 {tag}: ").into_bytes();
        raw.extend_from_slice(line);
        let d = parse_syslog(
            &raw,
            &SyslogContext::new(Utc.with_ymd_and_hms(2026, 12, 2, 4, 0, 0).unwrap()),
        )
        .unwrap();
        assert_eq!(d["user"]["name"], "tanaka.k", "{tag}");
        assert_eq!(d["@timestamp"], "2026-12-02T03:51:32.739Z");
        assert_eq!(d["host"]["name"], "proxy01");
        assert_eq!(d["event"]["module"], "syslog");
        assert_eq!(d["http"]["response"]["status_code"], 200);
    }
    // Squid's cache.log messages through syslog stay as they are.
    let d = parse_syslog(
        b"<163>Dec  2 12:49:46 proxy01 squid[812]: WARNING: disk space low",
        &SyslogContext::new(Utc::now()),
    )
    .unwrap();
    assert!(d.get("http").is_none());
}

#[test]
fn fuzz_regression_column_counts_input_bytes_not_replacement_chars() {
    // Found by `squid_parse`: invalid UTF-8 became 3-byte U+FFFD in the decoded text and the
    // error column pointed past the end of the input.
    let raw = b"1796183492.799      3 127.0.027.0.0.1 TCP_TUNNEL/200 NECT 127.0.0.1:34577 tanaka.k \xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xffHIER_DIRECT/127.0.0.1 -";
    let e = parse_squid_line(raw, LinePos { line: 1, offset: 0 }).unwrap_err();
    assert!(
        e.column <= raw.len() + 1,
        "column {} of {} bytes",
        e.column,
        raw.len()
    );
}
