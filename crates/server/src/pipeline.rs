//! From parsed input to ledger entries: accepted documents become `event` entries, rejected input
//! becomes a `quarantine` entry holding the raw bytes, the reason and where it was — so nothing
//! that reached mamori is lost, and an officer can re-ingest it after a parser fix.

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use chrono::{DateTime, Utc};
use mamori_event::{Doc, normalize};
use mamori_ledger::{EntryKind, NewEntry};
use serde_json::{Value, json};

/// Where a record came from (for quarantine and error messages).
#[derive(Clone, Debug)]
pub struct Origin {
    /// Ingest path: `ndjson`, `bulk`, `syslog-tcp`, `syslog-udp`, `cli:<file>` …
    pub source: String,
    /// Format to re-parse quarantined bytes with (`ecs-ndjson`, `syslog`).
    pub format: String,
}

/// One input record's fate, in input order.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Accepted as an event.
    Accepted,
    /// Rejected, with the reason; its raw bytes are quarantined.
    Rejected(String),
}

/// A batch being assembled: entries to append and each input's outcome.
#[derive(Default)]
pub struct Batch {
    /// Entries to append, in order.
    pub entries: Vec<NewEntry>,
    /// Per input: outcome and the position of its entry in `entries`.
    pub outcomes: Vec<(Outcome, usize)>,
}

impl Batch {
    /// Adds a parsed document (normalised here; a normalisation error quarantines `raw`).
    // Each argument is one fact about the input a quarantine record must carry.
    #[allow(clippy::too_many_arguments)]
    pub fn push_doc(&mut self, mut doc: Doc, raw: &[u8], received: DateTime<Utc>, origin: &Origin, line: usize, offset: u64, extra: Option<&dyn Fn(&mut Doc)>) {
        // Winlogbeat documents (over `_bulk` or NDJSON) get the same ECS mapping as EVTX records.
        mamori_sources::enrich_winlogbeat_doc(&mut doc);
        match normalize(doc, received) {
            Ok(mut d) => {
                if let Some(f) = extra {
                    f(&mut d);
                }
                let payload = serde_json::to_vec(&Value::Object(d)).expect("serializable");
                self.outcomes.push((Outcome::Accepted, self.entries.len()));
                self.entries.push(NewEntry { kind: EntryKind::Event, payload });
            }
            Err(e) => self.push_rejected(raw, &e.to_string(), received, origin, line, offset),
        }
    }

    /// Adds a rejected input: a quarantine entry with its raw bytes.
    pub fn push_rejected(&mut self, raw: &[u8], reason: &str, received: DateTime<Utc>, origin: &Origin, line: usize, offset: u64) {
        let doc = quarantine_doc(raw, reason, received, origin, line, offset);
        self.outcomes.push((Outcome::Rejected(reason.to_owned()), self.entries.len()));
        self.entries.push(NewEntry { kind: EntryKind::Quarantine, payload: serde_json::to_vec(&doc).expect("serializable") });
    }

    /// Number of accepted inputs.
    pub fn accepted(&self) -> usize {
        self.outcomes.iter().filter(|(o, _)| matches!(o, Outcome::Accepted)).count()
    }
}

/// The quarantine document: ECS `event.kind: pipeline_error` with `mamori.quarantine`.
pub fn quarantine_doc(raw: &[u8], reason: &str, received: DateTime<Utc>, origin: &Origin, line: usize, offset: u64) -> Value {
    json!({
        "@timestamp": mamori_event::format_ts(received),
        "event": {"kind": "pipeline_error", "module": "mamori", "dataset": "mamori.quarantine"},
        "message": reason,
        "mamori": {"quarantine": {
            "reason": reason,
            "source": origin.source,
            "format": origin.format,
            "line": line,
            "offset": offset,
            "raw_b64": BASE64_STANDARD.encode(raw),
        }}
    })
}

/// Parses an NDJSON body of ECS documents into a batch; returns it and each input's line number.
pub fn ndjson_batch(body: &[u8], max_line: usize, received: DateTime<Utc>, origin: &Origin) -> (Batch, Vec<usize>) {
    let mut batch = Batch::default();
    let mut lines = Vec::new();
    for r in mamori_sources::format::ndjson::ndjson_lines(body, max_line) {
        match r {
            Ok(rec) => {
                let raw = line_bytes(body, rec.offset);
                batch.push_doc(rec.doc, raw, received, origin, rec.line, rec.offset as u64, None);
                lines.push(rec.line);
            }
            Err(e) => {
                batch.push_rejected(&e.raw, &e.to_string(), received, origin, e.line, e.offset as u64);
                lines.push(e.line);
            }
        }
    }
    (batch, lines)
}

