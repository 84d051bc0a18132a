//! Write the labelled corpus to a directory and print precision/recall/F1 per kind and the
//! documents, labels and TP/FP/FN per format (the tables in docs/pii.md):
//! `cargo run --release -p mamori-pii --example gen_corpus -- OUT [N]`.
//! `… --example gen_corpus -- --fixture-sources DIR` writes the docx/xlsx/HTML that
//! scripts/make-pii-fixtures.sh converts with LibreOffice and Chromium.
//! Time per file: `--example time_files` (each file in its own process, with its peak RSS).

#[path = "../tests/support/corpus.rs"]
mod corpus;

use mamori_pii::{Kind, Options, scan_bytes};
use std::collections::BTreeMap;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--fixture-sources") {
        let dir = std::path::PathBuf::from(args.get(2).expect("--fixture-sources DIR"));
        std::fs::create_dir_all(&dir).unwrap();
        for (n, b) in corpus::fixture_sources() {
            std::fs::write(dir.join(&n), b).unwrap();
            println!("{}", dir.join(n).display());
        }
        return;
    }
    let out = args.get(1).filter(|s| !s.is_empty() && *s != "-").map(std::path::PathBuf::from);
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
    let debug = std::env::var("PII_DEBUG").ok();
    let docs = corpus::generate(n);
    let mut acc: BTreeMap<Kind, corpus::Counts> = BTreeMap::new();
    let mut formats: BTreeMap<String, corpus::FormatRow> = BTreeMap::new();
    for d in &docs {
        if let Some(o) = &out {
            std::fs::create_dir_all(o).unwrap();
            std::fs::write(o.join(&d.name), &d.bytes).unwrap();
        }
        let r = scan_bytes(&d.name, &d.bytes, &Options::default());
        if debug.as_deref() == Some(d.name.as_str()) {
            for f in &r.findings {
                println!("{:?} {:?} {:?} {:.2} {:?}", f.kind, f.value(), f.location, f.confidence, f.member);
            }
            println!("{:?}", r.problems);
        }
        let mut per_doc = BTreeMap::new();
        let (fps, fns) = corpus::score(d, &r.findings, 0.5, &mut per_doc);
        if std::env::var("PII_MISSES").is_ok() {
            for x in fps {
                println!("{} FP {:?} {}", d.name, x.0, x.1);
            }
            for x in fns {
                println!("{} FN {:?} {}", d.name, x.0, x.1);
            }
        }
        formats.entry(corpus::format_of(&d.name, &r.format)).or_default().add(d, &per_doc);
        for (k, c) in per_doc {
            let a = acc.entry(k).or_default();
            a.tp += c.tp;
            a.fp += c.fp;
            a.fn_ += c.fn_;
        }
    }
    println!("documents: {}\n", docs.len());
    println!("| kind | labelled | TP | FP | FN | precision | recall | F1 |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (k, c) in &acc {
        println!("| `{}` | {} | {} | {} | {} | {:.3} | {:.3} | {:.3} |", k.as_str(), c.tp + c.fn_, c.tp, c.fp, c.fn_, c.precision(), c.recall(), c.f1());
    }
    println!("\n| format | documents | labelled | TP | FP | FN | F1 |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (f, r) in &formats {
        println!("| {f} | {} | {} | {} | {} | {} | {:.3} |", r.docs, r.c.tp + r.c.fn_, r.c.tp, r.c.fp, r.c.fn_, r.c.f1());
    }
}
