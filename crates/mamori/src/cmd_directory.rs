//! Directory subcommands beyond the roster and USB ledger: LDAP/AD sync, access grants and
//! entitlements, unknown accounts, the access review and its sign-off, takeout requests
//! (持ち出し申請) and vendors (委託先). Every change is ledgered with the actor `cli` (the
//! server must be stopped, as for the other writing commands).

use anyhow::{Context, Result, anyhow, bail};
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use mamori_directory::{
    DirectoryChange, EntitlementSet, GrantMapping, Medium, ReviewParams, SignOff, TakeoutAction,
    TakeoutRequest, VendorAction, VendorContract,
};
use mamori_server::DataDir;
use std::path::{Path, PathBuf};

use crate::DataArg;

/// The directory commands (flattened into the top-level command list).
#[derive(Subcommand)]
pub enum DirectoryCmd {
    /// Sync accounts and groups from LDAP / Active Directory (ledgered, with the diff).
    LdapSync(LdapSyncArgs),
    /// Import access grants: a permission-export CSV (with a column mapping) or smb.conf.
    GrantsImport(GrantsImportArgs),
    /// Import the entitlement policy (which 所属 should have which access), TOML.
    EntitlementsImport {
        #[command(flatten)]
        d: DataArg,
        /// The policy file.
        file: PathBuf,
    },
    /// Accounts seen in LDAP or grants that belong to nobody in the roster.
    Accounts {
        #[command(flatten)]
        d: DataArg,
        /// Date (default today).
        #[arg(long)]
        date: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The access review (アクセス権の棚卸し) and its sign-off.
    Review {
        #[command(subcommand)]
        cmd: ReviewCmd,
    },
    /// Takeout requests (持ち出し申請).
    Takeout {
        #[command(subcommand)]
        cmd: TakeoutCmd,
    },
    /// Vendors (委託先) and deletion certificates.
    Vendor {
        #[command(subcommand)]
        cmd: VendorCmd,
    },
}

/// `ldap-sync` arguments.
#[derive(Args)]
pub struct LdapSyncArgs {
    #[command(flatten)]
    d: DataArg,
    /// ldap://host:port/
    #[arg(long)]
    url: String,
    /// Bind DN (omit for anonymous).
    #[arg(long, default_value = "")]
    bind_dn: String,
    /// File holding the bind password (first line).
    #[arg(long)]
    password_file: Option<PathBuf>,
    /// Search base.
    #[arg(long)]
    base_dn: String,
    /// ad or openldap.
    #[arg(long, default_value = "openldap")]
    flavor: String,
    /// User filter (default per flavour).
    #[arg(long)]
    user_filter: Option<String>,
    /// Group filter (default per flavour).
    #[arg(long)]
    group_filter: Option<String>,
    /// Extra disabled marker ATTR=VALUE (e.g. employeeType=disabled).
    #[arg(long)]
    disabled_attr: Option<String>,
    /// The day the sync describes (default today).
    #[arg(long)]
    date: Option<String>,
    /// Print the diff as JSON.
    #[arg(long)]
    json: bool,
}

/// `grants-import` arguments.
#[derive(Args)]
pub struct GrantsImportArgs {
    #[command(flatten)]
    d: DataArg,
    /// Source name (the system, or smb:<server>); a newer import of it supersedes.
    #[arg(long)]
    source: String,
    /// Column mapping (TOML) for a CSV; default: アカウント,資源,権限,開始日,終了日.
    #[arg(long)]
    mapping: Option<PathBuf>,
    /// The file is smb.conf.
    #[arg(long)]
    smb_conf: bool,
    /// The date the export describes (default today).
    #[arg(long)]
    as_of: Option<String>,
    /// The file.
    file: PathBuf,
}

/// `review` subcommands.
#[derive(Subcommand)]
pub enum ReviewCmd {
    /// Review access as of a date.
    Access {
        #[command(flatten)]
        d: DataArg,
        /// Date (YYYY-MM-DD or 和暦).
        #[arg(long)]
        as_of: String,
        /// JSON.
        #[arg(long, conflicts_with_all = ["csv", "pdf"])]
        json: bool,
        /// CSV (UTF-8 with BOM).
        #[arg(long, conflicts_with = "pdf")]
        csv: bool,
        /// Write a PDF report to this file.
        #[arg(long)]
        pdf: Option<PathBuf>,
        /// TrueType font for the PDF (default IPAex Gothic).
        #[arg(long)]
        font: Option<PathBuf>,
        #[command(flatten)]
        p: ParamArgs,
    },
    /// Sign off a review, with comments per finding (CSV 指摘ID,コメント), ledgered.
    Sign {
        #[command(flatten)]
        d: DataArg,
        /// The review date.
        #[arg(long)]
        as_of: String,
        /// The reviewer.
        #[arg(long)]
        reviewer: String,
        /// Comments CSV (指摘ID,コメント).
        #[arg(long)]
        comments: Option<PathBuf>,
        /// Overall comment.
        #[arg(long, default_value = "")]
        summary: String,
        #[command(flatten)]
        p: ParamArgs,
    },
}

/// Review thresholds.
#[derive(Args, Clone)]
pub struct ParamArgs {
    /// Days without logon that make an account dormant.
    #[arg(long, default_value_t = 90)]
    dormant_days: i64,
    /// Percent of employed staff holding a resource that makes it wide.
    #[arg(long, default_value_t = 30)]
    wide_percent: u32,
    /// Fewest holders for a wide-access finding.
    #[arg(long, default_value_t = 5)]
    wide_min_holders: usize,
}

impl ParamArgs {
    fn params(&self) -> ReviewParams {
        ReviewParams { dormant_days: self.dormant_days, wide_percent: self.wide_percent, wide_min_holders: self.wide_min_holders }
    }
}

/// `takeout` subcommands.
#[derive(Subcommand)]
pub enum TakeoutCmd {
    /// File a request.
    Request {
        #[command(flatten)]
        d: DataArg,
        /// Request number.
        #[arg(long)]
        id: String,
        /// Applicant (職員番号 or account).
        #[arg(long)]
        applicant: String,
        /// データの内容.
        #[arg(long)]
        description: String,
        /// 件数.
        #[arg(long)]
        records: Option<u64>,
        /// 目的.
        #[arg(long)]
        purpose: String,
        /// usb:<管理番号>, mail:<address> or paper.
        #[arg(long)]
        medium: String,
        /// 持出先.
        #[arg(long, default_value = "")]
        destination: String,
        /// First day.
        #[arg(long)]
        from: String,
        /// Last day.
        #[arg(long)]
        until: String,
        /// 申請日 (default: --from).
        #[arg(long)]
        on: Option<String>,
    },
    /// Approve (the approver must be the applicant's supervisor on that date).
    Approve(DecideArgs),
    /// Reject.
    Reject(DecideArgs),
    /// The data was taken out.
    Take(StepArgs),
    /// The medium was returned.
    Return(StepArgs),
    /// The data was erased (note required).
    Erase(StepArgs),
    /// List requests.
    List {
        #[command(flatten)]
        d: DataArg,
        /// JSON.
        #[arg(long)]
        json: bool,
    },
    /// Approved requests past their period and not returned.
    Reminders {
        #[command(flatten)]
        d: DataArg,
        /// Date (default today).
        #[arg(long)]
        as_of: Option<String>,
    },
    /// Match USB writes, external mails and exports in the index to approved requests.
    Reconcile {
        #[command(flatten)]
        d: DataArg,
        /// From (RFC 3339 or date).
        #[arg(long)]
        from: Option<String>,
        /// To.
        #[arg(long)]
        to: Option<String>,
        /// JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Approve / reject arguments.
#[derive(Args)]
pub struct DecideArgs {
    #[command(flatten)]
    d: DataArg,
    /// Request number.
    #[arg(long)]
    id: String,
    /// Approver (職員番号 or account).
    #[arg(long)]
    approver: String,
    /// Date (default today).
    #[arg(long)]
    on: Option<String>,
    /// Comment / reason.
    #[arg(long, default_value = "")]
    note: String,
}

/// Take / return / erase arguments.
#[derive(Args)]
pub struct StepArgs {
    #[command(flatten)]
    d: DataArg,
    /// Request number.
    #[arg(long)]
    id: String,
    /// Date (default today).
    #[arg(long)]
    on: Option<String>,
    /// Note (required for erase).
    #[arg(long, default_value = "")]
    note: String,
}

/// `vendor` subcommands.
#[derive(Subcommand)]
pub enum VendorCmd {
    /// Register a contract.
    Add {
        #[command(flatten)]
        d: DataArg,
        /// Contract id.
        #[arg(long)]
        id: String,
        /// 委託先.
        #[arg(long)]
        vendor: String,
        /// 業務内容.
        #[arg(long, default_value = "")]
        subject: String,
        /// First day.
        #[arg(long)]
        from: String,
        /// Last day.
        #[arg(long)]
        until: String,
        /// Certificate due (default: 30 days after --until).
        #[arg(long)]
        due: Option<String>,
        /// 所管課 (所属コード).
        #[arg(long, default_value = "")]
        department: String,
    },
    /// Data handed over.
    Handover {
        #[command(flatten)]
        d: DataArg,
        /// Contract id.
        #[arg(long)]
        id: String,
        /// Date.
        #[arg(long)]
        on: String,
        /// What data (`--content`: `--data` is the data directory).
        #[arg(long = "content", id = "content")]
        data: String,
        /// Records.
        #[arg(long)]
        records: Option<u64>,
    },
    /// Deletion certificate received.
    Certificate {
        #[command(flatten)]
        d: DataArg,
        /// Contract id.
        #[arg(long)]
        id: String,
        /// Date received.
        #[arg(long)]
        on: String,
        /// Certificate number, method, signer.
        #[arg(long)]
        note: String,
    },
    /// List contracts.
    List {
        #[command(flatten)]
        d: DataArg,
        /// JSON.
        #[arg(long)]
        json: bool,
    },
    /// Missing or overdue deletion certificates.
    Reminders {
        #[command(flatten)]
        d: DataArg,
        /// Date (default today).
        #[arg(long)]
        as_of: Option<String>,
    },
}

fn date_arg(name: &str, v: Option<&str>) -> Result<NaiveDate> {
    match v {
        Some(s) => mamori_directory::parse_date(s).map_err(|e| anyhow!("--{name}: {e}")),
        None => Ok(chrono::Local::now().date_naive()),
    }
}

fn record(data: &Path, change: DirectoryChange) -> Result<u64> {
    let (id, _) = DataDir::new(data).record_directory("cli", change)?;
    Ok(id)
}

/// `mamori ingest --format roster FILE…`: the roster import, one file after another.
pub fn ingest_roster(data: &Path, files: &[PathBuf]) -> Result<()> {
    if files.is_empty() {
        bail!("--format roster にはファイルが必要です / --format roster needs files");
    }
    for f in files {
        if f.as_os_str() == "-" {
            bail!("--format roster は標準入力に対応していません / --format roster reads files, not stdin");
        }
        let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        let name = f.display().to_string();
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
    }
    Ok(())
}

/// Resolves `--mapping` for a roster: a shipped roster mapping (`jinji-a`), a TOML file, or a
/// mapping ledgered with `mamori mapping set`; it must be a roster mapping.
fn roster_mapping(data: &Path, value: &str) -> Result<mamori_sources::Mapping> {
    let m = match mamori_directory::roster_map::builtin(value) {
        Some(m) => m,
        None => {
            let known = {
                let p = DataDir::new(data).index_path();
                if p.exists() { mamori_server::mappings::Mappings::rebuild(&mamori_store::Store::open_read_only(&p)?)? } else { Default::default() }
            };
            mamori_server::mappings::resolve(value, &known).map_err(|e| {
                let names: Vec<&str> = mamori_directory::roster_map::BUILTIN.iter().map(|(n, _)| *n).collect();
                anyhow!("{e}; 職員名簿用 / roster mappings shipped: {}", names.join(", "))
            })?
        }
    };
    mamori_directory::roster_map::check_roster_mapping(&m)?;
    Ok(m)
}

/// Imports one roster file in another layout through a roster mapping: the parsed rows and
/// the refused ones (original line and column) are ledgered as a `roster-imported` admin
/// entry like the standard import, with the mapping's name, SHA-256 and text beside them.
fn import_roster_mapped(data: &Path, actor: &str, file_name: &str, bytes: &[u8], m: &mamori_sources::Mapping) -> Result<(u64, mamori_directory::ImportRecord)> {
    let dir = DataDir::new(data);
    let cfg = dir.config()?;
    let now = chrono::Utc::now();
    let mut record = mamori_directory::ImportRecord::from_mapped_csv(String::new(), m, bytes, now, Some(file_name.to_owned()))?;
    let digest = record.source_sha256.clone();
    record.id = format!("roster-{}-{}", &digest[..12], now.timestamp_micros());
    let ledger = dir.open_ledger(&cfg)?;
    // Refuse what the directory would refuse on replay, before it is ledgered.
    let result = (|| -> Result<u64> {
        dir.index_now(&ledger)?;
        let mut d = dir.directory()?;
        d.apply(&record).map_err(|e| anyhow!("{e}"))?;
        let doc = serde_json::json!({
            "@timestamp": mamori_event::format_ts(now),
            "event": {"kind": "event", "category": ["configuration", "iam"], "action": "roster-imported", "module": "mamori", "dataset": "mamori.admin", "outcome": "success"},
            "user": {"name": actor},
            "file": {"name": file_name, "hash": {"sha256": digest}},
            "mamori": {"roster": record, "mapping": {"name": m.name, "toml": m.source}},
        });
        let r = ledger.append_blocking(vec![mamori_ledger::NewEntry { kind: mamori_ledger::EntryKind::Admin, payload: serde_json::to_vec(&doc)? }])?;
        dir.index_now(&ledger)?;
        Ok(r.first_index)
    })();
    ledger.close();
    Ok((result?, record))
}

/// `mamori ingest --format roster [--mapping NAME|FILE] FILE…` and `mamori roster-import
/// --mapping …`: the roster import, one file after another; with a mapping, files in another
/// layout are mapped onto the roster first (docs/directory.md, "Other roster layouts").
pub fn ingest_roster_mapped(data: &Path, files: &[PathBuf], mapping: Option<&str>) -> Result<()> {
    let Some(value) = mapping else { return ingest_roster(data, files) };
    if files.is_empty() {
        bail!("--format roster にはファイルが必要です / --format roster needs files");
    }
    let m = roster_mapping(data, value)?;
    for f in files {
        if f.as_os_str() == "-" {
            bail!("--format roster は標準入力に対応していません / --format roster reads files, not stdin");
        }
        let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        let name = f.display().to_string();
        let (id, rec) = import_roster_mapped(data, "cli", &name, &bytes, &m)?;
        println!(
            "{name}: マッピング {} で取込 {} 行 / imported {} rows with mapping {}, エラー {} 行 / {} rows refused (台帳 #{id} / ledger entry #{id})",
            m.name,
            rec.rows.len(),
            rec.rows.len(),
            m.name,
            rec.errors.len(),
            rec.errors.len()
        );
        for e in &rec.errors {
            eprintln!("  {name}: {e}");
        }
    }
    Ok(())
}

/// Resolves a 職員番号 or account to a 職員番号 on a date.
fn staff(dir: &mamori_directory::Directory, who: &str, on: NaiveDate) -> Result<String> {
    dir.staff_id_of(who, on)
        .ok_or_else(|| anyhow!("{who} は名簿の一人に定まりません / {who} is not one person in the roster on {on}"))
}

/// Runs a directory command.
pub fn run(cmd: DirectoryCmd) -> Result<()> {
    match cmd {
        DirectoryCmd::LdapSync(a) => ldap_sync(a),
        DirectoryCmd::GrantsImport(a) => {
            let bytes = std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
            let as_of = date_arg("as-of", a.as_of.as_deref())?;
            let snap = if a.smb_conf {
                let text = String::from_utf8_lossy(&bytes);
                mamori_directory::parse_smb_conf(&text, &a.source, as_of)
            } else {
                let mut m = match &a.mapping {
                    Some(p) => GrantMapping::from_toml(&std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?).map_err(|e| anyhow!(e))?,
                    None => GrantMapping::standard(&a.source),
                };
                m.source.clone_from(&a.source);
                mamori_directory::parse_grant_csv(&bytes, &m, as_of)
            };
            let (n, errs) = (snap.grants.len(), snap.errors.clone());
            let id = record(&a.d.data, DirectoryChange::Grants(snap))?;
            let name = a.file.display();
            println!("{name}: 権限 {n} 件 / {n} grants, エラー {} 行 / {} rows refused (台帳 #{id} / ledger entry #{id})", errs.len(), errs.len());
            for e in &errs {
                eprintln!("  {name}: {e}");
            }
            Ok(())
        }
        DirectoryCmd::EntitlementsImport { d, file } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let set = EntitlementSet::from_toml(&text).map_err(|e| anyhow!("{}: {e}", file.display()))?;
            let n = set.entitlements.len();
            let id = record(&d.data, DirectoryChange::Entitlements(set))?;
            println!("{}: 権限基準 {n} 件 / {n} entitlements (台帳 #{id} / ledger entry #{id})", file.display());
            Ok(())
        }
        DirectoryCmd::Accounts { d, date, json } => {
            let on = date_arg("date", date.as_deref())?;
            let dir = DataDir::new(&d.data).directory()?;
            let unknown = dir.unknown_accounts(on);
            if json {
                println!("{}", serde_json::to_string_pretty(&unknown)?);
            } else {
                println!("{on}: 所有者不明のアカウント {} 件 / {} accounts of nobody known", unknown.len(), unknown.len());
                for u in &unknown {
                    let en = match u.enabled {
                        Some(true) => "有効 / enabled",
                        Some(false) => "無効 / disabled",
                        None => "-",
                    };
                    let g = if u.generic { " 汎用 / generic" } else { "" };
                    println!("  {}  {en}{g}  [{}]", u.account, u.seen_in.join(", "));
                }
            }
            Ok(())
        }
        DirectoryCmd::Review { cmd } => review(cmd),
        DirectoryCmd::Takeout { cmd } => takeout(cmd),
        DirectoryCmd::Vendor { cmd } => vendor(cmd),
    }
}

fn ldap_sync(a: LdapSyncArgs) -> Result<()> {
    let flavor = match a.flavor.as_str() {
        "ad" | "AD" => mamori_directory::Flavor::Ad,
        "openldap" | "ldap" => mamori_directory::Flavor::OpenLdap,
        other => bail!("--flavor {other}: ad か openldap / ad or openldap"),
    };
    let mut s = mamori_directory::LdapSettings::new(flavor, &a.base_dn);
    if let Some(f) = a.user_filter {
        s.user_filter = f;
    }
    if let Some(f) = a.group_filter {
        s.group_filter = f;
    }
    if let Some(da) = &a.disabled_attr {
        let (k, v) = da.split_once('=').ok_or_else(|| anyhow!("--disabled-attr は ATTR=VALUE / --disabled-attr must be ATTR=VALUE"))?;
        s.disabled_attr = Some((k.trim().to_owned(), v.trim().to_owned()));
    }
    let password = match &a.password_file {
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?.lines().next().unwrap_or("").to_owned(),
        None => String::new(),
    };
    let as_of = date_arg("date", a.date.as_deref())?;
    let connect = mamori_directory::ldap::LdapConnect { url: a.url.clone(), bind_dn: a.bind_dn.clone(), password, timeout: std::time::Duration::from_secs(30) };
    let snap = mamori_directory::ldap::fetch(&connect, &s, chrono::Utc::now(), as_of).with_context(|| format!("syncing {}", a.url))?;
    let dd = DataDir::new(&a.d.data);
    let change = dd.directory()?.ldap_sync_change(snap);
    let (id, rec) = dd.record_directory("cli", change)?;
    let DirectoryChange::LdapSync { snapshot, diff } = &rec.change else { unreachable!() };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({"ledger_id": id, "accounts": snapshot.accounts.len(), "groups": snapshot.groups.len(), "diff": diff, "skipped": snapshot.skipped}))?);
        return Ok(());
    }
    println!(
        "{}: アカウント {} 件、グループ {} 件 / {} accounts, {} groups (台帳 #{id} / ledger entry #{id})",
        a.url,
        snapshot.accounts.len(),
        snapshot.groups.len(),
        snapshot.accounts.len(),
        snapshot.groups.len()
    );
    let show = |label: &str, v: &[String]| {
        if !v.is_empty() {
            println!("  {label}: {}", v.join(", "));
        }
    };
    show("追加 / added", &diff.added);
    show("削除 / removed", &diff.removed);
    show("無効化 / disabled", &diff.disabled);
    show("有効化 / enabled", &diff.enabled);
    for (acct, g) in &diff.joined_groups {
        println!("  グループ追加 / joined: {acct} → {g}");
    }
    for (acct, g) in &diff.left_groups {
        println!("  グループ離脱 / left: {acct} ← {g}");
    }
    for s in &snapshot.skipped {
        eprintln!("  {s}");
    }
    Ok(())
}

