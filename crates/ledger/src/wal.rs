//! The payload store: append-only segment files holding every record's payload and salt, in
//! ledger order. It is also the write-ahead log: a record is acknowledged once its segment has
//! been fsynced, before it is integrated into the tree (see [`crate::engine`]).
//!
//! Segment file `wal/<first index, 20 digits>.seg`:
//!
//! ```text
//! header:  "MAMORIW1" | first_index u64 LE
//! record:  len u32 LE (bytes after this field) | index u64 LE | ingested_micros i64 LE
//!          | kind u8 | flags u8 | salt [16] | payload | crc32c u32 LE (over index..payload)
//! ```
//!
//! A record whose payload was erased has flag bit 0 set, a zero salt, and the 32-byte commitment
//! in place of the payload, so the log entry can still be re-derived.
//!
//! Hand-written rather than a crate: the format must be append-only, fsync-batched and readable
//! while being written; no embedded KV store gives that with one write+fdatasync per batch.

use crate::entry::{Entry, EntryKind, commitment};
use crate::error::LedgerError;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"MAMORIW1";
const HEADER_LEN: u64 = 16;
/// Fixed bytes in a record besides the payload: len, index, ts, kind, flags, salt, crc.
pub const RECORD_OVERHEAD: usize = 4 + 8 + 8 + 1 + 1 + 16 + 4;
/// Largest payload accepted (entries stay small; this bounds one record's memory).
pub const MAX_PAYLOAD: usize = 16 * 1024 * 1024;
const FLAG_ERASED: u8 = 1;

/// One record of the payload store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Ledger index (the event id).
    pub index: u64,
    /// What it records.
    pub kind: EntryKind,
    /// Acceptance time, Unix microseconds.
    pub ingested_micros: i64,
    /// Random salt of the commitment (zero once erased).
    pub salt: [u8; 16],
    /// The payload (for erased records: empty).
    pub payload: Vec<u8>,
    /// Set once the payload has been erased.
    pub erased: bool,
    /// `SHA-256(salt || payload)`, kept for erased records.
    pub commitment: [u8; 32],
}

impl Record {
    /// The log entry this record is committed by.
    pub fn entry(&self) -> Entry {
        Entry { kind: self.kind, ingested_micros: self.ingested_micros, commitment: self.commitment }
    }

    /// Whether the payload still matches the commitment (erased records have none to check).
    pub fn payload_matches(&self) -> bool {
        self.erased || commitment(&self.salt, &self.payload) == self.commitment
    }
}

/// Encodes a record (not erased) into `buf`.
pub fn encode_record(
    buf: &mut Vec<u8>,
    index: u64,
    kind: EntryKind,
    ingested_micros: i64,
    salt: &[u8; 16],
    payload: &[u8],
) {
    encode_with_flags(buf, index, kind, ingested_micros, 0, salt, payload);
}

/// Encodes an erased record: zero salt, flag bit 0, and the commitment in place of the payload,
/// so the log entry can still be re-derived while the personal data and its salt are gone.
pub fn encode_erased(buf: &mut Vec<u8>, index: u64, kind: EntryKind, ingested_micros: i64, commitment: &[u8; 32]) {
    encode_with_flags(buf, index, kind, ingested_micros, FLAG_ERASED, &[0u8; 16], commitment);
}

fn encode_with_flags(buf: &mut Vec<u8>, index: u64, kind: EntryKind, ingested_micros: i64, flags: u8, salt: &[u8; 16], payload: &[u8]) {
    let body_len = RECORD_OVERHEAD - 4 + payload.len();
    buf.extend_from_slice(&(body_len as u32).to_le_bytes());
    let start = buf.len();
    buf.extend_from_slice(&index.to_le_bytes());
    buf.extend_from_slice(&ingested_micros.to_le_bytes());
    buf.push(kind.code());
    buf.push(flags);
    buf.extend_from_slice(salt);
    buf.extend_from_slice(payload);
    let crc = crc32c::crc32c(&buf[start..]);
    buf.extend_from_slice(&crc.to_le_bytes());
}

