//! Any bytes as a business-system CSV export, read with each shipped CSV mapping: must never
//! panic; every row is either a document with the mapping's name and a timestamp, or an error
//! naming a line ≥ 1 and keeping the row's text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_sources::{Mapping, parse_csv_mapped};

fuzz_target!(|data: &[u8]| {
    let received = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    for name in ["juki-a", "zeimu-b", "fukushi-c"] {
        let m = Mapping::builtin(name).unwrap();
        for r in parse_csv_mapped(&m, "fuzz.csv", data, received).rows {
            match r {
                Ok(rec) => {
                    assert_eq!(rec.doc["mamori"]["mapping"]["name"], name);
                    assert!(rec.doc["@timestamp"].is_string());
                    let _ = mamori_event::normalize(rec.doc, received);
                }
                Err(e) => {
                    assert!(e.line >= 1);
                    let _ = e.to_string();
                }
            }
        }
    }
});
