//! Any bytes as the message of an sshd / sudo / su / slapd / kernel syslog line, run through
//! the line correlator as well: must never panic; every document keeps its message; an
//! action always comes with a category; a `source.ip` is always an IP address.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use mamori_sources::format::correlate::LineCorrelator;
use mamori_sources::{SyslogContext, parse_syslog};

fuzz_target!(|data: &[u8]| {
    // The same bytes as a `journalctl -o json` line.
    if let Ok(doc) = mamori_sources::format::journald::parse_journal_entry(data, 1, 0, Utc.with_ymd_and_hms(2026, 12, 2, 4, 0, 0).unwrap()) {
        assert!(doc.get("message").is_some());
    }
    let ctx = SyslogContext::new(Utc.with_ymd_and_hms(2026, 12, 2, 4, 0, 0).unwrap());
    let mut corr = LineCorrelator::default();
    for part in data.split(|&b| b == b'\n') {
        for app in ["sshd[1]", "sudo", "su[2]", "slapd[3]", "kernel"] {
            let mut line = format!("<38>Dec  2 03:54:00 vm {app}: ").into_bytes();
            line.extend_from_slice(part);
            let Ok(mut doc) = parse_syslog(&line, &ctx) else { continue };
            corr.observe(&mut doc);
            assert!(doc.get("message").is_some());
            if let Some(ev) = doc.get("event").filter(|e| e.get("action").is_some()) {
                assert!(ev["category"].is_array());
            }
            if let Some(ip) = doc.get("source").and_then(|s| s.get("ip")) {
                ip.as_str().unwrap().parse::<std::net::IpAddr>().unwrap();
            }
        }
    }
});
