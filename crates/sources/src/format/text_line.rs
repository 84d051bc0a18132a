//! Pieces shared by the line-oriented text log formats (Squid `access.log`,
//! CUPS `page_log`/`access_log`): the typed per-line error, the document
//! that keeps an unparseable line raw and searchable, a whitespace tokenizer
//! that remembers byte columns, and the Common Log Format time stamp.
//!
//! Policy (the same for every line format): a line that cannot be parsed is
//! never dropped. The parser returns a [`LineParseError`] naming the line,
//! its byte offset in the file, the column and a hint; the caller stores
//! [`raw_line_doc`] for it, which carries the text in `message` (full-text
//! searchable) and the error in `error.message` and `mamori.parse_error`.

use base64::Engine as _;
use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::syslog::set;

/// A line of a text log that does not have the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line} (byte {offset}), column {column}: {reason}; hint: {hint}")]
pub struct LineParseError {
    /// 1-based line number in the input (0 when unknown).
    pub line: usize,
    /// Byte offset of the line's first byte in the input.
    pub offset: u64,
    /// 1-based byte column within the line where the problem is.
    pub column: usize,
    /// What is wrong.
    pub reason: String,
    /// A short suggestion for the operator.
    pub hint: &'static str,
}

/// Where a line came from, for errors and `log.offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinePos {
    /// 1-based line number (0 when unknown).
    pub line: usize,
    /// Byte offset of the line in its file or stream.
    pub offset: u64,
}

impl LinePos {
    /// An error at byte `column0` (0-based) of this line.
    pub fn error(
        self,
        column0: usize,
        reason: impl Into<String>,
        hint: &'static str,
    ) -> LineParseError {
        LineParseError {
            line: self.line,
            offset: self.offset,
            column: column0 + 1,
            reason: reason.into(),
            hint,
        }
    }
}

/// The line as text: UTF-8 if it is, otherwise decoded lossily (U+FFFD) with
/// the exact bytes returned base64-encoded so nothing is lost.
pub fn line_text(raw: &[u8]) -> (String, Option<String>) {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    match std::str::from_utf8(raw) {
        Ok(s) => (s.to_owned(), None),
        Err(_) => (
            String::from_utf8_lossy(raw).into_owned(),
            Some(base64::engine::general_purpose::STANDARD.encode(raw)),
        ),
    }
}

/// Fields every line document starts with: `event.{kind,module,dataset,original}`,
/// `message`, `log.offset`, and the base64 of non-UTF-8 input.
pub fn base_doc(module: &str, dataset: &str, raw: &[u8], pos: LinePos) -> Map<String, Value> {
    let (text, b64) = line_text(raw);
    let mut doc = Map::new();
    set(&mut doc, &["event", "kind"], "event".into());
    set(&mut doc, &["event", "module"], module.into());
    set(&mut doc, &["event", "dataset"], dataset.into());
    set(&mut doc, &["event", "original"], text.clone().into());
    set(&mut doc, &["message"], text.into());
    set(&mut doc, &["log", "offset"], pos.offset.into());
    if let Some(b) = b64 {
        set(&mut doc, &["mamori", module, "invalid_utf8"], true.into());
        set(&mut doc, &["mamori", module, "original_base64"], b.into());
    }
    doc
}

/// The document stored for a line that could not be parsed: the raw text in
/// `message`/`event.original` (searchable), `mamori.<module>.unparsed: true`,
/// the error text in `error.message` and its position in `mamori.parse_error`.
/// `@timestamp` is left to the event model (the receive time).
pub fn raw_line_doc(
    module: &str,
    dataset: &str,
    raw: &[u8],
    err: &LineParseError,
) -> Map<String, Value> {
    let pos = LinePos {
        line: err.line,
        offset: err.offset,
    };
    let mut doc = base_doc(module, dataset, raw, pos);
    set(&mut doc, &["mamori", module, "unparsed"], true.into());
    set(&mut doc, &["error", "message"], err.to_string().into());
    set(
        &mut doc,
        &["mamori", "parse_error", "line"],
        err.line.into(),
    );
    set(
        &mut doc,
        &["mamori", "parse_error", "offset"],
        err.offset.into(),
    );
    set(
        &mut doc,
        &["mamori", "parse_error", "column"],
        err.column.into(),
    );
    set(
        &mut doc,
        &["mamori", "parse_error", "reason"],
        err.reason.clone().into(),
    );
    doc
}

