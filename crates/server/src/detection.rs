//! Streaming detection: every record the ledger makes durable is evaluated, in ledger order, by
//! the municipal rule pack (mamori-detect) and the data directory's Sigma rules (mamori-sigma);
//! findings become alerts in `<data>/index/alerts.db`.
//!
//! The detector follows the ledger itself (its own cursor, its own thread), in parallel with the
//! SQLite/FTS5 indexer rather than after it: an alert no longer waits for the index batch its
//! event is in to commit. Batches are what is durable when the follower wakes (at most
//! [`FOLLOW_BATCH`] records), so under a steady load they are small and each commits within
//! milliseconds.
//!
//! Alerts are derived: the database is rebuildable from the ledger alone. Creation is a pure
//! function of the ledgered events, the ledgered directory (roster, USB 管理台帳), the ledgered
//! detection policy (`rules/municipal.toml`, ledgered as `detection-policy-changed` when it
//! changes) and the rules. Officer actions (triage, close with a reason, assign) are ledger
//! admin entries (`event.action: alert-triaged|alert-closed|alert-assigned`, the action under
//! `mamori.alert_action`) applied when the detector reaches them, so a rebuild replays them at
//! the same place. Delete `alerts.db` and restart: the same alerts, ids and states come back
//! (evaluated with the rule files present at that start).
//!
//! The detector keeps its own high-water mark in the same transaction as the alerts, and a
//! snapshot of the rules' state (baselines, pending invitations, …) with it every 100,000
//! records or 10 s; a restart rebuilds the context up to the snapshot, loads it, and replays the
//! records between the snapshot and the high-water mark through the rules (raising nothing
//! twice), so it continues where it stopped. Sigma rules are read from `<data>/rules/` at
//! start and again whenever the directory changes (polled every [`RULES_POLL`]) or an admin
//! calls `POST /api/v1/rules/reload`; their texts are ledgered (`sigma-rules-loaded`) when they
//! change, and the new set takes over exactly at that ledger entry.

use crate::datadir::{DataDir, DataDirError};
use chrono::{DateTime, Utc};
use mamori_detect::{Alert, AlertAction, AlertState, Engine, Finding, HistoryEntry, POLICY_ACTION, Severity, Subject};
use mamori_ledger::{EntryKind, Ledger, NewEntry, Record};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// `event.action` of the ledger entry recording the Sigma rule set in force.
pub const SIGMA_ACTION: &str = "sigma-rules-loaded";

/// The alert database path.
pub fn alerts_path(dir: &DataDir) -> PathBuf {
    dir.root.join("index").join("alerts.db")
}

/// The rules directory (`municipal.toml`, `notify.toml`, Sigma `*.yml`).
pub fn rules_dir(dir: &DataDir) -> PathBuf {
    dir.root.join("rules")
}

fn db_err(e: rusqlite::Error) -> DataDirError {
    DataDirError::Other(format!("alerts.db: {e}"))
}

/// Opens (creating) the alert database.
pub fn open_db(path: &Path) -> Result<Connection, DataDirError> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).map_err(|e| DataDirError::File { path: p.to_owned(), why: e.to_string() })?;
    }
    let c = Connection::open(path).map_err(db_err)?;
    c.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
         CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS alerts(
            id INTEGER PRIMARY KEY, group_key TEXT NOT NULL UNIQUE, rule_id TEXT NOT NULL,
            severity TEXT NOT NULL, state TEXT NOT NULL, first_ts TEXT NOT NULL, last_ts TEXT NOT NULL,
            staff_id TEXT, created_by INTEGER NOT NULL, doc TEXT NOT NULL);
         CREATE INDEX IF NOT EXISTS alerts_state ON alerts(state, id);
         CREATE TABLE IF NOT EXISTS action_errors(ledger_id INTEGER PRIMARY KEY, error TEXT NOT NULL);",
    )
    .map_err(db_err)?;
    Ok(c)
}

fn meta_get(c: &Connection, key: &str) -> Result<Option<String>, DataDirError> {
    c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional().map_err(db_err)
}

/// Reads alerts (newest first), optionally only those in `state` or of `rule`.
pub fn list_alerts(c: &Connection, state: Option<AlertState>, rule: Option<&str>, limit: u32) -> Result<Vec<Alert>, DataDirError> {
    let mut st = c
        .prepare("SELECT doc FROM alerts WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR rule_id = ?2) ORDER BY id DESC LIMIT ?3")
        .map_err(db_err)?;
    let rows = st
        .query_map(params![state.map(|s| s.as_str()), rule, limit], |r| r.get::<_, String>(0))
        .map_err(db_err)?;
    let mut out = Vec::new();
    for r in rows {
        let doc = r.map_err(db_err)?;
        out.push(serde_json::from_str(&doc).map_err(|e| DataDirError::Other(format!("alerts.db: {e}")))?);
    }
    Ok(out)
}

/// One alert by id.
pub fn get_alert(c: &Connection, id: u64) -> Result<Option<Alert>, DataDirError> {
    let doc: Option<String> = c.query_row("SELECT doc FROM alerts WHERE id = ?1", [id as i64], |r| r.get(0)).optional().map_err(db_err)?;
    doc.map(|d| serde_json::from_str(&d).map_err(|e| DataDirError::Other(format!("alerts.db: {e}")))).transpose()
}

fn put_alert(c: &Connection, a: &Alert, created_by: u64) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO alerts(id, group_key, rule_id, severity, state, first_ts, last_ts, staff_id, created_by, doc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT(id) DO UPDATE SET severity = excluded.severity, state = excluded.state,
           first_ts = excluded.first_ts, last_ts = excluded.last_ts, doc = excluded.doc",
        params![
            a.id as i64,
            a.group_key,
            a.rule_id,
            a.severity.as_str(),
            a.state.as_str(),
            mamori_event::format_ts(a.first_ts),
            mamori_event::format_ts(a.last_ts),
            a.person.as_ref().map(|p| p.staff_id.clone()),
            created_by as i64,
            serde_json::to_string(a).expect("json"),
        ],
    )?;
    Ok(())
}

/// A compiled Sigma rule set and its correlation state.
struct Sigma {
    set: mamori_sigma::RuleSet,
    corr: mamori_sigma::Correlator,
}

impl Sigma {
    fn findings(&mut self, id: u64, doc: &Value, ts: DateTime<Utc>, engine: &Engine, out: &mut Vec<Finding>) {
        let ev = self.set.prepare(doc);
        let hits = self.set.matches_prepared(&ev);
        let zone = engine.context().policy.zone();
        let mev = mamori_detect::Event::new(id, doc, ts, zone);
        let subject_of = |doc_ev: &mamori_detect::Event<'_>| {
            let acct = doc_ev.actor();
            let subj = acct.as_deref().map_or(Subject::Unknown, |a| mamori_detect::Context::subject(engine.context(), a, doc_ev.date()));
            (acct, subj)
        };
        for &i in &hits {
            let r = &self.set.rules()[i];
            let (account, subject) = subject_of(&mev);
            let rid = r.id.clone().or_else(|| r.name.clone()).unwrap_or_else(|| r.title.clone());
            out.push(Finding {
                rule_id: format!("sigma:{rid}"),
                severity: r.level.as_deref().and_then(Severity::parse).unwrap_or(Severity::Medium),
                title_ja: r.title.clone(),
                title_en: r.title.clone(),
                subject,
                account,
                ts: mev.ts,
                day: mev.date(),
                evidence: vec![id],
                summary_ja: format!("Sigma ルール「{}」に一致しました", r.title),
                summary_en: format!("matched Sigma rule {:?}", r.title),
                details: json!({"sigma": {"id": r.id, "title": r.title, "level": r.level, "file": r.file, "tags": r.tags}}),
            });
        }
        if !self.set.correlations().is_empty() {
            for h in self.corr.feed(&hits, mev.ts, &ev) {
                let (account, subject) = subject_of(&mev);
                let title = h.title.clone();
                let level = h.level.as_deref().and_then(Severity::parse).unwrap_or(Severity::High);
                let rid = h.id.clone().unwrap_or_else(|| title.clone());
                let evidence = vec![id];
                let v = json!({"id": h.id, "title": h.title, "level": h.level, "group": h.group, "first": h.first, "last": h.last, "value": h.value, "events": h.events});
                out.push(Finding {
                    rule_id: format!("sigma:{rid}"),
                    severity: level,
                    title_ja: title.clone(),
                    title_en: title.clone(),
                    subject,
                    account,
                    ts: mev.ts,
                    day: mev.date(),
                    evidence,
                    summary_ja: format!("Sigma 相関ルール「{title}」が成立しました"),
                    summary_en: format!("Sigma correlation {title:?} fired"),
                    details: json!({"sigma_correlation": v}),
                });
            }
        }
    }
}