fn review(cmd: ReviewCmd) -> Result<()> {
    match cmd {
        ReviewCmd::Access { d, as_of, json, csv, pdf, font, p } => {
            let on = date_arg("as-of", Some(&as_of))?;
            let dir = DataDir::new(&d.data).directory()?;
            let r = dir.review_access(on, &p.params());
            if let Some(path) = pdf {
                let font = match font {
                    Some(f) => std::fs::read(&f).with_context(|| format!("reading {}", f.display()))?,
                    None => mamori_directory::pdf::find_font()?,
                };
                let signoffs: Vec<(String, SignOff)> = dir.signoffs().iter().filter(|(_, s)| s.as_of == on).cloned().collect();
                let bytes = mamori_directory::pdf::review_pdf(&r, &signoffs, &font)?;
                std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
                println!("{}: 指摘 {} 件 / {} findings", path.display(), r.findings.len(), r.findings.len());
            } else if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else if csv {
                print!("{}", r.to_csv());
            } else {
                println!("{on} アクセス権棚卸し / access review: 在職 {} 人 / employed, 指摘 {} 件 / findings", r.employed, r.findings.len());
                for f in &r.findings {
                    println!("  [{}] {}", f.id, f.message);
                }
            }
            Ok(())
        }
        ReviewCmd::Sign { d, as_of, reviewer, comments, summary, p } => {
            let on = date_arg("as-of", Some(&as_of))?;
            let dd = DataDir::new(&d.data);
            let r = dd.directory()?.review_access(on, &p.params());
            let comments = match comments {
                Some(path) => mamori_directory::review::parse_comments(&std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?)
                    .map_err(|e| anyhow!("{}: {e}", path.display()))?,
                None => Default::default(),
            };
            let s = SignOff {
                as_of: on,
                params: p.params(),
                reviewer,
                signed_on: chrono::Local::now().date_naive(),
                findings_sha256: r.findings_sha256.clone(),
                comments,
                summary,
            };
            let id = record(&d.data, DirectoryChange::ReviewSignOff(s))?;
            println!("{on} の棚卸しを確認しました(指摘 {} 件、台帳 #{id})/ signed off the review of {on} ({} findings, ledger entry #{id})", r.findings.len(), r.findings.len());
            Ok(())
        }
    }
}

