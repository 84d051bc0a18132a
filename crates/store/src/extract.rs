//! Pulling the indexed fields out of an ECS document.

use serde_json::Value;

/// Fields whose string values go into the full-text index, in this order.
pub const FULL_TEXT_FIELDS: &[&[&str]] = &[
    &["message"],
    &["event", "original"],
    &["file", "path"],
    &["file", "target_path"],
    &["user", "name"],
    &["user", "target", "name"],
    &["host", "name"],
    &["event", "action"],
    &["process", "name"],
    &["process", "command_line"],
    &["url", "original"],
    &["error", "message"],
    &["mamori", "quarantine", "reason"],
];

/// A string field of an ECS document, given as path segments. Nested objects are tried first,
/// then a dotted key at the top level (`{"user.name": ".."}`), then mixed forms are not attempted.
pub fn str_field<'a>(doc: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = doc;
    let mut nested = true;
    for seg in path {
        match cur.get(seg) {
            Some(v) => cur = v,
            None => {
                nested = false;
                break;
            }
        }
    }
    if nested {
        return cur.as_str();
    }
    if path.len() > 1 {
        let dotted = path.join(".");
        return doc.get(dotted.as_str()).and_then(Value::as_str);
    }
    None
}

/// Any field (not only strings), nested or dotted.
pub fn field<'a>(doc: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = doc;
    for (i, seg) in path.iter().enumerate() {
        match cur.get(seg) {
            Some(v) => cur = v,
            None => {
                if i == 0 && path.len() > 1 {
                    return doc.get(path.join(".").as_str());
                }
                return None;
            }
        }
    }
    Some(cur)
}

/// Parses an RFC 3339 timestamp into microseconds since the Unix epoch.
pub fn rfc3339_micros(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.timestamp_micros())
}

/// `@timestamp` of the document in micros, if present and valid.
pub fn timestamp_micros(doc: &Value) -> Option<i64> {
    doc.get("@timestamp")
        .and_then(Value::as_str)
        .and_then(rfc3339_micros)
}

/// Builds the full-text body into `out` (cleared first). Fields are separated by newlines; a
/// field whose value already occurs inside the text gathered so far (typically `file.path` and
/// `user.name` inside `message`, or `event.original` equal to `message`) is skipped: for
/// substring search that loses nothing and it keeps the FTS index, the dominant indexing cost,
/// small.
pub fn full_text(doc: &Value, out: &mut String) {
    out.clear();
    for path in FULL_TEXT_FIELDS {
        if let Some(v) = str_field(doc, path) {
            if v.is_empty() || out.contains(v) {
                continue;
            }
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_and_dotted_fields() {
        let d = json!({"user": {"name": "tanaka"}, "host.name": "pc-01", "event": {"action": 3}});
        assert_eq!(str_field(&d, &["user", "name"]), Some("tanaka"));
        assert_eq!(str_field(&d, &["host", "name"]), Some("pc-01"));
        assert_eq!(
            str_field(&d, &["event", "action"]),
            None,
            "non-string is not a string field"
        );
        assert_eq!(str_field(&d, &["file", "path"]), None);
        assert_eq!(field(&d, &["host", "name"]), Some(&json!("pc-01")));
        assert_eq!(field(&d, &["event", "action"]), Some(&json!(3)));
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339_micros("1970-01-01T00:00:01Z"), Some(1_000_000));
        assert_eq!(
            rfc3339_micros("1970-01-01T09:00:01.5+09:00"),
            Some(1_500_000)
        );
        assert_eq!(rfc3339_micros("2024-13-01T00:00:00Z"), None);
        assert_eq!(rfc3339_micros("yesterday"), None);
        assert_eq!(timestamp_micros(&json!({"@timestamp": 5})), None);
    }

    #[test]
    fn full_text_skips_duplicates_and_empties() {
        let d = json!({
            "message": "住民基本台帳を閲覧",
            "event": {"original": "住民基本台帳を閲覧", "action": "read"},
            "file": {"path": ""},
            "user": {"name": "sato"},
            "host": {"name": "台帳"}
        });
        let mut s = String::new();
        full_text(&d, &mut s);
        assert_eq!(
            s, "住民基本台帳を閲覧\nsato\nread",
            "host.name is inside message"
        );
    }
}
