//! The ledger engine: group-committed durable appends, then integration into tiles and a signed
//! checkpoint within a bounded delay.
//!
//! Write path (one thread each, so fsyncs are batched and hashing never blocks acknowledgement):
//! 1. `submit` computes each payload's salted commitment on the caller's thread and queues the
//!    batch (bounded queue: when full, `SubmitError::Busy` is the backpressure signal).
//! 2. The writer thread drains every queued batch, assigns indexes, appends them to the payload
//!    store with one `write` + `fdatasync`, and only then acknowledges (group commit).
//! 3. The integrator thread, every `checkpoint_interval`, hashes the new entries into the tree,
//!    writes full and partial tiles and entry bundles, `syncfs`es, and publishes a signed
//!    checkpoint (written atomically). Acknowledged entries not yet integrated survive a crash in
//!    the payload store and are integrated again on the next open, identically.

use crate::checkpoint::{CheckpointSigner, SignedCheckpoint};
use crate::entry::{Entry, EntryKind, commitment};
use crate::error::LedgerError;
use crate::merkle::{Frontier, Hash, leaf_hash, subtree_root};
use crate::storage::{FsTileStore, TileSource, read_tile_prefix};
use crate::tiles::{HASH_SIZE, TILE_WIDTH, TileId, TileKind, levels, partial_tile, push_bundle_entry};
use crate::wal::{self, Record, RecordCursor, SegmentWriter, encode_record};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tlog_tiles::{Tile, TileHashReader, TileReader};

/// Configuration of a ledger.
pub struct LedgerConfig {
    /// Directory holding `wal/`, `tile/` and `checkpoint`.
    pub dir: PathBuf,
    /// The checkpoint signing key; its name is the log origin.
    pub signer: CheckpointSigner,
    /// Longest delay between acknowledgement and integration into a signed checkpoint.
    pub checkpoint_interval: Duration,
    /// Most entries written in one group commit.
    pub max_batch_entries: usize,
    /// Submissions that may wait for the writer before `submit` answers `Busy`.
    pub queue_capacity: usize,
    /// Payload-store segment size before rolling over to a new file.
    pub segment_bytes: u64,
}

impl LedgerConfig {
    /// Defaults: 500 ms checkpoint interval, 65,536-entry batches, 4,096 queued submissions,
    /// 256 MiB segments.
    pub fn new(dir: impl Into<PathBuf>, signer: CheckpointSigner) -> Self {
        LedgerConfig {
            dir: dir.into(),
            signer,
            checkpoint_interval: Duration::from_millis(500),
            max_batch_entries: 65_536,
            queue_capacity: 4_096,
            segment_bytes: 256 << 20,
        }
    }
}

/// An entry to append.
#[derive(Clone, Debug)]
pub struct NewEntry {
    /// What it records.
    pub kind: EntryKind,
    /// The payload (an event document, an admin action …), opaque here.
    pub payload: Vec<u8>,
}

/// Acknowledgement of a durable append.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendReceipt {
    /// Index of the first entry of the batch; the rest follow contiguously.
    pub first_index: u64,
    /// Number of entries.
    pub count: u64,
    /// The acceptance time recorded in the entries.
    pub ingested_micros: i64,
}

/// Why a submission was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The writer's queue is full: retry later (HTTP 503 + Retry-After).
    #[error("the ledger is busy; retry later")]
    Busy,
    /// A payload is larger than the payload store accepts.
    #[error("payload of {0} bytes exceeds the limit of {max} bytes", max = wal::MAX_PAYLOAD)]
    TooLarge(usize),
    /// The ledger is closed or failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

struct Prepared {
    kind: EntryKind,
    salt: [u8; 16],
    commitment: [u8; 32],
    payload: Vec<u8>,
}

struct Request {
    entries: Vec<Prepared>,
    reply: tokio::sync::oneshot::Sender<Result<AppendReceipt, String>>,
}

/// Counters exported as metrics.
#[derive(Default, Debug)]
pub struct LedgerStats {
    /// Entries made durable since start.
    pub appended: AtomicU64,
    /// Group commits since start.
    pub commits: AtomicU64,
    /// Sum of fdatasync durations, nanoseconds.
    pub fsync_nanos: AtomicU64,
    /// Longest fdatasync, nanoseconds.
    pub fsync_max_nanos: AtomicU64,
    /// Checkpoints published since start.
    pub checkpoints: AtomicU64,
    /// Bytes appended to the payload store since start.
    pub bytes: AtomicU64,
}

