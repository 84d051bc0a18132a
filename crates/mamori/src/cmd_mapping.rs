//! `mamori ingest --format csv-mapping|webhook --mapping NAME|FILE FILE…` and `mamori mapping
//! check|set|list`: business-system CSV exports and webhook JSON through declarative mappings.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use mamori_server::DataDir;
use mamori_server::mappings::{Mappings, admin_doc, resolve};
use mamori_server::pipeline::{Origin, Outcome, mapped_batch};
use std::path::{Path, PathBuf};

/// `mamori mapping …`.
#[derive(Subcommand)]
pub enum MappingCmd {
    /// Check a mapping file (names the key that is wrong) without changing anything.
    Check {
        /// The TOML mapping file.
        file: PathBuf,
    },
    /// Add or replace a mapping in the data directory (ledgered; the server must be stopped,
    /// or use PUT /api/v1/admin/mappings/NAME).
    Set {
        /// Data directory.
        #[arg(long, env = "MAMORI_DATA", default_value = "mamori-data")]
        data: PathBuf,
        /// The TOML mapping file.
        file: PathBuf,
    },
    /// List the mappings (shipped and ledgered).
    List {
        /// Data directory.
        #[arg(long, env = "MAMORI_DATA", default_value = "mamori-data")]
        data: PathBuf,
    },
}

/// Whether a format needs a mapping.
pub fn is_mapped(format: &str) -> bool {
    matches!(format.trim().to_ascii_lowercase().as_str(), "csv-mapping" | "webhook")
}

/// Runs `mamori mapping …`.
pub fn run(cmd: MappingCmd) -> Result<()> {
    match cmd {
        MappingCmd::Check { file } => {
            let m = read_mapping(&file)?;
            println!("{}: OK — マッピング {} / mapping {} ({} fields)", file.display(), m.name, m.name, m.fields.len());
            Ok(())
        }
        MappingCmd::Set { data, file } => {
            let m = read_mapping(&file)?;
            let dir = DataDir::new(&data);
            let opened = dir.open()?;
            let doc = admin_doc("cli", &m);
            let r = opened.ledger.append_blocking(vec![mamori_ledger::NewEntry { kind: mamori_ledger::EntryKind::Admin, payload: serde_json::to_vec(&doc)? }])?;
            mamori_server::indexer::catch_up(&opened.ledger, &mut opened.store.lock().unwrap())?;
            opened.ledger.close();
            println!("マッピング {} を登録しました(台帳 #{}) / mapping {} set (ledger entry #{})", m.name, r.first_index, m.name, r.first_index);
            Ok(())
        }
        MappingCmd::List { data } => {
            let known = known_mappings(&data)?;
            for v in known.list() {
                println!("{:<16} {:<6} {:<8} {}", v["name"].as_str().unwrap_or(""), v["input"].as_str().unwrap_or(""), v["origin"].as_str().unwrap_or(""), v["description"].as_str().unwrap_or(""));
            }
            Ok(())
        }
    }
}

fn read_mapping(file: &Path) -> Result<mamori_sources::Mapping> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    Ok(mamori_sources::Mapping::parse(&text, &file.display().to_string())?)
}

fn known_mappings(data: &Path) -> Result<Mappings> {
    let p = DataDir::new(data).index_path();
    if !p.exists() {
        return Ok(Mappings::default());
    }
    Ok(Mappings::rebuild(&mamori_store::Store::open_read_only(&p)?)?)
}

/// `mamori ingest --format csv-mapping|webhook --mapping NAME|FILE FILE…`.
pub fn ingest(data: PathBuf, format: &str, mapping: Option<String>, server: Option<String>, token: Option<String>, files: Vec<PathBuf>) -> Result<()> {
    let fmt: mamori_sources::Format = format.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    if !is_mapped(format) {
        bail!("--mapping は --format csv-mapping か webhook と使います / --mapping goes with --format csv-mapping or webhook (got {format})");
    }
    let Some(mapping) = mapping else {
        bail!("--format {format} には --mapping NAME|FILE が必要です / --format {format} needs --mapping NAME|FILE");
    };
    let inputs = crate::read_inputs(&files)?;
    if let Some(url) = server {
        if Path::new(&mapping).is_file() {
            bail!("--server では --mapping にサーバーが知っている名前を指定します(PUT /api/v1/admin/mappings/NAME で登録)/ with --server, --mapping must be a name the server knows (add one with PUT /api/v1/admin/mappings/NAME)");
        }
        let token = token.context("--server needs --token (or MAMORI_TOKEN)")?;
        let client = reqwest::blocking::Client::new();
        for (name, body) in inputs {
            let r = client
                .post(format!("{}/api/v1/events", url.trim_end_matches('/')))
                .query(&[("format", fmt.as_str()), ("mapping", mapping.as_str()), ("name", name.as_str())])
                .bearer_auth(&token)
                .body(body)
                .send()
                .with_context(|| format!("sending {name} to {url}"))?;
            let status = r.status();
            let v: serde_json::Value = r.json().unwrap_or_default();
            if !status.is_success() {
                bail!("{name}: HTTP {status}: {v}");
            }
            let errors: Vec<String> = v["items"].as_array().map(|a| a.iter().filter(|i| i["status"] == "rejected").map(|i| i["error"].as_str().unwrap_or("").to_owned()).collect()).unwrap_or_default();
            report(&name, v["accepted"].as_u64().unwrap_or(0), &errors);
        }
        return Ok(());
    }
    let dir = DataDir::new(&data);
    let opened = dir.open()?;
    let known = Mappings::rebuild(&opened.store.lock().unwrap())?;
    let m = resolve(&mapping, &known).map_err(anyhow::Error::msg)?;
    let received = chrono::Utc::now();
    for (name, bytes) in inputs {
        let origin = Origin { source: format!("cli:{name}"), format: fmt.as_str().to_owned() };
        let (batch, _) = mapped_batch(&m, &name, &bytes, received, &origin);
        let accepted = batch.accepted() as u64;
        let errors: Vec<String> = batch
            .outcomes
            .iter()
            .filter_map(|(o, _)| match o {
                Outcome::Rejected(w) => Some(w.clone()),
                Outcome::Accepted => None,
            })
            .collect();
        if !batch.entries.is_empty() {
            opened.ledger.append_blocking(batch.entries)?;
        }
        report(&name, accepted, &errors);
    }
    mamori_server::indexer::catch_up(&opened.ledger, &mut opened.store.lock().unwrap())?;
    opened.ledger.close();
    Ok(())
}

fn report(name: &str, accepted: u64, errors: &[String]) {
    let n = errors.len();
    println!("{name}: 取込 {accepted} 件 / accepted {accepted}, 隔離 {n} 件 / quarantined {n}");
    for e in errors.iter().take(20) {
        eprintln!("  {e}");
    }
}
