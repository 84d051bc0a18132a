//! mamori's event model: ECS 8.x documents, checked and normalised at the door.
//!
//! What it does: turns an untrusted JSON object into the canonical event document that is
//! ledgered — dotted keys (`"user.name"`) expanded into nested objects, `@timestamp` normalised
//! to RFC 3339 UTC, the type of every field mamori knows checked (ECS fields and the `mamori.*`
//! namespace, see docs/events.md), with errors that name the field and what was expected.
//!
//! What it does not do: parse log formats (the sources crate), assign ids or ingestion times
//! (the ledger does: an event's id is its ledger index), or index anything.
#![deny(missing_docs)]

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

/// A JSON object.
pub type Doc = Map<String, Value>;

/// What a field must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// A string (ECS keyword / text / ip stored as text).
    Str,
    /// An IP address string.
    Ip,
    /// A date (RFC 3339 string or epoch milliseconds).
    Date,
    /// A non-negative integer.
    Count,
    /// A TCP/UDP port.
    Port,
    /// A string or an array of strings.
    StrOrList,
    /// true/false.
    Bool,
    /// An object.
    Object,
}

/// Fields mamori relies on, with their types. ECS fields first, then the `mamori.*` namespace
/// for what ECS lacks. Unknown fields are kept as they are.
pub const KNOWN_FIELDS: &[(&str, FieldType)] = &[
    ("@timestamp", FieldType::Date),
    ("message", FieldType::Str),
    ("event.action", FieldType::Str),
    ("event.category", FieldType::StrOrList),
    ("event.type", FieldType::StrOrList),
    ("event.outcome", FieldType::Str),
    ("event.dataset", FieldType::Str),
    ("event.module", FieldType::Str),
    ("event.kind", FieldType::Str),
    ("event.original", FieldType::Str),
    ("event.created", FieldType::Date),
    ("event.ingested", FieldType::Date),
    ("user.name", FieldType::Str),
    ("user.id", FieldType::Str),
    ("user.domain", FieldType::Str),
    ("host.name", FieldType::Str),
    ("host.hostname", FieldType::Str),
    ("host.ip", FieldType::StrOrList),
    ("source.ip", FieldType::Ip),
    ("source.port", FieldType::Port),
    ("destination.ip", FieldType::Ip),
    ("destination.domain", FieldType::Str),
    ("destination.port", FieldType::Port),
    ("file.path", FieldType::Str),
    ("file.name", FieldType::Str),
    ("file.size", FieldType::Count),
    ("file.hash.sha256", FieldType::Str),
    ("email.from.address", FieldType::StrOrList),
    ("email.to.address", FieldType::StrOrList),
    ("email.subject", FieldType::Str),
    ("url.full", FieldType::Str),
    ("process.name", FieldType::Str),
    ("process.command_line", FieldType::Str),
    ("process.pid", FieldType::Count),
    ("mamori.usb.vendor_id", FieldType::Str),
    ("mamori.usb.product_id", FieldType::Str),
    ("mamori.usb.serial", FieldType::Str),
    ("mamori.print.job_id", FieldType::Str),
    ("mamori.print.pages", FieldType::Count),
    ("mamori.print.printer", FieldType::Str),
    ("mamori.export.records", FieldType::Count),
    ("mamori.export.system", FieldType::Str),
    ("mamori.takeout.request_id", FieldType::Str),
    ("mamori.takeout.approved_by", FieldType::Str),
    ("mamori.personal_data", FieldType::Bool),
];

/// An event that cannot be accepted, naming the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct EventError {
    /// Dotted path of the offending field (or `(document)`).
    pub field: String,
    /// What is wrong, and what was expected.
    pub reason: String,
}

fn err(field: &str, reason: impl Into<String>) -> EventError {
    EventError { field: field.to_owned(), reason: reason.into() }
}

/// Maximum nesting depth accepted (deeper documents are almost certainly hostile).
pub const MAX_DEPTH: usize = 32;

