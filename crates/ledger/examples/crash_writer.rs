//! Crash-test writer: appends random payloads to a ledger from several threads until killed.
//!
//! Usage: `crash_writer <ledger dir> <signer key file> [threads] [segment bytes] [max seconds]`
//!
//! Output (stdout, one flushed line each, only after the fact it reports):
//! - `OPEN <durable size> <checkpoint size>` once the ledger is open;
//! - `ACK <first index> <count> <sha256 hex of each payload …>` after each acknowledged
//!   (durable) append;
//! - `CP <size> <base64 of the signed checkpoint note>` for each newly published checkpoint;
//! - `ERR <message>` if opening or appending fails (exit status 2).
//!
//! `tests/crash.rs` runs this logic (it includes this file as a module) and SIGKILLs it at random
//! moments; it can also be run by hand: `cargo run -p mamori-ledger --example crash_writer -- …`.

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use mamori_ledger::{CheckpointSigner, EntryKind, Ledger, LedgerConfig, NewEntry};
use rand::Rng;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

static OUT: Mutex<()> = Mutex::new(());

fn say(line: &str) {
    let _g = OUT.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line.as_bytes());
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

fn die(msg: String) -> ! {
    say(&format!("ERR {}", msg.replace('\n', " ")));
    std::process::exit(2);
}

/// Runs the writer with `args` (without the program name).
pub fn run(args: &[String]) {
    let dir = args.first().unwrap_or_else(|| die("usage: crash_writer <dir> <key file> [threads] [segment bytes] [max seconds]".into()));
    let key_file = args.get(1).unwrap_or_else(|| die("missing key file".into()));
    let threads: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    let seg_bytes: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(256 << 10);
    let max_secs: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(60);

    let skey = std::fs::read_to_string(key_file).unwrap_or_else(|e| die(format!("{key_file}: {e}")));
    let signer = CheckpointSigner::from_skey(&skey).unwrap_or_else(|e| die(e.to_string()));
    let mut cfg = LedgerConfig::new(dir, signer);
    cfg.checkpoint_interval = Duration::from_millis(15);
    cfg.segment_bytes = seg_bytes;
    let ledger = Ledger::open(cfg).unwrap_or_else(|e| die(format!("open: {e}")));
    say(&format!("OPEN {} {}", ledger.durable_size(), ledger.checkpoint().size));
    let deadline = Instant::now() + Duration::from_secs(max_secs);

    std::thread::scope(|s| {
        for _ in 0..threads {
            let ledger = ledger.clone();
            s.spawn(move || {
                let mut rng = rand::thread_rng();
                while Instant::now() < deadline {
                    let n = rng.gen_range(1..=8);
                    let payloads: Vec<Vec<u8>> = (0..n)
                        .map(|_| {
                            let len = if rng.gen_bool(0.1) { rng.gen_range(2_000..=20_000) } else { rng.gen_range(0..=600) };
                            let mut v = vec![0u8; len];
                            rng.fill(&mut v[..]);
                            v
                        })
                        .collect();
                    let entries = payloads.iter().map(|p| NewEntry { kind: EntryKind::Event, payload: p.clone() }).collect();
                    let r = ledger.append_blocking(entries).unwrap_or_else(|e| die(format!("append: {e}")));
                    let mut line = format!("ACK {} {}", r.first_index, r.count);
                    for p in &payloads {
                        line.push(' ');
                        line.push_str(&hex::encode(Sha256::digest(p)));
                    }
                    say(&line);
                    std::thread::sleep(Duration::from_micros(rng.gen_range(500..5_000)));
                }
            });
        }
        let ledger = ledger.clone();
        s.spawn(move || {
            let mut last = None;
            while Instant::now() < deadline {
                let want = last.map_or(0, |l: u64| l + 1);
                let cp = ledger.wait_checkpoint(want, Duration::from_millis(50));
                if last.is_none_or(|l| cp.size > l) {
                    say(&format!("CP {} {}", cp.size, BASE64_STANDARD.encode(&cp.note)));
                    last = Some(cp.size);
                }
            }
        });
    });
    ledger.close();
}

#[allow(dead_code)]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    run(&args);
}
