//! Leak tracing in a data directory: every fingerprinting of an export is a ledger event linked
//! to its export event; traces come back with the export event's inclusion proof, the user's
//! department at the time (from the directory) and, for share files, who read that version.
//!
//! ```text
//! <data>/keys/fingerprint.key   per-installation HMAC key (32 bytes hex, 0600)
//! <data>/fingerprints/          mamori-trace store (segments, index, exports.jsonl, canaries.jsonl)
//! ```
//!
//! The fingerprint store is derived data: each segment's SHA-256 is in its ledger entry, so
//! `FpStore::check_segments` detects a changed or missing segment.

use crate::datadir::{DataDir, DataDirError};
use mamori_ledger::storage::{FsTileStore, TileSource};
use mamori_ledger::{EntryKind, NewEntry};
use mamori_store::Store;
use mamori_trace::canary::{self, CanaryPlace};
use mamori_trace::synth::Resident;
use mamori_trace::{CanaryMeta, ExportMeta, FingerprintKey, FpStore, TraceResult};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::fs;
use std::path::{Path, PathBuf};

/// `[exports]` in config.toml: the directory business systems drop their exports into.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExportsConfig {
    /// Watched directory; each new file is fingerprinted and its export event recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch_dir: Option<PathBuf>,
    /// Polling interval, seconds (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_seconds: Option<u64>,
    /// Account recorded as the exporter when the file name does not say (default `system`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_user: Option<String>,
}

/// What one fingerprinting recorded.
#[derive(Clone, Debug, Serialize)]
pub struct Fingerprinted {
    /// The export as stored.
    pub export: ExportMeta,
    /// Rows or lines that gave no record (location and reason).
    pub rejected: Vec<mamori_trace::read::Rejected>,
}

/// A file version the share scan saw (`DataDir::fingerprint_share_version`).
#[derive(Clone, Debug)]
pub struct ShareVersion<'a> {
    /// Path as the share's audit log names it (`/人事/職員名簿.csv`, share root `/`).
    pub share_path: &'a str,
    /// Path on the scanning machine.
    pub local_path: &'a str,
    /// Content.
    pub bytes: &'a [u8],
    /// Modification time: when this version came into place (bounds its readers).
    pub mtime: Option<chrono::DateTime<chrono::Utc>>,
    /// Owner uid on the file server.
    pub uid: Option<u32>,
    /// What the PII scan found (kinds and counts, no values).
    pub pii: Value,
    /// Account recorded as the fingerprinting user (the scanner).
    pub scanner: &'a str,
}

/// What to record about an export.
#[derive(Clone, Debug)]
pub struct ExportInfo {
    /// Who exported.
    pub user: String,
    /// Channel (business-system-csv, usb, mail, share, print …).
    pub channel: String,
    /// Source system.
    pub system: Option<String>,
    /// The export event already in the ledger (watched directory, mail, share read), if any.
    pub export_event: Option<u64>,
}

/// A trace, with everything an officer needs to act on it.
#[derive(Clone, Debug, Serialize)]
pub struct TraceReport {
    /// The ranking.
    pub result: TraceResult,
    /// Per candidate (same order): inclusion proof of the export event, department at the time,
    /// and for share files the readers of that file version.
    pub details: Vec<CandidateDetail>,
    /// Rows or lines of the leaked file that gave no record.
    pub rejected: usize,
}

/// Details of one candidate.
#[derive(Clone, Debug, Serialize)]
pub struct CandidateDetail {
    /// Inclusion proof of the export event (tlog-tiles JSON), or why there is none.
    pub proof: Value,
    /// 所属 at the export's date (`dept_name (dept_code)`), when the directory knows the user.
    pub department: Option<String>,
    /// Person's name in the directory.
    pub person: Option<String>,
    /// Hirosaki mode: who read this file version from the share, and when.
    pub share_reads: Vec<ShareRead>,
}

/// One read of a share file.
#[derive(Clone, Debug, Serialize)]
pub struct ShareRead {
    /// Account.
    pub user: String,
    /// When.
    pub time: String,
    /// Ledger id of the read event.
    pub event_id: u64,
}

