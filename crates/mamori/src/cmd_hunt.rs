//! `mamori hunt --rules DIR… [--from T] [--to T] [--json]`: retro-hunt over the data
//! directory's store — every indexed event replayed in ledger order through the municipal rule
//! pack (with the directory as ledgered at each event) and the Sigma rules of DIR; prints the
//! alerts (one JSON object per line with `--json`, `type: "alert"`).
//!
//! `mamori hunt --evtx PATH… --rules DIR…`: run Sigma rules (and correlations) over EVTX files
//! standalone, like Hayabusa and Chainsaw — no data directory needed (issue 12).
//!
//! Reads the EVTX files with the `evtx` crate (files spread over the cores), evaluates every
//! record with `mamori-sigma`, feeds the matches of correlation-referenced rules to the
//! correlator in time order, and prints one line per detection: JSON Lines with `--json`
//! (`type`, `rule_id`, `title`, `level`, `file`, `record_id`, `timestamp`, …), else a table.
//! What the rule loader could not load is printed on stderr, rule by rule.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, bail};
use mamori_sigma::{Correlator, IssueKind, LoadOptions, RuleSet};
use serde_json::{Value, json};

/// Arguments of `mamori hunt`.
#[derive(clap::Args)]
pub struct HuntArgs {
    /// EVTX files or directories (walked recursively for *.evtx). Without it: hunt over the
    /// events in the data directory's store.
    #[arg(long, num_args = 1..)]
    evtx: Vec<PathBuf>,
    /// Sigma rule files or directories (walked recursively for *.yml/*.yaml); over the store, a
    /// `municipal.toml` (named, or at the top of a directory) overrides the ledgered policy.
    #[arg(long, required = true, num_args = 1..)]
    rules: Vec<PathBuf>,
    /// Only events at or after this time (RFC 3339, or YYYY-MM-DD as a JST day).
    #[arg(long)]
    from: Option<String>,
    /// Only events at or before this time (RFC 3339, or YYYY-MM-DD: the whole JST day).
    #[arg(long)]
    to: Option<String>,
    #[command(flatten)]
    d: crate::DataArg,
    /// Print JSON Lines (one detection per line).
    #[arg(long)]
    json: bool,
    /// Worker threads (default: the number of cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Also list load warnings (e.g. logsources without a channel mapping) on stderr.
    #[arg(long)]
    warnings: bool,
}

struct Hit {
    rule: usize,
    file: usize,
    record_id: Option<u64>,
    timestamp: String,
    event_id: Option<u64>,
    channel: String,
    computer: String,
}

/// Files named on the command line are read whatever their extension; directories give
/// their `*.evtx` files.
fn walk(p: &Path, out: &mut Vec<PathBuf>, top: bool) -> Result<()> {
    if p.is_dir() {
        let mut es: Vec<PathBuf> = std::fs::read_dir(p).with_context(|| format!("reading {}", p.display()))?.filter_map(|e| e.ok().map(|e| e.path())).collect();
        es.sort();
        for e in es {
            walk(&e, out, false)?;
        }
    } else if p.is_file() {
        if top || p.extension().is_some_and(|e| e.eq_ignore_ascii_case("evtx")) {
            out.push(p.to_owned());
        }
    } else {
        bail!("{}: ファイルがありません / no such file or directory", p.display());
    }
    Ok(())
}

fn level_ja(l: Option<&str>) -> &'static str {
    match l {
        Some("critical") => "重大 critical",
        Some("high") => "高 high",
        Some("medium") => "中 medium",
        Some("low") => "低 low",
        Some("informational") => "情報 info",
        _ => "- ",
    }
}

