//! NDJSON (newline-delimited JSON, <https://github.com/ndjson/ndjson-spec>):
//! one JSON text per line, lines separated by LF (a CR before the LF is
//! allowed and stripped, as the spec permits `\r\n`).
//!
//! Each non-blank line must be a JSON *object*; it is returned as a
//! `serde_json::Map` as-is. ECS field names and types are NOT checked here:
//! that is the event crate's job, and doing it twice would let the two
//! checks drift apart.
//!
//! Per line, either the object or a [`LineError`] is produced, so one bad
//! line never hides the good ones around it. Blank (whitespace-only) lines
//! are skipped silently: editors and `jq` leave them at the end of files.
//! A UTF-8 BOM at the very start of the body is skipped, because Windows
//! tools (PowerShell `Out-File`, Notepad) write one.
//!
//! Errors carry the 1-based line number, the byte offset of the line start
//! within the body, what is wrong, a hint, and the raw bytes of the line for
//! quarantine.

use serde_json::{Map, Value};

/// Default maximum line length: 1 MiB. Real ECS events are a few KiB; a
/// longer line is far more likely a missing newline than one event.
pub const DEFAULT_MAX_LINE: usize = 1024 * 1024;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// What is wrong with a line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineErrorReason {
    /// The line is not valid UTF-8 (JSON text must be UTF-8, RFC 8259 §8.1).
    #[error("invalid UTF-8 at byte {offset} of the body")]
    InvalidUtf8 {
        /// Byte offset of the first invalid byte, within the whole body.
        offset: usize,
    },
    /// serde_json rejected the line.
    #[error("invalid JSON at column {column}: {message}")]
    InvalidJson {
        /// 1-based byte column within the line, as reported by serde_json.
        column: usize,
        /// serde_json's description.
        message: String,
    },
    /// Valid JSON, but not an object.
    #[error("expected a JSON object, found {found}")]
    NotAnObject {
        /// The JSON type found: `array`, `string`, `number`, `boolean`, `null`.
        found: &'static str,
    },
    /// The line is longer than the configured maximum.
    #[error("line is {length} bytes, longer than the maximum of {max}")]
    TooLong {
        /// Length of the line in bytes, without its terminator.
        length: usize,
        /// The configured maximum.
        max: usize,
    },
}

impl LineErrorReason {
    fn hint(&self) -> &'static str {
        match self {
            LineErrorReason::InvalidUtf8 { .. } => {
                "convert the file to UTF-8 (e.g. from Shift_JIS: iconv -f SHIFT_JIS -t UTF-8)"
            }
            LineErrorReason::InvalidJson { .. } => {
                "each line must be one complete JSON object; pretty-printed JSON spans lines \
                 (use jq -c to compact it)"
            }
            LineErrorReason::NotAnObject { .. } => {
                "wrap the value in an object, e.g. {\"message\": ...}; a top-level array must be \
                 split into one object per line (jq -c '.[]')"
            }
            LineErrorReason::TooLong { .. } => {
                "check that lines end with LF; raise the maximum line length if events really are this large"
            }
        }
    }
}

/// A line that could not be turned into a JSON object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line} (byte {offset}): {reason}; hint: {hint}")]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// Byte offset of the start of the line within the body.
    pub offset: usize,
    /// What is wrong.
    pub reason: LineErrorReason,
    /// A short suggestion for the person fixing the input.
    pub hint: &'static str,
    /// The raw bytes of the line (without its LF), for quarantine.
    pub raw: Vec<u8>,
}

/// A successfully parsed line.
#[derive(Debug, Clone, PartialEq)]
pub struct NdjsonRecord {
    /// 1-based line number.
    pub line: usize,
    /// Byte offset of the start of the line within the body.
    pub offset: usize,
    /// The parsed object.
    pub doc: Map<String, Value>,
}

/// Iterator over the non-blank lines of an NDJSON body; see [`ndjson_lines`].
#[derive(Debug, Clone)]
pub struct NdjsonLines<'a> {
    body: &'a [u8],
    pos: usize,
    line: usize,
    max_line: usize,
}

/// Iterates over the lines of `body`, parsing each non-blank line.
/// Lines longer than `max_line` bytes (excluding the terminator) are errors.
pub fn ndjson_lines(body: &[u8], max_line: usize) -> NdjsonLines<'_> {
    let pos = if body.starts_with(UTF8_BOM) {
        UTF8_BOM.len()
    } else {
        0
    };
    NdjsonLines {
        body,
        pos,
        line: 0,
        max_line,
    }
}

