//! One syslog message (RFC 5424 or RFC 3164, auto-detected) to an ECS 8.x
//! document with nested objects.
//!
//! The header is parsed by `syslog_loose`; this module validates the PRI
//! itself (the crate silently ignores a bad one), resolves the year and
//! zone of RFC 3164 timestamps deterministically (the crate would otherwise
//! use the host's local time zone), undoes RFC 5424 §6.3.3 escapes exactly
//! (the crate also turns `\n` into a newline, which the RFC does not), and
//! keeps in `message` any bracketed text that the crate took for structured
//! data in an RFC 3164 message (RFC 3164 has no structured data).
//!
//! # What is an error and what is best effort
//!
//! rsyslog relays all kinds of slightly broken lines, and a leak
//! investigation needs every one of them kept and searchable. So only input
//! in which nothing can be trusted is an error ([`SyslogError`]):
//!
//! - empty input (nothing but whitespace / NUL);
//! - a broken PRI: `<` followed by a digit, `-` or `>` that is not a valid
//!   `<0>`..`<191>` (RFC 5424 §6.2.1: PRIVAL is 1–3 digits, facility 0–23).
//!   A corrupt PRI means the sender or the framing is broken, and guessing a
//!   severity for it would mislead an officer filtering by severity.
//!
//! Everything else becomes a document, with a flag under `mamori.syslog`
//! saying what was repaired:
//!
//! - no PRI at all (line does not start with `<digit`): treated as
//!   `<13>` user.notice, as RFC 3164 §4.3.3 tells relays to do;
//!   flag `pri_missing`.
//! - PRI valid but header not parseable as RFC 5424 (§6) or RFC 3164 (§4.1)
//!   (for example no timestamp): everything after the PRI becomes `message`,
//!   as RFC 3164 §4.3.2 says for a missing TIMESTAMP; flag `header_unparsed`.
//! - no timestamp (RFC 5424 NILVALUE, or header unparsed): `@timestamp` is
//!   the receive time; flag `timestamp_from_received`.
//! - bytes that are not UTF-8: RFC 5424 §6.4 allows a MSG in another
//!   encoding when there is no BOM, and Japanese systems still emit
//!   Shift_JIS. The text is decoded lossily (U+FFFD) so it stays searchable,
//!   flag `invalid_utf8`, and the exact bytes are kept in
//!   `mamori.syslog.original_base64` because `event.original` is lossy then.
//!
//! # Fields produced
//!
//! `@timestamp` (RFC 3339, UTC, at least millisecond precision),
//! `event.{created,kind,module,dataset,original}`, `host.{hostname,name}`,
//! `process.{name,pid}`, `log.level`, `log.offset`,
//! `log.syslog.{priority,facility.{code,name},severity.{code,name},version,
//! hostname,appname,procid,msgid,structured_data}`, `message`, `source.ip`.
//! Absent header fields (`-` or missing) are omitted, not set to null.

use std::borrow::Cow;
use std::net::IpAddr;

use base64::Engine as _;
use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, Offset as _, SecondsFormat,
    TimeDelta, Utc,
};
use serde_json::{Map, Value};
use syslog_loose::{IncompleteDate, Message, Protocol, StructuredElement, Variant};

/// Facility names (RFC 5424 §6.2.1 table 1, with the short names used by
/// syslog(3) and rsyslog's `%syslogfacility-text%`).
const FACILITY_NAMES: [&str; 24] = [
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "authpriv",
    "ftp",
    "ntp",
    "security",
    "console",
    "solaris-cron",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
];

/// Severity names (RFC 5424 §6.2.1 table 2, syslog(3) short names).
const SEVERITY_NAMES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

/// RFC 3164 §4.3.3: a relay that receives a message without PRI must treat
/// it as facility 1 (user), severity 5 (notice).
const DEFAULT_PRI: u8 = 13;

