//! Whole-log verification: recomputes every leaf from the entry bundles, every hash tile from
//! the level below, the root from the tiles, and checks the signed checkpoint, witness
//! cosignatures, consistency with a trusted earlier checkpoint, and (given the payload store)
//! every payload against its commitment. Works over any [`TileSource`] (files or HTTP).
//!
//! The first failure is reported in index order, naming the entry index or tile path and the
//! expected vs found values.

use crate::checkpoint::SignedCheckpoint;
use crate::entry::Entry;
use crate::merkle::{Frontier, Hash, leaf_hash, subtree_root};
use crate::storage::{TileSource, read_tile_prefix};
use crate::tiles::{TILE_WIDTH, TileId, TileKind, partial_tile, split_bundle, tiles_of};
use crate::wal::RecordCursor;
use std::path::PathBuf;

/// What to check beyond the tiles.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// The log's verifier key.
    pub log_vkey: String,
    /// Keys retired by rotation: accepted for the trusted (earlier) checkpoint.
    pub previous_log_vkeys: Vec<String>,
    /// Witnesses whose cosignature the checkpoint must carry.
    pub witness_vkeys: Vec<String>,
    /// A signed checkpoint obtained earlier (e.g. witnessed); the log must extend it.
    pub trusted_checkpoint: Option<Vec<u8>>,
    /// The payload store directory (`<ledger>/wal`), to check every payload.
    pub payload_dir: Option<PathBuf>,
}

/// What verification found when everything held.
#[derive(Clone, Debug)]
pub struct VerifyReport {
    /// Tree size of the verified checkpoint.
    pub size: u64,
    /// Its root.
    pub root: Hash,
    /// Witnesses whose cosignatures verified.
    pub witnesses: Vec<String>,
    /// Payload records checked against their commitments.
    pub payloads_checked: u64,
    /// Of those, erased (only the commitment remains).
    pub payloads_erased: u64,
    /// Size of the trusted checkpoint the log was shown to extend.
    pub consistent_with: Option<u64>,
}

/// The first thing that does not hold.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct VerifyFailure(pub String);

fn fail<T>(msg: impl Into<String>) -> Result<T, VerifyFailure> {
    Err(VerifyFailure(msg.into()))
}

/// Verifies a whole log. See the module doc.
pub fn verify_log(src: &dyn TileSource, opts: &VerifyOptions) -> Result<VerifyReport, VerifyFailure> {
    let note = src
        .read_checkpoint()
        .map_err(|e| VerifyFailure(format!("checkpoint: {e}")))?
        .ok_or_else(|| VerifyFailure(format!("checkpoint: none found in {}", src.describe())))?;
    let (cp, witnesses) = SignedCheckpoint::verify(&note, &opts.log_vkey, &opts.witness_vkeys)
        .map_err(|e| VerifyFailure(e.to_string()))?;
    for w in &opts.witness_vkeys {
        let name = w.split('+').next().unwrap_or_default();
        if !witnesses.iter().any(|n| n == name) {
            return fail(format!("checkpoint (size {}) carries no valid cosignature from witness {name}", cp.size));
        }
    }
    let trusted = match &opts.trusted_checkpoint {
        Some(t) => {
            let keys: Vec<String> = std::iter::once(opts.log_vkey.clone()).chain(opts.previous_log_vkeys.iter().cloned()).collect();
            let (t, _) = SignedCheckpoint::verify_with_keys(t, &keys, &[])
                .map_err(|e| VerifyFailure(format!("trusted checkpoint: {e}")))?;
            if t.size > cp.size {
                return fail(format!(
                    "the log was truncated: the trusted checkpoint has {} entries, the log's checkpoint only {}",
                    t.size, cp.size
                ));
            }
            Some(t)
        }
        None => None,
    };

    let mut frontier = Frontier::new();
    // Hashes expected in the tile at each level, recomputed from below.
    let mut expected: Vec<LevelState> = vec![LevelState::default()];
    let mut cursor = opts.payload_dir.as_ref().map(|d| RecordCursor::new(d, 0));
    let mut payloads_checked = 0u64;
    let mut payloads_erased = 0u64;
    let mut consistent_with = None;
    let check_trusted = |f: &Frontier, out: &mut Option<u64>| -> Result<(), VerifyFailure> {
        if let Some(t) = &trusted
            && f.size() == t.size {
                if f.root() != t.root {
                    return fail(format!(
                        "history was rewritten: the first {} entries hash to {} but the trusted checkpoint says {}",
                        t.size,
                        f.root(),
                        t.root
                    ));
                }
                *out = Some(t.size);
            }
        Ok(())
    };
    check_trusted(&frontier, &mut consistent_with)?;

    for bundle_id in tiles_of(cp.size, TileKind::Entries) {
        let bundle = read_exact_tile(src, &bundle_id)?;
        let entries = split_bundle(&bundle).map_err(|e| VerifyFailure(format!("{}: {e}", bundle_id.path())))?;
        if entries.len() != usize::from(bundle_id.width) {
            return fail(format!(
                "{}: holds {} entries, expected {}",
                bundle_id.path(),
                entries.len(),
                bundle_id.width
            ));
        }
        let tile_id = TileId { kind: TileKind::Hashes(0), ..bundle_id };
        let tile = read_exact_tile(src, &tile_id)?;
        let stored = hashes_of(&tile_id, &tile)?;
        for (k, e) in entries.iter().enumerate() {
            let index = bundle_id.index * TILE_WIDTH + k as u64;
            let leaf = leaf_hash(e);
            if leaf != stored[k] {
                return fail(format!(
                    "entry {index}: {} entry {k} hashes to {leaf} but {} holds {}",
                    bundle_id.path(),
                    tile_id.path(),
                    stored[k]
                ));
            }
            if let Some(c) = cursor.as_mut() {
                let parsed = Entry::parse(e).map_err(|why| VerifyFailure(format!("entry {index}: {why}")))?;
                let rec = c
                    .read(index + 1, 1)
                    .map_err(|err| VerifyFailure(format!("payload {index}: {err}")))?
                    .pop()
                    .ok_or_else(|| VerifyFailure(format!("payload {index}: missing from the payload store")))?;
                if rec.entry() != parsed {
                    return fail(format!(
                        "payload {index}: the payload store record (kind {}, time {}, commitment {}) does not match the log entry (kind {}, time {}, commitment {})",
                        rec.kind, rec.ingested_micros, hex::encode(rec.commitment),
                        parsed.kind, parsed.ingested_micros, hex::encode(parsed.commitment)
                    ));
                }
                if !rec.payload_matches() {
                    return fail(format!("payload {index}: SHA-256(salt || payload) does not match the entry's commitment: the payload was altered"));
                }
                payloads_checked += 1;
                payloads_erased += u64::from(rec.erased);
            }
            frontier.push_leaf(leaf);
            check_trusted(&frontier, &mut consistent_with)?;
        }
        if bundle_id.is_full() {
            push_expected(src, &mut expected, 0, subtree_root(&stored))?;
        }
    }
    // Partial tiles above level 0 hold the hashes of full tiles below that do not yet fill a
    // tile; compare what we recomputed with what is stored.
    for (l, level) in expected.iter().enumerate().skip(1) {
        if let Some(t) = partial_tile(cp.size, TileKind::Hashes(l as u8)) {
            let stored = hashes_of(&t, &read_exact_tile(src, &t)?)?;
            compare_tile(&t, &level.hashes, &stored)?;
        } else if !level.hashes.is_empty() {
            return fail(format!("level {l}: {} hashes left over without a partial tile", level.hashes.len()));
        }
    }
    if frontier.root() != cp.root {
        return fail(format!(
            "the entries hash to root {} but the checkpoint (size {}) says {}",
            frontier.root(),
            cp.size,
            cp.root
        ));
    }
    if let Some(t) = &trusted
        && consistent_with.is_none() {
            return fail(format!("trusted checkpoint size {} was never reached", t.size));
        }
    Ok(VerifyReport { size: cp.size, root: cp.root, witnesses, payloads_checked, payloads_erased, consistent_with })
}

