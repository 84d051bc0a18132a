//! `scan_path` reads each file into a buffer kept per thread, and the normalised text of each
//! goes into another (see `KEEP_BUFFER_BYTES` in lib.rs): file after file — large, then
//! smaller, then in another format — must give exactly what `scan_bytes` gives for the same
//! bytes, with nothing left over from the file before.

#[path = "support/corpus.rs"]
mod corpus;
#[path = "support/mix.rs"]
mod mix;

use mamori_pii::{FileReport, Options, scan_bytes, scan_path};

fn summary(r: &FileReport) -> String {
    let f: Vec<String> = r
        .findings
        .iter()
        .map(|f| format!("{:?} {} {:?} {} [{}|{}] {} {:?}", f.kind, f.value(), f.location, f.confidence, f.before(), f.after(), f.count, f.member))
        .collect();
    format!("{} {} {:?} {} {}\n{}", r.format, r.bytes, r.problems.iter().map(|p| &p.reason).collect::<Vec<_>>(), r.examined, r.truncated, f.join("\n"))
}

#[test]
fn files_in_a_row_scan_as_if_each_were_alone() {
    let docs = corpus::generate(40);
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default();
    // A large text with full-width digits (normalised into the kept buffer), then every corpus
    // document (CSV, xlsx, zip, eml, CP932 …, most smaller), then the large text again.
    let big = mix::text(&docs, 2, false);
    assert!(big.contains('０') || big.contains('：') || big.contains('－'), "the mix needs normalising");
    let mut files: Vec<(String, Vec<u8>)> = vec![("big.txt".into(), big.clone().into_bytes())];
    files.extend(docs.iter().map(|d| (d.name.clone(), d.bytes.clone())));
    files.push(("big-again.txt".into(), big.into_bytes()));
    let mut with_findings = 0;
    for (name, bytes) in &files {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let from_path = scan_path(&p, &opts);
        let from_bytes = scan_bytes(name, bytes, &opts);
        assert_eq!(summary(&from_path), summary(&from_bytes), "{name}");
        with_findings += usize::from(!from_path.findings.is_empty());
    }
    assert!(with_findings > files.len() / 2, "{with_findings} of {} files had findings", files.len());
}
