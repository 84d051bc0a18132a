//! Windows XML Event Log files (`.evtx`, MS-EVEN6 "BinXml" in 64 KiB chunks), as written by
//! the Windows Event Log service and exported with `wevtutil epl` or Event Viewer.
//!
//! [`parse_evtx`] reads one whole file with the `evtx` crate and returns, in record order, one
//! item per record: either an [`EvtxEvent`] (an ECS 8.x document, see [`evtx_to_ecs`]) or an
//! [`EvtxError`] that names the file, the chunk, the record and the file offset. One damaged
//! record or chunk never hides the others: every chunk is parsed on its own, a chunk cut short
//! (a file copied while it was being written, a truncated download) is padded and read as far
//! as it goes, and a chunk whose CRC32 does not match is still read, its events flagged with
//! `mamori.evtx.chunk_crc_ok: false` (a CRC mismatch is either damage or somebody editing the
//! log — both worth seeing, neither a reason to lose the records).
//!
//! Every record becomes an event, including event IDs mamori has no mapping for: they keep
//! `winlog.*` (Winlogbeat's field names) and `event.original`, so they are searchable and a
//! later mapping can be applied to them. The mapping table is in `docs/sources/evtx.md`.
//!
//! Not done here: message-table rendering (Windows' localised `message` text needs the
//! provider's DLLs, which an offline Linux box does not have), carving deleted records from
//! chunk slack (`evtx`'s `recover_records`: it can resurrect records a cleared log no longer
//! holds, which is forensics, not audit ingest), and I/O (the caller reads the file).

use std::collections::VecDeque;
use std::net::IpAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use tree::J;

/// Size of the EVTX file header block; chunks start right after it.
pub const EVTX_FILE_HEADER_SIZE: usize = 4096;
/// Size of one EVTX chunk.
pub const EVTX_CHUNK_SIZE: usize = 65536;
/// `event.original` is cut (at a character boundary) beyond this many bytes. Real records
/// render to 1–3 KiB of JSON; the cap only stops a hostile record from bloating the index.
pub const MAX_ORIGINAL: usize = 16 * 1024;
/// Raw bytes kept for quarantine of a file that is not EVTX at all: the head is enough to see
/// what it is, and the file itself is still on disk.
const MAX_NOT_EVTX_RAW: usize = 4096;

const FILE_MAGIC: &[u8; 8] = b"ElfFile\0";
const CHUNK_MAGIC: &[u8; 8] = b"ElfChnk\0";
const RECORD_MAGIC: &[u8; 4] = b"**\0\0";
/// Offset of the first record in a chunk (after the 512-byte chunk header).
const CHUNK_HEADER_SIZE: usize = 512;

/// What is wrong with a file, chunk or record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvtxErrorReason {
    /// The file does not start like an EVTX file and has no chunk where the first one belongs.
    #[error("not an EVTX file (starts with {found:?}, expected \"ElfFile\")")]
    NotEvtx {
        /// The first bytes, escaped.
        found: String,
    },
    /// The file header is damaged, but chunks follow; they are read anyway.
    #[error("the EVTX file header is damaged (starts with {found:?}); reading the chunks anyway")]
    BadFileHeader {
        /// The first bytes, escaped.
        found: String,
    },
    /// The file ends inside this chunk; the records before the cut were still read.
    #[error("the file ends inside this chunk: {length} of {EVTX_CHUNK_SIZE} bytes")]
    TruncatedChunk {
        /// Bytes of the chunk present in the file.
        length: usize,
    },
    /// The chunk header cannot be read (bad magic, impossible offsets); its records are lost.
    #[error("the chunk cannot be read: {message}")]
    BadChunk {
        /// The evtx crate's description.
        message: String,
    },
    /// The record's header or BinXml cannot be read; the following records still are.
    #[error("the record cannot be read: {message}")]
    BadRecord {
        /// The evtx crate's description.
        message: String,
    },
    /// The record renders, but not as an `Event` with a `System` part.
    #[error("the record is not a Windows event: {message}")]
    NotAnEvent {
        /// What is missing.
        message: String,
    },
    /// The evtx crate panicked on this chunk (hostile or badly damaged input).
    #[error("the EVTX parser failed on this chunk: {message}")]
    ParserPanic {
        /// The panic message.
        message: String,
    },
}

impl EvtxErrorReason {
    fn hint(&self) -> &'static str {
        match self {
            EvtxErrorReason::NotEvtx { .. } => {
                "check --format: .evtx files start with \"ElfFile\"; Event Viewer's \"Save As\" XML/CSV \
                 exports are not EVTX (save as .evtx, or use wevtutil epl)"
            }
            EvtxErrorReason::BadFileHeader { .. } => {
                "the file was probably copied while Windows was writing it; export it again with \
                 wevtutil epl <channel> <file>.evtx"
            }
            EvtxErrorReason::TruncatedChunk { .. } => {
                "the file is incomplete (cut copy or download); copy it again from the source PC"
            }
            EvtxErrorReason::BadChunk { .. }
            | EvtxErrorReason::BadRecord { .. }
            | EvtxErrorReason::ParserPanic { .. } => {
                "the file is damaged here; the raw bytes are kept in quarantine. Export the log \
                 again (wevtutil epl) and compare; unexpected damage in a Security log can mean tampering"
            }
            EvtxErrorReason::NotAnEvent { .. } => {
                "the record is kept in quarantine; report the file so the mapping can handle it"
            }
        }
    }
}

/// A file, chunk or record that could not be turned into an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {}: {reason}; hint: {hint}", location(*.chunk, *.record, *.offset))]
pub struct EvtxError {
    /// The file name as given by the caller.
    pub file: String,
    /// 0-based chunk number in the file, when the error is within a chunk.
    pub chunk: Option<u64>,
    /// The record number from the record header (what `evtx_dump` and the chunk header count),
    /// when known. Exported logs renumber these from 1; `winlog.record_id` keeps Windows' own.
    pub record: Option<u64>,
    /// Byte offset of the damaged part within the file.
    pub offset: u64,
    /// What is wrong.
    pub reason: EvtxErrorReason,
    /// A short suggestion for the person handling the file.
    pub hint: &'static str,
    /// The raw bytes of the damaged record (or chunk, or file head), for quarantine.
    pub raw: Vec<u8>,
}

fn location(chunk: Option<u64>, record: Option<u64>, offset: u64) -> String {
    match (chunk, record) {
        (Some(c), Some(r)) => format!("chunk {c}, record {r} (file offset {offset:#x})"),
        (Some(c), None) => format!("chunk {c} (file offset {offset:#x})"),
        (None, Some(r)) => format!("record {r} (file offset {offset:#x})"),
        (None, None) => format!("file offset {offset:#x}"),
    }
}

/// One record, mapped to ECS.
#[derive(Debug, Clone, PartialEq)]
pub struct EvtxEvent {
    /// 0-based chunk number in the file.
    pub chunk: u64,
    /// The record number from the record header (see [`EvtxError::record`]).
    pub record: u64,
    /// Byte offset of the record within the file.
    pub offset: u64,
    /// The ECS document (see [`evtx_to_ecs`]), with `mamori.evtx.{file,chunk,record}` added.
    pub doc: Map<String, Value>,
    /// The record as the evtx crate's compact JSON (`{"Event": {...}}`), whole: the bytes to
    /// quarantine if the document is refused later.
    pub json: String,
}

