//! Hostile files never panic and stay within their limits: zip bombs (ratio and nesting),
//! giant sheets, broken PDFs, binary junk. Each comes back as a report with the reason.

use mamori_pii::{Options, scan_bytes};
use std::io::Write;

fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zw = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (n, b) in members {
        zw.start_file(*n, zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated)).unwrap();
        zw.write_all(b).unwrap();
    }
    zw.finish().unwrap().into_inner()
}

#[test]
fn zip_bomb_by_ratio_is_refused_with_a_reason() {
    let zeros = vec![0u8; 64 << 20];
    let bomb = zip_of(&[("zeros.txt", &zeros), ("ok.txt", "個人番号 123456789018".as_bytes())]);
    assert!(bomb.len() < 1 << 20, "the bomb compresses well: {}", bomb.len());
    let r = scan_bytes("bomb.zip", &bomb, &Options::default());
    assert!(r.truncated);
    assert!(r.problems.iter().any(|p| p.member.as_deref() == Some("zeros.txt") && p.reason.contains("zip bomb")), "{:?}", r.problems);
    // The rest of the archive is still scanned.
    assert!(r.findings.iter().any(|f| f.member.as_deref() == Some("ok.txt")));
}

#[test]
fn nested_zips_stop_at_the_depth_limit() {
    let mut z = zip_of(&[("inner.txt", "氏名 山田 太郎".as_bytes())]);
    for i in 0..8 {
        z = zip_of(&[(&format!("level{i}.zip"), &z)]);
    }
    let r = scan_bytes("nested.zip", &z, &Options::default());
    assert!(r.truncated);
    assert!(r.problems.iter().any(|p| p.reason.contains("nested deeper")), "{:?}", r.problems);
}

#[test]
fn total_unpacked_bytes_are_bounded() {
    let chunk = vec![b'a'; 4 << 20];
    let z = zip_of(&[("a.txt", &chunk), ("b.txt", &chunk), ("c.txt", &chunk)]);
    let mut opts = Options::default();
    opts.limits.max_unpacked_bytes = 6 << 20;
    opts.limits.max_ratio = 100_000;
    let r = scan_bytes("big.zip", &z, &opts);
    assert!(r.truncated);
    assert!(r.problems.iter().any(|p| p.reason.contains("unpacked-bytes limit")), "{:?}", r.problems);
}

#[test]
fn giant_sparse_sheet_costs_only_its_cells() {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "氏名").unwrap();
    ws.write_string(1, 0, "山田 太郎").unwrap();
    ws.write_string(1_048_575, 16_383, "far corner").unwrap();
    let b = wb.save_to_buffer().unwrap();
    let r = scan_bytes("giant.xlsx", &b, &Options::default());
    assert_eq!(r.format, "xlsx");
    assert!(r.problems.iter().any(|p| p.reason.contains("not scanned")), "{:?}", r.problems);
    assert!(r.findings.iter().any(|f| f.kind == mamori_pii::Kind::PersonName));
}

#[test]
fn cell_limit_cuts_a_huge_csv_and_says_so() {
    let mut csv = String::from("氏名,住所\n");
    for i in 0..5000 {
        csv.push_str(&format!("佐藤 太郎{i},x\n"));
    }
    let mut opts = Options::default();
    opts.limits.max_cells = 1000;
    let r = scan_bytes("big.csv", csv.as_bytes(), &opts);
    assert!(r.truncated);
    assert!(r.problems.iter().any(|p| p.reason.contains("cell limit")));
}

#[test]
fn broken_pdfs_and_junk_are_problems_not_panics() {
    for (name, bytes) in [
        ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\nxref\n0 1\nzzzz\ntrailer << /Root 1 0 R /Size 999999999 >>\nstartxref\n12\n%%EOF".to_vec()),
        ("trunc.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<".to_vec()),
        ("junk.bin", vec![0, 159, 146, 150, 0, 0, 1, 2]),
        ("trunc.zip", b"PK\x03\x04\x14\x00\x00\x00\x08\x00".to_vec()),
        ("bad.xls", [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0, 0].to_vec()),
        ("bad.eml", b"From: a\r\nTo: b\r\nSubject: c\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!".to_vec()),
    ] {
        let r = scan_bytes(name, &bytes, &Options::default());
        assert!(!r.problems.is_empty() || name == "bad.eml", "{name}: {:?}", r);
    }
}

/// Found by `pii_zip` (2026-12-03): a mutated xlsx whose central directory renames
/// `xl/sharedStrings.xml` (and `_rels/.rels`). calamine 0.30.1 indexed the then-empty shared
/// string table (cells_reader.rs:356) and panicked inside our guarded call; 0.38 refuses the
/// package (no `_rels/.rels`). Either way the file comes back with a reason and no panic.
#[test]
fn fuzzed_xlsx_with_renamed_parts_is_a_problem_not_a_crash() {
    let b = include_bytes!("data/fuzz-calamine-cells-panic.zip");
    let r = scan_bytes("fuzz.zip", b, &Options::default());
    assert!(!r.problems.is_empty(), "{r:?}");
    assert!(r.problems.iter().all(|p| !p.reason.contains("parser panicked")), "{:?}", r.problems);
}

