//! The fingerprint store: one segment file per export (its sorted feature hashes) and a
//! compacted, memory-mapped posting index over all of them.
//!
//! ```text
//! <dir>/exports.jsonl      one ExportMeta per line (who, when, channel, ledger entry)
//! <dir>/canaries.jsonl     one CanaryMeta per line
//! <dir>/seg/<no>.fps       "MFPS0001", export no (u32), 0 (u32), count (u64), hashes (u64 LE, sorted)
//! <dir>/index.fpx          "MFPX0001", bits (u32), 0 (u32), covered (u64), postings (u64),
//!                          directory: 2^bits + 1 u64 entry offsets by the hash's top bits,
//!                          entries: (the 32 hash bits below the bucket bits: u32, export no: u32)
//! ```
//!
//! Why hand-written rather than SQLite: a trace probes ~150k features against ~700M postings;
//! a bucket directory plus one contiguous 8-byte-entry scan per probe is one or two page reads,
//! and the file is 8 bytes per posting, where a SQLite index of (hash, export) costs ~3–4× that.
//! Segments are the source of the index (it is rebuilt from them by [`FpStore::compact`]) and
//! each segment's SHA-256 is in the ledger entry of its export, so a changed segment is detected.

use crate::TraceError;
use memmap2::Mmap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

const SEG_MAGIC: &[u8; 8] = b"MFPS0001";
const IDX_MAGIC: &[u8; 8] = b"MFPX0001";
const SEG_HEADER: usize = 24;
const IDX_HEADER: usize = 32;

/// One recorded export (a fingerprinting): what left, who, when, how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportMeta {
    /// Sequential number in this store (the segment number).
    pub no: u32,
    /// Ledger id of the export event (the fingerprinting entry, or the source event it links).
    pub export_id: u64,
    /// Ledger id of the fingerprinting entry.
    pub ledger_id: u64,
    /// Who exported (account).
    pub user: String,
    /// When (RFC 3339).
    pub time: String,
    /// Channel: business-system export, usb, mail, share, print …
    pub channel: String,
    /// Source system, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// The file as recorded.
    pub file_name: String,
    /// SHA-256 of the file's bytes (the file version, for Hirosaki mode).
    pub file_sha256: String,
    /// Records fingerprinted.
    pub records: u64,
    /// Distinct features stored.
    pub features: u64,
    /// SHA-256 of the segment file.
    pub segment_sha256: String,
}

/// A registered canary record (目印レコード).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanaryMeta {
    /// Canary id (printed on the registration).
    pub canary_id: String,
    /// The export it was put into (a label or an export id).
    pub export: String,
    /// Whom the export was given to.
    pub recipient: String,
    /// Ledger id of the registration.
    pub ledger_id: u64,
    /// Keyed features of the canary record.
    pub features: Vec<u64>,
}

/// A fingerprint store directory.
pub struct FpStore {
    dir: PathBuf,
    index: Option<Index>,
    segments: Vec<Segment>,
    exports: Vec<ExportMeta>,
    canaries: Vec<CanaryMeta>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TraceError + '_ {
    move |e| TraceError::Io { path: path.to_owned(), why: e.to_string() }
}

fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, TraceError> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(path)(e)),
    };
    let mut out = Vec::new();
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line.map_err(io_err(path))?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(&line).map_err(|e| TraceError::Store(format!("{}:{}: {e}", path.display(), i + 1)))?);
    }
    Ok(out)
}

fn append_jsonl<T: Serialize>(path: &Path, v: &T) -> Result<(), TraceError> {
    let mut f = OpenOptions::new().create(true).append(true).open(path).map_err(io_err(path))?;
    let mut line = serde_json::to_vec(v).expect("serializable");
    line.push(b'\n');
    f.write_all(&line).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}

impl FpStore {
    /// Opens (creating) the store at `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<FpStore, TraceError> {
        let dir = dir.into();
        let seg = dir.join("seg");
        fs::create_dir_all(&seg).map_err(io_err(&seg))?;
        let exports: Vec<ExportMeta> = read_jsonl(&dir.join("exports.jsonl"))?;
        let canaries = read_jsonl(&dir.join("canaries.jsonl"))?;
        let ip = dir.join("index.fpx");
        let index = if ip.exists() { Some(Index::open(&ip)?) } else { None };
        let covered = index.as_ref().map_or(0, |i| i.covered);
        let mut segments = Vec::new();
        for e in exports.iter().filter(|e| u64::from(e.no) >= covered) {
            segments.push(Segment::open(&dir.join("seg").join(format!("{}.fps", e.no)))?);
        }
        Ok(FpStore { dir, index, segments, exports, canaries })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The recorded exports, oldest first.
    pub fn exports(&self) -> &[ExportMeta] {
        &self.exports
    }

