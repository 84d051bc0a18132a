//! `mamori prefecture init|add-city|serve`: tenant mode (many cities, one shared ClickHouse
//! index, the prefecture as every city's witness) — thin glue over `mamori_prefecture`.

use anyhow::{Context, Result};
use clap::Subcommand;
use mamori_prefecture::{Prefecture, TenantId, city_dir, init_city, init_prefecture};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Subcommand)]
pub enum PrefectureCmd {
    /// Create the prefecture's own data directory (<root>/prefecture): its keys, its witness
    /// key (every city's checkpoints are cosigned with it) and a first admin token.
    Init {
        /// Root directory of the prefecture (cities go under <root>/cities/).
        #[arg(long)]
        root: PathBuf,
        /// The prefecture's domain; log origins are <domain>/prefecture and <domain>/<city>.
        #[arg(long, default_value = "pref.example.lg.jp")]
        domain: String,
    },
    /// Add a city (tenant): its own data directory with its own ledger, keys and tokens.
    AddCity {
        /// Root directory of the prefecture.
        #[arg(long)]
        root: PathBuf,
        /// Tenant id (a-z, 0-9, -, _), e.g. aoba-shi.
        #[arg(long)]
        id: String,
    },
    /// Serve every city of the prefecture: tenant-scoped API under /t/<city>/, per-city
    /// `_bulk` ingest and detection, the prefecture's health and witnessing.
    Serve {
        /// Root directory of the prefecture.
        #[arg(long)]
        root: PathBuf,
        /// ClickHouse HTTP URL, e.g. http://127.0.0.1:8123 (tables are created if missing).
        #[arg(long)]
        clickhouse: String,
        /// HTTP listen address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// NATS JetStream URL, e.g. nats://127.0.0.1:4222: each city's ledger is published to
        /// the stream and indexed by a durable consumer (default: indexers follow the ledgers).
        #[arg(long)]
        nats: Option<String>,
    },
}

fn domain_of(root: &Path) -> Result<String> {
    let cfg = mamori_server::DataDir::new(root.join("prefecture"))
        .config()
        .with_context(|| format!("{} is not a prefecture root (run `mamori prefecture init` first)", root.display()))?;
    Ok(cfg.log.origin.strip_suffix("/prefecture").unwrap_or(&cfg.log.origin).to_owned())
}

/// The cities under `<root>/cities/`, in name order.
fn cities(root: &Path) -> Result<Vec<TenantId>> {
    let d = root.join("cities");
    let mut out = Vec::new();
    let rd = match std::fs::read_dir(&d) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).with_context(|| format!("reading {}", d.display())),
    };
    for e in rd {
        let e = e?;
        if !e.path().join("config.toml").exists() {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        out.push(TenantId::new(&name).with_context(|| format!("{}: not a tenant id", e.path().display()))?);
    }
    out.sort();
    Ok(out)
}

pub fn run(c: PrefectureCmd) -> Result<()> {
    match c {
        PrefectureCmd::Init { root, domain } => {
            let r = init_prefecture(&root, &domain).with_context(|| format!("initialising {}", root.display()))?;
            println!("県のデータディレクトリを作成しました / created the prefecture at {}", root.display());
            println!("ログ検証鍵 / log verifier key:\n{}", r.vkey);
            println!("県の証人鍵(全市町村のチェックポイントに連署)/ prefecture witness key (cosigns every city's checkpoints):\n{}", r.witness_vkey);
            println!("県の管理者トークン(一度だけ表示)/ prefecture admin token (shown once):\n{}", r.admin_token);
            Ok(())
        }
        PrefectureCmd::AddCity { root, id } => {
            let t = TenantId::new(&id).map_err(|e| anyhow::anyhow!("--id: {e}"))?;
            let domain = domain_of(&root)?;
            let r = init_city(&root, &domain, &t).with_context(|| format!("adding city {t}"))?;
            let wkey = mamori_prefecture::witness::witness_vkey(&root.join("prefecture"))?;
            println!("市町村 {t} を追加しました / added city {t} ({})", city_dir(&root, &t).display());
            println!("ログ名 / log origin: {}", r.origin);
            println!("ログ検証鍵 / log verifier key:\n{}", r.vkey);
            println!("管理者トークン(一度だけ表示)/ city admin token (shown once):\n{}", r.admin_token);
            println!(
                "検証 / verify: mamori verify --data {} --witness-key {wkey}",
                city_dir(&root, &t).display()
            );
            println!("取込 / ingest: POST /t/{t}/_bulk, /t/{t}/api/v1/events (次回の serve から / from the next serve)");
            Ok(())
        }
        PrefectureCmd::Serve { root, clickhouse, listen, nats } => serve(&root, &clickhouse, &listen, nats.as_deref()),
    }
}

fn serve(root: &Path, clickhouse: &str, listen: &str, nats: Option<&str>) -> Result<()> {
    let cfg = mamori_store_clickhouse::Config::single(clickhouse);
    mamori_store_clickhouse::schema::create_single(&cfg).with_context(|| format!("creating the tables on {clickhouse}"))?;
    let list = cities(root)?;
    let bus = nats.map(mamori_bus::BusConfig::new);
    let pref = Arc::new(Prefecture::open_with(root, &list, cfg, bus).with_context(|| format!("opening {}", root.display()))?);
    let rt = tokio::runtime::Runtime::new()?;
    let p2 = pref.clone();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
        let local = listener.local_addr()?;
        let names: Vec<&str> = list.iter().map(TenantId::as_str).collect();
        println!("市町村 / cities: {}", names.join(", "));
        println!("県の証人鍵 / prefecture witness key: {}", p2.witness_vkey());
        println!("mamori prefecture: http://{local}/ で待ち受けています / listening on http://{local}/");
        use std::io::Write;
        std::io::stdout().flush()?;
        let shutdown = crate::shutdown_signal();
        mamori_prefecture::serve(p2, listener, shutdown).await?;
        anyhow::Ok(())
    })?;
    pref.close();
    Ok(())
}
