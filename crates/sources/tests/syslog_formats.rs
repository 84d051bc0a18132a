//! Real-world syslog lines (tests/fixtures/syslog) parsed into ECS documents.

use std::net::IpAddr;
use std::path::PathBuf;

use chrono::{FixedOffset, TimeZone, Utc};
use mamori_sources::{SyslogContext, SyslogErrorKind, parse_syslog};
use serde_json::{Map, Value, json};

type Doc = Map<String, Value>;

fn fixture(name: &str) -> Vec<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/syslog")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// Received 2024-04-01 09:30 JST by a collector whose senders log in JST.
fn ctx() -> SyslogContext {
    SyslogContext {
        received: Utc.with_ymd_and_hms(2024, 4, 1, 0, 30, 0).unwrap(),
        peer: Some("10.20.30.1".parse::<IpAddr>().unwrap()),
        default_offset: Some(FixedOffset::east_opt(9 * 3600).unwrap()),
        frame_offset: None,
    }
}

fn parse_all(name: &str) -> Vec<Doc> {
    fixture(name)
        .iter()
        .map(|l| {
            parse_syslog(l, &ctx())
                .unwrap_or_else(|e| panic!("{name}: {}: {e}", String::from_utf8_lossy(l)))
        })
        .collect()
}

/// Fields every successfully parsed document must have.
fn assert_common(d: &Doc, raw: &[u8]) {
    assert_eq!(d["event"]["module"], "syslog");
    assert_eq!(d["event"]["kind"], "event");
    assert_eq!(d["event"]["created"], "2024-04-01T00:30:00.000Z");
    // The sender is source.ip, unless a format enrichment (sshd "from IP") names the client:
    // then the sender moves to observer.ip (crates/sources/src/format/auth.rs).
    if d.get("observer").and_then(|o| o.get("ip")).and_then(|v| v.as_str()) == Some("10.20.30.1") {
        let client = d["source"]["ip"].as_str().expect("client address");
        assert!(String::from_utf8_lossy(raw).contains(client), "client {client} comes from the message");
    } else {
        assert_eq!(d["source"]["ip"], "10.20.30.1");
    }
    assert_eq!(
        d["event"]["original"],
        String::from_utf8_lossy(raw).as_ref()
    );
    let ts = d["@timestamp"].as_str().unwrap();
    assert!(ts.ends_with('Z') && ts.contains('.'), "{ts}");
    // Nested objects, never dotted keys.
    assert!(
        d.keys().all(|k| k == "@timestamp" || !k.contains('.')),
        "{d:?}"
    );
}