fn medium(dd: &DataDir, text: &str, on: NaiveDate) -> Result<Medium> {
    if text == "paper" || text == "紙" {
        return Ok(Medium::Paper);
    }
    if let Some(addr) = text.strip_prefix("mail:") {
        let a = addr.trim().to_lowercase();
        if !a.contains('@') {
            bail!("--medium mail:{addr}: メールアドレスではありません / not a mail address");
        }
        return Ok(Medium::Mail { to: a });
    }
    if let Some(reg) = text.strip_prefix("usb:") {
        let registry = dd.usb_registry()?;
        let dev = registry.get(reg).ok_or_else(|| anyhow!("--medium usb:{reg}: USB 管理台帳にありません / not in the USB registry"))?;
        if dev.status_on(on) != Some(mamori_directory::UsbStatus::Active) {
            bail!("--medium usb:{reg}: {on} に使用中ではありません / not active on {on}");
        }
        return Ok(Medium::Usb { registration_id: reg.to_owned(), vendor_id: dev.vendor_id.clone(), product_id: dev.product_id.clone(), serial: dev.serial.clone() });
    }
    bail!("--medium: usb:<管理番号>、mail:<アドレス>、paper のいずれか / usb:<id>, mail:<address> or paper")
}

fn takeout(cmd: TakeoutCmd) -> Result<()> {
    let step = |d: &DataArg, action: TakeoutAction, verb: &str| -> Result<()> {
        let id = action.id().to_owned();
        let lid = record(&d.data, DirectoryChange::Takeout(action))?;
        println!("申請 {id}: {verb}(台帳 #{lid} / ledger entry #{lid})");
        Ok(())
    };
    match cmd {
        TakeoutCmd::Request { d, id, applicant, description, records, purpose, medium: m, destination, from, until, on } => {
            let from = date_arg("from", Some(&from))?;
            let until = date_arg("until", Some(&until))?;
            let on = match on {
                Some(s) => date_arg("on", Some(&s))?,
                None => from,
            };
            let dd = DataDir::new(&d.data);
            let dir = dd.directory()?;
            let applicant = staff(&dir, &applicant, on)?;
            let medium = medium(&dd, &m, on)?;
            let r = TakeoutRequest { id, applicant, description, records, purpose, medium, destination, from, until, requested_on: on };
            step(&d, TakeoutAction::Request(r), "申請しました / requested")
        }
        TakeoutCmd::Approve(a) => decide(a, true),
        TakeoutCmd::Reject(a) => decide(a, false),
        TakeoutCmd::Take(a) => {
            let on = date_arg("on", a.on.as_deref())?;
            step(&a.d, TakeoutAction::Take { id: a.id.clone(), on }, "持出 / taken")
        }
        TakeoutCmd::Return(a) => {
            let on = date_arg("on", a.on.as_deref())?;
            step(&a.d, TakeoutAction::Return { id: a.id.clone(), on, note: a.note.clone() }, "返却 / returned")
        }
        TakeoutCmd::Erase(a) => {
            let on = date_arg("on", a.on.as_deref())?;
            step(&a.d, TakeoutAction::Erase { id: a.id.clone(), on, note: a.note.clone() }, "消去 / erased")
        }
        TakeoutCmd::List { d, json } => {
            let dir = DataDir::new(&d.data).directory()?;
            let all: Vec<_> = dir.takeouts().collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                for t in all {
                    let r = &t.request;
                    println!(
                        "{}  {}  申請者 {}  {}  {}件  {}〜{}  承認者 {}",
                        r.id,
                        t.state.label(),
                        r.applicant,
                        r.medium.label(),
                        r.records.map_or("-".into(), |n| n.to_string()),
                        r.from,
                        r.until,
                        t.approver.as_deref().unwrap_or("-")
                    );
                }
            }
            Ok(())
        }
        TakeoutCmd::Reminders { d, as_of } => {
            let on = date_arg("as-of", as_of.as_deref())?;
            let dir = DataDir::new(&d.data).directory()?;
            for r in dir.takeout_reminders(on) {
                println!(
                    "申請 {}({}): 期限 {} を {} 日過ぎても返却・消去の記録がありません / not returned {} days after {}",
                    r.takeout, r.applicant, r.due, r.days_overdue, r.days_overdue, r.due
                );
            }
            Ok(())
        }
        TakeoutCmd::Reconcile { d, from, to, json } => {
            let dd = DataDir::new(&d.data);
            let dir = dd.directory()?;
            let store = mamori_store::Store::open_read_only(&dd.index_path())?;
            let mut cursor = None;
            let mut out = Vec::new();
            loop {
                let q = mamori_store::Query { kind: Some("event".into()), from: from.clone(), to: to.clone(), limit: Some(1000), cursor: cursor.clone(), ..Default::default() };
                let page = store.search(&q)?;
                for h in page.events {
                    if let Some(o) = mamori_directory::Observed::from_ecs(Some(h.id), &h.doc) {
                        let v = dir.reconcile_one(&o);
                        out.push(serde_json::json!({"event": h.id, "account": o.account, "date": o.date, "channel": o.channel, "records": o.records, "result": v}));
                    }
                }
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                for o in &out {
                    println!("#{} {} {} {}", o["event"], o["date"], o["account"], o["result"]);
                }
            }
            Ok(())
        }
    }
}