/// Parses a whole EVTX file. `file` names it in errors and in `mamori.evtx.file`.
///
/// Items come in record order: from the chunk holding the oldest records to the end of the
/// file, then from its start (a full log overwrites its oldest chunk, so after wrapping around
/// the oldest records can be anywhere). Empty (all-zero) chunks are skipped silently: Windows
/// preallocates them.
///
/// A file of several chunks is parsed on as many threads as the machine has cores
/// ([`parse_evtx_threads`]); the items are the same, in the same order, as on one thread.
pub fn parse_evtx(file: &str, bytes: &[u8]) -> Vec<Result<EvtxEvent, EvtxError>> {
    parse_evtx_threads(file, bytes, std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// [`parse_evtx`] on at most `threads` threads (0 or 1: on the caller's thread). Chunks are
/// independent, so each thread takes a contiguous run of the non-empty chunks (in record
/// order) and the runs are joined in that order: the result does not depend on `threads`.
pub fn parse_evtx_threads(file: &str, bytes: &[u8], threads: usize) -> Vec<Result<EvtxEvent, EvtxError>> {
    let mut out = Vec::new();
    let err = |chunk, record, offset, reason, raw: &[u8]| evtx_error(file, chunk, record, offset, reason, raw);
    let chunk_at = |n: usize| bytes.get(EVTX_FILE_HEADER_SIZE + n * EVTX_CHUNK_SIZE..).unwrap_or(&[]);
    if !bytes.starts_with(FILE_MAGIC) {
        let found = escape_head(bytes);
        let head = &bytes[..bytes.len().min(EVTX_FILE_HEADER_SIZE)];
        if !chunk_at(0).starts_with(CHUNK_MAGIC) {
            let raw = &bytes[..bytes.len().min(MAX_NOT_EVTX_RAW)];
            out.push(Err(err(None, None, 0, EvtxErrorReason::NotEvtx { found }, raw)));
            return out;
        }
        out.push(Err(err(None, None, 0, EvtxErrorReason::BadFileHeader { found }, head)));
    }

    let body = bytes.len().saturating_sub(EVTX_FILE_HEADER_SIZE);
    let chunks = body.div_ceil(EVTX_CHUNK_SIZE);
    // The chunk header's first record ID says where the oldest records are. Headers that do
    // not parse keep their place in file order.
    let oldest = (0..chunks)
        .filter_map(|n| {
            let h = evtx::EvtxChunkHeader::from_bytes(chunk_at(n)).ok()?;
            (h.first_event_record_id <= h.last_event_record_id).then_some((h.first_event_record_id, n))
        })
        .min()
        .map_or(0, |(_, n)| n);
    let settings = Arc::new(evtx::ParserSettings::new().indent(false));
    let order: Vec<usize> = (oldest..chunks)
        .chain(0..oldest)
        .filter(|&n| {
            let start = EVTX_FILE_HEADER_SIZE + n * EVTX_CHUNK_SIZE;
            bytes[start..bytes.len().min(start + EVTX_CHUNK_SIZE)].iter().any(|&b| b != 0)
        })
        .collect();
    let threads = threads.clamp(1, order.len().max(1));
    if threads == 1 {
        for &n in &order {
            chunk_items(file, bytes, n, &settings, &mut out);
        }
        return out;
    }
    let per = order.len().div_ceil(threads);
    let runs: Vec<Vec<Result<EvtxEvent, EvtxError>>> = std::thread::scope(|s| {
        let workers: Vec<_> = order
            .chunks(per)
            .map(|run| {
                let settings = &settings;
                s.spawn(move || {
                    let mut items = Vec::new();
                    for &n in run {
                        chunk_items(file, bytes, n, settings, &mut items);
                    }
                    items
                })
            })
            .collect();
        // A panic outside the per-chunk guard is a bug in this file: pass it on, never lose
        // a run of chunks quietly.
        workers.into_iter().map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
    });
    for run in runs {
        out.extend(run);
    }
    out
}

/// The items of chunk `n` (not all-zero) of the file `bytes`, pushed to `out`.
fn chunk_items(file: &str, bytes: &[u8], n: usize, settings: &Arc<evtx::ParserSettings>, out: &mut Vec<Result<EvtxEvent, EvtxError>>) {
    let err = |chunk, record, offset, reason, raw: &[u8]| evtx_error(file, chunk, record, offset, reason, raw);
    let start = EVTX_FILE_HEADER_SIZE + n * EVTX_CHUNK_SIZE;
    let present = &bytes[start..bytes.len().min(start + EVTX_CHUNK_SIZE)];
    if present.iter().all(|&b| b == 0) {
        return;
    }
    if present.len() < EVTX_CHUNK_SIZE {
        let reason = EvtxErrorReason::TruncatedChunk { length: present.len() };
        out.push(Err(err(Some(n as u64), None, start, reason, present)));
        // A chunk too short for its header has nothing more to give.
        if present.len() < CHUNK_HEADER_SIZE {
            return;
        }
    }
    let mut data = present.to_vec();
    data.resize(EVTX_CHUNK_SIZE, 0);
    // The evtx crate is written to return errors, not panic, but it walks offsets taken
    // from hostile bytes; a panic it has not foreseen must cost one chunk, not the file
    // (nor the whole `mamori ingest` run). Items pushed before a panic are kept.
    let r = catch_unwind(AssertUnwindSafe(|| read_chunk(file, n as u64, start, data, settings, out)));
    if let Err(panic) = r {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        out.push(Err(err(Some(n as u64), None, start, EvtxErrorReason::ParserPanic { message }, present)));
    }
}

/// An item error of `file` at file offset `offset`, its hint taken from the reason.
fn evtx_error(
    file: &str,
    chunk: Option<u64>,
    record: Option<u64>,
    offset: usize,
    reason: EvtxErrorReason,
    raw: &[u8],
) -> EvtxError {
    EvtxError {
        file: file.to_owned(),
        chunk,
        record,
        offset: offset as u64,
        hint: reason.hint(),
        reason,
        raw: raw.to_vec(),
    }
}

/// Reads the records of chunk `n` (whose bytes, padded to a full chunk, are `data` and start at
/// file offset `start`) into `out`.
fn read_chunk(
    file: &str,
    n: u64,
    start: usize,
    data: Vec<u8>,
    settings: &Arc<evtx::ParserSettings>,
    out: &mut Vec<Result<EvtxEvent, EvtxError>>,
) {
    let err = |record, offset, reason, raw: &[u8]| evtx_error(file, Some(n), record, offset, reason, raw);
    let mut chunk_data = match evtx::EvtxChunkData::new(data.clone(), false) {
        Ok(c) => c,
        Err(e) => {
            let reason = EvtxErrorReason::BadChunk { message: error_chain(&e) };
            out.push(Err(err(None, start, reason, &data)));
            return;
        }
    };
    chunk_data.number = Some(n);
    let crc_ok = chunk_data.validate_checksum();
    let mut chunk = match chunk_data.parse(Arc::clone(settings)) {
        Ok(c) => c,
        Err(e) => {
            let reason = EvtxErrorReason::BadChunk { message: error_chain(&e) };
            out.push(Err(err(None, start, reason, &data)));
            return;
        }
    };
    // Record offsets, in order, to place each rendered record in the file: `EvtxRecord` does
    // not say where its header starts.
    let mut spans: VecDeque<(usize, usize, u64)> = record_spans(&data).into();
    for rec in chunk.iter() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let (record, at) = match &e {
                    evtx::err::EvtxError::FailedToReadRecordAt { offset, .. } => (None, *offset as usize),
                    evtx::err::EvtxError::FailedToParseRecord { record_id, .. } => {
                        let at = spans.iter().find(|s| s.2 == *record_id).map_or(CHUNK_HEADER_SIZE, |s| s.0);
                        (Some(*record_id), at)
                    }
                    _ => (None, CHUNK_HEADER_SIZE),
                };
                spans.retain(|s| s.0 > at);
                let raw = raw_record(&data, at);
                let record = record.or_else(|| header_record_id(&data, at));
                out.push(Err(err(record, start + at, EvtxErrorReason::BadRecord { message: error_chain(&e) }, raw)));
                continue;
            }
        };
        let id = rec.event_record_id;
        let header_ts = rec.timestamp;
        let at = match spans.iter().position(|s| s.2 == id) {
            Some(i) => {
                let at = spans[i].0;
                spans.drain(..=i);
                at
            }
            None => CHUNK_HEADER_SIZE,
        };
        let rendered = match rec.into_json() {
            Ok(r) => r,
            Err(e) => {
                let reason = EvtxErrorReason::BadRecord { message: error_chain(&e) };
                out.push(Err(err(Some(id), start + at, reason, raw_record(&data, at))));
                continue;
            }
        };
        let event: J = match serde_json::from_str(&rendered.data) {
            Ok(v) => v,
            Err(e) => {
                let reason = EvtxErrorReason::NotAnEvent { message: format!("rendered JSON does not parse: {e}") };
                out.push(Err(err(Some(id), start + at, reason, rendered.data.as_bytes())));
                continue;
            }
        };
        let mapped = ecs_from_tree(&event, &rendered.data, &|| Some(header_ts.to_string()));
        drop(event);
        match mapped {
            Ok(mut doc) => {
                let mamori = doc.entry("mamori").or_insert_with(|| json!({}));
                let evtx = &mut mamori["evtx"];
                if !evtx.is_object() {
                    *evtx = json!({});
                }
                evtx["file"] = json!(file);
                evtx["chunk"] = json!(n);
                evtx["record"] = json!(id);
                if !crc_ok {
                    evtx["chunk_crc_ok"] = Value::Bool(false);
                }
                out.push(Ok(EvtxEvent { chunk: n, record: id, offset: (start + at) as u64, doc, json: rendered.data }));
            }
            Err(message) => {
                let reason = EvtxErrorReason::NotAnEvent { message };
                out.push(Err(err(Some(id), start + at, reason, rendered.data.as_bytes())));
            }
        }
    }
}

/// `(offset, size, record id)` of every well-formed record header in a chunk, in order.
fn record_spans(chunk: &[u8]) -> Vec<(usize, usize, u64)> {
    let mut spans = Vec::new();
    let mut at = CHUNK_HEADER_SIZE;
    while let Some(p) = find(chunk, at, RECORD_MAGIC) {
        match record_header(chunk, p) {
            Some((size, id)) => {
                spans.push((p, size, id));
                at = p + size;
            }
            None => at = p + 1,
        }
    }
    spans
}

/// Size and record id of the record header at `at`, if it is plausible: magic, a size that
/// fits the chunk, and the same size repeated at the record's end.
fn record_header(chunk: &[u8], at: usize) -> Option<(usize, u64)> {
    let h = chunk.get(at..at + 24)?;
    if &h[..4] != RECORD_MAGIC {
        return None;
    }
    let size = u32::from_le_bytes(h[4..8].try_into().ok()?) as usize;
    let id = u64::from_le_bytes(h[8..16].try_into().ok()?);
    let end = at.checked_add(size)?;
    let copy = chunk.get(end.checked_sub(4)?..end)?;
    (size >= 28 && u32::from_le_bytes(copy.try_into().ok()?) as usize == size).then_some((size, id))
}

