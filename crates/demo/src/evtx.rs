//! A small EVTX writer: Windows XML Event Log files (MS-EVEN6, as documented by libyal's
//! "Windows XML Event Log (EVTX)" format description) for the demo city's Windows PC logs.
//!
//! Layout: a 4096-byte file header, then 64 KiB chunks, each with a 512-byte header (record
//! numbers and ids, the free-space offset, a CRC32 of the records and one of the header, the
//! 64-bucket common-string table and an empty template table) followed by the event records.
//! A record is `**\0\0`, its size, its id, a FILETIME, its BinXML and its size again.
//!
//! The BinXML uses no templates (Windows' own writer uses template instances; readers accept
//! both): element start / attribute / value / close tokens only, with each element or
//! attribute name stored once per chunk, inline at its first use and linked into the chunk's
//! string table (later uses refer to that offset). Values are typed as Windows types them in
//! the `System` part (UInt16 event id, FILETIME creation time, HexInt64 keywords …) and
//! UTF-16 strings elsewhere. Hand-written: no crate writes EVTX (the `evtx` crate only reads).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// File header block size.
const FILE_HEADER: usize = 4096;
/// Chunk size.
const CHUNK: usize = 65536;
/// Chunk header size (records start here).
const CHUNK_HEADER: usize = 512;
/// Seconds between 1601-01-01 and 1970-01-01.
const FILETIME_UNIX: i64 = 11_644_473_600;

/// A typed value of the BinXML value token.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    /// UTF-16 string (0x01).
    Str(String),
    /// UInt8 (0x04).
    U8(u8),
    /// UInt16 (0x06).
    U16(u16),
    /// UInt32 (0x08).
    U32(u32),
    /// UInt64 (0x0a).
    U64(u64),
    /// FILETIME (0x11), from a UTC time.
    FileTime(DateTime<Utc>),
    /// HexInt64 (0x15).
    Hex64(u64),
}

/// One XML element of an event.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Elem {
    /// Element name.
    pub name: String,
    /// Attributes in order.
    pub attrs: Vec<(String, Val)>,
    /// Text content.
    pub text: Option<Val>,
    /// Child elements.
    pub children: Vec<Elem>,
}

impl Elem {
    /// An element with a name only.
    pub fn new(name: &str) -> Elem {
        Elem { name: name.to_owned(), ..Default::default() }
    }
    /// With text.
    pub fn text(mut self, v: Val) -> Elem {
        self.text = Some(v);
        self
    }
    /// With an attribute.
    pub fn attr(mut self, k: &str, v: Val) -> Elem {
        self.attrs.push((k.to_owned(), v));
        self
    }
    /// With a child.
    pub fn child(mut self, c: Elem) -> Elem {
        self.children.push(c);
        self
    }
}

/// FILETIME ticks (100 ns since 1601) of a UTC time.
pub fn filetime(t: DateTime<Utc>) -> u64 {
    ((t.timestamp() + FILETIME_UNIX) as u64) * 10_000_000 + u64::from(t.timestamp_subsec_nanos() / 100)
}

/// The name hash of MS-EVEN6 (×65599 over the UTF-16 code units, low 16 bits).
fn name_hash(name: &str) -> u16 {
    (name.encode_utf16().fold(0u32, |h, c| h.wrapping_mul(65599).wrapping_add(u32::from(c))) & 0xffff) as u16
}

/// Names written in the chunk so far: offset by name, and the string table's 64 buckets (the
/// offset of the last name in each bucket's chain, to link the next one).
#[derive(Clone)]
struct Names {
    at: HashMap<String, u32>,
    first: [u32; 64],
    last: [u32; 64],
}

impl Default for Names {
    fn default() -> Self {
        Names { at: HashMap::new(), first: [0; 64], last: [0; 64] }
    }
}

/// A record's BinXML, built at a known chunk offset (names refer to chunk offsets).
struct RecordBuf<'a> {
    buf: Vec<u8>,
    /// Chunk offset of `buf[0]`.
    base: usize,
    names: &'a mut Names,
    /// Names first written in this record: (offset, hash bucket).
    new_names: Vec<(u32, usize)>,
}

