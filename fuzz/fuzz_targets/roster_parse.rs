//! Any bytes as an HR roster CSV: never panic; every refused row names a row ≥ 1; rows that
//! imported are applied to a directory without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let (_rows, errors) = mamori_directory::parse_roster(data, at);
    assert!(errors.iter().all(|e| e.row >= 1));
    let rec = mamori_directory::ImportRecord::from_csv("fuzz", data, at, None);
    let mut dir = mamori_directory::Directory::new();
    let _ = dir.apply(&rec);
});
