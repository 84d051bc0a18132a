//! Incremental share scan: walk a tree, rescan only files whose size/mtime changed (and
//! whose content hash changed), keep a state file of per-file summaries **without raw
//! values**, and flag personal data in folders that all staff can read (Kamaishi's handover
//! folder, Hirosaki's HR file on a share twenty people could read).
//!
//! "All staff can read" is decided by the caller's list of all-staff folders and, on POSIX,
//! by the file being world-readable (`o+r`), which is how a Samba share exported to
//! `valid users = @all-staff` with `force create mode = 0644` looks on disk.

use crate::{FileReport, Kind, Options, scan_bytes};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Summary of one kind in a file (no values).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindSummary {
    /// Kind.
    pub kind: Kind,
    /// Values found (column findings count their cells).
    pub count: usize,
    /// Highest confidence.
    pub max_confidence: f32,
    /// Up to five locations, as JSON.
    pub locations: Vec<serde_json::Value>,
}

/// State of one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileState {
    /// Size in bytes.
    pub size: u64,
    /// Modification time (ns since the epoch).
    pub mtime_ns: i128,
    /// SHA-256 of the content.
    pub sha256: String,
    /// Format detected.
    pub format: String,
    /// What was found (at or above the state's confidence).
    pub kinds: Vec<KindSummary>,
    /// Problems (reasons only).
    pub problems: Vec<String>,
    /// Readable by all staff.
    pub all_staff: bool,
}

/// The state file: path → state.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct State {
    /// Minimum confidence counted.
    pub min_confidence: f32,
    /// Files.
    pub files: BTreeMap<String, FileState>,
}

/// What one incremental run did.
#[derive(Debug, Default)]
pub struct Delta {
    /// Files scanned (new or changed), with their reports.
    pub scanned: Vec<FileReport>,
    /// Files unchanged (size+mtime equal, or content hash equal).
    pub unchanged: usize,
    /// Files gone since the last run.
    pub removed: Vec<String>,
    /// Files with personal data readable by all staff (path, kinds).
    pub exposed: Vec<(String, Vec<KindSummary>)>,
    /// Walk errors (unreadable directories).
    pub errors: Vec<String>,
}

impl State {
    /// Load from a JSON file; a missing file is an empty state.
    pub fn load(path: &Path) -> std::io::Result<State> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b).map_err(std::io::Error::other),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(e),
        }
    }

    /// Save atomically (write + rename).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?)?;
        std::fs::rename(tmp, path)
    }
}

fn walk(root: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<String>) {
    let rd = match std::fs::read_dir(root) {
        Ok(r) => r,
        Err(e) => {
            errors.push(format!("{}: 読めません / cannot read directory: {e}", root.display()));
            return;
        }
    };
    let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => walk(&p, out, errors),
            Ok(t) if t.is_file() => out.push(p),
            _ => {}
        }
    }
}

fn summarise(r: &FileReport, min: f32) -> Vec<KindSummary> {
    let mut by: BTreeMap<Kind, KindSummary> = BTreeMap::new();
    for f in r.findings.iter().filter(|f| f.confidence >= min) {
        let e = by.entry(f.kind).or_insert(KindSummary {
            kind: f.kind,
            count: 0,
            max_confidence: 0.0,
            locations: Vec::new(),
        });
        e.count += f.count;
        e.max_confidence = e.max_confidence.max(f.confidence);
        if e.locations.len() < 5 {
            let mut loc = serde_json::to_value(&f.location).unwrap_or_default();
            if let (Some(m), Some(o)) = (&f.member, loc.as_object_mut()) {
                o.insert("member".into(), m.clone().into());
            }
            e.locations.push(loc);
        }
    }
    by.into_values().collect()
}

#[cfg(unix)]
fn world_readable(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o004 != 0
}

#[cfg(not(unix))]
fn world_readable(_: &std::fs::Metadata) -> bool {
    false
}

/// Scan `roots` incrementally against `state` (updated in place). `all_staff` lists folders
/// all staff can read; with `world_readable_is_all_staff`, any `o+r` file counts too.
/// Files in `skip` (the state file itself) are not scanned.
#[allow(clippy::too_many_arguments)]
pub fn scan_incremental(
    roots: &[PathBuf],
    skip: &[PathBuf],
    state: &mut State,
    opts: &Options,
    min_confidence: f32,
    all_staff: &[PathBuf],
    world_readable_is_all_staff: bool,
) -> Delta {
    let mut delta = Delta::default();
    let mut files = Vec::new();
    for r in roots {
        if r.is_file() {
            files.push(r.clone());
        } else {
            walk(r, &mut files, &mut delta.errors);
        }
    }
    state.min_confidence = min_confidence;
    let mut seen = std::collections::HashSet::new();
    let skip: Vec<PathBuf> = skip.iter().map(|p| p.canonicalize().unwrap_or_else(|_| p.clone())).collect();
    for p in files {
        if skip.contains(&p.canonicalize().unwrap_or_else(|_| p.clone())) {
            continue;
        }
        let key = p.display().to_string();
        seen.insert(key.clone());
        let Ok(meta) = std::fs::metadata(&p) else { continue };
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i128);
        let exposed = all_staff.iter().any(|a| p.starts_with(a)) || (world_readable_is_all_staff && world_readable(&meta));
        if let Some(old) = state.files.get_mut(&key)
            && old.size == meta.len()
            && old.mtime_ns == mtime_ns
        {
            old.all_staff = exposed;
            delta.unchanged += 1;
            if exposed && !old.kinds.is_empty() {
                delta.exposed.push((key, old.kinds.clone()));
            }
            continue;
        }
        let report = if meta.len() > opts.limits.max_file_bytes {
            crate::scan_path(&p, opts)
        } else {
            match std::fs::read(&p) {
                Ok(b) => {
                    let sha = hex::encode(Sha256::digest(&b));
                    if let Some(old) = state.files.get_mut(&key)
                        && old.sha256 == sha
                    {
                        old.mtime_ns = mtime_ns;
                        old.all_staff = exposed;
                        delta.unchanged += 1;
                        if exposed && !old.kinds.is_empty() {
                            delta.exposed.push((key, old.kinds.clone()));
                        }
                        continue;
                    }
                    let mut r = scan_bytes(&key, &b, opts);
                    r.path = key.clone();
                    let kinds = summarise(&r, min_confidence);
                    state.files.insert(
                        key.clone(),
                        FileState {
                            size: meta.len(),
                            mtime_ns,
                            sha256: sha,
                            format: r.format.clone(),
                            kinds: kinds.clone(),
                            problems: r.problems.iter().map(|p| p.reason.clone()).collect(),
                            all_staff: exposed,
                        },
                    );
                    if exposed && !kinds.is_empty() {
                        delta.exposed.push((key, kinds));
                    }
                    delta.scanned.push(r);
                    continue;
                }
                Err(_) => crate::scan_path(&p, opts),
            }
        };
        delta.scanned.push(report);
    }
    let gone: Vec<String> = state.files.keys().filter(|k| !seen.contains(*k)).cloned().collect();
    for g in gone {
        state.files.remove(&g);
        delta.removed.push(g);
    }
    delta
}

/// Every file under `roots` (files given directly are kept), sorted per directory, with the
/// directories that could not be read.
pub fn list_files(roots: &[PathBuf]) -> (Vec<PathBuf>, Vec<String>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for r in roots {
        if r.is_dir() {
            walk(r, &mut files, &mut errors);
        } else {
            files.push(r.clone());
        }
    }
    (files, errors)
}
