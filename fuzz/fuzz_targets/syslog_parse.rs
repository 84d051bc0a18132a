//! Any bytes as one syslog frame: must return Ok or Err, never panic, and an
//! Ok document must have the fields every consumer relies on.
#![no_main]

use chrono::{FixedOffset, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use mamori_sources::{SyslogContext, parse_syslog};

fuzz_target!(|data: &[u8]| {
    // First byte picks the receive month so RFC 3164 year inference is
    // exercised around New Year too.
    let month = data.first().map_or(1, |b| u32::from(b % 12) + 1);
    let ctx = SyslogContext {
        received: Utc.with_ymd_and_hms(2024, month, 1, 0, 0, 0).unwrap(),
        peer: None,
        default_offset: FixedOffset::east_opt(9 * 3600),
        frame_offset: Some(0),
    };
    match parse_syslog(data, &ctx) {
        Ok(doc) => {
            assert!(doc["@timestamp"].is_string());
            assert!(doc["log"]["syslog"]["priority"].as_u64().unwrap() <= 191);
            assert!(doc["event"]["original"].is_string());
        }
        Err(e) => assert!(e.offset <= data.len()),
    }
});
