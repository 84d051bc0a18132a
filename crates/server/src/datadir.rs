//! A mamori data directory and the operations that need all of it: init, open (ledger + index +
//! auth state), and ledgered admin actions.
//!
//! ```text
//! <data>/config.toml
//! <data>/keys/log.key        checkpoint signing key (0600), note signer-key format
//! <data>/keys/log.vkey       its verifier key
//! <data>/keys/witness.key    cosigner key, when acting as a witness (0600)
//! <data>/ledger/             wal/, tile/, checkpoint (mamori-ledger)
//! <data>/index/events.db     SQLite index (rebuildable: `mamori reindex`)
//! <data>/witness/state.json  what this witness has cosigned
//! ```

use crate::config::Config;
use crate::indexer;
use mamori_auth::{AdminRecord, AuthState, Role, Token};
use mamori_ledger::checkpoint::Cosigner;
use mamori_ledger::{CheckpointSigner, EntryKind, Ledger, LedgerConfig, NewEntry};
use mamori_store::Store;
use serde_json::json;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Errors opening or changing a data directory, with the path involved.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// A file could not be read or written.
    #[error("{path}: {why}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        why: String,
    },
    /// The configuration is invalid.
    #[error("{0}")]
    Config(String),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] mamori_ledger::LedgerError),
    /// The index failed.
    #[error(transparent)]
    Store(#[from] mamori_store::StoreError),
    /// An admin action was refused.
    #[error("{0}")]
    Auth(#[from] mamori_auth::Error),
    /// Something else.
    #[error("{0}")]
    Other(String),
}

fn file_err(path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError + '_ {
    move |e| DataDirError::File { path: path.to_owned(), why: e.to_string() }
}

/// Paths of a data directory.
#[derive(Clone, Debug)]
pub struct DataDir {
    /// The root.
    pub root: PathBuf,
}

impl DataDir {
    /// The data directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataDir { root: root.into() }
    }
    /// `config.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    /// The ledger directory.
    pub fn ledger_dir(&self) -> PathBuf {
        self.root.join("ledger")
    }
    /// The index database.
    pub fn index_path(&self) -> PathBuf {
        self.root.join("index").join("events.db")
    }
    /// The signing key.
    pub fn log_key_path(&self) -> PathBuf {
        self.root.join("keys").join("log.key")
    }
    /// The verifier key.
    pub fn log_vkey_path(&self) -> PathBuf {
        self.root.join("keys").join("log.vkey")
    }
    /// Verifier keys retired by rotation, one per line.
    pub fn previous_vkeys_path(&self) -> PathBuf {
        self.root.join("keys").join("previous.vkeys")
    }
    /// The witness cosigner key.
    pub fn witness_key_path(&self) -> PathBuf {
        self.root.join("keys").join("witness.key")
    }
    /// The witness state.
    pub fn witness_state_path(&self) -> PathBuf {
        self.root.join("witness").join("state.json")
    }

    /// Whether `init` has run.
    pub fn exists(&self) -> bool {
        self.config_path().exists()
    }

    /// Reads the configuration.
    pub fn config(&self) -> Result<Config, DataDirError> {
        let p = self.config_path();
        let text = fs::read_to_string(&p).map_err(file_err(&p))?;
        Config::parse(&text, &p.display().to_string()).map_err(DataDirError::Config)
    }

    /// Reads the log's verifier key.
    pub fn log_vkey(&self) -> Result<String, DataDirError> {
        let p = self.log_vkey_path();
        Ok(fs::read_to_string(&p).map_err(file_err(&p))?.trim().to_owned())
    }

    /// Verifier keys retired by key rotation (oldest first).
    pub fn previous_vkeys(&self) -> Result<Vec<String>, DataDirError> {
        match fs::read_to_string(self.previous_vkeys_path()) {
            Ok(t) => Ok(t.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(DataDirError::File { path: self.previous_vkeys_path(), why: e.to_string() }),
        }
    }

    /// Rotates the checkpoint signing key, as a ledgered action:
    /// 1. a `key` entry naming the actor, the reason and both verifier keys is appended and
    ///    covered by a checkpoint signed with the old key;
    /// 2. that checkpoint is signed by the new key too (the bridge: anyone trusting the old key
    ///    learns the new one from a note the old key signed);
    /// 3. the new key replaces `keys/log.key`; the old key moves to `keys/retired/` and its
    ///    verifier key is appended to `keys/previous.vkeys`.
    ///
    /// Needs the ledger lock (the server must be stopped). Witnesses must be given the new key.
    pub fn rotate_key(&self, actor: &str, reason: &str) -> Result<RotateResult, DataDirError> {
        let cfg = self.config()?;
        let old_skey = fs::read_to_string(self.log_key_path()).map_err(file_err(&self.log_key_path()))?;
        let old = CheckpointSigner::from_skey(&old_skey)?;
        let (new, new_skey) = CheckpointSigner::generate(&cfg.log.origin)?;
        // The new key is made durable before anything refers to it.
        let pending = self.root.join("keys").join("log.key.new");
        let _ = fs::remove_file(&pending);
        write_secret(&pending, &new_skey)?;
        let ledger = self.open_ledger(&cfg)?;
        let doc = json!({
            "@timestamp": mamori_event::format_ts(chrono::Utc::now()),
            "event": {"kind": "event", "category": ["configuration"], "action": "key-rotated", "module": "mamori", "dataset": "mamori.admin", "outcome": "success", "reason": reason},
            "user": {"name": actor},
            "mamori": {"key": {"old_vkey": old.vkey(), "new_vkey": new.vkey(), "reason": reason}},
        });
        let r = ledger.append_blocking(vec![NewEntry { kind: EntryKind::Key, payload: serde_json::to_vec(&doc).expect("json") }])?;
        let mut cp = ledger.wait_checkpoint(r.first_index + 1, Duration::from_secs(10));
        self.index_now(&ledger)?;
        ledger.close();
        if cp.size <= r.first_index {
            return Err(DataDirError::Other("the key-rotation entry was not checkpointed in time; nothing was rotated".into()));
        }
        cp = ledger.checkpoint();
        cp.add_signature(&new)?;
        drop(ledger);
        mamori_ledger::storage::write_atomic(&self.ledger_dir().join("checkpoint"), &cp.note)?;
        let retired = self.root.join("keys").join("retired");
        fs::create_dir_all(&retired).map_err(file_err(&retired))?;
        let id = old.vkey().split('+').nth(1).unwrap_or("old").to_owned();
        fs::rename(self.log_key_path(), retired.join(format!("log-{id}.key"))).map_err(file_err(&self.log_key_path()))?;
        let mut prev = self.previous_vkeys()?;
        prev.push(old.vkey().to_owned());
        write_file(&self.previous_vkeys_path(), &(prev.join("\n") + "\n"))?;
        fs::rename(&pending, self.log_key_path()).map_err(file_err(&pending))?;
        write_file(&self.log_vkey_path(), &format!("{}\n", new.vkey()))?;
        Ok(RotateResult { old_vkey: old.vkey().to_owned(), new_vkey: new.vkey().to_owned(), entry: r.first_index })
    }

    /// Creates the data directory: config, keys (0600), ledger, index, the witness key, and a
    /// first admin token whose secret is returned (it is shown once and stored only hashed).
    pub fn init(&self, origin: &str) -> Result<InitResult, DataDirError> {
        if self.exists() {
            return Err(DataDirError::Other(format!(
                "{} already holds a mamori data directory (config.toml exists); nothing was changed",
                self.root.display()
            )));
        }
        for d in ["keys", "ledger", "index", "witness"] {
            let p = self.root.join(d);
            fs::create_dir_all(&p).map_err(file_err(&p))?;
        }
        fs::set_permissions(self.root.join("keys"), fs::Permissions::from_mode(0o700)).map_err(file_err(&self.root.join("keys")))?;
        let (signer, skey) = CheckpointSigner::generate(origin)?;
        write_secret(&self.log_key_path(), &skey)?;
        let vkey = signer.vkey().to_owned();
        write_file(&self.log_vkey_path(), &format!("{vkey}\n"))?;
        let (cosigner, wkey) = Cosigner::generate(&format!("{origin}/witness"));
        write_secret(&self.witness_key_path(), &wkey)?;
        let cfg = Config::new(origin);
        let text = toml::to_string_pretty(&cfg).map_err(|e| DataDirError::Other(e.to_string()))?;
        write_file(&self.config_path(), &format!("# mamori configuration (see README)\n{text}"))?;

        let ledger = self.open_ledger(&cfg)?;
        let token = Token::generate(Role::Admin, "initial-admin")?;
        let (secret, record) = token.into_parts();
        append_admin(&ledger, "mamori-init", &AdminRecord::TokenCreated { record })?;
        ledger.close();
        Ok(InitResult { vkey, witness_vkey: cosigner.vkey(), admin_token: secret })
    }

    /// Opens the ledger (takes the writer lock).
    pub fn open_ledger(&self, cfg: &Config) -> Result<Ledger, DataDirError> {
        let p = self.log_key_path();
        let skey = fs::read_to_string(&p).map_err(file_err(&p))?;
        let signer = CheckpointSigner::from_skey(&skey)?;
        if signer.origin() != cfg.log.origin {
            return Err(DataDirError::Config(format!(
                "log.origin {:?} in config.toml does not match the key's name {:?}",
                cfg.log.origin,
                signer.origin()
            )));
        }
        let mut lc = LedgerConfig::new(self.ledger_dir(), signer);
        lc.checkpoint_interval = Duration::from_millis(cfg.log.checkpoint_interval_ms);
        Ok(Ledger::open(lc)?)
    }

    /// Erases the payloads of `ids` after their retention period (docs/ledger.md, "Erasure"):
    /// 1. a `tombstone` entry naming the actor, the reason and the ids is ledgered first;
    /// 2. the payloads and salts are removed from the payload store (the tree is untouched);
    /// 3. the index rows are replaced by stubs and their full text removed.
    ///
    /// Refuses ids that are not events (admin records, key rotations and tombstones are the
    /// audit trail itself) and ids not yet in the ledger. Needs the ledger lock (server stopped).
    pub fn erase(&self, actor: &str, ids: &[u64], reason: &str) -> Result<EraseResult, DataDirError> {
        if ids.is_empty() || reason.trim().is_empty() {
            return Err(DataDirError::Other("消去には対象の番号と理由が必要です / erasure needs ids and a reason".into()));
        }
        let cfg = self.config()?;
        let ledger = self.open_ledger(&cfg)?;
        self.index_now(&ledger)?;
        {
            let store = Store::open_read_only(&self.index_path())?;
            for id in ids {
                match store.get(*id)? {
                    Some(h) if h.kind.as_str() == "event" || h.kind.as_str() == "quarantine" => {}
                    Some(h) => {
                        return Err(DataDirError::Other(format!(
                            "#{id} は {} の記録で、消去できません / #{id} is a {} record and cannot be erased",
                            h.kind.as_str(),
                            h.kind.as_str()
                        )));
                    }
                    None => return Err(DataDirError::Other(format!("#{id} はありません / no event #{id}"))),
                }
            }
        }
        let doc = json!({
            "@timestamp": mamori_event::format_ts(chrono::Utc::now()),
            "event": {"kind": "event", "category": ["configuration"], "action": "payload-erased", "module": "mamori", "dataset": "mamori.admin", "outcome": "success", "reason": reason},
            "user": {"name": actor},
            "mamori": {"erasure": {"ids": ids, "reason": reason}},
        });
        let r = ledger.append_blocking(vec![NewEntry { kind: EntryKind::Tombstone, payload: serde_json::to_vec(&doc).expect("json") }])?;
        ledger.wait_checkpoint(r.first_index + 1, Duration::from_secs(10));
        self.index_now(&ledger)?;
        ledger.close();
        drop(ledger);
        let erased = mamori_ledger::erase_payloads(&self.ledger_dir(), ids)?;
        let mut store = Store::open(&self.index_path())?;
        store.redact(ids)?;
        Ok(EraseResult { tombstone: r.first_index, erased })
    }

    /// Imports an HR roster (職員名簿・人事異動) file as a ledgered admin record: the parsed rows
    /// and the rows refused (with row and column) are kept together, tied to the file by its
    /// SHA-256. Needs the ledger lock (server stopped).
    pub fn import_roster(&self, actor: &str, file_name: &str, bytes: &[u8]) -> Result<(u64, mamori_directory::ImportRecord), DataDirError> {
        let cfg = self.config()?;
        let ledger = self.open_ledger(&cfg)?;
        let now = chrono::Utc::now();
        let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes));
        let id = format!("roster-{}-{}", &digest[..12], now.timestamp_micros());
        let record = mamori_directory::ImportRecord::from_csv(id, bytes, now, Some(file_name.to_owned()));
        // Refuse what the directory would refuse on replay, before it is ledgered.
        let mut dir = self.directory_with(&ledger)?;
        dir.apply(&record).map_err(|e| DataDirError::Other(e.to_string()))?;
        let doc = json!({
            "@timestamp": mamori_event::format_ts(now),
            "event": {"kind": "event", "category": ["configuration", "iam"], "action": "roster-imported", "module": "mamori", "dataset": "mamori.admin", "outcome": "success"},
            "user": {"name": actor},
            "file": {"name": file_name, "hash": {"sha256": digest}},
            "mamori": {"roster": record},
        });
        let r = ledger.append_blocking(vec![NewEntry { kind: EntryKind::Admin, payload: serde_json::to_vec(&doc).expect("json") }])?;
        self.index_now(&ledger)?;
        ledger.close();
        Ok((r.first_index, record))
    }

    /// Imports the USB 管理台帳 CSV: the records that apply to the registry as rebuilt from the
    /// ledger are ledgered as one admin entry; refused rows are returned with row and column.
    pub fn import_usb(&self, actor: &str, file_name: &str, bytes: &[u8]) -> Result<(u64, mamori_directory::UsbImport), DataDirError> {
        let cfg = self.config()?;
        let ledger = self.open_ledger(&cfg)?;
        self.index_now(&ledger)?;
        let mut reg = self.usb_registry()?;
        let today = chrono::Local::now().date_naive();
        let imp = reg.import_csv(bytes, today);
        let doc = json!({
            "@timestamp": mamori_event::format_ts(chrono::Utc::now()),
            "event": {"kind": "event", "category": ["configuration"], "action": "usb-registry-changed", "module": "mamori", "dataset": "mamori.admin", "outcome": "success"},
            "user": {"name": actor},
            "file": {"name": file_name},
            "mamori": {"usb_records": imp.records, "refused_rows": imp.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>()},
        });
        let r = ledger.append_blocking(vec![NewEntry { kind: EntryKind::Admin, payload: serde_json::to_vec(&doc).expect("json") }])?;
        self.index_now(&ledger)?;
        ledger.close();
        Ok((r.first_index, imp))
    }

    /// Rebuilds the USB registry by replaying the ledgered registry changes, oldest first.
    pub fn usb_registry(&self) -> Result<mamori_directory::UsbRegistry, DataDirError> {
        let mut records = Vec::new();
        for (id, doc) in self.admin_docs("usb-registry-changed")? {
            let recs: Vec<mamori_directory::UsbRecord> = serde_json::from_value(doc.pointer("/mamori/usb_records").cloned().unwrap_or_default())
                .map_err(|e| DataDirError::Other(format!("USB registry record #{id}: {e}")))?;
            records.extend(recs);
        }
        mamori_directory::UsbRegistry::replay(&records).map_err(|e| DataDirError::Other(e.to_string()))
    }

    /// Admin entries with `event.action` = `action`, oldest first, as (ledger id, document).
    fn admin_docs(&self, action: &str) -> Result<Vec<(u64, serde_json::Value)>, DataDirError> {
        admin_docs(&Store::open_read_only(&self.index_path())?, Some(action))
    }

    fn directory_with(&self, ledger: &Ledger) -> Result<mamori_directory::Directory, DataDirError> {
        self.index_now(ledger)?;
        self.directory()
    }

    /// Rebuilds the directory (who each person was on each day, and the LDAP snapshots, grants,
    /// entitlements, takeouts, vendors and sign-offs) by replaying the ledgered roster imports
    /// and directory records, oldest first, from the index.
    pub fn directory(&self) -> Result<mamori_directory::Directory, DataDirError> {
        directory_from(&Store::open_read_only(&self.index_path())?)
    }

    /// Ledgers a directory change (LDAP sync, grants, entitlements, takeout transition, vendor,
    /// review sign-off) done by `actor`, after checking it against the directory replayed from
    /// the ledger (so replay cannot refuse it). Needs the ledger lock (server stopped).
    pub fn record_directory(&self, actor: &str, change: mamori_directory::DirectoryChange) -> Result<(u64, mamori_directory::DirectoryRecord), DataDirError> {
        let cfg = self.config()?;
        let ledger = self.open_ledger(&cfg)?;
        let dir = self.directory_with(&ledger)?;
        let rec = directory_record(actor, change);
        dir.check_record(&rec).map_err(|e| DataDirError::Other(e.to_string()))?;
        let r = ledger.append_blocking(vec![NewEntry { kind: EntryKind::Admin, payload: directory_payload(&rec) }])?;
        self.index_now(&ledger)?;
        ledger.close();
        Ok((r.first_index, rec))
    }

    /// Brings the index up to the ledger's durable size (for CLI commands that append).
    pub fn index_now(&self, ledger: &Ledger) -> Result<(), DataDirError> {
        let mut store = Store::open(&self.index_path())?;
        indexer::catch_up(ledger, &mut store)?;
        Ok(())
    }

    /// Opens everything a server or a writing CLI command needs, bringing the index up to date
    /// with the ledger and rebuilding the auth state from ledgered admin actions.
    pub fn open(&self) -> Result<Opened, DataDirError> {
        let cfg = self.config()?;
        let ledger = self.open_ledger(&cfg)?;
        let ip = self.index_path();
        if let Some(parent) = ip.parent() {
            fs::create_dir_all(parent).map_err(file_err(parent))?;
        }
        let mut store = Store::open(&ip)?;
        indexer::catch_up(&ledger, &mut store)?;
        let auth = rebuild_auth(&store)?;
        Ok(Opened { cfg, ledger, store: Arc::new(Mutex::new(store)), auth: Arc::new(RwLock::new(auth)) })
    }
}