struct Shared {
    dir: PathBuf,
    store: FsTileStore,
    signer: CheckpointSigner,
    durable: Mutex<u64>,
    durable_cv: Condvar,
    published: RwLock<SignedCheckpoint>,
    published_seq: Mutex<u64>,
    published_cv: Condvar,
    /// The latest checkpoint known to carry a witness cosignature (file `witnessed-checkpoint`).
    witnessed: Mutex<Option<SignedCheckpoint>>,
    pending: Mutex<Vec<Entry>>,
    pending_cv: Condvar,
    /// Signalled when the integrator has taken the pending entries.
    drained_cv: Condvar,
    shutdown: AtomicBool,
    writer_done: AtomicBool,
    failure: Mutex<Option<String>>,
    stats: LedgerStats,
    /// Held for the ledger's lifetime: one writer per directory.
    _lock: std::fs::File,
}

/// A running ledger. Cloning shares it.
#[derive(Clone)]
pub struct Ledger {
    shared: Arc<Shared>,
    tx: SyncSender<Request>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

/// In-memory right edge of the tree: the partial tile at each level, the partial entry bundle,
/// and the frontier. Rebuilt from the tiles on open.
struct TreeState {
    size: u64,
    levels: Vec<Vec<Hash>>,
    bundle: Vec<u8>,
    bundle_len: u64,
    frontier: Frontier,
}

impl TreeState {
    fn empty() -> Self {
        TreeState { size: 0, levels: Vec::new(), bundle: Vec::new(), bundle_len: 0, frontier: Frontier::new() }
    }

    /// Reads the right edge of a tree of `size` back from tiles.
    fn load(src: &dyn TileSource, size: u64) -> Result<Self, LedgerError> {
        let mut st = TreeState::empty();
        st.size = size;
        let nlevels = levels(size);
        st.levels = vec![Vec::new(); usize::from(nlevels)];
        for l in 0..nlevels {
            if let Some(t) = partial_tile(size, TileKind::Hashes(l)) {
                st.levels[usize::from(l)] = parse_hashes(&t, &read_tile_prefix(src, &t)?)?;
            }
        }
        if let Some(t) = partial_tile(size, TileKind::Entries) {
            let data = read_tile_prefix(src, &t)?;
            let entries = crate::tiles::split_bundle(&data)
                .map_err(|e| LedgerError::BadTile { path: t.path(), why: e.to_string() })?;
            let w = usize::from(t.width);
            if entries.len() < w {
                return Err(LedgerError::BadTile { path: t.path(), why: format!("{} entries, expected {w}", entries.len()) });
            }
            // The partial bundle must hash to the partial level-0 tile, or appending would carry a
            // tampered entry into the full bundle while the checkpoint still verifies.
            for (k, e) in entries[..w].iter().enumerate() {
                if st.levels.first().and_then(|l| l.get(k)) != Some(&leaf_hash(e)) {
                    return Err(LedgerError::TreeMismatch(format!(
                        "{} entry {k} (entry {}) does not hash to the leaf in the level-0 tile",
                        t.path(),
                        t.index * TILE_WIDTH + k as u64
                    )));
                }
                push_bundle_entry(&mut st.bundle, e);
            }
            st.bundle_len = w as u64;
        }
        // The frontier is the partial tiles read from the top level down: each hash at level L
        // is the root of a perfect subtree of height 8·L.
        for l in (0..nlevels).rev() {
            for h in &st.levels[usize::from(l)] {
                st.frontier.push_subtree(8 * l, *h);
            }
        }
        debug_assert_eq!(st.frontier.size(), size);
        Ok(st)
    }

    /// Appends entries, writing every tile that becomes full.
    fn append(&mut self, store: &FsTileStore, entries: &[Entry]) -> Result<(), LedgerError> {
        for e in entries {
            let bytes = e.to_bytes();
            let leaf = leaf_hash(&bytes);
            push_bundle_entry(&mut self.bundle, &bytes);
            self.bundle_len += 1;
            self.frontier.push_leaf(leaf);
            self.size += 1;
            if self.bundle_len == TILE_WIDTH {
                let id = TileId { kind: TileKind::Entries, index: (self.size - 1) / TILE_WIDTH, width: 256 };
                store.write_tile(&id, &self.bundle)?;
                store.remove_partials(&id)?;
                self.bundle.clear();
                self.bundle_len = 0;
            }
            self.push_hash(store, 0, leaf)?;
        }
        Ok(())
    }

    fn push_hash(&mut self, store: &FsTileStore, level: u8, h: Hash) -> Result<(), LedgerError> {
        let l = usize::from(level);
        if self.levels.len() <= l {
            self.levels.resize(l + 1, Vec::new());
        }
        self.levels[l].push(h);
        if self.levels[l].len() as u64 == TILE_WIDTH {
            let index = (self.size >> (8 * u32::from(level))) / TILE_WIDTH - 1;
            let id = TileId { kind: TileKind::Hashes(level), index, width: 256 };
            store.write_tile(&id, &hashes_bytes(&self.levels[l]))?;
            store.remove_partials(&id)?;
            let root = subtree_root(&self.levels[l]);
            self.levels[l].clear();
            self.push_hash(store, level + 1, root)?;
        }
        Ok(())
    }