/// Parses a file of syslog lines (one message per line, as rsyslog writes them) into a batch;
/// returns it and each input's line number. A last line without LF is still a whole line in a
/// file (unlike on a TCP stream, where it would be a truncated frame).
pub fn syslog_lines_batch(
    body: &[u8],
    max_line: usize,
    received: DateTime<Utc>,
    default_offset: Option<chrono::FixedOffset>,
    origin: &Origin,
) -> (Batch, Vec<usize>) {
    let mut batch = Batch::default();
    let mut lines = Vec::new();
    let ctx_at = |offset: u64| mamori_sources::SyslogContext { received, peer: None, default_offset, frame_offset: Some(offset) };
    // slapd operations and USB devices span lines: completed from earlier lines of this file.
    let mut corr = mamori_sources::format::correlate::LineCorrelator::default();
    let mut push = |batch: &mut Batch, data: &[u8], offset: u64, line: usize| match mamori_sources::parse_syslog(data, &ctx_at(offset)) {
        Ok(mut doc) => {
            corr.observe(&mut doc);
            batch.push_doc(doc, data, received, origin, line, offset, None)
        }
        Err(e) => batch.push_rejected(data, &e.to_string(), received, origin, line, offset),
    };
    for_each_line(body, max_line, &mut batch, &mut lines, received, origin, |batch, lines, data, offset, line| {
        push(batch, data, offset, line);
        lines.push(line);
    });
    (batch, lines)
}

/// Walks a file body line by line (LF/CRLF framing with a `max_line` cap): `on_line(batch, lines,
/// data, offset, line)` for each line, a line longer than the cap quarantined (its number pushed to
/// `lines`). A last line without LF is still a whole line in a file (unlike on a TCP stream, where
/// it would be a truncated frame). Returns the number of the last line.
fn for_each_line(
    body: &[u8],
    max_line: usize,
    batch: &mut Batch,
    lines: &mut Vec<usize>,
    received: DateTime<Utc>,
    origin: &Origin,
    mut on_line: impl FnMut(&mut Batch, &mut Vec<usize>, &[u8], u64, usize),
) -> usize {
    let mut framer = mamori_sources::Framer::with_max_frame_length(mamori_sources::FramingMode::NewlineDelimited, max_line);
    framer.push(body);
    let mut line = 0;
    while let Some(f) = framer.next_frame() {
        line += 1;
        match f {
            Ok(fr) => on_line(batch, lines, &fr.data, fr.offset, line),
            Err(e) => {
                batch.push_rejected(e.bytes(), &e.to_string(), received, origin, line, e.offset());
                lines.push(line);
            }
        }
    }
    if let Err(e) = framer.finish() {
        line += 1;
        on_line(batch, lines, e.bytes(), e.offset(), line);
    }
    line
}