/// Loads `*.yml` Sigma rules from the rules directory (none: no Sigma detection), with the
/// per-rule load issues (unsupported features, errors, warnings). A file that cannot be parsed
/// is an issue of its own and the other files still load; `Err` only when the directory could
/// not be read at all.
fn load_sigma_issues(dir: &Path) -> Result<(Option<Sigma>, Vec<mamori_sigma::LoadIssue>), String> {
    let has_yaml = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().any(|e| e.path().extension().is_some_and(|x| x == "yml" || x == "yaml") || e.path().is_dir()))
        .unwrap_or(false);
    if !has_yaml {
        return Ok((None, Vec::new()));
    }
    match mamori_sigma::RuleSet::load_dir(dir) {
        Ok((set, issues)) => {
            for i in &issues {
                tracing::warn!(issue = ?i, "Sigma rule not fully supported");
            }
            let corr = mamori_sigma::Correlator::new(&set);
            Ok((Some(Sigma { set, corr }), issues))
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot load Sigma rules");
            Err(e.to_string())
        }
    }
}

/// One rule file as ledgered: its path under the rules directory, SHA-256 and text.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct RuleText {
    /// Path relative to the rules directory (`/`-separated).
    pub file: String,
    /// SHA-256 of the file's bytes (hex).
    pub sha256: String,
    /// The file's text (lossy UTF-8).
    pub text: String,
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// The Sigma rule files (`*.yml`, `*.yaml`, recursively) of a rules directory with their
/// SHA-256 and text, sorted by path: what `sigma-rules-loaded` ledgers.
pub fn sigma_rule_texts(dir: &Path) -> Vec<RuleText> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<RuleText>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"))
                && let Ok(b) = std::fs::read(&p)
            {
                let rel = p.strip_prefix(root).unwrap_or(&p).components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/");
                out.push(RuleText { file: rel, sha256: sha256_hex(&b), text: String::from_utf8_lossy(&b).into_owned() });
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort_by(|a, b| a.file.cmp(&b.file));
    out
}

/// Where notifications go (`<data>/rules/notify.toml`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Notify alerts at or above this severity (default high).
    #[serde(default)]
    pub min_severity: Option<Severity>,
    /// E-mail over SMTP.
    #[serde(default)]
    pub email: Option<EmailConfig>,
    /// Webhook (POST JSON).
    #[serde(default)]
    pub webhook: Option<WebhookConfig>,
}

/// SMTP settings (plain SMTP to a relay such as the city's Postfix on 127.0.0.1).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// `host:port` of the relay.
    pub smtp: String,
    /// Sender address.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
}

/// Webhook settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// URL to POST the alert JSON to.
    pub url: String,
}

impl NotifyConfig {
    /// Reads `notify.toml` from the rules directory (absent: no notifications).
    pub fn load(dir: &Path) -> Result<NotifyConfig, String> {
        let p = dir.join("notify.toml");
        match std::fs::read_to_string(&p) {
            Ok(t) => toml::from_str(&t).map_err(|e| format!("{}: {e}", p.display())),
            Err(_) => Ok(NotifyConfig::default()),
        }
    }
}

/// Sends one alert by e-mail through the configured SMTP relay (plain SMTP, no TLS: the relay
/// is local; it relays on with its own TLS policy).
pub fn send_email(cfg: &EmailConfig, alert: &Alert) -> Result<(), String> {
    use lettre::Transport;
    let (host, port) = cfg.smtp.rsplit_once(':').ok_or_else(|| format!("smtp {:?}: expected host:port", cfg.smtp))?;
    let port: u16 = port.parse().map_err(|_| format!("smtp {:?}: bad port", cfg.smtp))?;
    let mut b = lettre::Message::builder()
        .from(cfg.from.parse().map_err(|e| format!("from {:?}: {e}", cfg.from))?)
        .subject(format!("[mamori] {} {} / {}", alert.severity.label_ja(), alert.title_ja, alert.title_en));
    for t in &cfg.to {
        b = b.to(t.parse().map_err(|e| format!("to {t:?}: {e}"))?);
    }
    let msg = b.header(lettre::message::header::ContentType::TEXT_PLAIN).body(alert_text(alert)).map_err(|e| e.to_string())?;
    let mailer = lettre::SmtpTransport::builder_dangerous(host).port(port).timeout(Some(Duration::from_secs(10))).build();
    mailer.send(&msg).map(|_| ()).map_err(|e| e.to_string())
}

/// POSTs one alert as JSON.
pub fn send_webhook(cfg: &WebhookConfig, alert: &Alert) -> Result<(), String> {
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().map_err(|e| e.to_string())?;
    let r = client.post(&cfg.url).json(&json!({"alert": alert})).send().map_err(|e| e.to_string())?;
    if r.status().is_success() { Ok(()) } else { Err(format!("HTTP {}", r.status())) }
}

/// The plain-text body of a notification (Japanese first, English beside it).
pub fn alert_text(a: &Alert) -> String {
    let who = a.person.as_ref().map_or_else(
        || a.account.clone().unwrap_or_else(|| "不明 / unknown".into()),
        |p| format!("{} ({}) {}", p.name, p.staff_id, p.dept_name.clone().unwrap_or_default()),
    );
    format!(
        "アラート / alert #{}\n規則 / rule: {}\n重要度 / severity: {} ({})\n対象者 / person: {}\nアカウント / account: {}\n期間 / time: {} – {}\n件数 / count: {}\n証拠イベント / evidence: {:?}\n\n{}\n{}\n",
        a.id,
        a.rule_id,
        a.severity.label_ja(),
        a.severity.as_str(),
        who,
        a.account.clone().unwrap_or_default(),
        mamori_event::format_ts(a.first_ts),
        mamori_event::format_ts(a.last_ts),
        a.count,
        a.evidence,
        a.summary_ja,
        a.summary_en
    )
}

/// Runs notifications off the detection thread.
fn spawn_notifier(cfg: NotifyConfig) -> Option<SyncSender<Alert>> {
    if cfg.email.is_none() && cfg.webhook.is_none() {
        return None;
    }
    let (tx, rx): (SyncSender<Alert>, Receiver<Alert>) = sync_channel(1024);
    std::thread::Builder::new()
        .name("alert-notify".into())
        .spawn(move || {
            for a in rx {
                if let Some(e) = &cfg.email
                    && let Err(err) = send_email(e, &a)
                {
                    tracing::error!(alert = a.id, error = %err, "alert e-mail failed");
                }
                if let Some(w) = &cfg.webhook
                    && let Err(err) = send_webhook(w, &a)
                {
                    tracing::error!(alert = a.id, error = %err, "alert webhook failed");
                }
            }
        })
        .ok()?;
    Some(tx)
}

