//! `mamori scan`: find personal data in files before they leave (issue 7).

use anyhow::{Context, Result};
use mamori_pii::{FileReport, Finding, Kind, Options};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `mamori scan`.
#[derive(clap::Args)]
pub struct ScanArgs {
    /// Files or directories (walked recursively).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Print JSON Lines: one finding per line, then one summary line per file.
    #[arg(long)]
    json: bool,
    /// Print values unmasked (default: masked).
    #[arg(long)]
    show_values: bool,
    /// Report findings at or above this confidence (0..1).
    #[arg(long, default_value_t = 0.5)]
    min_confidence: f32,
    /// Exit with status 3 when anything at or above --min-confidence is found, or with status 4
    /// when nothing was found but a file or part of one could not be scanned (unreadable PDF,
    /// unknown format, a limit hit): a pre-publication check in a website upload pipeline must
    /// not pass what it could not read.
    #[arg(long)]
    fail_on_find: bool,
    /// Incremental share scan: keep per-file state (mtime, size, SHA-256, kinds and counts —
    /// no values) in this JSON file and rescan only what changed.
    #[arg(long)]
    incremental: Option<PathBuf>,
    /// A folder all staff can read (repeatable): personal data there is flagged.
    #[arg(long = "all-staff")]
    all_staff: Vec<PathBuf>,
    /// Treat world-readable (o+r) files as readable by all staff.
    #[arg(long)]
    world_readable_is_all_staff: bool,
    /// Data directory whose canary records (目印レコード, `mamori canary make`) are looked for
    /// in every scanned file; each sighting is ledgered there as an alert (`canary-sighted`,
    /// channel share) naming the export and its recipient (server stopped, or a dedicated data
    /// directory).
    ///
    /// With --incremental it is also where the share scan fingerprints file versions (Hirosaki
    /// mode): every new or changed file with personal data that reads as a list (CSV, xlsx,
    /// PDF, text) is ledgered as a `share-file-version` event and fingerprinted (channel
    /// `share`) under its path on the share, so `mamori trace` names the version and who read it.
    #[arg(long)]
    data: Option<PathBuf>,
    /// The directory the file share exports (Samba `path =`): file versions are fingerprinted
    /// under their path below it (`/人事/職員名簿.csv`, as vfs_full_audit logs them). Default:
    /// the scanned directory each file was found under.
    #[arg(long)]
    share_root: Option<PathBuf>,
}

/// Path of `file` as the share's audit log names it: below `share_root`, else below the scanned
/// root it was found under (longest match), with a leading `/`.
fn share_path(file: &str, share_root: Option<&std::path::Path>, roots: &[PathBuf]) -> String {
    let p = std::path::Path::new(file);
    let rel = share_root
        .and_then(|r| p.strip_prefix(r).ok())
        .or_else(|| roots.iter().filter(|r| r.is_dir()).filter_map(|r| p.strip_prefix(r).ok()).min_by_key(|rel| rel.components().count()))
        .or_else(|| p.file_name().map(std::path::Path::new))
        .unwrap_or(p);
    let parts: Vec<String> = rel.components().filter_map(|c| match c {
        std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
        _ => None,
    }).collect();
    format!("/{}", parts.join("/"))
}

/// Hirosaki mode: fingerprints the new or changed file versions of an incremental scan that
/// carry personal data; returns how many were recorded.
fn fingerprint_versions(data: &std::path::Path, a: &ScanArgs, delta: &mamori_pii::share::Delta, state: &mamori_pii::share::State) -> Result<usize> {
    let dir = mamori_server::DataDir::new(data);
    let mut n = 0;
    for r in &delta.scanned {
        let Some(st) = state.files.get(&r.path) else { continue };
        if st.kinds.is_empty() {
            continue;
        }
        // Read again: the scan keeps no content. A file changed in between is simply seen
        // as its newest version (also by the next scan).
        let Ok(bytes) = std::fs::read(&r.path) else { continue };
        let meta = std::fs::metadata(&r.path).ok();
        let mtime = meta.as_ref().and_then(|m| m.modified().ok()).map(chrono::DateTime::<chrono::Utc>::from);
        #[cfg(unix)]
        let uid = meta.as_ref().map(std::os::unix::fs::MetadataExt::uid);
        #[cfg(not(unix))]
        let uid = None;
        let pii: BTreeMap<&str, usize> = st.kinds.iter().map(|k| (k.kind.as_str(), k.count)).collect();
        let sp = share_path(&r.path, a.share_root.as_deref(), &a.paths);
        let v = mamori_server::fingerprint::ShareVersion { share_path: &sp, local_path: &r.path, bytes: &bytes, mtime, uid, pii: serde_json::json!(pii), scanner: "share-scan" };
        if let Some(f) = dir.fingerprint_share_version(&v).with_context(|| format!("fingerprinting {} ({sp})", r.path))? {
            eprintln!(
                "版を記録 / file version recorded: {sp} (sha256 {}…, {} 件 / records) → 台帳 #{} / ledger entry #{}",
                &f.export.file_sha256[..12],
                f.export.records,
                f.export.export_id,
                f.export.export_id
            );
            n += 1;
        }
    }
    Ok(n)
}

