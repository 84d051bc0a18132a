//! `Lexicon::find` alone on the speed mixes (`tests/support/mix.rs`), after normalisation as
//! `detect` runs it. `cargo run --release -p mamori-pii --example lex_bench -- MODE [MB]`:
//! - `dump`: every hit (Debug form) of both mixes, normalised and raw, one a line; a faster
//!   matcher must print exactly the same (`cmp` the outputs before and after a change);
//! - `bench`: MB per CPU-second of `find`, best of 9 runs, dense then prose;
//! - `text`: the normalised mix itself;
//! - `once`: one `find` over the dense mix (`PII_SPEED_MIX=prose`: the prose mix), for
//!   `valgrind --tool=callgrind` (instructions per byte, repeatable under load: inclusive `Ir`
//!   of `Lexicon::find` / bytes printed; the lexicon is built before, outside `find`).

#[path = "../tests/support/corpus.rs"]
mod corpus;
#[path = "../tests/support/mix.rs"]
mod mix;
#[path = "../tests/support/cpu.rs"]
mod cpu;

use mamori_pii::lexicon::lexicon;
use cpu::cpu_seconds;
use std::io::Write;


fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("bench");
    let mb: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(8);
    let docs = corpus::generate(200);
    let lex = lexicon();
    match mode {
        "dump" => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            for prose in [false, true] {
                let raw = mix::text(&docs, mb, prose);
                let norm = mamori_pii::normalize::normalize(&raw).text.into_owned();
                for (name, t) in [("normalized", norm.as_str()), ("raw", raw.as_str())] {
                    let hits = lex.find(t);
                    writeln!(out, "# {} {name}: {} bytes, {} hits", if prose { "prose" } else { "dense" }, t.len(), hits.len()).unwrap();
                    for h in hits {
                        writeln!(out, "{h:?}").unwrap();
                    }
                }
            }
        }
        "text" => {
            // The normalised mix itself (to look at what `find` sees).
            let prose = std::env::var("PII_SPEED_MIX").as_deref() == Ok("prose");
            let raw = mix::text(&docs, mb, prose);
            std::io::stdout().write_all(mamori_pii::normalize::normalize(&raw).text.as_bytes()).unwrap();
        }
        "once" => {
            let prose = std::env::var("PII_SPEED_MIX").as_deref() == Ok("prose");
            let raw = mix::text(&docs, mb, prose);
            let norm = mamori_pii::normalize::normalize(&raw).text.into_owned();
            let hits = lex.find(&norm);
            println!("{} bytes, {} hits", norm.len(), hits.len());
        }
        _ => {
            for prose in [false, true] {
                let raw = mix::text(&docs, mb, prose);
            let norm = mamori_pii::normalize::normalize(&raw).text.into_owned();
                let _ = lex.find(&norm);
                let mut best = f64::MAX;
                let mut hits = 0;
                for _ in 0..9 {
                    let c0 = cpu_seconds();
                    hits = std::hint::black_box(lex.find(std::hint::black_box(&norm))).len();
                    best = best.min(cpu_seconds() - c0);
                }
                println!(
                    "{}: {:.1} MB, find {:.0} MB per CPU-second (best of 9, {best:.4} s), {hits} hits",
                    if prose { "prose" } else { "dense" },
                    norm.len() as f64 / 1e6,
                    norm.len() as f64 / 1e6 / best
                );
            }
        }
    }
}
