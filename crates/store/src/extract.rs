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
        match member(cur, seg) {
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
        return dotted(doc, path).and_then(Value::as_str);
    }
    None
}

/// `v[key]` for an object `v`. ECS objects are small: a linear scan over the (insertion-ordered)
/// entries is several times cheaper than hashing the key, and this runs ~10 times per indexed
/// event.
fn member<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    if obj.len() <= 24 {
        obj.iter().find(|(k, _)| k.as_str() == key).map(|(_, v)| v)
    } else {
        obj.get(key)
    }
}

/// The top-level value under the dotted key `a.b.c` for `path` = `[a, b, c]`. Compares keys
/// segment by segment instead of building the dotted string: most documents have no such key
/// and most fields are absent, and this runs for every absent full-text field of every indexed
/// event (allocating and hashing the joined key was ~10% of indexing time).
fn dotted<'a>(doc: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let len = path.iter().map(|s| s.len()).sum::<usize>() + path.len() - 1;
    doc.as_object()?.iter().find_map(|(k, v)| {
        if k.len() != len {
            return None;
        }
        let mut rest = k.as_str();
        for (i, seg) in path.iter().enumerate() {
            if i > 0 {
                rest = rest.strip_prefix('.')?;
            }
            rest = rest.strip_prefix(seg)?;
        }
        Some(v)
    })
}