#[test]
fn rsyslog_syslog_protocol23_format() {
    let raw = fixture("rsyslog_protocol23.log");
    let d = parse_all("rsyslog_protocol23.log");
    for (doc, r) in d.iter().zip(&raw) {
        assert_common(doc, r);
        assert_eq!(doc["log"]["syslog"]["version"], "1");
    }

    assert_eq!(d[0]["@timestamp"], "2024-04-01T00:15:02.123456Z");
    assert_eq!(d[0]["host"]["hostname"], "fileserv01");
    assert_eq!(d[0]["host"]["name"], "fileserv01");
    assert_eq!(d[0]["process"], json!({"name": "sshd", "pid": 2817}));
    assert_eq!(d[0]["log"]["syslog"]["priority"], 86);
    assert_eq!(
        d[0]["log"]["syslog"]["facility"],
        json!({"code": 10, "name": "authpriv"})
    );
    assert_eq!(
        d[0]["log"]["syslog"]["severity"],
        json!({"code": 6, "name": "info"})
    );
    assert_eq!(d[0]["log"]["level"], "info");
    assert!(d[0]["log"]["syslog"].get("msgid").is_none());
    assert!(d[0]["log"]["syslog"].get("structured_data").is_none());
    assert_eq!(d[0]["event"]["dataset"], "syslog.sshd");
    assert!(
        d[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Accepted publickey for tanaka from 10.20.30.40")
    );

    assert_eq!(d[1]["log"]["syslog"]["msgid"], "AUDIT");
    assert_eq!(d[1]["log"]["syslog"]["facility"]["name"], "local0");
    assert_eq!(
        d[1]["log"]["syslog"]["structured_data"],
        json!({"mamori@32473": {
            "user": "sato.hanako",
            "action": "export",
            "records": "1520",
            "note": "\"全件\" ]出力"
        }})
    );
    assert_eq!(d[1]["message"], "人事データをCSVでエクスポートしました");
    assert_eq!(d[1]["@timestamp"], "2024-04-01T00:16:10.000001Z");

    assert_eq!(
        d[2]["log"]["syslog"]["structured_data"]["origin"]["swVersion"],
        "8.2312.0"
    );
    assert!(d[2]["process"].get("pid").is_none());
    assert!(d[2]["log"]["syslog"].get("procid").is_none());
    assert_eq!(d[2]["message"], "start");
    assert_eq!(d[2]["@timestamp"], "2024-04-01T00:17:00.000Z");
}

#[test]
fn rsyslog_forward_format() {
    let raw = fixture("rsyslog_forward.log");
    let d = parse_all("rsyslog_forward.log");
    for (doc, r) in d.iter().zip(&raw) {
        assert_common(doc, r);
        assert!(
            doc["log"]["syslog"].get("version").is_none(),
            "RFC 3164-style"
        );
    }
    assert_eq!(d[0]["@timestamp"], "2024-04-01T00:20:31.512345Z");
    assert_eq!(d[0]["host"]["hostname"], "fileserv01");
    assert_eq!(d[0]["process"], json!({"name": "sshd", "pid": 2817}));
    assert_eq!(
        d[0]["message"],
        "Failed password for invalid user admin from 203.0.113.77 port 40022 ssh2"
    );
    assert_eq!(d[1]["process"], json!({"name": "systemd", "pid": 1}));
    assert_eq!(d[1]["host"]["name"], "zeimu-db01");
    assert_eq!(d[1]["log"]["syslog"]["facility"]["name"], "daemon");
}

#[test]
fn rsyslog_traditional_format_uses_receive_year_and_default_zone() {
    let raw = fixture("rsyslog_traditional.log");
    let d = parse_all("rsyslog_traditional.log");
    for (doc, r) in d.iter().zip(&raw) {
        assert_common(doc, r);
    }
    // Apr  1 09:22:45 JST, year from the receive time.
    assert_eq!(d[0]["@timestamp"], "2024-04-01T00:22:45.000Z");
    assert_eq!(d[0]["process"]["pid"], 2901);
    assert!(
        d[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("pam_unix(sshd:session): session opened for user tanaka")
    );
    // The sudo line is enriched (format/auth.rs): the command run, with sudo as its parent.
    assert_eq!(d[1]["process"]["parent"], json!({"name": "sudo"}));
    assert_eq!(d[1]["process"]["name"], "tar");
    assert_eq!(d[1]["log"]["syslog"]["severity"]["name"], "notice");
    assert!(
        d[1]["message"]
            .as_str()
            .unwrap()
            .ends_with("/srv/share/住民記録")
    );
}

#[test]
fn traditional_format_without_default_zone_is_utc() {
    let line = &fixture("rsyslog_traditional.log")[0];
    let mut c = ctx();
    c.default_offset = None;
    let d = parse_syslog(line, &c).unwrap();
    assert_eq!(d["@timestamp"], "2024-04-01T09:22:45.000Z");
}

#[test]
fn logger_rfc5424() {
    let d = parse_all("logger_rfc5424.log");
    assert_eq!(d[0]["process"], json!({"name": "tanaka"}));
    assert_eq!(d[0]["host"]["hostname"], "kumin-pc12");
    assert_eq!(
        d[0]["log"]["syslog"]["structured_data"]["timeQuality"],
        json!({"tzKnown": "1", "isSynced": "1", "syncAccuracy": "406500"})
    );
    assert_eq!(d[0]["message"], "窓口端末からテスト送信");
    assert_eq!(d[0]["log"]["syslog"]["facility"]["name"], "user");
    assert_eq!(d[0]["log"]["syslog"]["severity"]["name"], "notice");
    assert_eq!(d[0]["event"]["dataset"], "syslog.tanaka");
    assert_eq!(d[1]["process"]["pid"], 4242);
    assert_eq!(d[1]["log"]["syslog"]["procid"], "4242");
    assert_eq!(d[1]["message"], "--id 付きの送信");
}

#[test]
fn logger_rfc3164() {
    let d = parse_all("logger_rfc3164.log");
    assert_eq!(d[0]["host"]["hostname"], "kumin-pc12");
    assert_eq!(d[0]["process"], json!({"name": "tanaka"}));
    assert_eq!(d[0]["message"], "テストメッセージ（rfc3164）");
    assert_eq!(d[0]["@timestamp"], "2024-04-01T00:25:00.000Z");
    assert_eq!(d[1]["process"], json!({"name": "tanaka", "pid": 4250}));
    assert_eq!(d[1]["message"], "--id 付き");
}

#[test]
fn postfix() {
    let d = parse_all("postfix.log");
    for doc in &d {
        assert_eq!(doc["log"]["syslog"]["facility"]["name"], "mail");
        assert_eq!(doc["host"]["hostname"], "mail01");
    }
    assert_eq!(
        d[0]["process"],
        json!({"name": "postfix/cleanup", "pid": 4319})
    );
    assert_eq!(d[0]["event"]["dataset"], "syslog.postfix/cleanup");
    assert!(d[1]["message"].as_str().unwrap().starts_with(
        "3F2A1C0D4E: to=<kacho@city.example.lg.jp>, relay=mx.example.jp[203.0.113.10]:25"
    ));
    assert_eq!(d[2]["process"]["name"], "postfix/qmgr");
    assert_eq!(d[2]["@timestamp"], "2024-04-01T00:26:12.000123Z");
    assert_eq!(d[2]["message"], "3F2A1C0D4E: removed");
}

#[test]
fn sshd() {
    let d = parse_all("sshd.log");
    assert_eq!(d[0]["host"]["hostname"], "gw01");
    assert_eq!(d[0]["log"]["syslog"]["facility"]["name"], "auth");
    assert_eq!(
        d[0]["message"],
        "Connection closed by authenticating user root 198.51.100.23 port 51234 [preauth]"
    );
    assert_eq!(d[1]["log"]["syslog"]["facility"]["name"], "authpriv");
    assert_eq!(d[1]["process"]["pid"], 1001);
}

#[test]
fn samba_full_audit() {
    let d = parse_all("samba_full_audit.log");
    for doc in &d {
        assert_eq!(doc["process"], json!({"name": "smbd_audit"}));
        assert_eq!(doc["event"]["dataset"], "syslog.smbd_audit");
        assert_eq!(doc["log"]["syslog"]["facility"]["name"], "local5");
        assert_eq!(doc["log"]["syslog"]["severity"]["name"], "notice");
    }
    assert_eq!(
        d[0]["message"],
        "tanaka|10.20.30.41|kumin-pc12|kojin_joho|openat|ok|r|住民票/2024/山田太郎.pdf"
    );
    assert_eq!(d[0]["@timestamp"], "2024-04-01T00:31:07.000Z");
    let fields: Vec<&str> = d[2]["message"].as_str().unwrap().split('|').collect();
    assert_eq!(fields[4], "unlinkat");
    assert_eq!(fields[5], "fail (Permission denied)");
    assert_eq!(fields[6], "住民票/2024/鈴木花子.pdf");
}

#[test]
fn best_effort_lines_become_flagged_documents() {
    let raw = fixture("best_effort.log");
    let d = parse_all("best_effort.log");
    for (doc, r) in d.iter().zip(&raw) {
        assert_common(doc, r);
    }
    // No PRI (a line copied from /var/log/messages): RFC 3164 §4.3.3 user.notice.
    assert_eq!(d[0]["mamori"]["syslog"]["pri_missing"], true);
    assert_eq!(d[0]["log"]["syslog"]["priority"], 13);
    assert_eq!(d[0]["process"]["name"], "kernel");
    assert!(
        d[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("[12345.678] usb 1-1")
    );
    // Valid PRI but no timestamp: everything after PRI is the message.
    assert_eq!(d[1]["message"], "systemd: started 不明なヘッダ");
    assert_eq!(d[1]["mamori"]["syslog"]["header_unparsed"], true);
    assert_eq!(d[1]["@timestamp"], "2024-04-01T00:30:00.000Z");
    assert_eq!(d[1]["log"]["syslog"]["severity"]["name"], "info");
    // PRI only.
    assert_eq!(d[2]["message"], "");
    // RFC 5424 NILVALUE timestamp.
    assert_eq!(d[3]["mamori"]["syslog"]["timestamp_from_received"], true);
    assert!(d[3]["mamori"]["syslog"].get("header_unparsed").is_none());
    assert_eq!(d[3]["message"], "時刻なし");
    assert_eq!(d[3]["@timestamp"], "2024-04-01T00:30:00.000Z");
}

#[test]
fn broken_pri_lines_are_errors() {
    let lines = fixture("errors.log");
    let kinds: Vec<SyslogErrorKind> = lines
        .iter()
        .map(|l| parse_syslog(l, &ctx()).unwrap_err().kind)
        .collect();
    assert_eq!(kinds[0], SyslogErrorKind::PriOutOfRange { value: 192 });
    for k in &kinds[1..] {
        assert!(matches!(k, SyslogErrorKind::InvalidPri { .. }), "{k:?}");
    }
}

#[test]
fn shift_jis_message_is_kept_and_flagged() {
    let raw = &fixture("shift_jis.log")[0];
    let d = parse_syslog(raw, &ctx()).unwrap();
    assert_eq!(d["mamori"]["syslog"]["invalid_utf8"], true);
    assert!(d["mamori"]["syslog"]["original_base64"].is_string());
    assert_eq!(d["process"]["name"], "legacy-app");
    assert_eq!(d["host"]["hostname"], "kumin-pc12");
    assert!(d["message"].as_str().unwrap().contains('\u{FFFD}'));
    assert_eq!(d["@timestamp"], "2024-04-01T00:42:00.000Z");
}

#[test]
fn frame_offset_becomes_log_offset() {
    let mut c = ctx();
    c.frame_offset = Some(4096);
    let d = parse_syslog(&fixture("sshd.log")[0], &c).unwrap();
    assert_eq!(d["log"]["offset"], 4096);
}

#[test]
fn no_peer_means_no_source() {
    let mut c = ctx();
    c.peer = None;
    let raw = &fixture("sshd.log")[0];
    let d = parse_syslog(raw, &c).unwrap();
    // No peer: no sender address anywhere; a source.ip may only be the client named in the message.
    assert!(d.get("observer").and_then(|o| o.get("ip")).is_none());
    if let Some(ip) = d.get("source").and_then(|s| s.get("ip")).and_then(|v| v.as_str()) {
        assert_ne!(ip, "10.20.30.1");
        assert!(String::from_utf8_lossy(raw).contains(ip));
    }
}