/// The record id of a record whose header is damaged (say, its magic), when its size field and
/// the size copy at its end still agree: then the id between them is very likely intact, and
/// naming the record helps whoever compares the file with the PC's log.
fn header_record_id(chunk: &[u8], at: usize) -> Option<u64> {
    let h = chunk.get(at..at + 16)?;
    let size = u32::from_le_bytes(h[4..8].try_into().ok()?) as usize;
    let end = at.checked_add(size)?;
    let copy = chunk.get(end.checked_sub(4)?..end)?;
    (size >= 28 && u32::from_le_bytes(copy.try_into().ok()?) as usize == size)
        .then(|| u64::from_le_bytes(h[8..16].try_into().unwrap_or_default()))
}

/// The bytes of the (possibly damaged) record at `at`: its declared size when plausible, else
/// up to the next record magic or the end of the chunk.
fn raw_record(chunk: &[u8], at: usize) -> &[u8] {
    let at = at.min(chunk.len());
    let end = match record_header(chunk, at) {
        Some((size, _)) => at + size,
        None => find(chunk, at + 1, RECORD_MAGIC).unwrap_or(chunk.len()),
    };
    &chunk[at..end.min(chunk.len())]
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

fn escape_head(bytes: &[u8]) -> String {
    bytes.iter().take(8).flat_map(|&b| std::ascii::escape_default(b)).map(char::from).collect()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

const SECURITY: &str = "Microsoft-Windows-Security-Auditing";
const EVENTLOG: &str = "Microsoft-Windows-Eventlog";
const SYSMON: &str = "Microsoft-Windows-Sysmon";
const KERNEL_PNP: &str = "Microsoft-Windows-Kernel-PnP";
const DRIVER_FRAMEWORKS: &str = "Microsoft-Windows-DriverFrameworks-UserMode";
const PARTITION: &str = "Microsoft-Windows-Partition";

/// Maps one record, as the evtx crate renders it to JSON (`{"Event": {"System": …,
/// "EventData": …}}`, attributes under `#attributes`), to a nested ECS 8.x document.
///
/// `original` becomes `event.original` (cut at [`MAX_ORIGINAL`] bytes, with
/// `mamori.evtx.original_truncated`); `fallback_ts` (RFC 3339) is used when the record has no
/// `TimeCreated` (the record header's time). Fails only when there is no `Event.System`.
///
/// Always set: `@timestamp`, `event.{kind,code,provider}`, `host.name`,
/// `winlog.{channel,computer_name,record_id,event_id,provider_name,event_data,…}` with
/// Winlogbeat's names and value types (event data values are strings), and `message` (a short
/// summary; Windows' own message text needs the provider's DLLs). Per event ID, the ECS fields
/// in `docs/sources/evtx.md`.
pub fn evtx_to_ecs(event: &Value, original: &str, fallback_ts: Option<&str>) -> Result<Map<String, Value>, String> {
    ecs_from_tree(&J::from_value(event), original, &|| fallback_ts.map(str::to_owned))
}

/// [`evtx_to_ecs`] over the borrowed tree; `fallback_ts` is only called for a record without
/// `TimeCreated`.
fn ecs_from_tree(event: &J, original: &str, fallback_ts: &dyn Fn() -> Option<String>) -> Result<Map<String, Value>, String> {
    let ev = event.get("Event").ok_or("no \"Event\" element")?;
    let sys = ev.get("System").filter(|s| s.is_object()).ok_or("no \"Event.System\" element")?;
    let attr = |v: &J, k: &str| v.get("#attributes").and_then(|a| a.get(k)).and_then(scalar);
    let provider = sys.get("Provider").and_then(|p| attr(p, "Name")).unwrap_or_default();
    let provider_guid = sys.get("Provider").and_then(|p| attr(p, "Guid"));
    let event_id = sys.get("EventID").and_then(text_of).unwrap_or_default();
    let channel = sys.get("Channel").and_then(scalar);
    let computer = sys.get("Computer").and_then(scalar);
    let record_id = sys.get("EventRecordID").and_then(text_of).and_then(|s| s.parse::<u64>().ok());
    let ts = sys
        .get("TimeCreated")
        .and_then(|t| attr(t, "SystemTime"))
        .or_else(fallback_ts)
        .ok_or("no TimeCreated and no record header time")?;
    let ts = match chrono::DateTime::parse_from_rfc3339(&ts) {
        Ok(t) => mamori_event::format_ts(t.with_timezone(&chrono::Utc)),
        Err(_) => return Err(format!("TimeCreated {ts:?} is not a date-time")),
    };

    let mut winlog = Map::with_capacity(20);
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            winlog.insert(k.into(), v);
        }
    };
    put("channel", channel.clone().map(Value::String));
    put("computer_name", computer.clone().map(Value::String));
    put("record_id", record_id.map(Value::from));
    put("event_id", Some(Value::String(event_id.clone())));
    put("provider_name", Some(Value::String(provider.clone())));
    put("provider_guid", provider_guid.map(Value::String));
    put("api", Some(json!("evtx")));
    put("version", sys.get("Version").and_then(text_of).and_then(|s| s.parse::<u64>().ok()).map(Value::from));
    put("task", sys.get("Task").and_then(text_of).map(Value::String));
    put("opcode", sys.get("Opcode").and_then(text_of).map(Value::String));
    let keywords = sys.get("Keywords").and_then(scalar).and_then(|k| u64::from_str_radix(k.trim_start_matches("0x"), 16).ok());
    put("keywords", keywords.map(keyword_names).filter(|k| !k.is_empty()).map(|k| json!(k)));
    let pid = sys.get("Execution").and_then(|e| attr(e, "ProcessID")).and_then(|s| s.parse::<u64>().ok());
    let tid = sys.get("Execution").and_then(|e| attr(e, "ThreadID")).and_then(|s| s.parse::<u64>().ok());
    if pid.is_some() || tid.is_some() {
        let mut p = Map::new();
        if let Some(pid) = pid {
            p.insert("pid".into(), pid.into());
        }
        if let Some(tid) = tid {
            p.insert("thread".into(), json!({"id": tid}));
        }
        put("process", Some(Value::Object(p)));
    }
    put("user", sys.get("Security").and_then(|s| attr(s, "UserID")).map(|u| json!({"identifier": u})));
    put(
        "activity_id",
        sys.get("Correlation").and_then(|c| attr(c, "ActivityID")).map(Value::String),
    );
    // event_data and user_data are moved in at the end (the mapping below reads them); the
    // placeholders keep their place in the key order.
    let data = event_data(ev.get("EventData"));
    if !data.is_empty() {
        put("event_data", Some(Value::Null));
    }
    let user_data = user_data(ev.get("UserData"));
    if user_data.is_some() {
        put("user_data", Some(Value::Null));
    }

    let mut doc = Map::with_capacity(16);
    doc.insert("@timestamp".into(), Value::String(ts));
    let mut e = Map::with_capacity(10);
    e.insert("kind".into(), json!("event"));
    e.insert("code".into(), Value::String(event_id.clone()));
    e.insert("provider".into(), Value::String(provider.clone()));
    let module = match (channel.as_deref(), provider.as_str()) {
        (Some("Security"), _) => Some("security"),
        (_, SYSMON) => Some("sysmon"),
        _ => None,
    };
    if let Some(m) = module {
        e.insert("module".into(), json!(m));
    }
    if let Some(level) = sys.get("Level").and_then(text_of) {
        let name = match level.as_str() {
            "1" => "critical",
            "2" => "error",
            "3" => "warning",
            "5" => "verbose",
            _ => "information",
        };
        doc.insert("log".into(), json!({"level": name}));
    }
    if let Some(c) = &computer {
        doc.insert("host".into(), json!({"name": c}));
    }

    // Event data lookups: trimmed, with Windows' placeholders for "nothing" dropped.
    let get = |k: &str| -> Option<String> { data.get(k).and_then(present) };
    let ud = |k: &str| -> Option<String> { user_data.as_ref().and_then(|(_, u)| u.get(k)).and_then(Value::as_str).and_then(present_str) };
    let mut m = Mapped::default();
    let id: u32 = event_id.parse().unwrap_or(u32::MAX);
    match (provider.as_str(), id) {
        (SECURITY, 4624 | 4625 | 4634 | 4647 | 4648) => {
            let (action, outcome, ty) = match id {
                4624 => ("logged-in", "success", "start"),
                4625 => ("logon-failed", "failure", "start"),
                4634 => ("logged-out", "success", "end"),
                4647 => ("logged-out", "success", "end"),
                _ => ("logged-in-explicit", "success", "start"),
            };
            m.event(action, "authentication", ty, Some(outcome));
            m.user(get("TargetUserName"), get("TargetDomainName"), get("TargetUserSid"));
            if id == 4648 {
                // 4648's network address is the server the credentials were sent to.
                m.destination(get("IpAddress"), get("IpPort"));
            } else {
                m.source(get("IpAddress"), get("IpPort"));
            }
            if let Some(w) = get("WorkstationName") {
                m.set(&["source", "domain"], w);
            }
            if id == 4648 {
                // Explicit credentials: who used them (the subject) is an actor of its own.
                m.set_opt(&["source", "user", "name"], get("SubjectUserName"));
                m.set_opt(&["source", "user", "domain"], get("SubjectDomainName"));
                m.set_opt(&["destination", "domain"], get("TargetServerName"));
            }
            let mut logon = Map::new();
            if let Some(t) = get("LogonType") {
                logon.insert("type".into(), Value::String(logon_type_name(&t).unwrap_or(&t).to_owned()));
            }
            if let Some(l) = get("TargetLogonId") {
                logon.insert("id".into(), Value::String(l));
            }
            if id == 4625 {
                let mut f = Map::new();
                if let Some(s) = get("Status") {
                    f.insert("status".into(), Value::String(s));
                }
                if let Some(s) = get("SubStatus") {
                    f.insert("sub_status".into(), Value::String(s));
                }
                if let Some(r) = get("FailureReason") {
                    f.insert("reason".into(), Value::String(failure_reason(&r).unwrap_or(&r).to_owned()));
                }
                if !f.is_empty() {
                    logon.insert("failure".into(), Value::Object(f));
                }
            }
            if !logon.is_empty() {
                m.winlog_logon = Some(logon);
            }
        }
        (SECURITY, 4778 | 4779) => {
            let (action, ty) = if id == 4778 { ("session-reconnected", "start") } else { ("session-disconnected", "end") };
            m.event(action, "authentication", ty, Some("success"));
            m.user(get("AccountName"), get("AccountDomain"), None);
            m.source(get("ClientAddress"), None);
            m.set_opt(&["source", "domain"], get("ClientName"));
            if let Some(l) = get("LogonID") {
                m.winlog_logon = Some([("id".to_string(), Value::String(l))].into_iter().collect());
            }
        }
        (SECURITY, 5140 | 5145) => {
            let action = if id == 5140 { "network-share-accessed" } else { "network-share-object-checked" };
            m.event(action, "file", "access", Some(if keywords.is_some_and(|k| k & AUDIT_FAILURE != 0) { "failure" } else { "success" }));
            m.user(get("SubjectUserName"), get("SubjectDomainName"), get("SubjectUserSid"));
            m.source(get("IpAddress"), get("IpPort"));
            let share = get("ShareName");
            let path = match (share, get("RelativeTargetName")) {
                (Some(s), Some(r)) => Some(join_path(&s, &r)),
                (s, _) => s,
            };
            if let Some(p) = path {
                m.file(&p);
            }
        }
        (SECURITY, 4663) => {
            m.event("object-accessed", "file", "access", Some("success"));
            m.user(get("SubjectUserName"), get("SubjectDomainName"), get("SubjectUserSid"));
            match (get("ObjectType").as_deref(), get("ObjectName")) {
                (Some("Key"), Some(k)) => {
                    m.category = "registry";
                    m.set(&["registry", "path"], k)
                }
                (_, Some(p)) => m.file(&p),
                _ => {}
            }
            m.process(get("ProcessName"), get("ProcessId").and_then(|p| parse_pid(&p)), None);
        }
        (SECURITY, 4688) => {
            m.event("created-process", "process", "start", Some("success"));
            m.user(get("SubjectUserName"), get("SubjectDomainName"), get("SubjectUserSid"));
            m.process(get("NewProcessName"), get("NewProcessId").and_then(|p| parse_pid(&p)), get("CommandLine"));
            m.parent(get("ParentProcessName"), get("ProcessId").and_then(|p| parse_pid(&p)), None);
        }
        (SYSMON, 1) => {
            m.event("created-process", "process", "start", Some("success"));
            m.process(get("Image"), get("ProcessId").and_then(|p| parse_pid(&p)), get("CommandLine"));
            m.set_opt(&["process", "entity_id"], get("ProcessGuid"));
            m.set_opt(&["process", "working_directory"], get("CurrentDirectory"));
            m.parent(get("ParentImage"), get("ParentProcessId").and_then(|p| parse_pid(&p)), get("ParentCommandLine"));
            m.set_opt(&["process", "parent", "entity_id"], get("ParentProcessGuid"));
            m.sysmon_user(get("User"));
            m.hashes(get("Hashes"));
        }
        (SYSMON, 3) => {
            m.event("network-connection", "network", "connection", None);
            m.process(get("Image"), get("ProcessId").and_then(|p| parse_pid(&p)), None);
            m.sysmon_user(get("User"));
            m.source(get("SourceIp"), get("SourcePort"));
            if let Some(ip) = get("DestinationIp").filter(|ip| ip.parse::<IpAddr>().is_ok()) {
                m.set(&["destination", "ip"], ip);
            }
            if let Some(p) = get("DestinationPort").and_then(|p| p.parse::<u16>().ok()) {
                m.set_value(&["destination", "port"], p.into());
            }
            m.set_opt(&["destination", "domain"], get("DestinationHostname"));
            m.set_opt(&["network", "transport"], get("Protocol"));
        }
        (SYSMON, 11) => {
            m.event("file-created", "file", "creation", Some("success"));
            m.process(get("Image"), get("ProcessId").and_then(|p| parse_pid(&p)), None);
            m.sysmon_user(get("User"));
            if let Some(p) = get("TargetFilename") {
                m.file(&p);
            }
        }
        (EVENTLOG, 1102 | 104) => {
            // Ikeda: the remote-control logs were gone. A cleared log is the one event that
            // must never be lost in the noise.
            m.event("audit-log-cleared", "configuration", "deletion", Some("success"));
            m.user(ud("SubjectUserName"), ud("SubjectDomainName"), ud("SubjectUserSid"));
            let cleared = if id == 1102 { Some("Security".to_owned()) } else { ud("Channel") };
            if let Some(c) = cleared {
                m.mamori.insert("evtx_cleared_channel".into(), Value::String(c));
            }
        }
        (SECURITY, 4719) => {
            m.event("changed-audit-config", "configuration", "change", Some("success"));
            m.user(get("SubjectUserName"), get("SubjectDomainName"), get("SubjectUserSid"));
            if let Some(c) = get("AuditPolicyChanges") {
                let changes: Vec<Value> = c
                    .split([',', ' ', '\r', '\n', '\t'])
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(audit_policy_change(s).unwrap_or(s).to_owned()))
                    .collect();
                m.mamori.insert("evtx_audit_policy_changes".into(), Value::Array(changes));
            }
        }
        (SECURITY, 4720 | 4722 | 4725 | 4726 | 4740) => {
            let (action, ty) = match id {
                4720 => ("added-user-account", "creation"),
                4722 => ("enabled-user-account", "change"),
                4725 => ("disabled-user-account", "change"),
                4726 => ("deleted-user-account", "deletion"),
                _ => ("locked-out-user-account", "change"),
            };
            m.event(action, "iam", ty, Some("success"));
            m.extra_types.push("user");
            // The subject is the administrator (or, for 4740, the DC); the target is the account.
            m.user(get("SubjectUserName"), get("SubjectDomainName"), get("SubjectUserSid"));
            m.set_opt(&["user", "target", "name"], get("TargetUserName"));
            m.set_opt(&["user", "target", "domain"], get("TargetDomainName"));
            m.set_opt(&["user", "target", "id"], get("TargetSid"));
        }
        (SYSMON, 23 | 26) => {
            // FileDelete (archived) / FileDeleteDetected.
            m.event("file-deleted", "file", "deletion", Some("success"));
            m.process(get("Image"), get("ProcessId").and_then(|p| parse_pid(&p)), None);
            m.sysmon_user(get("User"));
            if let Some(p) = get("TargetFilename") {
                m.file(&p);
            }
            m.hashes(get("Hashes"));
        }
        (SECURITY, 4907) => {
            // Auditing settings (SACL) of an object changed: who stopped auditing a folder.
            m.event("changed-object-audit-settings", "configuration", "change", Some("success"));
            m.user(get("SubjectUserName"), get("SubjectDomainName"), get("SubjectUserSid"));
            match (get("ObjectType").as_deref(), get("ObjectName")) {
                (Some("Key"), Some(k)) => m.set(&["registry", "path"], k),
                (_, Some(p)) => m.file(&p),
                _ => {}
            }
            m.process(get("ProcessName"), get("ProcessId").and_then(|p| parse_pid(&p)), None);
            if let Some(o) = get("OldSd") {
                m.mamori.insert("evtx_old_sd".into(), Value::String(o));
            }
            if let Some(n) = get("NewSd") {
                m.mamori.insert("evtx_new_sd".into(), Value::String(n));
            }
        }
        (KERNEL_PNP, 400 | 410 | 420 | 430) => {
            // 400 device configured, 410 device started (Configuration channel).
            let id_ = get("DeviceInstanceId").or_else(|| find_device_id(ev.get("EventData")));
            let usb = id_.as_deref().is_some_and(is_usb_instance);
            let action = if id == 400 { "device-configured" } else { "device-started" };
            m.event(action, "host", if id == 400 { "installation" } else { "start" }, Some("success"));
            if usb {
                m.usb(id_, None, None, None);
                if let Some(Value::Object(u)) = m.mamori.get_mut("usb") {
                    if let Some(d) = get("DriverName") {
                        u.insert("driver".into(), Value::String(d));
                    }
                    if let Some(c) = get("ClassGuid") {
                        u.insert("class_guid".into(), Value::String(c));
                    }
                }
            } else if let Some(d) = id_ {
                m.mamori.insert("evtx_device_instance_id".into(), Value::String(d));
            }
        }
        (DRIVER_FRAMEWORKS, 2003 | 2004 | 2010 | 2100 | 2101 | 2102 | 2105 | 2106) => {
            // UMDF host loading drivers for (2003) / handling a PnP request of (2100) a
            // device — for USB sticks, the WPD volume of a USBSTOR disk.
            let dev = find_device_id(ev.get("UserData")).or_else(|| find_device_id(ev.get("EventData")));
            let (action, ty) = match id {
                2003 | 2004 | 2010 => ("device-driver-loading", "start"),
                _ => ("device-pnp-request", "info"),
            };
            m.event(action, "host", ty, Some("success"));
            if dev.as_deref().is_some_and(is_usb_instance) {
                m.usb(dev, None, None, None);
            } else if let Some(d) = dev {
                m.mamori.insert("evtx_device_instance_id".into(), Value::String(d));
            }
        }
        (PARTITION, 1006) => {
            // Partition/Diagnostic: a disk arrived (or left: Capacity 0), with its serial.
            let capacity = get("Capacity").and_then(|c| c.parse::<u64>().ok());
            let gone = capacity == Some(0);
            m.event(if gone { "removable-disk-removed" } else { "removable-disk-attached" }, "host", if gone { "end" } else { "start" }, Some("success"));
            let parent = get("ParentId");
            let dev = get("DeviceId");
            let usb_dev = parent.clone().filter(|p| is_usb_instance(p)).or_else(|| dev.clone().filter(|d| is_usb_instance(d)));
            if usb_dev.is_some() || get("BusType").as_deref() == Some("7") {
                m.usb(parent.clone().filter(|p| is_usb_instance(p)).or(dev.clone()), dev.clone(), None, None);
                if let Some(Value::Object(u)) = m.mamori.get_mut("usb") {
                    if let Some(sn) = get("SerialNumber").map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) {
                        u.entry("serial").or_insert(Value::String(sn));
                    }
                    for (k, f) in [("manufacturer", "Manufacturer"), ("product", "Model")] {
                        if let Some(v) = get(f) {
                            u.insert(k.into(), Value::String(v));
                        }
                    }
                    if let Some(c) = capacity {
                        u.insert("capacity".into(), c.into());
                    }
                    if let Some(d) = dev {
                        u.insert("storage_device_id".into(), Value::String(d));
                    }
                    u.insert("mass_storage".into(), true.into());
                }
            }
        }
        (SECURITY, 6416) => {
            // Hiratsuka / Ikeda: a device nobody registered.
            m.event("external-device-recognized", "host", "info", Some("success"));
            m.user(get("SubjectUserName"), get("SubjectDomainName"), get("SubjectUserSid"));
            m.usb(get("DeviceId"), get("VendorIds"), get("ClassName"), get("DeviceDescription"));
        }
        _ => {}
    }
    m.remote_control();
    let summary = m.summary(&event_id, channel.as_deref().unwrap_or(&provider));
    doc.insert("message".into(), Value::String(summary));
    if let Some(a) = m.action {
        e.insert("action".into(), json!(a));
        e.insert("category".into(), json!([m.category]));
        let mut types = vec![m.ty];
        types.extend(m.extra_types);
        e.insert("type".into(), json!(types));
    }
    if let Some(o) = m.outcome {
        e.insert("outcome".into(), json!(o));
    }
    let (orig, truncated) = cut(original, MAX_ORIGINAL);
    e.insert("original".into(), Value::String(orig.to_owned()));
    doc.insert("event".into(), Value::Object(e));
    if !data.is_empty() {
        winlog.insert("event_data".into(), Value::Object(data));
    }
    if let Some((_, ud)) = user_data {
        winlog.insert("user_data".into(), Value::Object(ud));
    }
    if let Some(logon) = m.winlog_logon {
        winlog.insert("logon".into(), Value::Object(logon));
    }
    for (k, v) in m.fields {
        doc.insert(k, v);
    }
    doc.insert("winlog".into(), Value::Object(winlog));
    let mut evtx = Map::new();
    if truncated {
        evtx.insert("original_truncated".into(), Value::Bool(true));
    }
    for (k, v) in m.mamori.iter() {
        if let Some(k) = k.strip_prefix("evtx_") {
            evtx.insert(k.into(), v.clone());
        }
    }
    let mut mamori = Map::new();
    if let Some(usb) = m.mamori.get("usb") {
        mamori.insert("usb".into(), usb.clone());
    }
    if let Some(r) = m.mamori.get("remote_control") {
        mamori.insert("remote_control".into(), r.clone());
        doc.insert("tags".into(), json!(["remote-control"]));
    }
    if !evtx.is_empty() {
        mamori.insert("evtx".into(), Value::Object(evtx));
    }
    if !mamori.is_empty() {
        doc.insert("mamori".into(), Value::Object(mamori));
    }
    Ok(doc)
}

