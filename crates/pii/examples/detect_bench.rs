//! `detect::detect` alone on the speed mixes (examples/speed.rs), minus the lexicon's own time,
//! and a dump of its candidates to compare before/after a change.
//!
//! `cargo run --release -p mamori-pii --example detect_bench -- MODE [MB] [prose|dense]`
//! - `time`: best of 7 runs (CPU seconds, getrusage) of `Lexicon::find` and of `detect`,
//!   MB per CPU-second of each and of the difference (detection minus the lexicon).
//! - `lex` / `det`: the lexicon built, then one run of `Lexicon::find` / `detect` (for
//!   callgrind: `--toggle-collect='*Lexicon::find*'` / `'*detect::detect*'`).
//! - `scan`: one run of `scan_text` on the raw mix (normalise, detect, findings).
//! - `text`: the normalised mix itself.
//! - `dump`: every candidate of both mixes, one line each (kind, start, end, value,
//!   confidence bits) on stdout.

/// The mamori binary's allocator (crates/mamori/src/main.rs), as in examples/speed.rs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../tests/support/corpus.rs"]
mod corpus;
#[path = "../tests/support/mix.rs"]
mod mix;
#[path = "../tests/support/cpu.rs"]
mod cpu;

use mamori_pii::detect::detect;
use mamori_pii::lexicon::lexicon;
use cpu::cpu_seconds as cpu;
use std::io::Write;


fn best<T>(n: usize, mut f: impl FnMut() -> T) -> f64 {
    let mut b = f64::MAX;
    for _ in 0..n {
        let c0 = cpu();
        std::hint::black_box(f());
        b = b.min(cpu() - c0);
    }
    b
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("time");
    let mb: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(8);
    let which = args.get(3).map(String::as_str).unwrap_or("dense");
    let docs = corpus::generate(200);
    let text_of = |prose: bool| mamori_pii::normalize::normalize(&mix::text(&docs, mb, prose)).text.into_owned();
    match mode {
        "dump" => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            for prose in [true, false] {
                let t = text_of(prose);
                for c in detect(&t, None) {
                    writeln!(out, "{:?}\t{}\t{}\t{}\t{:08x}", c.kind, c.start, c.end, c.value, c.confidence.to_bits()).unwrap();
                }
            }
        }
        "text" => print!("{}", text_of(which == "prose")),
        "scan" => {
            // The whole text path (normalise, detect, findings with snippets and line/column),
            // once, on the raw mix: for callgrind `--toggle-collect='*scan_text*'`.
            let raw = mix::text(&docs, mb, which == "prose");
            std::hint::black_box(lexicon());
            std::hint::black_box(mamori_pii::scan_text(&raw, &mamori_pii::Options::default()));
        }
        "lex" | "det" => {
            let t = text_of(which == "prose");
            // Builds the lexicon outside the measured call.
            std::hint::black_box(lexicon());
            if mode == "lex" {
                std::hint::black_box(lexicon().find(&t));
            } else {
                std::hint::black_box(detect(&t, None));
            }
        }
        _ => {
            for prose in [false, true] {
                let t = text_of(prose);
                let size = t.len() as f64 / 1e6;
                std::hint::black_box(detect(&t, None));
                let tl = best(7, || lexicon().find(&t));
                let td = best(7, || detect(&t, None));
                println!(
                    "{}: {size:.1} MB: lexicon {:.0} MB/s ({tl:.4} s), detect {:.0} MB/s ({td:.4} s), detect minus lexicon {:.0} MB/s ({:.4} s)",
                    if prose { "prose" } else { "dense" },
                    size / tl,
                    size / td,
                    size / (td - tl),
                    td - tl
                );
            }
        }
    }
}
