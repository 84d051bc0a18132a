//! Business chat and cloud-sharing events (webhooks and audit-log exports) read through a
//! declarative JSON [`Mapping`] (`--format webhook --mapping NAME`, `POST /api/v1/webhook/NAME`).
//!
//! Framing: a body that is one JSON document (an object, or an array of objects — what webhook
//! senders post and audit APIs page out) is one payload; anything else is read as JSON lines,
//! one payload per line. With `[json] records = "/entries"` each payload holds an array of
//! records. Each record becomes one ECS document with the record itself in `event.original`, or a
//! [`RowError`] naming the line, the path and the value — the other records go on.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::csv_mapping::{MappedRecord, RowError};
use crate::mapping::{FieldError, Input, Mapping, json_getter, json_lookup};

fn field_error(column: &str, value: &str, ja: impl Into<String>, en: impl Into<String>) -> FieldError {
    FieldError { column: column.to_owned(), value: value.to_owned(), ja: ja.into(), en: en.into() }
}

/// Reads webhook payloads with `mapping`; one result per record, in input order.
pub fn parse_webhook(mapping: &Mapping, name: &str, body: &[u8], received: DateTime<Utc>) -> Vec<Result<MappedRecord, RowError>> {
    let mut out = Vec::new();
    let err = |line: u64, offset: u64, raw: &[u8], error: FieldError| RowError { file: name.to_owned(), line, offset, error, raw: raw.to_vec() };
    if mapping.input != Input::Json {
        out.push(Err(err(1, 0, body, field_error("(mapping)", &mapping.name, "JSON 用のマッピングではありません", "not a JSON mapping"))));
        return out;
    }
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return out;
    }
    // One document (pretty-printed or not) first; JSON lines otherwise.
    if let Ok(v) = serde_json::from_slice::<Value>(trimmed) {
        payload(mapping, name, &v, trimmed, 1, 0, received, &mut out);
        return out;
    }
    let mut offset = 0u64;
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        let this = offset;
        offset += line.len() as u64 + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.trim_ascii().is_empty() {
            continue;
        }
        match serde_json::from_slice::<Value>(line) {
            Ok(v) => payload(mapping, name, &v, line, i as u64 + 1, this, received, &mut out),
            Err(e) => out.push(Err(err(
                i as u64 + 1,
                this,
                line,
                field_error(&format!("(column {})", e.column()), "", format!("JSON として読めません: {e}"), format!("not JSON: {e}")),
            ))),
        }
    }
    out
}

// Each argument is one fact about where the payload came from.
#[allow(clippy::too_many_arguments)]
fn payload(m: &Mapping, name: &str, v: &Value, raw: &[u8], line: u64, offset: u64, received: DateTime<Utc>, out: &mut Vec<Result<MappedRecord, RowError>>) {
    let err = |raw: &[u8], error: FieldError| RowError { file: name.to_owned(), line, offset, error, raw: raw.to_vec() };
    let records: Vec<&Value> = match (&m.records, v) {
        (Some(p), _) => match json_lookup(v, p) {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            _ => {
                out.push(Err(err(raw, field_error(p, "", "レコードの配列がありません", "no array of records at this path"))));
                return;
            }
        },
        (None, Value::Array(a)) => a.iter().collect(),
        (None, _) => vec![v],
    };
    let single = records.len() == 1 && m.records.is_none() && v.is_object();
    for r in records {
        let rec_raw = if single { raw.to_vec() } else { serde_json::to_vec(r).expect("serializable") };
        if !r.is_object() {
            out.push(Err(err(&rec_raw, field_error("(record)", &String::from_utf8_lossy(&rec_raw), "JSON オブジェクトではありません", "not a JSON object"))));
            continue;
        }
        let get = json_getter(r);
        match m.apply(&get, received) {
            Ok(mut doc) => {
                mamori_event::set_path(&mut doc, "event.original", Value::from(String::from_utf8_lossy(&rec_raw).into_owned()));
                rec_done(&mut doc);
                out.push(Ok(MappedRecord { doc, raw: rec_raw, line, offset }));
            }
            Err(e) => out.push(Err(err(&rec_raw, e))),
        }
    }
}

/// Derived sharing facts: a revocation sets `mamori.sharing.revoked`; a link with no expiry is flagged (Fukuoka: an invitation that was never
/// revoked and never expired).
fn rec_done(doc: &mut serde_json::Map<String, Value>) {
    let revoked = mamori_event::get_str(doc, "event.action") == Some("share-revoked");
    if revoked {
        mamori_event::set_path(doc, "mamori.sharing.revoked", Value::Bool(true));
    }
    let has_link = mamori_event::get_path(doc, "mamori.sharing.link").is_some();
    let has_expiry = mamori_event::get_path(doc, "mamori.sharing.expires").is_some();
    if has_link && !has_expiry && !revoked {
        mamori_event::set_path(doc, "mamori.sharing.no_expiry", Value::Bool(true));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = r#"
[mapping]
name = "t"
input = "json"
[timestamp]
from = "/ts"
formats = ["epoch", "rfc3339"]
[fields."user.name"]
from = "/user/id"
required = true
[fields."mamori.sharing.link"]
from = "link"
[action]
from = "/type"
map = { "message" = "message-sent" }
[recipients]
from = "/to"
internal_domains = ["city.example.lg.jp"]
"#;

    #[test]
    fn object_array_and_lines() {
        let m = Mapping::parse(M, "t").unwrap();
        let one = br#"{"ts": 1711933323, "user": {"id": "u1"}, "type": "message", "to": ["a@city.example.lg.jp", "x@example.com"]}"#;
        let r = parse_webhook(&m, "p", one, Utc::now());
        let d = &r[0].as_ref().unwrap().doc;
        assert_eq!(d["event"]["action"], "message-sent");
        assert_eq!(d["mamori"]["sharing"]["external"], true);
        assert_eq!(d["mamori"]["sharing"]["external_recipients"][0], "x@example.com");
        let lines = b"{\"ts\": \"2024-04-01T10:00:00+09:00\", \"user\": {\"id\": \"u2\"}, \"type\": \"share\", \"link\": \"https://x\"}\nnot json\n{\"ts\": 1, \"type\": \"message\"}\n";
        let r = parse_webhook(&m, "p", lines, Utc::now());
        assert_eq!(r.len(), 3);
        let d = &r[0].as_ref().unwrap().doc;
        assert_eq!(d["event"]["action"], "share");
        assert_eq!(d["mamori"]["sharing"]["no_expiry"], true);
        assert_eq!(r[1].as_ref().unwrap_err().line, 2);
        let e = r[2].as_ref().unwrap_err();
        assert_eq!((e.line, e.error.column.as_str()), (3, "/user/id"));
    }
}
