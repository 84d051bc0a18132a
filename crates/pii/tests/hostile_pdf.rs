//! Hostile PDFs stay within their limits: 200,000 levels of nesting, a content stream that
//! inflates to 1 GiB, 20,000 pages against a short time limit, a page whose one content
//! stream is too long for the time limit. Each file is built here (small on disk) and scanned
//! in a child process (this test binary running only `child_scan_pdf`): a crash no
//! `catch_unwind` can stop (a stack overflow, an allocation failure) then fails one test
//! instead of killing the run, and the child's own peak RSS comes from `wait4`.

use std::io::Write;

/// A PDF of the given objects (object i + 1 is `objs[i]`; 1 must be the catalog) with a
/// correct cross-reference table.
fn pdf_of(objs: &[Vec<u8>]) -> Vec<u8> {
    let mut b = b"%PDF-1.4\n".to_vec();
    let mut offs = Vec::new();
    for (i, o) in objs.iter().enumerate() {
        offs.push(b.len());
        b.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        b.extend_from_slice(o);
        b.extend_from_slice(b"\nendobj\n");
    }
    let x = b.len();
    b.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objs.len() + 1).as_bytes());
    for o in offs {
        b.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    b.extend_from_slice(format!("trailer << /Root 1 0 R /Size {} >>\nstartxref\n{x}\n%%EOF\n", objs.len() + 1).as_bytes());
    b
}

fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
    [format!("<< {dict} /Length {} >> stream\n", data.len()).into_bytes(), data.to_vec(), b"\nendstream".to_vec()].concat()
}

const FONT: &[u8] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>";

fn text_op(s: &str) -> Vec<u8> {
    format!("BT /F1 12 Tf 72 700 Td ({s}) Tj ET").into_bytes()
}

/// `zeros` bytes of NUL (white space to a content parser), zlib-compressed.
fn flate_zeros(zeros: usize) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let chunk = vec![0u8; 1 << 20];
    let mut left = zeros;
    while left > 0 {
        let n = left.min(chunk.len());
        z.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    z.finish().unwrap()
}

#[path = "support/child.rs"]
mod child;
use child::ChildRun;

/// Scans `bytes` (written as `name`) in a child process; `max_time_ms` overrides
/// `Limits::max_time`.
fn scan_in_child(name: &str, bytes: &[u8], max_time_ms: Option<u64>) -> ChildRun {
    let env: Vec<(&str, String)> = max_time_ms.map(|ms| ("MAMORI_HOSTILE_MAX_TIME_MS", ms.to_string())).into_iter().collect();
    child::run_child("child_scan_pdf", name, bytes, &env)
}

#[test]
#[ignore = "run by scan_in_child"]
fn child_scan_pdf() {
    let Some(p) = std::env::var_os("MAMORI_HOSTILE_FILE") else { return };
    let p = std::path::PathBuf::from(p);
    let bytes = std::fs::read(&p).unwrap();
    let mut opts = mamori_pii::Options::default();
    if let Some(ms) = std::env::var("MAMORI_HOSTILE_MAX_TIME_MS").ok().and_then(|s| s.parse().ok()) {
        opts.limits.max_time = std::time::Duration::from_millis(ms);
    }
    let r = mamori_pii::scan_bytes(p.file_name().unwrap().to_str().unwrap(), &bytes, &opts);
    // The harness printed "test child_scan_pdf ... " without a newline.
    println!();
    for f in &r.findings {
        if let mamori_pii::Location::Page { page } = f.location {
            println!("FINDING {:?} page {page}", f.kind);
        }
    }
    for pr in &r.problems {
        println!("PROBLEM {}", pr.reason);
    }
    println!("CHILD-REPORT truncated={} findings={}", r.truncated, r.findings.len());
}

/// 1 GB: far above what any of these files needs when bounded, far below what they took
/// unbounded (3.2 GB for the flate bomb on lopdf 0.36).
const RSS_BOUND_KIB: i64 = 1 << 20;