/// Where and when a message was received; needed to fill what the message
/// itself may lack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogContext {
    /// Receive time. Becomes `event.created`; gives the year of RFC 3164
    /// timestamps (which have none) and `@timestamp` if the message has no
    /// timestamp at all.
    pub received: DateTime<Utc>,
    /// Address of the sending peer, becomes `source.ip`.
    pub peer: Option<IpAddr>,
    /// Zone for timestamps that carry none (RFC 3164 `Mmm dd hh:mm:ss`).
    /// `None` means UTC. Japanese servers usually log in JST (+09:00).
    pub default_offset: Option<FixedOffset>,
    /// Stream offset of the frame (from [`crate::Frame::offset`]); becomes
    /// `log.offset` and is reported in errors.
    pub frame_offset: Option<u64>,
}

impl SyslogContext {
    /// A context with only the receive time set.
    pub fn new(received: DateTime<Utc>) -> Self {
        SyslogContext {
            received,
            peer: None,
            default_offset: None,
            frame_offset: None,
        }
    }
}

/// What makes a message unparseable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyslogErrorKind {
    /// Nothing but whitespace or NUL bytes.
    #[error("empty message")]
    Empty,
    /// Something PRI-shaped that is not a PRI.
    #[error("invalid PRI: {reason}")]
    InvalidPri {
        /// What is wrong.
        reason: &'static str,
    },
    /// PRI outside `0..=191` (facility above 23, RFC 5424 §6.2.1).
    #[error("PRI value {value} is outside 0..=191")]
    PriOutOfRange {
        /// The value found.
        value: u32,
    },
}

/// A syslog message that cannot be turned into a document. See the module
/// documentation for what counts as an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "byte {offset}{}: {kind}; hint: {hint}",
    match frame_offset { Some(o) => format!(" of the frame at stream byte {o}"), None => String::new() }
)]
pub struct SyslogError {
    /// Byte offset of the problem within the message.
    pub offset: usize,
    /// Stream offset of the frame, if the context had one.
    pub frame_offset: Option<u64>,
    /// What is wrong.
    pub kind: SyslogErrorKind,
    /// A short suggestion.
    pub hint: &'static str,
}

const HINT_EMPTY: &str =
    "the sender sent an empty line; usually harmless, check its template if frequent";
const HINT_PRI: &str = "a syslog message starts with <N> where N is 0..191; \
                        check the sender's template or whether the framing is wrong (octet counting vs LF)";

fn pri_error(offset: usize, ctx: &SyslogContext, kind: SyslogErrorKind) -> SyslogError {
    SyslogError {
        offset,
        frame_offset: ctx.frame_offset,
        kind,
        hint: HINT_PRI,
    }
}

/// Result of looking at the start of the message for a PRI.
struct Pri {
    value: u8,
    /// False when there was no PRI and [`DEFAULT_PRI`] is assumed.
    present: bool,
    /// Byte index just after the PRI (or of the first non-blank byte).
    end: usize,
}

/// Validates the PRI (RFC 5424 §6.2.1, RFC 3164 §4.1.1):
/// `"<" PRIVAL ">"`, PRIVAL = 1*3DIGIT in 0..=191.
fn parse_pri(raw: &[u8], ctx: &SyslogContext) -> Result<Pri, SyslogError> {
    // Leading blanks are tolerated (some relays emit them), as syslog_loose
    // trims the input too.
    let start = raw
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(raw.len());
    let rest = &raw[start..];
    let looks_like_pri =
        rest.first() == Some(&b'<') && matches!(rest.get(1), Some(b'0'..=b'9' | b'-' | b'>'));
    if !looks_like_pri {
        return Ok(Pri {
            value: DEFAULT_PRI,
            present: false,
            end: start,
        });
    }
    let digits = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return Err(pri_error(
            start + 1,
            ctx,
            SyslogErrorKind::InvalidPri {
                reason: "expected 1 to 3 digits after '<'",
            },
        ));
    }
    if digits > 3 {
        return Err(pri_error(
            start + 4,
            ctx,
            SyslogErrorKind::InvalidPri {
                reason: "more than 3 digits",
            },
        ));
    }
    if rest.get(1 + digits) != Some(&b'>') {
        return Err(pri_error(
            start + 1 + digits,
            ctx,
            SyslogErrorKind::InvalidPri {
                reason: "missing '>' after the digits",
            },
        ));
    }
    let value = rest[1..1 + digits]
        .iter()
        .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    if value > 191 {
        return Err(pri_error(
            start + 1,
            ctx,
            SyslogErrorKind::PriOutOfRange { value },
        ));
    }
    Ok(Pri {
        // value <= 191 fits.
        value: value as u8,
        present: true,
        end: start + digits + 2,
    })
}

