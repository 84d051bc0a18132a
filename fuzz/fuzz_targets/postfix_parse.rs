//! Any bytes as a Postfix log message, directly and as an rsyslog-forwarded
//! `postfix/<daemon>` line, then through the queue-id correlator: must never
//! panic; every enriched line names its component; every derived message event
//! passes `mamori_event::normalize` and carries the queue id it was built from.
#![no_main]

use chrono::{TimeDelta, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use mamori_sources::{MailCorrelator, SyslogContext, parse_postfix_message, parse_syslog};
use serde_json::{Map, Value};

const DAEMONS: [&str; 8] = ["smtpd", "cleanup", "qmgr", "smtp", "local", "lmtp", "bounce", "error"];

fn check_message(d: &Map<String, Value>) {
    assert_eq!(d["event"]["dataset"], "postfix.message");
    assert!(d["email"]["local_id"].is_string());
    let received = Utc.with_ymd_and_hms(2026, 12, 2, 4, 0, 0).unwrap();
    mamori_event::normalize(d.clone(), received).expect("derived message events are valid events");
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let daemon = DAEMONS[data.first().map_or(0, |b| *b as usize % DAEMONS.len())];
    let mut doc = Map::new();
    parse_postfix_message(daemon, &text, &mut doc);
    assert_eq!(doc["mamori"]["mail"]["component"], daemon);

    let ctx = SyslogContext::new(Utc.with_ymd_and_hms(2026, 12, 2, 4, 0, 0).unwrap());
    let mut corr = MailCorrelator::new();
    // Each input line is one log line; a few share a queue id so correlation runs.
    for line in data.split(|&b| b == b'\n') {
        let mut raw = format!("<22>Dec  2 12:00:00 mx postfix/{daemon}[1]: ").into_bytes();
        raw.extend_from_slice(line);
        if let Ok(d) = parse_syslog(&raw, &ctx) {
            assert!(d["mamori"]["mail"]["component"].is_string());
            for m in corr.push(&d) {
                check_message(&m);
            }
        }
    }
    for m in corr.expire(Utc.with_ymd_and_hms(2026, 12, 3, 0, 0, 0).unwrap(), TimeDelta::minutes(30)) {
        check_message(&m);
    }
    for m in corr.finish() {
        check_message(&m);
    }
    assert_eq!(corr.open(), 0);
});
