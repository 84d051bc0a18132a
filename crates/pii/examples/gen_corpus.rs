//! Write the labelled corpus to a directory and print precision/recall/F1 per kind (the
//! table in docs/pii.md): `cargo run --release -p mamori-pii --example gen_corpus -- OUT [N]`.

#[path = "../tests/support/corpus.rs"]
mod corpus;

use mamori_pii::{Kind, Options, scan_bytes};
use std::collections::BTreeMap;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = args.get(1).map(std::path::PathBuf::from);
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
    let debug = std::env::var("PII_DEBUG").ok();
    let docs = corpus::generate(n);
    let mut acc: BTreeMap<Kind, corpus::Counts> = BTreeMap::new();
    let mut by_format: BTreeMap<String, usize> = BTreeMap::new();
    for d in &docs {
        if let Some(o) = &out {
            std::fs::create_dir_all(o).unwrap();
            std::fs::write(o.join(&d.name), &d.bytes).unwrap();
        }
        let r = scan_bytes(&d.name, &d.bytes, &Options::default());
        *by_format.entry(r.format.clone()).or_default() += 1;
        if debug.as_deref() == Some(d.name.as_str()) {
            for f in &r.findings {
                println!("{:?} {:?} {:?} {:.2} {:?}", f.kind, f.value, f.location, f.confidence, f.member);
            }
            println!("{:?}", r.problems);
        }
        corpus::score(d, &r.findings, 0.5, &mut acc);
    }
    println!("documents: {} ({:?})\n", docs.len(), by_format);
    println!("| kind | labelled | TP | FP | FN | precision | recall | F1 |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (k, c) in &acc {
        println!("| `{}` | {} | {} | {} | {} | {:.3} | {:.3} | {:.3} |", k.as_str(), c.tp + c.fn_, c.tp, c.fp, c.fn_, c.precision(), c.recall(), c.f1());
    }
}
