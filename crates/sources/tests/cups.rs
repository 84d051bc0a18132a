//! CUPS page_log and access_log lines.
//!
//! `fixtures/cups/page_log` and `access_log` were written by a real cupsd 2.4.2 (Debian 12) in
//! the run of crates/mamori/tests/cups.rs (`MAMORI_CAPTURE_DIR=… cargo test -p mamori --test
//! cups`): a job by sato.h logged with CUPS' default PageLogFormat, then (after reloading with
//! mamori's keyed PageLogFormat) jobs by tanaka.k (2 copies) and suzuki.m (A4, duplex), all on a
//! queue with the printer-driver-cups-pdf PPD; access_log holds the IPP requests of lpadmin,
//! lp and lpstat.

use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use mamori_sources::format::cups::{access_log_line_doc, page_log_line_doc};
use mamori_sources::{
    LinePos, SyslogContext, parse_access_log_line, parse_page_log_line, parse_syslog,
};
use serde_json::{Map, Value, json};

type Doc = Map<String, Value>;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/cups")
            .join(name),
    )
    .unwrap()
}

fn lines(bytes: &[u8]) -> Vec<(&[u8], LinePos)> {
    let mut off = 0u64;
    let mut out = Vec::new();
    for (i, l) in bytes.split(|&b| b == b'\n').enumerate() {
        if !l.is_empty() {
            out.push((
                l,
                LinePos {
                    line: i + 1,
                    offset: off,
                },
            ));
        }
        off += l.len() as u64 + 1;
    }
    out
}

#[test]
fn hirosaki_who_printed_which_document() {
    // Hirosaki: nobody could tell who took the HR file. Print jobs name user and document.
    let page = fixture("page_log");
    let docs: Vec<Doc> = lines(&page)
        .into_iter()
        .map(|(l, p)| parse_page_log_line(l, p).unwrap())
        .collect();
    assert_eq!(docs.len(), 3);
    let d = &docs[0];
    assert_eq!(d["mamori"]["print"]["log_format"], "default");
    assert_eq!(d["user"]["name"], "sato.h");
    assert_eq!(d["file"]["name"], "住民票 写し");
    assert_eq!(d["mamori"]["print"]["document"], "住民票 写し");
    assert_eq!(d["mamori"]["print"]["pages"], 3);
    assert_eq!(d["mamori"]["print"]["job_id"], "1");
    assert_eq!(d["mamori"]["print"]["printer"], "kazei-pr1");
    assert_eq!(d["source"]["domain"], "localhost");
    assert_eq!(d["event"]["action"], "print-job");
    assert!(
        d["mamori"]["print"].get("media").is_none(),
        "'-' is no value"
    );
    let t = &docs[1];
    assert_eq!(t["mamori"]["print"]["log_format"], "keyed");
    assert_eq!(t["user"]["name"], "tanaka.k");
    assert_eq!(t["file"]["name"], "課税台帳 2026");
    assert_eq!(
        (
            t["mamori"]["print"]["pages"].as_u64(),
            t["mamori"]["print"]["copies"].as_u64()
        ),
        (Some(6), Some(2))
    );
    assert_eq!(t["mamori"]["print"]["document_format"], "text/plain");
    let s = &docs[2];
    assert_eq!(s["file"]["name"], "福祉 名簿=全件");
    assert_eq!(s["mamori"]["print"]["sides"], "two-sided-long-edge");
    assert_eq!(s["related"]["user"], json!(["suzuki.m"]));
    assert!(
        s["@timestamp"]
            .as_str()
            .unwrap()
            .starts_with("2026-12-02T03:52:17")
    );
}

