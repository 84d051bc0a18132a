//! Indexing and query benchmark for mamori-store.
//!
//! `cargo bench -p mamori-store --bench index_bench -- [N]` (or `MAMORI_BENCH_N=N`), default
//! 1,000,000 synthetic ~1 KB ECS events (~600 staff, ~50 hosts, ~20 actions, Japanese folder
//! names), generated as JSON payload bytes like the ledger's, parsed (timed separately) and
//! indexed with the bytes passed as `IndexEvent::raw`, in batches of 16384 (`MAMORI_BENCH_BATCH`);
//! then timeline and search latencies. The database goes to
//! `$MAMORI_BENCH_DIR` (default: the system temp dir) and is deleted afterwards unless
//! `MAMORI_BENCH_KEEP=1`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mamori_store::{EventKind, IndexEvent, Query, Store};
use serde_json::{Value, json};

const DEFAULT_BATCH: usize = 16384;
const USERS: usize = 600;
const HOSTS: usize = 50;
/// 2024-04-01T00:00:00+09:00
const START_SECS: i64 = 1_711_897_200;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const ACTIONS: [&str; 20] = [
    "file-read",
    "file-write",
    "file-copy",
    "file-delete",
    "file-rename",
    "print",
    "logon",
    "logoff",
    "logon-failed",
    "usb-mount",
    "usb-copy",
    "mail-send",
    "mail-attach",
    "web-upload",
    "db-query",
    "db-export",
    "record-view",
    "record-update",
    "record-print",
    "permission-change",
];
const DEPTS: [&str; 10] = [
    "住民課",
    "税務課",
    "福祉課",
    "子育て支援課",
    "総務課",
    "保険年金課",
    "介護保険課",
    "選挙管理委員会",
    "教育委員会",
    "都市計画課",
];
const FOLDERS: [&str; 10] = [
    "住民基本台帳",
    "課税台帳",
    "生活保護",
    "児童手当",
    "人事記録",
    "国民健康保険",
    "要介護認定",
    "選挙人名簿",
    "就学援助",
    "固定資産",
];
const FILES: [&str; 8] = [
    "一覧",
    "申請書",
    "決定通知",
    "台帳",
    "集計",
    "照会回答",
    "名簿",
    "調査票",
];
const EXTS: [&str; 5] = ["xlsx", "docx", "pdf", "csv", "txt"];

fn user_name(i: usize) -> String {
    const FAMILY: [&str; 30] = [
        "sato",
        "suzuki",
        "takahashi",
        "tanaka",
        "ito",
        "watanabe",
        "yamamoto",
        "nakamura",
        "kobayashi",
        "kato",
        "yoshida",
        "yamada",
        "sasaki",
        "yamaguchi",
        "matsumoto",
        "inoue",
        "kimura",
        "hayashi",
        "saito",
        "shimizu",
        "yamazaki",
        "mori",
        "abe",
        "ikeda",
        "hashimoto",
        "yamashita",
        "ishikawa",
        "nakajima",
        "maeda",
        "fujita",
    ];
    format!("{}.{:03}", FAMILY[i % FAMILY.len()], i)
}