/// ECS fields collected by the per-event-ID mapping.
#[derive(Default)]
struct Mapped {
    action: Option<&'static str>,
    category: &'static str,
    ty: &'static str,
    extra_types: Vec<&'static str>,
    outcome: Option<&'static str>,
    /// Top-level ECS objects (`user`, `source`, `file`, `process` …).
    fields: Map<String, Value>,
    winlog_logon: Option<Map<String, Value>>,
    /// `usb` → `mamori.usb`; `evtx_*` → `mamori.evtx.*`.
    mamori: Map<String, Value>,
}

impl Mapped {
    fn event(&mut self, action: &'static str, category: &'static str, ty: &'static str, outcome: Option<&'static str>) {
        self.action = Some(action);
        self.category = category;
        self.ty = ty;
        self.outcome = outcome;
    }

    fn set_value(&mut self, path: &[&str], v: Value) {
        let Some((last, parents)) = path.split_last() else { return };
        let mut cur = &mut self.fields;
        for p in parents {
            // A present key keeps its place when replaced, as with `entry`; no key string is
            // allocated for a parent that already exists.
            if !cur.get(*p).is_some_and(Value::is_object) {
                cur.insert(p.to_string(), Value::Object(Map::new()));
            }
            let Some(Value::Object(o)) = cur.get_mut(*p) else { return };
            cur = o;
        }
        cur.insert(last.to_string(), v);
    }