/// What `erase` did.
pub struct EraseResult {
    /// Ledger index of the tombstone entry.
    pub tombstone: u64,
    /// Ids whose payload was erased now (ids erased earlier are not repeated).
    pub erased: Vec<u64>,
}

/// What `rotate_key` did.
pub struct RotateResult {
    /// The retired verifier key.
    pub old_vkey: String,
    /// The new verifier key.
    pub new_vkey: String,
    /// Ledger index of the `key` entry.
    pub entry: u64,
}

/// What `init` produced.
pub struct InitResult {
    /// The log's verifier key.
    pub vkey: String,
    /// This instance's witness verifier key.
    pub witness_vkey: String,
    /// The first admin token (shown once).
    pub admin_token: String,
}

/// An opened data directory.
pub struct Opened {
    /// Configuration.
    pub cfg: Config,
    /// The running ledger.
    pub ledger: Ledger,
    /// The index (written by the indexer).
    pub store: Arc<Mutex<Store>>,
    /// Accounts and tokens.
    pub auth: Arc<RwLock<AuthState>>,
}

fn write_file(p: &Path, text: &str) -> Result<(), DataDirError> {
    fs::write(p, text).map_err(file_err(p))
}

fn write_secret(p: &Path, text: &str) -> Result<(), DataDirError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new().create_new(true).write(true).mode(0o600).open(p).map_err(file_err(p))?;
    f.write_all(format!("{text}\n").as_bytes()).map_err(file_err(p))?;
    f.sync_all().map_err(file_err(p))
}