/// Checks and normalises a document: expands dotted keys, validates known fields, normalises
/// `@timestamp` (filled with `received` when absent) and date fields to RFC 3339 UTC.
pub fn normalize(doc: Doc, received: DateTime<Utc>) -> Result<Doc, EventError> {
    let mut out = Doc::new();
    for (k, v) in doc {
        insert_dotted(&mut out, &k, v)?;
    }
    check_depth(&Value::Object(out.clone()), 0)?;
    if !out.contains_key("@timestamp") {
        out.insert("@timestamp".into(), Value::String(format_ts(received)));
    }
    for (path, ty) in KNOWN_FIELDS {
        let Some(v) = get_path_mut(&mut out, path) else { continue };
        check_type(path, *ty, v)?;
    }
    Ok(out)
}

fn check_depth(v: &Value, depth: usize) -> Result<(), EventError> {
    if depth > MAX_DEPTH {
        return Err(err("(document)", format!("nested deeper than {MAX_DEPTH} levels")));
    }
    match v {
        Value::Object(m) => m.values().try_for_each(|c| check_depth(c, depth + 1)),
        Value::Array(a) => a.iter().try_for_each(|c| check_depth(c, depth + 1)),
        _ => Ok(()),
    }
}

/// Formats a time as RFC 3339 UTC with microseconds, as every stored timestamp is.
pub fn format_ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses an RFC 3339 timestamp (any offset) to UTC.
pub fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

fn insert_dotted(out: &mut Doc, key: &str, v: Value) -> Result<(), EventError> {
    if key.is_empty() {
        return Err(err("(document)", "empty field name"));
    }
    // "@timestamp" and keys without dots go in as they are; nested objects are merged so that
    // {"user.name": "a", "user": {"id": "1"}} becomes one `user` object.
    let v = match v {
        Value::Object(m) => {
            let mut inner = Doc::new();
            for (k, v) in m {
                insert_dotted(&mut inner, &k, v)?;
            }
            Value::Object(inner)
        }
        other => other,
    };
    let mut parts = key.split('.').peekable();
    let mut cur = out;
    let mut walked = String::new();
    while let Some(p) = parts.next() {
        if p.is_empty() {
            return Err(err(key, "field name has an empty segment"));
        }
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(p);
        if parts.peek().is_none() {
            match (cur.get_mut(p), v) {
                (Some(Value::Object(existing)), Value::Object(new)) => {
                    for (k, v) in new {
                        insert_dotted(existing, &k, v)?;
                    }
                }
                (Some(_), _) => return Err(err(&walked, "given twice")),
                (None, v) => {
                    cur.insert(p.to_owned(), v);
                }
            }
            return Ok(());
        }
        let slot = cur.entry(p.to_owned()).or_insert_with(|| Value::Object(Doc::new()));
        cur = match slot {
            Value::Object(m) => m,
            _ => return Err(err(&walked, "is a value and also has sub-fields")),
        };
    }
    Ok(())
}

/// Looks up a dotted path in a nested document.
pub fn get_path<'a>(doc: &'a Doc, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let first = parts.next()?;
    let mut cur = doc.get(first)?;
    for p in parts {
        cur = cur.as_object()?.get(p)?;
    }
    Some(cur)
}

/// Looks up a dotted path for a string value.
pub fn get_str<'a>(doc: &'a Doc, path: &str) -> Option<&'a str> {
    get_path(doc, path).and_then(Value::as_str)
}

fn get_path_mut<'a>(doc: &'a mut Doc, path: &str) -> Option<&'a mut Value> {
    let mut parts = path.split('.');
    let first = parts.next()?;
    let mut cur = doc.get_mut(first)?;
    for p in parts {
        cur = cur.as_object_mut()?.get_mut(p)?;
    }
    Some(cur)
}

