//! Any bytes as a webhook body, and any text as a mapping file: must never panic; every record
//! is either a document with the mapping's name or an error naming a line ≥ 1 and keeping the raw
//! bytes; a mapping file either parses or names a key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_sources::{Mapping, parse_webhook};

fuzz_target!(|data: &[u8]| {
    let received = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    for name in ["chat-a", "share-b"] {
        let m = Mapping::builtin(name).unwrap();
        for r in parse_webhook(&m, "fuzz", data, received) {
            match r {
                Ok(rec) => {
                    assert_eq!(rec.doc["mamori"]["mapping"]["name"], name);
                    let _ = mamori_event::normalize(rec.doc, received);
                }
                Err(e) => assert!(e.line >= 1 && !e.raw.is_empty()),
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        match Mapping::parse(text, "fuzz.toml") {
            Ok(m) => {
                let _ = parse_webhook(&m, "self", data, received);
                let _ = mamori_sources::parse_csv_mapped(&m, "self", data, received);
            }
            Err(e) => assert!(!e.key.is_empty()),
        }
    }
});