/// The ledger payload of an admin action: an ECS event (`event.category: configuration`)
/// naming the actor, with the record under `mamori.admin`.
pub fn admin_payload(actor: &str, record: &AdminRecord) -> Vec<u8> {
    let rec = serde_json::to_value(record).expect("serializable");
    let action = rec.get("op").and_then(|v| v.as_str()).unwrap_or("admin").replace('_', "-");
    let doc = json!({
        "@timestamp": mamori_event::format_ts(chrono::Utc::now()),
        "event": {"kind": "event", "category": ["configuration", "iam"], "action": action, "module": "mamori", "dataset": "mamori.admin", "outcome": "success"},
        "user": {"name": actor},
        "mamori": {"admin": rec},
    });
    serde_json::to_vec(&doc).expect("serializable")
}

/// Appends an admin action durably (the caller applies it to the auth state afterwards).
pub fn append_admin(ledger: &Ledger, actor: &str, record: &AdminRecord) -> Result<u64, DataDirError> {
    let r = ledger.append_blocking(vec![NewEntry { kind: EntryKind::Admin, payload: admin_payload(actor, record) }])?;
    Ok(r.first_index)
}

/// Admin entries (optionally only those with `event.action` = `action`), oldest first, as
/// (ledger id, document), read page by page from the index.
fn admin_docs(store: &Store, action: Option<&str>) -> Result<Vec<(u64, serde_json::Value)>, DataDirError> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = mamori_store::Query {
            kind: Some("admin".into()),
            action: action.map(str::to_owned),
            limit: Some(1000),
            cursor: cursor.clone(),
            ..Default::default()
        };
        let page = store.search(&q)?;
        out.extend(page.events.into_iter().map(|h| (h.id, h.doc)));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    out.sort_by_key(|(id, _)| *id);
    Ok(out)
}