/// What the detector has done, for waiting callers and metrics.
#[derive(Default)]
struct Progress {
    /// Next ledger index to evaluate.
    next: u64,
}

struct Inner {
    engine: Engine,
    sigma: Option<Sigma>,
    /// A reloaded Sigma set and the ledger index of its `sigma-rules-loaded` entry: it replaces
    /// `sigma` when the detector reaches that entry.
    pending_sigma: Option<(u64, Option<Sigma>)>,
    db: Connection,
    next_alert: u64,
    /// Ledger index up to which the saved rule-state snapshot reaches (≤ the high-water mark).
    state_next: u64,
    /// When the snapshot was last saved.
    state_saved: Instant,
    /// Records between snapshots ([`STATE_EVERY_RECORDS`]; `MAMORI_DETECT_STATE_EVERY_RECORDS`
    /// overrides it, for tests of the restart replay).
    state_every: u64,
}

/// The rules' state snapshot is saved with the alerts at most every this many records…
const STATE_EVERY_RECORDS: u64 = 100_000;
/// …or this often, whichever comes first (saving it per batch serialised every baseline and
/// remembered file 20 times a second). A restart replays the records after the snapshot
/// through the rules (without raising alerts again) before it continues.
const STATE_EVERY: Duration = Duration::from_secs(10);

/// The streaming detector of one data directory.
pub struct Detection {
    inner: Mutex<Inner>,
    progress: Mutex<Progress>,
    cv: Condvar,
    ledger: Ledger,
    notify: Option<SyncSender<Alert>>,
    min_severity: Severity,
    /// Event → alert latency samples (ingest time to alert stored), microseconds.
    latencies: Mutex<Vec<i64>>,
    record_latency: bool,
    dir: DataDir,
    /// What was last ledgered of the rules; also serialises reloads (poll and API).
    rules: Mutex<RulesState>,
}

/// Records with their decoded documents, in ledger order.
pub type Batch = Vec<(Record, Value)>;

/// Most records the follower evaluates (and commits) in one batch. Under a steady load it takes
/// what became durable since it last woke, far fewer; the bound keeps a catch-up's
/// transactions, and the alerts waiting in them, short.
pub const FOLLOW_BATCH: usize = 2048;

/// How often the follower looks for newly durable records when it has caught up.
const FOLLOW_POLL: Duration = Duration::from_millis(2);

fn last_admin_value(dir: &DataDir, action: &str, pointer: &str) -> Option<String> {
    let store = mamori_store::Store::open_read_only(&dir.index_path()).ok()?;
    let q = mamori_store::Query { kind: Some("admin".into()), action: Some(action.into()), limit: Some(1), ..Default::default() };
    let page = store.search(&q).ok()?;
    page.events.first().and_then(|h| h.doc.pointer(pointer)).and_then(Value::as_str).map(str::to_owned)
}

fn admin_doc(actor: &str, action: &str, mamori: Value) -> Vec<u8> {
    let doc = json!({
        "@timestamp": mamori_event::format_ts(Utc::now()),
        "event": {"kind": "event", "category": ["configuration"], "action": action, "module": "mamori", "dataset": "mamori.admin", "outcome": "success"},
        "user": {"name": actor},
        "mamori": mamori,
    });
    serde_json::to_vec(&doc).expect("json")
}

/// `event.action` of the admin entry recording an admin's `POST /api/v1/rules/reload`.
pub const RELOAD_ACTION: &str = "rules-reloaded";

/// How often the rules directory is looked at for changes (file list, sizes and mtimes; a
/// change is confirmed by the files' SHA-256 before anything is ledgered).
/// `MAMORI_RULES_POLL_MS` overrides it.
pub const RULES_POLL: Duration = Duration::from_secs(2);

fn issue_json(i: &mamori_sigma::LoadIssue) -> Value {
    json!({"kind": format!("{:?}", i.kind).to_lowercase(), "file": i.file, "rule_id": i.rule_id, "title": i.title, "message": i.message})
}

/// What one look at the rules directory found, compared with what was last ledgered.
struct RulesScan {
    /// Admin entries to ledger (policy first, then the Sigma set), by `actor`.
    entries: Vec<NewEntry>,
    /// Index into `entries` of the `sigma-rules-loaded` entry, when the Sigma set changed.
    sigma_entry: Option<usize>,
    /// The compiled Sigma set (None: no Sigma rules).
    sigma: Option<Sigma>,
    issues: Vec<mamori_sigma::LoadIssue>,
    /// The policy text to remember as ledgered (unchanged when it did not parse).
    policy_text: Option<String>,
    /// Why `municipal.toml` was not taken (it does not parse).
    policy_error: Option<String>,
    /// Why the Sigma rules could not be read at all (the set in force is kept).
    sigma_error: Option<String>,
    /// Fingerprint of the Sigma set (`""` for none).
    fingerprint: String,
}

/// Compares `rules/municipal.toml` and the Sigma rule set with what the ledger last recorded
/// (`last_policy`, `last_fp`) and builds the entries that record a change: the policy's text
/// and SHA-256 (`detection-policy-changed`), and the Sigma set's fingerprint with every rule
/// file's path, SHA-256 and text and the per-rule load issues (`sigma-rules-loaded`), so an
/// auditor can see which rules were in force from which ledger index on. Removing every Sigma
/// file is a change too (fingerprint `""`, no files).
fn scan_rules(dir: &DataDir, last_policy: Option<&str>, last_fp: Option<&str>, actor: &str) -> RulesScan {
    let rd = rules_dir(dir);
    let mut entries = Vec::new();
    let mut policy_text = last_policy.map(str::to_owned);
    let mut policy_error = None;
    if let Ok(text) = std::fs::read_to_string(rd.join("municipal.toml")) {
        match mamori_detect::Policy::from_toml(&text) {
            Err(e) => policy_error = Some(format!("{}: {e}", rd.join("municipal.toml").display())),
            Ok(_) if last_policy != Some(text.as_str()) => {
                entries.push(NewEntry {
                    kind: EntryKind::Admin,
                    payload: admin_doc(actor, POLICY_ACTION, json!({"detection_policy": {"file": "rules/municipal.toml", "sha256": sha256_hex(text.as_bytes()), "toml": text}})),
                });
                policy_text = Some(text);
            }
            Ok(_) => {}
        }
    }
    let (sigma, issues, sigma_error) = match load_sigma_issues(&rd) {
        Ok((s, i)) => (s, i, None),
        Err(e) => (None, Vec::new(), Some(e)),
    };
    let fingerprint = sigma.as_ref().map_or_else(String::new, |s| s.set.fingerprint().to_owned());
    let mut sigma_entry = None;
    if sigma_error.is_none() && last_fp.unwrap_or("") != fingerprint {
        let doc = match &sigma {
            Some(s) => {
                let files: Vec<&str> = s.set.rules().iter().map(|r| r.file.as_str()).collect();
                let issues: Vec<Value> = issues.iter().map(issue_json).collect();
                json!({"sigma": {"fingerprint": fingerprint, "rules": s.set.rules().len(), "correlations": s.set.correlations().len(), "files": files, "texts": sigma_rule_texts(&rd), "issues": issues}})
            }
            None => json!({"sigma": {"fingerprint": "", "rules": 0, "correlations": 0, "files": [], "texts": [], "issues": []}}),
        };
        sigma_entry = Some(entries.len());
        entries.push(NewEntry { kind: EntryKind::Admin, payload: admin_doc(actor, SIGMA_ACTION, doc) });
    }
    RulesScan { entries, sigma_entry, sigma, issues, policy_text, policy_error, sigma_error, fingerprint }
}