/// Found 2026-12-03 by hand (docs/pii.md, hostile files): 200,000 nested `[` (or `<<`, or
/// `(`) in an object or a content stream overflowed the stack in lopdf 0.36's recursive
/// parser, which aborts the process — the whole batch was lost. extract/pdf.rs now refuses a
/// file nested deeper than 256 levels before lopdf parses it; in a compressed content stream
/// (invisible to that scan) lopdf 0.47's own limit of 100 levels holds.
#[test]
fn deeply_nested_pdf_objects_are_a_problem_not_a_stack_overflow() {
    let n = 200_000;
    let cat = b"<< /Type /Catalog /Pages 2 0 R >>".to_vec();
    let pages = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec();
    let page = b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_vec();
    let ok = stream("", &text_op("Tel 03-1234-5678"));
    let arrays = [vec![b'['; n], vec![b']'; n]].concat();
    let dicts = ["<< /A ".repeat(n), ">>".repeat(n)].concat().into_bytes();
    let strings = [vec![b'('; n], vec![b')'; n]].concat();
    let content = [b"BT /F1 12 Tf ".to_vec(), arrays.clone(), b" TJ ET".to_vec()].concat();
    let in_content = stream("", &content);
    for (name, pdf) in [
        ("arrays.pdf", pdf_of(&[cat.clone(), pages.clone(), page.clone(), ok.clone(), FONT.to_vec(), arrays])),
        ("dicts.pdf", pdf_of(&[cat.clone(), pages.clone(), page.clone(), ok.clone(), FONT.to_vec(), dicts])),
        ("strings.pdf", pdf_of(&[cat.clone(), pages.clone(), page.clone(), ok.clone(), FONT.to_vec(), strings])),
    ] {
        let c = scan_in_child(name, &pdf, None);
        assert!(c.ok && c.report().contains("truncated=true"), "{name}: {}\n{}", c.status, c.out);
        assert!(c.problems().iter().any(|p| p.contains("nested deeper than 256 levels")), "{name}: {}", c.out);
    }
    // The same nesting inside a content stream (stream data is opaque to that scan; it may be
    // compressed): lopdf's limit stops the parse, the page is a problem, the process lives,
    // and what the page drew before (its first, plain stream) is still read.
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&content).unwrap();
    for (name, deep) in [("content.pdf", in_content), ("content-flate.pdf", stream("/Filter /FlateDecode", &z.finish().unwrap()))] {
        let page2 = b"<< /Type /Page /Parent 2 0 R /Contents [4 0 R 6 0 R] /Resources << /Font << /F1 5 0 R >> >> >>".to_vec();
        let pdf = pdf_of(&[cat.clone(), pages.clone(), page2, ok.clone(), FONT.to_vec(), deep]);
        let c = scan_in_child(name, &pdf, None);
        assert!(c.ok && c.report().contains("CHILD-REPORT"), "{name}: {}\n{}", c.status, c.out);
        assert!(c.problems().iter().any(|p| p.contains("page 1 partly unreadable") && p.contains("syntax error")), "{name}: {}", c.out);
        assert!(c.page_findings().contains(&("Phone".into(), 1)), "{name}: {}", c.out);
    }
}

/// A 1 MB PDF whose first page's first content stream inflates to 1 GiB (NUL bytes). lopdf
/// 0.36 inflated it whole (3.2 GB peak RSS). Now it is inflated into a counter that stops past
/// the per-file unpacked-bytes budget (`Limits::max_unpacked_bytes`, 512 MiB), so it is
/// refused, with a problem naming the page, without ever being held in memory (bound 128 MB;
/// inflating it up to the budget took 531 MB here, 1.3 GB under mimalloc); the page's other
/// stream and the next page are still scanned.
#[test]
fn flate_bomb_content_stream_is_refused_and_the_rest_is_scanned() {
    let bomb = flate_zeros(1 << 30);
    assert!(bomb.len() < 2 << 20, "{}", bomb.len());
    let pdf = pdf_of(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /Contents [5 0 R 6 0 R] /Resources << /Font << /F1 8 0 R >> >> >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /Contents 7 0 R /Resources << /Font << /F1 8 0 R >> >> >>".to_vec(),
        stream("/Filter /FlateDecode", &bomb),
        stream("", &text_op("Tel 03-1234-5678")),
        stream("", &text_op("mail taro.y@example.ne.jp")),
        FONT.to_vec(),
    ]);
    let c = scan_in_child("bomb.pdf", &pdf, None);
    assert!(c.ok && c.report().contains("truncated=true"), "{}\n{}", c.status, c.out);
    assert!(
        c.problems().iter().any(|p| p.contains("unpacked-bytes limit") && p.contains("page 1 of 2") && p.contains("content stream 5 0 R")),
        "{}",
        c.out
    );
    let found = c.page_findings();
    assert!(found.contains(&("Phone".into(), 1)) && found.contains(&("Email".into(), 2)), "{found:?}\n{}", c.out);
    assert!(c.peak_rss_kib < 128 << 10, "peak RSS {} KiB", c.peak_rss_kib);
}