/// Canary records of a data directory, looked for in scanned files.
struct Canaries {
    dir: mamori_server::DataDir,
    key: mamori_trace::FingerprintKey,
    metas: Vec<mamori_trace::CanaryMeta>,
}

impl Canaries {
    fn open(data: &std::path::Path) -> Result<Canaries> {
        let dir = mamori_server::DataDir::new(data);
        let key = dir.fingerprint_key().with_context(|| format!("fingerprint key of {}", data.display()))?;
        let metas = dir.fingerprint_store().with_context(|| format!("fingerprint store of {}", data.display()))?.canaries().to_vec();
        Ok(Canaries { dir, key, metas })
    }

    /// Looks for canaries in one file; ledgers each sighting; returns how many.
    fn check(&self, path: &str) -> Result<usize> {
        if self.metas.is_empty() {
            return Ok(0);
        }
        let Ok(bytes) = std::fs::read(path) else { return Ok(0) };
        let Ok(list) = mamori_trace::read_list(path, &bytes) else { return Ok(0) };
        let feats: Vec<Vec<u64>> = list.records.iter().map(|l| mamori_trace::features(&self.key, &l.record)).collect();
        let locs: Vec<String> = list.records.iter().map(|l| format!("{path}: {}", l.location)).collect();
        let mut n = 0;
        for s in mamori_trace::sightings(&self.metas, locs.iter().map(String::as_str).zip(feats.iter().map(Vec::as_slice))) {
            let doc = serde_json::json!({
                "@timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "event": {"kind": "alert", "category": ["file", "intrusion_detection"], "type": ["indicator"], "action": "canary-sighted", "module": "mamori", "dataset": "mamori.trace", "severity": 90,
                          "reason": format!("目印レコード検出 / canary record sighted: export {} given to {}", s.canary.export, s.canary.recipient)},
                "file": {"path": path, "name": std::path::Path::new(path).file_name().map(|n| n.to_string_lossy().into_owned())},
                "mamori": {"canary": {"canary_id": s.canary.canary_id, "export": s.canary.export, "recipient": s.canary.recipient, "registration_id": s.canary.ledger_id, "location": s.location, "shared_features": s.shared, "certain": true, "channel": "share"}},
            });
            let id = self.dir.record_sighting(&doc).context("ledgering a canary sighting")?;
            eprintln!(
                "★ 目印レコード検出 / canary sighted: {} — 書出し「{}」受取人 {} (登録 #{}) at {} → 台帳 #{id} / ledger entry #{id}",
                s.canary.canary_id, s.canary.export, s.canary.recipient, s.canary.ledger_id, s.location
            );
            n += 1;
        }
        Ok(n)
    }
}

fn display_path(r: &FileReport, f: &Finding) -> String {
    match &f.member {
        Some(m) => format!("{}!{}", r.path, m),
        None => r.path.clone(),
    }
}

fn finding_json(r: &FileReport, f: &Finding, show: bool) -> serde_json::Value {
    let mut v = serde_json::json!({
        "path": display_path(r, f),
        "kind": f.kind.as_str(),
        "value": if show { f.value().to_string() } else { f.masked() },
        "location": f.location,
        "confidence": (f.confidence * 100.0).round() / 100.0,
        "context": f.context(show),
    });
    if f.count > 1 {
        v["count"] = f.count.into();
    }
    v
}

fn summary_json(r: &FileReport, kept: &[&Finding]) -> serde_json::Value {
    let mut by: BTreeMap<&str, usize> = BTreeMap::new();
    for f in kept {
        *by.entry(f.kind.as_str()).or_default() += f.count;
    }
    serde_json::json!({
        "path": r.path,
        "summary": {
            "format": r.format,
            "bytes": r.bytes,
            "findings": kept.len(),
            "values": kept.iter().map(|f| f.count).sum::<usize>(),
            "by_kind": by,
            "max_confidence": (kept.iter().map(|f| f.confidence).fold(0.0f32, f32::max) * 100.0).round() / 100.0,
            "problems": r.problems.iter().map(|p| match &p.member { Some(m) => format!("{m}: {}", p.reason), None => p.reason.clone() }).collect::<Vec<_>>(),
            "elapsed_ms": r.elapsed_ms,
            "truncated": r.truncated,
        }
    })
}

fn location_text(f: &Finding) -> String {
    match &f.location {
        mamori_pii::Location::Line { line, column } => format!("{line}:{column}"),
        mamori_pii::Location::Cell { sheet, cell } if sheet.is_empty() => cell.clone(),
        mamori_pii::Location::Cell { sheet, cell } => format!("{sheet}!{cell}"),
        mamori_pii::Location::Page { page } => format!("p.{page}"),
    }
}