/// Parses every non-blank line of `body`; see [`ndjson_lines`] for the
/// variant that also returns line numbers of good lines.
pub fn parse_ndjson(body: &[u8], max_line: usize) -> Vec<Result<Map<String, Value>, LineError>> {
    ndjson_lines(body, max_line)
        .map(|r| r.map(|rec| rec.doc))
        .collect()
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn is_blank(line: &[u8]) -> bool {
    // JSON insignificant whitespace, RFC 8259 §2.
    line.iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

impl Iterator for NdjsonLines<'_> {
    type Item = Result<NdjsonRecord, LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.pos < self.body.len() {
            let start = self.pos;
            let rest = &self.body[start..];
            let (mut line, next) = match rest.iter().position(|&b| b == b'\n') {
                Some(i) => (&rest[..i], start + i + 1),
                None => (rest, self.body.len()),
            };
            self.pos = next;
            self.line += 1;
            if let Some(stripped) = line.strip_suffix(b"\r") {
                line = stripped;
            }
            if is_blank(line) {
                continue;
            }
            let fail = |reason: LineErrorReason| {
                Some(Err(LineError {
                    line: self.line,
                    offset: start,
                    hint: reason.hint(),
                    reason,
                    raw: line.to_vec(),
                }))
            };
            if line.len() > self.max_line {
                return fail(LineErrorReason::TooLong {
                    length: line.len(),
                    max: self.max_line,
                });
            }
            let text = match std::str::from_utf8(line) {
                Ok(t) => t,
                Err(e) => {
                    return fail(LineErrorReason::InvalidUtf8 {
                        offset: start + e.valid_up_to(),
                    });
                }
            };
            return match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(doc)) => Some(Ok(NdjsonRecord {
                    line: self.line,
                    offset: start,
                    doc,
                })),
                Ok(other) => fail(LineErrorReason::NotAnObject {
                    found: json_type(&other),
                }),
                Err(e) => fail(LineErrorReason::InvalidJson {
                    column: e.column(),
                    message: strip_position(&e.to_string()),
                }),
            };
        }
        None
    }
}

/// serde_json appends " at line L column C" to its messages; we report the
/// position ourselves (line numbers within the body, not within the line).
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_objects_and_skips_blank_lines() {
        let body = b"{\"a\":1}\n\n   \r\n{\"b\":{\"c\":\"\xE6\x97\xA5\"}}\r\n";
        let recs: Vec<_> = ndjson_lines(body, DEFAULT_MAX_LINE)
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(recs.len(), 2);
        assert_eq!((recs[0].line, recs[0].offset), (1, 0));
        assert_eq!((recs[1].line, recs[1].offset), (4, 14));
        assert_eq!(recs[1].doc["b"]["c"], "日");
    }

    #[test]
    fn last_line_without_newline_is_parsed() {
        let out = parse_ndjson(b"{\"a\":1}\n{\"a\":2}", 100);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].as_ref().unwrap()["a"], 2);
    }

    #[test]
    fn bom_at_start_is_skipped() {
        let out = parse_ndjson(b"\xEF\xBB\xBF{\"a\":1}\n", 100);
        assert_eq!(out.len(), 1);
        assert!(out[0].is_ok());
    }

    #[test]
    fn invalid_utf8_reports_offset_of_bad_byte_and_raw() {
        let body = b"{\"a\":1}\n{\"m\":\"\x82\xA0\"}\n";
        let out = parse_ndjson(body, 100);
        let e = out[1].as_ref().unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(e.offset, 8);
        assert_eq!(e.reason, LineErrorReason::InvalidUtf8 { offset: 14 });
        assert_eq!(e.raw, b"{\"m\":\"\x82\xA0\"}");
        assert!(e.hint.contains("UTF-8"));
    }

    #[test]
    fn bad_json_reports_column() {
        let out = parse_ndjson(b"{\"a\":}\n", 100);
        let e = out[0].as_ref().unwrap_err();
        match &e.reason {
            LineErrorReason::InvalidJson { column, message } => {
                assert_eq!(*column, 6);
                assert!(!message.contains(" at line "), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            e.to_string()
                .starts_with("line 1 (byte 0): invalid JSON at column 6")
        );
    }

    #[test]
    fn two_objects_on_one_line_is_an_error() {
        let out = parse_ndjson(b"{}{}\n", 100);
        assert!(matches!(
            out[0].as_ref().unwrap_err().reason,
            LineErrorReason::InvalidJson { .. }
        ));
    }

    #[test]
    fn non_objects_are_errors_with_type() {
        let out = parse_ndjson(b"[1]\n\"s\"\n3\ntrue\nnull\n", 100);
        let found: Vec<_> = out
            .iter()
            .map(|r| match &r.as_ref().unwrap_err().reason {
                LineErrorReason::NotAnObject { found } => *found,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(found, ["array", "string", "number", "boolean", "null"]);
    }

    #[test]
    fn too_long_line_is_error_and_next_line_still_parses() {
        let out = parse_ndjson(b"{\"a\":\"0123456789\"}\n{}\n", 10);
        let e = out[0].as_ref().unwrap_err();
        assert_eq!(
            e.reason,
            LineErrorReason::TooLong {
                length: 18,
                max: 10
            }
        );
        assert_eq!(e.raw.len(), 18);
        assert!(out[1].is_ok());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let mut body = "{\"a\":".repeat(10_000);
        body.push_str(&"}".repeat(10_000));
        let out = parse_ndjson(body.as_bytes(), DEFAULT_MAX_LINE);
        assert!(matches!(
            out[0].as_ref().unwrap_err().reason,
            LineErrorReason::InvalidJson { .. }
        ));
    }

    #[test]
    fn empty_body_gives_nothing() {
        assert!(parse_ndjson(b"", 10).is_empty());
        assert!(parse_ndjson(b"\n\n \n", 10).is_empty());
    }
}