/// The rules directory's files with their sizes and modification times: a cheap look that
/// tells whether [`Detection::reload`] needs to read and hash them.
fn rules_signature(dir: &Path) -> Vec<(PathBuf, u64, Option<std::time::SystemTime>)> {
    fn walk(d: &Path, out: &mut Vec<(PathBuf, u64, Option<std::time::SystemTime>)>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                walk(&p, out);
            } else {
                out.push((p, m.len(), m.modified().ok()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

/// What the rules last ledgered are, and the directory's look when they were read.
struct RulesState {
    last_policy: Option<String>,
    last_fp: Option<String>,
    signature: Vec<(PathBuf, u64, Option<std::time::SystemTime>)>,
}

/// What a rules reload did (the answer of `POST /api/v1/rules/reload`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct ReloadReport {
    /// Whether anything changed (and was ledgered).
    pub changed: bool,
    /// The Sigma set changed: it is in force from ledger entry `sigma_ledger_id` on.
    pub sigma_changed: bool,
    /// `municipal.toml` changed.
    pub policy_changed: bool,
    /// The Sigma set's fingerprint (`""`: no Sigma rules).
    pub fingerprint: String,
    /// Sigma rules loaded.
    pub rules: usize,
    /// Sigma correlation rules loaded.
    pub correlations: usize,
    /// Per-rule load issues (file, rule, message): rules that did not load, and warnings.
    pub issues: Vec<Value>,
    /// Why `municipal.toml` was not taken (the policy in force is kept).
    pub policy_error: Option<String>,
    /// Why the Sigma rules could not be read (the set in force is kept).
    pub sigma_error: Option<String>,
    /// Ledger ids of the entries written (changes, and the admin's request).
    pub ledger_ids: Vec<u64>,
    /// Ledger id of the `sigma-rules-loaded` entry, when the Sigma set changed.
    pub sigma_ledger_id: Option<u64>,
}

impl Detection {
    /// Starts the detector for an opened data directory (its index caught up, as
    /// [`DataDir::open`] leaves it): ledgers rule changes, opens (or rebuilds) `alerts.db`,
    /// catches up with the ledger and starts the thread that follows it.
    pub fn start(dir: &DataDir, ledger: &Ledger) -> Result<Arc<Detection>, DataDirError> {
        Self::start_with(dir, ledger, true)
    }

    /// As [`Detection::start`], but the detector does not follow the ledger itself: records
    /// are handed to it with [`Detection::deliver`], e.g. by a NATS JetStream consumer, so that
    /// detection can run (and fall behind, or restart) apart from ingest. Its position is the
    /// same high-water mark in `alerts.db` ([`Detection::next_index`]), committed with the
    /// alerts: a restarted feeder resumes after it and nothing is raised twice.
    pub fn start_fed(dir: &DataDir, ledger: &Ledger) -> Result<Arc<Detection>, DataDirError> {
        Self::start_with(dir, ledger, false)
    }

    /// Evaluates `batch` (contiguous records in ledger order, possibly starting with records
    /// already evaluated, which are skipped; a gap before it is filled from the ledger) and
    /// commits its alerts with the new high-water mark. An error means nothing of the batch
    /// past the old high-water mark was committed; offer it again.
    pub fn deliver(&self, batch: &Batch) -> Result<(), String> {
        let Some(last) = batch.last().map(|(r, _)| r.index) else { return Ok(()) };
        if last < self.next_index() {
            return Ok(());
        }
        self.process_batch(batch, true);
        if self.next_index() > last { Ok(()) } else { Err(format!("detection did not commit up to ledger index {last}")) }
    }

    fn start_with(dir: &DataDir, ledger: &Ledger, follow: bool) -> Result<Arc<Detection>, DataDirError> {
        let rd = rules_dir(dir);
        let signature = rules_signature(&rd);
        let last_policy = last_admin_value(dir, POLICY_ACTION, "/mamori/detection_policy/toml");
        let last_fp = last_admin_value(dir, SIGMA_ACTION, "/mamori/sigma/fingerprint");
        let scan = scan_rules(dir, last_policy.as_deref(), last_fp.as_deref(), "mamori-server");
        if let Some(e) = scan.policy_error {
            return Err(DataDirError::Config(e));
        }
        if !scan.entries.is_empty() {
            // On a plain thread: the caller may be on an async runtime (AppState::new).
            let entries = scan.entries;
            std::thread::scope(|sc| sc.spawn(|| ledger.append_blocking(entries)).join()).map_err(|_| DataDirError::Other("ledger append panicked".into()))??;
        }
        // An unreadable rules directory loads no Sigma rules and is not ledgered as a change.
        let rules_state = RulesState { last_policy: scan.policy_text, last_fp: if scan.sigma_error.is_some() { last_fp } else { Some(scan.fingerprint) }, signature };
        let sigma = scan.sigma;
        let notify_cfg = NotifyConfig::load(&rules_dir(dir)).map_err(DataDirError::Config)?;
        let db = open_db(&alerts_path(dir))?;
        let next: u64 = meta_get(&db, "next")?.and_then(|s| s.parse().ok()).unwrap_or(0);
        let saved_state = meta_get(&db, "state")?;
        // Older databases saved the state with every batch: it reaches `next`. No snapshot yet:
        // the rules start from the beginning of the ledger.
        let state_next: u64 = match &saved_state {
            Some(_) => meta_get(&db, "state_next")?.and_then(|s| s.parse().ok()).unwrap_or(next).min(next),
            None => 0,
        };
        let next_alert: u64 = db.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM alerts", [], |r| r.get::<_, i64>(0)).map_err(db_err)? as u64;
        let mut engine = Engine::default();
        if next > 0 {
            // Rebuild the context (directory, USB ledger, policy) as it was at `next`.
            let store = mamori_store::Store::open_read_only(&dir.index_path())?;
            let mut cursor: Option<String> = None;
            let mut admin = Vec::new();
            loop {
                let q = mamori_store::Query { kind: Some("admin".into()), limit: Some(1000), cursor: cursor.clone(), ..Default::default() };
                let page = store.search(&q)?;
                admin.extend(page.events.into_iter().filter(|h| h.id < state_next).map(|h| (h.id, h.doc)));
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            // Admin records the index does not hold yet (it normally holds everything durable
            // at start), straight from the ledger.
            let indexed = store.indexed_upto()?.map_or(0, |i| i + 1);
            let mut from = indexed;
            while from < state_next {
                let recs = mamori_ledger::engine::read_records(ledger.dir(), from, state_next, 4096)?;
                if recs.is_empty() {
                    break;
                }
                for r in &recs {
                    from = r.index + 1;
                    if r.kind == EntryKind::Admin && !admin.iter().any(|(id, _)| *id == r.index) {
                        admin.push((r.index, crate::indexer::doc_of(r)));
                    }
                }
            }
            admin.sort_by_key(|(id, _)| *id);
            for (_, d) in &admin {
                let _ = engine.apply_admin(d);
            }
            if let Some(state) = &saved_state {
                let v: Value = serde_json::from_str(state).map_err(|e| DataDirError::Other(format!("alerts.db state: {e}")))?;
                engine.load_state(&v).map_err(DataDirError::Other)?;
            }
            // The records between the snapshot and the high-water mark: through the rules
            // again (their alerts are already stored), so the state is as it was at `next`.
            let mut from = state_next;
            while from < next {
                let recs = mamori_ledger::engine::read_records(ledger.dir(), from, next, 4096)?;
                if recs.is_empty() {
                    break;
                }
                for r in &recs {
                    from = r.index + 1;
                    let doc = crate::indexer::doc_of(r);
                    let kind = r.kind.as_str();
                    if kind == "admin" && doc.pointer("/event/action").and_then(Value::as_str).is_some_and(|a| a.starts_with("alert-")) {
                        continue;
                    }
                    let ingested = DateTime::<Utc>::from_timestamp_micros(r.ingested_micros).unwrap_or_else(Utc::now);
                    let _ = engine.process(r.index, kind, ingested, &doc);
                }
            }
        }
        let det = Arc::new(Detection {
            inner: Mutex::new(Inner {
                engine,
                sigma,
                pending_sigma: None,
                db,
                next_alert,
                state_next,
                state_saved: Instant::now(),
                state_every: std::env::var("MAMORI_DETECT_STATE_EVERY_RECORDS").ok().and_then(|v| v.parse().ok()).unwrap_or(STATE_EVERY_RECORDS),
            }),
            progress: Mutex::new(Progress { next }),
            cv: Condvar::new(),
            ledger: ledger.clone(),
            notify: spawn_notifier(notify_cfg.clone()),
            min_severity: notify_cfg.min_severity.unwrap_or(Severity::High),
            latencies: Mutex::new(Vec::new()),
            record_latency: std::env::var_os("MAMORI_DETECT_LATENCY").is_some(),
            dir: dir.clone(),
            rules: Mutex::new(rules_state),
        });
        if !follow {
            // Fed by its caller (Detection::deliver) from its high-water mark on.
            return Ok(det);
        }
        // Catch up with everything durable now (the rule changes just ledgered included), so a
        // CLI command that starts the detector sees its alerts when this returns.
        det.catch_up(ledger.durable_size(), false)?;
        // The streaming follower: its own cursor on the ledger, from the detector's own
        // high-water mark (restart-safe: `next` is committed with the alerts).
        // It holds no ledger handle of its own (only the detector's, while it works): the
        // ledger's lock must go with the last handle, so a dropped detector must let go at once.
        let weak = Arc::downgrade(&det);
        std::thread::Builder::new()
            .name("detector".into())
            .spawn(move || {
                let mut cursor: Option<mamori_ledger::wal::RecordCursor> = None;
                loop {
                    let Some(d) = weak.upgrade() else { return };
                    let next = d.next_index();
                    let durable = d.ledger.durable_size();
                    if next >= durable {
                        drop(d);
                        // Polled rather than waiting on the ledger's condition variable, which
                        // would need a ledger handle held across the wait (see above); 2 ms adds
                        // at most that to an alert's latency, and costs nothing measurable.
                        std::thread::sleep(FOLLOW_POLL);
                        continue;
                    }
                    if cursor.as_ref().is_none_or(|c| c.position() != next) {
                        // First round, or a batch that did not commit: read again from `next`.
                        cursor = Some(d.ledger.records_from(next));
                    }
                    let cursor = cursor.as_mut().expect("set above");
                    match cursor.read(durable, FOLLOW_BATCH) {
                        Ok(recs) if !recs.is_empty() => {
                            let batch: Batch = recs
                                .into_iter()
                                .map(|r| {
                                    let doc = crate::indexer::doc_of(&r);
                                    (r, doc)
                                })
                                .collect();
                            d.process_batch(&batch, true);
                            if d.next_index() == next {
                                drop(d); // not committed (logged): try again shortly
                                std::thread::sleep(Duration::from_millis(500));
                            }
                        }
                        Ok(_) => {
                            drop(d);
                            std::thread::sleep(Duration::from_millis(50));
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "detector cannot read the ledger; retrying");
                            *cursor = d.ledger.records_from(next);
                            drop(d);
                            std::thread::sleep(Duration::from_millis(500));
                        }
                    }
                }
            })
            .map_err(|e| DataDirError::Other(e.to_string()))?;
        Ok(det)
    }

    /// Watches the rules directory: every `every` (default [`RULES_POLL`]) it compares the
    /// files' sizes and mtimes with the last look and, when they moved, reloads (which ledgers
    /// and swaps in only what really changed, by SHA-256). The watcher ends with the detector.
    pub fn watch_rules(self: &Arc<Self>, every: Option<Duration>) {
        let every = every.unwrap_or_else(|| std::env::var("MAMORI_RULES_POLL_MS").ok().and_then(|v| v.parse().ok()).map_or(RULES_POLL, Duration::from_millis));
        let weak = Arc::downgrade(self);
        let _ = std::thread::Builder::new().name("rules-watch".into()).spawn(move || {
            // A change is taken once the directory looked the same twice in a row, so a file
            // caught half-written is not ledgered as a (broken) rule set.
            let mut seen = None;
            loop {
                std::thread::sleep(every);
                let Some(d) = weak.upgrade() else { return };
                let sig = rules_signature(&rules_dir(&d.dir));
                if d.rules.lock().unwrap().signature == sig {
                    seen = None;
                } else if seen.as_ref() != Some(&sig) {
                    seen = Some(sig);
                } else {
                    seen = None;
                    match d.reload("mamori-server", false) {
                        Ok(r) if r.changed => tracing::info!(fingerprint = %r.fingerprint, rules = r.rules, issues = r.issues.len(), "rules reloaded (rules directory changed)"),
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "rules reload failed"),
                    }
                }
            }
        });
    }

    /// Reads the rules directory again: ledgers what changed (by `actor`; with `requested`, an
    /// admin's request, a `rules-reloaded` entry too, changed or not) and hands a changed Sigma
    /// set to the detector, which uses it from its `sigma-rules-loaded` entry on (correlation
    /// windows start afresh). A file that does not load is reported in the issues and the
    /// others run; a `municipal.toml` that does not parse is reported and the policy in force
    /// stays (a changed one takes effect at its ledger entry, like every policy change).
    pub fn reload(&self, actor: &str, requested: bool) -> Result<ReloadReport, DataDirError> {
        let mut rules = self.rules.lock().unwrap();
        let rd = rules_dir(&self.dir);
        let signature = rules_signature(&rd);
        let scan = scan_rules(&self.dir, rules.last_policy.as_deref(), rules.last_fp.as_deref(), actor);
        for i in &scan.issues {
            tracing::warn!(file = %i.file, message = %i.message, "Sigma rule load issue");
        }
        if let Some(e) = &scan.policy_error {
            tracing::error!(error = %e, "municipal.toml does not parse; the policy in force stays");
        }
        let policy_changed = scan.entries.len() > usize::from(scan.sigma_entry.is_some());
        let sigma_changed = scan.sigma_entry.is_some();
        let issues: Vec<Value> = scan.issues.iter().map(issue_json).collect();
        let (n_rules, n_corr) = scan.sigma.as_ref().map_or((0, 0), |s| (s.set.rules().len(), s.set.correlations().len()));
        let mut entries = scan.entries;
        if requested {
            entries.push(NewEntry {
                kind: EntryKind::Admin,
                payload: admin_doc(
                    actor,
                    RELOAD_ACTION,
                    json!({"rules_reload": {"changed": sigma_changed || policy_changed, "sigma_changed": sigma_changed, "policy_changed": policy_changed, "fingerprint": scan.fingerprint, "rules": n_rules, "correlations": n_corr, "issues": issues, "policy_error": scan.policy_error, "sigma_error": scan.sigma_error}}),
                ),
            });
        }
        let mut ledger_ids = Vec::new();
        let mut sigma_ledger_id = None;
        if !entries.is_empty() {
            let n = entries.len() as u64;
            // Holding the detector: it cannot pass the new entry before it knows the swap.
            let mut inner = self.inner.lock().unwrap();
            let first = self.ledger.append_blocking(entries)?.first_index;
            ledger_ids = (first..first + n).collect();
            if let Some(i) = scan.sigma_entry {
                let at = first + i as u64;
                sigma_ledger_id = Some(at);
                inner.pending_sigma = Some((at, scan.sigma));
            }
        }
        if scan.sigma_error.is_none() {
            rules.last_fp = Some(scan.fingerprint.clone());
        }
        rules.last_policy = scan.policy_text;
        rules.signature = signature;
        Ok(ReloadReport {
            changed: sigma_changed || policy_changed,
            sigma_changed,
            policy_changed,
            fingerprint: scan.fingerprint,
            rules: n_rules,
            correlations: n_corr,
            issues,
            policy_error: scan.policy_error,
            sigma_error: scan.sigma_error,
            ledger_ids,
            sigma_ledger_id,
        })
    }

    /// Evaluates ledger records from the detector's high-water mark up to `bound`.
    fn catch_up(&self, bound: u64, live: bool) -> Result<(), DataDirError> {
        loop {
            let from = self.progress.lock().unwrap().next;
            if from >= bound {
                return Ok(());
            }
            let recs = mamori_ledger::engine::read_records(self.ledger.dir(), from, bound, 4096)?;
            if recs.is_empty() {
                return Ok(());
            }
            let batch: Batch = recs.into_iter().map(|r| {
                let d = crate::indexer::doc_of(&r);
                (r, d)
            }).collect();
            self.process_batch(&batch, live);
        }
    }

    /// Evaluates a batch (records already evaluated are skipped; a gap is filled from the
    /// ledger first) and stores the alerts in one transaction with the new high-water mark.
    fn process_batch(&self, batch: &Batch, live: bool) {
        let Some(first) = batch.first().map(|(r, _)| r.index) else { return };
        let next = self.progress.lock().unwrap().next;
        if first > next
            && let Err(e) = self.catch_up(first, live)
        {
            tracing::error!(error = %e, "detector cannot read the ledger");
            return;
        }
        let mut inner = self.inner.lock().unwrap();
        let next = self.progress.lock().unwrap().next;
        let mut new_alerts = Vec::new();
        let mut upto = next;
        let Inner { engine, sigma, pending_sigma, db, next_alert, state_next, state_saved, state_every } = &mut *inner;
        let tx = match db.transaction() {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "alerts.db");
                return;
            }
        };
        let mut lat = Vec::new();
        let mut touched = Touched::new();
        for (rec, doc) in batch {
            if rec.index < upto {
                continue;
            }
            upto = rec.index + 1;
            if pending_sigma.as_ref().is_some_and(|(at, _)| rec.index >= *at) {
                *sigma = pending_sigma.take().and_then(|(_, s)| s);
            }
            let ingested = DateTime::<Utc>::from_timestamp_micros(rec.ingested_micros).unwrap_or_else(Utc::now);
            let kind = rec.kind.as_str();
            if kind == "admin"
                && let Some(a) = doc.pointer("/event/action").and_then(Value::as_str)
                && a.starts_with("alert-")
            {
                if let Err(e) = flush(&tx, &mut touched) {
                    tracing::error!(error = %e, "alerts.db");
                    return;
                }
                if let Err(e) = apply_action(&tx, rec.index, doc) {
                    let _ = tx.execute("INSERT OR REPLACE INTO action_errors(ledger_id, error) VALUES (?1, ?2)", params![rec.index as i64, e]);
                }
                continue;
            }
            let mut findings = engine.process(rec.index, kind, ingested, doc);
            if kind == "event"
                && let Some(s) = sigma
            {
                s.findings(rec.index, doc, ingested, engine, &mut findings);
            }
            for f in findings {
                match absorb(&tx, &mut touched, next_alert, rec.index, &f) {
                    Ok(Some(a)) => {
                        if live && self.record_latency {
                            lat.push(rec.ingested_micros);
                        }
                        new_alerts.push(a);
                    }
                    Ok(None) => {}
                    Err(e) => tracing::error!(error = %e, "alerts.db"),
                }
            }
        }
        if let Err(e) = flush(&tx, &mut touched) {
            tracing::error!(error = %e, "alerts.db");
            return;
        }
        let save_state = upto >= *state_next + *state_every || state_saved.elapsed() >= STATE_EVERY;
        let ok = if save_state {
            let state = serde_json::to_string(&engine.save_state()).expect("json");
            tx.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('next', ?1), ('state', ?2), ('state_next', ?1)", params![upto.to_string(), state])
        } else {
            tx.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('next', ?1)", params![upto.to_string()])
        }
        .and_then(|_| tx.commit());
        if let Err(e) = ok {
            tracing::error!(error = %e, "alerts.db commit failed; will re-evaluate");
            return;
        }
        if save_state {
            *state_next = upto;
            *state_saved = Instant::now();
        }
        drop(inner);
        if !lat.is_empty() {
            let now = Utc::now().timestamp_micros();
            self.latencies.lock().unwrap().extend(lat.into_iter().map(|i| now - i));
        }
        {
            let mut p = self.progress.lock().unwrap();
            p.next = p.next.max(upto);
        }
        self.cv.notify_all();
        if live && let Some(tx) = &self.notify {
            for a in new_alerts {
                if a.severity >= self.min_severity {
                    let _ = tx.try_send(a);
                }
            }
        }
    }

    /// Waits until the detector has evaluated ledger index `id` (or `timeout` passes).
    pub fn wait_for(&self, id: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut p = self.progress.lock().unwrap();
        while p.next <= id {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            p = self.cv.wait_timeout(p, left).unwrap().0;
        }
        true
    }

    /// Next ledger index to evaluate.
    pub fn next_index(&self) -> u64 {
        self.progress.lock().unwrap().next
    }

    /// Takes the recorded event→alert latencies (µs; only with `MAMORI_DETECT_LATENCY` set).
    pub fn take_latencies(&self) -> Vec<i64> {
        std::mem::take(&mut *self.latencies.lock().unwrap())
    }

    /// Reads alerts.
    pub fn list(&self, state: Option<AlertState>, rule: Option<&str>, limit: u32) -> Result<Vec<Alert>, DataDirError> {
        list_alerts(&self.inner.lock().unwrap().db, state, rule, limit)
    }

    /// One alert.
    pub fn get(&self, id: u64) -> Result<Option<Alert>, DataDirError> {
        get_alert(&self.inner.lock().unwrap().db, id)
    }

    /// The ledger this detector follows.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }
}