fn other(e: impl std::fmt::Display) -> DataDirError {
    DataDirError::Other(e.to_string())
}

impl DataDir {
    /// The fingerprint store directory.
    pub fn fingerprint_dir(&self) -> PathBuf {
        self.root.join("fingerprints")
    }

    /// The per-installation fingerprint key (`keys/fingerprint.key`, created 0600 on first use).
    pub fn fingerprint_key(&self) -> Result<FingerprintKey, DataDirError> {
        let p = self.root.join("keys").join("fingerprint.key");
        match fs::read_to_string(&p) {
            Ok(t) => {
                let k = hex::decode(t.trim()).map_err(|e| DataDirError::File { path: p.clone(), why: format!("not hex: {e}") })?;
                Ok(FingerprintKey::new(&k))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                use rand::RngCore;
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                let mut k = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut k);
                let mut f = fs::OpenOptions::new()
                    .create_new(true)
                    .write(true)
                    .mode(0o600)
                    .open(&p)
                    .map_err(|e| DataDirError::File { path: p.clone(), why: e.to_string() })?;
                f.write_all(format!("{}\n", hex::encode(k)).as_bytes()).and_then(|_| f.sync_all()).map_err(|e| DataDirError::File { path: p.clone(), why: e.to_string() })?;
                Ok(FingerprintKey::new(&k))
            }
            Err(e) => Err(DataDirError::File { path: p, why: e.to_string() }),
        }
    }

    /// Opens the fingerprint store.
    pub fn fingerprint_store(&self) -> Result<FpStore, DataDirError> {
        FpStore::open(self.fingerprint_dir()).map_err(other)
    }

    /// Fingerprints a list that left (CSV, xlsx, PDF, text) as a ledgered event
    /// (`event.action: export-fingerprinted`, dataset `mamori.trace`), linked to its export
    /// event (or itself the export event when none is given). Needs the ledger lock.
    pub fn fingerprint_file(&self, actor: &str, file_name: &str, bytes: &[u8], info: &ExportInfo) -> Result<Fingerprinted, DataDirError> {
        let cfg = self.config()?;
        let key = self.fingerprint_key()?;
        let list = mamori_trace::read_list(file_name, bytes).map_err(other)?;
        let feats = mamori_trace::trace::list_features(&key, &list.records);
        let mut store = self.fingerprint_store()?;
        let no = store.next_no();
        let (features, segment_sha256) = store.write_segment(no, feats).map_err(other)?;
        let file_sha256 = mamori_trace::file_sha256(bytes);
        let now = chrono::Utc::now();
        let doc = json!({
            "@timestamp": mamori_event::format_ts(now),
            "event": {"kind": "event", "category": ["file"], "type": ["info"], "action": "export-fingerprinted", "module": "mamori", "dataset": "mamori.trace", "outcome": "success"},
            "user": {"name": info.user},
            "file": {"name": file_name, "path": file_name, "hash": {"sha256": file_sha256}},
            "mamori": {"fingerprint": {
                "export_event_id": info.export_event, "channel": info.channel, "system": info.system,
                "records": list.records.len(), "features": features, "segment": no, "segment_sha256": segment_sha256,
                "format": list.format, "rejected": list.rejected.len(), "recorded_by": actor,
            }},
        });
        let ledger = self.open_ledger(&cfg)?;
        let r = ledger.append_blocking(vec![NewEntry { kind: EntryKind::Event, payload: serde_json::to_vec(&doc).expect("json") }])?;
        ledger.wait_checkpoint(r.first_index + 1, std::time::Duration::from_secs(10));
        self.index_now(&ledger)?;
        ledger.close();
        let export = ExportMeta {
            no,
            export_id: info.export_event.unwrap_or(r.first_index),
            ledger_id: r.first_index,
            user: info.user.clone(),
            time: mamori_event::format_ts(now),
            channel: info.channel.clone(),
            system: info.system.clone(),
            file_name: file_name.to_owned(),
            file_sha256,
            records: list.records.len() as u64,
            features,
            segment_sha256,
        };
        store.add_export(export.clone()).map_err(other)?;
        if store.pending_segments() >= 64 {
            store.compact().map_err(other)?;
        }
        Ok(Fingerprinted { export, rejected: list.rejected })
    }

    /// Hirosaki mode from the share scan: records a file version seen on a share as a ledgered
    /// event (`share-file-version`, dataset `mamori.share`, with its SHA-256 and mtime) and
    /// fingerprints it under its share path (channel `share`) linked to that event. Returns
    /// `None` when nothing was recorded: the latest recorded version of that path has the same
    /// content, or the file is not a list the trace reader understands (no records). Needs the
    /// ledger lock.
    pub fn fingerprint_share_version(&self, v: &ShareVersion<'_>) -> Result<Option<Fingerprinted>, DataDirError> {
        let sha = mamori_trace::file_sha256(v.bytes);
        let store = self.fingerprint_store()?;
        // Latest by fingerprint time (the scan time); an older content coming back is a new
        // version, so compare with the latest only.
        let previous = store.exports().iter().filter(|e| e.channel == "share" && e.file_name == v.share_path).max_by(|a, b| a.time.cmp(&b.time)).map(|e| e.file_sha256.clone());
        drop(store);
        if previous.as_deref() == Some(sha.as_str()) {
            return Ok(None);
        }
        let records = match mamori_trace::read_list(v.share_path, v.bytes) {
            Ok(l) if !l.records.is_empty() => l.records.len(),
            _ => return Ok(None),
        };
        let name = v.share_path.rsplit('/').next().unwrap_or(v.share_path);
        let doc = json!({
            "@timestamp": mamori_event::format_ts(chrono::Utc::now()),
            "event": {"kind": "event", "category": ["file"], "type": [if previous.is_some() { "change" } else { "creation" }], "action": "share-file-version", "module": "mamori", "dataset": "mamori.share", "outcome": "success"},
            "file": {"path": v.share_path, "name": name, "size": v.bytes.len(), "mtime": v.mtime.map(mamori_event::format_ts), "uid": v.uid.map(|u| u.to_string()), "hash": {"sha256": sha}},
            "mamori": {"share": {"local_path": v.local_path, "previous_sha256": previous, "records": records, "pii": v.pii, "scanned_by": v.scanner}},
        });
        let version_event = self.record_event(&doc)?;
        let info = ExportInfo { user: v.scanner.to_owned(), channel: "share".into(), system: None, export_event: Some(version_event) };
        self.fingerprint_file(v.scanner, v.share_path, v.bytes, &info).map(Some)
    }

    /// Makes `n` canary records for (`export`, `recipient`) and registers them (keyed features
    /// only) as a ledgered admin record (`canary-registered`). Returns the ledger id and the
    /// records to put into the export. Needs the ledger lock.
    pub fn make_canaries(&self, actor: &str, export: &str, recipient: &str, n: usize, place: &CanaryPlace) -> Result<(u64, Vec<Resident>), DataDirError> {
        let cfg = self.config()?;
        let key = self.fingerprint_key()?;
        let residents = canary::make(&key, export, recipient, n, place);
        let feats: Vec<Vec<u64>> = residents.iter().map(|r| canary::canary_features(&key, r)).collect();
        let ids: Vec<String> = (0..n).map(|i| format!("canary-{:012x}", key.hash(b'I', &[export, recipient, &i.to_string()]) >> 16)).collect();
        let doc = json!({
            "@timestamp": mamori_event::format_ts(chrono::Utc::now()),
            "event": {"kind": "event", "category": ["configuration"], "action": "canary-registered", "module": "mamori", "dataset": "mamori.admin", "outcome": "success"},
            "user": {"name": actor},
            "mamori": {"canary": {"export": export, "recipient": recipient, "count": n, "ids": ids, "features": feats}},
        });
        let ledger = self.open_ledger(&cfg)?;
        let r = ledger.append_blocking(vec![NewEntry { kind: EntryKind::Admin, payload: serde_json::to_vec(&doc).expect("json") }])?;
        ledger.wait_checkpoint(r.first_index + 1, std::time::Duration::from_secs(10));
        self.index_now(&ledger)?;
        ledger.close();
        let mut store = self.fingerprint_store()?;
        for (id, f) in ids.into_iter().zip(feats) {
            store
                .add_canary(CanaryMeta { canary_id: id, export: export.to_owned(), recipient: recipient.to_owned(), ledger_id: r.first_index, features: f })
                .map_err(other)?;
        }
        Ok((r.first_index, residents))
    }

    /// Records a canary sighting (a mail through the milter, a share file) as an alert event in
    /// the ledger; returns its id. Needs the ledger lock.
    pub fn record_sighting(&self, doc: &Value) -> Result<u64, DataDirError> {
        self.record_event(doc)
    }

    /// Appends one event document to the ledger and indexes it; returns its id. Needs the
    /// ledger lock.
    pub fn record_event(&self, doc: &Value) -> Result<u64, DataDirError> {
        let cfg = self.config()?;
        let ledger = self.open_ledger(&cfg)?;
        let r = ledger.append_blocking(vec![NewEntry { kind: EntryKind::Event, payload: serde_json::to_vec(doc).expect("json") }])?;
        ledger.wait_checkpoint(r.first_index + 1, std::time::Duration::from_secs(10));
        self.index_now(&ledger)?;
        ledger.close();
        Ok(r.first_index)
    }

    /// Traces a leaked file (read-only: no ledger lock needed).
    pub fn trace_file(&self, file_name: &str, bytes: &[u8], limit: usize) -> Result<TraceReport, DataDirError> {
        let key = self.fingerprint_key()?;
        let list = mamori_trace::read_list(file_name, bytes).map_err(other)?;
        let store = self.fingerprint_store()?;
        let result = mamori_trace::trace(&store, &key, &list.records, limit);
        let dir = self.directory().ok();
        let tiles = FsTileStore::new(self.ledger_dir());
        let cp = tiles
            .read_checkpoint()
            .ok()
            .flatten()
            .and_then(|note| self.log_vkey().ok().and_then(|vk| mamori_ledger::SignedCheckpoint::verify(&note, &vk, &[]).ok()))
            .map(|(cp, _)| cp);
        let index = Store::open_read_only(&self.index_path()).ok();
        let mut details = Vec::new();
        for c in &result.candidates {
            let proof = match &cp {
                Some(cp) => match mamori_ledger::inclusion_proof(&tiles, cp, c.export.export_id) {
                    Ok(p) => crate::http::inclusion_json(&p),
                    Err(e) => json!({"error": e.to_string()}),
                },
                None => json!({"error": "署名済みチェックポイントがありません / no verified checkpoint"}),
            };
            let date = chrono::DateTime::parse_from_rfc3339(&c.export.time).map(|t| t.with_timezone(&chrono::Local).date_naive()).ok();
            let (mut department, mut person) = (None, None);
            if let (Some(dir), Some(date)) = (&dir, date)
                && let mamori_directory::Resolution::Person(p) = dir.resolve(&c.export.user, date)
            {
                person = Some(p.name.clone());
                department = p.post.as_ref().map(|post| format!("{} ({})", post.dept_name, post.dept_code));
            }
            let share_reads = if c.export.channel == "share" {
                index.as_ref().map(|s| share_reads(s, &store, &c.export)).unwrap_or_default()
            } else {
                Vec::new()
            };
            details.push(CandidateDetail { proof, department, person, share_reads });
        }
        Ok(TraceReport { result, details, rejected: list.rejected.len() })
    }
}