/// 20,000 pages (one shared content stream with a phone number) against a 300 ms time limit:
/// on lopdf 0.36 with no time check such a file took more than 90 s. The scan stops at a page boundary with a
/// problem naming the page, keeps every page read before it, and is marked truncated.
#[test]
fn twenty_thousand_pages_stop_at_the_time_limit_with_the_pages_done() {
    let n = 20_000;
    // 2,000 more glyphs a page, so that the whole file takes seconds (not the 0.3 s of bare
    // pages) and the limit falls among the pages; the assertions hold wherever it falls.
    let (objs, _) = pages_sharing_one_heavy_stream(n);
    let pdf = pdf_of(&objs);
    let c = scan_in_child("pages.pdf", &pdf, Some(300));
    assert!(c.ok && c.report().contains("truncated=true"), "{}\n{}", c.status, c.out);
    let stop = c.problems().into_iter().find(|p| p.contains("time limit")).unwrap_or_else(|| panic!("{}", c.out));
    // "… reached at page N of 20000: pages N-20000 not scanned"
    let at: u32 = stop
        .split_once(" page ")
        .and_then(|(_, r)| r.split_once(" of 20000"))
        .and_then(|(p, _)| p.parse().ok())
        .unwrap_or_else(|| panic!("{stop}"));
    assert!(at >= 1 && at <= n, "{stop}");
    let mut pages: Vec<u32> = c.page_findings().into_iter().filter(|(k, _)| k == "Phone").map(|(_, p)| p).collect();
    pages.sort();
    pages.dedup();
    let done = if stop.contains("reached in page") { at } else { at - 1 };
    // Not assert_eq!: the lists run to thousands of pages.
    assert!(pages.len() as u32 == done && pages.iter().enumerate().all(|(i, &p)| p == i as u32 + 1), "{stop}: {} pages with findings, first {:?}, last {:?}", pages.len(), pages.first(), pages.last());
    assert!(c.peak_rss_kib < RSS_BOUND_KIB, "peak RSS {} KiB", c.peak_rss_kib);
}

/// One page whose one content stream holds 4,000,000 text operations (26 MB inflated):
/// the clock is read inside the stream, so a short limit stops the page in the middle; what
/// was read of it is kept.
#[test]
fn one_long_content_stream_stops_at_the_time_limit_inside_the_page() {
    let op = b"BT /F1 12 Tf 72 700 Td (x) Tj ET\n";
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&text_op("Tel 03-1234-5678")).unwrap();
    z.write_all(b"\n").unwrap();
    for _ in 0..4_000_000 / 1000 {
        z.write_all(&op.repeat(1000)).unwrap();
    }
    let pdf = pdf_of(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_vec(),
        stream("/Filter /FlateDecode", &z.finish().unwrap()),
        FONT.to_vec(),
    ]);
    let c = scan_in_child("long.pdf", &pdf, Some(100));
    assert!(c.ok && c.report().contains("truncated=true"), "{}\n{}", c.status, c.out);
    assert!(c.problems().iter().any(|p| p.contains("time limit") && p.contains("in page 1 of 1")), "{}", c.out);
    assert!(c.page_findings().contains(&("Phone".into(), 1)), "{}", c.out);
}