/// Alerts changed in the current batch, written once at its end (an alert of a noisy group
/// gets many findings per batch).
type Touched = std::collections::HashMap<String, (Alert, u64)>;

/// Adds a finding: into the alert of its group or as a new alert. Returns the new alert.
fn absorb(tx: &Connection, touched: &mut Touched, next_alert: &mut u64, ledger_id: u64, f: &Finding) -> rusqlite::Result<Option<Alert>> {
    let key = f.group_key();
    if let Some((a, by)) = touched.get_mut(&key) {
        absorb_capped(a, f);
        *by = ledger_id;
        return Ok(None);
    }
    let existing: Option<String> = tx.query_row("SELECT doc FROM alerts WHERE group_key = ?1", [&key], |r| r.get(0)).optional()?;
    match existing {
        Some(doc) => {
            let mut a: Alert = serde_json::from_str(&doc).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            absorb_capped(&mut a, f);
            touched.insert(key, (a, ledger_id));
            Ok(None)
        }
        None => {
            let a = Alert::from_finding(*next_alert, f);
            *next_alert += 1;
            touched.insert(key, (a.clone(), ledger_id));
            Ok(Some(a))
        }
    }
}

fn absorb_capped(a: &mut Alert, f: &Finding) {
    a.absorb(f);
}

