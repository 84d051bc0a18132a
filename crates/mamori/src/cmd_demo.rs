//! `mamori demo generate|load` and the `serve --demo` preparation: the demo city
//! (crates/demo) written to a directory, then loaded into a data directory by running its
//! manifest — each step is this same binary's ordinary command (`roster-import`, `ingest
//! --format …`, `takeout …`, `fingerprint …`), so the demo goes through the real ingest paths.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use mamori_server::DataDir;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `mamori demo …`.
#[derive(Subcommand)]
pub enum DemoCmd {
    /// デモ市を生成する / write the demo city (deterministic for a seed).
    Generate(GenerateArgs),
    /// デモ市をデータディレクトリに読み込む / load a generated demo city into a data directory.
    Load {
        /// Data directory (created if absent).
        #[arg(long, env = "MAMORI_DATA", default_value = "mamori-data")]
        data: PathBuf,
        /// The generated city (the --out of `demo generate`).
        #[arg(long)]
        city: PathBuf,
    },
}

/// `mamori demo generate` arguments.
#[derive(Args)]
pub struct GenerateArgs {
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Seed (same seed and sizes → byte-identical output).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Staff.
    #[arg(long, default_value_t = 600)]
    staff: usize,
    /// Residents.
    #[arg(long, default_value_t = 30_000)]
    residents: usize,
    /// Days of activity (at least 400).
    #[arg(long, default_value_t = 400)]
    days: u32,
    /// Background activity, percent of a normal day's events (1–100).
    #[arg(long, default_value_t = 100)]
    activity: u32,
}

/// Runs `mamori demo …`.
pub fn run(c: DemoCmd) -> Result<()> {
    match c {
        DemoCmd::Generate(a) => {
            let cfg = mamori_demo::Config {
                seed: a.seed,
                staff: a.staff,
                residents: a.residents,
                days: a.days,
                activity: a.activity,
            };
            let t = std::time::Instant::now();
            let s = generate(&cfg, &a.out)?;
            println!(
                "デモ市を生成しました / generated the demo city in {}: {} 件のイベント / events, {} ファイル / files, 職員 {} 人 / staff, 住民 {} 人 / residents, {}〜{} ({:.1} s)",
                a.out.display(),
                s.events,
                s.files,
                s.staff,
                s.residents,
                s.first_day,
                s.last_day,
                t.elapsed().as_secs_f64()
            );
            Ok(())
        }
        DemoCmd::Load { data, city } => {
            if !DataDir::new(&data).exists() {
                let r = DataDir::new(&data).init("mamori.demo.example.lg.jp/audit")?;
                println!(
                    "データディレクトリを作成しました / created {} (admin token: {})",
                    data.display(),
                    r.admin_token
                );
            }
            load(&data, &city)
        }
    }
}

fn generate(cfg: &mamori_demo::Config, out: &Path) -> Result<mamori_demo::Summary> {
    mamori_demo::generate(cfg, out)
        .with_context(|| format!("generating the demo city in {}", out.display()))
}