/// Any field (not only strings), nested or dotted.
pub fn field<'a>(doc: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = doc;
    for (i, seg) in path.iter().enumerate() {
        match member(cur, seg) {
            Some(v) => cur = v,
            None => {
                if i == 0 && path.len() > 1 {
                    return dotted(doc, path);
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

/// The words that go into the trigram index for `doc`: the whitespace-separated words of at
/// least 3 characters of every [`FULL_TEXT_FIELDS`] value, each distinct word once (appended
/// to `out`, which is cleared first). The store puts each word in its own FTS column (see
/// `store.rs`), so no trigram spans two words.
///
/// Why this loses nothing: the index has no positions (`detail=none`), it only records which
/// trigrams each event contains, and a query term never contains whitespace, so its trigrams
/// all lie inside one word of the [`full_text`] body, and every word of that body is a word of
/// one of these fields (the body is those field values, some left out, joined by newlines).
/// What it saves: trigrams that span whitespace, of 1–2 character words and of repeated words
/// (the file path, user and host names usually appear in both `message` and `event.original`)
/// are not tokenized, hashed and stored: about 40% of the tokens of a typical audit event, and
/// FTS insert time is proportional to tokens. Fields are found with one pass over the document
/// and linear key scans (no hashing, no dotted-key allocation), and dotted top-level keys
/// (`"user.name"`) are indexed even when a nested value also exists: a superset is harmless,
/// candidates are verified exactly at query time.
pub fn index_words<'a>(doc: &'a Value, out: &mut Vec<&'a str>) {
    out.clear();
    let Some(obj) = doc.as_object() else {
        return;
    };
    let add = |text: &'a str, out: &mut Vec<&'a str>| {
        for w in text.split_whitespace() {
            if w.len() < 3 || (w.len() < 9 && w.chars().count() < 3) {
                continue;
            }
            if !out.iter().any(|k| k.len() == w.len() && *k == w) {
                out.push(w);
            }
        }
    };
    for (k, v) in obj {
        if k.contains('.') {
            if let Some(text) = v.as_str()
                && FULL_TEXT_FIELDS.iter().any(|p| {
                    p.len() > 1
                        && k.len() == p.iter().map(|s| s.len() + 1).sum::<usize>() - 1
                        && k.split('.').eq(p.iter().copied())
                })
            {
                add(text, out);
            }
            continue;
        }
        for path in FULL_TEXT_FIELDS.iter().filter(|p| p[0] == k) {
            let mut cur = v;
            let mut found = true;
            for seg in &path[1..] {
                match cur
                    .as_object()
                    .and_then(|o| o.iter().find(|(ck, _)| ck.as_str() == *seg))
                {
                    Some((_, next)) => cur = next,
                    None => {
                        found = false;
                        break;
                    }
                }
            }
            if found && let Some(text) = cur.as_str() {
                add(text, out);
            }
        }
    }
}

/// Case folding used to verify full-text candidates (see `Store::search`): each character is
/// replaced by its Unicode lowercase mapping, without context (so `Σ` is always `σ`, as in the
/// FTS5 trigram tokenizer's per-character folding, never the word-final `ς`). It agrees with the
/// tokenizer (`case_sensitive 0`, no diacritic removal) on ASCII, full-width Latin, Greek,
/// Cyrillic and the other cased scripts its table covers; Japanese has no case and is unchanged.
/// Where the two foldings could differ (a few exotic characters), a hit must satisfy both, so
/// verification never adds a false positive.
pub fn fold(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else if ('\u{3000}'..='\u{9fff}').contains(&c) {
            // CJK punctuation, kana and ideographs have no case: skip the table lookup.
            out.push(c);
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// Whether the full-text body of `doc` (as built by [`full_text`], folded with [`fold`])
/// contains every one of `folded_terms` (already folded). `buf` is scratch space. This is the
/// exact check behind a full-text hit: the FTS index only proposes candidates.
pub fn full_text_contains_all(doc: &Value, folded_terms: &[String], buf: &mut String) -> bool {
    full_text(doc, buf);
    let body = fold(buf);
    folded_terms.iter().all(|t| body.contains(t.as_str()))
}

/// A quick necessary condition for [`full_text_contains_all`], checked on the document's JSON
/// text without parsing it: `false` only when some term certainly is not in the body. Used to
/// discard full-text candidates cheaply (most false candidates of a query whose trigrams are all
/// common but whose term is rare) before the exact check.
///
/// Why it is sound: in JSON text every character of a string value appears verbatim except `"`,
/// `\`, control characters, optionally `/`, and anything written as a `\uXXXX` escape. If the
/// text has no `\u` at all, each piece of a folded term between such characters occurs, folded,
/// in the folded JSON text whenever the term occurs in a value ([`fold`] works per character and
/// never produces those characters from others). With a `\u` anywhere, it answers `true`.
pub fn json_may_contain_all(json: &str, folded_terms: &[String]) -> bool {
    if json.contains("\\u") {
        return true;
    }
    let text = fold(json);
    folded_terms.iter().all(|t| {
        t.split(|c: char| c == '"' || c == '\\' || c == '/' || c.is_control())
            .all(|piece| piece.is_empty() || text.contains(piece))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_and_dotted_fields() {
        let d = json!({"user": {"name": "tanaka"}, "host.name": "pc-01", "event": {"action": 3},
            "a.b.c": "x", "a.bc": "y", "ab.c": "z"});
        assert_eq!(str_field(&d, &["a", "b", "c"]), Some("x"));
        assert_eq!(str_field(&d, &["a", "bc"]), Some("y"));
        assert_eq!(str_field(&d, &["ab", "c"]), Some("z"));
        assert_eq!(str_field(&d, &["a", "b"]), None);
        assert_eq!(field(&d, &["a", "b", "c"]), Some(&json!("x")));
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

    #[test]
    fn index_words_cover_every_word_of_the_body_once() {
        let d = json!({
            "message": "職員 sato が /fs/住民課/a.xlsx を閲覧\nsato\u{3000}pc-01） ab",
            "event": {"original": "pc-01 /fs/住民課/a.xlsx 閲覧した", "action": "read", "code": "4663"},
            "user.name": "sato",
            "host": {"name": "pc-01"},
            "url.original": "https://x/y",
            "other": "not indexed"
        });
        let mut out = Vec::new();
        index_words(&d, &mut out);
        assert_eq!(
            out,
            [
                "sato",
                "/fs/住民課/a.xlsx",
                "を閲覧",
                "pc-01）",
                "pc-01",
                "閲覧した",
                "read",
                "https://x/y"
            ]
        );
        // Every word of the verified body is among them.
        let mut body = String::new();
        full_text(&d, &mut body);
        for w in body.split_whitespace().filter(|w| w.chars().count() >= 3) {
            assert!(out.contains(&w), "{w}");
        }
    }

    #[test]
    fn json_prefilter_never_rejects_a_true_match() {
        let t = |terms: &[&str]| terms.iter().map(|t| fold(t)).collect::<Vec<_>>();
        let docs = [
            json!({"message": "a \"quoted\" \\\\fs01\\共有 a/b\ttab Ｌｏｇｏｎ"}),
            json!({"message": "x", "file": {"path": "C:\\Users\\tanaka"}}),
        ];
        let mut buf = String::new();
        for d in &docs {
            let text = serde_json::to_string(d).unwrap();
            let mut body = String::new();
            full_text(d, &mut body);
            for term in body.split_whitespace().filter(|w| w.chars().count() >= 3) {
                let terms = t(&[term]);
                assert!(full_text_contains_all(d, &terms, &mut buf), "{term}");
                assert!(json_may_contain_all(&text, &terms), "{term} in {text}");
            }
        }
        let text = serde_json::to_string(&docs[0]).unwrap();
        assert!(!json_may_contain_all(&text, &t(&["Success:"])));
        assert!(json_may_contain_all(&text, &t(&["ｌｏｇｏｎ"])));
        assert!(
            !json_may_contain_all(&text, &t(&["LOGON"])),
            "full-width is not ASCII"
        );
        // An escaped non-ASCII character disables the shortcut.
        assert!(json_may_contain_all(
            r#"{"message":"\u4f4f"}"#,
            &t(&["住民基本"])
        ));
    }

    #[test]
    fn folding_and_exact_containment() {
        assert_eq!(fold("LogOn ＡＢＣ 住民"), "logon ａｂｃ 住民");
        assert_eq!(fold("ΟΔΟΣ"), "οδοσ", "no word-final sigma");
        let d = json!({"message": "Logon SUCCEEDED", "user": {"name": "Tanaka"}});
        let mut buf = String::new();
        let t = |terms: &[&str]| terms.iter().map(|t| fold(t)).collect::<Vec<_>>();
        assert!(full_text_contains_all(
            &d,
            &t(&["succeeded", "TANAKA"]),
            &mut buf
        ));
        assert!(!full_text_contains_all(
            &d,
            &t(&["succeeded", "sato"]),
            &mut buf
        ));
        assert!(
            !full_text_contains_all(&d, &t(&["dtan"]), &mut buf),
            "does not match across the field separator"
        );
    }
}