/// Parsers work on the lossily decoded text, where each invalid UTF-8
/// sequence became one 3-byte U+FFFD; this turns the error's column back into
/// a column of the input bytes (found by fuzzing: columns pointed past the end).
pub fn to_raw_column(raw: &[u8], mut err: LineParseError) -> LineParseError {
    if std::str::from_utf8(raw).is_ok() {
        return err;
    }
    let text_col0 = err.column.saturating_sub(1);
    let (mut text_at, mut raw_at) = (0usize, 0usize);
    for chunk in raw.utf8_chunks() {
        let valid = chunk.valid().len();
        if text_col0 < text_at + valid {
            raw_at += text_col0 - text_at;
            err.column = raw_at + 1;
            return err;
        }
        text_at += valid;
        raw_at += valid;
        if !chunk.invalid().is_empty() {
            if text_col0 < text_at + 3 {
                err.column = raw_at + 1;
                return err;
            }
            text_at += 3;
            raw_at += chunk.invalid().len();
        }
    }
    err.column = raw_at + 1;
    err
}

/// Splits on runs of ASCII blanks; each token with its 0-based byte column.
pub fn tokens(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        if c == ' ' || c == '\t' {
            if let Some(s) = start.take() {
                out.push((s, &line[s..i]));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push((s, &line[s..]));
    }
    out
}

/// Parses a Common Log Format time, with or without the brackets:
/// `[02/Dec/2026:03:18:41 +0000]`.
pub fn parse_clf_time(s: &str) -> Option<DateTime<FixedOffset>> {
    let s = s.trim().trim_start_matches('[').trim_end_matches(']');
    let t = DateTime::parse_from_str(s, "%d/%b/%Y:%H:%M:%S %z").ok()?;
    // Only what RFC 3339 (and so the event model) can hold.
    (0..=9999).contains(&chrono::Datelike::year(&t.with_timezone(&Utc))).then_some(t)
}

/// RFC 3339 UTC with milliseconds, as the other formats write `@timestamp`.
pub fn format_ts(ts: DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `-` (the logs' "no value") as `None`.
pub fn dash(s: &str) -> Option<&str> {
    (!s.is_empty() && s != "-").then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_columns() {
        assert_eq!(tokens("  a bb\t c"), vec![(2, "a"), (4, "bb"), (8, "c")]);
        assert!(tokens("   ").is_empty());
    }

    #[test]
    fn clf_time() {
        let t = parse_clf_time("[02/Dec/2026:12:18:41 +0900]").unwrap();
        assert_eq!(format_ts(t.with_timezone(&Utc)), "2026-12-02T03:18:41.000Z");
        assert!(parse_clf_time("[02/Foo/2026:12:18:41 +0900]").is_none());
        assert!(parse_clf_time("[31/Dec/9999:23:18:41 -0900]").is_none());
    }

    #[test]
    fn columns_map_back_to_input_bytes() {
        let e = |col| LineParseError {
            line: 1,
            offset: 0,
            column: col,
            reason: String::new(),
            hint: "",
        };
        // "a\xff b": text "a\u{fffd} b" (b at text byte 5, input byte 3).
        assert_eq!(to_raw_column(b"a\xff b", e(6)).column, 4);
        assert_eq!(to_raw_column(b"a\xff b", e(3)).column, 2);
        assert_eq!(to_raw_column(b"a\xff\xfe", e(99)).column, 4);
        assert_eq!(to_raw_column(b"abc", e(2)).column, 2);
    }

    #[test]
    fn raw_doc_keeps_bytes() {
        let err = LinePos {
            line: 3,
            offset: 40,
        }
        .error(5, "bad", "fix it");
        assert_eq!(
            err.to_string(),
            "line 3 (byte 40), column 6: bad; hint: fix it"
        );
        let d = raw_line_doc("squid", "squid.access", b"ab\xffc", &err);
        assert_eq!(d["message"], "ab\u{fffd}c");
        assert_eq!(d["mamori"]["squid"]["unparsed"], true);
        assert_eq!(d["mamori"]["squid"]["original_base64"], "YWL/Yw==");
        assert_eq!(d["mamori"]["parse_error"]["column"], 6);
    }
}