/// Picks the year for an RFC 3164 timestamp (which has none, RFC 3164
/// §4.1.2): the one that puts the message at or before the receive time,
/// allowing one day of clock skew. Messages logged on Dec 31 and received on
/// Jan 1 get the previous year; a batch of old logs uploaded in August is
/// not put into the future.
fn infer_year(idate: IncompleteDate, received_local: NaiveDateTime) -> i32 {
    let (month, day, hour, min, sec) = idate;
    let at = |year: i32| -> Option<NaiveDateTime> {
        NaiveDate::from_ymd_opt(year, month, day)?.and_hms_opt(hour, min, sec)
    };
    let skew = TimeDelta::days(1);
    let year = received_local.year();
    match (at(year + 1), at(year)) {
        (Some(next), _) if next - received_local <= skew => year + 1,
        (_, Some(this)) if this - received_local <= skew => year,
        _ => year - 1,
    }
}

/// `@timestamp` format: RFC 3339 in UTC with at least milliseconds, and
/// more digits only when the source had them (RFC 5424 §6.2.3 allows
/// microseconds).
fn format_timestamp(ts: DateTime<Utc>) -> String {
    let nanos = ts.timestamp_subsec_nanos();
    let precision = if nanos.is_multiple_of(1_000_000) {
        SecondsFormat::Millis
    } else if nanos.is_multiple_of(1_000) {
        SecondsFormat::Micros
    } else {
        SecondsFormat::Nanos
    };
    ts.to_rfc3339_opts(precision, true)
}

/// Undoes RFC 5424 §6.3.3 escaping in a PARAM-VALUE: only `\"`, `\\` and
/// `\]` are escapes; any other backslash "MUST be treated as a regular
/// backslash".
fn unescape_param(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&next) = chars.peek()
            && matches!(next, '"' | '\\' | ']')
        {
            out.push(next);
            chars.next();
            continue;
        }
        out.push(c);
    }
    out
}

/// `log.syslog.structured_data`: SD-ID -> {PARAM-NAME: value}. A repeated
/// PARAM-NAME (allowed, e.g. `ip` in RFC 5424 §7.2.1 `origin`) becomes an
/// array; a repeated SD-ID (forbidden by §6.3.2, but seen) is merged.
fn structured_data(elements: &[StructuredElement<&str>]) -> Map<String, Value> {
    let mut sd = Map::new();
    for el in elements {
        let entry = sd
            .entry(el.id.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(params) = entry else {
            continue;
        };
        for (name, value) in &el.params {
            let value = Value::String(unescape_param(value));
            match params.get_mut(*name) {
                None => {
                    params.insert(name.to_string(), value);
                }
                Some(Value::Array(list)) => list.push(value),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, value]);
                }
            }
        }
    }
    sd
}

/// Sets `doc.a.b.c = value`, creating (or replacing non-object) parents.
pub(crate) fn set(doc: &mut Map<String, Value>, path: &[&str], value: Value) {
    let (last, parents) = path.split_last().expect("non-empty path");
    let mut cur = doc;
    for key in parents {
        let slot = cur
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        cur = slot.as_object_mut().expect("just made an object");
    }
    cur.insert(last.to_string(), value);
}

/// Byte index of `part` within `whole`, if `part` is a subslice of it.
fn index_in(whole: &str, part: &str) -> Option<usize> {
    let w = whole.as_ptr() as usize;
    let p = part.as_ptr() as usize;
    (p >= w && p + part.len() <= w + whole.len()).then(|| p - w)
}

