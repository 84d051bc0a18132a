//! Ledger benchmarks (plain `main`, `harness = false`):
//!
//! 1. durable appends/s and ack latency (p50/p99) for 256 B, 1 KiB and 4 KiB payloads with 1, 8
//!    and 64 writer threads, each submitting batches and waiting for the acknowledgement;
//! 2. 512-byte events against the "≥ 100,000 durable events/s" target;
//! 3. a large log (LEDGER_BENCH_BIG entries, default 10,000,000): build time, inclusion and
//!    consistency proof time, and whole-log verification time.
//!
//! Run: `cargo bench -p mamori-ledger --bench ledger_bench`. Knobs (environment):
//! LEDGER_BENCH_SECS (seconds per throughput config, default 3), LEDGER_BENCH_BIG (size of the
//! large log, 0 to skip), LEDGER_BENCH_DIR (scratch directory; default target/ledger-bench,
//! which must be on a real disk, not tmpfs, for the fsync numbers to mean anything).
//! Results are written up in docs/benchmarks-ledger.md.

use mamori_ledger::merkle::leaf_hash;
use mamori_ledger::storage::FsTileStore;
use mamori_ledger::verify::{VerifyOptions, verify_log};
use mamori_ledger::{CheckpointSigner, EntryKind, Ledger, LedgerConfig, NewEntry, SubmitError};
use rand::Rng;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn scratch() -> PathBuf {
    let base = std::env::var("LEDGER_BENCH_DIR").map(PathBuf::from).unwrap_or_else(|_| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/ledger-bench")
    });
    std::fs::create_dir_all(&base).unwrap();
    base
}

fn signer() -> CheckpointSigner {
    CheckpointSigner::generate("bench.example/ledger").unwrap().0
}

/// Appends `entries` and waits for the acknowledgement, retrying while the queue is full.
fn append(l: &Ledger, entries: Vec<NewEntry>) -> u64 {
    let mut entries = Some(entries);
    loop {
        // `submit` consumes the batch; on Busy we need it again, so keep a copy only then.
        let batch = entries.take().unwrap();
        let copy = batch.clone();
        match l.submit(batch) {
            Ok(rx) => return rx.blocking_recv().unwrap().unwrap().count,
            Err(SubmitError::Busy) => {
                entries = Some(copy);
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(e) => panic!("{e}"),
        }
    }
}

struct Result_ {
    events_per_s: f64,
    mb_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    appends: usize,
    commits: u64,
    fsync_avg_ms: f64,
    cp_lag_ms: f64,
}

fn throughput(payload: usize, writers: usize, batch: usize, secs: u64) -> Result_ {
    let tmp = tempfile::tempdir_in(scratch()).unwrap();
    let l = Ledger::open(LedgerConfig::new(tmp.path(), signer())).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(writers + 1));
    let mut handles = Vec::new();
    for _ in 0..writers {
        let (l, stop, start) = (l.clone(), stop.clone(), start.clone());
        handles.push(std::thread::spawn(move || {
            let mut rng = rand::thread_rng();
            let mut template = vec![0u8; payload];
            rng.fill(&mut template[..]);
            let mut lat = Vec::new();
            let mut n = 0u64;
            start.wait();
            while !stop.load(Ordering::Relaxed) {
                let entries: Vec<NewEntry> = (0..batch)
                    .map(|i| {
                        let mut p = template.clone();
                        p[..8].copy_from_slice(&(n + i as u64).to_le_bytes());
                        NewEntry { kind: EntryKind::Event, payload: p }
                    })
                    .collect();
                let t0 = Instant::now();
                n += append(&l, entries);
                lat.push(t0.elapsed());
            }
            (n, lat)
        }));
    }
    start.wait();
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    let mut lat = Vec::new();
    for h in handles {
        let (n, l) = h.join().unwrap();
        total += n;
        lat.extend(l);
    }
    let elapsed = t0.elapsed().as_secs_f64();
    // How long after the last ack the checkpoint covering everything appears.
    let t1 = Instant::now();
    let cp = l.wait_checkpoint(total, Duration::from_secs(60));
    assert_eq!(cp.size, total);
    let cp_lag_ms = t1.elapsed().as_secs_f64() * 1e3;
    let st = l.stats();
    let commits = st.commits.load(Ordering::Relaxed);
    let fsync_avg_ms = st.fsync_nanos.load(Ordering::Relaxed) as f64 / commits.max(1) as f64 / 1e6;
    l.close();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1e3;
    Result_ {
        events_per_s: total as f64 / elapsed,
        mb_per_s: total as f64 * payload as f64 / elapsed / 1e6,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        appends: lat.len(),
        commits,
        fsync_avg_ms,
        cp_lag_ms,
    }
}

fn print_row(name: &str, payload: usize, writers: usize, batch: usize, r: &Result_) {
    println!(
        "| {name} | {payload} | {writers} | {batch} | {:.0} | {:.1} | {:.2} | {:.2} | {} | {} | {:.2} | {:.0} |",
        r.events_per_s, r.mb_per_s, r.p50_ms, r.p99_ms, r.appends, r.commits, r.fsync_avg_ms, r.cp_lag_ms
    );
}

