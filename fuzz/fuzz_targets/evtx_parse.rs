//! Any bytes as an EVTX file: never panic; every mapped record is accepted by the event model;
//! every error points inside the file and carries a hint.
//!
//! Input that does not start with the file magic is used as chunk bytes behind a minimal file
//! header, so the fuzzer spends its time in chunk and record parsing (where hostile offsets
//! live) instead of rediscovering `ElfFile\0`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_sources::parse_evtx;

fuzz_target!(|data: &[u8]| {
    let owned;
    let file: &[u8] = if data.starts_with(b"ElfFile\0") {
        data
    } else {
        let mut f = b"ElfFile\0".to_vec();
        f.resize(4096, 0);
        f.extend_from_slice(data);
        owned = f;
        &owned
    };
    for item in parse_evtx("fuzz.evtx", file) {
        match item {
            Ok(ev) => {
                assert!(ev.offset < file.len() as u64 + 65536);
                if let Err(e) = mamori_event::normalize(ev.doc, chrono::Utc::now()) {
                    panic!("mapped record {} refused: {e}", ev.record);
                }
            }
            Err(e) => {
                assert!(e.offset <= file.len() as u64, "{e}");
                assert!(e.to_string().contains("hint:"));
            }
        }
    }
});