#[test]
fn access_log_ipp_operations() {
    let acc = fixture("access_log");
    let docs: Vec<Doc> = lines(&acc)
        .into_iter()
        .map(|(l, p)| parse_access_log_line(l, p).unwrap())
        .collect();
    assert!(docs.len() > 10);
    let creates: Vec<&Doc> = docs
        .iter()
        .filter(|d| d["mamori"]["print"]["ipp_operation"] == "Create-Job")
        .collect();
    assert_eq!(creates.len(), 3);
    for c in creates {
        assert_eq!(c["event"]["action"], "ipp-create-job");
        assert_eq!(c["url"]["path"], "/printers/kazei-pr1");
        assert_eq!(c["mamori"]["print"]["printer"], "kazei-pr1");
        assert_eq!(c["http"]["response"]["status_code"], 200);
        assert_eq!(c["source"]["address"], "localhost");
    }
    let not_found = docs
        .iter()
        .find(|d| d["mamori"]["print"]["ipp_status"] == "client-error-not-found")
        .expect("lpadmin's first lookup");
    assert_eq!(not_found["event"]["outcome"], "failure");
}

#[test]
fn malformed_page_and_access_lines_are_kept_with_their_position() {
    let mut input =
        b"kazei-pr1 tanaka.k 12x [02/Dec/2026:03:52:16 +0000] total 3 - localhost doc - -\n"
            .to_vec();
    input.extend_from_slice(b"printer=p user=u job=1 pages=total sheets=2\n");
    input.extend_from_slice(&fixture("page_log"));
    let mut errors = Vec::new();
    let docs: Vec<Doc> = lines(&input)
        .into_iter()
        .map(|(l, p)| {
            let (d, e) = page_log_line_doc(l, p);
            errors.extend(e);
            d
        })
        .collect();
    assert_eq!(docs.len(), 5);
    assert_eq!(errors.len(), 2);
    assert_eq!(
        (errors[0].line, errors[0].offset, errors[0].column),
        (1, 0, 20)
    );
    assert!(
        errors[0].to_string().contains("job id \"12x\""),
        "{}",
        errors[0]
    );
    assert_eq!(errors[1].line, 2);
    assert!(errors[1].reason.contains("time="), "{}", errors[1]);
    assert_eq!(docs[0]["mamori"]["cups"]["unparsed"], true);
    assert!(
        docs[1]["message"]
            .as_str()
            .unwrap()
            .starts_with("printer=p")
    );
    assert_eq!(docs[2]["user"]["name"], "sato.h");

    let (d, e) = access_log_line_doc(
        b"localhost - - [02/Dec/2026:03:52:15 +0000] \"POST / HTTP/1.1\" 2xx 1 Op ok",
        LinePos {
            line: 9,
            offset: 700,
        },
    );
    let e = e.unwrap();
    assert_eq!((e.line, e.offset), (9, 700));
    assert!(e.to_string().contains("HTTP status"));
    assert_eq!(d["error"]["message"], e.to_string());
}

#[test]
fn cups_lines_forwarded_by_rsyslog_imfile_are_enriched() {
    let page = fixture("page_log");
    let first = page.split(|&b| b == b'\n').next().unwrap();
    let mut raw = b"<174>Dec  2 12:52:16 print01 cups-page: ".to_vec();
    raw.extend_from_slice(first);
    let d = parse_syslog(
        &raw,
        &SyslogContext::new(Utc.with_ymd_and_hms(2026, 12, 2, 4, 0, 0).unwrap()),
    )
    .unwrap();
    assert_eq!(d["user"]["name"], "sato.h");
    assert_eq!(d["file"]["name"], "住民票 写し");
    assert_eq!(d["event"]["action"], "print-job");
    assert_eq!(d["event"]["module"], "syslog");
    assert_eq!(d["host"]["name"], "print01");
    assert_eq!(d["@timestamp"], "2026-12-02T03:52:16.000Z");
}

#[test]
fn fuzz_regression_column_counts_input_bytes_not_replacement_chars() {
    // Found by `cups_parse` (see the Squid test of the same name).
    let raw = b"l\x91\x9dalhost - -\xe2\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xa4\xcf\xcd/Dec/2026:03:52:17 +0000] \x22POST / HTTP/1.1\x22 200 750 Get-Printer-Attributes successful-ok";
    for r in [
        parse_page_log_line(raw, LinePos::default()),
        parse_access_log_line(raw, LinePos::default()),
    ] {
        let e = r.unwrap_err();
        assert!(
            e.column <= raw.len() + 1,
            "column {} of {} bytes",
            e.column,
            raw.len()
        );
    }
}