/// Sets a dotted path, creating intermediate objects (overwrites a non-object in the way).
pub fn set_path(doc: &mut Doc, path: &str, v: Value) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().expect("non-empty path");
    let mut cur = doc;
    for p in parts {
        let slot = cur.entry(p.to_owned()).or_insert_with(|| Value::Object(Doc::new()));
        if !slot.is_object() {
            *slot = Value::Object(Doc::new());
        }
        cur = slot.as_object_mut().unwrap();
    }
    cur.insert(last.to_owned(), v);
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn check_type(path: &str, ty: FieldType, v: &mut Value) -> Result<(), EventError> {
    let found = type_name(v);
    match ty {
        FieldType::Str => {
            if !v.is_string() {
                return Err(err(path, format!("expected a string, found {found}")));
            }
        }
        FieldType::Ip => {
            let s = v.as_str().ok_or_else(|| err(path, format!("expected an IP address string, found {found}")))?;
            if s.parse::<std::net::IpAddr>().is_err() {
                return Err(err(path, format!("{s:?} is not an IPv4 or IPv6 address")));
            }
        }
        FieldType::Date => {
            let t = match v {
                Value::String(s) => parse_ts(s).ok_or_else(|| {
                    err(path, format!("{s:?} is not an RFC 3339 date-time (e.g. 2026-04-01T09:00:00+09:00)"))
                })?,
                Value::Number(n) => n
                    .as_i64()
                    .and_then(DateTime::<Utc>::from_timestamp_millis)
                    .ok_or_else(|| err(path, "epoch milliseconds out of range"))?,
                _ => return Err(err(path, format!("expected an RFC 3339 date-time, found {found}"))),
            };
            *v = Value::String(format_ts(t));
        }
        FieldType::Count => {
            if v.as_u64().is_none() {
                return Err(err(path, format!("expected a non-negative integer, found {found}")));
            }
        }
        FieldType::Port => {
            if v.as_u64().is_none_or(|p| p > 65535) {
                return Err(err(path, format!("expected a port number 0–65535, found {v}")));
            }
        }
        FieldType::StrOrList => {
            let ok = v.is_string() || v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
            if !ok {
                return Err(err(path, format!("expected a string or an array of strings, found {found}")));
            }
        }
        FieldType::Bool => {
            if !v.is_boolean() {
                return Err(err(path, format!("expected true or false, found {found}")));
            }
        }
        FieldType::Object => {
            if !v.is_object() {
                return Err(err(path, format!("expected an object, found {found}")));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        parse_ts("2026-11-23T03:00:00Z").unwrap()
    }

    fn obj(v: Value) -> Doc {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn dotted_keys_are_expanded_and_merged() {
        let d = normalize(obj(json!({"user.name": "tanaka", "user": {"id": "u1"}, "event.action": "file-copy"})), now()).unwrap();
        assert_eq!(get_str(&d, "user.name"), Some("tanaka"));
        assert_eq!(get_str(&d, "user.id"), Some("u1"));
        assert_eq!(d["event"]["action"], "file-copy");
    }

    #[test]
    fn timestamps_are_normalised_to_utc() {
        let d = normalize(obj(json!({"@timestamp": "2026-04-01T09:00:00+09:00"})), now()).unwrap();
        assert_eq!(d["@timestamp"], "2026-04-01T00:00:00.000000Z");
        let d = normalize(obj(json!({"message": "x"})), now()).unwrap();
        assert_eq!(d["@timestamp"], "2026-11-23T03:00:00.000000Z");
        let d = normalize(obj(json!({"@timestamp": 1_700_000_000_000i64})), now()).unwrap();
        assert_eq!(d["@timestamp"], "2023-11-14T22:13:20.000000Z");
    }

    #[test]
    fn wrong_types_name_the_field() {
        let e = normalize(obj(json!({"user": {"name": 5}})), now()).unwrap_err();
        assert_eq!(e.field, "user.name");
        assert!(e.reason.contains("expected a string"), "{e}");
        let e = normalize(obj(json!({"source.ip": "999.1.1.1"})), now()).unwrap_err();
        assert_eq!(e.field, "source.ip");
        let e = normalize(obj(json!({"destination": {"port": 70000}})), now()).unwrap_err();
        assert_eq!(e.field, "destination.port");
        let e = normalize(obj(json!({"@timestamp": "yesterday"})), now()).unwrap_err();
        assert_eq!(e.field, "@timestamp");
        let e = normalize(obj(json!({"user": "x", "user.name": "y"})), now()).unwrap_err();
        assert_eq!(e.field, "user");
        let e = normalize(obj(json!({"a..b": 1})), now()).unwrap_err();
        assert!(e.reason.contains("empty segment"));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut v = json!(1);
        for _ in 0..40 {
            v = json!({ "a": v });
        }
        let e = normalize(obj(json!({ "x": v })), now()).unwrap_err();
        assert!(e.reason.contains("nested deeper"));
    }
}
