//! Any bytes as a CUPS page_log and as an access_log line: must never panic;
//! accepted lines name printer and job (page_log) or method (access_log) and
//! pass `mamori_event::normalize`; errors point inside the line.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use mamori_sources::format::cups::{access_log_line_doc, page_log_line_doc};
use mamori_sources::{LinePos, parse_access_log_line, parse_page_log_line};

fuzz_target!(|data: &[u8]| {
    let received = Utc.with_ymd_and_hms(2026, 12, 2, 4, 0, 0).unwrap();
    let pos = LinePos { line: 3, offset: 99 };
    let within = |c: usize| c >= 1 && c <= data.len().max(1) + 1;
    match parse_page_log_line(data, pos) {
        Ok(d) => {
            assert!(d["mamori"]["print"]["printer"].is_string());
            assert!(d["mamori"]["print"]["job_id"].is_string());
            mamori_event::normalize(d, received).expect("valid event");
        }
        Err(e) => assert!(within(e.column), "column {} of {} bytes", e.column, data.len()),
    }
    match parse_access_log_line(data, pos) {
        Ok(d) => {
            assert!(d["http"]["request"]["method"].is_string());
            mamori_event::normalize(d, received).expect("valid event");
        }
        Err(e) => assert!(within(e.column), "column {} of {} bytes", e.column, data.len()),
    }
    for (d, _) in [page_log_line_doc(data, pos), access_log_line_doc(data, pos)] {
        mamori_event::normalize(d, received).expect("a kept raw line is a valid event");
    }
});