    fn set(&mut self, path: &[&str], v: String) {
        self.set_value(path, Value::String(v));
    }

    fn set_opt(&mut self, path: &[&str], v: Option<String>) {
        if let Some(v) = v {
            self.set(path, v);
        }
    }

    fn user(&mut self, name: Option<String>, domain: Option<String>, id: Option<String>) {
        self.set_opt(&["user", "name"], name);
        self.set_opt(&["user", "domain"], domain);
        // The null SID says "nobody", which is not an identifier.
        self.set_opt(&["user", "id"], id.filter(|s| s != "S-1-0-0"));
    }

    fn sysmon_user(&mut self, user: Option<String>) {
        let Some(u) = user else { return };
        match u.split_once('\\') {
            Some((d, n)) => {
                self.set(&["user", "domain"], d.to_owned());
                self.set(&["user", "name"], n.to_owned());
            }
            None => self.set(&["user", "name"], u),
        }
    }

    fn source(&mut self, ip: Option<String>, port: Option<String>) {
        // `-` and local placeholders are already dropped; anything else that is not an IP (a
        // NetBIOS name in old events) stays in winlog.event_data only, since `source.ip` is
        // type-checked.
        let Some(ip) = ip.filter(|ip| ip.parse::<IpAddr>().is_ok()) else { return };
        self.set(&["source", "ip"], ip);
        if let Some(p) = port.and_then(|p| p.parse::<u16>().ok()).filter(|&p| p != 0) {
            self.set_value(&["source", "port"], p.into());
        }
    }

    fn destination(&mut self, ip: Option<String>, port: Option<String>) {
        let Some(ip) = ip.filter(|ip| ip.parse::<IpAddr>().is_ok()) else { return };
        self.set(&["destination", "ip"], ip);
        if let Some(p) = port.and_then(|p| p.parse::<u16>().ok()).filter(|&p| p != 0) {
            self.set_value(&["destination", "port"], p.into());
        }
    }

    fn file(&mut self, path: &str) {
        self.set(&["file", "path"], path.to_owned());
        if let Some(name) = base_name(path) {
            self.set(&["file", "name"], name.to_owned());
        }
    }

    fn process(&mut self, exe: Option<String>, pid: Option<u64>, cmd: Option<String>) {
        if let Some(exe) = exe {
            if let Some(n) = base_name(&exe) {
                self.set(&["process", "name"], n.to_owned());
            }
            self.set(&["process", "executable"], exe);
        }
        if let Some(pid) = pid {
            self.set_value(&["process", "pid"], pid.into());
        }
        self.set_opt(&["process", "command_line"], cmd);
    }