/// Why decoding stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum DecodeStop {
    /// Not enough bytes for a whole record (a torn tail, or simply the end).
    Incomplete,
    /// The bytes are not a valid record.
    Corrupt(String),
}

/// Decodes one record from the start of `buf`; returns it and its encoded length.
pub fn decode_record(buf: &[u8]) -> Result<(Record, usize), DecodeStop> {
    if buf.len() < 4 {
        return Err(DecodeStop::Incomplete);
    }
    let body_len = u32::from_le_bytes(buf[..4].try_into().unwrap()) as usize;
    if !(RECORD_OVERHEAD - 4..=MAX_PAYLOAD + RECORD_OVERHEAD).contains(&body_len) {
        return Err(DecodeStop::Corrupt(format!("impossible record length {body_len}")));
    }
    if buf.len() < 4 + body_len {
        return Err(DecodeStop::Incomplete);
    }
    let body = &buf[4..4 + body_len];
    let (data, crc) = body.split_at(body_len - 4);
    if crc32c::crc32c(data) != u32::from_le_bytes(crc.try_into().unwrap()) {
        return Err(DecodeStop::Corrupt("checksum mismatch".into()));
    }
    let index = u64::from_le_bytes(data[0..8].try_into().unwrap());
    let ingested_micros = i64::from_le_bytes(data[8..16].try_into().unwrap());
    let kind = EntryKind::from_code(data[16])
        .ok_or_else(|| DecodeStop::Corrupt(format!("unknown kind code {}", data[16])))?;
    let flags = data[17];
    let salt: [u8; 16] = data[18..34].try_into().unwrap();
    let rest = &data[34..];
    let erased = flags & FLAG_ERASED != 0;
    let (payload, commit) = if erased {
        let c: [u8; 32] = rest
            .try_into()
            .map_err(|_| DecodeStop::Corrupt("erased record without a 32-byte commitment".into()))?;
        (Vec::new(), c)
    } else {
        (rest.to_vec(), commitment(&salt, rest))
    };
    Ok((
        Record { index, kind, ingested_micros, salt, payload, erased, commitment: commit },
        4 + body_len,
    ))
}

/// A segment's file name for its first index.
pub fn segment_name(first_index: u64) -> String {
    format!("{first_index:020}.seg")
}

/// Lists segment files of `dir` as (first index, path), sorted.
pub fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, LedgerError> {
    let mut segs = Vec::new();
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(segs),
        Err(e) => return Err(LedgerError::io("read dir", dir)(e)),
    };
    for ent in rd {
        let ent = ent.map_err(LedgerError::io("read dir", dir))?;
        let name = ent.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".seg")) else { continue };
        if let Ok(first) = stem.parse::<u64>() {
            segs.push((first, ent.path()));
        }
    }
    segs.sort();
    Ok(segs)
}

/// Writes a fresh segment header.
pub fn segment_header(first_index: u64) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[..8].copy_from_slice(MAGIC);
    h[8..].copy_from_slice(&first_index.to_le_bytes());
    h
}

/// Result of scanning a whole segment.
pub struct SegmentScan {
    /// Records in order.
    pub records: Vec<Record>,
    /// Byte length of the valid prefix (header + whole records).
    pub valid_len: u64,
    /// File length; more than `valid_len` when the tail is torn.
    pub file_len: u64,
}