/// The same bug reached on a well-formed package: a sheet's `t="s"` cells point into a
/// shared-string table that is not there. calamine 0.30.1 panicked (caught by `guarded`, but
/// fatal under libFuzzer); 0.38 returns an error, reported as the sheet being unreadable.
#[test]
fn shared_string_cells_without_a_table_are_a_sheet_problem() {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet().set_name("名簿").unwrap();
    ws.write_string(0, 0, "氏名").unwrap();
    ws.write_string(1, 0, "山田 太郎").unwrap();
    let full = wb.save_to_buffer().unwrap();
    let mut src = zip::ZipArchive::new(std::io::Cursor::new(&full[..])).unwrap();
    let mut members: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..src.len() {
        let mut f = src.by_index(i).unwrap();
        if f.name() == "xl/sharedStrings.xml" {
            continue;
        }
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut b).unwrap();
        members.push((f.name().to_string(), b));
    }
    assert!(members.iter().any(|(n, _)| n == "xl/worksheets/sheet1.xml"));
    let refs: Vec<(&str, &[u8])> = members.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
    let broken = zip_of(&refs);
    let r = scan_bytes("no-strings.xlsx", &broken, &Options::default());
    assert_eq!(r.format, "xlsx");
    assert!(r.problems.iter().all(|p| !p.reason.contains("parser panicked")), "{:?}", r.problems);
    assert!(r.problems.iter().any(|p| p.reason.contains("sheet 名簿 unreadable")), "{:?}", r.problems);
}

#[path = "support/child.rs"]
mod child;

/// Runs `scan_bytes` on `bytes` in a child process (this test binary, running only
/// `child_scan`), so a crash no `catch_unwind` can stop fails one test, not the whole run.
fn scan_in_child(name: &str, bytes: &[u8]) -> child::ChildRun {
    child::run_child("child_scan", name, bytes, &[])
}

#[test]
#[ignore = "run by scan_in_child"]
fn child_scan() {
    let Some(p) = std::env::var_os("MAMORI_HOSTILE_FILE") else { return };
    let p = std::path::PathBuf::from(p);
    let bytes = std::fs::read(&p).unwrap();
    let r = scan_bytes(p.file_name().unwrap().to_str().unwrap(), &bytes, &Options::default());
    println!("CHILD-REPORT truncated={} problems={:?}", r.truncated, r.problems);
}

/// Found by `pii_zip` (2026-12-03, ASan build): a 13 KB mutated xls makes calamine 0.38's
/// `Xls::new` build a dense 6.1 GB cell range (`from_sparse`, xls.rs:724) before any sheet is
/// read. extract/biff.rs walks the BIFF records first and refuses the workbook, naming the
/// sheet, the claimed rows × columns and the limit. Run in a child process so that, should the
/// bound break, the allocation fails one test and not the run; the child's peak RSS (its own,
/// from `wait4`) shows it never got near 6 GB.
#[test]
fn fuzzed_xls_with_a_huge_claimed_range_stays_bounded() {
    let b = include_bytes!("data/fuzz-calamine-xls-oom.xls");
    let c = scan_in_child("oom.xls", b);
    let (status, out) = (&c.status, &c.out);
    assert!(c.ok && out.contains("CHILD-REPORT truncated=true"), "{status}\n{out}");
    assert!(out.contains("over the max_cells limit 5000000: not read") && out.contains("上限max_cells"), "{out}");
    assert!(out.contains(" rows × ") && out.contains(" columns = "), "{out}");
    let peak = c.peak_rss_kib;
    eprintln!("{out}\nchild peak RSS {peak} KiB");
    assert!(peak < 512 * 1024, "child peak RSS {peak} KiB");
}

/// Found by `pii_zip` (2026-12-03, with the pre-check of 86283fb): a 16 KB mutated xls whose
/// Workbook directory entry has a wrong name-length field. The cfb crate refuses it, so it went
/// to calamine unchecked, and calamine (which ignores that field) reserved 476 GB for the
/// DIMENSIONS record's claimed extent: the allocation failed and the process aborted.
/// biff.rs now reads such files as calamine does and checks them the same way; with its
/// DIMENSIONS record zeroed this one is read without a problem.
#[test]
fn fuzzed_xls_the_cfb_crate_refuses_is_still_checked() {
    let b = include_bytes!("data/fuzz-calamine-xls-dimensions.xls");
    let c = scan_in_child("dims.xls", b);
    let (status, out) = (&c.status, &c.out);
    assert!(c.ok && out.contains("CHILD-REPORT truncated=false problems=[]"), "{status}\n{out}");
    assert!(c.peak_rss_kib < 512 * 1024, "child peak RSS {} KiB", c.peak_rss_kib);
}

/// Found by `pii_zip` (2026-12-03, while fuzzing the xls bound): a UTF-16 text where an
/// address candidate ended inside the NFKC expansion of `㍛` ("3点"), so the finding's end
/// mapped into the middle of that character and cutting the snippet panicked (lib.rs
/// `snippet`). Findings are now widened to whole characters of the original.
#[test]
fn finding_ending_inside_an_expanded_character_does_not_panic() {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/fuzz-snippet-inside-expansion.txt")).unwrap();
    let r = scan_bytes("fuzz-snippet-inside-expansion.txt", &bytes, &Options::default());
    assert!(!r.findings.is_empty(), "{r:?}");
    // The same through a small text: a number that ends after the "3" of ㍛'s "3点".
    let t = "住所 奈良県三郷町西大切㍛丁目2番15号\n電話 06-1234-567㍛\n";
    let findings = mamori_pii::scan_text(t, &Options::default());
    assert!(!findings.is_empty());
}
