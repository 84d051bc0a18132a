//! Per-parser throughput (MB/s of input and events/s), one parser at a time on one thread, input
//! already in memory: `cargo run --release -p mamori-sources --example parser_bench [-- FILTER]
//! [--evtx-dir DIR]`. Numbers go to docs/benchmarks.md ("Sources — per-parser throughput").
//! `-- evtx --evtx-out DIR [--evtx-threads N]` instead writes every EVTX item, whole, to one
//! JSON-lines file per input file (to compare two builds' output with `diff -r`).
//!
//! Inputs are generated here (deterministically) except EVTX, which is read from `--evtx-dir`
//! (default: the shared corpus `/work/shared/corpora/evtx`, every `*.evtx` below it). Each parser
//! runs until at least 1.5 s have passed; the best of three such runs is printed.

use std::time::{Duration, Instant};

// The allocator the mamori binary uses, so the numbers are what `mamori ingest` sees.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use chrono::Utc;
use mamori_sources::{
    Framer, FramingMode, Mapping, SyslogContext, parse_csv_mapped, parse_evtx, parse_evtx_threads, parse_ndjson,
    parse_syslog, parse_webhook,
};

struct Input {
    name: &'static str,
    what: String,
    bytes: u64,
    run: Box<dyn Fn() -> u64>,
}

/// CPU time (user + system) of the whole process so far, from /proc/self/stat (clock ticks of
/// 10 ms; the runs are ≥ 1.5 s, so the error is under 1 %).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, r)| r).split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

/// Best of three runs of ≥ 1.5 s: (MB/s, events/s, events per CPU second).
fn measure(i: &Input) -> (f64, f64, f64) {
    let mut best = (0.0f64, 0.0f64, 0.0f64);
    for _ in 0..3 {
        let t = Instant::now();
        let cpu = cpu_seconds();
        let (mut events, mut bytes) = (0u64, 0u64);
        while t.elapsed() < Duration::from_millis(1500) {
            events += (i.run)();
            bytes += i.bytes;
        }
        let s = t.elapsed().as_secs_f64();
        let c = cpu_seconds() - cpu;
        let r = (bytes as f64 / s / 1e6, events as f64 / s, events as f64 / c.max(0.01));
        if r.1 > best.1 {
            best = r;
        }
    }
    best
}

fn lines_with(f: impl Fn(usize) -> String, n: usize) -> Vec<u8> {
    (0..n).map(|i| f(i) + "\n").collect::<String>().into_bytes()
}