    /// Writes the partial tiles of the current size.
    fn write_partials(&self, store: &FsTileStore) -> Result<(), LedgerError> {
        for (l, hashes) in self.levels.iter().enumerate() {
            if let Some(t) = partial_tile(self.size, TileKind::Hashes(l as u8)) {
                debug_assert_eq!(usize::from(t.width), hashes.len());
                store.write_tile(&t, &hashes_bytes(hashes))?;
            }
        }
        if let Some(t) = partial_tile(self.size, TileKind::Entries) {
            store.write_tile(&t, &self.bundle)?;
        }
        Ok(())
    }
}

fn hashes_bytes(hashes: &[Hash]) -> Vec<u8> {
    let mut v = Vec::with_capacity(hashes.len() * HASH_SIZE);
    for h in hashes {
        v.extend_from_slice(&h.0);
    }
    v
}

/// Parses a hash tile's bytes, taking the first `width` hashes (a full tile may stand in for a
/// pruned partial one).
pub fn parse_hashes(t: &TileId, data: &[u8]) -> Result<Vec<Hash>, LedgerError> {
    let need = usize::from(t.width) * HASH_SIZE;
    if data.len() < need || !data.len().is_multiple_of(HASH_SIZE) || data.len() > TILE_WIDTH as usize * HASH_SIZE {
        return Err(LedgerError::BadTile { path: t.path(), why: format!("{} bytes, expected {need}", data.len()) });
    }
    Ok(data[..need].chunks_exact(HASH_SIZE).map(|c| Hash(c.try_into().unwrap())).collect())
}

/// Takes the exclusive writer lock of a ledger directory (`flock` on `LOCK`), so that a CLI
/// command and a server never write the same ledger at once.
fn lock_dir(dir: &Path) -> Result<std::fs::File, LedgerError> {
    let path = dir.join("LOCK");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(LedgerError::io("open", &path))?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(|_| {
        LedgerError::Closed(format!(
            "{} is in use by another mamori process (a running server?); stop it, or send to the server with --server",
            dir.display()
        ))
    })?;
    Ok(f)
}

fn now_micros() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

impl Ledger {
    /// Opens (creating if needed) the ledger in `cfg.dir`, recovers from any crash, integrates
    /// acknowledged entries that were not yet in a checkpoint, and starts the writer and
    /// integrator threads.
    pub fn open(cfg: LedgerConfig) -> Result<Ledger, LedgerError> {
        let dir = cfg.dir.clone();
        let wal_dir = dir.join("wal");
        std::fs::create_dir_all(&wal_dir).map_err(LedgerError::io("create dir", &wal_dir))?;
        let store = FsTileStore::new(&dir);
        let lock = lock_dir(&dir)?;

        // 1. The last published checkpoint, checked against our own key.
        let (cp_size, cp) = match store.read_checkpoint()? {
            Some(bytes) => {
                let (cp, _) = SignedCheckpoint::verify(&bytes, cfg.signer.vkey(), &[])?;
                (cp.size, Some(cp))
            }
            None => (0, None),
        };
        // 2. The tree's right edge from tiles; it must reproduce the checkpoint.
        let mut tree = TreeState::load(&store, cp_size)?;
        if let Some(cp) = &cp
            && tree.frontier.root() != cp.root {
                return Err(LedgerError::TreeMismatch(format!(
                    "tiles for size {} hash to {}, checkpoint says {}",
                    cp.size,
                    tree.frontier.root(),
                    cp.root
                )));
            }
        // 3. The payload store from the segment holding the checkpoint size onwards: cut a torn
        // tail, collect acknowledged records that are not integrated yet.
        let segs = wal::list_segments(&wal_dir)?;
        let start = segs.iter().rposition(|(f, _)| *f <= cp_size).unwrap_or(0);
        let mut to_integrate = Vec::new();
        let mut next_index = segs.get(start).map(|s| s.0).unwrap_or(0);
        let mut writer = None;
        for (i, (first, path)) in segs.iter().enumerate().skip(start) {
            if *first != next_index {
                return Err(LedgerError::CorruptSegment {
                    path: path.clone(),
                    offset: 0,
                    why: format!("starts at index {first} but the previous segment ends at {next_index}"),
                });
            }
            let scan = wal::scan_segment(path, *first)?;
            let last = i + 1 == segs.len();
            if scan.valid_len < scan.file_len && !last {
                return Err(LedgerError::CorruptSegment {
                    path: path.clone(),
                    offset: scan.valid_len,
                    why: "truncated record in a closed segment".into(),
                });
            }
            for r in scan.records {
                next_index = r.index + 1;
                if r.index >= cp_size {
                    to_integrate.push(r.entry());
                }
            }
            if last {
                if scan.valid_len < scan.file_len {
                    tracing::warn!(path = %path.display(), valid = scan.valid_len, len = scan.file_len, "cutting torn tail of the payload store (never acknowledged)");
                }
                writer = Some(SegmentWriter::reopen(path, *first, scan.valid_len)?);
            }
        }
        if next_index < cp_size {
            return Err(LedgerError::CorruptSegment {
                path: wal_dir.clone(),
                offset: 0,
                why: format!("the checkpoint covers {cp_size} entries but the payload store ends at {next_index}"),
            });
        }
        let writer = match writer {
            Some(w) => w,
            None => SegmentWriter::create(&wal_dir, next_index)?,
        };

        let placeholder = cfg.signer.sign(0, &crate::merkle::EMPTY_TREE_HASH)?;
        // The latest witnessed checkpoint, as recorded: its signatures are checked by whoever
        // shows it, against the keys they trust (the log key may have been rotated since).
        let witnessed = match crate::storage::read_optional(&dir.join(WITNESSED_FILE))? {
            Some(b) => match SignedCheckpoint::parse_unverified(&b) {
                Ok(cp) => Some(cp),
                Err(e) => {
                    tracing::warn!(error = %e, "ignoring an unreadable {WITNESSED_FILE}");
                    None
                }
            },
            None => None,
        };
        let shared = Arc::new(Shared {
            dir: dir.clone(),
            store,
            signer: cfg.signer,
            durable: Mutex::new(next_index),
            durable_cv: Condvar::new(),
            published: RwLock::new(cp.clone().unwrap_or(placeholder)),
            published_seq: Mutex::new(0),
            published_cv: Condvar::new(),
            witnessed: Mutex::new(witnessed),
            pending: Mutex::new(Vec::new()),
            pending_cv: Condvar::new(),
            drained_cv: Condvar::new(),
            shutdown: AtomicBool::new(false),
            writer_done: AtomicBool::new(false),
            failure: Mutex::new(None),
            stats: LedgerStats::default(),
            _lock: lock,
        });
        // 4. Integrate what was acknowledged before the crash and publish, before accepting more.
        if !to_integrate.is_empty() || cp.is_none() {
            tree.append(&shared.store, &to_integrate)?;
            publish(&shared, &tree)?;
        }

        let (tx, rx) = sync_channel::<Request>(cfg.queue_capacity);
        let mut threads = Vec::new();
        {
            let shared = shared.clone();
            let max_batch = cfg.max_batch_entries;
            let seg_bytes = cfg.segment_bytes;
            threads.push(
                std::thread::Builder::new()
                    .name("ledger-writer".into())
                    .spawn(move || writer_loop(shared, rx, writer, next_index, max_batch, seg_bytes))
                    .expect("spawn writer"),
            );
        }
        {
            let shared = shared.clone();
            let interval = cfg.checkpoint_interval;
            threads.push(
                std::thread::Builder::new()
                    .name("ledger-integrator".into())
                    .spawn(move || integrator_loop(shared, tree, interval))
                    .expect("spawn integrator"),
            );
        }
        Ok(Ledger { shared, tx, threads: Arc::new(Mutex::new(threads)) })
    }