/// Reads and checks a whole segment. A torn tail (incomplete last record, or garbage after the
/// last good record in the *last* segment) is reported through `valid_len`; corruption followed
/// by more valid data is an error.
pub fn scan_segment(path: &Path, expect_first: u64) -> Result<SegmentScan, LedgerError> {
    let bytes = fs::read(path).map_err(LedgerError::io("read", path))?;
    let corrupt = |offset: u64, why: String| LedgerError::CorruptSegment { path: path.to_owned(), offset, why };
    if bytes.len() < HEADER_LEN as usize {
        // A segment whose header never made it to disk holds no acknowledged record.
        return Ok(SegmentScan { records: Vec::new(), valid_len: 0, file_len: bytes.len() as u64 });
    }
    if &bytes[..8] != MAGIC {
        return Err(corrupt(0, "bad magic".into()));
    }
    let first = u64::from_le_bytes(bytes[8..16].try_into().unwrap());
    if first != expect_first {
        return Err(corrupt(8, format!("header says first index {first}, file name says {expect_first}")));
    }
    let mut off = HEADER_LEN as usize;
    let mut records = Vec::new();
    let mut next = first;
    while off < bytes.len() {
        match decode_record(&bytes[off..]) {
            Ok((rec, n)) => {
                if rec.index != next {
                    return Err(corrupt(off as u64, format!("record index {} where {next} was expected", rec.index)));
                }
                next += 1;
                records.push(rec);
                off += n;
            }
            Err(DecodeStop::Incomplete) => break,
            Err(DecodeStop::Corrupt(why)) => {
                // A torn write can leave garbage only at the very end; if a valid record
                // follows, this is damage, not a crash.
                if tail_has_valid_record(&bytes[off..], next) {
                    return Err(corrupt(off as u64, why));
                }
                break;
            }
        }
    }
    Ok(SegmentScan { records, valid_len: off as u64, file_len: bytes.len() as u64 })
}

fn tail_has_valid_record(tail: &[u8], next: u64) -> bool {
    // Look for a whole valid record carrying the next expected index (or the one after, in case
    // the damaged record itself was `next`) anywhere after the bad spot.
    (1..tail.len().saturating_sub(12)).any(|i| {
        let idx = u64::from_le_bytes(tail[i + 4..i + 12].try_into().unwrap());
        (idx == next || idx == next + 1)
            && matches!(decode_record(&tail[i..]), Ok((r, _)) if r.index == idx)
    })
}

/// The open, appendable tail segment.
pub struct SegmentWriter {
    file: File,
    path: PathBuf,
    /// First index of this segment.
    pub first_index: u64,
    /// Current length in bytes.
    pub len: u64,
}

impl SegmentWriter {
    /// Creates a new segment (and fsyncs the directory so the file name is durable).
    pub fn create(dir: &Path, first_index: u64) -> Result<Self, LedgerError> {
        let path = dir.join(segment_name(first_index));
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .map_err(LedgerError::io("create", &path))?;
        file.write_all(&segment_header(first_index)).map_err(LedgerError::io("write", &path))?;
        file.sync_all().map_err(LedgerError::io("fsync", &path))?;
        sync_dir(dir)?;
        Ok(SegmentWriter { file, path, first_index, len: HEADER_LEN })
    }

    /// Opens an existing segment for appending after `valid_len` bytes, cutting off a torn tail.
    pub fn reopen(path: &Path, first_index: u64, valid_len: u64) -> Result<Self, LedgerError> {
        let mut file = OpenOptions::new().write(true).open(path).map_err(LedgerError::io("open", path))?;
        if valid_len < HEADER_LEN {
            file.set_len(0).map_err(LedgerError::io("truncate", path))?;
            file.write_all(&segment_header(first_index)).map_err(LedgerError::io("write", path))?;
        } else {
            file.set_len(valid_len).map_err(LedgerError::io("truncate", path))?;
        }
        file.seek(SeekFrom::End(0)).map_err(LedgerError::io("seek", path))?;
        file.sync_all().map_err(LedgerError::io("fsync", path))?;
        let len = valid_len.max(HEADER_LEN);
        Ok(SegmentWriter { file, path: path.to_owned(), first_index, len })
    }