fn decide(a: DecideArgs, approve: bool) -> Result<()> {
    let on = date_arg("on", a.on.as_deref())?;
    let dir = DataDir::new(&a.d.data).directory()?;
    let approver = staff(&dir, &a.approver, on)?;
    let action = if approve {
        TakeoutAction::Approve { id: a.id.clone(), approver, on, note: a.note.clone() }
    } else {
        TakeoutAction::Reject { id: a.id.clone(), approver, on, note: a.note.clone() }
    };
    let lid = record(&a.d.data, DirectoryChange::Takeout(action))?;
    let verb = if approve { "承認しました / approved" } else { "却下しました / rejected" };
    println!("申請 {}: {verb}(台帳 #{lid} / ledger entry #{lid})", a.id);
    Ok(())
}

fn vendor(cmd: VendorCmd) -> Result<()> {
    match cmd {
        VendorCmd::Add { d, id, vendor, subject, from, until, due, department } => {
            let c = VendorContract {
                id: id.clone(),
                vendor,
                subject,
                from: date_arg("from", Some(&from))?,
                until: date_arg("until", Some(&until))?,
                certificate_due: due.as_deref().map(|s| date_arg("due", Some(s))).transpose()?,
                department,
            };
            let lid = record(&d.data, DirectoryChange::Vendor(VendorAction::Contract(c)))?;
            println!("契約 {id} を登録しました(台帳 #{lid})/ registered contract {id} (ledger entry #{lid})");
            Ok(())
        }
        VendorCmd::Handover { d, id, on, data, records } => {
            let on = date_arg("on", Some(&on))?;
            let lid = record(&d.data, DirectoryChange::Vendor(VendorAction::Handover { id: id.clone(), on, data, records }))?;
            println!("契約 {id}: 引渡しを記録しました(台帳 #{lid})/ handover recorded (ledger entry #{lid})");
            Ok(())
        }
        VendorCmd::Certificate { d, id, on, note } => {
            let on = date_arg("on", Some(&on))?;
            let lid = record(&d.data, DirectoryChange::Vendor(VendorAction::Certificate { id: id.clone(), on, note }))?;
            println!("契約 {id}: 消去証明書を受領しました(台帳 #{lid})/ certificate recorded (ledger entry #{lid})");
            Ok(())
        }
        VendorCmd::List { d, json } => {
            let dir = DataDir::new(&d.data).directory()?;
            let all: Vec<_> = dir.vendors().collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                for v in all {
                    let c = &v.contract;
                    let cert = v.certificate.as_ref().map_or("未提出 / missing".to_owned(), |(d, n, _)| format!("{d} {n}"));
                    println!("{}  {}  {}〜{}  証明書期限 {}  証明書 {cert}", c.id, c.vendor, c.from, c.until, c.due());
                }
            }
            Ok(())
        }
        VendorCmd::Reminders { d, as_of } => {
            let on = date_arg("as-of", as_of.as_deref())?;
            let dir = DataDir::new(&d.data).directory()?;
            for r in dir.vendor_reminders(on) {
                println!("{}", r.message());
            }
            Ok(())
        }
    }
}
