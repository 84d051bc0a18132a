//! Any bytes as `journalctl -o json` output, one entry per line, as `mamori ingest --format
//! journald` reads it (parse each line, then the syslog/journald line correlator): must never
//! panic; every non-blank line is an event or an error naming that line and its offset (with
//! the line's bytes kept); every event passes `mamori_event::normalize`, keeps the line as
//! `event.original` and has `@timestamp`; kernel USB IDs, when set, are 4 lower-case hex digits.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use mamori_sources::format::correlate::LineCorrelator;
use mamori_sources::format::journald::parse_journal_entry;

fn hex4(v: &serde_json::Value) {
    if let Some(s) = v.as_str() {
        assert!(s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{s:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let received = Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap();
    let mut corr = LineCorrelator::default();
    let mut offset = 0u64;
    for (i, line) in data.split(|&b| b == b'\n').enumerate() {
        let here = offset;
        offset += line.len() as u64 + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        match parse_journal_entry(line, i + 1, here, received) {
            Ok(mut doc) => {
                corr.observe(&mut doc);
                assert!(doc.get("@timestamp").is_some_and(|t| t.is_string()));
                assert_eq!(doc["event"]["original"].as_str(), Some(String::from_utf8_lossy(line).as_ref()));
                if let Some(usb) = doc.get("mamori").and_then(|m| m.get("usb")) {
                    hex4(&usb["vendor_id"]);
                    hex4(&usb["product_id"]);
                }
                mamori_event::normalize(doc, received).expect("a parsed journal entry is a valid event");
            }
            Err(e) => {
                assert_eq!((e.line, e.offset), (i + 1, here));
                assert_eq!(e.raw, line);
                assert!(e.to_string().contains(&format!("行 {}", i + 1)));
            }
        }
    }
});
