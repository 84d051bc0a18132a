//! RFC 6962 conformance: the published certificate-transparency reference vectors
//! (transparency-dev/merkle `testonly/constants.go` and `proof/verify_test.go`), proofs produced
//! by a real `Ledger` checked with the independent `tlog_tiles` verifiers, the on-disk layout of a
//! tiny log, and logs that cross tile boundaries.

mod common;

use common::*;
use mamori_ledger::entry::{Entry, EntryKind, commitment};
use mamori_ledger::merkle::{EMPTY_TREE_HASH, Frontier, interior_hash, leaf_hash, subtree_root};
use mamori_ledger::tiles::{TileId, TileKind, split_bundle};
use mamori_ledger::verify::verify_log;
use mamori_ledger::wal::{self, RECORD_OVERHEAD};
use mamori_ledger::{Hash, NewEntry};
use std::time::Duration;
use tlog_tiles::{HashReader, check_record, check_tree, prove_record, prove_tree, stored_hashes};

fn h(s: &str) -> Hash {
    Hash(hex::decode(s).unwrap().try_into().unwrap())
}

const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// Root for each size 0..=8.
const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// (leaf index, tree size, audit path): proof/verify_test.go `inclusionProofs` (1-based leaf
/// numbers there, 0-based indexes here).
fn inclusion_vectors() -> Vec<(u64, u64, Vec<Hash>)> {
    vec![
        (0, 1, vec![]),
        (
            0,
            8,
            vec![
                h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
            ],
        ),
        (
            5,
            8,
            vec![
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
        (2, 3, vec![h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
        (
            1,
            5,
            vec![
                h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            ],
        ),
    ]
}

/// (old size, new size, proof): proof/verify_test.go `consistencyProofs`.
fn consistency_vectors() -> Vec<(u64, u64, Vec<Hash>)> {
    vec![
        (1, 1, vec![]),
        (
            1,
            8,
            vec![
                h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
            ],
        ),
        (
            6,
            8,
            vec![
                h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
        (
            2,
            5,
            vec![
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            ],
        ),
        (
            6,
            7,
            vec![
                h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
    ]
}

fn leaf_hashes() -> Vec<Hash> {
    LEAVES.iter().map(|l| leaf_hash(&hex::decode(l).unwrap())).collect()
}

#[test]
fn frontier_reproduces_the_reference_roots() {
    let leaves = leaf_hashes();
    let mut f = Frontier::new();
    assert_eq!(f.root(), h(ROOTS[0]));
    assert_eq!(EMPTY_TREE_HASH, h(ROOTS[0]));
    for (n, leaf) in leaves.iter().enumerate() {
        f.push_leaf(*leaf);
        assert_eq!(f.root(), h(ROOTS[n + 1]), "root of size {}", n + 1);
        assert_eq!(subtree_root(&leaves[..=n]), h(ROOTS[n + 1]), "subtree_root of size {}", n + 1);
    }
    // Interior nodes listed in testonly/constants.go NodeHashes.
    assert_eq!(leaves[1], h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"));
    assert_eq!(
        interior_hash(&leaves[2], &leaves[3]),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e")
    );
    // Subtrees pushed whole give the same roots.
    let mut g = Frontier::new();
    g.push_subtree(2, h(ROOTS[4]));
    g.push_subtree(1, h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"));
    assert_eq!(g.root(), h(ROOTS[6]));
}

/// The stored-hash layout `tlog_tiles`' provers read from.
struct Mem(Vec<Hash>);

impl HashReader for Mem {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        Ok(indexes.iter().map(|&i| self.0[i as usize]).collect())
    }
}

fn mem_tree() -> Mem {
    let mut m = Mem(Vec::new());
    for (n, l) in LEAVES.iter().enumerate() {
        let new = stored_hashes(n as u64, &hex::decode(l).unwrap(), &m).unwrap();
        m.0.extend(new);
    }
    m
}

#[test]
fn published_inclusion_proofs_verify_and_are_reproduced() {
    let leaves = leaf_hashes();
    let mem = mem_tree();
    for (index, size, proof) in inclusion_vectors() {
        let root = h(ROOTS[size as usize]);
        let leaf = leaves[index as usize];
        check_record(&proof, size, root, index, leaf).unwrap_or_else(|e| panic!("{index}/{size}: {e:?}"));
        assert_eq!(prove_record(size, index, &mem).unwrap(), proof, "prove_record({size}, {index})");
        for k in 0..proof.len() {
            let mut bad = proof.clone();
            bad[k].0[0] ^= 8;
            assert!(check_record(&bad, size, root, index, leaf).is_err(), "{index}/{size} with hash {k} flipped");
        }
        if !proof.is_empty() {
            assert!(check_record(&proof[1..].to_vec(), size, root, index, leaf).is_err());
        }
        assert!(check_record(&proof, size, root, index, leaves[(index as usize + 1) % 8]).is_err());
        assert!(check_record(&proof, size, h(ROOTS[0]), index, leaf).is_err());
    }
}

#[test]
fn published_consistency_proofs_verify_and_are_reproduced() {
    let mem = mem_tree();
    for (old, new, proof) in consistency_vectors() {
        let (r1, r2) = (h(ROOTS[old as usize]), h(ROOTS[new as usize]));
        check_tree(&proof, new, r2, old, r1).unwrap_or_else(|e| panic!("{old}->{new}: {e:?}"));
        assert_eq!(prove_tree(new, old, &mem).unwrap(), proof, "prove_tree({new}, {old})");
        for k in 0..proof.len() {
            let mut bad = proof.clone();
            bad[k].0[0] ^= 16;
            assert!(check_tree(&bad, new, r2, old, r1).is_err(), "{old}->{new} with hash {k} flipped");
        }
        if old != new {
            assert!(check_tree(&proof, new, r1, old, r2).is_err(), "{old}->{new} with roots swapped");
            assert!(check_tree(&vec![], new, r2, old, r1).is_err(), "{old}->{new} with an empty proof");
        }
    }
}

/// A ledger grown step by step to 600 entries: every inclusion proof it serves for sampled indexes
/// and every consistency proof between sampled earlier checkpoints verifies with `tlog_tiles`, and
/// none does with one hash flipped. Roots come from the checkpoints recorded at each size and
/// from an independent recomputation over the entry bundles.
#[test]
fn ledger_proofs_verify_with_tlog_tiles() {
    let tmp = tempfile::tempdir().unwrap();
    let l = open(tmp.path());
    let mut steps: Vec<u64> = (1..=24).collect();
    steps.extend([31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 200, 255, 256, 257, 300, 383, 511, 512, 513, 599, 600]);
    let mut cps = Vec::new();
    for &size in &steps {
        let have = l.durable_size();
        append_n(&l, have, size - have, 7);
        let cp = l.wait_checkpoint(size, Duration::from_secs(30));
        assert_eq!(cp.size, size);
        let entries = read_entries(tmp.path(), size);
        assert_eq!(root_of(&entries), cp.root, "checkpoint root at {size} vs recomputed");

        // Inclusion proofs in the tree of this size.
        let mut idx: Vec<u64> = vec![0, size - 1, size / 2, size / 3];
        idx.extend((0..size).step_by((size as usize / 17).max(1)));
        for index in idx {
            let p = l.inclusion_proof(index).unwrap();
            assert_eq!((p.tree_size, p.root), (size, cp.root));
            assert_eq!(p.entry, entries[index as usize]);
            let leaf = leaf_hash(&p.entry);
            check_record(&p.hashes, size, cp.root, index, leaf)
                .unwrap_or_else(|e| panic!("inclusion {index}/{size}: {e:?}"));
            for k in 0..p.hashes.len() {
                let mut bad = p.hashes.clone();
                bad[k].0[31] ^= 1;
                assert!(check_record(&bad, size, cp.root, index, leaf).is_err(), "inclusion {index}/{size} flip {k}");
            }
            let mut bad_leaf = leaf;
            bad_leaf.0[0] ^= 1;
            assert!(check_record(&p.hashes, size, cp.root, index, bad_leaf).is_err());
        }
        assert!(l.inclusion_proof(size).is_err(), "index {size} is not in a tree of size {size}");

        // Consistency proofs from sampled earlier checkpoints (with their recorded roots).
        for (old, old_root) in cps.iter().copied().filter(|(o, _): &(u64, Hash)| {
            *o <= 24 || o % 3 == 0 || *o + 1 == size || o.is_power_of_two()
        }) {
            let p = l.consistency_proof(old, size).unwrap();
            assert_eq!((p.old_root, p.new_root), (old_root, cp.root), "roots for {old}->{size}");
            check_tree(&p.hashes, size, cp.root, old, old_root)
                .unwrap_or_else(|e| panic!("consistency {old}->{size}: {e:?}"));
            for k in 0..p.hashes.len() {
                let mut bad = p.hashes.clone();
                bad[k].0[5] ^= 0x20;
                assert!(check_tree(&bad, size, cp.root, old, old_root).is_err(), "consistency {old}->{size} flip {k}");
            }
            let mut wrong_old = old_root;
            wrong_old.0[0] ^= 1;
            assert!(check_tree(&p.hashes, size, cp.root, old, wrong_old).is_err());
        }
        // Consistency between two earlier sizes, proved from the latest tree.
        if let (Some(&(a, ra)), Some(&(b, rb))) = (cps.get(cps.len() / 3), cps.get(cps.len() / 2))
            && a < b
        {
            let p = l.consistency_proof(a, b).unwrap();
            assert_eq!((p.old_root, p.new_root), (ra, rb));
            check_tree(&p.hashes, b, rb, a, ra).unwrap();
        }
        cps.push((size, cp.root));
    }
    assert!(l.consistency_proof(10, 601).is_err());
    assert!(l.consistency_proof(11, 10).is_err());
    l.close();
    verify_log(&store(tmp.path()), &opts(tmp.path())).unwrap();
}

/// The files of a 3-entry log, and what they hold.
#[test]
fn tiny_log_layout_is_pinned() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let l = open(dir);
    let payloads: Vec<Vec<u8>> = vec![b"{\"a\":1}".to_vec(), Vec::new(), vec![0xffu8; 300]];
    let r = l
        .append_blocking(payloads.iter().map(|p| NewEntry { kind: EntryKind::Admin, payload: p.clone() }).collect())
        .unwrap();
    assert_eq!((r.first_index, r.count), (0, 3));
    let cp = l.wait_checkpoint(3, Duration::from_secs(10));
    assert_eq!(cp.size, 3);
    l.close();

    let seg = format!("wal/{}", wal::segment_name(0));
    assert_eq!(seg, "wal/00000000000000000000.seg");
    assert_eq!(
        list_files(dir),
        vec!["LOCK".to_owned(), "checkpoint".into(), "tile/0/000.p/3".into(), "tile/entries/000.p/3".into(), seg.clone()]
    );
    // Payload store: 16-byte header, then one record per entry.
    let seg_bytes = std::fs::read(dir.join(&seg)).unwrap();
    assert_eq!(&seg_bytes[..8], b"MAMORIW1");
    assert_eq!(seg_bytes.len(), 16 + payloads.iter().map(|p| RECORD_OVERHEAD + p.len()).sum::<usize>());
    let records = mamori_ledger::engine::read_records(dir, 0, 3, 10).unwrap();
    assert_eq!(records.len(), 3);

    let bundle = std::fs::read(dir.join("tile/entries/000.p/3")).unwrap();
    let entries = split_bundle(&bundle).unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(bundle.len(), entries.iter().map(|e| 2 + e.len()).sum::<usize>());
    let tile = std::fs::read(dir.join("tile/0/000.p/3")).unwrap();
    assert_eq!(tile.len(), 3 * 32);
    for (k, e) in entries.iter().enumerate() {
        assert_eq!(&tile[32 * k..32 * (k + 1)], &leaf_hash(e).0, "leaf {k}");
        // "mamori/v1 admin <micros> <hex commitment>", committing to salt || payload.
        let parsed = Entry::parse(e).unwrap();
        assert_eq!(parsed.kind, EntryKind::Admin);
        assert_eq!(parsed.ingested_micros, r.ingested_micros);
        assert_eq!(parsed.commitment, commitment(&records[k].salt, &payloads[k]));
        assert_eq!(
            String::from_utf8(e.to_vec()).unwrap(),
            format!("mamori/v1 admin {} {}", r.ingested_micros, hex::encode(parsed.commitment))
        );
        assert_eq!(records[k].payload, payloads[k]);
    }
    let root = interior_hash(&interior_hash(&leaf_hash(entries[0]), &leaf_hash(entries[1])), &leaf_hash(entries[2]));
    assert_eq!(cp.root, root);
    let note = String::from_utf8(std::fs::read(dir.join("checkpoint")).unwrap()).unwrap();
    let text = format!("{ORIGIN}\n3\n{}\n", base64::Engine::encode(&base64::prelude::BASE64_STANDARD, root.0));
    assert!(note.starts_with(&format!("{text}\n— {ORIGIN} ")), "{note}");
    assert_eq!(note.lines().count(), 5);
    assert_eq!(forged_tiles(&entries.iter().map(|e| e.to_vec()).collect::<Vec<_>>()).len(), 2);
    let report = verify_log(&store(dir), &opts(dir)).unwrap();
    assert_eq!((report.size, report.payloads_checked), (3, 3));
}

/// Sizes around the level-0 and level-1 tile boundaries, reopening the ledger each time: the
/// engine's tiles equal an independent computation byte for byte, and the whole log verifies.
#[test]
fn tile_boundaries_survive_reopen_and_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for size in [255u64, 256, 257, 65_535, 65_536, 65_537] {
        let cp = grow_to(dir, size);
        let entries = read_entries(dir, size);
        assert_eq!(entries.len() as u64, size);
        assert_eq!(root_of(&entries), cp.root);
        for (id, bytes) in forged_tiles(&entries) {
            let got = std::fs::read(tile_path(dir, &id)).unwrap_or_else(|e| panic!("{}: {e}", id.path()));
            assert!(got == bytes, "{} differs from the independent computation at size {size}", id.path());
        }
        let report = verify_log(&store(dir), &opts(dir)).unwrap_or_else(|e| panic!("size {size}: {e}"));
        assert_eq!((report.size, report.root, report.payloads_checked), (size, cp.root, size));
        // Reopen without appending: same checkpoint, no new one.
        let l = open(dir);
        assert_eq!(l.checkpoint().root, cp.root);
        assert_eq!(l.durable_size(), size);
        l.close();
    }
    // The spec's example shapes at 65,537.
    let full_l1 = TileId { kind: TileKind::Hashes(1), index: 0, width: 256 };
    assert_eq!(std::fs::read(tile_path(dir, &full_l1)).unwrap().len(), 256 * 32);
    assert!(dir.join("tile/2/000.p/1").exists());
    assert!(dir.join("tile/0/256.p/1").exists());
    assert!(dir.join("tile/entries/256.p/1").exists());
    // Partials of completed tiles were pruned.
    assert!(!dir.join("tile/0/255.p").exists());
    assert!(!dir.join("tile/1/000.p").exists());
}