fn fsync_probe() {
    // Raw device cost of one small write + fdatasync, for context.
    use std::io::Write;
    let tmp = tempfile::tempdir_in(scratch()).unwrap();
    let mut f = std::fs::File::create(tmp.path().join("probe")).unwrap();
    let buf = vec![7u8; 4096];
    let n = 200;
    let t0 = Instant::now();
    for _ in 0..n {
        f.write_all(&buf).unwrap();
        f.sync_data().unwrap();
    }
    println!("raw 4 KiB write+fdatasync: {:.3} ms each ({n} runs)", t0.elapsed().as_secs_f64() * 1e3 / n as f64);
    let big = vec![7u8; 8 << 20];
    let t0 = Instant::now();
    for _ in 0..8 {
        f.write_all(&big).unwrap();
        f.sync_data().unwrap();
    }
    println!("raw 8 MiB write+fdatasync: {:.1} MB/s", 64.0 * 1.048576 / t0.elapsed().as_secs_f64());
    let t0 = Instant::now();
    let data = vec![1u8; 512 + 16];
    let mut acc = 0u8;
    for i in 0..1_000_000u32 {
        let mut d = data.clone();
        d[..4].copy_from_slice(&i.to_le_bytes());
        acc ^= leaf_hash(&d).0[0];
    }
    println!(
        "SHA-256 of 528 bytes (commitment-sized): {:.0} ns each ({acc})",
        t0.elapsed().as_secs_f64() * 1e9 / 1e6
    );
}

fn big_log(size: u64) {
    let tmp = tempfile::tempdir_in(scratch()).unwrap();
    let s = signer();
    let vkey = s.vkey().to_owned();
    let l = Ledger::open(LedgerConfig::new(tmp.path(), s)).unwrap();
    let batch = 16_384u64;
    let t0 = Instant::now();
    std::thread::scope(|sc| {
        for w in 0..2u64 {
            let l = l.clone();
            sc.spawn(move || {
                let mut i = w * batch;
                while i < size {
                    let k = batch.min(size - i);
                    let entries =
                        (0..k).map(|j| NewEntry { kind: EntryKind::Event, payload: (i + j).to_le_bytes().to_vec() }).collect();
                    append(&l, entries);
                    i += 2 * batch;
                }
            });
        }
    });
    let acked = t0.elapsed();
    let cp = l.wait_checkpoint(size, Duration::from_secs(600));
    assert_eq!(cp.size, size);
    let built = t0.elapsed();
    println!(
        "big log: {size} entries (8-byte payloads) durable in {:.1} s ({:.0}/s), integrated+checkpointed in {:.1} s",
        acked.as_secs_f64(),
        size as f64 / acked.as_secs_f64(),
        built.as_secs_f64()
    );
    let du = dir_size(tmp.path());
    println!("big log: {:.2} GB on disk ({:.0} bytes/entry)", du as f64 / 1e9, du as f64 / size as f64);

    let mut rng = rand::thread_rng();
    let n = 1000;
    let t0 = Instant::now();
    for _ in 0..n {
        let i = rng.gen_range(0..size);
        let p = l.inclusion_proof(i).unwrap();
        tlog_tiles::check_record(&p.hashes, p.tree_size, p.root, i, leaf_hash(&p.entry)).unwrap();
    }
    println!("inclusion proof (+ check) at size {size}: {:.1} µs each ({n} random indexes)", t0.elapsed().as_secs_f64() * 1e6 / n as f64);
    let t0 = Instant::now();
    for _ in 0..n {
        let old = rng.gen_range(1..size);
        let p = l.consistency_proof(old, size).unwrap();
        tlog_tiles::check_tree(&p.hashes, size, p.new_root, old, p.old_root).unwrap();
    }
    println!("consistency proof (+ check) old→{size}: {:.1} µs each ({n} random old sizes)", t0.elapsed().as_secs_f64() * 1e6 / n as f64);
    l.close();

    let st = FsTileStore::new(tmp.path());
    let mut o = VerifyOptions { log_vkey: vkey, previous_log_vkeys: vec![], witness_vkeys: vec![], trusted_checkpoint: Some(cp.note.clone()), payload_dir: None };
    let t0 = Instant::now();
    let r = verify_log(&st, &o).unwrap();
    assert_eq!(r.size, size);
    println!("verify_log (tiles only) at {size}: {:.1} s", t0.elapsed().as_secs_f64());
    o.payload_dir = Some(tmp.path().join("wal"));
    let t0 = Instant::now();
    let r = verify_log(&st, &o).unwrap();
    assert_eq!(r.payloads_checked, size);
    println!("verify_log (tiles + every payload) at {size}: {:.1} s", t0.elapsed().as_secs_f64());
    let t0 = Instant::now();
    let l = Ledger::open(LedgerConfig::new(tmp.path(), CheckpointSigner::generate("x.example/y").unwrap().0));
    // A foreign key must be refused at once (the checkpoint is verified before anything else).
    assert!(l.is_err());
    println!("open with the wrong key refused in {:.1} ms", t0.elapsed().as_secs_f64() * 1e3);
}

fn dir_size(p: &Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(p).unwrap() {
        let e = e.unwrap();
        let m = e.metadata().unwrap();
        n += if m.is_dir() { dir_size(&e.path()) } else { m.len() };
    }
    n
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let secs = env_u64("LEDGER_BENCH_SECS", 3);
    let big = env_u64("LEDGER_BENCH_BIG", 10_000_000);
    println!("scratch dir: {}", scratch().display());
    fsync_probe();
    println!();
    println!("| config | payload B | writers | batch | events/s | payload MB/s | p50 ack ms | p99 ack ms | appends | group commits | avg fsync ms | checkpoint lag ms |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for payload in [256usize, 1024, 4096] {
        for writers in [1usize, 8, 64] {
            let batch = 64;
            let r = throughput(payload, writers, batch, secs);
            print_row("matrix", payload, writers, batch, &r);
        }
    }
    for (writers, batch) in [(1usize, 1usize), (8, 1), (64, 1), (8, 256), (64, 256), (4, 4096)] {
        let r = throughput(512, writers, batch, secs);
        print_row("512 B target", 512, writers, batch, &r);
    }
    println!();
    if big > 0 {
        big_log(big);
    }
}
