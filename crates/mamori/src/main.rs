//! `mamori`: thin glue over the crates — init, serve, ingest, search, verify, proofs.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use mamori_ledger::storage::{FsTileStore, TileSource};
use mamori_ledger::verify::{VerifyOptions, verify_log};
use mamori_server::pipeline::Origin;
use mamori_server::{AppState, DataDir};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

// mimalloc instead of glibc malloc: EVTX ingest builds and frees ~100 small allocations per
// record, and glibc's free/consolidate was about half its time (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cmd_alerts;
mod cmd_case;
mod cmd_demo;
mod cmd_directory;
mod cmd_hunt;
mod cmd_scan;
mod cmd_mapping;
mod cmd_prefecture;
mod cmd_trace;

#[derive(Parser)]
#[command(name = "mamori", version, about = "守り — 改ざんできない監査証跡と内部不正検知 / tamper-evident audit trail")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args, Clone)]
struct DataArg {
    /// Data directory (default ./mamori-data, or $MAMORI_DATA).
    #[arg(long, env = "MAMORI_DATA", default_value = "mamori-data")]
    data: PathBuf,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a data directory: keys, config, ledger, index, and a first admin token.
    Init {
        #[command(flatten)]
        d: DataArg,
        /// Checkpoint origin (the log's name), e.g. mamori.city.example.lg.jp/audit.
        #[arg(long, default_value = "mamori.example.lg.jp/audit")]
        origin: String,
    },
    /// Run the server.
    Serve {
        #[command(flatten)]
        d: DataArg,
        /// HTTP listen address (overrides config).
        #[arg(long)]
        listen: Option<String>,
        /// Syslog TCP listen address (overrides config).
        #[arg(long)]
        syslog_tcp: Option<String>,
        /// Syslog UDP listen address (overrides config).
        #[arg(long)]
        syslog_udp: Option<String>,
        /// Syslog over TLS (RFC 5425) listen address (overrides config; needs a certificate).
        #[arg(long)]
        syslog_tls: Option<String>,
        /// PEM certificate chain: serve HTTPS (and syslog TLS) with it.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key for --tls-cert.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Demo: generate the demo city (if absent), load it into a new data directory through the
        /// real ingest paths, and create an officer login (printed once).
        #[arg(long)]
        demo: bool,
    },
    /// Ingest files (or - for stdin) into a data directory or a running server.
    Ingest {
        #[command(flatten)]
        d: DataArg,
        /// Input format: ecs-ndjson, syslog, evtx, csv-mapping, webhook, auditd, usbguard,
        /// journald, postfix, squid, cups-page, cups-access (or roster).
        #[arg(long, default_value = "ecs-ndjson")]
        format: String,
        /// Send to a running server instead of writing the data directory.
        #[arg(long)]
        server: Option<String>,
        /// API token for --server.
        #[arg(long, env = "MAMORI_TOKEN")]
        token: Option<String>,
        /// Mapping for --format csv-mapping / webhook: a shipped or ledgered name (juki-a,
        /// zeimu-b, fukushi-c, chat-a, share-b …) or a TOML file. With --format roster: a
        /// roster mapping for another layout (jinji-a, a TOML file, or a ledgered name).
        #[arg(long)]
        mapping: Option<String>,
        /// Files; - for stdin.
        files: Vec<PathBuf>,
    },
    /// Declarative mappings for business-system CSV and webhooks: check, set, list.
    #[command(subcommand)]
    Mapping(cmd_mapping::MappingCmd),
    /// Tenant mode for a prefecture: init, add-city, serve (many cities, one ClickHouse index).
    #[command(subcommand)]
    Prefecture(cmd_prefecture::PrefectureCmd),
    /// Search the index.
    Search {
        #[command(flatten)]
        d: DataArg,
        #[command(flatten)]
        q: SearchArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Verify the whole log: entries, tiles, checkpoint signature, cosignatures, consistency.
    Verify {
        #[command(flatten)]
        d: DataArg,
        /// Verify a remote log over HTTP (tlog-tiles) instead of a data directory.
        #[arg(long)]
        url: Option<String>,
        /// The log's verifier key (default: the data directory's keys/log.vkey).
        #[arg(long)]
        log_key: Option<String>,
        /// A checkpoint obtained earlier; the log must be consistent with it.
        #[arg(long)]
        trusted_checkpoint: Option<PathBuf>,
        /// A witness whose cosignature must be on the checkpoint (repeatable).
        #[arg(long = "witness-key")]
        witness_keys: Vec<String>,
    },
    /// Print the latest signed checkpoint.
    Checkpoint {
        #[command(flatten)]
        d: DataArg,
    },
    /// Inclusion and consistency proofs.
    Proof {
        #[command(subcommand)]
        kind: ProofCmd,
    },
    /// Rebuild the index from the ledger.
    Reindex {
        #[command(flatten)]
        d: DataArg,
    },
    /// Rotate the checkpoint signing key (ledgered; the server must be stopped).
    RotateKey {
        #[command(flatten)]
        d: DataArg,
        /// Why (recorded in the ledger), e.g. "annual rotation" or "suspected key exposure".
        #[arg(long)]
        reason: String,
    },
    /// Erase events' personal data after their retention period (ledgered tombstone; the log
    /// stays verifiable). The server must be stopped.
    Erase {
        #[command(flatten)]
        d: DataArg,
        /// Event id (ledger index) to erase; repeatable.
        #[arg(long = "id", required = true)]
        ids: Vec<u64>,
        /// Why, e.g. the retention rule ("保存期間5年経過 / retention 5 years").
        #[arg(long)]
        reason: String,
    },
    /// Import an HR roster CSV (職員名簿・人事異動; UTF-8 or CP932, 和暦 dates), ledgered.
    RosterImport {
        #[command(flatten)]
        d: DataArg,
        /// The roster file.
        file: PathBuf,
        /// A roster in another layout: a roster mapping (shipped name such as jinji-a, a TOML
        /// file, or a ledgered mapping name); see docs/directory.md.
        #[arg(long)]
        mapping: Option<String>,
    },
    /// Import the USB 管理台帳 (registered removable media) CSV, ledgered.
    UsbImport {
        #[command(flatten)]
        d: DataArg,
        /// The registry CSV (管理番号,ベンダーID,製品ID,シリアル,種別,所有者,状態,登録日,備考).
        file: PathBuf,
    },
    /// Print USBGuard rules allowing the registered, active devices (block the rest).
    UsbRules {
        #[command(flatten)]
        d: DataArg,
        /// Date the registry is taken at (default today; 和暦 accepted).
        #[arg(long)]
        date: Option<String>,
    },
    #[command(flatten)]
    Directory(cmd_directory::DirectoryCmd),
    /// Who used an account on a date: person, department, title, employment status.
    Who {
        #[command(flatten)]
        d: DataArg,
        /// Account name (tanaka.k, CITY\tanaka.k, tanaka.k@city.example.lg.jp …).
        account: String,
        /// Date (YYYY-MM-DD, YYYY/MM/DD or 和暦 such as 令和6年4月1日); default today.
        #[arg(long)]
        date: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Find personal data (個人番号, 氏名, 住所, 生年月日 …) in files before they leave.
    Scan(cmd_scan::ScanArgs),
    /// Sigma ルールで EVTX を調べる / hunt EVTX files with Sigma rules (and correlations).
    Hunt(cmd_hunt::HuntArgs),
    /// Leak tracing: fingerprint, trace, canary, exports-watch, milter.
    #[command(flatten)]
    Trace(cmd_trace::TraceCmd),
    /// アラートの一覧・遡及検知 / list alerts, or retro-hunt over the store (--hunt --rules DIR).
    Alerts(cmd_alerts::AlertsArgs),
    /// アラートの表示・対応 / show, triage or close an alert (ledgered).
    #[command(subcommand)]
    Alert(cmd_alerts::AlertCmd),
    /// 事案(インシデント)の登録・表示・対応 / incident cases (ledgered).
    #[command(subcommand)]
    Case(cmd_case::CaseCmd),
    /// 報告書: 個人情報保護委員会への報告案、持ち出し管理簿、操作ログ点検結果 / reports (PDF, JSON).
    #[command(subcommand)]
    Report(cmd_case::ReportCmd),
    /// 操作ログ点検(月次): 表示・コメント・確認 / the monthly log review (ledgered sign-off).
    #[command(subcommand)]
    Logreview(cmd_case::LogReviewCmd),
    /// デモ市 / the demo city: generate it, or load it into a data directory.
    #[command(subcommand)]
    Demo(cmd_demo::DemoCmd),
    /// Create an API token (ledgered).
    Token {
        #[command(flatten)]
        d: DataArg,
        /// Token name, e.g. rsyslog-honcho.
        #[arg(long)]
        name: String,
        /// Role: admin, officer, auditor, viewer, ingest, witness.
        #[arg(long)]
        role: String,
    },
}

#[derive(Subcommand)]
enum ProofCmd {
    /// Inclusion proof of an event (by id = ledger index).
    Inclusion {
        #[command(flatten)]
        d: DataArg,
        id: u64,
        #[arg(long)]
        json: bool,
    },
    /// Consistency proof between two tree sizes.
    Consistency {
        #[command(flatten)]
        d: DataArg,
        old: u64,
        new: u64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
struct SearchArgs {
    #[arg(long)]
    user: Option<String>,
    #[arg(long)]
    host: Option<String>,
    #[arg(long)]
    action: Option<String>,
    #[arg(long)]
    path: Option<String>,
    /// Full-text terms.
    #[arg(long)]
    q: Option<String>,
    #[arg(long)]
    kind: Option<String>,
    #[arg(long)]
    from: Option<String>,
    #[arg(long)]
    to: Option<String>,
    #[arg(long)]
    limit: Option<u32>,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,evtx=warn".into())) // evtx logs every chunk at INFO
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(Cli::parse()) {
        eprintln!("エラー / error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Init { d, origin } => {
            let dir = DataDir::new(&d.data);
            let r = dir.init(&origin).with_context(|| format!("initialising {}", d.data.display()))?;
            println!("データディレクトリを作成しました / created {}", d.data.display());
            println!("ログ検証鍵 / log verifier key:\n{}", r.vkey);
            println!("証人鍵 / witness verifier key:\n{}", r.witness_vkey);
            println!("管理者トークン(一度だけ表示)/ admin token (shown once):\n{}", r.admin_token);
            Ok(())
        }
        Cmd::Serve { d, listen, syslog_tcp, syslog_udp, syslog_tls, tls_cert, tls_key, demo } => {
            serve(d.data, Listeners { listen, syslog_tcp, syslog_udp, syslog_tls, tls_cert, tls_key }, demo)
        }
        Cmd::Ingest { d, format, server: None, files, mapping, .. } if format == "roster" => cmd_directory::ingest_roster_mapped(&d.data, &files, mapping.as_deref()),
        Cmd::Ingest { d, format, server, token, files, mapping } if mapping.is_some() || cmd_mapping::is_mapped(&format) => cmd_mapping::ingest(d.data, &format, mapping, server, token, files),
        Cmd::Ingest { d, format, server, token, files, .. } => ingest(d.data, &format, server, token, files),
        Cmd::Mapping(c) => cmd_mapping::run(c),
        Cmd::Prefecture(c) => cmd_prefecture::run(c),
        Cmd::Search { d, q, json } => {
            let store = mamori_store::Store::open_read_only(&DataDir::new(&d.data).index_path()).context("opening the index")?;
            let query = mamori_store::Query { user: q.user, host: q.host, action: q.action, path: q.path, q: q.q, kind: q.kind, from: q.from, to: q.to, limit: q.limit, cursor: None };
            let page = store.search(&query)?;
            for h in page.events {
                if json {
                    println!("{}", serde_json::json!({"id": h.id, "kind": h.kind.as_str(), "event": h.doc}));
                } else {
                    let ts = h.doc.get("@timestamp").and_then(|v| v.as_str()).unwrap_or("-");
                    let user = mamori_store::extract::str_field(&h.doc, &["user", "name"]).unwrap_or("-");
                    let action = mamori_store::extract::str_field(&h.doc, &["event", "action"]).unwrap_or("-");
                    let msg = h.doc.get("message").and_then(|v| v.as_str()).unwrap_or("");
                    println!("#{:<8} {ts}  {user:<12} {action:<16} {msg}", h.id);
                }
            }
            Ok(())
        }
        Cmd::Verify { d, url, log_key, trusted_checkpoint, witness_keys } => {
            let dir = DataDir::new(&d.data);
            let log_vkey = match log_key {
                Some(k) => k,
                None if url.is_none() => dir.log_vkey().context("reading the log verifier key (or pass --log-key)")?,
                None => bail!("--url needs --log-key (the log's verifier key)"),
            };
            let trusted = match trusted_checkpoint {
                Some(p) => Some(std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?),
                None => None,
            };
            let src: Box<dyn TileSource> = match &url {
                Some(u) => Box::new(HttpTiles::new(u)),
                None => Box::new(FsTileStore::new(dir.ledger_dir())),
            };
            let previous_log_vkeys = if url.is_none() { dir.previous_vkeys()? } else { Vec::new() };
            let opts = VerifyOptions {
                log_vkey,
                previous_log_vkeys,
                witness_vkeys: witness_keys,
                trusted_checkpoint: trusted,
                payload_dir: url.is_none().then(|| dir.ledger_dir().join("wal")),
            };
            match verify_log(src.as_ref(), &opts) {
                Ok(r) => {
                    println!("検証成功 / verified: {} entries, root {}", r.size, r.root);
                    if !r.witnesses.is_empty() {
                        println!("証人の連署 / cosigned by: {}", r.witnesses.join(", "));
                    }
                    if let Some(t) = r.consistent_with {
                        println!("信頼済みチェックポイント(サイズ {t})と整合 / consistent with the trusted checkpoint of size {t}");
                    }
                    if url.is_none() {
                        println!("ペイロード照合 / payloads checked: {} ({} erased)", r.payloads_checked, r.payloads_erased);
                    }
                    Ok(())
                }
                Err(f) => {
                    eprintln!("検証失敗 / VERIFICATION FAILED: {f}");
                    std::process::exit(2);
                }
            }
        }
        Cmd::Checkpoint { d } => {
            let store = FsTileStore::new(DataDir::new(&d.data).ledger_dir());
            let cp = store.read_checkpoint()?.context("no checkpoint yet")?;
            print!("{}", String::from_utf8_lossy(&cp));
            Ok(())
        }
        Cmd::Proof { kind } => proof(kind),
        Cmd::Reindex { d } => {
            let dir = DataDir::new(&d.data);
            // Hold the ledger lock so no server writes meanwhile.
            let cfg = dir.config()?;
            let ledger = dir.open_ledger(&cfg)?;
            mamori_store::Store::remove_files(&dir.index_path())?;
            let mut store = mamori_store::Store::open(&dir.index_path())?;
            mamori_server::indexer::catch_up(&ledger, &mut store)?;
            let n = store.indexed_upto()?.map_or(0, |i| i + 1);
            ledger.close();
            println!("索引を再構築しました / reindexed {n} entries");
            Ok(())
        }
        Cmd::RotateKey { d, reason } => {
            let r = DataDir::new(&d.data).rotate_key("cli", &reason)?;
            println!("署名鍵を更新しました(台帳番号 {})/ rotated the signing key (ledger entry {})", r.entry, r.entry);
            println!("旧検証鍵 / old verifier key: {}", r.old_vkey);
            println!("新検証鍵 / new verifier key: {}", r.new_vkey);
            println!("証人・監査人に新しい検証鍵を伝えてください / give the new verifier key to witnesses and auditors");
            Ok(())
        }
        Cmd::Erase { d, ids, reason } => {
            let r = DataDir::new(&d.data).erase("cli", &ids, &reason)?;
            println!("消去しました(墓標 #{})/ erased (tombstone #{}): {:?}", r.tombstone, r.tombstone, r.erased);
            Ok(())
        }
        Cmd::RosterImport { d, file, mapping: Some(m) } => cmd_directory::ingest_roster_mapped(&d.data, &[file], Some(&m)),
        Cmd::RosterImport { d, file, .. } => roster_import(&d.data, &file),
        Cmd::UsbImport { d, file } => {
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let name = file.display().to_string();
            let (id, imp) = DataDir::new(&d.data).import_usb("cli", &name, &bytes)?;
            println!("{name}: 登録 {} 件 / registered {}, エラー {} 行 / {} rows refused (台帳 #{id} / ledger entry #{id})", imp.applied, imp.applied, imp.errors.len(), imp.errors.len());
            for e in &imp.errors {
                eprintln!("  {name}: {e}");
            }
            Ok(())
        }
        Cmd::UsbRules { d, date } => {
            let date = match date {
                Some(s) => mamori_directory::parse_date(&s).map_err(|e| anyhow::anyhow!("--date: {e}"))?,
                None => chrono::Local::now().date_naive(),
            };
            print!("{}", mamori_directory::usbguard_rules(&DataDir::new(&d.data).usb_registry()?, date));
            Ok(())
        }
        Cmd::Directory(c) => cmd_directory::run(c),
        Cmd::Who { d, account, date, json } => who(&d.data, &account, date.as_deref(), json),
        Cmd::Scan(a) => cmd_scan::run(a),
        Cmd::Hunt(a) => cmd_hunt::run(a),
        Cmd::Trace(c) => cmd_trace::run(c),
        Cmd::Alerts(a) => cmd_alerts::run_alerts(a),
        Cmd::Alert(c) => cmd_alerts::run_alert(c),
        Cmd::Case(c) => cmd_case::run_case(c),
        Cmd::Report(c) => cmd_case::run_report(c),
        Cmd::Logreview(c) => cmd_case::run_logreview(c),
        Cmd::Demo(c) => cmd_demo::run(c),
        Cmd::Token { d, name, role } => {
            let dir = DataDir::new(&d.data);
            let opened = dir.open()?;
            let role: mamori_auth::Role = role.parse()?;
            let (secret, record) = mamori_auth::Token::generate(role, &name)?.into_parts();
            let rec = mamori_auth::AdminRecord::TokenCreated { record };
            opened.auth.read().unwrap().check(&rec)?;
            mamori_server::datadir::append_admin(&opened.ledger, "cli", &rec)?;
            mamori_server::indexer::catch_up(&opened.ledger, &mut opened.store.lock().unwrap())?;
            opened.ledger.close();
            println!("{secret}");
            Ok(())
        }
    }
}

fn roster_import(data: &std::path::Path, file: &std::path::Path) -> Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let name = file.display().to_string();
    let (id, rec) = DataDir::new(data).import_roster("cli", &name, &bytes)?;
    println!(
        "{name}: 取込 {} 行 / imported {} rows, エラー {} 行 / {} rows refused (台帳 #{id} / ledger entry #{id})",
        rec.rows.len(),
        rec.rows.len(),
        rec.errors.len(),
        rec.errors.len()
    );
    for e in &rec.errors {
        eprintln!("  {name}: {e}");
    }
    Ok(())
}

fn who(data: &std::path::Path, account: &str, date: Option<&str>, json: bool) -> Result<()> {
    let date = match date {
        Some(d) => mamori_directory::parse_date(d).map_err(|e| anyhow::anyhow!("--date: {e}"))?,
        None => chrono::Local::now().date_naive(),
    };
    let dir = DataDir::new(data).directory()?;
    let r = dir.resolve(account, date);
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    let show = |p: &mamori_directory::PersonState| {
        let post = p.post.as_ref().or(p.last_post.as_ref());
        let dept = post.map(|p| format!("{} {}({})", p.dept_name, p.title, p.dept_code)).unwrap_or_else(|| "-".into());
        println!("{date}: {} {}({})  {}  所属 / department: {dept}", p.staff_id, p.name, p.name_kana, p.status.label());
        for c in &p.concurrent {
            println!("  兼務 / concurrent: {} {}({})", c.dept_name, c.title, c.dept_code);
        }
    };
    match &r {
        mamori_directory::Resolution::Person(p) => show(p),
        mamori_directory::Resolution::Shared(ps) => {
            println!("共用アカウント / shared account: {} 人 / people", ps.len());
            ps.iter().for_each(show);
        }
        mamori_directory::Resolution::Unknown(why) => println!("不明なアカウント / unknown account: {why:?}"),
    }
    Ok(())
}

fn proof(kind: ProofCmd) -> Result<()> {
    let (d, json_out) = match &kind {
        ProofCmd::Inclusion { d, json, .. } | ProofCmd::Consistency { d, json, .. } => (d.clone(), *json),
    };
    let dir = DataDir::new(&d.data);
    let store = FsTileStore::new(dir.ledger_dir());
    let note = store.read_checkpoint()?.context("no checkpoint yet")?;
    let (cp, _) = mamori_ledger::SignedCheckpoint::verify(&note, &dir.log_vkey()?, &[])?;
    let v = match kind {
        ProofCmd::Inclusion { id, .. } => mamori_server::http::inclusion_json(&mamori_ledger::inclusion_proof(&store, &cp, id)?),
        ProofCmd::Consistency { old, new, .. } => mamori_server::http::consistency_json(&mamori_ledger::consistency_proof(&store, &cp, old, new)?),
    };
    if json_out {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{v:#}");
    }
    Ok(())
}

/// tlog-tiles over HTTP for `verify --url`.
struct HttpTiles {
    base: String,
    client: reqwest::blocking::Client,
}

impl HttpTiles {
    fn new(base: &str) -> Self {
        HttpTiles { base: base.trim_end_matches('/').to_owned(), client: reqwest::blocking::Client::new() }
    }
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, mamori_ledger::LedgerError> {
        let url = format!("{}/{path}", self.base);
        let err = |why: String| mamori_ledger::LedgerError::BadTile { path: url.clone(), why };
        let r = self.client.get(&url).send().map_err(|e| err(e.to_string()))?;
        match r.status().as_u16() {
            200 => Ok(Some(r.bytes().map_err(|e| err(e.to_string()))?.to_vec())),
            404 => Ok(None),
            s => Err(err(format!("HTTP {s}"))),
        }
    }
}

impl TileSource for HttpTiles {
    fn read_tile(&self, id: &mamori_ledger::tiles::TileId) -> Result<Option<Vec<u8>>, mamori_ledger::LedgerError> {
        self.get(&id.path())
    }
    fn read_checkpoint(&self) -> Result<Option<Vec<u8>>, mamori_ledger::LedgerError> {
        self.get("checkpoint")
    }
    fn describe(&self) -> String {
        self.base.clone()
    }
}

fn ingest(data: PathBuf, format: &str, server: Option<String>, token: Option<String>, files: Vec<PathBuf>) -> Result<()> {
    let fmt: mamori_sources::Format = format.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let inputs = read_inputs(&files)?;
    if let Some(url) = server {
        let token = token.context("--server needs --token (or MAMORI_TOKEN)")?;
        let client = reqwest::blocking::Client::new();
        for (name, body) in inputs {
            let r = client
                .post(format!("{}/api/v1/events", url.trim_end_matches('/')))
                .query(&[("format", fmt.as_str()), ("name", name.as_str())])
                .bearer_auth(&token)
                .body(body)
                .send()
                .with_context(|| format!("sending {name} to {url}"))?;
            let status = r.status();
            let v: serde_json::Value = r.json().unwrap_or_default();
            if !status.is_success() {
                bail!("{name}: HTTP {status}: {v}");
            }
            let errors = v["items"].as_array().map(|a| a.iter().filter(|i| i["status"] == "rejected").map(|i| format!("line {}: {}", i["line"], i["error"].as_str().unwrap_or(""))).collect()).unwrap_or_default();
            report(&name, v["accepted"].as_u64().unwrap_or(0), v["rejected"].as_u64().unwrap_or(0), errors);
        }
        return Ok(());
    }
    let dir = DataDir::new(&data);
    let opened = dir.open()?;
    let received = chrono::Utc::now();
    let tz = opened.cfg.syslog_offset();
    for (name, bytes) in inputs {
        let origin = Origin { source: format!("cli:{name}"), format: fmt.as_str().to_owned() };
        let max = opened.cfg.server.max_line_bytes;
        let (batch, lines) = mamori_server::pipeline::file_batch(fmt, &name, &bytes, max, received, tz, &origin);
        let accepted = batch.accepted() as u64;
        let errors: Vec<String> = batch
            .outcomes
            .iter()
            .zip(&lines)
            .filter_map(|((o, _), line)| match o {
                mamori_server::pipeline::Outcome::Rejected(w) => Some(format!("line {line}: {w}")),
                _ => None,
            })
            .collect();
        if !batch.entries.is_empty() {
            opened.ledger.append_blocking(batch.entries)?;
        }
        report(&name, accepted, errors.len() as u64, errors);
    }
    mamori_server::indexer::catch_up(&opened.ledger, &mut opened.store.lock().unwrap())?;
    opened.ledger.close();
    Ok(())
}

fn report(name: &str, accepted: u64, rejected: u64, errors: Vec<String>) {
    println!("{name}: 取込 {accepted} 件 / accepted {accepted}, 隔離 {rejected} 件 / quarantined {rejected}");
    for e in errors.iter().take(20) {
        eprintln!("  {name}: {e}");
    }
}

/// Listener overrides from the command line.
struct Listeners {
    listen: Option<String>,
    syslog_tcp: Option<String>,
    syslog_udp: Option<String>,
    syslog_tls: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
}

fn serve(data: PathBuf, l: Listeners, demo: bool) -> Result<()> {
    let Listeners { listen, syslog_tcp, syslog_udp, syslog_tls, tls_cert, tls_key } = l;
    let dir = DataDir::new(&data);
    // Demo: generate the demo city (if absent), load it through the real ingest paths, scan
    // and fingerprint, and create an officer account (detection runs when the server starts).
    let demo_login = if demo { cmd_demo::prepare_serve(&data)? } else { None };
    let opened = dir.open().with_context(|| format!("opening {}", data.display()))?;
    let st = AppState::new(dir.clone(), &opened)?;
    let stop = Arc::new(AtomicBool::new(false));
    let indexer = mamori_server::indexer::spawn(opened.ledger.clone(), opened.store.clone(), stop.clone());
    let submitter = mamori_server::witness_client::spawn_submitter(st.clone(), stop.clone());
    let rt = tokio::runtime::Runtime::new()?;
    let cfg = opened.cfg.clone();
    let cert = tls_cert.or(cfg.server.tls_cert.clone().map(PathBuf::from));
    let key = tls_key.or(cfg.server.tls_key.clone().map(PathBuf::from));
    let tls = match (&cert, &key) {
        (Some(c), Some(k)) => Some(mamori_server::tls::load_server_config(c, k).map_err(anyhow::Error::msg)?),
        (None, None) => None,
        _ => bail!("TLS needs both a certificate and a key (tls_cert and tls_key)"),
    };
    rt.block_on(async move {
        let addr = listen.unwrap_or(cfg.server.listen.clone());
        let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("binding {addr}"))?;
        let local = listener.local_addr()?;
        // The syslog listeners (TCP, UDP, TLS), each flag overriding its `[server]` setting.
        let set = mamori_server::syslog::ListenerSet {
            tcp: syslog_tcp.or(cfg.server.syslog_tcp.clone()),
            udp: syslog_udp.or(cfg.server.syslog_udp.clone()),
            tls: syslog_tls.or(cfg.server.syslog_tls.clone()),
        };
        for b in mamori_server::syslog::bind_and_serve(&st, &set, tls.clone()).await? {
            println!("syslog {}: {}", b.protocol, b.addr);
        }
        let scheme = if tls.is_some() { "https" } else { "http" };
        println!("mamori: {scheme}://{local}/ で待ち受けています / listening on {scheme}://{local}/");
        println!("画面 / web UI: {scheme}://{local}/ui/");
        if let Some((user, pw, admin)) = &demo_login {
            println!("デモ用担当者ログイン(一度だけ表示)/ demo officer login (shown once): {user} / {pw}");
            println!("デモ用管理者トークン / demo admin token: {admin}");
        }
        use std::io::Write;
        std::io::stdout().flush()?;
        let shutdown = crate::shutdown_signal();
        // The web UI (mamori-ui) under /ui/, on the same listener.
        // Secure cookies over TLS, or behind a TLS-terminating proxy (`[server] secure_cookies`).
        let ui = mamori_ui::routes(tls.is_some() || cfg.server.secure_cookies).with_state(st.clone());
        match tls {
            Some(cfg) => mamori_server::http::serve_tls_with(st, ui, mamori_server::tls::TlsListener::new(listener, cfg)?, shutdown).await?,
            None => mamori_server::http::serve_with(st, ui, listener, shutdown).await?,
        }
        anyhow::Ok(())
    })?;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = indexer.join();
    if let Some(s) = submitter {
        let _ = s.join();
    }
    opened.ledger.close();
    Ok(())
}

/// Reads the input files of an ingest (`-` = stdin) as (name, bytes), in order.
pub(crate) fn read_inputs(files: &[PathBuf]) -> Result<Vec<(String, Vec<u8>)>> {
    if files.is_empty() {
        bail!("no input files (use - for stdin)");
    }
    let mut inputs = Vec::new();
    for f in files {
        let bytes = if f.as_os_str() == "-" {
            let mut b = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)?;
            b
        } else {
            std::fs::read(f).with_context(|| format!("reading {}", f.display()))?
        };
        inputs.push((f.display().to_string(), bytes));
    }
    Ok(inputs)
}

/// Resolves on Ctrl-C or SIGTERM: the graceful-shutdown trigger of every serving command.
pub(crate) async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
}