impl RecordBuf<'_> {
    fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn patch_u32(&mut self, at: usize, v: u32) {
        self.buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    /// A name reference: the offset of the name, and the name itself when this is its first
    /// use in the chunk (then the offset is where it starts, right after the reference).
    fn name(&mut self, name: &str) {
        if let Some(&o) = self.names.at.get(name) {
            self.u32(o);
            return;
        }
        let here = (self.base + self.buf.len() + 4) as u32;
        self.u32(here);
        let hash = name_hash(name);
        self.u32(0); // next string in the bucket: linked when a later name joins it
        self.u16(hash);
        let units: Vec<u16> = name.encode_utf16().collect();
        self.u16(units.len() as u16);
        for c in units {
            self.u16(c);
        }
        self.u16(0);
        self.names.at.insert(name.to_owned(), here);
        self.new_names.push((here, usize::from(hash) % 64));
    }

    fn value(&mut self, v: &Val) {
        self.buf.push(0x05);
        match v {
            Val::Str(s) => {
                self.buf.push(0x01);
                let units: Vec<u16> = s.encode_utf16().collect();
                self.u16(units.len() as u16);
                for c in units {
                    self.u16(c);
                }
            }
            Val::U8(n) => {
                self.buf.push(0x04);
                self.buf.push(*n);
            }
            Val::U16(n) => {
                self.buf.push(0x06);
                self.u16(*n);
            }
            Val::U32(n) => {
                self.buf.push(0x08);
                self.u32(*n);
            }
            Val::U64(n) => {
                self.buf.push(0x0a);
                self.buf.extend_from_slice(&n.to_le_bytes());
            }
            Val::FileTime(t) => {
                self.buf.push(0x11);
                self.buf.extend_from_slice(&filetime(*t).to_le_bytes());
            }
            Val::Hex64(n) => {
                self.buf.push(0x15);
                self.buf.extend_from_slice(&n.to_le_bytes());
            }
        }
    }

    fn element(&mut self, e: &Elem) {
        self.buf.push(if e.attrs.is_empty() { 0x01 } else { 0x41 });
        let size_at = self.buf.len();
        self.u32(0);
        self.name(&e.name);
        if !e.attrs.is_empty() {
            let list_at = self.buf.len();
            self.u32(0);
            for (i, (k, v)) in e.attrs.iter().enumerate() {
                // 0x46: more attributes follow.
                self.buf.push(if i + 1 < e.attrs.len() { 0x46 } else { 0x06 });
                self.name(k);
                self.value(v);
            }
            let n = self.buf.len() - list_at - 4;
            self.patch_u32(list_at, n as u32);
        }
        if e.text.is_none() && e.children.is_empty() {
            self.buf.push(0x03);
        } else {
            self.buf.push(0x02);
            if let Some(t) = &e.text {
                self.value(t);
            }
            for c in &e.children {
                self.element(c);
            }
            self.buf.push(0x04);
        }
        let n = self.buf.len() - size_at - 4;
        self.patch_u32(size_at, n as u32);
    }
}

/// One chunk being filled.
struct Chunk {
    data: Vec<u8>,
    names: Names,
    first_id: u64,
    last_id: u64,
    last_offset: usize,
}

impl Chunk {
    fn new() -> Chunk {
        Chunk { data: vec![0; CHUNK_HEADER], names: Names::default(), first_id: 0, last_id: 0, last_offset: 0 }
    }

    /// The record at the chunk's end, or `None` when it does not fit.
    fn push(&mut self, id: u64, time: DateTime<Utc>, event: &Elem) -> Option<()> {
        let start = self.data.len();
        let mut names = self.names.clone();
        let mut r = RecordBuf { buf: Vec::with_capacity(1024), base: start + 24, names: &mut names, new_names: Vec::new() };
        r.buf.extend_from_slice(&[0x0f, 0x01, 0x01, 0x00]); // fragment header, BinXML 1.1
        r.element(event);
        r.buf.push(0x00); // end of file
        let new_names = std::mem::take(&mut r.new_names);
        let binxml = r.buf;
        let size = 24 + binxml.len() + 4;
        if start + size > CHUNK {
            return None;
        }
        self.data.extend_from_slice(&[0x2a, 0x2a, 0, 0]);
        self.data.extend_from_slice(&(size as u32).to_le_bytes());
        self.data.extend_from_slice(&id.to_le_bytes());
        self.data.extend_from_slice(&filetime(time).to_le_bytes());
        self.data.extend_from_slice(&binxml);
        self.data.extend_from_slice(&(size as u32).to_le_bytes());
        // Link the new names into the string table's buckets.
        for (off, bucket) in new_names {
            if names.first[bucket] == 0 {
                names.first[bucket] = off;
            } else {
                let prev = names.last[bucket] as usize;
                self.data[prev..prev + 4].copy_from_slice(&off.to_le_bytes());
            }
            names.last[bucket] = off;
        }
        self.names = names;
        if self.first_id == 0 {
            self.first_id = id;
        }
        self.last_id = id;
        self.last_offset = start;
        Some(())
    }

