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
        /// The city's own syslog listener over TCP (RFC 6587), e.g. 0.0.0.0:6514: its messages
        /// go to this city's ledger only (written to the city's config.toml, `[server]
        /// syslog_tcp`). Also for an existing city.
        #[arg(long = "syslog-tcp", alias = "syslog")]
        syslog_tcp: Option<String>,
        /// The city's own syslog listener over UDP, e.g. 0.0.0.0:5514 (`[server] syslog_udp`).
        #[arg(long = "syslog-udp")]
        syslog_udp: Option<String>,
    },
    /// Create a web-UI account in a city's own accounts, with a one-time password printed once
    /// (it must be changed at the first login); ledgered in that city's ledger. Run it while
    /// `prefecture serve` is stopped (the city's ledger has one writer).
    AddUser {
        /// Root directory of the prefecture.
        #[arg(long)]
        root: PathBuf,
        /// The city (tenant id), e.g. aoba-shi.
        #[arg(long)]
        city: String,
        /// Login name of the new account.
        #[arg(long)]
        name: String,
        /// Role: admin, officer, auditor, viewer, ingest, witness.
        #[arg(long)]
        role: String,
    },
    /// Register a city that runs `mamori serve` on its own box, to be witnessed over HTTP
    /// (`POST /prefecture/witness/add-checkpoint`); ledgered in the prefecture's ledger. Run it
    /// while `prefecture serve` is stopped.
    AddRemoteCity {
        /// Root directory of the prefecture.
        #[arg(long)]
        root: PathBuf,
        /// The city's name (a-z, 0-9, -, _), e.g. kita-machi.
        #[arg(long)]
        name: String,
        /// Its log origin (the `origin` of its config.toml), e.g. kita-machi.example.lg.jp.
        #[arg(long)]
        origin: String,
        /// Its checkpoint verifier key (printed by its `mamori init`, `keys/log.vkey`).
        #[arg(long)]
        key: String,
    },
    /// On a city's own box, after `mamori rotate-key` and before `serve`: send the prefecture's
    /// witness the proof that the old key authorised the new one (the key entry, proved in the
    /// bridge checkpoint the old key signed; `POST <witness>/rotate-key`).
    FollowRotation {
        /// The city's data directory (its server stopped).
        #[arg(long, default_value = "mamori-data")]
        data: PathBuf,
        /// The prefecture's witness URL prefix, as in the city's `[[witnesses]] url`, e.g.
        /// http://prefecture.example:8080/prefecture/witness.
        #[arg(long)]
        witness: String,
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
        /// Mark every city's web-UI cookies Secure (behind a TLS-terminating proxy); also set by
        /// `[server] secure_cookies = true` in <root>/prefecture/config.toml (every city) or in a
        /// city's own config.toml (that city).
        #[arg(long)]
        secure_cookies: bool,
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
        PrefectureCmd::AddCity { root, id, syslog_tcp, syslog_udp } => {
            let t = TenantId::new(&id).map_err(|e| anyhow::anyhow!("--id: {e}"))?;
            let domain = domain_of(&root)?;
            if (syslog_tcp.is_some() || syslog_udp.is_some()) && city_dir(&root, &t).join("config.toml").exists() {
                // An existing city: only its syslog listeners change.
                mamori_prefecture::set_city_syslog(&root, &t, syslog_tcp.as_deref(), syslog_udp.as_deref())?;
                println!("市町村 {t} の syslog 受信口を設定しました / set city {t}'s syslog listeners (次回の serve から / from the next serve)");
                return Ok(());
            }
            for a in [&syslog_tcp, &syslog_udp].into_iter().flatten() {
                a.parse::<std::net::SocketAddr>().map_err(|e| anyhow::anyhow!("syslog の待受アドレス {a:?} が不正です(IP:ポート)/ invalid syslog listen address {a:?} (IP:PORT): {e}"))?;
            }
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
            if syslog_tcp.is_some() || syslog_udp.is_some() {
                mamori_prefecture::set_city_syslog(&root, &t, syslog_tcp.as_deref(), syslog_udp.as_deref())?;
                for (p, a) in [("TCP", &syslog_tcp), ("UDP", &syslog_udp)] {
                    if let Some(a) = a {
                        println!("syslog {p} {a}: この市町村の台帳へ / to this city's ledger only");
                    }
                }
            }
            println!("取込 / ingest: POST /t/{t}/_bulk, /t/{t}/api/v1/events (次回の serve から / from the next serve)");
            Ok(())
        }
        PrefectureCmd::AddUser { root, city, name, role } => {
            let t = TenantId::new(&city).map_err(|e| anyhow::anyhow!("--city: {e}"))?;
            domain_of(&root)?;
            let u = mamori_prefecture::add_city_user(&root, &t, &name, &role, "cli").map_err(|e| match e {
                mamori_prefecture::PrefectureError::UnknownCity(_) => {
                    let known: Vec<String> = cities(&root).unwrap_or_default().iter().map(|c| c.to_string()).collect();
                    anyhow::anyhow!("{e} (市町村 / cities: {})", if known.is_empty() { "-".to_owned() } else { known.join(", ") })
                }
                e => anyhow::Error::new(e).context(format!("adding user {name} to {t}")),
            })?;
            println!("市町村 {t} に利用者 {name} を追加しました / added user {name} to city {t} (台帳 / ledger #{}, #{})", u.ledger_ids[0], u.ledger_ids[1]);
            println!("ログイン / login: /t/{t}/ui/login");
            println!("一時パスワード(一度だけ表示・初回ログイン時に変更)/ one-time password (shown once, must be changed at the first login):\n{}", u.password);
            Ok(())
        }
        PrefectureCmd::AddRemoteCity { root, name, origin, key } => add_remote_city(&root, &name, &origin, &key),
        PrefectureCmd::FollowRotation { data, witness } => follow_rotation(&data, &witness),
        PrefectureCmd::Serve { root, clickhouse, listen, nats, secure_cookies } => serve(&root, &clickhouse, &listen, nats.as_deref(), secure_cookies),
    }
}

