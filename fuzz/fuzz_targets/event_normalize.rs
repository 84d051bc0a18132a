//! Any JSON object through the event model: never panic; a normalised document normalises to
//! itself again (normalisation is idempotent) and always has `@timestamp`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(serde_json::Value::Object(doc)) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    if let Ok(d) = mamori_event::normalize(doc, now) {
        assert!(d.contains_key("@timestamp"));
        assert_eq!(mamori_event::normalize(d.clone(), now).unwrap(), d);
    }
});
