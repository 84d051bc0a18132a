//! Any bytes as a payload-store record and as an entry bundle: never panic; a decoded record
//! re-encodes to the same bytes; bundle splitting accounts for every byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_ledger::tiles::{push_bundle_entry, split_bundle};
use mamori_ledger::wal::{decode_record, encode_record};

fuzz_target!(|data: &[u8]| {
    if let Ok((rec, n)) = decode_record(data) {
        assert!(n <= data.len());
        if !rec.erased {
            let mut buf = Vec::new();
            encode_record(&mut buf, rec.index, rec.kind, rec.ingested_micros, &rec.salt, &rec.payload);
            assert_eq!(&buf[..], &data[..n]);
        }
    }
    if let Ok(entries) = split_bundle(data) {
        let mut again = Vec::new();
        for e in entries {
            push_bundle_entry(&mut again, e);
        }
        assert_eq!(again, data);
    }
    let _ = mamori_ledger::entry::Entry::parse(data);
});