fn serve(root: &Path, clickhouse: &str, listen: &str, nats: Option<&str>, secure_cookies: bool) -> Result<()> {
    let cfg = mamori_store_clickhouse::Config::single(clickhouse);
    mamori_store_clickhouse::schema::create_single(&cfg).with_context(|| format!("creating the tables on {clickhouse}"))?;
    let list = cities(root)?;
    let bus = nats.map(mamori_bus::BusConfig::new);
    let opts = mamori_prefecture::Options { bus, secure_cookies };
    let pref = Arc::new(Prefecture::open_opts(root, &list, cfg, opts).with_context(|| format!("opening {}", root.display()))?);
    let rt = tokio::runtime::Runtime::new()?;
    let p2 = pref.clone();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
        let local = listener.local_addr()?;
        // Each city's own syslog listeners (its config.toml), before the address line.
        for l in mamori_prefecture::serve_syslog(&p2).await? {
            println!("syslog {} {}: {}", l.proto.to_uppercase(), l.tenant, l.addr);
        }
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

fn add_remote_city(root: &Path, name: &str, origin: &str, key: &str) -> Result<()> {
    domain_of(root)?;
    let r = mamori_prefecture::remote::add_remote_city(root, name, origin, key)
        .with_context(|| format!("registering remote city {name}"))?;
    let wkey = mamori_prefecture::witness::witness_vkey(&root.join("prefecture"))?;
    println!("自前のサーバーで運用する市町村 {} を登録しました / registered remote city {} ({})", r.name, r.name, r.origin);
    println!("市町村の config.toml に追加 / add to the city's config.toml:");
    println!("[[witnesses]]\nurl = \"http://<prefecture>/prefecture/witness\"\nvkey = \"{wkey}\"");
    println!("検証 / verify: mamori verify --witness-key {wkey}");
    Ok(())
}

fn follow_rotation(data: &Path, witness: &str) -> Result<()> {
    let dd = mamori_server::DataDir::new(data);
    let old = dd.previous_vkeys()?.pop().context("this city never rotated its key (keys/previous.vkeys is empty)")?;
    let opened = dd.open().with_context(|| format!("opening {}", data.display()))?;
    let res = (|| -> Result<serde_json::Value> {
        let bridge = opened.ledger.checkpoint();
        mamori_ledger::SignedCheckpoint::verify(&bridge.note, &old, &[]).map_err(|e| {
            anyhow::anyhow!("the current checkpoint is not signed by the old key ({e}): the bridge of rotate-key was overwritten")
        })?;
        let index = mamori_prefecture::witness::find_rotation(&opened.ledger, &old, 4096).map_err(anyhow::Error::msg)?;
        let base = witness.trim_end_matches('/');
        let http = reqwest::blocking::Client::builder().timeout(std::time::Duration::from_secs(30)).build()?;
        // The size the witness cosigned: its 409 answer to a request from size 0.
        let body = mamori_ledger::witness::add_checkpoint_body(0, &[], &bridge.note);
        let r = http.post(format!("{base}/add-checkpoint")).body(body).send()?;
        let from = match r.status().as_u16() {
            200 => bridge.size,
            409 => mamori_ledger::witness::parse_conflict(&r.bytes()?).context("409 without a size")?,
            s => anyhow::bail!("the witness answered {s}: {}", r.text().unwrap_or_default()),
        };
        let evidence = mamori_prefecture::witness::rotation_evidence(&opened.ledger, index, &bridge, from).map_err(anyhow::Error::msg)?;
        let r = http
            .post(format!("{base}/rotate-key"))
            .json(&serde_json::json!({"origin": bridge.origin, "evidence": evidence}))
            .send()?;
        let status = r.status();
        let v: serde_json::Value = r.json().unwrap_or_default();
        if !status.is_success() {
            anyhow::bail!("the witness refused the rotation ({status}): {v}");
        }
        Ok(v)
    })();
    opened.ledger.close();
    let v = res?;
    println!("県の証人が新しい鍵を受け入れました / the prefecture's witness follows the new key: {}", v["vkey"].as_str().unwrap_or("?"));
    Ok(())
}
