//! Bench binary: load SigmaHQ rules and run them over a directory of EVTX files, printing
//! load time, evaluation time, events, matches. Release build:
//!
//! ```text
//! cargo run --release -p mamori-sigma --example hunt_bench -- \
//!     --rules ../shared/corpora/sigma-rules/rules/windows \
//!     --rules ../shared/corpora/sigma-rules/rules-threat-hunting/windows \
//!     --evtx ../shared/corpora/evtx [--threads 1]
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use mamori_sigma::{IssueKind, LoadOptions, RuleSet};

fn walk(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        let mut es: Vec<_> = std::fs::read_dir(p).unwrap().map(|e| e.unwrap().path()).collect();
        es.sort();
        es.iter().for_each(|e| walk(e, out));
    } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("evtx")) {
        out.push(p.to_owned());
    }
}

fn main() {
    let t0 = Instant::now();
    let mut rules = Vec::new();
    let mut evtx = Vec::new();
    let mut threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rules" => rules.push(PathBuf::from(args.next().expect("--rules DIR"))),
            "--evtx" => evtx.push(PathBuf::from(args.next().expect("--evtx PATH"))),
            "--threads" => threads = args.next().expect("--threads N").parse().expect("a number"),
            other => panic!("unknown argument {other}"),
        }
    }
    let (set, issues) = RuleSet::load_paths(&rules, &LoadOptions::default()).expect("rules");
    let t_load = t0.elapsed();
    let count = |k| issues.iter().filter(|i| i.kind == k).count();
    let mut files = Vec::new();
    evtx.iter().for_each(|p| walk(p, &mut files));
    let next = AtomicUsize::new(0);
    let t1 = Instant::now();
    let (events, matches, t_parse) = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let (mut ev, mut m, mut tp) = (0usize, 0usize, std::time::Duration::ZERO);
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(f) = files.get(i) else { break };
                        let Ok(mut p) = evtx::EvtxParser::from_path(f) else { continue };
                        let tp0 = Instant::now();
                        let recs: Vec<_> = p.records_json_value().filter_map(Result::ok).collect();
                        tp += tp0.elapsed();
                        for r in recs {
                            ev += 1;
                            m += set.matches(&r.data).len();
                        }
                    }
                    (ev, m, tp)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).fold((0, 0, std::time::Duration::ZERO), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2))
    });
    let t_eval = t1.elapsed();
    println!("rules loaded: {} (+{} correlations); unsupported: {}; errors: {}; warnings: {}", set.rules().len(), set.correlations().len(), count(IssueKind::Unsupported), count(IssueKind::Error), count(IssueKind::Warning));
    println!("files: {}; events: {events}; matches: {matches}; threads: {threads}", files.len());
    println!("load: {:.3} s; parse+match: {:.3} s (EVTX parse {:.3} s summed over threads); total: {:.3} s", t_load.as_secs_f64(), t_eval.as_secs_f64(), t_parse.as_secs_f64(), t0.elapsed().as_secs_f64());
}