    /// The registered canaries.
    pub fn canaries(&self) -> &[CanaryMeta] {
        &self.canaries
    }

    /// The number the next export gets.
    pub fn next_no(&self) -> u32 {
        self.exports.iter().map(|e| e.no + 1).max().unwrap_or(0).max(self.index.as_ref().map_or(0, |i| i.covered as u32))
    }

    /// Writes the segment of export `no` (hashes deduplicated and sorted); returns the number of
    /// distinct features and the segment's SHA-256. Call [`FpStore::add_export`] after ledgering.
    pub fn write_segment(&self, no: u32, mut hashes: Vec<u64>) -> Result<(u64, String), TraceError> {
        hashes.sort_unstable();
        hashes.dedup();
        let mut buf = Vec::with_capacity(SEG_HEADER + hashes.len() * 8);
        buf.extend_from_slice(SEG_MAGIC);
        buf.extend_from_slice(&no.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes());
        buf.extend_from_slice(&(hashes.len() as u64).to_le_bytes());
        for h in &hashes {
            buf.extend_from_slice(&h.to_le_bytes());
        }
        let p = self.dir.join("seg").join(format!("{no}.fps"));
        let tmp = p.with_extension("tmp");
        {
            let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
            f.write_all(&buf).map_err(io_err(&tmp))?;
            f.sync_all().map_err(io_err(&tmp))?;
        }
        fs::rename(&tmp, &p).map_err(io_err(&p))?;
        Ok((hashes.len() as u64, hex::encode(Sha256::digest(&buf))))
    }

    /// Records an export whose segment was written (and whose ledger entry exists).
    pub fn add_export(&mut self, meta: ExportMeta) -> Result<(), TraceError> {
        let p = self.dir.join("seg").join(format!("{}.fps", meta.no));
        let seg = Segment::open(&p)?;
        append_jsonl(&self.dir.join("exports.jsonl"), &meta)?;
        self.segments.push(seg);
        self.exports.push(meta);
        Ok(())
    }

    /// Registers a canary (after its ledger entry exists).
    pub fn add_canary(&mut self, meta: CanaryMeta) -> Result<(), TraceError> {
        append_jsonl(&self.dir.join("canaries.jsonl"), &meta)?;
        self.canaries.push(meta);
        Ok(())
    }

    /// Verifies every segment against the SHA-256 recorded for it; returns the exports whose
    /// segment does not match.
    pub fn check_segments(&self) -> Vec<(u32, String)> {
        let mut bad = Vec::new();
        for e in &self.exports {
            let p = self.dir.join("seg").join(format!("{}.fps", e.no));
            match fs::read(&p) {
                Ok(b) if hex::encode(Sha256::digest(&b)) == e.segment_sha256 => {}
                Ok(_) => bad.push((e.no, format!("{}: SHA-256 differs from the ledger / 台帳の値と不一致", p.display()))),
                Err(err) => bad.push((e.no, format!("{}: {err}", p.display()))),
            }
        }
        bad
    }

    /// Exports that hold feature `h` (each at most once per source).
    pub fn lookup(&self, h: u64, out: &mut Vec<u32>) {
        if let Some(i) = &self.index {
            i.lookup(h, out);
        }
        for s in &self.segments {
            if s.contains(h) {
                out.push(s.no);
            }
        }
    }

    /// Number of segments not yet in the compacted index.
    pub fn pending_segments(&self) -> usize {
        self.segments.len()
    }

    /// Rebuilds the compacted index from every segment (a count pass, then scatter passes by
    /// bucket range written sequentially), then replaces it atomically.
    pub fn compact(&mut self) -> Result<(), TraceError> {
        let mut segs = Vec::with_capacity(self.exports.len());
        for e in &self.exports {
            segs.push(Segment::open(&self.dir.join("seg").join(format!("{}.fps", e.no)))?);
        }
        let covered = self.next_no() as u64;
        let p = self.dir.join("index.fpx");
        build_index(&p, covered, segs.iter().map(|s| (s.no, s.hashes())))?;
        self.index = Some(Index::open(&p)?);
        self.segments.clear();
        Ok(())
    }
}

