//! mamori's Sigma engine: loads SigmaHQ-format detection and correlation rules and evaluates
//! them against events, fast.
//!
//! - [`RuleSet`] loads rule files (one or many YAML documents each, a whole directory in one
//!   batch), compiles every rule to matchers (values pre-transformed and pre-lower-cased,
//!   wildcards turned into prefix/suffix/substring tests, `re` through the `regex` crate),
//!   indexes them by channel and event ID, and reports what it could not load per rule
//!   ([`LoadIssue`]) — nothing is skipped silently.
//! - [`RuleSet::matches`] evaluates one event: a raw Windows EVTX record as the `evtx` crate
//!   renders it to JSON, or an ECS document (mamori's `winlog.*` mapping or plain ECS fields).
//!   The field and logsource mapping is in `docs/sigma.md`.
//! - [`Correlator`] runs Sigma correlation rules (event_count, value_count, value_sum,
//!   value_avg, temporal, temporal_ordered) over a stream of rule matches.
//!
//! Not done here: reading EVTX files or the store, alerting, ledgering (callers do that; the
//! [`RuleSet::fingerprint`] lets them record which rules were in force). The only I/O is
//! reading rule files in [`RuleSet::load_dir`]/[`RuleSet::load_paths`].
#![deny(missing_docs)]

mod compile;
mod correlation;
mod event;
pub mod mapping;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use rsigma_parser::SigmaRule;
use serde::Serialize;
use sha2::{Digest, Sha256};

use compile::{Cond, Ctx, Det};
pub use correlation::{CorrelationHit, CorrelationKind, CorrelationRule, Correlator};
pub use event::Event;
use event::Interner;

/// Errors that stop a whole load (a rule that fails on its own is a [`LoadIssue`] instead).
#[derive(Debug, thiserror::Error)]
pub enum SigmaError {
    /// A rule directory or file could not be read.
    #[error("cannot read {path}: {source} / ルールを読めません")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// How bad a [`LoadIssue`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IssueKind {
    /// The file or document is not a valid Sigma rule; nothing from it was loaded.
    Error,
    /// The rule uses a feature this engine does not support; the rule was not loaded.
    Unsupported,
    /// The rule was loaded, but something about it is approximate (e.g. a logsource with no
    /// channel mapping, so the rule is evaluated on every event).
    Warning,
}

impl fmt::Display for IssueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IssueKind::Error => "error",
            IssueKind::Unsupported => "unsupported",
            IssueKind::Warning => "warning",
        })
    }
}

/// Something about one rule (or one file) found at load time.
#[derive(Debug, Clone, Serialize)]
pub struct LoadIssue {
    /// How bad it is.
    pub kind: IssueKind,
    /// The rule file (or the source name given to [`RuleSet::from_sources`]).
    pub file: String,
    /// The rule's `id`, when it got that far.
    pub rule_id: Option<String>,
    /// The rule's `title`, when it got that far.
    pub title: Option<String>,
    /// What is wrong or unsupported.
    pub message: String,
}

impl fmt::Display for LoadIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.file)?;
        if let Some(id) = &self.rule_id {
            write!(f, " [{id}]")?;
        }
        if let Some(t) = &self.title {
            write!(f, " {t:?}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A rule's `logsource`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LogSource {
    /// `category` (process_creation, file_event, …).
    pub category: Option<String>,
    /// `product` (windows, linux, …).
    pub product: Option<String>,
    /// `service` (security, sysmon, …).
    pub service: Option<String>,
}

/// A loaded detection rule (its metadata; the matchers are internal).
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    /// `id` (a UUID in SigmaHQ rules).
    pub id: Option<String>,
    /// `name` (what correlation rules refer to, besides the id).
    pub name: Option<String>,
    /// `title`.
    pub title: String,
    /// `level` (informational, low, medium, high, critical).
    pub level: Option<String>,
    /// `status`.
    pub status: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `author`.
    pub author: Option<String>,
    /// `tags` (attack.t1059.001, …).
    pub tags: Vec<String>,
    /// `references`.
    pub references: Vec<String>,
    /// `falsepositives`.
    pub falsepositives: Vec<String>,
    /// `logsource`.
    pub logsource: LogSource,
    /// The file it came from.
    pub file: String,
}