fn syslog_frames(body: &[u8]) -> u64 {
    let ctx = SyslogContext::new(Utc::now());
    let mut framer = Framer::new(FramingMode::NewlineDelimited);
    framer.push(body);
    let mut n = 0;
    while let Some(Ok(f)) = framer.next_frame() {
        if parse_syslog(&f.data, &ctx).is_ok() {
            n += 1;
        }
    }
    n
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let evtx_dir = args
        .iter()
        .position(|a| a == "--evtx-dir")
        .map(|i| args[i + 1].clone())
        .unwrap_or_else(|| "/work/shared/corpora/evtx".into());
    let filter: Option<&String> = args
        .iter()
        .find(|a| !a.starts_with("--") && **a != evtx_dir && !args.windows(2).any(|w| (w[0] == "--evtx-out" || w[0] == "--evtx-threads") && w[1] == **a));
    let want = |n: &str| filter.is_none_or(|f| n.contains(f.as_str()));
    let mut inputs: Vec<Input> = Vec::new();
    let n = 100_000;
    if want("syslog") {
        let rfc3164 = lines_with(
            |i| {
                format!(
                    "<86>Apr  1 09:{:02}:{:02} fs01 sshd[{}]: Accepted password for user{} from 10.1.{}.{} port {} ssh2",
                    i / 60 % 60,
                    i % 60,
                    4000 + i % 999,
                    i % 500,
                    i % 250,
                    i % 200,
                    40000 + i % 20000
                )
            },
            100_000,
        );
        inputs.push(Input {
            name: "syslog",
            what: "RFC 3164 sshd lines, LF-framed".into(),
            bytes: rfc3164.len() as u64,
            run: Box::new(move || syslog_frames(&rfc3164)),
        });
        let rfc5424 = lines_with(
            |i| {
                format!(
                    "<134>1 2026-04-01T09:{:02}:{:02}.123+09:00 fs01 app {} ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"App\"] 住民記録 を開きました {i}",
                    i / 60 % 60,
                    i % 60,
                    i % 999
                )
            },
            n,
        );
        inputs.push(Input {
            name: "syslog",
            what: "RFC 5424 with structured data, LF-framed".into(),
            bytes: rfc5424.len() as u64,
            run: Box::new(move || syslog_frames(&rfc5424)),
        });
    }
    if want("samba_audit") {
        let samba = lines_with(
            |i| {
                format!(
                    "<173>Apr  1 09:{:02}:{:02} fs01 smbd_audit: user{}|10.0.{}.{}|pc{}|juki|/srv/juki|openat|ok|r|住民/台帳{}.xlsx",
                    i / 60 % 60,
                    i % 60,
                    i % 300,
                    i % 250,
                    i % 200,
                    i % 50,
                    i
                )
            },
            n,
        );
        inputs.push(Input {
            name: "samba_audit",
            what: "vfs_full_audit lines via syslog".into(),
            bytes: samba.len() as u64,
            run: Box::new(move || syslog_frames(&samba)),
        });
    }
    if want("ndjson") {
        let nd = lines_with(
            |i| {
                format!(
                    "{{\"@timestamp\":\"2026-04-01T00:00:{:02}Z\",\"event\":{{\"action\":\"file-read\",\"category\":[\"file\"]}},\"user\":{{\"name\":\"user{}\"}},\"host\":{{\"name\":\"pc{}\"}},\"file\":{{\"path\":\"/srv/juki/住民/台帳{}.xlsx\"}},\"message\":\"{}\"}}",
                    i % 60,
                    i % 500,
                    i % 200,
                    i,
                    "x".repeat(700)
                )
            },
            n,
        );
        inputs.push(Input {
            name: "ndjson",
            what: "≈ 1 KB ECS documents".into(),
            bytes: nd.len() as u64,
            run: Box::new(move || {
                parse_ndjson(&nd, 1 << 20)
                    .into_iter()
                    .filter(Result::is_ok)
                    .count() as u64
            }),
        });
    }
    if want("csv_mapping") {
        // Business CSV: the shipped layouts (same generator shape as tests/business_csv.rs).
        let codes = ["照会", "一覧出力", "CSV出力", "印刷", "更新"];
        let juki: String = std::iter::once("操作日時,端末名,操作者ID,操作者名,業務,画面ID,操作区分,宛名番号,対象件数,処理結果\r\n".to_owned())
        .chain((0..n).map(|i| format!("令和6年4月{}日 {:02}:{:02}:{:02},PC-{:03},user{},職員 {},住民記録,JKR0{},{},{:012},{},正常\r\n", 1 + i % 28, 8 + i % 10, i % 60, i / 60 % 60, i % 40, i % 300, i % 300, i % 10, codes[i % 5], i * 7919, 1 + i % 300)))
        .collect();
        let juki = encoding_rs::SHIFT_JIS.encode(&juki).0.into_owned();
        let m = Mapping::builtin("juki-a").unwrap();
        inputs.push(Input {
            name: "csv_mapping",
            what: "juki-a: CP932, 和暦 date-time".into(),
            bytes: juki.len() as u64,
            run: Box::new(move || {
                parse_csv_mapped(&m, "b", &juki, Utc::now())
                    .rows
                    .iter()
                    .filter(|r| r.is_ok())
                    .count() as u64
            }),
        });
        let zeimu: String = std::iter::once(
            "処理日時,ユーザーID,クライアント,機能名,操作種別,対象者番号,出力件数,結果コード\n"
                .to_owned(),
        )
        .chain((0..n).map(|i| {
            format!(
                "2024/04/{:02} {:02}:{:02}:{:02},user{},TAX-PC{:02},課税台帳,{},{:012},{},0\n",
                1 + i % 28,
                8 + i % 10,
                i % 60,
                i / 60 % 60,
                i % 300,
                i % 40,
                codes[i % 5],
                i * 7919,
                1 + i % 300
            )
        }))
        .collect();
        let zeimu = zeimu.into_bytes();
        let m = Mapping::builtin("zeimu-b").unwrap();
        inputs.push(Input {
            name: "csv_mapping",
            what: "zeimu-b: UTF-8, %Y/%m/%d %H:%M:%S".into(),
            bytes: zeimu.len() as u64,
            run: Box::new(move || {
                parse_csv_mapped(&m, "b", &zeimu, Utc::now())
                    .rows
                    .iter()
                    .filter(|r| r.is_ok())
                    .count() as u64
            }),
        });
    }
    if want("webhook") {
        let chat = lines_with(
            |i| {
                format!(
                    "{{\"event_id\":\"Ev{i}\",\"event_time\":{},\"event\":{{\"type\":\"message\",\"subtype\":\"file_share\",\"user\":\"user{}\",\"user_email\":\"user{}@city.example.lg.jp\",\"channel\":\"C{}\",\"channel_name\":\"jumin-ka\",\"text\":\"連絡 {i}\",\"files\":[{{\"name\":\"名簿{i}.xlsx\",\"size\":{},\"sha256\":\"{:064x}\"}}]}},\"recipients\":[{{\"email\":\"a@city.example.lg.jp\",\"external\":false}},{{\"email\":\"b@example.com\",\"external\":true}}]}}",
                    1_711_933_200 + i,
                    i % 300,
                    i % 300,
                    i % 50,
                    1000 + i,
                    i
                )
            },
            n,
        );
        let m = Mapping::builtin("chat-a").unwrap();
        inputs.push(Input {
            name: "webhook",
            what: "chat-a: JSON lines, file shares with 2 recipients".into(),
            bytes: chat.len() as u64,
            run: Box::new(move || {
                parse_webhook(&m, "b", &chat, Utc::now())
                    .iter()
                    .filter(|r| r.is_ok())
                    .count() as u64
            }),
        });
    }
    // EVTX: every file of the corpus, parsed and mapped to ECS.
    let mut files = Vec::new();
    let mut stack = if want("evtx") {
        vec![std::path::PathBuf::from(&evtx_dir)]
    } else {
        Vec::new()
    };
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "evtx") {
                files.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    files.sort();
    if let Some(i) = args.iter().position(|a| a == "--evtx-out") {
        // Pinning the ECS output: every item of every file, written whole, to compare two
        // builds with `diff -r` (no timing).
        let out = std::path::PathBuf::from(&args[i + 1]);
        std::fs::create_dir_all(&out).unwrap();
        let threads: usize = args
            .iter()
            .position(|a| a == "--evtx-threads")
            .map_or(1, |i| args[i + 1].parse().unwrap());
        for (n, b) in &files {
            let mut text = String::new();
            for item in parse_evtx_threads(n, b, threads) {
                let line = match item {
                    Ok(e) => serde_json::json!({"chunk": e.chunk, "record": e.record, "offset": e.offset, "doc": e.doc, "json": e.json}),
                    Err(e) => serde_json::json!({"error": e.to_string(), "debug": format!("{e:?}")}),
                };
                text.push_str(&line.to_string());
                text.push('\n');
            }
            let name = n.trim_start_matches(&evtx_dir).replace('/', "_");
            std::fs::write(out.join(format!("{name}.jsonl")), text).unwrap();
        }
        println!("wrote {} files to {}", files.len(), out.display());
        return;
    }
    if !files.is_empty() {
        let bytes: u64 = files.iter().map(|(_, b)| b.len() as u64).sum();
        let what = format!(
            "{} files of {evtx_dir} ({:.1} MB)",
            files.len(),
            bytes as f64 / 1e6
        );
        // A floor for any parser that returns these documents: cloning (allocating and
        // filling) the same `Map`s and dropping them, without parsing anything.
        let docs: Vec<serde_json::Map<String, serde_json::Value>> =
            files.iter().flat_map(|(n, b)| parse_evtx_threads(n, b, 1)).filter_map(Result::ok).map(|e| e.doc).collect();
        inputs.push(Input {
            name: "evtx",
            what: format!("{what}: only cloning and dropping the resulting ECS documents (a floor)"),
            bytes,
            run: Box::new(move || docs.to_vec().len() as u64),
        });
        // One thread (the per-core figure), then `parse_evtx`'s default: all cores.
        let files = std::sync::Arc::new(files);
        for threads in [1, 0] {
            let files = files.clone();
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            inputs.push(Input {
                name: "evtx",
                what: if threads == 1 { format!("{what}, 1 thread") } else { format!("{what}, {cores} threads") },
                bytes,
                run: Box::new(move || {
                    files
                        .iter()
                        .map(|(n, b)| {
                            let items = if threads == 1 { parse_evtx_threads(n, b, 1) } else { parse_evtx(n, b) };
                            items.iter().filter(|r| r.is_ok()).count() as u64
                        })
                        .sum()
                }),
            });
        }
    }

    println!("| parser | input | MB/s | events/s | events per CPU s |");
    println!("|---|---|---:|---:|---:|");
    for i in &inputs {
        let (mbs, eps, epc) = measure(i);
        println!("| {} | {} | {mbs:.1} | {eps:.0} | {epc:.0} |", i.name, i.what);
    }
}