/// Parses one syslog message (one frame, without trailer) into a nested
/// ECS document. See the module documentation for the error policy.
pub fn parse_syslog(raw: &[u8], ctx: &SyslogContext) -> Result<Map<String, Value>, SyslogError> {
    if raw.iter().all(|&b| b.is_ascii_whitespace() || b == 0) {
        return Err(SyslogError {
            offset: 0,
            frame_offset: ctx.frame_offset,
            kind: SyslogErrorKind::Empty,
            hint: HINT_EMPTY,
        });
    }
    let pri = parse_pri(raw, ctx)?;

    let text: Cow<'_, str> = String::from_utf8_lossy(raw);
    let invalid_utf8 = matches!(text, Cow::Owned(_));

    let offset = ctx.default_offset.unwrap_or(Utc.fix());
    let received_local = ctx.received.with_timezone(&offset).naive_local();
    let parsed = syslog_loose::parse_message_with_year_exact_tz(
        &text,
        move |idate| infer_year(idate, received_local),
        Some(offset),
        Variant::Either,
    )
    .ok();

    let mut doc = Map::new();
    let mut flags = Map::new();

    let timestamp = parsed.as_ref().and_then(|m| m.timestamp);
    let ts_utc = match timestamp {
        Some(ts) => ts.with_timezone(&Utc),
        None => {
            flags.insert("timestamp_from_received".into(), Value::Bool(true));
            ctx.received
        }
    };
    set(&mut doc, &["@timestamp"], format_timestamp(ts_utc).into());

    let appname = parsed.as_ref().and_then(|m| m.appname);
    set(&mut doc, &["event", "kind"], "event".into());
    set(&mut doc, &["event", "module"], "syslog".into());
    set(
        &mut doc,
        &["event", "dataset"],
        format!("syslog.{}", appname.unwrap_or("unknown")).into(),
    );
    set(
        &mut doc,
        &["event", "created"],
        format_timestamp(ctx.received).into(),
    );
    set(&mut doc, &["event", "original"], text.as_ref().into());

    let facility = pri.value >> 3;
    let severity = pri.value & 7;
    let log_syslog = |doc: &mut Map<String, Value>, path: &[&str], v: Value| {
        let mut full = vec!["log", "syslog"];
        full.extend_from_slice(path);
        set(doc, &full, v);
    };

    let message: String = match &parsed {
        Some(m) => {
            if let Some(host) = m.hostname {
                set(&mut doc, &["host", "hostname"], host.into());
                set(&mut doc, &["host", "name"], host.into());
            }
            if let Some(app) = m.appname {
                set(&mut doc, &["process", "name"], app.into());
            }
            let procid = m.procid.as_ref().map(|p| p.to_string());
            if let Some(pid) = procid
                .as_deref()
                .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
                && let Ok(n) = pid.parse::<u32>()
            {
                set(&mut doc, &["process", "pid"], n.into());
            }
            message_of(m, &text)
        }
        None => {
            if pri.present {
                flags.insert("header_unparsed".into(), Value::Bool(true));
            }
            text[pri.end.min(text.len())..].trim().to_string()
        }
    };

    set(
        &mut doc,
        &["log", "level"],
        SEVERITY_NAMES[severity as usize].into(),
    );
    if let Some(off) = ctx.frame_offset {
        set(&mut doc, &["log", "offset"], off.into());
    }
    log_syslog(&mut doc, &["priority"], pri.value.into());
    log_syslog(&mut doc, &["facility", "code"], facility.into());
    log_syslog(
        &mut doc,
        &["facility", "name"],
        FACILITY_NAMES[facility as usize].into(),
    );
    log_syslog(&mut doc, &["severity", "code"], severity.into());
    log_syslog(
        &mut doc,
        &["severity", "name"],
        SEVERITY_NAMES[severity as usize].into(),
    );
    if let Some(m) = &parsed {
        if let Protocol::RFC5424(version) = m.protocol {
            log_syslog(&mut doc, &["version"], version.to_string().into());
        }
        if let Some(h) = m.hostname {
            log_syslog(&mut doc, &["hostname"], h.into());
        }
        if let Some(a) = m.appname {
            log_syslog(&mut doc, &["appname"], a.into());
        }
        if let Some(p) = &m.procid {
            log_syslog(&mut doc, &["procid"], p.to_string().into());
        }
        if let Some(id) = m.msgid {
            log_syslog(&mut doc, &["msgid"], id.into());
        }
        // RFC 3164 has no structured data; see `message_of`.
        if matches!(m.protocol, Protocol::RFC5424(_)) && !m.structured_data.is_empty() {
            log_syslog(
                &mut doc,
                &["structured_data"],
                Value::Object(structured_data(&m.structured_data)),
            );
        }
    }

    set(&mut doc, &["message"], message.into());
    if let Some(ip) = ctx.peer {
        set(&mut doc, &["source", "ip"], ip.to_string().into());
    }

    if !pri.present {
        flags.insert("pri_missing".into(), Value::Bool(true));
    }
    if invalid_utf8 {
        flags.insert("invalid_utf8".into(), Value::Bool(true));
        flags.insert(
            "original_base64".into(),
            base64::engine::general_purpose::STANDARD.encode(raw).into(),
        );
    }
    if !flags.is_empty() {
        set(&mut doc, &["mamori", "syslog"], Value::Object(flags));
    }
    crate::format::samba_audit::enrich_syslog_doc(&mut doc);
    crate::format::auth::enrich_syslog_doc(&mut doc);
    crate::format::kernel_usb::enrich_syslog_doc(&mut doc);
    crate::format::postfix::enrich_syslog_doc(&mut doc);
    crate::format::squid::enrich_syslog_doc(&mut doc);
    crate::format::cups::enrich_syslog_doc(&mut doc);
    Ok(doc)
}

