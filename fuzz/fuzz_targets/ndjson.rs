//! Any bytes as an NDJSON body: never panic; errors point at their line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_sources::{ndjson_lines, parse_ndjson};

fuzz_target!(|data: &[u8]| {
    let all = parse_ndjson(data, 256);
    let with_lines: Vec<_> = ndjson_lines(data, 256).collect();
    assert_eq!(all.len(), with_lines.len());
    for r in with_lines {
        match r {
            Ok(rec) => assert!(rec.line >= 1 && rec.offset < data.len()),
            Err(e) => assert_eq!(&data[e.offset..e.offset + e.raw.len()], &e.raw[..]),
        }
    }
});