    /// Queues entries for a durable append. The returned receiver resolves once they are
    /// fsynced. Answers `Busy` at once when the writer's queue is full.
    pub fn submit(
        &self,
        entries: Vec<NewEntry>,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<AppendReceipt, String>>, SubmitError> {
        if let Some(f) = self.shared.failure.lock().unwrap().clone() {
            return Err(SubmitError::Ledger(LedgerError::Closed(f)));
        }
        let mut prepared = Vec::with_capacity(entries.len());
        for e in entries {
            if e.payload.len() > wal::MAX_PAYLOAD {
                return Err(SubmitError::TooLarge(e.payload.len()));
            }
            let salt: [u8; 16] = rand::random();
            let commitment = commitment(&salt, &e.payload);
            prepared.push(Prepared { kind: e.kind, salt, commitment, payload: e.payload });
        }
        let (reply, rx) = tokio::sync::oneshot::channel();
        match self.tx.try_send(Request { entries: prepared, reply }) {
            Ok(()) => Ok(rx),
            Err(TrySendError::Full(_)) => Err(SubmitError::Busy),
            Err(TrySendError::Disconnected(_)) => Err(SubmitError::Ledger(LedgerError::Closed("writer stopped".into()))),
        }
    }

    /// Appends and waits until durable (blocking; for CLI and tests). Retries while busy.
    pub fn append_blocking(&self, entries: Vec<NewEntry>) -> Result<AppendReceipt, LedgerError> {
        loop {
            match self.submit(entries.clone()) {
                Ok(rx) => {
                    return rx
                        .blocking_recv()
                        .map_err(|_| LedgerError::Closed("writer stopped".into()))?
                        .map_err(LedgerError::Closed);
                }
                Err(SubmitError::Busy) => std::thread::sleep(Duration::from_millis(5)),
                Err(SubmitError::TooLarge(n)) => return Err(LedgerError::OutOfRange(format!("payload of {n} bytes too large"))),
                Err(SubmitError::Ledger(e)) => return Err(e),
            }
        }
    }

    /// Number of durable entries (acknowledged or about to be).
    pub fn durable_size(&self) -> u64 {
        *self.shared.durable.lock().unwrap()
    }

    /// Waits until the durable size exceeds `size` or `timeout` passes; returns the size.
    pub fn wait_durable_beyond(&self, size: u64, timeout: Duration) -> u64 {
        let g = self.shared.durable.lock().unwrap();
        let (g, _) = self.shared.durable_cv.wait_timeout_while(g, timeout, |d| *d <= size).unwrap();
        *g
    }

    /// The latest published checkpoint.
    pub fn checkpoint(&self) -> SignedCheckpoint {
        self.shared.published.read().unwrap().clone()
    }

    /// Waits until a checkpoint of at least `size` is published (or `timeout` passes).
    pub fn wait_checkpoint(&self, size: u64, timeout: Duration) -> SignedCheckpoint {
        let deadline = Instant::now() + timeout;
        let mut seq = self.shared.published_seq.lock().unwrap();
        loop {
            let cp = self.checkpoint();
            let now = Instant::now();
            if cp.size >= size || now >= deadline {
                return cp;
            }
            seq = self.shared.published_cv.wait_timeout(seq, deadline - now).unwrap().0;
        }
    }

    /// The checkpoint signer's verifier key.
    pub fn vkey(&self) -> &str {
        self.shared.signer.vkey()
    }

    /// The log origin.
    pub fn origin(&self) -> &str {
        self.shared.signer.origin()
    }

    /// The ledger directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Tile storage (for serving tiles).
    pub fn tiles(&self) -> &FsTileStore {
        &self.shared.store
    }

    /// Counters.
    pub fn stats(&self) -> &LedgerStats {
        &self.shared.stats
    }

    /// A cursor over payload records from `from_index` (read with `durable_size()` as bound).
    pub fn records_from(&self, from_index: u64) -> RecordCursor {
        RecordCursor::new(&self.shared.dir.join("wal"), from_index)
    }

    /// Attaches witness cosignature lines to the published checkpoint if it is still the one of
    /// `size`, rewrites the checkpoint file, and records it as the latest witnessed checkpoint
    /// ([`Ledger::latest_witnessed`]). The caller has verified the lines against the witness
    /// keys it trusts.
    pub fn add_cosignatures(&self, size: u64, lines: &[u8]) -> Result<bool, LedgerError> {
        let mut cp = self.shared.published.write().unwrap();
        if cp.size != size {
            return Ok(false);
        }
        let mut next = cp.clone();
        next.add_cosignature_lines(lines)?;
        self.shared.store.write_atomic("checkpoint", &next.note)?;
        *cp = next.clone();
        drop(cp);
        self.record_witnessed(&next.note)?;
        Ok(true)
    }

    /// Records `note` — a checkpoint of this log carrying cosignature lines the caller verified
    /// — as the latest witnessed checkpoint, persisted in `witnessed-checkpoint` (it survives
    /// restarts). Used directly when a cosignature arrives for a checkpoint that is no longer
    /// the published one (the log grew meanwhile). Kept only if it is not older than the one
    /// recorded; for the same size and root, the cosignature lines are merged. Returns whether
    /// it was kept.
    pub fn record_witnessed(&self, note: &[u8]) -> Result<bool, LedgerError> {
        let (cp, _) = SignedCheckpoint::verify(note, self.vkey(), &[])?;
        let mut w = self.shared.witnessed.lock().unwrap();
        let next = match w.as_ref() {
            Some(old) if old.size > cp.size => return Ok(false),
            Some(old) if old.size == cp.size => {
                if old.root != cp.root {
                    return Err(LedgerError::Checkpoint(format!("two roots for witnessed size {}", cp.size)));
                }
                // The other witnesses' lines of the same checkpoint stay; a witness's newer
                // line replaces its older one.
                let new_lines = signature_lines(note);
                let name_of = |l: &[u8]| l.split(|b| *b == b' ').nth(1).map(<[u8]>::to_vec);
                let new_names: Vec<_> = new_lines.split(|b| *b == b'\n').filter_map(name_of).collect();
                let mut lines: Vec<u8> = Vec::new();
                for l in signature_lines(&old.note).split(|b| *b == b'\n').chain(new_lines.split(|b| *b == b'\n')) {
                    if l.is_empty() || lines.split(|b| *b == b'\n').any(|h| h == l) {
                        continue;
                    }
                    let from_old = signature_lines(&old.note).split(|b| *b == b'\n').any(|h| h == l);
                    if from_old && name_of(l).is_some_and(|n| new_names.contains(&n)) && !new_lines.split(|b| *b == b'\n').any(|h| h == l) {
                        continue;
                    }
                    lines.extend_from_slice(l);
                    lines.push(b'\n');
                }
                let text_end = old.note.len() - signature_lines(&old.note).len();
                let mut merged_note = old.note[..text_end].to_vec();
                merged_note.extend_from_slice(&lines);
                SignedCheckpoint::parse_unverified(&merged_note)?
            }
            _ => cp,
        };
        self.shared.store.write_atomic(WITNESSED_FILE, &next.note)?;
        *w = Some(next);
        Ok(true)
    }

    /// The latest checkpoint recorded with a witness cosignature ([`Ledger::record_witnessed`]),
    /// unverified: check it with [`SignedCheckpoint::verify_cosignatures`] against the log and
    /// witness keys you trust.
    pub fn latest_witnessed(&self) -> Option<SignedCheckpoint> {
        self.shared.witnessed.lock().unwrap().clone()
    }

    /// An RFC 6962 inclusion proof of entry `index` in the tree of the latest checkpoint.
    pub fn inclusion_proof(&self, index: u64) -> Result<InclusionProof, LedgerError> {
        inclusion_proof(&self.shared.store, &self.checkpoint(), index)
    }

    /// An RFC 6962 consistency proof from `old` to `new` (≤ the latest checkpoint).
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<ConsistencyProof, LedgerError> {
        consistency_proof(&self.shared.store, &self.checkpoint(), old, new)
    }

    /// Stops accepting, lets the writer finish queued batches, integrates and publishes a final
    /// checkpoint, and joins the threads.
    pub fn close(&self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        self.shared.pending_cv.notify_all();
        let threads: Vec<_> = self.threads.lock().unwrap().drain(..).collect();
        for t in threads {
            let _ = t.join();
        }
    }
}

/// An RFC 6962 inclusion proof of entry `index` in the tree of checkpoint `cp`, read from tiles
/// (every tile read is checked against `cp`'s root by `tlog_tiles`).
pub fn inclusion_proof(src: &dyn TileSource, cp: &SignedCheckpoint, index: u64) -> Result<InclusionProof, LedgerError> {
    if index >= cp.size {
        return Err(LedgerError::OutOfRange(format!(
            "entry {index} is not in the latest checkpoint (size {}) yet",
            cp.size
        )));
    }
    let reader = StoreTileReader(src);
    let thr = TileHashReader::new(cp.size, cp.root, &reader);
    let hashes = tlog_tiles::prove_record(cp.size, index, &thr).map_err(|e| LedgerError::Proof(e.to_string()))?;
    let tile_index = index / TILE_WIDTH;
    let width = if tile_index == cp.size / TILE_WIDTH { (cp.size % TILE_WIDTH) as u16 } else { TILE_WIDTH as u16 };
    let bundle_id = TileId { kind: TileKind::Entries, index: tile_index, width };
    let bundle = read_tile_prefix(src, &bundle_id)?;
    let entries = crate::tiles::split_bundle(&bundle)
        .map_err(|e| LedgerError::BadTile { path: bundle_id.path(), why: e.to_string() })?;
    let within = (index % TILE_WIDTH) as usize;
    let entry = entries
        .get(within)
        .ok_or_else(|| LedgerError::BadTile { path: bundle_id.path(), why: format!("no entry {within}") })?
        .to_vec();
    // The entry bundle is not covered by the tile checks above: prove the entry itself against
    // the checkpoint's root with the audit path just computed.
    if tlog_tiles::check_record(&hashes, cp.size, cp.root, index, leaf_hash(&entry)).is_err() {
        return Err(LedgerError::BadTile { path: bundle_id.path(), why: format!("entry {within} is not the one the checkpoint commits to") });
    }
    Ok(InclusionProof { index, tree_size: cp.size, root: cp.root, entry, hashes, checkpoint: cp.note.clone() })
}

/// An RFC 6962 consistency proof from `old` to `new` (≤ `cp.size`), with both roots.
pub fn consistency_proof(src: &dyn TileSource, cp: &SignedCheckpoint, old: u64, new: u64) -> Result<ConsistencyProof, LedgerError> {
    if old > new || new > cp.size {
        return Err(LedgerError::OutOfRange(format!(
            "need old ≤ new ≤ {} (latest checkpoint), got {old} and {new}",
            cp.size
        )));
    }
    let reader = StoreTileReader(src);
    let thr = TileHashReader::new(cp.size, cp.root, &reader);
    let root_at = |n: u64| tlog_tiles::tree_hash(n, &thr).map_err(|e| LedgerError::Proof(e.to_string()));
    let new_root = root_at(new)?;
    let old_root = root_at(old)?;
    let hashes = if old == 0 || old == new {
        Vec::new()
    } else {
        let thr_new = TileHashReader::new(new, new_root, &reader);
        tlog_tiles::prove_tree(new, old, &thr_new).map_err(|e| LedgerError::Proof(e.to_string()))?
    };
    Ok(ConsistencyProof { old_size: old, new_size: new, old_root, new_root, hashes, checkpoint: cp.note.clone() })
}

/// Erases payloads of a closed ledger directory (takes its writer lock for the duration). See
/// [`crate::wal::erase_in_segments`]; record the tombstone entry before calling this.
pub fn erase_payloads(dir: &Path, indexes: &[u64]) -> Result<Vec<u64>, LedgerError> {
    let _lock = lock_dir(dir)?;
    let out = crate::wal::erase_in_segments(&dir.join("wal"), indexes)?;
    Ok(out)
}

/// An inclusion proof with everything an independent verifier needs.
#[derive(Clone, Debug)]
pub struct InclusionProof {
    /// Entry index.
    pub index: u64,
    /// Size of the tree the proof is for.
    pub tree_size: u64,
    /// Its root.
    pub root: Hash,
    /// The entry bytes (hash with 0x00 prefix to get the leaf).
    pub entry: Vec<u8>,
    /// Audit path, RFC 6962 §2.1.1 order.
    pub hashes: Vec<Hash>,
    /// The signed checkpoint for `tree_size`.
    pub checkpoint: Vec<u8>,
}

/// A consistency proof between two tree sizes.
#[derive(Clone, Debug)]
pub struct ConsistencyProof {
    /// Older size.
    pub old_size: u64,
    /// Newer size.
    pub new_size: u64,
    /// Root at the older size.
    pub old_root: Hash,
    /// Root at the newer size.
    pub new_root: Hash,
    /// Proof, RFC 6962 §2.1.2.
    pub hashes: Vec<Hash>,
    /// The latest signed checkpoint (its size may exceed `new_size`).
    pub checkpoint: Vec<u8>,
}

/// Adapts our tile storage to `tlog_tiles`' height-8 tile reader (which then checks every tile
/// it reads against the tree hash).
pub struct StoreTileReader<'a>(pub &'a dyn TileSource);

impl TileReader for StoreTileReader<'_> {
    fn height(&self) -> u8 {
        8
    }

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        tiles
            .iter()
            .map(|t| {
                let id = TileId { kind: TileKind::Hashes(t.level()), index: t.level_index(), width: t.width() as u16 };
                let data = read_tile_prefix(self.0, &id).map_err(|_| tlog_tiles::Error::InvalidTile)?;
                let need = t.width() as usize * HASH_SIZE;
                if data.len() < need {
                    return Err(tlog_tiles::Error::InvalidTile);
                }
                Ok(data[..need].to_vec())
            })
            .collect()
    }

    fn save_tiles(&self, _tiles: &[Tile], _data: &[Vec<u8>]) {}
}