/// Hirosaki mode: the reads (`file-read`/`file-open` events, e.g. Samba full_audit) of the
/// share file `e` while its version was in place: from the previous different version's
/// fingerprint until the next different version's — narrowed, for versions the share scan
/// recorded, by the file's mtime in the version event (the version came into place then, and
/// the next one replaced it at its own mtime). Failed opens are not reads.
pub fn share_reads(index: &Store, store: &FpStore, e: &ExportMeta) -> Vec<ShareRead> {
    // mtime of a version recorded by the share scan (its `share-file-version` event).
    let mtime = |o: &ExportMeta| -> Option<String> {
        let h = index.get(o.export_id).ok().flatten()?;
        (h.doc.pointer("/event/action").and_then(Value::as_str) == Some("share-file-version")).then_some(())?;
        h.doc.pointer("/file/mtime").and_then(Value::as_str).map(str::to_owned)
    };
    let versions = || store.exports().iter().filter(|o| o.file_name == e.file_name && o.channel == "share" && o.file_sha256 != e.file_sha256);
    // Timestamps are all `format_ts` (RFC 3339, UTC, micros), so they order as strings.
    let next = versions()
        .filter(|o| o.time > e.time)
        .min_by(|a, b| a.time.cmp(&b.time))
        .map(|o| match mtime(o) {
            // The next version replaced this one at its mtime, if that is after this version
            // was seen (a copied-in file may keep an older mtime).
            Some(m) if m > e.time && m < o.time => m,
            _ => o.time.clone(),
        });
    let mut prev = versions().filter(|o| o.time < e.time).map(|o| o.time.clone()).max();
    if let Some(m) = mtime(e)
        && m < e.time
        && prev.as_ref().is_none_or(|p| m > *p)
    {
        prev = Some(m);
    }
    let mut out = Vec::new();
    for action in ["file-read", "file-open"] {
        let q = mamori_store::Query {
            path: Some(e.file_name.clone()),
            action: Some(action.into()),
            from: prev.clone(),
            to: next.clone(),
            limit: Some(1000),
            ..Default::default()
        };
        if let Ok(page) = index.search(&q) {
            for h in page.events {
                // The index filter is a path prefix; keep this file only.
                if h.doc.pointer("/file/path").and_then(Value::as_str) != Some(e.file_name.as_str())
                    || h.doc.pointer("/event/outcome").and_then(Value::as_str) == Some("failure")
                {
                    continue;
                }
                let user = h.doc.pointer("/user/name").and_then(Value::as_str).unwrap_or("").to_owned();
                let time = h.doc.get("@timestamp").and_then(Value::as_str).unwrap_or("").to_owned();
                if !out.iter().any(|r: &ShareRead| r.user == user && r.time == time) {
                    out.push(ShareRead { user, time, event_id: h.id });
                }
            }
        }
    }
    out.sort_by(|a, b| a.time.cmp(&b.time));
    out
}