fn print_human(out: &mut impl Write, r: &FileReport, kept: &[&Finding], show: bool) -> std::io::Result<()> {
    for f in kept {
        let count = if f.count > 1 { format!(" ×{}件 / ×{}", f.count, f.count) } else { String::new() };
        writeln!(
            out,
            "{}:{}  {} / {}{}  {}  (確度 / confidence {:.2})  {}",
            display_path(r, f),
            location_text(f),
            f.kind.ja(),
            f.kind.as_str(),
            count,
            if show { f.value().to_string() } else { f.masked() },
            f.confidence,
            f.context(show)
        )?;
    }
    let mut by: BTreeMap<Kind, usize> = BTreeMap::new();
    for f in kept {
        *by.entry(f.kind).or_default() += f.count;
    }
    let kinds: Vec<String> = by.iter().map(|(k, n)| format!("{} {n}", k.ja())).collect();
    writeln!(
        out,
        "{}: {} 件 / {} findings{} — {}, {} bytes, {} ms",
        r.path,
        kept.len(),
        kept.len(),
        if kinds.is_empty() { String::new() } else { format!(" ({})", kinds.join(", ")) },
        r.format,
        r.bytes,
        r.elapsed_ms
    )?;
    for p in &r.problems {
        let at = p.member.as_deref().map(|m| format!("!{m}")).unwrap_or_default();
        writeln!(out, "{}{at}: 未検査 / not scanned: {}", r.path, p.reason)?;
    }
    Ok(())
}

/// Run `mamori scan`.
pub fn run(a: ScanArgs) -> Result<()> {
    let opts = Options { keep_above: a.min_confidence, ..Options::default() };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut found = 0usize;
    // Files (or listing errors) that were not fully scanned: they fail the gate too.
    let mut unscanned: Vec<String> = Vec::new();
    let canaries = a.data.as_deref().map(Canaries::open).transpose()?;
    let mut report = |r: &FileReport, out: &mut std::io::BufWriter<std::io::StdoutLock>| -> Result<()> {
        if let Some(c) = &canaries {
            c.check(&r.path)?;
        }
        let kept: Vec<&Finding> = r.findings.iter().filter(|f| f.confidence >= a.min_confidence).collect();
        found += kept.len();
        if !r.problems.is_empty() || r.truncated {
            unscanned.push(r.path.clone());
        }
        if a.json {
            for f in &kept {
                writeln!(out, "{}", finding_json(r, f, a.show_values))?;
            }
            writeln!(out, "{}", summary_json(r, &kept))?;
        } else {
            print_human(out, r, &kept, a.show_values)?;
        }
        Ok(())
    };
    if let Some(state_path) = &a.incremental {
        let mut state = mamori_pii::share::State::load(state_path).with_context(|| format!("reading state {}", state_path.display()))?;
        let delta = mamori_pii::share::scan_incremental(&a.paths, std::slice::from_ref(state_path), &mut state, &opts, a.min_confidence, &a.all_staff, a.world_readable_is_all_staff);
        for r in &delta.scanned {
            report(r, &mut out)?;
        }
        if let Some(d) = &a.data {
            // Before the state is saved: if this fails, the next run scans these files again
            // and retries (a version already recorded is skipped).
            fingerprint_versions(d, &a, &delta, &state)?;
        }
        for e in &delta.errors {
            eprintln!("{e}");
        }
        unscanned.extend(delta.errors.iter().map(|e| e.to_string()));
        for (p, kinds) in &delta.exposed {
            let ks: Vec<String> = kinds.iter().map(|k| format!("{} {}", k.kind.ja(), k.count)).collect();
            if a.json {
                writeln!(out, "{}", serde_json::json!({"path": p, "all_staff_exposure": kinds}))?;
            } else {
                writeln!(out, "{p}: 全職員が読めるフォルダに個人情報 / personal data in an all-staff folder: {}", ks.join(", "))?;
            }
        }
        if !a.json {
            writeln!(
                out,
                "差分走査 / incremental: 走査 {} / scanned {}, 変更なし {} / unchanged {}, 削除 {} / removed {}",
                delta.scanned.len(),
                delta.scanned.len(),
                delta.unchanged,
                delta.unchanged,
                delta.removed.len(),
                delta.removed.len()
            )?;
        }
        state.save(state_path).with_context(|| format!("writing state {}", state_path.display()))?;
    } else {
        let (files, errors) = mamori_pii::share::list_files(&a.paths);
        for e in &errors {
            eprintln!("{e}");
        }
        for p in files {
            let r = mamori_pii::scan_path(&p, &opts);
            report(&r, &mut out)?;
        }
        unscanned.extend(errors.iter().map(|e| e.to_string()));
    }
    out.flush()?;
    drop(out);
    if a.fail_on_find && found > 0 {
        eprintln!("個人情報を検出しました({found} 件、確度 {} 以上)/ personal data found ({found} findings at confidence ≥ {})", a.min_confidence, a.min_confidence);
        std::process::exit(3);
    }
    if a.fail_on_find && !unscanned.is_empty() {
        eprintln!(
            "検査できないファイルがあります({} 件)。公開前の確認を通せません / {} file(s) could not be scanned, so the pre-publication check cannot pass: {}",
            unscanned.len(),
            unscanned.len(),
            unscanned.join(", ")
        );
        std::process::exit(4);
    }
    Ok(())
}
