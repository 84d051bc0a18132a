//! `scan_path` over one speed mix (examples/speed.rs) many times, for a sampling profiler
//! (`perf record -e cpu-clock -g`) and for timing a change in many short runs: prints the
//! best and the median run in MB/s (wall; one thread).
//!
//! `cargo run --release -p mamori-pii --example scan_loop -- [RUNS] [MB]`, the prose mix with
//! `PII_SPEED_MIX=prose` (as for examples/speed.rs).

/// The mamori binary's allocator (crates/mamori/src/main.rs), as in examples/speed.rs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../tests/support/corpus.rs"]
mod corpus;
#[path = "../tests/support/mix.rs"]
mod mix;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(30).max(1);
    let mb: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(32);
    let prose = std::env::var("PII_SPEED_MIX").as_deref() == Ok("prose");
    let text = mix::text(&corpus::generate(200), mb, prose);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("plain.txt");
    std::fs::write(&path, &text).expect("write the mix");
    let opts = mamori_pii::Options::default();
    // Warm up: the lexicon is built, the thread's buffers are grown.
    let findings = mamori_pii::scan_path(&path, &opts).findings.len();
    let mut secs: Vec<f64> = (0..runs)
        .map(|_| {
            let t0 = std::time::Instant::now();
            std::hint::black_box(mamori_pii::scan_path(&path, &opts));
            t0.elapsed().as_secs_f64()
        })
        .collect();
    secs.sort_by(f64::total_cmp);
    let size = text.len() as f64 / 1e6;
    println!(
        "{}: {size:.1} MB, {findings} findings, {runs} runs: best {:.0} MB/s, median {:.0} MB/s",
        if prose { "prose" } else { "dense" },
        size / secs[0],
        size / secs[runs / 2]
    );
}