    /// Appends encoded records and makes them durable (`fdatasync`).
    pub fn append_durable(&mut self, buf: &[u8]) -> Result<(), LedgerError> {
        self.file.write_all(buf).map_err(LedgerError::io("write", &self.path))?;
        self.file.sync_data().map_err(LedgerError::io("fdatasync", &self.path))?;
        self.len += buf.len() as u64;
        Ok(())
    }
}

/// fsyncs a directory so that created/renamed names in it are durable.
pub fn sync_dir(dir: &Path) -> Result<(), LedgerError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(LedgerError::io("fsync dir", dir))
}

/// Sequential reader over the payload store, for followers (the index) and verification. It
/// reads only below a bound given by the caller (the durable size), so it never sees a record
/// that is still being written.
pub struct RecordCursor {
    dir: PathBuf,
    next_index: u64,
    /// Open segment, its path, bytes read, the file offset of the first undecoded byte (for
    /// error messages), and the position of that byte in the buffer (the buffer is compacted
    /// only when refilled, not per record).
    current: Option<(File, PathBuf, Vec<u8>, u64, usize)>,
}

impl RecordCursor {
    /// A cursor positioned at `from_index`.
    pub fn new(dir: &Path, from_index: u64) -> Self {
        RecordCursor { dir: dir.to_owned(), next_index: from_index, current: None }
    }

    /// Index of the next record this cursor returns.
    pub fn position(&self) -> u64 {
        self.next_index
    }