/// The bytes of the line starting at `offset` (without its LF or CRLF).
pub fn line_bytes(body: &[u8], offset: usize) -> &[u8] {
    let rest = &body[offset.min(body.len())..];
    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let line = &rest[..end];
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Parses an EVTX file into a batch (one input per record, in log order); damaged chunks and
/// records are quarantined with their file offset, the rest goes through.
pub fn evtx_batch(file_name: &str, bytes: &[u8], received: DateTime<Utc>, origin: &Origin) -> (Batch, Vec<usize>) {
    let mut batch = Batch::default();
    let mut items = Vec::new();
    for (i, item) in mamori_sources::parse_evtx(file_name, bytes).into_iter().enumerate() {
        match item {
            Ok(ev) => batch.push_doc(ev.doc, ev.json.as_bytes(), received, origin, i + 1, ev.offset, None),
            Err(e) => batch.push_rejected(&e.raw, &e.to_string(), received, origin, i + 1, e.offset),
        }
        items.push(i + 1);
    }
    (batch, items)
}

/// Parses an `audit.log` into a batch: one input per assembled event (numbered by its first
/// record's line); lines that are not audit records are quarantined with line and offset.
pub fn auditd_batch(bytes: &[u8], received: DateTime<Utc>, origin: &Origin) -> (Batch, Vec<usize>) {
    let mut batch = Batch::default();
    let mut lines = Vec::new();
    for item in mamori_sources::parse_auditd(bytes) {
        match item {
            Ok(ev) => {
                batch.push_doc(ev.doc, ev.raw.as_bytes(), received, origin, ev.line, ev.offset, None);
                lines.push(ev.line);
            }
            Err(e) => {
                batch.push_rejected(&e.raw, &e.to_string(), received, origin, e.line, e.offset);
                lines.push(e.line);
            }
        }
    }
    (batch, lines)
}

/// Parses a Postfix log file (syslog lines as rsyslog writes them, or Postfix's own
/// `maillog_file`): every line is an event (as with [`syslog_lines_batch`]), and each message's
/// lines are correlated by queue id into one extra `postfix.message` event, added when qmgr logs
/// `removed` (numbered with that line), or at the end of the file for messages still open then
/// (`mamori.mail.complete: false`, numbered with the last line).
pub fn postfix_batch(
    body: &[u8],
    max_line: usize,
    received: DateTime<Utc>,
    default_offset: Option<chrono::FixedOffset>,
    origin: &Origin,
) -> (Batch, Vec<usize>) {
    let mut batch = Batch::default();
    let mut lines = Vec::new();
    let mut corr = mamori_sources::MailCorrelator::new();
    let ctx_at = |offset: u64| mamori_sources::SyslogContext { received, peer: None, default_offset, frame_offset: Some(offset) };
    let mut push = |batch: &mut Batch, lines: &mut Vec<usize>, data: &[u8], offset: u64, line: usize| {
        match mamori_sources::parse_syslog(data, &ctx_at(offset)) {
            Ok(doc) => {
                let derived = corr.push(&doc);
                batch.push_doc(doc, data, received, origin, line, offset, None);
                lines.push(line);
                for d in derived {
                    batch.push_doc(d, data, received, origin, line, offset, None);
                    lines.push(line);
                }
            }
            Err(e) => {
                batch.push_rejected(data, &e.to_string(), received, origin, line, offset);
                lines.push(line);
            }
        }
    };
    let line = for_each_line(body, max_line, &mut batch, &mut lines, received, origin, &mut push);
    for d in corr.finish() {
        batch.push_doc(d, b"", received, origin, line, body.len() as u64, None);
        lines.push(line);
    }
    (batch, lines)
}

/// Parses a file of text log lines (Squid `access.log`, CUPS `page_log`/`access_log`) with
/// `parse`, one event per line. A line the parser cannot read is still an event: its raw text
/// (searchable) with the parser's error, naming line, offset and column, in `error.message`.
/// Blank lines carry nothing and are skipped; a line longer than `max_line` is quarantined.
pub fn text_lines_batch(
    body: &[u8],
    max_line: usize,
    received: DateTime<Utc>,
    origin: &Origin,
    parse: fn(&[u8], mamori_sources::LinePos) -> (Doc, Option<mamori_sources::LineParseError>),
) -> (Batch, Vec<usize>) {
    let mut batch = Batch::default();
    let mut lines = Vec::new();
    let push = |batch: &mut Batch, lines: &mut Vec<usize>, data: &[u8], offset: u64, line: usize| {
        if data.iter().all(|b| b.is_ascii_whitespace()) {
            return;
        }
        let (doc, _err) = parse(data, mamori_sources::LinePos { line, offset });
        batch.push_doc(doc, data, received, origin, line, offset, None);
        lines.push(line);
    };
    for_each_line(body, max_line, &mut batch, &mut lines, received, origin, push);
    (batch, lines)
}

/// Parses a USBGuard audit log or `usbguard watch` output: one input per audit line or watch
/// block; lines of neither shape are quarantined with line and offset.
pub fn usbguard_batch(bytes: &[u8], received: DateTime<Utc>, origin: &Origin) -> (Batch, Vec<usize>) {
    let mut batch = Batch::default();
    let mut lines = Vec::new();
    for item in mamori_sources::format::usbguard::parse_usbguard(bytes) {
        match item {
            Ok(ev) => {
                batch.push_doc(ev.doc, ev.raw.as_bytes(), received, origin, ev.line, ev.offset, None);
                lines.push(ev.line);
            }
            Err(e) => {
                batch.push_rejected(&e.raw, &e.to_string(), received, origin, e.line, e.offset);
                lines.push(e.line);
            }
        }
    }
    (batch, lines)
}

/// Parses `journalctl -o json` output: one input per entry, interpreted like a syslog line (with
/// the slapd / USB line correlation); lines that are not journal entries are quarantined.
pub fn journald_batch(bytes: &[u8], received: DateTime<Utc>, origin: &Origin) -> (Batch, Vec<usize>) {
    let mut batch = Batch::default();
    let mut lines = Vec::new();
    let mut corr = mamori_sources::format::correlate::LineCorrelator::default();
    let mut offset = 0u64;
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let here = offset;
        offset += line.len() as u64 + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        match mamori_sources::format::journald::parse_journal_entry(line, i + 1, here, received) {
            Ok(mut doc) => {
                corr.observe(&mut doc);
                batch.push_doc(doc, line, received, origin, i + 1, here, None);
            }
            Err(e) => batch.push_rejected(&e.raw, &e.to_string(), received, origin, e.line, e.offset),
        }
        lines.push(i + 1);
    }
    (batch, lines)
}