fn flush(tx: &Connection, touched: &mut Touched) -> rusqlite::Result<()> {
    let mut v: Vec<(Alert, u64)> = touched.drain().map(|(_, x)| x).collect();
    v.sort_by_key(|(a, _)| a.id);
    for (a, by) in &v {
        put_alert(tx, a, *by)?;
    }
    Ok(())
}

/// Applies a ledgered officer action to its alert.
fn apply_action(tx: &Connection, ledger_id: u64, doc: &Value) -> Result<(), String> {
    let action: AlertAction = serde_json::from_value(doc.pointer("/mamori/alert_action").cloned().unwrap_or(Value::Null)).map_err(|e| format!("alert action: {e}"))?;
    let Some(mut a) = get_alert(tx, action.alert()).map_err(|e| e.to_string())? else {
        return Err(format!("アラート {} はありません / no alert {}", action.alert(), action.alert()));
    };
    let entry = HistoryEntry {
        ledger_id,
        actor: doc.pointer("/user/name").and_then(Value::as_str).unwrap_or_default().to_owned(),
        at: doc.get("@timestamp").and_then(Value::as_str).unwrap_or_default().to_owned(),
        action,
    };
    a.apply(entry)?;
    put_alert(tx, &a, ledger_id).map_err(|e| e.to_string())
}

