//! Any bytes as an Elasticsearch `_bulk` body: the action/document pairing never panics, every
//! item points at a real line of the body, and quarantined bytes are exactly the body's bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_sources::{BulkItem, ndjson_lines, pair_bulk};

fuzz_target!(|data: &[u8]| {
    let lines = ndjson_lines(data, 4096).count();
    let items = pair_bulk(data, 4096, Some("logs"));
    // One item per action line, and an action consumes at most one document line.
    assert!(items.len() <= lines && items.len() * 2 >= lines, "{} items for {lines} lines", items.len());
    let mut last_line = 0;
    for item in &items {
        let line = match item {
            BulkItem::Doc { action, record, .. } => {
                assert!(action == "index" || action == "create");
                assert!(record.offset < data.len());
                record.line
            }
            BulkItem::Quarantine { error, reason, .. } => {
                assert_eq!(&data[error.offset..error.offset + error.raw.len()], &error.raw[..]);
                assert!(!reason.is_empty());
                error.line
            }
            BulkItem::Refused(r) => {
                let v = r.to_es_item();
                let obj = v.as_object().expect("ES item is an object");
                assert_eq!(obj.len(), 1);
                assert_eq!(obj[&r.action]["status"], r.status);
                assert!(r.status == 400 || r.status == 405);
                r.line
            }
        };
        // Items come in body order, each on a later line than the one before.
        assert!(line > last_line, "line {line} after {last_line}");
        last_line = line;
    }
});