/// One export's sorted hashes, memory-mapped.
struct Segment {
    no: u32,
    map: Mmap,
    count: usize,
}

impl Segment {
    fn open(p: &Path) -> Result<Segment, TraceError> {
        let f = File::open(p).map_err(io_err(p))?;
        // SAFETY: segment files are written once to a temporary name and renamed into place; they
        // are never modified afterwards, so the mapped bytes do not change under us.
        let map = unsafe { Mmap::map(&f) }.map_err(io_err(p))?;
        let bad = |why: &str| TraceError::Store(format!("{}: {why}", p.display()));
        if map.len() < SEG_HEADER || &map[..8] != SEG_MAGIC {
            return Err(bad("not a fingerprint segment (bad magic)"));
        }
        let no = u32::from_le_bytes(map[8..12].try_into().expect("4 bytes"));
        let count = u64::from_le_bytes(map[16..24].try_into().expect("8 bytes")) as usize;
        if map.len() != SEG_HEADER + count * 8 {
            return Err(bad("length does not match its count"));
        }
        Ok(Segment { no, map, count })
    }

    fn at(&self, i: usize) -> u64 {
        let o = SEG_HEADER + i * 8;
        u64::from_le_bytes(self.map[o..o + 8].try_into().expect("8 bytes"))
    }

    fn contains(&self, h: u64) -> bool {
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.at(mid).cmp(&h) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return true,
            }
        }
        false
    }

    fn hashes(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.count).map(|i| self.at(i))
    }
}

/// The compacted posting index.
struct Index {
    map: Mmap,
    bits: u32,
    covered: u64,
    n: u64,
}

impl Index {
    fn open(p: &Path) -> Result<Index, TraceError> {
        let f = File::open(p).map_err(io_err(p))?;
        // SAFETY: the index is built under a temporary name and renamed into place, never written
        // in place afterwards; a rebuild replaces the directory entry, not these bytes.
        let map = unsafe { Mmap::map(&f) }.map_err(io_err(p))?;
        let bad = |why: &str| TraceError::Store(format!("{}: {why}", p.display()));
        if map.len() < IDX_HEADER || &map[..8] != IDX_MAGIC {
            return Err(bad("not a fingerprint index (bad magic)"));
        }
        let bits = u32::from_le_bytes(map[8..12].try_into().expect("4"));
        let covered = u64::from_le_bytes(map[16..24].try_into().expect("8"));
        let n = u64::from_le_bytes(map[24..32].try_into().expect("8"));
        if bits > 32 || map.len() as u64 != IDX_HEADER as u64 + ((1u64 << bits) + 1) * 8 + n * 8 {
            return Err(bad("length does not match its header"));
        }
        Ok(Index { map, bits, covered, n })
    }

    fn dir_at(&self, b: u64) -> u64 {
        let o = IDX_HEADER + b as usize * 8;
        u64::from_le_bytes(self.map[o..o + 8].try_into().expect("8"))
    }

    fn lookup(&self, h: u64, out: &mut Vec<u32>) {
        let b = if self.bits == 0 { 0 } else { h >> (64 - self.bits) };
        let (start, end) = (self.dir_at(b), self.dir_at(b + 1).min(self.n));
        let base = IDX_HEADER + ((1usize << self.bits) + 1) * 8;
        let low = suffix(h, self.bits);
        let entries = &self.map[base + start as usize * 8..base + end as usize * 8];
        for e in entries.chunks_exact(8) {
            if u32::from_le_bytes(e[..4].try_into().expect("4")) == low {
                out.push(u32::from_le_bytes(e[4..].try_into().expect("4")));
            }
        }
    }
}

/// The 32 bits of `h` right below its top `bits` (the bucket): bucket + suffix = `bits + 32`
/// bits of the hash compared.
fn suffix(h: u64, bits: u32) -> u32 {
    ((h << bits) >> 32) as u32
}

