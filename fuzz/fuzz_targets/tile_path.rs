//! Any string as a tile path (it comes from an HTTP request): never panic, and whatever parses
//! prints back to exactly the same path (only canonical paths are accepted).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_ledger::tiles::TileId;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(t) = TileId::parse(s) {
            assert_eq!(t.path(), s);
            assert!((1..=256).contains(&t.width));
        }
    }
});