    fn parent(&mut self, exe: Option<String>, pid: Option<u64>, cmd: Option<String>) {
        if let Some(exe) = exe {
            if let Some(n) = base_name(&exe) {
                self.set(&["process", "parent", "name"], n.to_owned());
            }
            self.set(&["process", "parent", "executable"], exe);
        }
        if let Some(pid) = pid {
            self.set_value(&["process", "parent", "pid"], pid.into());
        }
        self.set_opt(&["process", "parent", "command_line"], cmd);
    }

    fn hashes(&mut self, hashes: Option<String>) {
        for part in hashes.iter().flat_map(|h| h.split(',')) {
            let Some((alg, v)) = part.split_once('=') else { continue };
            let alg = match alg.trim().to_ascii_uppercase().as_str() {
                "MD5" => "md5",
                "SHA1" => "sha1",
                "SHA256" => "sha256",
                "IMPHASH" => {
                    self.set(&["process", "pe", "imphash"], v.trim().to_ascii_lowercase());
                    continue;
                }
                _ => continue,
            };
            self.set(&["process", "hash", alg], v.trim().to_ascii_lowercase());
        }
    }

    fn usb(&mut self, device_id: Option<String>, vendor_ids: Option<String>, class: Option<String>, desc: Option<String>) {
        let mut usb = Map::new();
        // Hardware IDs look like USB\VID_0781&PID_5567&REV_0100; the instance path after the
        // second backslash of a USB device ID is its serial number (when the device has one;
        // Windows makes one up with '&' in it otherwise).
        let ids = device_id.iter().chain(vendor_ids.iter()).map(String::as_str).collect::<Vec<_>>().join("\n");
        if let Some(v) = hw_id_part(&ids, "VID_") {
            usb.insert("vendor_id".into(), Value::String(v));
        }
        if let Some(p) = hw_id_part(&ids, "PID_") {
            usb.insert("product_id".into(), Value::String(p));
        }
        if let Some(d) = &device_id {
            let mut parts = d.split('\\');
            let bus = parts.next().unwrap_or_default().to_ascii_uppercase();
            let hw = parts.next().unwrap_or_default();
            if let Some(serial) = parts.next().and_then(|s| instance_serial(&bus, s)) {
                usb.insert("serial".into(), Value::String(serial));
            }
            if bus == "USBSTOR" {
                // USBSTOR\Disk&Ven_SanDisk&Prod_Cruzer_Blade&Rev_1.00
                for part in hw.split('&') {
                    let lower = part.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("ven_").map(|_| &part[4..]).filter(|v| !v.is_empty()) {
                        usb.insert("manufacturer".into(), Value::String(v.replace('_', " ")));
                    } else if let Some(p) = lower.strip_prefix("prod_").map(|_| &part[5..]).filter(|v| !v.is_empty()) {
                        usb.insert("product".into(), Value::String(p.replace('_', " ")));
                    }
                }
                usb.insert("mass_storage".into(), true.into());
            }
            usb.insert("device_id".into(), Value::String(d.clone()));
        }
        if let Some(c) = class {
            usb.insert("class_name".into(), Value::String(c));
        }
        if let Some(d) = desc {
            usb.insert("description".into(), Value::String(d));
        }
        if !usb.is_empty() {
            self.mamori.insert("usb".into(), Value::Object(usb));
        }
    }

    /// Marks events whose process (or parent, or created/deleted file) is a remote-control
    /// tool: `mamori.remote_control.{tool,role}`.
    fn remote_control(&mut self) {
        let name_at = |f: &Map<String, Value>, path: &[&str]| -> Option<String> {
            let mut cur = f.get(path[0])?;
            for p in &path[1..] {
                cur = cur.get(p)?;
            }
            cur.as_str().map(str::to_owned)
        };
        for (role, path) in [("process", &["process", "name"][..]), ("parent", &["process", "parent", "name"]), ("file", &["file", "name"])] {
            if let Some(tool) = name_at(&self.fields, path).as_deref().and_then(remote_tool) {
                self.mamori.insert("remote_control".into(), json!({"tool": tool, "role": role}));
                return;
            }
        }
    }

    fn summary(&self, event_id: &str, channel: &str) -> String {
        let mut s = format!("{channel} {event_id}");
        if let Some(a) = self.action {
            s.push(' ');
            s.push_str(a);
        }
        let f = |path: &[&str]| -> Option<String> {
            let mut cur = self.fields.get(path[0])?;
            for p in &path[1..] {
                cur = cur.get(p)?;
            }
            match cur {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        for (label, path) in [
            ("user", &["user", "name"][..]),
            ("target", &["user", "target", "name"]),
            ("from", &["source", "ip"]),
            ("file", &["file", "path"]),
            ("process", &["process", "executable"]),
            ("to", &["destination", "ip"]),
        ] {
            if let Some(v) = f(path) {
                s.push_str(&format!(" {label}={v}"));
            }
        }
        s
    }
}

/// Audit success / failure and the classic-log bit, as Winlogbeat names them.
const AUDIT_FAILURE: u64 = 0x0010_0000_0000_0000;

fn keyword_names(k: u64) -> Vec<&'static str> {
    let mut v = Vec::new();
    if k & 0x0020_0000_0000_0000 != 0 {
        v.push("Audit Success");
    }
    if k & AUDIT_FAILURE != 0 {
        v.push("Audit Failure");
    }
    if k & 0x0080_0000_0000_0000 != 0 {
        v.push("Classic");
    }
    v
}

/// Winlogbeat's names for the logon types (winlog.logon.type).
fn logon_type_name(t: &str) -> Option<&'static str> {
    Some(match t {
        "0" => "System",
        "2" => "Interactive",
        "3" => "Network",
        "4" => "Batch",
        "5" => "Service",
        "7" => "Unlock",
        "8" => "NetworkCleartext",
        "9" => "NewCredentials",
        "10" => "RemoteInteractive",
        "11" => "CachedInteractive",
        "12" => "CachedRemoteInteractive",
        "13" => "CachedUnlock",
        _ => return None,
    })
}

/// The `%%23xx` message IDs of 4625's FailureReason (msobjs.dll), in English.
fn failure_reason(r: &str) -> Option<&'static str> {
    Some(match r {
        "%%2304" => "An Error occured during Logon.",
        "%%2305" => "The specified user account has expired.",
        "%%2306" => "The NetLogon component is not active.",
        "%%2307" => "Account locked out.",
        "%%2308" => "The user has not been granted the requested logon type at this machine.",
        "%%2309" => "The specified account's password has expired.",
        "%%2310" => "Account currently disabled.",
        "%%2311" => "Account logon time restriction violation.",
        "%%2312" => "User not allowed to logon at this computer.",
        "%%2313" => "Unknown user name or bad password.",
        _ => return None,
    })
}

/// The `%%84xx` message IDs of 4719's AuditPolicyChanges.
fn audit_policy_change(c: &str) -> Option<&'static str> {
    Some(match c {
        "%%8448" => "Success removed",
        "%%8449" => "Success added",
        "%%8450" => "Failure removed",
        "%%8451" => "Failure added",
        _ => return None,
    })
}

/// `VID_xxxx` / `PID_xxxx` (4 hex digits, upper case) out of hardware IDs.
fn hw_id_part(ids: &str, key: &str) -> Option<String> {
    let upper = ids.to_ascii_uppercase();
    let i = upper.find(key)? + key.len();
    let v = upper.get(i..i + 4)?;
    v.chars().all(|c| c.is_ascii_hexdigit()).then(|| v.to_ascii_lowercase())
}

/// The serial number in a device instance ID's last part: `4C530001231121115322` for
/// `USB\VID_0781&PID_5567\4C530001231121115322`, and without the `&<n>` LUN suffix for
/// `USBSTOR\Disk&…\4C530001231121115322&0`. Windows makes up instance IDs with `&` in them
/// (`6&2a1b3c4d&0&1`) for devices without a serial; those give none.
fn instance_serial(bus: &str, inst: &str) -> Option<String> {
    let inst = inst.trim();
    let s = match bus {
        "USB" => inst,
        "USBSTOR" => match inst.rsplit_once('&') {
            Some((head, lun)) if !lun.is_empty() && lun.bytes().all(|b| b.is_ascii_digit()) => head,
            _ => inst,
        },
        _ => return None,
    };
    (!s.is_empty() && !s.contains('&') && !s.contains('{')).then(|| s.to_owned())
}

/// `USB\…` or `USBSTOR\…` instance IDs.
fn is_usb_instance(id: &str) -> bool {
    let up = id.to_ascii_uppercase();
    up.starts_with("USB\\") || up.starts_with("USBSTOR\\")
}

