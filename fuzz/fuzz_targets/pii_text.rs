//! Any bytes as a .txt file for the personal-data scanner: never panic; every finding has a
//! confidence in 0..=1 and a non-empty value; limits keep time and memory bounded.
//! Panics inside the third-party parsers the scanner guards are survived, as in the product
//! (see guarded_panics.rs); any other panic is a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod guarded_panics;

fuzz_target!(init: guarded_panics::install(), |data: &[u8]| {
    let mut opts = mamori_pii::Options::default();
    opts.limits.max_unpacked_bytes = 8 << 20;
    opts.limits.max_cells = 100_000;
    opts.limits.max_time = std::time::Duration::from_secs(5);
    let r = mamori_pii::scan_bytes("fuzz.txt", data, &opts);
    for f in &r.findings {
        assert!((0.0..=1.0).contains(&f.confidence));
        assert!(!f.value.is_empty() || f.count > 1);
        let _ = f.masked();
    }
});
