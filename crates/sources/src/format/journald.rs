//! systemd journal entries as `journalctl -o json` prints them (one JSON object per line) to
//! the same ECS document a syslog line gives, then the same program enrichers (Samba audit,
//! sshd/sudo/su/PAM/slapd, kernel USB) — so `journalctl -o json | mamori ingest --format
//! journald` and rsyslog forwarding produce the same events.
//!
//! Fields used (systemd.journal-fields(7)): `__REALTIME_TIMESTAMP` (µs since the epoch),
//! `MESSAGE` (a string, or an array of bytes when not UTF-8), `SYSLOG_IDENTIFIER` (else
//! `_COMM`), `_PID`, `_HOSTNAME`, `PRIORITY`, `SYSLOG_FACILITY`, `_TRANSPORT`, `_SYSTEMD_UNIT`,
//! `__CURSOR`, `_BOOT_ID`. A line that is not a JSON object, or has no `MESSAGE`, is an error
//! naming the line and offset.

use serde_json::{Map, Value};

use super::syslog::set;

/// A line that is not a journal entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("journald 行 {line} (offset {offset}) を解析できません / cannot parse journal entry: {what}; hint: use `journalctl -o json` (one JSON object per line)")]
pub struct JournaldError {
    /// 1-based line.
    pub line: usize,
    /// Byte offset of the line.
    pub offset: u64,
    /// What is wrong.
    pub what: String,
    /// The line's bytes.
    pub raw: Vec<u8>,
}

const FACILITY: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];
const SEVERITY: [&str; 8] = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        // Binary fields: an array of byte values.
        Value::Array(a) => Some(String::from_utf8_lossy(&a.iter().filter_map(|b| b.as_u64().map(|b| b as u8)).collect::<Vec<u8>>()).into_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Parses one `journalctl -o json` line.
pub fn parse_journal_entry(line: &[u8], line_no: usize, offset: u64, received: chrono::DateTime<chrono::Utc>) -> Result<Map<String, Value>, JournaldError> {
    let err = |what: String| JournaldError { line: line_no, offset, what, raw: line.to_vec() };
    let v: Value = serde_json::from_slice(line).map_err(|e| err(format!("not JSON ({e})")))?;
    let Value::Object(e) = v else { return Err(err("not a JSON object".into())) };
    let get = |k: &str| e.get(k).and_then(text);
    let message = get("MESSAGE").ok_or_else(|| err("no MESSAGE field".into()))?;
    let mut doc = Map::new();
    let ts = get("__REALTIME_TIMESTAMP")
        .and_then(|t| t.parse::<i64>().ok())
        .and_then(chrono::DateTime::from_timestamp_micros)
        .unwrap_or(received);
    set(&mut doc, &["@timestamp"], mamori_event::format_ts(ts).into());
    let ident = get("SYSLOG_IDENTIFIER").or_else(|| get("_COMM"));
    set(&mut doc, &["event", "kind"], "event".into());
    set(&mut doc, &["event", "module"], "journald".into());
    set(&mut doc, &["event", "dataset"], format!("journald.{}", ident.as_deref().unwrap_or("unknown")).into());
    set(&mut doc, &["event", "created"], mamori_event::format_ts(received).into());
    set(&mut doc, &["event", "original"], String::from_utf8_lossy(line).into_owned().into());
    if let Some(h) = get("_HOSTNAME") {
        set(&mut doc, &["host", "hostname"], h.clone().into());
        set(&mut doc, &["host", "name"], h.into());
    }
    if let Some(i) = &ident {
        set(&mut doc, &["process", "name"], i.clone().into());
    }
    if let Some(p) = get("_PID").or_else(|| get("SYSLOG_PID")).and_then(|p| p.parse::<u64>().ok()) {
        set(&mut doc, &["process", "pid"], p.into());
    }
    let sev = get("PRIORITY").and_then(|p| p.parse::<usize>().ok()).filter(|p| *p < 8);
    let fac = get("SYSLOG_FACILITY").and_then(|p| p.parse::<usize>().ok()).filter(|p| *p < 24);
    if let Some(s) = sev {
        set(&mut doc, &["log", "level"], SEVERITY[s].into());
        set(&mut doc, &["log", "syslog", "severity", "code"], s.into());
        set(&mut doc, &["log", "syslog", "severity", "name"], SEVERITY[s].into());
    }
    if let Some(f) = fac {
        set(&mut doc, &["log", "syslog", "facility", "code"], f.into());
        set(&mut doc, &["log", "syslog", "facility", "name"], FACILITY[f].into());
    }
    if let Some(i) = &ident {
        set(&mut doc, &["log", "syslog", "appname"], i.clone().into());
    }
    for (k, f) in [("transport", "_TRANSPORT"), ("unit", "_SYSTEMD_UNIT"), ("cursor", "__CURSOR"), ("boot_id", "_BOOT_ID")] {
        if let Some(v) = get(f) {
            set(&mut doc, &["mamori", "journald", k], v.into());
        }
    }
    set(&mut doc, &["message"], message.into());
    super::samba_audit::enrich_syslog_doc(&mut doc);
    super::auth::enrich_syslog_doc(&mut doc);
    super::kernel_usb::enrich_syslog_doc(&mut doc);
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_message_and_errors() {
        let now = chrono::Utc::now();
        let d = parse_journal_entry(br#"{"MESSAGE":[117,115,98,32,49,45,49,58,32,83,101,114,105,97,108,78,117,109,98,101,114,58,32,65,255],"SYSLOG_IDENTIFIER":"kernel","__REALTIME_TIMESTAMP":"1796187548070298"}"#, 1, 0, now).unwrap();
        assert_eq!(d["mamori"]["usb"]["bus_path"], "1-1");
        assert_eq!(d["@timestamp"], "2026-12-02T04:59:08.070298Z");
        let e = parse_journal_entry(b"{\"X\":1}", 4, 99, now).unwrap_err();
        assert_eq!((e.line, e.offset), (4, 99));
        assert!(parse_journal_entry(b"[1]", 1, 0, now).is_err());
    }
}