/// A USB / USBSTOR device instance ID anywhere in an element (attributes included): as is
/// (`USB\VID_…\serial`), or inside a device interface path
/// (`…#USBSTOR#DISK&VEN_…#4C53…&0#{53f56307-…}` → `USBSTOR\DISK&VEN_…\4C53…&0`).
fn find_device_id(v: Option<&J>) -> Option<String> {
    fn walk(v: &J, out: &mut Option<String>) {
        if out.is_some() {
            return;
        }
        match v {
            J::Str(s) => {
                let up = s.to_ascii_uppercase();
                for bus in ["USBSTOR", "USB"] {
                    if let Some(i) = up.find(&format!("{bus}\\")) {
                        let rest = &s[i..];
                        let end = rest.find(|c: char| c.is_whitespace() || c == '"' || c == '<').unwrap_or(rest.len());
                        *out = Some(rest[..end].to_owned());
                        return;
                    }
                    if let Some(i) = up.find(&format!("{bus}#")) {
                        let parts: Vec<&str> = s[i..].split('#').collect();
                        if parts.len() >= 3 && !parts[1].is_empty() && !parts[2].is_empty() {
                            *out = Some(format!("{}\\{}\\{}", parts[0], parts[1], parts[2]));
                            return;
                        }
                    }
                }
            }
            J::Arr(a) => a.iter().for_each(|x| walk(x, out)),
            J::Obj(o) => o.iter().for_each(|(_, x)| walk(x, out)),
            _ => {}
        }
    }
    let mut out = None;
    walk(v?, &mut out);
    out
}

/// Remote-control tools by executable name (Ikeda: a remote-control tool's own logs were the
/// evidence, and then they were gone).
fn remote_tool(exe_name: &str) -> Option<&'static str> {
    let n = exe_name.to_ascii_lowercase();
    Some(match n.as_str() {
        _ if n.starts_with("teamviewer") => "TeamViewer",
        _ if n.starts_with("anydesk") => "AnyDesk",
        "quickassist.exe" => "Quick Assist",
        "msra.exe" => "Windows Remote Assistance",
        "mstsc.exe" => "Remote Desktop Connection",
        _ if n.starts_with("screenconnect") || n.starts_with("connectwisecontrol") => "ScreenConnect",
        _ if n.starts_with("splashtop") || n == "srserver.exe" => "Splashtop",
        "remoting_host.exe" => "Chrome Remote Desktop",
        "winvnc.exe" | "tvnserver.exe" | "vncserver.exe" | "vncviewer.exe" | "tvnviewer.exe" => "VNC",
        "rustdesk.exe" => "RustDesk",
        _ => return None,
    })
}

/// `\\*\C$` + `\Users\a.xlsx` without doubling the separator.
fn join_path(share: &str, rel: &str) -> String {
    let rel = rel.trim_start_matches('\\');
    if rel.is_empty() {
        return share.to_owned();
    }
    format!("{}\\{rel}", share.trim_end_matches('\\'))
}

fn base_name(path: &str) -> Option<&str> {
    path.rsplit(['\\', '/']).next().filter(|n| !n.is_empty())
}

/// Process IDs: hexadecimal (`0x10a4`) in Security events, decimal in Sysmon.
fn parse_pid(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn cut(s: &str, max: usize) -> (&str, bool) {
    if s.len() <= max {
        return (s, false);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (&s[..end], true)
}

/// A scalar as a string: strings as they are, numbers and booleans printed.
fn scalar(v: &J) -> Option<String> {
    match v {
        J::Str(s) => Some(s.to_string()),
        J::Num(n) => Some(n.to_string()),
        J::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An element's text: the scalar itself, or its `#text` when it also has attributes
/// (`"EventID": {"#attributes": {"Qualifiers": 16384}, "#text": 7045}`).
fn text_of(v: &J) -> Option<String> {
    scalar(v).or_else(|| v.get("#text").and_then(text_of))
}

/// An event data value as Winlogbeat gives it: a string; lists (multi-valued `<Data>`) joined
/// with newlines; nested elements as JSON text.
fn data_string(v: &J) -> Option<String> {
    match v {
        J::Null => None,
        J::Arr(a) => Some(a.iter().filter_map(data_string).collect::<Vec<_>>().join("\n")),
        J::Obj(_) => match v.get("#text") {
            Some(t) => data_string(t),
            None => Some(v.to_value().to_string()),
        },
        other => scalar(other),
    }
}

/// `<EventData>` as name → string. Named `<Data Name="X">` elements arrive as keys; unnamed
/// ones (classic event sources) as `Data` (one or a list) and get Winlogbeat's `param1`, `param2`….
fn event_data(v: Option<&J>) -> Map<String, Value> {
    let mut out = Map::with_capacity(v.and_then(J::as_object).map_or(1, <[_]>::len));
    let Some(J::Obj(o)) = v else {
        if let Some(s) = v.and_then(data_string).filter(|s| !s.is_empty()) {
            out.insert("param1".into(), Value::String(s));
        }
        return out;
    };
    for (k, v) in o {
        if k.starts_with('#') {
            continue;
        }
        if k == "Data" {
            let items: Vec<&J> = match v.get("#text").unwrap_or(v) {
                J::Arr(a) => a.iter().collect(),
                other => vec![other],
            };
            for (i, item) in items.into_iter().enumerate() {
                if let Some(s) = data_string(item) {
                    out.insert(format!("param{}", i + 1), Value::String(s));
                }
            }
            continue;
        }
        if let Some(s) = data_string(v) {
            out.insert(field_name(k), Value::String(s));
        }
    }
    out
}

/// A `<Data Name=…>` (or UserData element) name as a field name the event model accepts: it
/// expands dots into nested objects and refuses empty names, so a name with dots (or none)
/// would either reshape `winlog.event_data` or get the whole record refused. Windows' own
/// names are identifiers; only odd providers and hostile files are affected.
fn field_name(k: &str) -> String {
    if k.is_empty() {
        return "_".to_owned();
    }
    k.replace('.', "_")
}

/// `<UserData>`'s single child element, as (name, its fields as strings plus `xml_name`).
fn user_data(v: Option<&J>) -> Option<(String, Map<String, Value>)> {
    let o = v?.as_object()?;
    let (name, inner) = o.iter().find(|(k, _)| !k.starts_with('#'))?;
    let mut out = Map::with_capacity(inner.as_object().map_or(0, <[_]>::len) + 1);
    if let Some(fields) = inner.as_object() {
        for (k, v) in fields {
            let k: &str = k;
            if k.starts_with('#') {
                continue;
            }
            if let Some(s) = data_string(v) {
                out.insert(field_name(k), Value::String(s));
            }
        }
    }
    out.insert("xml_name".into(), Value::String(name.to_string()));
    Some((name.to_string(), out))
}

/// A field value worth mapping: trimmed, and not one of Windows' "nothing here" placeholders.
fn present(v: &Value) -> Option<String> {
    v.as_str().and_then(present_str)
}

fn present_str(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty() && t != "-").then(|| t.to_owned())
}

/// Winlogbeat documents arriving over `_bulk` / NDJSON: Winlogbeat 8 leaves the ECS mapping of
/// Security, Sysmon and device events to Elasticsearch ingest pipelines, which mamori does
/// not run, so the document has `winlog.{provider_name,event_id,event_data,user_data}` but
/// often no `user`, `source`, `file` or `event.action`. This rebuilds the record from the
/// `winlog` fields, maps it like an EVTX record ([`evtx_to_ecs`]) and adds what the document
/// lacks (top-level ECS objects, `event.{action,category,type,outcome}`, `mamori.usb`,
/// `mamori.remote_control`, `mamori.evtx`, `tags`); fields Winlogbeat (or its pipeline)
/// already set are never overwritten. Documents without `winlog.event_id`, and EVTX-parsed
/// documents (`winlog.api: evtx`), are left alone.
pub fn enrich_winlogbeat_doc(doc: &mut Map<String, Value>) {
    let Some(w) = doc.get("winlog").and_then(Value::as_object) else { return };
    if w.get("api").and_then(Value::as_str) == Some("evtx") {
        return;
    }
    let Some(event_id) = w.get("event_id").and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_u64().map(|n| n.to_string()))) else { return };
    let provider = w.get("provider_name").and_then(Value::as_str).unwrap_or_default();
    let ts = doc.get("@timestamp").and_then(Value::as_str).unwrap_or("1970-01-01T00:00:00Z");
    let mut system = json!({
        "Provider": {"#attributes": {"Name": provider}},
        "EventID": event_id,
        "TimeCreated": {"#attributes": {"SystemTime": ts}},
    });
    for (k, src) in [("Channel", "channel"), ("Computer", "computer_name")] {
        if let Some(v) = w.get(src) {
            system[k] = v.clone();
        }
    }
    if let Some(r) = w.get("record_id") {
        system["EventRecordID"] = r.clone();
    }
    // Winlogbeat's keyword names back to the audit success / failure bits.
    if let Some(k) = w.get("keywords").and_then(Value::as_array) {
        let mut bits = 0u64;
        for name in k.iter().filter_map(Value::as_str) {
            match name {
                "Audit Success" => bits |= 0x0020_0000_0000_0000,
                "Audit Failure" => bits |= AUDIT_FAILURE,
                _ => {}
            }
        }
        system["Keywords"] = Value::String(format!("0x{bits:x}"));
    }
    let mut event = json!({"System": system});
    if let Some(d) = w.get("event_data") {
        event["EventData"] = d.clone();
    }
    if let Some(Value::Object(u)) = w.get("user_data") {
        let name = u.get("xml_name").and_then(Value::as_str).unwrap_or("UserData").to_owned();
        event["UserData"] = json!({ name: u });
    }
    let task = w.get("task").cloned().unwrap_or(Value::Null);
    let Ok(mapped) = evtx_to_ecs(&json!({"Event": event}), "", Some(ts)) else { return };
    for (k, v) in mapped {
        match k.as_str() {
            "@timestamp" | "message" | "winlog" | "host" | "log" => {}
            "event" => {
                let Value::Object(mev) = v else { continue };
                let ev = doc.entry("event").or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(ev) = ev {
                    // Winlogbeat puts the task name in event.action ("Plug and Play Events");
                    // the mapped action replaces that, never an action set by anyone else.
                    if let Some(a) = mev.get("action")
                        && ev.get("action").is_some_and(|cur| cur == &task || cur.is_null())
                    {
                        ev.insert("action".into(), a.clone());
                    }
                    for f in ["action", "category", "type", "outcome", "code", "provider", "module"] {
                        if let Some(x) = mev.get(f)
                            && !ev.contains_key(f)
                        {
                            ev.insert(f.into(), x.clone());
                        }
                    }
                }
            }
            "mamori" => {
                let Value::Object(mm) = v else { continue };
                let dm = doc.entry("mamori").or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(dm) = dm {
                    for (mk, mv) in mm {
                        dm.entry(mk).or_insert(mv);
                    }
                }
            }
            _ => merge_missing(doc.entry(k).or_insert(Value::Null), v),
        }
    }
}

/// Copies into `into` what it lacks from `from` (objects merged key by key; an existing
/// non-null value always wins).
fn merge_missing(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge_missing(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot @ Value::Null, v) => *slot = v,
        _ => {}
    }
}