/// The ledger actions of directory records (see `mamori_directory::DirectoryChange::action`).
pub const DIRECTORY_ACTIONS: [&str; 6] =
    ["ldap-synced", "grants-imported", "entitlements-imported", "takeout-changed", "vendor-changed", "access-review-signed"];

/// A new directory record by `actor`, id from the time and a counter.
pub fn directory_record(actor: &str, change: mamori_directory::DirectoryChange) -> mamori_directory::DirectoryRecord {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let now = chrono::Utc::now();
    mamori_directory::DirectoryRecord {
        format: mamori_directory::RECORD_FORMAT,
        id: format!("dir-{}-{}-{}", now.timestamp_micros(), std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed)),
        recorded_at: now,
        actor: actor.to_owned(),
        change,
    }
}

/// The ledger payload of a directory record: an ECS admin event naming the actor, the record
/// under `mamori.directory`.
pub fn directory_payload(rec: &mamori_directory::DirectoryRecord) -> Vec<u8> {
    let doc = json!({
        "@timestamp": mamori_event::format_ts(rec.recorded_at),
        "event": {"kind": "event", "category": ["configuration", "iam"], "action": rec.change.action(), "module": "mamori", "dataset": "mamori.admin", "outcome": "success"},
        "user": {"name": rec.actor},
        "mamori": {"directory": rec},
    });
    serde_json::to_vec(&doc).expect("serializable")
}