/// Runs every step of `<city>/manifest.json` against `data`, in order; stops at the first
/// failing step naming it.
pub fn load(data: &Path, city: &Path) -> Result<()> {
    let manifest = city.join("manifest.json");
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    let m: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}", manifest.display()))?;
    let steps = m["steps"].as_array().context("manifest.json: no steps")?;
    let exe = std::env::current_exe().context("locating the mamori binary")?;
    let data = std::path::absolute(data)?;
    let t = std::time::Instant::now();
    for (i, s) in steps.iter().enumerate() {
        if let Some(f) = s["copy"].as_str() {
            let to = data.join(f);
            std::fs::create_dir_all(to.parent().unwrap())?;
            std::fs::copy(city.join(f), &to).with_context(|| format!("copying {f}"))?;
            if f.starts_with("rules/") {
                ledger_rules(&data)?;
            }
            continue;
        }
        let args: Vec<&str> = s["args"]
            .as_array()
            .context("step without args")?
            .iter()
            .filter_map(|a| a.as_str())
            .collect();
        let out = Command::new(&exe)
            .args(&args)
            .arg("--data")
            .arg(&data)
            .current_dir(city)
            .output()
            .with_context(|| format!("running step {i}: {args:?}"))?;
        if !out.status.success() {
            bail!(
                "手順 {i} が失敗しました / step {i} failed: mamori {}\n{}{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // Rows the sources refused are part of the story: show them.
        let stdout = String::from_utf8_lossy(&out.stdout);
        for l in stdout
            .lines()
            .filter(|l| l.contains("隔離 ") && !l.contains("隔離 0 件"))
        {
            eprintln!("  {l}");
        }
        if i % 20 == 0 {
            eprintln!(
                "デモ読込 / demo load: {}/{} ({:.0} s)",
                i + 1,
                steps.len(),
                t.elapsed().as_secs_f64()
            );
        }
    }
    eprintln!(
        "デモ読込完了 / demo loaded: {} steps in {:.1} s",
        steps.len(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Ledgers the detection policy now (as a server start would), so that it is in force for the
/// events loaded after it: in ledger order, a policy applies from its ledger entry on.
fn ledger_rules(data: &Path) -> Result<()> {
    let dir = DataDir::new(data);
    let opened = dir
        .open()
        .with_context(|| format!("opening {}", data.display()))?;
    let det = mamori_server::detection::Detection::start(&dir, &opened.ledger)
        .context("ledgering the detection policy")?;
    drop(det);
    dir.index_now(&opened.ledger)?;
    opened.ledger.close();
    Ok(())
}

/// `serve --demo`: generates the city next to the data directory if absent, creates and loads
/// the data directory when it does not exist, scans the publish folder for personal data, and
/// creates an officer account. Returns the officer's login and password and the admin API
/// token when created now.
pub fn prepare_serve(data: &Path) -> Result<Option<(String, String, String)>> {
    let dir = DataDir::new(data);
    if dir.exists() {
        return Ok(None);
    }
    let abs = std::path::absolute(data)?;
    let city = abs.with_file_name(format!(
        "{}-demo-city",
        abs.file_name().and_then(|n| n.to_str()).unwrap_or("mamori")
    ));
    if !city.join("manifest.json").exists() {
        eprintln!(
            "デモ市を生成しています / generating the demo city in {} …",
            city.display()
        );
        let s = generate(&mamori_demo::Config::default(), &city)?;
        eprintln!("  {} events, {} files", s.events, s.files);
    }
    let admin = dir.init("mamori.demo.example.lg.jp/audit")?.admin_token;
    load(data, &city)?;
    // PII scan of the publication folder (Nara): what would have been stopped.
    let publish = city.join("files/publish");
    let exe = std::env::current_exe()?;
    let out = Command::new(&exe)
        .arg("scan")
        .arg(&publish)
        .output()
        .with_context(|| format!("running {} scan", exe.display()))?;
    println!(
        "公開前の個人情報チェック / pre-publication PII scan of {}:",
        publish.display()
    );
    // One summary line per file (the findings themselves: `mamori scan PATH`).
    for l in String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(" 件 / ") && l.contains("findings"))
    {
        println!("  {l}");
    }
    // The officer account.
    let opened = dir
        .open()
        .with_context(|| format!("opening {}", data.display()))?;
    let password = random_password();
    let phc = mamori_auth::hash_password(&password)?;
    let rec = mamori_auth::AdminRecord::UserAdded {
        name: "officer".into(),
        role: mamori_auth::Role::Officer,
        password_phc: phc,
    };
    opened.auth.read().unwrap().check(&rec)?;
    mamori_server::datadir::append_admin(&opened.ledger, "demo", &rec)?;
    mamori_server::indexer::catch_up(&opened.ledger, &mut opened.store.lock().unwrap())?;
    opened.ledger.close();
    Ok(Some(("officer".into(), password, admin)))
}

fn random_password() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut r = rand::thread_rng();
    (0..20)
        .map(|_| CHARS[r.gen_range(0..CHARS.len())] as char)
        .collect()
}
