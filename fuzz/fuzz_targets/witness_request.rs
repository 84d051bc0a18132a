//! Any bytes as a tlog-witness add-checkpoint body: never panic; only a well-formed request can
//! be cosigned, and a refused request leaves the witness state unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_ledger::checkpoint::{CheckpointSigner, Cosigner};
use mamori_ledger::witness::{AddOutcome, Witness};
use std::sync::OnceLock;

fn keys() -> &'static (String, String, Vec<u8>) {
    static K: OnceLock<(String, String, Vec<u8>)> = OnceLock::new();
    K.get_or_init(|| {
        let (log, _) = CheckpointSigner::generate("fuzz.example/log").unwrap();
        let (_, wkey) = Cosigner::generate("fuzz.example/witness");
        let cp = log.sign(0, &mamori_ledger::merkle::EMPTY_TREE_HASH).unwrap();
        (log.vkey().to_owned(), wkey, cp.note)
    })
}

fuzz_target!(|data: &[u8]| {
    let (vkey, wkey, note) = keys();
    let mut w = Witness::new(Cosigner::from_skey(wkey).unwrap(), Default::default());
    w.add_log(vkey).unwrap();
    let before = w.state_json();
    // Half the time, splice the fuzz bytes in front of a valid checkpoint.
    let body = if data.first().is_some_and(|b| b & 1 == 1) {
        let mut b = data[1..].to_vec();
        b.extend_from_slice(note);
        b
    } else {
        data.to_vec()
    };
    match w.add_checkpoint(&body, 1_700_000_000) {
        AddOutcome::Cosigned(line) => assert!(line.starts_with("— ".as_bytes())),
        _ => assert_eq!(before, w.state_json()),
    }
});
