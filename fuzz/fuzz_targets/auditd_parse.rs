//! Any bytes as an `audit.log`: must never panic; every line is either in exactly one event
//! or one error (nothing lost), errors name a line inside the input, and every event has an
//! action and at least one record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_sources::parse_auditd;

fuzz_target!(|data: &[u8]| {
    let lines = data.split(|&b| b == b'\n').filter(|l| !l.iter().all(|b| b.is_ascii_whitespace())).count();
    let out = mamori_sources::format::auditd::parse_auditd_with_window(data, 3);
    let mut seen = 0;
    for r in &out {
        match r {
            Ok(ev) => {
                let recs = ev.doc["mamori"]["audit"]["records"].as_array().expect("records").len();
                assert!(recs >= 1);
                assert!(ev.doc["event"]["action"].is_string());
                seen += recs;
            }
            Err(e) => {
                assert!(e.line >= 1 && (e.offset as usize) <= data.len());
                seen += 1;
            }
        }
    }
    // EOE records are consumed by the assembler and not kept as records.
    let eoe = data.split(|&b| b == b'\n').filter(|l| l.starts_with(b"type=EOE msg=audit(")).count();
    assert!(seen + eoe >= lines, "{seen} + {eoe} < {lines}");
    let _ = parse_auditd(data);
});