    /// The finished chunk: header fields, string table, CRC32s, padded to 64 KiB.
    fn finish(mut self) -> Vec<u8> {
        let free = self.data.len();
        self.data.resize(CHUNK, 0);
        let d = &mut self.data;
        d[0..8].copy_from_slice(b"ElfChnk\0");
        // Record numbers (in this file) and ids are the same here: one log, written once.
        for (at, v) in [(8, self.first_id), (16, self.last_id), (24, self.first_id), (32, self.last_id)] {
            d[at..at + 8].copy_from_slice(&v.to_le_bytes());
        }
        d[40..44].copy_from_slice(&128u32.to_le_bytes());
        d[44..48].copy_from_slice(&(self.last_offset as u32).to_le_bytes());
        d[48..52].copy_from_slice(&(free as u32).to_le_bytes());
        let records = crc32fast::hash(&d[CHUNK_HEADER..free]);
        d[52..56].copy_from_slice(&records.to_le_bytes());
        for (i, off) in self.names.first.iter().enumerate() {
            d[128 + i * 4..132 + i * 4].copy_from_slice(&off.to_le_bytes());
        }
        let mut h = crc32fast::Hasher::new();
        h.update(&d[..120]);
        h.update(&d[128..CHUNK_HEADER]);
        let header = h.finalize();
        d[124..128].copy_from_slice(&header.to_le_bytes());
        self.data
    }
}

/// An EVTX file holding `events` (time, the `Event` element) as records 1, 2, … in order.
pub fn write_evtx(events: &[(DateTime<Utc>, Elem)]) -> Vec<u8> {
    let mut chunks = Vec::new();
    let mut cur = Chunk::new();
    for (i, (t, e)) in events.iter().enumerate() {
        let id = i as u64 + 1;
        if cur.push(id, *t, e).is_none() {
            chunks.push(std::mem::replace(&mut cur, Chunk::new()).finish());
            // A record larger than a chunk cannot be written; the demo's are ~1 KiB.
            cur.push(id, *t, e).expect("an event record fits in an empty chunk");
        }
    }
    if cur.first_id != 0 || chunks.is_empty() {
        chunks.push(cur.finish());
    }
    let mut out = vec![0u8; FILE_HEADER];
    out[0..8].copy_from_slice(b"ElfFile\0");
    let n = chunks.len() as u64;
    out[8..16].copy_from_slice(&0u64.to_le_bytes()); // first chunk
    out[16..24].copy_from_slice(&(n - 1).to_le_bytes()); // last chunk
    out[24..32].copy_from_slice(&(events.len() as u64 + 1).to_le_bytes()); // next record id
    out[32..36].copy_from_slice(&128u32.to_le_bytes());
    out[36..38].copy_from_slice(&1u16.to_le_bytes()); // minor version
    out[38..40].copy_from_slice(&3u16.to_le_bytes()); // major version
    out[40..42].copy_from_slice(&(FILE_HEADER as u16).to_le_bytes());
    out[42..44].copy_from_slice(&(n as u16).to_le_bytes());
    // Flags 0: closed cleanly (not dirty), not full.
    let crc = crc32fast::hash(&out[..120]);
    out[124..128].copy_from_slice(&crc.to_le_bytes());
    for c in chunks {
        out.extend_from_slice(&c);
    }
    out
}

/// Windows' provider GUIDs for the providers the demo writes.
fn provider_guid(provider: &str) -> Option<&'static str> {
    match provider {
        "Microsoft-Windows-Security-Auditing" => Some("{54849625-5478-4994-A5BA-3E3B0328C30D}"),
        "Microsoft-Windows-Eventlog" => Some("{FC65DDD8-D6EF-4962-83D5-6E5CFE9CE148}"),
        _ => None,
    }
}