    /// Reads up to `max` records with index < `bound`.
    pub fn read(&mut self, bound: u64, max: usize) -> Result<Vec<Record>, LedgerError> {
        let mut out = Vec::new();
        while out.len() < max && self.next_index < bound {
            if self.current.is_none() {
                self.open_for(self.next_index)?;
            }
            let (file, path, buf, offset, pos) = self.current.as_mut().unwrap();
            match decode_record(&buf[*pos..]) {
                Ok((rec, n)) => {
                    *pos += n;
                    *offset += n as u64;
                    if rec.index < self.next_index {
                        continue;
                    }
                    if rec.index != self.next_index {
                        return Err(LedgerError::CorruptSegment {
                            path: path.clone(),
                            offset: *offset - n as u64,
                            why: format!("found index {} while reading {}", rec.index, self.next_index),
                        });
                    }
                    self.next_index += 1;
                    out.push(rec);
                }
                Err(DecodeStop::Incomplete) => {
                    buf.drain(..*pos);
                    *pos = 0;
                    let mut chunk = vec![0u8; 1 << 20];
                    let n = file.read(&mut chunk).map_err(LedgerError::io("read", path.as_path()))?;
                    if n == 0 {
                        // End of this segment: the next record must open the next segment.
                        let p = path.clone();
                        let end = *offset;
                        self.current = None;
                        let starts_here = list_segments(&self.dir)?.iter().any(|(f, _)| *f == self.next_index);
                        if !starts_here {
                            // Below the durable bound every record is on disk, so this is damage.
                            return Err(LedgerError::CorruptSegment {
                                path: p,
                                offset: end,
                                why: format!("record {} is missing", self.next_index),
                            });
                        }
                        continue;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                Err(DecodeStop::Corrupt(why)) => {
                    return Err(LedgerError::CorruptSegment {
                        path: path.clone(),
                        offset: *offset,
                        why: format!("record {}: {why}", self.next_index),
                    });
                }
            }
        }
        Ok(out)
    }

    fn open_for(&mut self, index: u64) -> Result<(), LedgerError> {
        let segs = list_segments(&self.dir)?;
        let Some((_, path)) = segs.iter().rev().find(|(f, _)| *f <= index).cloned() else {
            return Err(LedgerError::OutOfRange(format!("no payload segment holds index {index}")));
        };
        let mut file = File::open(&path).map_err(LedgerError::io("open", &path))?;
        let mut header = [0u8; HEADER_LEN as usize];
        file.read_exact(&mut header).map_err(LedgerError::io("read", &path))?;
        self.current = Some((file, path, Vec::new(), HEADER_LEN, 0));
        Ok(())
    }
}

/// Erases the payloads (and salts) of `indexes` from the payload store, in place: every segment
/// holding one of them is rewritten (temporary file, fsync, rename, fsync directory) with those
/// records replaced by erased records. The Merkle tree is not touched: entries commit only to
/// `SHA-256(salt || payload)`, which the erased record keeps. Returns the indexes actually
/// erased now (already-erased ones are skipped). The caller must hold the ledger's writer lock
/// (see [`crate::Ledger::erase_payloads`]) and must have ledgered a tombstone first.
pub fn erase_in_segments(wal_dir: &Path, indexes: &[u64]) -> Result<Vec<u64>, LedgerError> {
    let wanted: std::collections::BTreeSet<u64> = indexes.iter().copied().collect();
    let segs = list_segments(wal_dir)?;
    let mut erased = Vec::new();
    for (i, (first, path)) in segs.iter().enumerate() {
        let end = segs.get(i + 1).map_or(u64::MAX, |s| s.0);
        if wanted.range(*first..end).next().is_none() {
            continue;
        }
        let scan = scan_segment(path, *first)?;
        if scan.valid_len < scan.file_len {
            return Err(LedgerError::CorruptSegment { path: path.clone(), offset: scan.valid_len, why: "torn tail: open the ledger once to recover before erasing".into() });
        }
        let mut buf = Vec::with_capacity(scan.file_len as usize);
        buf.extend_from_slice(&segment_header(*first));
        for r in &scan.records {
            if r.erased || wanted.contains(&r.index) {
                if !r.erased {
                    erased.push(r.index);
                }
                encode_erased(&mut buf, r.index, r.kind, r.ingested_micros, &r.commitment);
            } else {
                encode_record(&mut buf, r.index, r.kind, r.ingested_micros, &r.salt, &r.payload);
            }
        }
        crate::storage::write_atomic(path, &buf)?;
    }
    let missing: Vec<u64> = wanted.iter().copied().filter(|i| !erased.contains(i)).collect();
    for m in missing {
        // Either already erased (fine) or not in the store at all (an error).
        let found = RecordCursor::new(wal_dir, m).read(m + 1, 1)?;
        if found.is_empty() {
            return Err(LedgerError::OutOfRange(format!("no payload record {m}")));
        }
    }
    Ok(erased)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_layout_is_pinned() {
        let mut buf = Vec::new();
        encode_record(&mut buf, 1, EntryKind::Event, 2, &[3u8; 16], b"hi");
        let mut expect = Vec::new();
        expect.extend_from_slice(&(8u32 + 8 + 1 + 1 + 16 + 2 + 4).to_le_bytes());
        expect.extend_from_slice(&1u64.to_le_bytes());
        expect.extend_from_slice(&2i64.to_le_bytes());
        expect.extend_from_slice(&[1, 0]);
        expect.extend_from_slice(&[3u8; 16]);
        expect.extend_from_slice(b"hi");
        let crc = crc32c::crc32c(&expect[4..]);
        expect.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(buf, expect);
        let (rec, n) = decode_record(&buf).unwrap();
        assert_eq!(n, buf.len());
        assert_eq!(rec.payload, b"hi");
        assert!(rec.payload_matches());
    }

    #[test]
    fn decode_detects_flips_and_truncation() {
        let mut buf = Vec::new();
        encode_record(&mut buf, 9, EntryKind::Admin, 2, &[0u8; 16], b"payload");
        for cut in 0..buf.len() {
            assert_eq!(decode_record(&buf[..cut]).unwrap_err(), DecodeStop::Incomplete);
        }
        for i in 4..buf.len() {
            let mut b = buf.clone();
            b[i] ^= 0x40;
            assert!(matches!(decode_record(&b), Err(DecodeStop::Corrupt(_))), "flip at {i}");
        }
    }
}
