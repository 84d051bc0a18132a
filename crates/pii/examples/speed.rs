//! Throughput of the text scanner on plain text, side by side with ripgrep running an
//! equivalent pattern set (the same surnames, municipalities and context words, plus regexes
//! for the number shapes, e-mail and era dates) over the same file, and time per xlsx/pdf
//! file. `cargo run --release -p mamori-pii --example speed -- [MB] [pdf files...]`
//! Numbers go to docs/benchmarks.md and docs/pii.md.

/// The mamori binary's allocator (crates/mamori/src/main.rs): `mamori scan` runs on it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../tests/support/corpus.rs"]
mod corpus;
#[path = "../tests/support/mix.rs"]
mod mix;
#[path = "../tests/support/cpu.rs"]
mod cpu;

use cpu::{cpu_seconds_of as cpu_seconds, user_sys};
use std::io::Write;
use std::time::Instant;

/// Best of `n` runs of `f`: (wall seconds, CPU seconds) of the run with the least CPU.
fn best_of<T>(n: usize, who: i32, mut f: impl FnMut() -> T) -> (f64, f64, T) {
    let mut best = (f64::MAX, f64::MAX);
    let mut last = None;
    for _ in 0..n {
        let c0 = cpu_seconds(who);
        let t0 = Instant::now();
        let r = f();
        let wall = t0.elapsed().as_secs_f64();
        let cpu = cpu_seconds(who) - c0;
        if cpu < best.1 {
            best = (wall, cpu);
        }
        last = Some(r);
    }
    (best.0, best.1, last.expect("n > 0"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mb: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(64);
    let extra: Vec<String> = args.iter().skip(2).cloned().collect();
    let docs = corpus::generate(200);
    // PII_SPEED_MIX=prose: ordinary documents (a form or case note every ~8 KB of prose),
    // as on a share; default: the dense corpus (a record every ~300 bytes).
    let prose = std::env::var("PII_SPEED_MIX").as_deref() == Ok("prose");
    let text = mix::text(&docs, mb, prose);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.txt");
    std::fs::write(&path, &text).unwrap();
    let opts = mamori_pii::Options::default();
    // Warm up (builds the automaton).
    let mut w = 1 << 20;
    while !text.is_char_boundary(w) {
        w -= 1;
    }
    let _ = mamori_pii::scan_text(&text[..w], &opts);
    let size = text.len() as f64 / 1e6;
    // Reading the file (page cache) is timed too, as it is for ripgrep.
    let us0 = user_sys(libc::RUSAGE_SELF);
    // `scan_path` reads the file into the thread's kept buffer (as a share scan does, file
    // after file); the five runs are five such files.
    let (wall, cpu, n) = best_of(5, libc::RUSAGE_SELF, || mamori_pii::scan_path(&path, &opts).findings.len());
    let us1 = user_sys(libc::RUSAGE_SELF);
    println!(
        "mamori-pii scan_path: {size:.1} MB: {:.0} MB/s per CPU-second ({cpu:.3} s CPU), {:.0} MB/s wall ({wall:.3} s), 1 thread, {n} findings; all 5 runs: user {:.3} s, sys {:.3} s",
        size / cpu,
        size / wall,
        us1.0 - us0.0,
        us1.1 - us0.1
    );
    // Normalisation, the lexicon's matchers and detection alone.
    let (_, tn, norm) = best_of(3, libc::RUSAGE_SELF, || mamori_pii::normalize::normalize(&text));
    let (_, ta, hits) = best_of(3, libc::RUSAGE_SELF, || mamori_pii::lexicon::lexicon().find(&norm.text).len());
    let (_, td, c) = best_of(3, libc::RUSAGE_SELF, || mamori_pii::detect::detect(&norm.text, None).len());
    println!("  (CPU) normalize {:.0} MB/s, lexicon matchers alone {:.0} MB/s ({hits} hits), detect incl. matchers {:.0} MB/s ({c} candidates)", size / tn, size / ta, size / td);

    // ripgrep with an equivalent pattern set.
    let pats = dir.path().join("patterns.txt");
    let mut f = std::fs::File::create(&pats).unwrap();
    for w in include_str!("../data/surnames.txt").lines().filter(|w| w.chars().count() >= 2) {
        writeln!(f, "{w}").unwrap();
    }
    for l in include_str!("../data/municipalities.tsv").lines().filter(|l| !l.starts_with('#')) {
        for w in l.split('\t').skip(1).filter(|w| !w.is_empty()) {
            writeln!(f, "{w}").unwrap();
        }
    }
    for w in ["個人番号", "マイナンバー", "法人番号", "住民票コード", "基礎年金番号", "運転免許証", "旅券番号", "被保険者", "口座番号", "カード番号", "電話", "郵便番号", "住所", "生年月日", "氏名", "注文番号", "請求書番号", "課長", "市役所"] {
        writeln!(f, "{w}").unwrap();
    }
    drop(f);
    let rx = dir.path().join("regex.txt");
    std::fs::write(
        &rx,
        [
            r"[0-9]{4}[- ]?[0-9]{4}[- ]?[0-9]{4}",
            r"0[0-9]{1,4}-[0-9]{1,4}-[0-9]{4}",
            r"[0-9]{3}-[0-9]{4}",
            r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
            r"(明治|大正|昭和|平成|令和)[0-9元]{1,2}年[0-9]{1,2}月[0-9]{1,2}日",
            r"[MTSHR][0-9]{1,2}\.[0-9]{1,2}\.[0-9]{1,2}",
            r"[A-Z]{2}[0-9]{7}",
        ]
        .join("\n"),
    )
    .unwrap();
    for (label, argv) in [
        ("words (fixed strings)", vec!["-c", "-j1", "-F", "-f", pats.to_str().unwrap(), path.to_str().unwrap()]),
        ("number/e-mail/date regexes", vec!["-c", "-j1", "-f", rx.to_str().unwrap(), path.to_str().unwrap()]),
        ("both", vec!["-c", "-j1", "-f", pats.to_str().unwrap(), "-f", rx.to_str().unwrap(), path.to_str().unwrap()]),
    ] {
        let mut failed = None;
        let (wall, cpu, out) = best_of(3, libc::RUSAGE_CHILDREN, || match std::process::Command::new("rg").args(&argv).output() {
            Ok(o) => String::from_utf8_lossy(&o.stdout).trim().to_string(),
            Err(e) => {
                failed = Some(e.to_string());
                String::new()
            }
        });
        if let Some(e) = failed {
            println!("ripgrep not available: {e}");
            return;
        }
        println!(
            "ripgrep -j1 {label}: {:.0} MB/s per CPU-second ({cpu:.3} s CPU), {:.0} MB/s wall ({wall:.3} s) (matching lines: {out})",
            size / cpu,
            size / wall
        );
    }

    // Time per xlsx file (the 200-resident roster) and any PDFs given.
    let xlsx = docs.iter().find(|d| d.name == "roster.xlsx").unwrap();
    let t0 = Instant::now();
    let r = mamori_pii::scan_bytes("roster.xlsx", &xlsx.bytes, &opts);
    println!("xlsx {} rows ({} KB): {:.1} ms, {} findings", 200, xlsx.bytes.len() / 1024, t0.elapsed().as_secs_f64() * 1e3, r.findings.len());
    for p in extra {
        let b = std::fs::read(&p).unwrap();
        let t0 = Instant::now();
        let r = mamori_pii::scan_bytes(&p, &b, &opts);
        println!("{p} ({} KB): {:.1} ms, {} findings, problems {:?}", b.len() / 1024, t0.elapsed().as_secs_f64() * 1e3, r.findings.len(), r.problems);
    }
}