/// The MSG part, with two corrections to what syslog_loose returns.
fn message_of(m: &Message<&str>, text: &str) -> String {
    match m.protocol {
        // RFC 5424 §6.4: a UTF-8 MSG starts with a BOM, which is not content.
        Protocol::RFC5424(_) => m.msg.trim_start_matches('\u{FEFF}').to_string(),
        Protocol::RFC3164 => {
            // syslog_loose strips a leading `[id key="v"]` from RFC 3164
            // messages as structured data. RFC 3164 has none, and dropping
            // message text from an audit record is not acceptable, so the
            // message restarts at the '[' of the first such element.
            let start = m
                .structured_data
                .first()
                .and_then(|el| index_in(text, el.id))
                .and_then(|i| i.checked_sub(1))
                .filter(|&i| text.as_bytes().get(i) == Some(&b'['));
            if let Some(i) = start {
                return text[i..].trim_end().to_string();
            }
            // Likewise a message starting with a lone "-" loses it: the crate
            // reads it as the RFC 5424 NILVALUE for structured data. RFC 3164
            // has no NILVALUE, so the dash is content ("tag: --id x").
            if let Some(p) = index_in(text, m.msg) {
                let before = text[..p].trim_end();
                if let Some(head) = before.strip_suffix('-')
                    && head.ends_with(|c: char| c.is_whitespace() || c == ':')
                {
                    return text[head.len()..].trim_end().to_string();
                }
            }
            m.msg.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;
    use serde_json::json;

    fn ctx() -> SyslogContext {
        SyslogContext::new(Utc.with_ymd_and_hms(2024, 4, 1, 0, 30, 0).unwrap())
    }

    fn parse(s: &[u8]) -> Map<String, Value> {
        parse_syslog(s, &ctx()).unwrap()
    }

    #[test]
    fn pri_bounds() {
        assert_eq!(
            parse(b"<0>Apr  1 00:00:00 h a: m")["log"]["syslog"]["priority"],
            0
        );
        let d = parse(b"<191>Apr  1 00:00:00 h a: m");
        assert_eq!(d["log"]["syslog"]["facility"]["name"], "local7");
        assert_eq!(d["log"]["syslog"]["severity"]["name"], "debug");
        let e = parse_syslog(b"<192>Apr  1 00:00:00 h a: m", &ctx()).unwrap_err();
        assert_eq!(e.kind, SyslogErrorKind::PriOutOfRange { value: 192 });
        assert_eq!(e.offset, 1);
    }

    #[test]
    fn broken_pri_shapes_are_errors_with_offsets() {
        let cases: [(&[u8], usize); 5] = [
            (b"<>msg", 1),
            (b"<-1>msg", 1),
            (b"<1234>msg", 4),
            (b"<13 msg", 3),
            (b"  <13", 5),
        ];
        for (input, offset) in cases {
            let e = parse_syslog(input, &ctx()).unwrap_err();
            assert!(
                matches!(e.kind, SyslogErrorKind::InvalidPri { .. }),
                "{input:?}"
            );
            assert_eq!(e.offset, offset, "{input:?}");
            assert!(e.to_string().contains("hint:"));
        }
    }

    #[test]
    fn empty_is_error() {
        for input in [&b""[..], b"   ", b"\0\r\n"] {
            assert_eq!(
                parse_syslog(input, &ctx()).unwrap_err().kind,
                SyslogErrorKind::Empty
            );
        }
    }

    #[test]
    fn error_reports_frame_offset() {
        let mut c = ctx();
        c.frame_offset = Some(1000);
        let e = parse_syslog(b"<999>x", &c).unwrap_err();
        assert_eq!(e.frame_offset, Some(1000));
        assert!(e.to_string().contains("stream byte 1000"), "{e}");
    }

    #[test]
    fn missing_pri_defaults_to_user_notice() {
        let d = parse(b"Apr  1 09:00:00 web01 sshd[7]: hello");
        assert_eq!(d["log"]["syslog"]["priority"], 13);
        assert_eq!(d["log"]["syslog"]["facility"]["name"], "user");
        assert_eq!(d["log"]["syslog"]["severity"]["name"], "notice");
        assert_eq!(d["mamori"]["syslog"]["pri_missing"], true);
        assert_eq!(d["process"]["name"], "sshd");
        assert_eq!(d["message"], "hello");
    }

    #[test]
    fn angle_bracket_text_without_digit_is_content_not_error() {
        let d = parse(b"<html> oops");
        assert_eq!(d["mamori"]["syslog"]["pri_missing"], true);
        assert_eq!(d["message"], "<html> oops");
    }

    #[test]
    fn unparseable_header_keeps_text_as_message() {
        let d = parse(b"<14>no timestamp here");
        assert_eq!(d["message"], "no timestamp here");
        assert_eq!(d["mamori"]["syslog"]["header_unparsed"], true);
        assert_eq!(d["mamori"]["syslog"]["timestamp_from_received"], true);
        assert_eq!(d["@timestamp"], "2024-04-01T00:30:00.000Z");
        assert_eq!(d["event"]["dataset"], "syslog.unknown");
    }

    #[test]
    fn year_inference() {
        let recv = NaiveDate::from_ymd_opt(2025, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 5)
            .unwrap();
        assert_eq!(infer_year((12, 31, 23, 59, 59), recv), 2024);
        assert_eq!(infer_year((1, 1, 0, 0, 1), recv), 2025);
        let aug = NaiveDate::from_ymd_opt(2025, 8, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        assert_eq!(infer_year((1, 15, 0, 0, 0), aug), 2025);
        assert_eq!(infer_year((8, 2, 0, 0, 0), aug), 2025, "one day of skew");
        assert_eq!(infer_year((8, 3, 0, 0, 0), aug), 2024);
        // Sender clock slightly ahead over New Year.
        let dec31 = NaiveDate::from_ymd_opt(2024, 12, 31)
            .unwrap()
            .and_hms_opt(23, 59, 0)
            .unwrap();
        assert_eq!(infer_year((1, 1, 0, 0, 30), dec31), 2025);
        // Feb 29 only exists in leap years: falls back to a valid-looking year
        // rather than panicking.
        let _ = infer_year((2, 29, 0, 0, 0), aug);
    }

    #[test]
    fn timestamp_precision() {
        let t = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(format_timestamp(t), "2024-01-02T03:04:05.000Z");
        assert_eq!(
            format_timestamp(t + TimeDelta::microseconds(123_456)),
            "2024-01-02T03:04:05.123456Z"
        );
        assert_eq!(
            format_timestamp(t + TimeDelta::nanoseconds(1)),
            "2024-01-02T03:04:05.000000001Z"
        );
    }

    #[test]
    fn param_unescaping_follows_rfc5424() {
        assert_eq!(unescape_param(r#"a\"b\\c\]d"#), r#"a"b\c]d"#);
        assert_eq!(unescape_param(r"C:\new\temp"), r"C:\new\temp");
        assert_eq!(unescape_param("trailing\\"), "trailing\\");
    }

    #[test]
    fn repeated_params_become_arrays() {
        let d = parse(
            br#"<13>1 2024-04-01T00:00:00Z h a - - [origin ip="10.0.0.1" ip="10.0.0.2" software="x"] m"#,
        );
        assert_eq!(
            d["log"]["syslog"]["structured_data"]["origin"]["ip"],
            json!(["10.0.0.1", "10.0.0.2"])
        );
        assert_eq!(
            d["log"]["syslog"]["structured_data"]["origin"]["software"],
            "x"
        );
    }

    #[test]
    fn rfc3164_bracket_text_stays_in_message() {
        let d = parse(br#"<13>Apr  1 09:00:00 h app: [audit user="tanaka"] deleted file"#);
        assert_eq!(d["message"], r#"[audit user="tanaka"] deleted file"#);
        assert!(d["log"]["syslog"].get("structured_data").is_none());
    }

    #[test]
    fn rfc3164_leading_dash_stays_in_message() {
        let d = parse(b"<13>Apr  1 09:00:00 h app[1]: --verbose run");
        assert_eq!(d["message"], "--verbose run");
        let d = parse(b"<13>Apr  1 09:00:00 h app: - x");
        assert_eq!(d["message"], "- x");
        let d = parse(b"<13>Apr  1 09:00:00 h app: -");
        assert_eq!(d["message"], "-");
        let d = parse(b"<13>Apr  1 09:00:00 h app: a - b");
        assert_eq!(d["message"], "a - b");
    }

    #[test]
    fn rfc5424_bom_is_stripped_from_message() {
        let d = parse("<13>1 2024-04-01T00:00:00Z h a - - - \u{FEFF}こんにちは".as_bytes());
        assert_eq!(d["message"], "こんにちは");
        assert!(d.get("mamori").is_none());
    }

    #[test]
    fn invalid_utf8_is_flagged_not_rejected() {
        // "テスト" in Shift_JIS.
        let raw = b"<13>1 2024-04-01T00:00:00Z h a - - - \x83e\x83X\x83g";
        let d = parse(raw);
        assert_eq!(d["mamori"]["syslog"]["invalid_utf8"], true);
        let b64 = d["mamori"]["syslog"]["original_base64"].as_str().unwrap();
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap(),
            raw
        );
        assert!(d["message"].as_str().unwrap().contains('\u{FFFD}'));
        assert_eq!(d["process"]["name"], "a");
    }

    #[test]
    fn non_numeric_procid_is_not_a_pid() {
        let d = parse(b"<13>1 2024-04-01T00:00:00Z h app worker-3 - - m");
        assert!(d["process"].get("pid").is_none());
        assert_eq!(d["log"]["syslog"]["procid"], "worker-3");
    }

    #[test]
    fn set_builds_nested_objects() {
        let mut m = Map::new();
        set(&mut m, &["a", "b", "c"], 1.into());
        set(&mut m, &["a", "b", "d"], 2.into());
        assert_eq!(Value::Object(m), json!({"a": {"b": {"c": 1, "d": 2}}}));
    }
}
