//! Any bytes as a Samba `vfs_full_audit` message, both directly and wrapped
//! in an `smbd_audit` syslog line: must never panic, every result must be
//! either flagged unparsed or carry an action and outcome, and a share-relative
//! `file.path` is always absolute and free of `.`/`..` segments.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use mamori_sources::{SyslogContext, parse_samba_audit, parse_syslog};
use serde_json::{Map, Value};

fn check(doc: &Map<String, Value>) {
    let unparsed = doc
        .get("mamori")
        .and_then(|m| m.get("samba"))
        .and_then(|s| s.get("unparsed"))
        == Some(&Value::Bool(true));
    if let Some(ev) = doc.get("event").filter(|e| e.get("action").is_some()) {
        assert!(ev["outcome"] == "success" || ev["outcome"] == "failure");
    } else {
        assert!(unparsed);
    }
    if let Some(p) = doc.get("file").and_then(|f| f.get("path")) {
        let p = p.as_str().unwrap();
        assert!(p.starts_with('/'));
        assert!(!p.split('/').any(|s| s == "." || s == ".."));
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut doc = Map::new();
    parse_samba_audit(&text, &mut doc);
    check(&doc);

    let mut line = b"<173>Nov 23 13:38:18 fs01 smbd_audit: ".to_vec();
    line.extend_from_slice(data);
    let ctx = SyslogContext::new(Utc.with_ymd_and_hms(2026, 11, 23, 13, 40, 0).unwrap());
    if let Ok(doc) = parse_syslog(&line, &ctx)
        && doc.get("process").and_then(|p| p.get("name")) == Some(&Value::from("smbd_audit"))
    {
        check(&doc);
    }
});