/// Rebuilds the directory from the index: roster imports and directory records, in ledger
/// order (a record is checked against the state before it, as when it was ledgered).
pub fn directory_from(store: &Store) -> Result<mamori_directory::Directory, DataDirError> {
    let mut entries: Vec<(u64, serde_json::Value)> = admin_docs(store, Some("roster-imported"))?;
    for a in DIRECTORY_ACTIONS {
        entries.extend(admin_docs(store, Some(a))?);
    }
    entries.sort_by_key(|(id, _)| *id);
    let mut dir = mamori_directory::Directory::new();
    for (id, doc) in &entries {
        if let Some(rec) = doc.pointer("/mamori/roster") {
            let rec: mamori_directory::ImportRecord = serde_json::from_value(rec.clone()).map_err(|e| DataDirError::Other(format!("roster record #{id}: {e}")))?;
            dir.apply(&rec).map_err(|e| DataDirError::Other(format!("roster record #{id}: {e}")))?;
        } else if let Some(rec) = doc.pointer("/mamori/directory") {
            let rec: mamori_directory::DirectoryRecord = serde_json::from_value(rec.clone()).map_err(|e| DataDirError::Other(format!("directory record #{id}: {e}")))?;
            dir.replay_record(&rec).map_err(|e| DataDirError::Other(format!("directory record #{id}: {e}")))?;
        }
    }
    Ok(dir)
}

/// Rebuilds accounts and tokens by replaying the admin records in the index, oldest first.
pub fn rebuild_auth(store: &Store) -> Result<AuthState, DataDirError> {
    let records: Vec<(u64, AdminRecord)> = admin_docs(store, None)?
        .into_iter()
        .filter_map(|(id, doc)| {
            let rec = doc.get("mamori").and_then(|m| m.get("admin"))?;
            serde_json::from_value::<AdminRecord>(rec.clone()).ok().map(|r| (id, r))
        })
        .collect();
    let mut auth = AuthState::new();
    for (id, r) in &records {
        if let Err(e) = auth.apply(r) {
            tracing::warn!(id, error = %e, "skipping an admin record that does not apply");
        }
    }
    Ok(auth)
}