/// Builds the batch for one input file of any supported format; returns it with each input's
/// line (or record) number.
pub fn file_batch(
    format: mamori_sources::Format,
    file_name: &str,
    bytes: &[u8],
    max_line: usize,
    received: DateTime<Utc>,
    syslog_offset: Option<chrono::FixedOffset>,
    origin: &Origin,
) -> (Batch, Vec<usize>) {
    match format {
        mamori_sources::Format::Syslog => syslog_lines_batch(bytes, max_line, received, syslog_offset, origin),
        mamori_sources::Format::Evtx => evtx_batch(file_name, bytes, received, origin),
        mamori_sources::Format::Auditd => auditd_batch(bytes, received, origin),
        mamori_sources::Format::Usbguard => usbguard_batch(bytes, received, origin),
        mamori_sources::Format::Journald => journald_batch(bytes, received, origin),
        mamori_sources::Format::EcsNdjson => ndjson_batch(bytes, max_line, received, origin),
        mamori_sources::Format::Postfix => postfix_batch(bytes, max_line, received, syslog_offset, origin),
        mamori_sources::Format::Squid => text_lines_batch(bytes, max_line, received, origin, mamori_sources::format::squid::squid_line_doc),
        mamori_sources::Format::CupsPage => text_lines_batch(bytes, max_line, received, origin, mamori_sources::format::cups::page_log_line_doc),
        mamori_sources::Format::CupsAccess => text_lines_batch(bytes, max_line, received, origin, mamori_sources::format::cups::access_log_line_doc),
        mamori_sources::Format::CsvMapping | mamori_sources::Format::Webhook => {
            // Callers resolve the mapping and use `mapped_batch`; without one nothing can be read,
            // but the bytes are still kept.
            let mut batch = Batch::default();
            let why = format!("{format} にはマッピングの指定が必要です / {format} needs a mapping (--mapping NAME or ?mapping=NAME)");
            batch.push_rejected(bytes, &why, received, origin, 1, 0);
            (batch, vec![1])
        }
    }
}

/// Builds the batch for a business-system CSV export or a file of webhook payloads read through
/// a declarative mapping (`csv-mapping`, `webhook`); one input per row or record, bad ones
/// quarantined with line, column and value.
pub fn mapped_batch(mapping: &mamori_sources::Mapping, file_name: &str, bytes: &[u8], received: DateTime<Utc>, origin: &Origin) -> (Batch, Vec<usize>) {
    let rows = match mapping.input {
        mamori_sources::mapping::Input::Csv => mamori_sources::parse_csv_mapped(mapping, file_name, bytes, received).rows,
        mamori_sources::mapping::Input::Json => mamori_sources::parse_webhook(mapping, file_name, bytes, received),
    };
    let mut batch = Batch::default();
    let mut lines = Vec::new();
    for r in rows {
        match r {
            Ok(rec) => {
                batch.push_doc(rec.doc, &rec.raw, received, origin, rec.line as usize, rec.offset, None);
                lines.push(rec.line as usize);
            }
            Err(e) => {
                batch.push_rejected(&e.raw, &e.to_string(), received, origin, e.line as usize, e.offset);
                lines.push(e.line as usize);
            }
        }
    }
    (batch, lines)
}