fn make_doc(rng: &mut Rng, i: u64, ts_secs: i64) -> Value {
    let u = rng.below(USERS);
    let user = user_name(u);
    let host = format!("pc-{:03}", (u * 7 + rng.below(3)) % HOSTS);
    let action = ACTIONS[rng.below(ACTIONS.len())];
    let dept = DEPTS[u % DEPTS.len()];
    let folder = FOLDERS[rng.below(FOLDERS.len())];
    let fname = format!(
        "{}_{}{:04}",
        folder,
        FILES[rng.below(FILES.len())],
        rng.below(5000)
    );
    let ext = EXTS[rng.below(EXTS.len())];
    let path = format!("\\\\fs01\\共有\\{dept}\\{folder}\\R6年度\\{fname}.{ext}");
    let micros = rng.below(1_000_000);
    let ts = chrono::DateTime::from_timestamp(ts_secs, micros as u32 * 1000)
        .unwrap()
        .with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).unwrap())
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
    let ip = format!("10.20.{}.{}", u / 250, u % 250 + 2);
    let message = format!("職員 {user} が {path} を {action} しました（端末 {host}）");
    let original = format!(
        "<14>1 {ts} {host} FileAudit 4663 - - An attempt was made to access an object. Subject: CITY\\{user} \
         Object: {path} Access: {action} Result: Success"
    );
    json!({
        "@timestamp": ts,
        "ecs": {"version": "8.11.0"},
        "event": {
            "action": action, "category": ["file"], "type": ["access"], "outcome": "success",
            "dataset": "windows.fileaudit", "code": "4663", "original": original,
            "sequence": i,
        },
        "user": {"name": user, "domain": "CITY", "id": format!("S-1-5-21-1004336348-1177238915-682003330-{}", 1000 + u)},
        "host": {"name": host, "ip": [ip], "os": {"family": "windows", "version": "10.0.19045"}},
        "file": {"path": path, "name": format!("{fname}.{ext}"), "extension": ext, "size": rng.below(5_000_000)},
        "process": {"name": "EXCEL.EXE", "pid": rng.below(60000)},
        "message": message,
        "mamori": {"source": "syslog:514"},
    })
}

/// CPU time (user + system) of the calling thread so far, from /proc (10 ms ticks; summed over
/// many calls this is unbiased enough). Zero where /proc is unavailable.
fn thread_cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/thread-self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(name: &str, mut d: Vec<Duration>, rows: usize) {
    d.sort();
    println!(
        "{name:<46} n={:<4} p50={:>9.3?} p99={:>9.3?} max={:>9.3?} (avg rows {:.0})",
        d.len(),
        pct(&d, 0.5),
        pct(&d, 0.99),
        d[d.len() - 1],
        rows as f64 / d.len() as f64
    );
}

fn dir_size(path: &std::path::Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|s| {
            let mut p = path.as_os_str().to_owned();
            p.push(s);
            std::fs::metadata(PathBuf::from(p)).ok().map(|m| m.len())
        })
        .sum()
}