struct Compiled {
    dets: Vec<Det>,
    cond: Cond,
    /// Prefilter literal ids one of which must occur (empty: always evaluate).
    need: Vec<u32>,
}

/// Load options.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Values for `|expand` placeholders (`%Admins_Workstations%` → names). A rule using a
    /// placeholder that has no value here is reported unsupported.
    pub placeholders: HashMap<String, Vec<String>>,
}

#[derive(Default)]
struct ChanIndex {
    by_eid: HashMap<u32, Vec<u32>>,
    any_eid: Vec<u32>,
}

/// A compiled set of Sigma rules (detection and correlation).
pub struct RuleSet {
    rules: Vec<Rule>,
    compiled: Vec<Compiled>,
    correlations: Vec<CorrelationRule>,
    interner: Interner,
    global: ChanIndex,
    channels: HashMap<String, ChanIndex>,
    fingerprint: String,
    prefilter: Option<aho_corasick::AhoCorasick>,
    literals: usize,
}

impl fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleSet").field("rules", &self.rules.len()).field("correlations", &self.correlations.len()).field("fingerprint", &self.fingerprint).finish()
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SigmaError> {
    let rd = std::fs::read_dir(dir).map_err(|source| SigmaError::Io { path: dir.to_owned(), source })?;
    for e in rd {
        let e = e.map_err(|source| SigmaError::Io { path: dir.to_owned(), source })?;
        let p = e.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")) {
            out.push(p);
        }
    }
    Ok(())
}

struct Parsed {
    name: String,
    result: Result<rsigma_parser::SigmaCollection, String>,
}