/// Polls `[exports] watch_dir` once: fingerprints every file not yet recorded (by name and
/// SHA-256), as channel `business-system-export`. The exporter is the file name's prefix before
/// `__` (`tanaka.k__住民一覧.csv`), else `default_user`. Files still being written (changed in
/// the last 2 s) wait for the next poll. Returns what was fingerprinted and the files refused.
pub fn poll_watch_dir(data: &DataDir, dir: &Path, default_user: &str) -> Result<(Vec<Fingerprinted>, Vec<String>), DataDirError> {
    let store = data.fingerprint_store()?;
    let seen: std::collections::HashSet<(String, String)> = store.exports().iter().map(|e| (e.file_name.clone(), e.file_sha256.clone())).collect();
    drop(store);
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| DataDirError::File { path: dir.to_owned(), why: e.to_string() })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    let (mut done, mut refused) = (Vec::new(), Vec::new());
    for p in entries {
        let Ok(meta) = fs::metadata(&p) else { continue };
        if meta.modified().ok().and_then(|m| m.elapsed().ok()).is_some_and(|age| age.as_secs() < 2) {
            continue;
        }
        let Ok(bytes) = fs::read(&p) else { continue };
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let label = p.display().to_string();
        if seen.contains(&(label.clone(), mamori_trace::file_sha256(&bytes))) {
            continue;
        }
        let user = name.split_once("__").map(|(u, _)| u.to_owned()).unwrap_or_else(|| default_user.to_owned());
        let info = ExportInfo { user, channel: "business-system-export".into(), system: None, export_event: None };
        match data.fingerprint_file("export-watcher", &label, &bytes, &info) {
            Ok(f) => done.push(f),
            Err(e) => refused.push(format!("{label}: {e}")),
        }
    }
    Ok((done, refused))
}
