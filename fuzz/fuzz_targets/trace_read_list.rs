//! Any bytes as a leaked list (CSV in any encoding, xlsx, PDF, free text): never panic; every
//! record read is usable (has a feature pair) and yields features; rejects carry a location.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = mamori_trace::FingerprintKey::new(b"fuzz");
    if let Ok(list) = mamori_trace::read_list("fuzz", data) {
        for l in &list.records {
            assert!(!mamori_trace::features(&key, &l.record).is_empty());
        }
        assert!(list.rejected.iter().all(|r| !r.location.is_empty()));
    }
});
