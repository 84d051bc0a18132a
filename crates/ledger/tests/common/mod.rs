//! Helpers shared by the ledger's integration tests. Each test file uses a subset.
#![allow(dead_code)]

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use ed25519_dalek::SigningKey;
use mamori_ledger::merkle::{Frontier, leaf_hash, subtree_root};
use mamori_ledger::storage::{FsTileStore, TileSource, read_tile_prefix};
use mamori_ledger::tiles::{TILE_WIDTH, TileId, TileKind, push_bundle_entry, split_bundle, tiles_of};
use mamori_ledger::verify::VerifyOptions;
use mamori_ledger::{CheckpointSigner, EntryKind, Hash, Ledger, LedgerConfig, NewEntry, SignedCheckpoint};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const ORIGIN: &str = "test.example.lg.jp/ledger";

/// A signer key derived from a fixed seed, so "the attacker who stole the key" can load it again.
pub fn fixed_skey(origin: &str, seed: u8) -> String {
    let sk = SigningKey::from_bytes(&[seed; 32]);
    let pubkey = [&[0x01u8][..], sk.verifying_key().as_bytes()].concat();
    let id = signed_note::key_id(origin, &pubkey);
    let raw = [&[0x01u8][..], &sk.to_bytes()].concat();
    format!("PRIVATE+KEY+{origin}+{id:08x}+{}", BASE64_STANDARD.encode(raw))
}

pub fn signer() -> CheckpointSigner {
    CheckpointSigner::from_skey(&fixed_skey(ORIGIN, 7)).unwrap()
}

pub fn vkey() -> String {
    signer().vkey().to_owned()
}

pub fn config(dir: &Path) -> LedgerConfig {
    let mut cfg = LedgerConfig::new(dir, signer());
    cfg.checkpoint_interval = Duration::from_millis(5);
    cfg
}

pub fn open(dir: &Path) -> Ledger {
    Ledger::open(config(dir)).unwrap()
}

pub fn payload(i: u64, len: usize) -> Vec<u8> {
    let mut p = format!("{{\"event\":{i}}}").into_bytes();
    p.resize(len.max(p.len()), b'.');
    p
}

/// Appends `n` entries in batches of at most `batch`, numbering payloads from `start`.
pub fn append_n(l: &Ledger, start: u64, n: u64, batch: u64) {
    let mut i = 0;
    while i < n {
        let k = batch.min(n - i);
        let entries = (0..k)
            .map(|j| NewEntry { kind: EntryKind::Event, payload: payload(start + i + j, 16) })
            .collect();
        let r = l.append_blocking(entries).unwrap();
        assert_eq!(r.first_index, start + i);
        assert_eq!(r.count, k);
        i += k;
    }
}

/// Appends until `size`, waits for the checkpoint of exactly `size`, and closes.
pub fn grow_to(dir: &Path, size: u64) -> SignedCheckpoint {
    let l = open(dir);
    let have = l.durable_size();
    assert!(have <= size);
    append_n(&l, have, size - have, 4096);
    let cp = l.wait_checkpoint(size, Duration::from_secs(60));
    assert_eq!(cp.size, size);
    l.close();
    cp
}

pub fn opts(dir: &Path) -> VerifyOptions {
    VerifyOptions {
        log_vkey: vkey(),
        previous_log_vkeys: vec![],
        witness_vkeys: vec![],
        trusted_checkpoint: None,
        payload_dir: Some(dir.join("wal")),
    }
}

pub fn store(dir: &Path) -> FsTileStore {
    FsTileStore::new(dir)
}

pub fn read_checkpoint(dir: &Path) -> SignedCheckpoint {
    let note = store(dir).read_checkpoint().unwrap().unwrap();
    SignedCheckpoint::verify(&note, &vkey(), &[]).unwrap().0
}

/// Every entry of the tree of `size`, read back from the entry bundles.
pub fn read_entries(dir: &Path, size: u64) -> Vec<Vec<u8>> {
    let s = store(dir);
    let mut out = Vec::new();
    for id in tiles_of(size, TileKind::Entries) {
        let data = read_tile_prefix(&s, &id).unwrap();
        let es = split_bundle(&data).unwrap();
        out.extend(es[..usize::from(id.width)].iter().map(|e| e.to_vec()));
    }
    out
}

pub fn root_of(entries: &[Vec<u8>]) -> Hash {
    let mut f = Frontier::new();
    for e in entries {
        f.push_leaf(leaf_hash(e));
    }
    f.root()
}

/// Writes a complete tlog-tiles tree for `entries` (all full tiles and the partial tiles at
/// their size) into `dir`, and a checkpoint signed by `signer`: what an attacker holding the key
/// would do, and an independent oracle for the engine's tiles.
pub fn forge_log(dir: &Path, entries: &[Vec<u8>], signer: &CheckpointSigner) -> SignedCheckpoint {
    let st = store(dir);
    for id in forged_tiles(entries) {
        st.write_tile(&id.0, &id.1).unwrap();
    }
    let cp = signer.sign(entries.len() as u64, &root_of(entries)).unwrap();
    st.write_atomic("checkpoint", &cp.note).unwrap();
    cp
}

/// The tiles (id, bytes) of a tree holding `entries`, computed independently of the engine.
pub fn forged_tiles(entries: &[Vec<u8>]) -> Vec<(TileId, Vec<u8>)> {
    let n = entries.len() as u64;
    let mut out = Vec::new();
    for id in tiles_of(n, TileKind::Entries) {
        let start = (id.index * TILE_WIDTH) as usize;
        let mut b = Vec::new();
        for e in &entries[start..start + usize::from(id.width)] {
            push_bundle_entry(&mut b, e);
        }
        out.push((id, b));
    }
    let mut level: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
    let mut l = 0u8;
    loop {
        for id in tiles_of(n, TileKind::Hashes(l)) {
            let start = (id.index * TILE_WIDTH) as usize;
            let bytes: Vec<u8> =
                level[start..start + usize::from(id.width)].iter().flat_map(|h| h.0).collect();
            out.push((id, bytes));
        }
        let next: Vec<Hash> = level.chunks_exact(TILE_WIDTH as usize).map(subtree_root).collect();
        if next.is_empty() {
            break;
        }
        level = next;
        l += 1;
    }
    out
}

pub fn tile_path(dir: &Path, id: &TileId) -> PathBuf {
    dir.join(id.path())
}

pub fn flip(path: &Path, offset: usize) {
    let mut b = std::fs::read(path).unwrap();
    b[offset] ^= 0x01;
    std::fs::write(path, b).unwrap();
}

/// Byte offset, within its bundle, of the content of entry `k` of that bundle.
pub fn entry_offset(bundle: &[u8], k: usize) -> usize {
    let mut off = 0;
    for _ in 0..k {
        off += 2 + usize::from(u16::from_be_bytes([bundle[off], bundle[off + 1]]));
    }
    off + 2
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// All files under `dir`, as '/'-separated relative paths, sorted.
pub fn list_files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                walk(base, &e.path(), out);
            } else {
                out.push(e.path().strip_prefix(base).unwrap().to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}
