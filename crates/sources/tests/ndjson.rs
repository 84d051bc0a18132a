//! NDJSON fixture: good lines, blank lines, and every kind of bad line.

use std::path::PathBuf;

use mamori_sources::{DEFAULT_MAX_LINE, LineErrorReason, ndjson_lines, parse_ndjson};

fn body() -> Vec<u8> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ecs.ndjson"))
        .unwrap()
}

#[test]
fn fixture_lines_and_errors() {
    let body = body();
    let out: Vec<_> = ndjson_lines(&body, DEFAULT_MAX_LINE).collect();
    assert_eq!(out.len(), 5, "two blank lines skipped");

    let first = out[0].as_ref().unwrap();
    assert_eq!((first.line, first.offset), (1, 0));
    assert_eq!(
        first.doc["file"]["path"],
        r"\\fileserv01\kojin_joho\住民票\2024\山田太郎.pdf"
    );
    assert_eq!(first.doc["message"], "ファイルを開きました");
    // Field order is preserved (serde_json preserve_order).
    let keys: Vec<&str> = first.doc.keys().map(String::as_str).collect();
    assert_eq!(keys, ["@timestamp", "event", "user", "file", "message"]);

    let third = out[1].as_ref().unwrap();
    assert_eq!(third.line, 3);
    assert_eq!(&body[third.offset..third.offset + 2], b"{\"");

    let bad = out[2].as_ref().unwrap_err();
    assert_eq!(bad.line, 4);
    assert!(matches!(bad.reason, LineErrorReason::InvalidJson { .. }));
    assert_eq!(&body[bad.offset..bad.offset + bad.raw.len()], &bad.raw[..]);
    assert!(bad.raw.ends_with(b"},"));

    let arr = out[3].as_ref().unwrap_err();
    assert_eq!(arr.line, 5);
    assert_eq!(arr.reason, LineErrorReason::NotAnObject { found: "array" });
    assert_eq!(arr.raw, br#"["not","an","object"]"#);

    let last = out[4].as_ref().unwrap();
    assert_eq!(last.line, 7);
    assert_eq!(last.doc["message"], "最後の行は改行なし");
}

#[test]
fn types_are_not_validated_here() {
    // `@timestamp` as a number is wrong ECS, but that is the event crate's call.
    let out = parse_ndjson(br#"{"@timestamp": 12345, "host": "not-an-object"}"#, 100);
    assert_eq!(out[0].as_ref().unwrap()["@timestamp"], 12345);
}

#[test]
fn crlf_body_gives_same_docs_as_lf() {
    let body = body();
    let crlf: Vec<u8> = body
        .iter()
        .flat_map(|&b| {
            if b == b'\n' {
                vec![b'\r', b'\n']
            } else {
                vec![b]
            }
        })
        .collect();
    let a: Vec<_> = parse_ndjson(&body, DEFAULT_MAX_LINE)
        .into_iter()
        .map(|r| r.map_err(|e| (e.line, e.reason)))
        .collect();
    let b: Vec<_> = parse_ndjson(&crlf, DEFAULT_MAX_LINE)
        .into_iter()
        .map(|r| r.map_err(|e| (e.line, e.reason)))
        .collect();
    assert_eq!(a, b);
}
