//! Any text through every field normaliser and the free-text record parser: never panic, and
//! normalising is idempotent for names (a normalised name normalises to itself).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_trace::normalize;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Some(n) = normalize::name(s) {
        assert_eq!(normalize::name(&n).as_deref(), Some(n.as_str()));
    }
    let _ = normalize::birth(s);
    let _ = normalize::address(s);
    let _ = normalize::phone(s);
    let _ = normalize::postal(s);
    let mut r = mamori_trace::Record::default();
    mamori_trace::record::parse_free(s, &mut r);
});