/// The ledger payload of an officer's alert action.
pub fn action_payload(actor: &str, action: &AlertAction) -> Vec<u8> {
    admin_doc(actor, action.event_action(), json!({"alert_action": action}))
}

/// Verifies an event's inclusion in the ledger against the current checkpoint: the checkpoint
/// is signed by the log's key, the audit path leads from the entry to its root, and the entry
/// commits to the payload on record. Returns the proof JSON and whether all three hold.
pub fn verify_evidence(ledger: &Ledger, vkeys: &[String], id: u64) -> (Value, bool, Option<String>) {
    let p = match ledger.inclusion_proof(id) {
        Ok(p) => p,
        Err(e) => return (Value::Null, false, Some(e.to_string())),
    };
    let json = crate::http::inclusion_json(&p);
    let sig = mamori_ledger::SignedCheckpoint::verify_with_keys(&p.checkpoint, vkeys, &[]);
    let sig_ok = matches!(&sig, Ok((cp, _)) if cp.size == p.tree_size && cp.root == p.root);
    if !sig_ok {
        return (json, false, Some("checkpoint signature does not verify".into()));
    }
    let leaf = mamori_ledger::merkle::leaf_hash(&p.entry);
    if tlog_tiles::check_record(&p.hashes, p.tree_size, p.root, id, leaf).is_err() {
        return (json, false, Some("audit path does not lead to the checkpoint root".into()));
    }
    let rec = match mamori_ledger::engine::read_records(ledger.dir(), id, id + 1, 1) {
        Ok(mut v) if !v.is_empty() => v.remove(0),
        Ok(_) => return (json, false, Some("record not found".into())),
        Err(e) => return (json, false, Some(e.to_string())),
    };
    if rec.entry().to_bytes() != p.entry {
        return (json, false, Some("the ledger entry does not match the record".into()));
    }
    if !rec.erased && mamori_ledger::entry::commitment(&rec.salt, &rec.payload) != rec.commitment {
        return (json, false, Some("the payload does not match its commitment".into()));
    }
    (json, true, None)
}

/// Retro-hunt over the store: replays the ledger (as indexed) in order through a fresh engine
/// and the Sigma rules of `rules`, evaluating events whose time is within `[from, to]`.
/// The directory, USB ledger and policy are those ledgered before each event (a
/// `municipal.toml` in `rules` overrides the ledgered policy).
pub fn hunt_store(dir: &DataDir, rules: &Path, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Result<(Vec<Alert>, usize), DataDirError> {
    let h = hunt_store_paths(dir, &[rules.to_owned()], from, to)?;
    Ok((h.alerts, h.evaluated))
}

/// What [`hunt_store_paths`] found.
pub struct StoreHunt {
    /// Alerts (grouped and deduplicated like the streaming detector's), in creation order.
    pub alerts: Vec<Alert>,
    /// Events inside the window that were evaluated.
    pub evaluated: usize,
    /// Sigma rules loaded.
    pub sigma_rules: usize,
    /// Sigma correlation rules loaded.
    pub sigma_correlations: usize,
    /// What the Sigma loader could not (fully) load, rule by rule.
    pub issues: Vec<mamori_sigma::LoadIssue>,
}

/// Retro-hunt over the store with rules from several files and directories: Sigma
/// `*.yml`/`*.yaml` (directories walked recursively) and at most one `municipal.toml` (a file
/// named so, or one at the top of a directory) overriding the ledgered detection policy.
/// Events are replayed in ledger order; stateful rules (baselines, correlations) learn from
/// events before `from` too, but only findings on events inside `[from, to]` are kept.
pub fn hunt_store_paths(dir: &DataDir, rules: &[PathBuf], from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Result<StoreHunt, DataDirError> {
    let store = mamori_store::Store::open_read_only(&dir.index_path())?;
    let bound = store.indexed_upto()?.map_or(0, |i| i + 1);
    let mut policy_file = None;
    let mut sigma_paths = Vec::new();
    for p in rules {
        if p.is_dir() {
            if p.join("municipal.toml").is_file() && policy_file.is_none() {
                policy_file = Some(p.join("municipal.toml"));
            }
            sigma_paths.push(p.clone());
        } else if p.is_file() {
            if p.extension().is_some_and(|e| e == "toml") {
                policy_file = Some(p.clone());
            } else {
                sigma_paths.push(p.clone());
            }
        } else {
            return Err(DataDirError::File { path: p.clone(), why: "ルールのファイルまたはフォルダがありません / no such rule file or directory".into() });
        }
    }
    let override_policy = match &policy_file {
        Some(f) => {
            let t = std::fs::read_to_string(f).map_err(|e| DataDirError::File { path: f.clone(), why: e.to_string() })?;
            Some(mamori_detect::Policy::from_toml(&t).map_err(|e| DataDirError::Config(format!("{}: {e}", f.display())))?)
        }
        None => None,
    };
    let (mut sigma, issues) = if sigma_paths.is_empty() {
        (None, Vec::new())
    } else {
        let (set, issues) = mamori_sigma::RuleSet::load_paths(&sigma_paths, &mamori_sigma::LoadOptions::default()).map_err(|e| DataDirError::Other(format!("Sigma rules: {e}")))?;
        if set.rules().is_empty() && set.correlations().is_empty() {
            (None, issues)
        } else {
            let corr = mamori_sigma::Correlator::new(&set);
            (Some(Sigma { set, corr }), issues)
        }
    };
    let (sigma_rules, sigma_correlations) = sigma.as_ref().map_or((0, 0), |s| (s.set.rules().len(), s.set.correlations().len()));
    let mut engine = Engine::new(override_policy.clone().unwrap_or_default());
    let mut book = mamori_detect::AlertBook::new();
    let mut evaluated = 0usize;
    let mut cursor = mamori_ledger::wal::RecordCursor::new(&dir.ledger_dir().join("wal"), 0);
    loop {
        let recs = cursor.read(bound, 4096)?;
        if recs.is_empty() {
            break;
        }
        for r in recs {
            let doc = crate::indexer::doc_of(&r);
            let ingested = DateTime::<Utc>::from_timestamp_micros(r.ingested_micros).unwrap_or_else(Utc::now);
            let kind = r.kind.as_str();
            if kind == "admin" {
                let is_policy = doc.pointer("/event/action").and_then(Value::as_str) == Some(POLICY_ACTION);
                if !(is_policy && override_policy.is_some()) {
                    let _ = engine.apply_admin(&doc);
                }
                continue;
            }
            if kind != "event" {
                continue;
            }
            let ev = mamori_detect::Event::new(r.index, &doc, ingested, engine.context().policy.zone());
            let inside = from.is_none_or(|f| ev.ts >= f) && to.is_none_or(|t| ev.ts <= t);
            // Stateful rules learn from events before the window too.
            let mut findings = engine.process(r.index, kind, ingested, &doc);
            if let Some(s) = &mut sigma {
                s.findings(r.index, &doc, ingested, &engine, &mut findings);
            }
            if inside {
                evaluated += 1;
                for f in &findings {
                    book.add(f);
                }
            }
        }
    }
    Ok(StoreHunt { alerts: book.alerts().to_vec(), evaluated, sigma_rules, sigma_correlations, issues })
}

// ---- HTTP -----------------------------------------------------------------------------------

use crate::http::{ApiError, AppState, authorize};
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path as AxPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use mamori_auth::Action;

#[derive(Deserialize)]
pub(crate) struct AlertQuery {
    state: Option<String>,
    rule: Option<String>,
    limit: Option<u32>,
}

fn verified_keys(st: &AppState) -> Vec<String> {
    let mut keys = vec![st.ledger.vkey().to_owned()];
    keys.extend(st.dir.previous_vkeys().unwrap_or_default());
    keys
}

/// An alert as served: the alert, each evidence event with its inclusion proof verified
/// against the current checkpoint, and `proof_verified` for all of them.
pub fn alert_json(st: &AppState, a: &Alert, with_proofs: bool) -> Value {
    let mut v = serde_json::to_value(a).expect("json");
    if let (Some(p), Some(o)) = (&a.person, v.as_object_mut()) {
        o.insert("department".into(), json!({"code": p.dept_code, "name": p.dept_name}));
    }
    if with_proofs {
        let keys = verified_keys(st);
        let mut all = true;
        let ev: Vec<Value> = a
            .evidence
            .iter()
            .map(|&id| {
                let (proof, ok, why) = verify_evidence(&st.ledger, &keys, id);
                all &= ok;
                json!({"id": id, "proof_verified": ok, "problem": why, "proof": proof})
            })
            .collect();
        v["evidence_proofs"] = Value::Array(ev);
        v["proof_verified"] = json!(all && !a.evidence.is_empty());
    }
    v
}

/// `GET /api/v1/alerts[?state=new|triaged|closed][&rule=ID][&limit=N]`.
pub(crate) async fn get_alerts(State(st): State<AppState>, headers: HeaderMap, q: Result<Query<AlertQuery>, QueryRejection>) -> Result<Response, ApiError> {
    authorize(&st, &headers, Action::ReadAlerts)?;
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.to_string()))?;
    let state = match q.state.as_deref() {
        None => None,
        Some(s) => Some(AlertState::parse(s).ok_or_else(|| ApiError::bad_request(format!("state {s:?}: expected new, triaged or closed")))?),
    };
    let st2 = st.clone();
    let out = tokio::task::spawn_blocking(move || -> Result<Value, ApiError> {
        let alerts = st2.detection.list(state, q.rule.as_deref(), q.limit.unwrap_or(100).min(1000)).map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(json!({"alerts": alerts.iter().map(|a| alert_json(&st2, a, true)).collect::<Vec<_>>(), "detected_upto": st2.detection.next_index()}))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok(axum::Json(out).into_response())
}

fn not_found(id: u64) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("アラート {id} はありません。"), format!("no alert {id}"))
}

