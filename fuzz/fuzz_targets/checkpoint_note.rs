//! Any bytes as a signed checkpoint (from a witness peer or `verify --url`): never panic, and
//! never verify under a key that did not sign it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_ledger::SignedCheckpoint;
use mamori_ledger::checkpoint::CheckpointSigner;
use std::sync::OnceLock;

fn vkey() -> &'static str {
    static K: OnceLock<String> = OnceLock::new();
    K.get_or_init(|| CheckpointSigner::generate("fuzz.example/log").unwrap().0.vkey().to_owned())
}

fuzz_target!(|data: &[u8]| {
    let _ = SignedCheckpoint::parse_unverified(data);
    assert!(SignedCheckpoint::verify(data, vkey(), &[]).is_err());
});