/// Hashes recomputed for one tile level: those of the tile being filled, and how many full tiles
/// of the level were already checked (the index of the tile being filled).
#[derive(Clone, Default)]
struct LevelState {
    hashes: Vec<Hash>,
    full_tiles_checked: u64,
}

fn push_expected(
    src: &dyn TileSource,
    expected: &mut Vec<LevelState>,
    below: usize,
    h: Hash,
) -> Result<(), VerifyFailure> {
    let l = below + 1;
    if expected.len() <= l {
        expected.resize(l + 1, LevelState::default());
    }
    expected[l].hashes.push(h);
    if expected[l].hashes.len() as u64 == TILE_WIDTH {
        let t = TileId { kind: TileKind::Hashes(l as u8), index: expected[l].full_tiles_checked, width: 256 };
        let stored = hashes_of(&t, &read_exact_tile(src, &t)?)?;
        compare_tile(&t, &expected[l].hashes, &stored)?;
        let root = subtree_root(&expected[l].hashes);
        expected[l].hashes.clear();
        expected[l].full_tiles_checked += 1;
        push_expected(src, expected, l, root)?;
    }
    Ok(())
}

fn compare_tile(t: &TileId, expected: &[Hash], stored: &[Hash]) -> Result<(), VerifyFailure> {
    for (i, (e, s)) in expected.iter().zip(stored).enumerate() {
        if e != s {
            return fail(format!("{}: hash {i} should be {e} (recomputed from the level below) but is {s}", t.path()));
        }
    }
    if expected.len() != stored.len() {
        return fail(format!("{}: holds {} hashes, expected {}", t.path(), stored.len(), expected.len()));
    }
    Ok(())
}

fn read_exact_tile(src: &dyn TileSource, t: &TileId) -> Result<Vec<u8>, VerifyFailure> {
    read_tile_prefix(src, t).map_err(|e| VerifyFailure(e.to_string()))
}

fn hashes_of(t: &TileId, data: &[u8]) -> Result<Vec<Hash>, VerifyFailure> {
    // A full tile may stand in for a pruned partial one (tlog-tiles allows clients to do so).
    let fits = data.len() == usize::from(t.width) * 32 || (!t.is_full() && data.len() == 256 * 32);
    if !fits {
        return fail(format!("{}: {} bytes, expected {}", t.path(), data.len(), usize::from(t.width) * 32));
    }
    crate::engine::parse_hashes(t, data).map_err(|e| VerifyFailure(e.to_string()))
}
