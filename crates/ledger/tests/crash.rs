//! Crash safety: a writer process (examples/crash_writer.rs) is SIGKILLed at random moments, over
//! and over, on the same ledger directory. After every kill the ledger is reopened and must hold
//! every acknowledged entry with its exact payload, verify completely, and extend every
//! checkpoint the writer had published.
//!
//! The writer runs as a child process of this test binary (the `crash_writer_child` test below,
//! selected with an environment variable), so no separate build step is needed: `cargo test`,
//! `cargo test --test crash` and a clean CI checkout all work the same.
//!
//! Knobs: MAMORI_CRASH_ITERS (default 100), MAMORI_CRASH_SEED (default random, printed).

#[path = "../examples/crash_writer.rs"]
#[allow(dead_code)]
mod crash_writer;

mod common;

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use common::*;
use mamori_ledger::merkle::EMPTY_TREE_HASH;
use mamori_ledger::verify::verify_log;
use mamori_ledger::{Ledger, SignedCheckpoint};
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tlog_tiles::check_tree;

const CHILD_ENV: &str = "MAMORI_CRASH_WRITER_ARGS";

/// Not a test on its own: the crash writer, when this binary is started by `crash_loop`.
#[test]
fn crash_writer_child() {
    let Ok(args) = std::env::var(CHILD_ENV) else { return };
    let args: Vec<String> = args.split('\u{1f}').map(str::to_owned).collect();
    crash_writer::run(&args);
}

struct Ack {
    first: u64,
    digests: Vec<String>,
}

struct Printed {
    size: u64,
    note: Vec<u8>,
}

/// Runs the writer for `ms` milliseconds, SIGKILLs it, and returns its complete output lines.
fn run_and_kill(args: &[String], ms: u64) -> Vec<String> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_writer_child", "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env(CHILD_ENV, args.join("\u{1f}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut r = std::io::BufReader::new(stdout);
        let mut lines = Vec::new();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                // A line cut by the kill has no newline: it was never fully reported.
                Ok(_) if buf.ends_with(b"\n") => lines.push(String::from_utf8_lossy(&buf[..buf.len() - 1]).into_owned()),
                Ok(_) => break,
            }
        }
        lines
    });
    std::thread::sleep(Duration::from_millis(ms));
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    reader.join().unwrap()
}

fn check_acks(l: &Ledger, acks: &[Ack]) {
    let durable = l.durable_size();
    for a in acks {
        let n = a.digests.len() as u64;
        assert!(a.first + n <= durable, "acknowledged entries {}..{} lost (durable size {durable})", a.first, a.first + n);
        let recs = l.records_from(a.first).read(a.first + n, n as usize).unwrap();
        assert_eq!(recs.len() as u64, n);
        for (k, (r, d)) in recs.iter().zip(&a.digests).enumerate() {
            assert_eq!(r.index, a.first + k as u64);
            assert!(r.payload_matches());
            assert_eq!(&hex::encode(Sha256::digest(&r.payload)), d, "payload of entry {}", r.index);
        }
    }
}

fn check_consistent(l: &Ledger, printed: &[Printed]) {
    let cur = l.checkpoint();
    for p in printed {
        let (cp, _) = SignedCheckpoint::verify(&p.note, &vkey(), &[]).unwrap();
        assert_eq!(cp.size, p.size);
        assert!(cp.size <= cur.size, "checkpoint {} was published, the log now has {}", cp.size, cur.size);
        if cp.size == 0 {
            assert_eq!(cp.root, EMPTY_TREE_HASH);
            continue;
        }
        let proof = l.consistency_proof(cp.size, cur.size).unwrap();
        assert_eq!(proof.old_root, cp.root, "root at {} changed", cp.size);
        check_tree(&proof.hashes, cur.size, cur.root, cp.size, cp.root)
            .unwrap_or_else(|e| panic!("checkpoint {} is not consistent with {}: {e:?}", cp.size, cur.size));
    }
}

