//! Any bytes as an EVTX file: never panic; every mapped record is accepted by the event model;
//! every error points inside the file and carries a hint; two threads give the same items as one.
//!
//! Input that does not start with the file magic is used as chunk bytes behind a minimal file
//! header, so the fuzzer spends its time in chunk and record parsing (where hostile offsets
//! live) instead of rediscovering `ElfFile\0`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_sources::parse_evtx_threads;

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
    let items = parse_evtx_threads("fuzz.evtx", file, 1);
    // Chunks split among threads: the same items in the same order.
    if file.len() > 4096 + 65536 {
        assert!(parse_evtx_threads("fuzz.evtx", file, 2) == items, "2 threads gave other items");
    }
    for item in items {
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