fn main() {
    let n: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.replace('_', "").parse().ok())
        .or_else(|| {
            std::env::var("MAMORI_BENCH_N")
                .ok()
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(1_000_000);
    // Query-only mode against a database kept by an earlier run (MAMORI_BENCH_KEEP=1).
    if let Some(db) = std::env::var_os("MAMORI_BENCH_QUERY_ONLY") {
        let path = PathBuf::from(db);
        let n = Store::open_read_only(&path).unwrap().stats().unwrap().total;
        println!(
            "mamori-store index_bench: query-only on {} ({n} events)",
            path.display()
        );
        queries(&path, n);
        return;
    }
    let dir = std::env::var_os("MAMORI_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let path = dir.join(format!("mamori-store-bench-{}.db", std::process::id()));
    Store::remove_files(&path).unwrap();
    let mut store = Store::open(&path).unwrap();
    println!("mamori-store index_bench: N={n}, db={}", path.display());

    // ~30 events/s over the period: 10M events ≈ 4 months.
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut gen_time = Duration::ZERO;
    // MAMORI_BENCH_BATCH: events per index_batch call (default 4096, the server indexer's read
    // size at the time of the first measurements).
    let batch: usize = std::env::var("MAMORI_BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_BATCH);
    println!("batch={batch} events per index_batch call");
    let mut index_time = Duration::ZERO;
    let mut parse_time = Duration::ZERO;
    let mut index_cpu = Duration::ZERO;
    // MAMORI_BENCH_NO_RAW=1: do not pass the payload bytes (index_batch re-serializes `doc`).
    let no_raw = std::env::var_os("MAMORI_BENCH_NO_RAW").is_some();
    let mut doc_bytes: u64 = 0;
    let mut next_id = 0u64;
    let t_all = Instant::now();
    let mut last_report = Instant::now();
    let kind = EventKind::Event;
    while next_id < n {
        let m = batch.min((n - next_id) as usize);
        let g = Instant::now();
        // The ledger holds payload bytes: generate them, then (timed separately) parse them as
        // the server's indexer does (`indexer::doc_of`) and hand both to index_batch.
        let payloads: Vec<Vec<u8>> = (0..m as u64)
            .map(|k| {
                let id = next_id + k;
                // Mostly in order, a few seconds of jitter.
                let ts = START_SECS + (id / 30) as i64 - rng.below(5) as i64;
                serde_json::to_vec(&make_doc(&mut rng, id, ts)).unwrap()
            })
            .collect();
        let sample_left = 20_480u64.saturating_sub(next_id) as usize;
        doc_bytes += payloads
            .iter()
            .take(sample_left)
            .map(|p| p.len() as u64)
            .sum::<u64>();
        gen_time += g.elapsed();
        let p = Instant::now();
        let docs: Vec<Value> = payloads
            .iter()
            .map(|p| serde_json::from_slice(p).unwrap())
            .collect();
        parse_time += p.elapsed();
        let evs: Vec<IndexEvent<'_>> = docs
            .iter()
            .zip(&payloads)
            .enumerate()
            .map(|(k, (d, raw))| IndexEvent {
                id: next_id + k as u64,
                ingested_micros: 0,
                kind: kind.clone(),
                doc: d,
                raw: (!no_raw).then_some(raw.as_slice()),
            })
            .collect();
        let t = Instant::now();
        let c = thread_cpu();
        store.index_batch(&evs).unwrap();
        index_cpu += thread_cpu() - c;
        index_time += t.elapsed();
        next_id += m as u64;
        if last_report.elapsed() > Duration::from_secs(30) {
            println!(
                "  .. {next_id} events, {:.0} ev/s indexing so far, {:.1} s elapsed",
                next_id as f64 / index_time.as_secs_f64(),
                t_all.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
    }
    let sample = n.min(20_480);
    let t = Instant::now();
    store.checkpoint().unwrap();
    let ckpt = t.elapsed();
    let size = dir_size(&path);
    println!(
        "avg document size            : {:.0} bytes (JSON, first {sample} events)",
        doc_bytes as f64 / sample as f64
    );
    println!(
        "indexing (index_batch only)  : {:.0} events/s ({:.1} s for {n})",
        n as f64 / index_time.as_secs_f64(),
        index_time.as_secs_f64()
    );
    println!(
        "index_batch CPU time         : {:.1} s = {:.0} events per CPU-second (less sensitive to other load)",
        index_cpu.as_secs_f64(),
        n as f64 / index_cpu.as_secs_f64()
    );
    println!(
        "incl. JSON parse (as indexer): {:.0} events/s (parse {:.1} s)",
        n as f64 / (index_time + parse_time).as_secs_f64(),
        parse_time.as_secs_f64()
    );
    println!(
        "incl. synthetic generation   : {:.0} events/s (generation {:.1} s)",
        n as f64 / (index_time + parse_time + gen_time).as_secs_f64(),
        gen_time.as_secs_f64()
    );
    println!("final WAL checkpoint         : {ckpt:.2?}");
    println!(
        "on disk                      : {:.1} MiB, {:.0} bytes/event",
        size as f64 / 1048576.0,
        size as f64 / n as f64
    );

    // Table vs index sizes, if dbstat is available.
    if let Ok(c) = rusqlite::Connection::open(&path)
        && let Ok(mut st) = c.prepare(
            "SELECT CASE WHEN name LIKE 'events_fts%' THEN 'events_fts (all shadow tables)' ELSE name END AS n, sum(pgsize) \
             FROM dbstat GROUP BY n ORDER BY 2 DESC",
        )
    {
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))).unwrap();
        for r in rows.flatten() {
            println!("  {:<32} {:>8.1} MiB  {:>5.0} bytes/event", r.0, r.1 as f64 / 1048576.0, r.1 as f64 / n as f64);
        }
    }

    drop(store);
    queries(&path, n);
    if std::env::var("MAMORI_BENCH_KEEP").is_err() {
        Store::remove_files(&path).unwrap();
    } else {
        println!("kept {}", path.display());
    }
}

fn queries(path: &std::path::Path, n: u64) {
    // Query latencies on a freshly opened (cold-ish: page cache of the OS is warm) connection.
    let store = Store::open_read_only(path).unwrap();
    let mut qrng = Rng(42);
    let span_secs = (n / 30) as i64;
    let iso = |s: i64| {
        chrono::DateTime::from_timestamp(s, 0)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let mut run = |name: &str, count: usize, f: &mut dyn FnMut(&mut Rng) -> usize| {
        let mut d = Vec::with_capacity(count);
        let mut rows = 0;
        for _ in 0..count {
            let t = Instant::now();
            rows += f(&mut qrng);
            d.push(t.elapsed());
        }
        report(name, d, rows);
    };
    run("timeline(random user, limit 100)", 100, &mut |r| {
        store
            .timeline(&user_name(r.below(USERS)), None, None, Some(100), None)
            .unwrap()
            .events
            .len()
    });
    run(
        "timeline(random user, random 1-day window)",
        100,
        &mut |r| {
            let from = START_SECS + r.below(span_secs.max(1) as usize) as i64;
            store
                .timeline(
                    &user_name(r.below(USERS)),
                    Some(&iso(from)),
                    Some(&iso(from + 86_400)),
                    Some(100),
                    None,
                )
                .unwrap()
                .events
                .len()
        },
    );
    run("timeline(random user, page 5 via cursors)", 20, &mut |r| {
        let u = user_name(r.below(USERS));
        let mut c: Option<String> = None;
        let mut rows = 0;
        for _ in 0..5 {
            let p = store
                .timeline(&u, None, None, Some(100), c.as_deref())
                .unwrap();
            rows = p.events.len();
            c = p.next_cursor;
        }
        rows
    });
    let mut search = |name: &str, count: usize, mk: &dyn Fn(&mut Rng) -> Query| {
        run(name, count, &mut |r| {
            store.search(&mk(r)).unwrap().events.len()
        });
    };
    search("search(newest 100, no filter)", 50, &|_| Query::default());
    search("search(user=random)", 50, &|r| Query {
        user: Some(user_name(r.below(USERS))),
        ..Default::default()
    });
    search("search(action=random of 20)", 50, &|r| Query {
        action: Some(ACTIONS[r.below(20)].into()),
        ..Default::default()
    });
    search("search(host=random of 50)", 50, &|r| Query {
        host: Some(format!("pc-{:03}", r.below(HOSTS))),
        ..Default::default()
    });
    search("search(path prefix dept\\folder)", 20, &|r| Query {
        path: Some(format!(
            "\\\\fs01\\共有\\{}\\{}\\",
            DEPTS[r.below(10)],
            FOLDERS[r.below(10)]
        )),
        ..Default::default()
    });
    search("search(q=common term 住民基本台帳)", 10, &|_| Query {
        q: Some("住民基本台帳".into()),
        ..Default::default()
    });
    search("search(q=rare: file name, ~N/40000 hits)", 20, &|r| Query {
        q: Some(format!("{}{:04}", FILES[r.below(8)], r.below(5000))),
        ..Default::default()
    });
    search("search(q=~2.5% term e.g. 申請書1)", 20, &|r| Query {
        q: Some(format!("{}{}", FILES[r.below(8)], r.below(5))),
        ..Default::default()
    });
    search("search(q=~0.25% term e.g. 申請書12)", 20, &|r| Query {
        q: Some(format!("{}{:02}", FILES[r.below(8)], r.below(50))),
        ..Default::default()
    });
    // Worst case of trigram candidates: every trigram of `Success:` is in every event
    // (`Success`, `Access:`), the term in none, so all candidates are checked and rejected.
    search("search(q=no hit, common trigrams: Success:)", 3, &|_| {
        Query {
            q: Some("Success:".into()),
            ..Default::default()
        }
    });
    search("search(q=term + user)", 20, &|r| Query {
        q: Some("住民基本台帳".into()),
        user: Some(user_name(r.below(USERS))),
        ..Default::default()
    });
    let st = Instant::now();
    let stats = store.stats().unwrap();
    println!(
        "stats(): {:?} total={} in {:?}",
        stats.by_kind,
        stats.total,
        st.elapsed()
    );
}
