//! Leak tracing commands (issue 8): `mamori fingerprint`, `mamori trace`, `mamori canary make`,
//! `mamori exports-watch`, `mamori milter`.

use anyhow::{Context, Result, bail};
use mamori_server::DataDir;
use mamori_server::fingerprint::{ExportInfo, TraceReport, poll_watch_dir};
use mamori_trace::canary::CanaryPlace;
use serde_json::json;
use std::path::PathBuf;

#[derive(clap::Args, Clone)]
pub struct DataDirArg {
    /// Data directory (default ./mamori-data, or $MAMORI_DATA).
    #[arg(long, env = "MAMORI_DATA", default_value = "mamori-data")]
    data: PathBuf,
}

/// Leak-tracing subcommands (flattened into the top level).
#[derive(clap::Subcommand)]
pub enum TraceCmd {
    /// Fingerprint a list that left (export CSV, xlsx, PDF, text), ledgered (server stopped).
    Fingerprint {
        #[command(flatten)]
        d: DataDirArg,
        /// The file.
        file: PathBuf,
        /// Who exported it (account).
        #[arg(long)]
        user: String,
        /// Channel: business-system-csv, usb, mail, share, print …
        #[arg(long)]
        channel: String,
        /// Source system (住民記録システム …).
        #[arg(long)]
        system: Option<String>,
        /// Ledger id of the export event this fingerprinting belongs to (default: itself).
        #[arg(long)]
        export_event: Option<u64>,
        /// Record the file under this name (e.g. its share path) instead of the local path.
        #[arg(long)]
        name: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Trace a leaked list back to the exports it came from.
    Trace {
        #[command(flatten)]
        d: DataDirArg,
        /// The leaked file (CSV, xlsx, PDF, text typed or OCR'd).
        file: PathBuf,
        /// Print {"candidates":[…]} JSON.
        #[arg(long)]
        json: bool,
        /// Candidates shown.
        #[arg(long, default_value_t = 5)]
        limit: usize,
        /// Always list who read each candidate share file version (Hirosaki mode); by default
        /// only when the best candidate is a share file.
        #[arg(long)]
        share_reads: bool,
    },
    /// Canary records (目印レコード).
    Canary {
        #[command(subcommand)]
        cmd: CanaryCmd,
    },
    /// Fingerprint new files in the watched export directory (--dir, or [exports] watch_dir in
    /// config.toml, with poll_seconds and default_user).
    ExportsWatch {
        #[command(flatten)]
        d: DataDirArg,
        /// The directory (default: [exports] watch_dir in config.toml).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Poll once and exit.
        #[arg(long)]
        once: bool,
        /// Seconds between polls.
        #[arg(long, default_value_t = 10)]
        interval: u64,
        /// Exporter recorded when the file name has no `user__` prefix.
        #[arg(long, default_value = "system")]
        default_user: String,
    },
    /// Run the outgoing-mail milter (Postfix smtpd_milters = inet:ADDR): canary sightings
    /// and personal data in mail to external domains become alert events in the ledger
    /// (server stopped, or a dedicated data directory).
    Milter {
        #[command(flatten)]
        d: DataDirArg,
        /// Listen address, e.g. 127.0.0.1:8891.
        #[arg(long)]
        listen: String,
        /// What to do with mail carrying a canary: hold (quarantine), reject, tag.
        #[arg(long, default_value = "hold")]
        on_canary: String,
        /// What to do with personal data (mamori-pii findings) in mail to an external domain
        /// that no approved takeout (持出し申請, medium mail to that address) covers today:
        /// hold, reject, tag, or off (no PII scan).
        #[arg(long, default_value = "hold")]
        on_pii: String,
        /// The city's own mail domains (repeatable; subdomains included). Mail only to these
        /// is not held for personal data.
        #[arg(long = "internal-domain")]
        internal_domains: Vec<String>,
        /// Findings below this confidence do not count.
        #[arg(long, default_value_t = 0.7)]
        pii_min_confidence: f32,
    },
}

/// `mamori canary …`.
#[derive(clap::Subcommand)]
pub enum CanaryCmd {
    /// Make canary records for one export and recipient and register them (ledgered).
    Make {
        #[command(flatten)]
        d: DataDirArg,
        /// The export they go into (its label or file name).
        #[arg(long)]
        export: String,
        /// Who receives the export.
        #[arg(long)]
        recipient: String,
        /// How many.
        #[arg(long, default_value_t = 2)]
        count: usize,
        /// 都道府県 of the fictional address.
        #[arg(long, default_value = "青森県")]
        prefecture: String,
        /// 市区町村 + a 町名 the city has confirmed does not exist.
        #[arg(long, default_value = "弘前市みどり野")]
        locality: String,
        /// Append the canary rows to this CSV export (its header decides the columns).
        #[arg(long)]
        into: Option<PathBuf>,
    },
}

pub fn run(cmd: TraceCmd) -> Result<()> {
    match cmd {
        TraceCmd::Fingerprint { d, file, user, channel, system, export_event, name, json } => {
            let dir = DataDir::new(&d.data);
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let label = name.unwrap_or_else(|| file.display().to_string());
            let f = dir.fingerprint_file("cli", &label, &bytes, &ExportInfo { user, channel, system, export_event })?;
            if json {
                println!("{}", serde_json::to_string(&f)?);
            } else {
                println!(
                    "指紋を記録しました / fingerprinted: 書出し / export #{} (台帳 / ledger #{}), {} 件 / records, {} 特徴 / features",
                    f.export.export_id, f.export.ledger_id, f.export.records, f.export.features
                );
                for r in &f.rejected {
                    println!("  読めない行 / not a record: {} — {}", r.location, r.reason);
                }
            }
            Ok(())
        }
        TraceCmd::Trace { d, file, json, limit, share_reads } => {
            let dir = DataDir::new(&d.data);
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let report = dir.trace_file(&file.display().to_string(), &bytes, limit)?;
            if json {
                print_json(&report);
            } else {
                print_human(&report, share_reads);
            }
            Ok(())
        }
        TraceCmd::Canary { cmd: CanaryCmd::Make { d, export, recipient, count, prefecture, locality, into } } => {
            let dir = DataDir::new(&d.data);
            let (id, rs) = dir.make_canaries("cli", &export, &recipient, count, &CanaryPlace { prefecture, locality })?;
            println!("目印レコードを登録しました / canaries registered: 台帳 / ledger #{id}, export {export}, recipient {recipient}");
            let mut rows = String::new();
            for r in &rs {
                println!("  {}  {}  {}  {}", r.name(), r.kana(), r.birth.format("%Y/%m/%d"), r.address());
                rows.push_str(&format!("{},{},{},{},\n", r.name(), r.kana(), r.birth.format("%Y/%m/%d"), r.address()));
            }
            if let Some(p) = into {
                let mut text = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                text.push_str(&rows);
                std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?;
                println!("{} に追記しました / appended to {}", p.display(), p.display());
            }
            Ok(())
        }
        TraceCmd::ExportsWatch { d, dir, once, interval, default_user } => {
            let data = DataDir::new(&d.data);
            let cfg = data.config()?;
            let Some(watch) = dir.or(cfg.exports.watch_dir.clone()) else {
                bail!("--dir か config.toml の [exports] watch_dir が必要です / give --dir or set [exports] watch_dir in config.toml")
            };
            let interval = cfg.exports.poll_seconds.unwrap_or(interval);
            let default_user = cfg.exports.default_user.clone().unwrap_or(default_user);
            loop {
                let (done, refused) = poll_watch_dir(&data, &watch, &default_user)?;
                for f in &done {
                    println!("指紋を記録しました / fingerprinted: {} → #{} ({} 件 / records, user {})", f.export.file_name, f.export.export_id, f.export.records, f.export.user);
                }
                for r in &refused {
                    eprintln!("読めません / refused: {r}");
                }
                if once {
                    return Ok(());
                }
                std::thread::sleep(std::time::Duration::from_secs(interval));
            }
        }
        TraceCmd::Milter { d, listen, on_canary, on_pii, internal_domains, pii_min_confidence } => {
            crate::cmd_trace::milter(d.data, &listen, &on_canary, &on_pii, internal_domains, pii_min_confidence)
        }
    }
}

fn print_json(r: &TraceReport) {
    let candidates: Vec<_> = r
        .result
        .candidates
        .iter()
        .zip(&r.details)
        .map(|(c, d)| {
            json!({
                "export_id": c.export.export_id,
                "user": c.export.user,
                "time": c.export.time,
                "channel": c.export.channel,
                "matched": c.matched,
                "leaked": c.leaked,
                "score": c.score,
                "proof": d.proof,
            })
        })
        .collect();
    println!("{}", json!({"candidates": candidates}));
    for s in &r.result.canaries {
        eprintln!(
            "目印レコード検出(確実)/ canary sighted (certain): {} export {} recipient {} (登録 / registered #{}) at {}",
            s.canary.canary_id, s.canary.export, s.canary.recipient, s.canary.ledger_id, s.location
        );
    }
}

fn print_human(r: &TraceReport, share_reads: bool) {
    println!("漏えい元の候補 / candidate exports — 読めた記録 / records read: {} (読めない行 / unread: {})", r.result.leaked, r.rejected);
    for s in &r.result.canaries {
        println!(
            "★ 目印レコード検出 → 確実 / canary → certain: {} は書出し「{}」の受取人 {} 宛て (登録 / registered #{}), found at {}",
            s.canary.canary_id, s.canary.export, s.canary.recipient, s.canary.ledger_id, s.location
        );
    }
    if r.result.candidates.is_empty() {
        println!("  一致する書出しはありません / no recorded export matches");
    }
    for (i, (c, d)) in r.result.candidates.iter().zip(&r.details).enumerate() {
        println!(
            "{}. 書出し / export #{}  一致 / matched {}/{} ({:.1}%)  利用者 / user {}{}  所属 / department {}",
            i + 1,
            c.export.export_id,
            c.matched,
            c.leaked,
            c.score * 100.0,
            c.export.user,
            d.person.as_ref().map(|p| format!(" ({p})")).unwrap_or_default(),
            d.department.as_deref().unwrap_or("不明 / unknown"),
        );
        println!("   日時 / time {}  経路 / channel {}  ファイル / file {}  (sha256 {})", c.export.time, c.export.channel, c.export.file_name, &c.export.file_sha256[..12.min(c.export.file_sha256.len())]);
        match d.proof.get("tree_size") {
            Some(ts) => println!("   包含証明 / inclusion proof: entry #{} in tree of size {}, root {}", c.export.export_id, ts, d.proof["root_hash"].as_str().unwrap_or("")),
            None => println!("   包含証明なし / no inclusion proof: {}", d.proof),
        }
        if c.export.channel == "share" && (share_reads || i == 0) {
            if d.share_reads.is_empty() {
                println!("   この版を読んだ記録はありません / no recorded reads of this version");
            }
            for rd in &d.share_reads {
                println!("   この版を読んだ人 / read this version: {}  {}  (#{})", rd.user, rd.time, rd.event_id);
            }
        }
    }
}

fn verdict_arg(flag: &str, v: &str) -> Result<mamori_milter::Verdict> {
    use mamori_milter::Verdict;
    Ok(match v {
        "hold" => Verdict::Hold(String::new()),
        "reject" => Verdict::Reject(String::new()),
        "tag" => Verdict::Tag(String::new()),
        other => bail!("{flag} は hold, reject, tag のいずれか / must be hold, reject or tag, not {other:?}"),
    })
}

/// Does an approved takeout (medium: mail to that address) cover every external recipient today?
fn takeout_covers(dir: &DataDir, external: &[String]) -> bool {
    let Ok(d) = dir.directory() else { return false };
    let today = chrono::Local::now().date_naive();
    !external.is_empty()
        && external.iter().all(|r| {
            let r = r.trim_matches(|c| c == '<' || c == '>').to_ascii_lowercase();
            d.takeouts().any(|t| matches!(&t.request.medium, mamori_directory::Medium::Mail { to } if *to == r) && t.approved_on(today))
        })
}

/// `mamori milter`: canary sightings and personal data in outgoing mail become ledgered alert
/// events; the mail is held, rejected or tagged as configured.
fn milter(data: PathBuf, listen: &str, on_canary: &str, on_pii: &str, internal_domains: Vec<String>, pii_min_confidence: f32) -> Result<()> {
    use mamori_milter::{CanaryInspector, Config as MilterConfig, EventSink, Inspector, PiiInspector};
    let dir = DataDir::new(&data);
    let key = dir.fingerprint_key()?;
    let store = dir.fingerprint_store()?;
    let action = verdict_arg("--on-canary", on_canary)?;
    let pii_action = if on_pii == "off" { None } else { Some(verdict_arg("--on-pii", on_pii)?) };
    struct LedgerSink(DataDir);
    impl EventSink for LedgerSink {
        fn record(&self, doc: serde_json::Value) {
            let action = doc["event"]["action"].as_str().unwrap_or("").to_owned();
            match self.0.record_sighting(&doc) {
                Ok(id) => tracing::warn!(id, action, "milter alert recorded"),
                Err(e) => tracing::error!(error = %e, action, "could not ledger a milter alert"),
            }
        }
    }
    let mut inspectors: Vec<Box<dyn Inspector>> = vec![Box::new(CanaryInspector::new(key, store.canaries().to_vec(), action))];
    // Lists attached to mail leaving the city are fingerprinted (channel mail), so that a
    // later leak traces back to the mail and its sender.
    struct MailFingerprints {
        dir: DataDir,
        internal: Vec<String>,
    }
    impl Inspector for MailFingerprints {
        fn inspect(&self, mail: &mamori_milter::MailInfo, parts: &[mamori_milter::Part]) -> mamori_milter::Inspection {
            let leaves = mail.rcpts.iter().any(|r| {
                let dom = r.trim_matches(|c| c == '<' || c == '>').rsplit('@').next().unwrap_or("").to_ascii_lowercase();
                !self.internal.iter().any(|d| dom == *d || dom.ends_with(&format!(".{d}")))
            });
            if leaves {
                let user = mail.from.split('@').next().unwrap_or("").to_owned();
                for p in parts.iter().filter(|p| p.name != "body") {
                    if mamori_trace::read_list(&p.name, &p.bytes).is_ok_and(|l| !l.records.is_empty()) {
                        let info = ExportInfo { user: user.clone(), channel: "mail".into(), system: None, export_event: None };
                        match self.dir.fingerprint_file("mamori-milter", &p.name, &p.bytes, &info) {
                            Ok(f) => tracing::info!(export = f.export.export_id, file = %p.name, "mail attachment fingerprinted"),
                            Err(e) => tracing::error!(error = %e, file = %p.name, "could not fingerprint a mail attachment"),
                        }
                    }
                }
            }
            mamori_milter::Inspection { verdict: mamori_milter::Verdict::Accept, events: Vec::new() }
        }
    }
    inspectors.push(Box::new(MailFingerprints {
        dir: DataDir::new(&data),
        internal: internal_domains.iter().map(|d| d.trim_start_matches('@').to_ascii_lowercase()).collect(),
    }));
    if let Some(pii_action) = pii_action {
        let domains: Vec<String> = internal_domains.iter().map(|d| d.trim_start_matches('@').to_ascii_lowercase()).collect();
        let (adir, adomains) = (DataDir::new(&data), domains.clone());
        let approved = Box::new(move |m: &mamori_milter::MailInfo| {
            let external: Vec<String> = m
                .rcpts
                .iter()
                .filter(|r| {
                    let dom = r.trim_matches(|c| c == '<' || c == '>').rsplit('@').next().unwrap_or("").to_ascii_lowercase();
                    !adomains.iter().any(|d| dom == *d || dom.ends_with(&format!(".{d}")))
                })
                .cloned()
                .collect();
            takeout_covers(&adir, &external)
        });
        inspectors.push(Box::new(PiiInspector {
            scan: mamori_milter::pii_scanner(mamori_pii::Options::default()),
            internal_domains: domains,
            approved,
            min_confidence: pii_min_confidence,
            action: pii_action,
        }));
    }
    let cfg = MilterConfig { inspectors, sink: std::sync::Arc::new(LedgerSink(dir)) };
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
        eprintln!("milter listening on {}", listener.local_addr()?);
        mamori_milter::run(listener, cfg, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| anyhow::anyhow!("milter: {e}"))
    })
}