/// The rendered record as a JSON tree that borrows its strings from the rendered text: what
/// [`evtx_to_ecs`] reads, without building a `serde_json::Value` (one hash map per element and
/// one `String` per key and value, all freed right after mapping). Parsed by serde_json's own
/// parser, so numbers, escapes, errors and the recursion limit are exactly `Value`'s; an object
/// with a repeated key keeps the key's first place and its last value, as `Map::insert` does.
mod tree {
    use std::borrow::Cow;
    use std::fmt;

    use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Number, Value};

    /// One JSON value.
    #[derive(Debug, Clone, PartialEq)]
    pub(super) enum J<'a> {
        Null,
        Bool(bool),
        Num(Number),
        Str(Cow<'a, str>),
        Arr(Vec<J<'a>>),
        Obj(Vec<(Cow<'a, str>, J<'a>)>),
    }

    impl<'a> J<'a> {
        /// The same tree over a `Value` (strings borrowed).
        pub(super) fn from_value(v: &'a Value) -> J<'a> {
            match v {
                Value::Null => J::Null,
                Value::Bool(b) => J::Bool(*b),
                Value::Number(n) => J::Num(n.clone()),
                Value::String(s) => J::Str(Cow::Borrowed(s)),
                Value::Array(a) => J::Arr(a.iter().map(J::from_value).collect()),
                Value::Object(o) => J::Obj(o.iter().map(|(k, v)| (Cow::Borrowed(k.as_str()), J::from_value(v))).collect()),
            }
        }

        /// The `Value` this tree parses to.
        pub(super) fn to_value(&self) -> Value {
            match self {
                J::Null => Value::Null,
                J::Bool(b) => Value::Bool(*b),
                J::Num(n) => Value::Number(n.clone()),
                J::Str(s) => Value::String(s.to_string()),
                J::Arr(a) => Value::Array(a.iter().map(J::to_value).collect()),
                J::Obj(o) => Value::Object(o.iter().map(|(k, v)| (k.to_string(), v.to_value())).collect::<Map<_, _>>()),
            }
        }

        /// An object's member (`Value::get` with a key).
        pub(super) fn get(&self, k: &str) -> Option<&J<'a>> {
            match self {
                J::Obj(o) => o.iter().find(|(key, _)| key == k).map(|(_, v)| v),
                _ => None,
            }
        }

        pub(super) fn as_object(&self) -> Option<&[(Cow<'a, str>, J<'a>)]> {
            match self {
                J::Obj(o) => Some(o),
                _ => None,
            }
        }

        pub(super) fn is_object(&self) -> bool {
            matches!(self, J::Obj(_))
        }

    }

    impl<'de> Deserialize<'de> for J<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(JVisitor)
        }
    }

    struct JVisitor;

    impl<'de> Visitor<'de> for JVisitor {
        type Value = J<'de>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any valid JSON value")
        }
        fn visit_bool<E>(self, b: bool) -> Result<J<'de>, E> {
            Ok(J::Bool(b))
        }
        fn visit_i64<E>(self, i: i64) -> Result<J<'de>, E> {
            Ok(J::Num(i.into()))
        }
        fn visit_u64<E>(self, u: u64) -> Result<J<'de>, E> {
            Ok(J::Num(u.into()))
        }
        fn visit_f64<E>(self, f: f64) -> Result<J<'de>, E> {
            Ok(Number::from_f64(f).map_or(J::Null, J::Num))
        }
        fn visit_borrowed_str<E>(self, s: &'de str) -> Result<J<'de>, E> {
            Ok(J::Str(Cow::Borrowed(s)))
        }
        fn visit_str<E>(self, s: &str) -> Result<J<'de>, E> {
            Ok(J::Str(Cow::Owned(s.to_owned())))
        }
        fn visit_string<E>(self, s: String) -> Result<J<'de>, E> {
            Ok(J::Str(Cow::Owned(s)))
        }
        fn visit_none<E>(self) -> Result<J<'de>, E> {
            Ok(J::Null)
        }
        fn visit_unit<E>(self) -> Result<J<'de>, E> {
            Ok(J::Null)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<J<'de>, D::Error> {
            J::deserialize(d)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<J<'de>, A::Error> {
            let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
            while let Some(e) = seq.next_element()? {
                v.push(e);
            }
            Ok(J::Arr(v))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<J<'de>, A::Error> {
            let mut o: Vec<(Cow<'de, str>, J<'de>)> = Vec::with_capacity(4);
            // Repeated keys: found by a scan in small objects, by an index past this size (a
            // hostile record can hold thousands of keys).
            const SCAN: usize = 32;
            let mut index: Option<std::collections::HashMap<Cow<'de, str>, usize>> = None;
            while let Some(Key(k)) = map.next_key()? {
                let v: J<'de> = map.next_value()?;
                if o.len() == SCAN && index.is_none() {
                    index = Some(o.iter().enumerate().map(|(i, (k, _))| (k.clone(), i)).collect());
                }
                let at = match &mut index {
                    Some(ix) => match ix.get(&k) {
                        Some(&i) => Some(i),
                        None => {
                            ix.insert(k.clone(), o.len());
                            None
                        }
                    },
                    None => o.iter().position(|(key, _)| *key == k),
                };
                match at {
                    Some(i) => o[i].1 = v,
                    None => o.push((k, v)),
                }
            }
            Ok(J::Obj(o))
        }
    }

    /// An object key, borrowed when it has no escapes.
    struct Key<'a>(Cow<'a, str>);

    impl<'de> Deserialize<'de> for Key<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct KeyVisitor;
            impl<'de> Visitor<'de> for KeyVisitor {
                type Value = Key<'de>;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a string key")
                }
                fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Borrowed(s)))
                }
                fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Owned(s.to_owned())))
                }
                fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Owned(s)))
                }
            }
            d.deserialize_str(KeyVisitor)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::J;
        use serde_json::Value;

        /// The tree is what `Value` would be: same numbers, escapes, key order and repeated-key
        /// rule (first place, last value), below and above the size where keys get an index.
        #[test]
        fn tree_parses_like_value() {
            let many: String = (0..80).map(|i| format!("\"k{}\":{i},", i % 50)).collect();
            for text in [
                r#"{"a":1,"b":"x","a":[1,-2,3.5,1e3,18446744073709551615,-9223372036854775808,12345678901234567890123]}"#,
                r##"{"e":"tab\t quote\" uni\u00e9 \ud83d\ude00","k\u00e9y":null,"t":true,"f":false,"o":{"#text":7}}"##,
                &format!("{{{many}\"k3\":\"last\"}}"),
                r#"[{"x":{"y":{"z":[[],{}]}}},"s",0.1,-0.0]"#,
            ] {
                let v: Value = serde_json::from_str(text).unwrap();
                let j: J = serde_json::from_str(text).unwrap();
                assert_eq!(j.to_value(), v, "{text}");
                // Key order too (Value's == ignores it).
                assert_eq!(j.to_value().to_string(), v.to_string(), "{text}");
                assert_eq!(J::from_value(&v), j, "{text}");
            }
            for bad in ["{\"a\":", "[1,]", "{\"a\":1} x", &"[".repeat(200)] {
                let v = serde_json::from_str::<Value>(bad).unwrap_err().to_string();
                let j = serde_json::from_str::<J>(bad).unwrap_err().to_string();
                assert_eq!(j, v, "{bad}");
            }
        }
    }
}
