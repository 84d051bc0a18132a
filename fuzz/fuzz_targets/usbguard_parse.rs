//! Any bytes as a USBGuard audit log / `usbguard watch` output, and as a kernel USB syslog
//! message through the line correlator: must never panic; every non-blank line or block is an
//! event or an error that names a line inside the input; IDs, when set, are 4 lower-case hex
//! digits.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use mamori_sources::format::correlate::LineCorrelator;
use mamori_sources::format::usbguard::parse_usbguard;
use mamori_sources::{SyslogContext, parse_syslog};

fn hex4(v: &serde_json::Value) {
    if let Some(s) = v.as_str() {
        assert!(s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{s:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let lines = String::from_utf8_lossy(data).split('\n').count();
    for r in parse_usbguard(data) {
        match r {
            Ok(ev) => {
                assert!(ev.line >= 1 && ev.line <= lines);
                assert!(ev.doc["event"]["action"].is_string());
            }
            Err(e) => assert!(e.line >= 1 && e.line <= lines),
        }
    }
    let ctx = SyslogContext::new(Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap());
    let mut corr = LineCorrelator::default();
    for part in data.split(|&b| b == b'\n') {
        let mut line = b"<6>Dec  2 09:10:01 pc kernel: ".to_vec();
        line.extend_from_slice(part);
        if let Ok(mut doc) = parse_syslog(&line, &ctx) {
            corr.observe(&mut doc);
            if let Some(usb) = doc.get("mamori").and_then(|m| m.get("usb")) {
                hex4(&usb["vendor_id"]);
                hex4(&usb["product_id"]);
            }
        }
    }
});
