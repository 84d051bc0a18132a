//! Every finding, every field, as JSON Lines: the prose and dense mixes of `examples/speed.rs`
//! (scanned with `scan_bytes` as the benchmark does) and each document of the labelled corpus.
//! A faster scanner must print exactly the same: build this before and after a change and
//! `cmp` the outputs. `cargo run --release -p mamori-pii --example speed_dump -- [MB] > out.jsonl`

#[path = "../tests/support/corpus.rs"]
mod corpus;
#[path = "../tests/support/mix.rs"]
mod mix;

use std::io::Write;

fn dump(out: &mut impl Write, r: &mamori_pii::FileReport) {
    for f in &r.findings {
        let v = serde_json::json!({
            "path": r.path, "kind": f.kind, "value": f.value(), "location": f.location,
            "confidence": f.confidence, "before": f.before(), "after": f.after(), "count": f.count,
            "member": f.member, "values": f.values(), "context": f.context(false),
        });
        writeln!(out, "{v}").unwrap();
    }
    let s = serde_json::json!({"path": r.path, "format": r.format, "bytes": r.bytes, "problems": r.problems,
        "examined": r.examined, "truncated": r.truncated, "findings": r.findings.len()});
    writeln!(out, "{s}").unwrap();
}

fn main() {
    let mb: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(8);
    let opts = mamori_pii::Options::default();
    let docs = corpus::generate(200);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for prose in [true, false] {
        let t = mix::text(&docs, mb, prose);
        let name = if prose { "prose.txt" } else { "dense.txt" };
        dump(&mut out, &mamori_pii::scan_bytes(name, t.as_bytes(), &opts));
    }
    for d in corpus::generate(60).iter().chain(&docs) {
        dump(&mut out, &mamori_pii::scan_bytes(&d.name, &d.bytes, &opts));
    }
}