fn sys_text(sys: &Value, k: &str) -> Option<String> {
    let v = sys.get(k)?;
    let v = v.get("#text").unwrap_or(v);
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Runs `mamori hunt`.
pub fn run(a: HuntArgs) -> Result<()> {
    if a.evtx.is_empty() {
        return run_store(a);
    }
    let started = std::time::Instant::now();
    let from = a.from.as_deref().map(|s| crate::cmd_alerts::parse_time(s, false)).transpose()?;
    let to = a.to.as_deref().map(|s| crate::cmd_alerts::parse_time(s, true)).transpose()?;
    let (set, issues) = RuleSet::load_paths(&a.rules, &LoadOptions::default()).context("loading rules / ルールの読み込み")?;
    let count = |k| issues.iter().filter(|i| i.kind == k).count();
    let stderr = std::io::stderr();
    {
        let mut e = stderr.lock();
        for i in &issues {
            if i.kind != IssueKind::Warning || a.warnings {
                writeln!(e, "{i}")?;
            }
        }
        writeln!(
            e,
            "ルール {} 件と相関ルール {} 件を読み込み、未対応 {} 件、エラー {} 件、警告 {} 件 / loaded {} rules and {} correlations; {} unsupported, {} errors, {} warnings (fingerprint {})",
            set.rules().len(),
            set.correlations().len(),
            count(IssueKind::Unsupported),
            count(IssueKind::Error),
            count(IssueKind::Warning),
            set.rules().len(),
            set.correlations().len(),
            count(IssueKind::Unsupported),
            count(IssueKind::Error),
            count(IssueKind::Warning),
            &set.fingerprint()[..16],
        )?;
    }
    if set.rules().is_empty() {
        bail!("読み込めたルールがありません / no rule could be loaded from {:?}", a.rules);
    }
    let mut files = Vec::new();
    for p in &a.evtx {
        walk(p, &mut files, true)?;
    }
    // Rules that correlations consume: their matching events are kept for the correlator.
    let mut correlated = vec![false; set.rules().len()];
    for c in set.correlations() {
        c.rules.iter().for_each(|r| correlated[*r] = true);
    }
    let threads = a.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)).max(1);
    let next = AtomicUsize::new(0);
    let problems: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let (mut hits, mut kept, events) = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut hits = Vec::new();
                    let mut kept: Vec<(chrono::DateTime<chrono::Utc>, usize, Value, Vec<usize>)> = Vec::new();
                    let mut events = 0usize;
                    loop {
                        let fi = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = files.get(fi) else { break };
                        let mut parser = match evtx::EvtxParser::from_path(path) {
                            Ok(p) => p,
                            Err(e) => {
                                problems.lock().unwrap_or_else(|p| p.into_inner()).push(format!("{}: EVTX として読めません / not readable as EVTX: {e}", path.display()));
                                continue;
                            }
                        };
                        let mut bad = 0usize;
                        for rec in parser.records_json_value() {
                            let Ok(rec) = rec else {
                                bad += 1;
                                continue;
                            };
                            events += 1;
                            let ev = set.prepare(&rec.data);
                            let m = set.matches_prepared(&ev);
                            if m.is_empty() {
                                continue;
                            }
                            let sys = &rec.data["Event"]["System"];
                            let ts = mamori_sigma::event_time(&rec.data).or_else(|| chrono::DateTime::from_timestamp_micros(rec.timestamp.as_microsecond())).unwrap_or_default();
                            if from.is_some_and(|f| ts < f) || to.is_some_and(|t| ts > t) {
                                continue;
                            }
                            for &r in &m {
                                hits.push(Hit {
                                    rule: r,
                                    file: fi,
                                    record_id: sys_text(sys, "EventRecordID").and_then(|s| s.parse().ok()).or(Some(rec.event_record_id)),
                                    timestamp: ts.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                                    event_id: sys_text(sys, "EventID").and_then(|s| s.parse().ok()),
                                    channel: sys_text(sys, "Channel").unwrap_or_default(),
                                    computer: sys_text(sys, "Computer").unwrap_or_default(),
                                });
                            }
                            if m.iter().any(|r| correlated[*r]) {
                                let m: Vec<usize> = m.into_iter().filter(|r| correlated[*r]).collect();
                                drop(ev);
                                kept.push((ts, fi, rec.data, m));
                            }
                        }
                        if bad > 0 {
                            problems.lock().unwrap_or_else(|p| p.into_inner()).push(format!("{}: 記録 {bad} 件を読めませんでした / {bad} records could not be read", path.display()));
                        }
                    }
                    (hits, kept, events)
                })
            })
            .collect();
        let mut all = (Vec::new(), Vec::new(), 0usize);
        for w in workers {
            let (h, k, e) = w.join().expect("hunt worker");
            all.0.extend(h);
            all.1.extend(k);
            all.2 += e;
        }
        all
    });
    hits.sort_by(|x, y| (&x.timestamp, x.file, x.record_id, x.rule).cmp(&(&y.timestamp, y.file, y.record_id, y.rule)));
    // Correlations: the kept events in time order through one correlator.
    kept.sort_by_key(|k| (k.0, k.1));
    let mut corr = Correlator::new(&set);
    let mut chits = Vec::new();
    for (ts, _, data, m) in &kept {
        let ev = set.prepare(data);
        chits.extend(corr.feed(m, *ts, &ev));
    }
    chits.extend(corr.flush());

    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    if a.json {
        for h in &hits {
            let r = &set.rules()[h.rule];
            let line = json!({
                "type": "match",
                "rule_id": r.id,
                "title": r.title,
                "level": r.level,
                "tags": r.tags,
                "rule_file": r.file,
                "file": files[h.file].display().to_string(),
                "record_id": h.record_id,
                "timestamp": h.timestamp,
                "event_id": h.event_id,
                "channel": h.channel,
                "computer": h.computer,
            });
            writeln!(out, "{line}")?;
        }
        for c in &chits {
            let group: serde_json::Map<String, Value> = c.group.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
            let rule = &set.correlations()[c.correlation];
            let line = json!({
                "type": "correlation",
                "rule_id": c.id,
                "title": c.title,
                "level": c.level,
                "rule_file": rule.file,
                "correlation": rule.kind,
                "group": group,
                "first": c.first.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "timestamp": c.last.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "value": c.value,
                "events": c.events,
            });
            writeln!(out, "{line}")?;
        }
    } else {
        writeln!(out, "{:<27} {:<14} {:>7} {:<20} {:<60} ファイル#レコード / file#record", "時刻 / time (UTC)", "重要度 / level", "EventID", "コンピュータ / host", "ルール / rule")?;
        for h in &hits {
            let r = &set.rules()[h.rule];
            let file = files[h.file].file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            writeln!(
                out,
                "{:<27} {:<14} {:>7} {:<20} {:<60} {}#{}",
                h.timestamp,
                level_ja(r.level.as_deref()),
                h.event_id.map(|e| e.to_string()).unwrap_or_default(),
                h.computer,
                r.title,
                file,
                h.record_id.map(|r| r.to_string()).unwrap_or_default()
            )?;
        }
        for c in &chits {
            let group: Vec<String> = c.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
            writeln!(
                out,
                "{:<27} {:<14} {:>7} {:<20} {:<60} 相関 / correlation: {} 件 / events, 値 / value {} ({})",
                c.last.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                level_ja(c.level.as_deref()),
                "-",
                "-",
                c.title,
                c.events,
                c.value,
                group.join(", ")
            )?;
        }
        let mut rules_hit: Vec<usize> = hits.iter().map(|h| h.rule).collect();
        rules_hit.sort_unstable();
        rules_hit.dedup();
        writeln!(out, "検知 {} 件 (ルール {} 種)、相関 {} 件 / {} detections by {} rules, {} correlation hits", hits.len(), rules_hit.len(), chits.len(), hits.len(), rules_hit.len(), chits.len())?;
    }
    out.flush()?;
    let mut e = stderr.lock();
    for p in problems.into_inner().unwrap_or_else(|p| p.into_inner()) {
        writeln!(e, "{p}")?;
    }
    writeln!(
        e,
        "ファイル {} 件、イベント {events} 件、検知 {} 件、{:.2} 秒 / {} files, {events} events, {} detections, {:.2} s",
        files.len(),
        hits.len() + chits.len(),
        started.elapsed().as_secs_f64(),
        files.len(),
        hits.len() + chits.len(),
        started.elapsed().as_secs_f64()
    )?;
    kept.clear();
    Ok(())
}