/// Writes the hostile files of this test to `MAMORI_HOSTILE_OUT` for measuring the CLI with
/// `/usr/bin/time -v target/release/mamori scan --json FILE` (docs/pii.md, hostile files).
#[test]
#[ignore = "writes files: MAMORI_HOSTILE_OUT=DIR cargo test --release -p mamori-pii --test hostile_pdf -- --ignored write_hostile_pdfs"]
fn write_hostile_pdfs() {
    let Some(dir) = std::env::var_os("MAMORI_HOSTILE_OUT") else { return };
    let dir = std::path::PathBuf::from(dir);
    let n = 200_000;
    let cat = b"<< /Type /Catalog /Pages 2 0 R >>".to_vec();
    let pages = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec();
    let page = b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_vec();
    let arrays = [vec![b'['; n], vec![b']'; n]].concat();
    let nested = pdf_of(&[cat.clone(), pages.clone(), page.clone(), stream("", &text_op("Tel 03-1234-5678")), FONT.to_vec(), arrays]);
    std::fs::write(dir.join("nested-200k.pdf"), nested).unwrap();
    let bomb = pdf_of(&[cat.clone(), pages, page, stream("/Filter /FlateDecode", &flate_zeros(1 << 30)), FONT.to_vec()]);
    std::fs::write(dir.join("flate-bomb-1g.pdf"), bomb).unwrap();
    let k = 20_000;
    let mut objs = vec![cat];
    let kids: Vec<String> = (0..k).map(|i| format!("{} 0 R", i + 5)).collect();
    objs.push(format!("<< /Type /Pages /Kids [{}] /Count {k} >>", kids.join(" ")).into_bytes());
    objs.push(stream("", &text_op("Tel 03-1234-5678")));
    objs.push(FONT.to_vec());
    for _ in 0..k {
        objs.push(b"<< /Type /Page /Parent 2 0 R /Contents 3 0 R /Resources << /Font << /F1 4 0 R >> >> >>".to_vec());
    }
    std::fs::write(dir.join("pages-20k.pdf"), pdf_of(&objs)).unwrap();
    // The same pages with 2,000 more glyphs each (as in the test above): longer than 60 s.
    let body = [text_op("Tel 03-1234-5678"), b"\n".to_vec(), b"BT /F1 12 Tf 72 600 Td (x) Tj ET\n".repeat(2000)].concat();
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&body).unwrap();
    objs[2] = stream("/Filter /FlateDecode", &z.finish().unwrap());
    std::fs::write(dir.join("pages-20k-heavy.pdf"), pdf_of(&objs)).unwrap();
}

/// The unpacked-bytes budget is per file: 50 pages sharing one 66 KB content stream against a
/// 1 MB budget. The pages within it are scanned; the first page over it gets a problem, and
/// the rest are summed up in one more (not one problem per page).
#[test]
fn a_spent_unpacked_budget_is_one_problem_and_one_summary() {
    let n = 50;
    let (objs, body_len) = pages_sharing_one_heavy_stream(n);
    let mut opts = mamori_pii::Options::default();
    opts.limits.max_unpacked_bytes = 1 << 20;
    let r = mamori_pii::scan_bytes("budget.pdf", &pdf_of(&objs), &opts);
    assert!(r.truncated);
    let per_page = body_len as u64;
    let fit = ((1u64 << 20) / per_page) as u32;
    let pages: Vec<u32> = r.findings.iter().filter_map(|f| if let mamori_pii::Location::Page { page } = f.location { Some(page) } else { None }).collect();
    assert_eq!(pages, (1..=fit).collect::<Vec<u32>>());
    let reasons: Vec<&str> = r.problems.iter().map(|p| p.reason.as_str()).collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].contains(&format!("page {} of {n}", fit + 1)), "{reasons:?}");
    assert!(reasons[1].contains(&format!("content of {} more pages ({}-{n})", n - fit - 1, fit + 2)), "{reasons:?}");
}

/// `n` pages sharing one flate-compressed content stream: a phone number and 2,000 more
/// glyphs (objects: catalog, pages, the stream as 3 0 R, the font, then the pages from 5 0 R),
/// and the stream's inflated length.
fn pages_sharing_one_heavy_stream(n: u32) -> (Vec<Vec<u8>>, usize) {
    let mut objs = vec![b"<< /Type /Catalog /Pages 2 0 R >>".to_vec()];
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", i + 5)).collect();
    objs.push(format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" ")).into_bytes());
    let body = [text_op("Tel 03-1234-5678"), b"\n".to_vec(), b"BT /F1 12 Tf 72 600 Td (x) Tj ET\n".repeat(2000)].concat();
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&body).unwrap();
    objs.push(stream("/Filter /FlateDecode", &z.finish().unwrap()));
    objs.push(FONT.to_vec());
    for _ in 0..n {
        objs.push(b"<< /Type /Page /Parent 2 0 R /Contents 3 0 R /Resources << /Font << /F1 4 0 R >> >> >>".to_vec());
    }
    (objs, body.len())
}
