//! Leak-tracing benchmark (a bench binary, numbers for docs/benchmarks.md and docs/trace.md):
//!
//! 1. fingerprint throughput: a 100,000-record business-system CSV (氏名,カナ,生年月日,住所,電話)
//!    read, normalised and keyed (records/s), and its segment written;
//! 2. the store: 10,000 exports × 10,000 records (100M record fingerprints) compacted into one
//!    memory-mapped index. Three exports are real (generated residents, real HMAC features);
//!    the other 9,997 are synthetic postings — uniformly random 64-bit values, which is what
//!    HMAC-SHA256 outputs are — at 4 postings per record (a 氏名・生年月日・住所 list: 3 pairs +
//!    the record feature), so building the store does not take 100M HMACs of bench time;
//! 3. trace: a 30,000-record leaked list (the three real exports merged and re-sorted, as CSV
//!    bytes) read, normalised, keyed and ranked against the whole store.
//!
//! `cargo bench -p mamori-trace --bench trace` (env: TRACE_BENCH_EXPORTS, TRACE_BENCH_RECORDS,
//! TRACE_BENCH_DIR). Needs ~3.5 GB of disk for the full size.

use mamori_trace::index::build_index;
use mamori_trace::synth::{Rng, export_csv, population};
use mamori_trace::{ExportMeta, FingerprintKey, FpStore, read_list};
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return; // `cargo test --benches` runs bench binaries with --test: nothing to check here.
    }
    let exports = env("TRACE_BENCH_EXPORTS", 10_000) as u32;
    let per = env("TRACE_BENCH_RECORDS", 10_000) as usize;
    let dir = std::env::var("TRACE_BENCH_DIR").map(std::path::PathBuf::from).unwrap_or_else(|_| std::env::temp_dir().join("mamori-trace-bench"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let key = FingerprintKey::new(b"bench installation key");

    // 1. Fingerprint throughput.
    let people = population(1, 100_000);
    let csv = export_csv(&people);
    let t = Instant::now();
    let list = read_list("export.csv", csv.as_bytes()).unwrap();
    let feats = mamori_trace::trace::list_features(&key, &list.records);
    let fp_secs = t.elapsed().as_secs_f64();
    assert_eq!(list.records.len(), 100_000);
    let store0 = FpStore::open(dir.join("fp-throughput")).unwrap();
    let t = Instant::now();
    let (nfeat, _) = store0.write_segment(0, feats.clone()).unwrap();
    let seg_secs = t.elapsed().as_secs_f64();
    println!(
        "fingerprint: {} records ({:.1} MB CSV) read+normalised+keyed in {:.2} s = {:.0} records/s ({:.1} features/record); segment write {:.3} s",
        list.records.len(),
        csv.len() as f64 / 1e6,
        fp_secs,
        list.records.len() as f64 / fp_secs,
        nfeat as f64 / list.records.len() as f64,
        seg_secs
    );

    // 2. The store.
    let real_nos = [1234u32, 5678, 9012].map(|n| n % exports);
    let mut real: Vec<Vec<u64>> = Vec::new();
    let mut real_lists = Vec::new();
    for (i, _) in real_nos.iter().enumerate() {
        let ppl = population(100 + i as u64, per);
        let l = read_list("x.csv", export_csv(&ppl).as_bytes()).unwrap();
        // Real lists of 氏名・生年月日・住所 (the shape the synthetic postings model).
        let recs: Vec<_> = l
            .records
            .into_iter()
            .map(|mut r| {
                r.record.kana = None;
                r.record.phone = None;
                r
            })
            .collect();
        let mut f = mamori_trace::trace::list_features(&key, &recs);
        f.sort_unstable();
        f.dedup();
        real.push(f);
        real_lists.push(ppl);
    }
    let real = Arc::new(real);
    let postings_per_record = 4u64;
    let sources = (0..exports).map(move |no| {
        let real = real.clone();
        let it: Box<dyn Iterator<Item = u64>> = match real_nos.iter().position(|r| *r == no) {
            Some(i) => Box::new((0..real[i].len()).map(move |j| real[i][j])),
            None => {
                let mut rng = Rng::new(0xB0B0_0000 + no as u64);
                Box::new((0..per as u64 * postings_per_record).map(move |_| rng.next_u64()))
            }
        };
        (no, it)
    });
    let fp_dir = dir.join("fp");
    std::fs::create_dir_all(fp_dir.join("seg")).unwrap();
    let t = Instant::now();
    build_index(&fp_dir.join("index.fpx"), exports as u64, sources).unwrap();
    let build_secs = t.elapsed().as_secs_f64();
    {
        let mut f = std::fs::File::create(fp_dir.join("exports.jsonl")).unwrap();
        for no in 0..exports {
            let m = ExportMeta {
                no,
                export_id: no as u64,
                ledger_id: no as u64,
                user: format!("user{no}"),
                time: "2026-04-01T09:00:00Z".into(),
                channel: "business-system-csv".into(),
                system: None,
                file_name: format!("export-{no}.csv"),
                file_sha256: String::new(),
                records: per as u64,
                features: per as u64 * postings_per_record,
                segment_sha256: String::new(),
            };
            writeln!(f, "{}", serde_json::to_string(&m).unwrap()).unwrap();
        }
    }
    let idx_bytes = std::fs::metadata(fp_dir.join("index.fpx")).unwrap().len();
    let records_total = exports as u64 * per as u64;
    println!(
        "store: {} exports × {} records = {} record fingerprints, {} postings; index {:.2} GB = {:.1} bytes/record ({:.2} bytes/posting); built in {:.1} s",
        exports,
        per,
        records_total,
        records_total * postings_per_record,
        idx_bytes as f64 / 1e9,
        idx_bytes as f64 / records_total as f64,
        idx_bytes as f64 / (records_total * postings_per_record) as f64,
        build_secs
    );

    // 3. Trace a 30,000-record leaked list.
    let mut leaked: Vec<_> = real_lists.concat();
    leaked.sort_by(|a, b| a.surname_kana.cmp(&b.surname_kana).then(a.birth.cmp(&b.birth)));
    let mut leak_csv = String::from("氏名,生年月日,住所\n");
    for r in &leaked {
        leak_csv.push_str(&format!("{},{},{}\n", r.name(), r.birth_wareki(), r.address()));
    }
    let t = Instant::now();
    let store = FpStore::open(&fp_dir).unwrap();
    let open_secs = t.elapsed().as_secs_f64();
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..5 {
        let t = Instant::now();
        let list = read_list("leak.csv", leak_csv.as_bytes()).unwrap();
        let r = mamori_trace::trace(&store, &key, &list.records, 10);
        times.push(t.elapsed().as_secs_f64());
        last = Some(r);
    }
    let r = last.unwrap();
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "trace: {} leaked records against {} record fingerprints: median {:.3} s, min {:.3} s, max {:.3} s (store open {:.3} s, index in page cache)",
        r.leaked, records_total, times[2], times[0], times[4], open_secs
    );
    for c in r.candidates.iter().take(4) {
        println!("  export {} matched {}/{} score {:.3}", c.export.no, c.matched, c.leaked, c.score);
    }
    let top: Vec<u32> = r.candidates.iter().take(3).map(|c| c.export.no).collect();
    assert!(real_nos.iter().all(|n| top.contains(n)), "the three real exports rank first: {top:?}");
    assert!(r.candidates.get(3).is_none_or(|c| c.score < 0.01));
    let _ = std::fs::remove_dir_all(&dir);
}
