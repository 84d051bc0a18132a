//! Any bytes as a Squid access.log line: must never panic; an accepted line
//! has a method and a result code, its document passes
//! `mamori_event::normalize`; an error points inside the line.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use mamori_sources::{LinePos, parse_squid_line};

fuzz_target!(|data: &[u8]| {
    let received = Utc.with_ymd_and_hms(2026, 12, 2, 4, 0, 0).unwrap();
    let pos = LinePos { line: 7, offset: 1234 };
    match parse_squid_line(data, pos) {
        Ok(d) => {
            assert!(d["mamori"]["squid"]["format"].is_string());
            assert!(d["event"]["action"].is_string());
            mamori_event::normalize(d, received).expect("a parsed Squid line is a valid event");
        }
        Err(e) => {
            assert_eq!((e.line, e.offset), (7, 1234));
            assert!(e.column >= 1 && e.column <= data.len().max(1) + 1, "column {} of {} bytes", e.column, data.len());
            let (d, _) = mamori_sources::format::squid::squid_line_doc(data, pos);
            mamori_event::normalize(d, received).expect("a kept raw line is a valid event");
        }
    }
});