#[test]
fn crash_loop() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let iters: usize = std::env::var("MAMORI_CRASH_ITERS").ok().and_then(|s| s.parse().ok()).unwrap_or(100);
    let seed: u64 = std::env::var("MAMORI_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    eprintln!("crash_loop: {iters} iterations, MAMORI_CRASH_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    let key = tmp.path().join("log.key");
    std::fs::write(&key, fixed_skey(ORIGIN, 7)).unwrap();
    // Small segments so that kills also land around segment roll-over.
    let args: Vec<String> =
        vec![dir.display().to_string(), key.display().to_string(), "3".into(), (256 << 10).to_string(), "30".into()];

    let started = Instant::now();
    let mut all_acks = Vec::new();
    let mut all_printed: Vec<Printed> = Vec::new();
    let mut iterations_with_acks = 0;
    let mut kills_before_open = 0;
    for it in 0..iters {
        let ms = rng.gen_range(20..=300);
        let lines = run_and_kill(&args, ms);
        let mut acks = Vec::new();
        let mut printed = Vec::new();
        let mut opened = false;
        for line in &lines {
            let mut f = line.split(' ');
            match f.next() {
                Some("OPEN") => opened = true,
                Some("ACK") => {
                    let first = f.next().unwrap().parse().unwrap();
                    let count: usize = f.next().unwrap().parse().unwrap();
                    let digests: Vec<String> = f.map(str::to_owned).collect();
                    assert_eq!(digests.len(), count, "{line}");
                    acks.push(Ack { first, digests });
                }
                Some("CP") => {
                    let size = f.next().unwrap().parse().unwrap();
                    let note = BASE64_STANDARD.decode(f.next().unwrap()).unwrap();
                    printed.push(Printed { size, note });
                }
                Some("ERR") => panic!("iteration {it}: writer failed: {line}"),
                _ => {} // test harness chatter
            }
        }
        kills_before_open += usize::from(!opened);
        iterations_with_acks += usize::from(!acks.is_empty());

        // Recover in-process and check everything the writer reported before it died.
        let l = Ledger::open(config(&dir)).unwrap_or_else(|e| panic!("iteration {it} (killed after {ms} ms): reopen failed: {e}"));
        let cur = l.checkpoint();
        assert_eq!(cur.size, l.durable_size(), "recovery integrates every durable entry");
        check_acks(&l, &acks);
        check_consistent(&l, &printed);
        let mut o = opts(&dir);
        o.trusted_checkpoint = all_printed.iter().chain(&printed).max_by_key(|p| p.size).map(|p| p.note.clone());
        let report = verify_log(&store(&dir), &o).unwrap_or_else(|e| panic!("iteration {it}: verify: {e}"));
        assert_eq!((report.size, report.root), (cur.size, cur.root));
        assert_eq!(report.payloads_checked, cur.size);
        l.close();
        all_acks.extend(acks);
        all_printed.extend(printed);
    }

    // Everything from every iteration, once more, against the final state.
    let l = Ledger::open(config(&dir)).unwrap();
    check_acks(&l, &all_acks);
    check_consistent(&l, &all_printed);
    let size = l.durable_size();
    l.close();
    let acked: usize = all_acks.iter().map(|a| a.digests.len()).sum();
    eprintln!(
        "crash_loop: {iters} kills in {:.1?}; {acked} acknowledged entries ({} appends), {} checkpoints printed, final size {size}, {} segments, {kills_before_open} kills before open completed",
        started.elapsed(),
        all_acks.len(),
        all_printed.len(),
        std::fs::read_dir(dir.join("wal")).unwrap().count(),
    );
    assert!(iterations_with_acks >= iters / 2, "only {iterations_with_acks} of {iters} runs got to acknowledge anything");
    assert!(all_printed.len() >= iters, "too few checkpoints published");
    assert!(size >= acked as u64);
}