/// File (in the ledger directory) holding the latest witnessed checkpoint.
pub const WITNESSED_FILE: &str = "witnessed-checkpoint";

/// The signature lines of a note (everything after the blank line that ends the text).
fn signature_lines(note: &[u8]) -> Vec<u8> {
    match note.windows(2).position(|w| w == b"\n\n") {
        Some(i) => note[i + 2..].to_vec(),
        None => Vec::new(),
    }
}

fn publish(shared: &Shared, tree: &TreeState) -> Result<(), LedgerError> {
    tree.write_partials(&shared.store)?;
    shared.store.sync_all()?;
    let cp = shared.signer.sign(tree.size, &tree.frontier.root())?;
    shared.store.write_atomic("checkpoint", &cp.note)?;
    *shared.published.write().unwrap() = cp;
    shared.stats.checkpoints.fetch_add(1, Ordering::Relaxed);
    *shared.published_seq.lock().unwrap() += 1;
    shared.published_cv.notify_all();
    Ok(())
}

fn fail(shared: &Shared, why: String) {
    tracing::error!(%why, "ledger stopped");
    *shared.failure.lock().unwrap() = Some(why);
}

/// Most durable entries allowed to wait for integration before the writer pauses (≈ 50 MB).
const MAX_PENDING: usize = 1 << 20;