/// Builds an index file at `path` from (export no, its hashes) sources; each source is iterated
/// several times. Written to `path.tmp`, then renamed.
pub fn build_index<I, H>(path: &Path, covered: u64, sources: I) -> Result<(), TraceError>
where
    I: Iterator<Item = (u32, H)> + Clone,
    H: Iterator<Item = u64>,
{
    let mut n: u64 = 0;
    for (_, hs) in sources.clone() {
        n += hs.count() as u64;
    }
    // ~32 postings per bucket: one scan of ~256 bytes per probe, directory 1/4 byte per posting.
    let bits = (64 - (n / 32).max(1).leading_zeros()).clamp(1, 30);
    let buckets = 1usize << bits;
    let mut counts = vec![0u64; buckets + 1];
    for (_, hs) in sources.clone() {
        for h in hs {
            counts[(h >> (64 - bits)) as usize + 1] += 1;
        }
    }
    for i in 1..=buckets {
        counts[i] += counts[i - 1];
    }
    // Scatter in memory, a range of buckets at a time (at most CHUNK entries), then write each
    // range sequentially: random writes into a file-backed map make the kernel write dirty
    // pages back over and over (measured: >100 GB written for a 3.3 GB index).
    const CHUNK: u64 = 64 << 20;
    let tmp = path.with_extension("tmp");
    let f = File::create(&tmp).map_err(io_err(&tmp))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let mut head = Vec::with_capacity(IDX_HEADER + (buckets + 1) * 8);
    head.extend_from_slice(IDX_MAGIC);
    head.extend_from_slice(&bits.to_le_bytes());
    head.extend_from_slice(&0u32.to_le_bytes());
    head.extend_from_slice(&covered.to_le_bytes());
    head.extend_from_slice(&n.to_le_bytes());
    for c in &counts {
        head.extend_from_slice(&c.to_le_bytes());
    }
    w.write_all(&head).map_err(io_err(&tmp))?;
    let mut lo = 0usize;
    while lo < buckets {
        let mut hi = lo + 1;
        while hi < buckets && counts[hi + 1] - counts[lo] <= CHUNK {
            hi += 1;
        }
        let base = counts[lo];
        let mut buf = vec![0u64; (counts[hi] - base) as usize];
        let mut fill: Vec<u64> = counts[lo..hi].iter().map(|c| c - base).collect();
        for (no, hs) in sources.clone() {
            for h in hs {
                let b = (h >> (64 - bits)) as usize;
                if b >= lo && b < hi {
                    let o = &mut fill[b - lo];
                    buf[*o as usize] = suffix(h, bits) as u64 | ((no as u64) << 32);
                    *o += 1;
                }
            }
        }
        for e in &buf {
            w.write_all(&e.to_le_bytes()).map_err(io_err(&tmp))?;
        }
        lo = hi;
    }
    let f = w.into_inner().map_err(|e| io_err(&tmp)(e.into_error()))?;
    f.sync_all().map_err(io_err(&tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(io_err(path))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(no: u32, records: u64, features: u64, sha: String) -> ExportMeta {
        ExportMeta {
            no,
            export_id: no as u64 + 100,
            ledger_id: no as u64 + 100,
            user: "u".into(),
            time: "2026-01-01T00:00:00Z".into(),
            channel: "csv".into(),
            system: None,
            file_name: "f.csv".into(),
            file_sha256: String::new(),
            records,
            features,
            segment_sha256: sha,
        }
    }

    #[test]
    fn segments_index_and_compaction_agree() {
        let d = tempfile::tempdir().unwrap();
        let mut s = FpStore::open(d.path()).unwrap();
        let sets: Vec<Vec<u64>> = (0..5u64).map(|e| (0..1000u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (e << 40)).collect()).collect();
        for (no, hs) in sets.iter().enumerate() {
            let (f, sha) = s.write_segment(no as u32, hs.clone()).unwrap();
            s.add_export(meta(no as u32, 1000, f, sha)).unwrap();
        }
        let probe = sets[3][17];
        let mut out = Vec::new();
        s.lookup(probe, &mut out);
        assert_eq!(out, vec![3]);
        s.compact().unwrap();
        assert_eq!(s.pending_segments(), 0);
        out.clear();
        s.lookup(probe, &mut out);
        assert_eq!(out, vec![3]);
        out.clear();
        s.lookup(0xdead_beef_dead_beef, &mut out);
        assert!(out.is_empty());
        assert!(s.check_segments().is_empty());
        // Reopen: index plus a new segment.
        let mut s = FpStore::open(d.path()).unwrap();
        let (f, sha) = s.write_segment(5, vec![probe]).unwrap();
        s.add_export(meta(5, 1, f, sha)).unwrap();
        out.clear();
        s.lookup(probe, &mut out);
        out.sort();
        assert_eq!(out, vec![3, 5]);
        // Tampering with a segment is seen.
        std::fs::write(d.path().join("seg/1.fps"), b"MFPS0001xxxx").unwrap();
        assert_eq!(s.check_segments().len(), 1);
    }
}