/// (version, task, keywords) as Windows logs these events.
fn system_fields(id: u16) -> (u8, u16, u64) {
    const AUDIT_SUCCESS: u64 = 0x8020_0000_0000_0000;
    match id {
        4624 => (2, 12544, AUDIT_SUCCESS),
        4634 => (0, 12545, AUDIT_SUCCESS),
        4688 => (2, 13312, AUDIT_SUCCESS),
        4719 => (0, 13568, AUDIT_SUCCESS),
        1102 => (0, 104, 0x4020_0000_0000_0000),
        _ => (0, 0, AUDIT_SUCCESS),
    }
}

/// The `Event` element of a Winlogbeat-shaped document (`winlog.{provider_name, channel,
/// event_id, computer_name, event_data}`, `@timestamp`) as the Windows Event Log writes it, with
/// record id `record_id`. 1102 (log cleared) carries its fields in `UserData/LogFileCleared`,
/// as Windows does; other events in `EventData/Data[@Name]`.
pub fn windows_event(doc: &Value, record_id: u64) -> Option<(DateTime<Utc>, Elem)> {
    let w = doc.get("winlog")?;
    let ts: DateTime<Utc> = DateTime::parse_from_rfc3339(doc.get("@timestamp")?.as_str()?).ok()?.with_timezone(&Utc);
    let provider = w.get("provider_name")?.as_str()?;
    let id: u16 = w.get("event_id")?.as_str()?.parse().ok()?;
    let channel = w.get("channel").and_then(Value::as_str).unwrap_or("Security");
    let computer = w.get("computer_name").and_then(Value::as_str).unwrap_or("-");
    let (version, task, keywords) = system_fields(id);
    let mut prov = Elem::new("Provider").attr("Name", Val::Str(provider.to_owned()));
    if let Some(g) = provider_guid(provider) {
        prov = prov.attr("Guid", Val::Str(g.to_owned()));
    }
    let system = Elem::new("System")
        .child(prov)
        .child(Elem::new("EventID").text(Val::U16(id)))
        .child(Elem::new("Version").text(Val::U8(version)))
        .child(Elem::new("Level").text(Val::U8(if id == 1102 { 4 } else { 0 })))
        .child(Elem::new("Task").text(Val::U16(task)))
        .child(Elem::new("Opcode").text(Val::U8(0)))
        .child(Elem::new("Keywords").text(Val::Hex64(keywords)))
        .child(Elem::new("TimeCreated").attr("SystemTime", Val::FileTime(ts)))
        .child(Elem::new("EventRecordID").text(Val::U64(record_id)))
        .child(Elem::new("Correlation"))
        .child(Elem::new("Execution").attr("ProcessID", Val::U32(if id == 1102 { 1064 } else { 4 })).attr("ThreadID", Val::U32(4000 + (record_id % 900) as u32)))
        .child(Elem::new("Channel").text(Val::Str(channel.to_owned())))
        .child(Elem::new("Computer").text(Val::Str(computer.to_owned())))
        .child(Elem::new("Security"));
    let data: Vec<(String, String)> = w
        .get("event_data")
        .and_then(Value::as_object)
        .map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect())
        .unwrap_or_default();
    let body = if id == 1102 {
        let mut l = Elem::new("LogFileCleared").attr("xmlns", Val::Str("http://manifests.microsoft.com/win/2004/08/windows/eventlog".into()));
        for (k, v) in &data {
            l = l.child(Elem::new(k).text(Val::Str(v.clone())));
        }
        Elem::new("UserData").child(l)
    } else {
        let mut e = Elem::new("EventData");
        for (k, v) in &data {
            e = e.child(Elem::new("Data").attr("Name", Val::Str(k.clone())).text(Val::Str(v.clone())));
        }
        e
    };
    let event = Elem::new("Event").attr("xmlns", Val::Str("http://schemas.microsoft.com/win/2004/08/events/event".into())).child(system).child(body);
    Some((ts, event))
}

/// A time as readers render a FILETIME (seven fraction digits: 100 ns ticks), for tests
/// comparing fields.
pub fn rendered_time(t: DateTime<Utc>) -> String {
    format!("{}.{:07}Z", t.format("%Y-%m-%dT%H:%M:%S"), t.timestamp_subsec_nanos() / 100)
}