fn writer_loop(
    shared: Arc<Shared>,
    rx: Receiver<Request>,
    mut seg: SegmentWriter,
    mut next_index: u64,
    max_batch: usize,
    seg_bytes: u64,
) {
    let wal_dir = shared.dir.join("wal");
    let mut buf = Vec::with_capacity(8 << 20);
    loop {
        // Backpressure from integration: while too many durable entries wait to be hashed into
        // the tree, stop taking batches, so the queue fills and `submit` answers Busy, instead of
        // letting the backlog (and checkpoint lag) grow without bound.
        {
            let mut g = shared.pending.lock().unwrap();
            while g.len() >= MAX_PENDING && shared.failure.lock().unwrap().is_none() {
                g = shared.drained_cv.wait_timeout(g, Duration::from_millis(100)).unwrap().0;
            }
        }
        let first = match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) => {
                if shared.shutdown.load(Ordering::SeqCst) {
                    break;
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut batch = vec![first];
        let mut n: usize = batch[0].entries.len();
        while n < max_batch {
            match rx.try_recv() {
                Ok(r) => {
                    n += r.entries.len();
                    batch.push(r);
                }
                Err(_) => break,
            }
        }
        if seg.len >= seg_bytes {
            match SegmentWriter::create(&wal_dir, next_index) {
                Ok(s) => seg = s,
                Err(e) => {
                    fail(&shared, e.to_string());
                    for r in batch {
                        let _ = r.reply.send(Err(e.to_string()));
                    }
                    break;
                }
            }
        }
        let ts = now_micros();
        buf.clear();
        let mut entries = Vec::with_capacity(n);
        let mut receipts = Vec::with_capacity(batch.len());
        for r in &batch {
            receipts.push(AppendReceipt { first_index: next_index, count: r.entries.len() as u64, ingested_micros: ts });
            for p in &r.entries {
                encode_record(&mut buf, next_index, p.kind, ts, &p.salt, &p.payload);
                entries.push(Entry { kind: p.kind, ingested_micros: ts, commitment: p.commitment });
                next_index += 1;
            }
        }
        let t0 = Instant::now();
        if let Err(e) = seg.append_durable(&buf) {
            // Nothing of this batch is acknowledged; the ledger refuses further writes, since the
            // file state after a failed fsync is unknown (fsyncgate).
            fail(&shared, e.to_string());
            for r in batch {
                let _ = r.reply.send(Err(e.to_string()));
            }
            break;
        }
        let dt = t0.elapsed().as_nanos() as u64;
        let st = &shared.stats;
        st.fsync_nanos.fetch_add(dt, Ordering::Relaxed);
        st.fsync_max_nanos.fetch_max(dt, Ordering::Relaxed);
        st.commits.fetch_add(1, Ordering::Relaxed);
        st.appended.fetch_add(entries.len() as u64, Ordering::Relaxed);
        st.bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
        {
            let mut p = shared.pending.lock().unwrap();
            p.extend(entries);
            if p.len() >= MAX_PENDING {
                shared.pending_cv.notify_all();
            }
        }
        *shared.durable.lock().unwrap() = next_index;
        shared.durable_cv.notify_all();
        for (r, receipt) in batch.into_iter().zip(receipts) {
            let _ = r.reply.send(Ok(receipt));
        }
    }
    shared.shutdown.store(true, Ordering::SeqCst);
    shared.writer_done.store(true, Ordering::SeqCst);
    shared.pending_cv.notify_all();
}

fn integrator_loop(shared: Arc<Shared>, mut tree: TreeState, interval: Duration) {
    loop {
        let batch = {
            let g = shared.pending.lock().unwrap();
            let (mut g, _) = shared
                .pending_cv
                .wait_timeout_while(g, interval, |p| !shared.writer_done.load(Ordering::SeqCst) && p.len() < MAX_PENDING)
                .unwrap();
            let taken = std::mem::take(&mut *g);
            shared.drained_cv.notify_all();
            taken
        };
        // Stop only once the writer has stopped, so every durable entry is integrated.
        let stopping = shared.writer_done.load(Ordering::SeqCst);
        if !batch.is_empty() {
            let r = tree.append(&shared.store, &batch).and_then(|()| publish(&shared, &tree));
            if let Err(e) = r {
                fail(&shared, format!("integration failed: {e}"));
                return;
            }
        }
        if stopping {
            // The writer may still have been finishing a batch; take what is left.
            let rest = std::mem::take(&mut *shared.pending.lock().unwrap());
            if !rest.is_empty()
                && let Err(e) = tree.append(&shared.store, &rest).and_then(|()| publish(&shared, &tree)) {
                    fail(&shared, format!("integration failed: {e}"));
                }
            return;
        }
    }
}

/// Reads every record of the payload store below `bound` (for verification and reindexing).
pub fn read_records(dir: &Path, from: u64, bound: u64, max: usize) -> Result<Vec<Record>, LedgerError> {
    RecordCursor::new(&dir.join("wal"), from).read(bound, max)
}