/// `GET /api/v1/alerts/{id}`.
pub(crate) async fn get_alert_http(State(st): State<AppState>, headers: HeaderMap, id: Result<AxPath<u64>, PathRejection>) -> Result<Response, ApiError> {
    authorize(&st, &headers, Action::ReadAlerts)?;
    let AxPath(id) = id.map_err(|e| ApiError::bad_request(e.to_string()))?;
    let st2 = st.clone();
    let v = tokio::task::spawn_blocking(move || -> Result<Value, ApiError> {
        let a = st2.detection.get(id).map_err(|e| ApiError::internal(e.to_string()))?.ok_or_else(|| not_found(id))?;
        Ok(alert_json(&st2, &a, true))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok(axum::Json(v).into_response())
}

#[derive(Deserialize)]
struct ActionBody {
    reason: String,
    #[serde(default)]
    assignee: Option<String>,
}

async fn act(st: AppState, headers: HeaderMap, id: Result<AxPath<u64>, PathRejection>, body: Bytes, close: bool) -> Result<Response, ApiError> {
    let who = authorize(&st, &headers, Action::ManageAlerts)?;
    let AxPath(id) = id.map_err(|e| ApiError::bad_request(e.to_string()))?;
    let b: ActionBody = serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?;
    let action = if close { AlertAction::Close { alert: id, reason: b.reason } } else { AlertAction::Triage { alert: id, reason: b.reason, assignee: b.assignee } };
    let det = st.detection.clone();
    let current = tokio::task::spawn_blocking(move || det.get(id)).await.map_err(|e| ApiError::internal(e.to_string()))?.map_err(|e| ApiError::internal(e.to_string()))?.ok_or_else(|| not_found(id))?;
    // Refuse what replay would refuse, before it is ledgered.
    action.next_state(current.state).map_err(|e| ApiError::new(StatusCode::CONFLICT, "refused", format!("実行できません: {e}"), e.clone()))?;
    let ledger = st.ledger.clone();
    let payload = action_payload(&who.name, &action);
    let lid = tokio::task::spawn_blocking(move || ledger.append_blocking(vec![NewEntry { kind: EntryKind::Admin, payload }]))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(e.to_string()))?
        .first_index;
    let st2 = st.clone();
    let v = tokio::task::spawn_blocking(move || -> Result<(bool, Value), ApiError> {
        let applied = st2.detection.wait_for(lid, Duration::from_secs(10));
        let a = st2.detection.get(id).map_err(|e| ApiError::internal(e.to_string()))?.ok_or_else(|| not_found(id))?;
        Ok((applied, json!({"ledger_id": lid, "applied": applied, "alert": alert_json(&st2, &a, false)})))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;
    let status = if v.0 { StatusCode::OK } else { StatusCode::ACCEPTED };
    Ok((status, axum::Json(v.1)).into_response())
}

/// `POST /api/v1/rules/reload` (admin): reads the rules directory again now, ledgers the
/// request (`rules-reloaded`) and any change, and answers what was loaded with each rule
/// file's load issues.
pub(crate) async fn post_rules_reload(State(st): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let who = authorize(&st, &headers, Action::ManageConfig)?;
    let det = st.detection.clone();
    let r = tokio::task::spawn_blocking(move || det.reload(&who.name, true)).await.map_err(|e| ApiError::internal(e.to_string()))?.map_err(|e| ApiError::internal(e.to_string()))?;
    let (ja, en) = if r.issues.is_empty() && r.policy_error.is_none() && r.sigma_error.is_none() {
        (format!("ルールを再読み込みしました(Sigma ルール {} 件、相関 {} 件、変更{})。", r.rules, r.correlations, if r.changed { "あり" } else { "なし" }), format!("rules reloaded ({} Sigma rules, {} correlations, {})", r.rules, r.correlations, if r.changed { "changed" } else { "unchanged" }))
    } else {
        (
            format!("ルールを再読み込みしました。読み込めなかったルールがあります({} 件)。他のルールは有効です。", r.issues.len() + usize::from(r.policy_error.is_some()) + usize::from(r.sigma_error.is_some())),
            format!("rules reloaded with load issues ({}); the other rules are in force", r.issues.len() + usize::from(r.policy_error.is_some()) + usize::from(r.sigma_error.is_some())),
        )
    };
    let mut v = serde_json::to_value(&r).expect("json");
    v["message"] = json!(ja);
    v["message_en"] = json!(en);
    Ok(axum::Json(v).into_response())
}

/// `POST /api/v1/alerts/{id}/triage` with `{"reason": "...", "assignee": "..."}`.
pub(crate) async fn post_triage(State(st): State<AppState>, headers: HeaderMap, id: Result<AxPath<u64>, PathRejection>, body: Bytes) -> Result<Response, ApiError> {
    act(st, headers, id, body, false).await
}

/// `POST /api/v1/alerts/{id}/close` with `{"reason": "..."}`.
pub(crate) async fn post_close(State(st): State<AppState>, headers: HeaderMap, id: Result<AxPath<u64>, PathRejection>, body: Bytes) -> Result<Response, ApiError> {
    act(st, headers, id, body, true).await
}