/// `mamori hunt --rules DIR…` without `--evtx`: the retro-hunt over the store.
fn run_store(a: HuntArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let from = a.from.as_deref().map(|s| crate::cmd_alerts::parse_time(s, false)).transpose()?;
    let to = a.to.as_deref().map(|s| crate::cmd_alerts::parse_time(s, true)).transpose()?;
    let dir = mamori_server::DataDir::new(&a.d.data);
    if !dir.index_path().exists() {
        bail!("データディレクトリ {} に索引がありません(mamori init と取り込みが先です) / no index in data directory {} (run mamori init and ingest first, or give --evtx)", a.d.data.display(), a.d.data.display());
    }
    let h = mamori_server::detection::hunt_store_paths(&dir, &a.rules, from, to).context("遡及検知 / retro-hunt over the store")?;
    let stderr = std::io::stderr();
    {
        let mut e = stderr.lock();
        for i in &h.issues {
            if i.kind != IssueKind::Warning || a.warnings {
                writeln!(e, "{i}")?;
            }
        }
    }
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    if a.json {
        for al in &h.alerts {
            let mut v = serde_json::to_value(al)?;
            if let Some(o) = v.as_object_mut() {
                o.insert("type".into(), json!("alert"));
                if let Some(p) = &al.person {
                    o.insert("department".into(), json!({"code": p.dept_code, "name": p.dept_name}));
                }
            }
            writeln!(out, "{v}")?;
        }
    } else if h.alerts.is_empty() {
        writeln!(out, "アラートはありません / no alerts")?;
    } else {
        for al in &h.alerts {
            writeln!(out, "{}", crate::cmd_alerts::line(al))?;
        }
    }
    out.flush()?;
    writeln!(
        stderr.lock(),
        "イベント {} 件を調べ、アラート {} 件(Sigma ルール {} 件、相関 {} 件、読み込めなかったもの {} 件)、{:.2} 秒 / evaluated {} events, {} alerts ({} Sigma rules, {} correlations, {} load issues), {:.2} s",
        h.evaluated,
        h.alerts.len(),
        h.sigma_rules,
        h.sigma_correlations,
        h.issues.iter().filter(|i| i.kind != IssueKind::Warning).count(),
        started.elapsed().as_secs_f64(),
        h.evaluated,
        h.alerts.len(),
        h.sigma_rules,
        h.sigma_correlations,
        h.issues.iter().filter(|i| i.kind != IssueKind::Warning).count(),
        started.elapsed().as_secs_f64(),
    )?;
    Ok(())
}