fn parse_all(sources: &[(String, String)]) -> Vec<Parsed> {
    // YAML + condition parsing is most of the load time; spread it over the cores.
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(8);
    let chunk = sources.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = sources
            .chunks(chunk)
            .map(|c| {
                s.spawn(move || {
                    c.iter()
                        .map(|(name, yaml)| {
                            let result = std::panic::catch_unwind(|| rsigma_parser::parse_sigma_yaml(yaml))
                                .map_err(|_| "the YAML parser panicked on this file".to_string())
                                .and_then(|r| r.map_err(|e| e.to_string()));
                            Parsed { name: name.clone(), result }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    })
}

fn logsource_sels(ls: &rsigma_parser::LogSource) -> (Vec<mapping::ChannelSel>, Option<String>) {
    let product = ls.product.as_deref().unwrap_or("");
    if !product.eq_ignore_ascii_case("windows") {
        if product.is_empty() || product == "mamori" {
            return (Vec::new(), None);
        }
        return (Vec::new(), Some(format!("logsource product {product:?} has no channel mapping; the rule is evaluated on every event")));
    }
    let cat = ls.category.as_deref().map(|c| (c, mapping::windows_category(c)));
    let svc = ls.service.as_deref().map(|s| (s, mapping::windows_service(s)));
    match (cat, svc) {
        (Some((_, Some(c))), Some((_, Some(s)))) => {
            // Both: keep the category's selections on the service's channels.
            let chans: Vec<&str> = s.iter().map(|x| x.channel).collect();
            let both: Vec<_> = c.into_iter().filter(|x| chans.contains(&x.channel)).collect();
            (if both.is_empty() { s } else { both }, None)
        }
        (Some((_, Some(c))), None) => (c, None),
        (None, Some((_, Some(s)))) => (s, None),
        (Some((_, Some(c))), Some((_, None))) => (c, None),
        (Some((c, None)), Some((_, Some(s)))) => (s, Some(format!("logsource category {c:?} has no mapping; only the service's channel is checked"))),
        (Some((c, None)), _) => (Vec::new(), Some(format!("logsource category {c:?} has no channel mapping; the rule is evaluated on every event"))),
        (None, Some((s, None))) => (Vec::new(), Some(format!("logsource service {s:?} has no channel mapping; the rule is evaluated on every event"))),
        (None, None) => (Vec::new(), None),
    }
}

impl RuleSet {
    /// Loads every `.yml`/`.yaml` file under `dir` (recursively) in one batch.
    pub fn load_dir(dir: &Path) -> Result<(RuleSet, Vec<LoadIssue>), SigmaError> {
        Self::load_paths(&[dir.to_owned()], &LoadOptions::default())
    }

    /// Loads rule files and directories (recursively) in one batch.
    pub fn load_paths(paths: &[PathBuf], opts: &LoadOptions) -> Result<(RuleSet, Vec<LoadIssue>), SigmaError> {
        let mut files = Vec::new();
        for p in paths {
            if p.is_dir() {
                walk(p, &mut files)?;
            } else {
                files.push(p.clone());
            }
        }
        files.sort();
        let mut issues = Vec::new();
        let mut sources = Vec::with_capacity(files.len());
        for f in files {
            match std::fs::read(&f) {
                Ok(b) => match String::from_utf8(b) {
                    Ok(s) => sources.push((f.display().to_string(), s)),
                    Err(e) => issues.push(LoadIssue { kind: IssueKind::Error, file: f.display().to_string(), rule_id: None, title: None, message: format!("not UTF-8 (byte offset {})", e.utf8_error().valid_up_to()) }),
                },
                Err(source) => return Err(SigmaError::Io { path: f, source }),
            }
        }
        let (set, mut more) = Self::from_sources_with(&sources, opts);
        issues.append(&mut more);
        Ok((set, issues))
    }

    /// Compiles rules from `(name, yaml)` pairs (the name is what [`Rule::file`] and issues
    /// carry). Never fails: what cannot be loaded is in the issues.
    pub fn from_sources(sources: &[(String, String)]) -> (RuleSet, Vec<LoadIssue>) {
        Self::from_sources_with(sources, &LoadOptions::default())
    }

    /// [`RuleSet::from_sources`] with options.
    pub fn from_sources_with(sources: &[(String, String)], opts: &LoadOptions) -> (RuleSet, Vec<LoadIssue>) {
        let fingerprint = fingerprint(sources);
        let parsed = parse_all(sources);
        let mut issues = Vec::new();
        let mut set = RuleSet { rules: Vec::new(), compiled: Vec::new(), correlations: Vec::new(), interner: Interner::default(), global: ChanIndex::default(), channels: HashMap::new(), fingerprint, prefilter: None, literals: 0 };
        let eid_field = set.interner.intern("EventID");
        let mut corr_src = Vec::new();
        for p in parsed {
            let coll = match p.result {
                Ok(c) => c,
                Err(e) => {
                    issues.push(LoadIssue { kind: IssueKind::Error, file: p.name.clone(), rule_id: None, title: None, message: e });
                    continue;
                }
            };
            for e in &coll.errors {
                issues.push(LoadIssue { kind: IssueKind::Error, file: p.name.clone(), rule_id: None, title: None, message: e.clone() });
            }
            for f in &coll.filters {
                issues.push(LoadIssue { kind: IssueKind::Unsupported, file: p.name.clone(), rule_id: f.id.clone(), title: Some(f.title.clone()), message: "filter rules (meta-filters) are not supported".into() });
            }
            for r in coll.rules {
                set.add_rule(r, &p.name, opts, eid_field, &mut issues);
            }
            for c in coll.correlations {
                corr_src.push((c, p.name.clone()));
            }
        }
        for (c, file) in corr_src {
            match correlation::compile(&c, &file, &set.rules, &mut set.interner) {
                Ok(c) => set.correlations.push(c),
                Err(msg) => issues.push(LoadIssue { kind: IssueKind::Unsupported, file, rule_id: c.id.clone(), title: Some(c.title.clone()), message: msg }),
            }
        }
        set.build_prefilter();
        (set, issues)
    }

    /// One Aho-Corasick automaton over every rule's required literals (see
    /// `compile::cond_need`): an event is matched against a rule only when one of the rule's
    /// literals occurs in the event's (lower-cased) field values.
    fn build_prefilter(&mut self) {
        let mut ids: HashMap<Vec<u8>, u32> = HashMap::new();
        let mut pats: Vec<Vec<u8>> = Vec::new();
        for c in &mut self.compiled {
            if let Some(need) = compile::cond_need(&c.cond, &c.dets) {
                let mut v: Vec<u32> = need
                    .into_iter()
                    .map(|l| {
                        *ids.entry(l.clone()).or_insert_with(|| {
                            pats.push(l);
                            (pats.len() - 1) as u32
                        })
                    })
                    .collect();
                v.sort_unstable();
                v.dedup();
                c.need = v;
            }
        }
        self.literals = pats.len();
        if pats.is_empty() {
            return;
        }
        self.prefilter = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::Standard)
            // A DFA over ~16k literals takes longer to build than all the searches it saves.
            .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
            .build(&pats)
            .ok();
        if self.prefilter.is_none() {
            // Could not build (too large): evaluate every candidate rule instead.
            self.compiled.iter_mut().for_each(|c| c.need.clear());
        }
    }

    fn add_rule(&mut self, r: SigmaRule, file: &str, opts: &LoadOptions, eid_field: u32, issues: &mut Vec<LoadIssue>) {
        let issue = |kind, message: String| LoadIssue { kind, file: file.to_owned(), rule_id: r.id.clone(), title: Some(r.title.clone()), message };
        let mut names: Vec<String> = r.detection.named.keys().cloned().collect();
        names.sort();
        let compiled = (|| -> Result<Compiled, String> {
            let mut ctx = Ctx { interner: &mut self.interner, placeholders: &opts.placeholders };
            let dets = names.iter().map(|n| compile::compile_detection(&r.detection.named[n], &mut ctx).map_err(|e| format!("detection {n:?}: {e}"))).collect::<Result<Vec<_>, _>>()?;
            if r.detection.timeframe.is_some() {
                return Err("the deprecated `timeframe` aggregation (use a correlation rule)".into());
            }
            let conds = r.detection.conditions.iter().map(|c| compile::compile_condition(c, &names)).collect::<Result<Vec<_>, _>>()?;
            let cond = if conds.len() == 1 { conds.into_iter().next().unwrap_or(Cond::Or(vec![])) } else { Cond::Or(conds) };
            Ok(Compiled { dets, cond, need: Vec::new() })
        })();
        let compiled = match compiled {
            Ok(c) => c,
            Err(e) => {
                issues.push(issue(IssueKind::Unsupported, e));
                return;
            }
        };
        let (sels, warn) = logsource_sels(&r.logsource);
        if let Some(w) = warn {
            issues.push(issue(IssueKind::Warning, w));
        }
        let idx = self.rules.len() as u32;
        let det_eids = compile::required_event_ids(&compiled.cond, &compiled.dets, Some(eid_field));
        let place = |ix: &mut ChanIndex, eids: &[u32]| {
            let eids: Vec<u32> = if eids.is_empty() { det_eids.clone().unwrap_or_default() } else { eids.to_vec() };
            if eids.is_empty() {
                ix.any_eid.push(idx);
            } else {
                let mut e = eids;
                e.sort_unstable();
                e.dedup();
                for id in e {
                    ix.by_eid.entry(id).or_default().push(idx);
                }
            }
        };
        if sels.is_empty() {
            place(&mut self.global, &[]);
        } else {
            for s in &sels {
                place(self.channels.entry(s.channel.to_lowercase()).or_default(), s.event_ids);
            }
        }
        let ls = &r.logsource;
        self.rules.push(Rule {
            id: r.id.clone(),
            name: r.name.clone(),
            title: r.title.clone(),
            level: r.level.map(|l| l.as_str().to_owned()),
            status: r.status.map(|s| format!("{s:?}").to_lowercase()),
            description: r.description.clone(),
            author: r.author.clone(),
            tags: r.tags.clone(),
            references: r.references.clone(),
            falsepositives: r.falsepositives.clone(),
            logsource: LogSource { category: ls.category.clone(), product: ls.product.clone(), service: ls.service.clone() },
            file: file.to_owned(),
        });
        self.compiled.push(compiled);
    }

    /// The detection rules, in load order (indices are what [`RuleSet::matches`] returns).
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The correlation rules.
    pub fn correlations(&self) -> &[CorrelationRule] {
        &self.correlations
    }

    /// SHA-256 (hex) over the sorted `(name, source)` pairs the set was loaded from: changes
    /// whenever a rule file is added, removed, renamed or edited.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Prepares an event (raw EVTX JSON or ECS document) for matching.
    pub fn prepare<'a>(&'a self, event: &'a serde_json::Value) -> Event<'a> {
        Event::new(event, &self.interner)
    }

    /// Indices (into [`RuleSet::rules`]) of the rules that match the event, ascending.
    pub fn matches(&self, event: &serde_json::Value) -> Vec<usize> {
        self.matches_prepared(&self.prepare(event))
    }

    /// [`RuleSet::matches`] on a prepared event (keep it to feed a [`Correlator`]).
    pub fn matches_prepared(&self, ev: &Event<'_>) -> Vec<usize> {
        let mut cand: Vec<u32> = Vec::new();
        let add = |ix: &ChanIndex, cand: &mut Vec<u32>| {
            cand.extend_from_slice(&ix.any_eid);
            if let Some(e) = ev.event_id
                && let Some(v) = ix.by_eid.get(&e)
            {
                cand.extend_from_slice(v);
            }
        };
        add(&self.global, &mut cand);
        if let Some(ix) = self.channels.get(ev.channel.as_str()) {
            add(ix, &mut cand);
        }
        cand.sort_unstable();
        cand.dedup();
        let hits = self.literal_hits(ev, &cand);
        cand.into_iter()
            .filter(|&i| {
                let c = &self.compiled[i as usize];
                (c.need.is_empty() || c.need.iter().any(|l| hits.get(*l as usize).copied().unwrap_or(true))) && c.cond.eval(&c.dets, ev)
            })
            .map(|i| i as usize)
            .collect()
    }

    /// Which prefilter literals occur in the event (empty when no candidate needs them).
    fn literal_hits(&self, ev: &Event<'_>, cand: &[u32]) -> Vec<bool> {
        let Some(ac) = &self.prefilter else { return Vec::new() };
        if !cand.iter().any(|&i| !self.compiled[i as usize].need.is_empty()) {
            return Vec::new();
        }
        let mut hay = Vec::with_capacity(1024);
        for (_, v) in &ev.entries {
            hay.extend_from_slice(v.lower.as_bytes());
            hay.push(0);
        }
        let mut hits = vec![false; self.literals];
        for m in ac.find_overlapping_iter(&hay) {
            hits[m.pattern().as_usize()] = true;
        }
        hits
    }

    /// Looks a rule up by id or name.
    pub fn find(&self, id_or_name: &str) -> Option<usize> {
        self.rules.iter().position(|r| r.id.as_deref() == Some(id_or_name) || r.name.as_deref() == Some(id_or_name))
    }
}

/// The time of an event: `Event.System.TimeCreated.SystemTime` of a raw EVTX record, or
/// `@timestamp` of an ECS document.
pub fn event_time(event: &serde_json::Value) -> Option<chrono::DateTime<chrono::Utc>> {
    let t = event
        .pointer("/Event/System/TimeCreated/#attributes/SystemTime")
        .or_else(|| event.get("@timestamp"))
        .and_then(|v| v.as_str())?;
    chrono::DateTime::parse_from_rfc3339(t).ok().map(|t| t.with_timezone(&chrono::Utc))
}

fn fingerprint(sources: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = sources.iter().collect();
    sorted.sort();
    let mut h = Sha256::new();
    for (n, s) in sorted {
        h.update((n.len() as u64).to_be_bytes());
        h.update(n.as_bytes());
        h.update((s.len() as u64).to_be_bytes());
        h.update(s.as_bytes());
    }
    hex::encode(h.finalize())
}
