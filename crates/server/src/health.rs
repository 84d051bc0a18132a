//! Source health: which log sources are sending, how often, and which fell silent.
//!
//! Ikeda's leak went unseen because nobody noticed that logs had stopped; a source that falls
//! silent (logs deleted, the service stopped, the forwarder broken) is itself evidence. The
//! health follower reads the ledger in order, like the indexer, and keeps per source: first and
//! last seen (ingestion time), event count, arrivals (distinct commits), an EWMA of the gap
//! between arrivals and of the hourly rate. A source is *watched* once it has arrived
//! `watch_after_arrivals` times (or is configured under `[[sources.expect]]`); a watched source
//! silent for longer than its threshold gets a `source-silent` event in the ledger
//! (`event.dataset: mamori.source_health`, `event.kind: alert`), and `source-resumed` when it
//! sends again. A Windows log-cleared event (Security 1102, System 104) gets a
//! `source-log-cleared` alert naming the event.
//!
//! The state is rebuilt on start by replaying the ledger from the beginning (the health events
//! themselves record the silent/resumed state, so a restart does not announce anything twice).
//! Sources are named by [`source_key`].

use mamori_ledger::{EntryKind, Ledger, NewEntry, Record};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `event.dataset` of health events.
pub const DATASET: &str = "mamori.source_health";

/// `[sources]` in config.toml.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    /// Watch sources at all.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Default silence threshold, seconds (a learned cadence can only raise it).
    #[serde(default = "default_silent")]
    pub silent_after_seconds: u64,
    /// A source is watched after this many arrivals (distinct ledger commits).
    #[serde(default = "default_arrivals")]
    pub watch_after_arrivals: u64,
    /// Learned threshold = this × the EWMA gap between arrivals (if above the default).
    #[serde(default = "default_factor")]
    pub learned_factor: f64,
    /// How often silence is checked, milliseconds.
    #[serde(default = "default_check")]
    pub check_interval_ms: u64,
    /// Sources with their own threshold (watched from their first event).
    #[serde(default)]
    pub expect: Vec<Expect>,
}

/// A source with a configured threshold.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The source key as `GET /api/v1/sources` shows it (`syslog:fs01/smbd_audit`).
    pub source: String,
    /// Silence threshold, seconds.
    pub silent_after_seconds: u64,
}

fn yes() -> bool {
    true
}
fn default_silent() -> u64 {
    3600
}
fn default_arrivals() -> u64 {
    3
}
fn default_factor() -> f64 {
    6.0
}
fn default_check() -> u64 {
    5000
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            enabled: true,
            silent_after_seconds: default_silent(),
            watch_after_arrivals: default_arrivals(),
            learned_factor: default_factor(),
            check_interval_ms: default_check(),
            expect: Vec::new(),
        }
    }
}

/// The source an event came from, or None for mamori's own records (admin, health).
///
/// In order: `mapping:NAME` (business CSV and webhooks), `agent:TYPE/NAME` (Beats and other
/// `_bulk` shippers), `syslog:HOST/APPNAME`, `quarantine:PATH` (rejected input, by the path it
/// came in on), `host:HOST/DATASET`, `dataset:DATASET`.
pub fn source_key(doc: &Value) -> Option<String> {
    let s = |p: &str| doc.pointer(p).and_then(Value::as_str).filter(|s| !s.is_empty());
    let dataset = s("/event/dataset");
    if dataset.is_some_and(|d| d == DATASET || d == "mamori.admin") {
        return None;
    }
    if let Some(m) = s("/mamori/mapping/name") {
        return Some(format!("mapping:{m}"));
    }
    if let Some(name) = s("/agent/name").or(s("/agent/id")) {
        return Some(format!("agent:{}/{name}", s("/agent/type").unwrap_or("agent")));
    }
    if doc.pointer("/log/syslog").is_some() {
        return Some(format!("syslog:{}/{}", s("/host/hostname").or(s("/host/name")).unwrap_or("-"), s("/process/name").unwrap_or("-")));
    }
    if let Some(q) = s("/mamori/quarantine/source") {
        // `syslog-tcp:10.0.0.5:51234` → the path and the sender's address, without the port.
        let q = match q.rsplit_once(':') {
            Some((head, port)) if port.chars().all(|c| c.is_ascii_digit()) && head.contains(':') => head,
            _ => q,
        };
        return Some(format!("quarantine:{q}"));
    }
    match (s("/host/name"), dataset) {
        (Some(h), d) => Some(format!("host:{h}/{}", d.unwrap_or("-"))),
        (None, Some(d)) => Some(format!("dataset:{d}")),
        (None, None) => Some("unknown".into()),
    }
}

/// What is known about one source.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SourceState {
    /// The key.
    pub source: String,
    /// First ingestion, microseconds since 1970.
    pub first_seen_us: i64,
    /// Last ingestion, microseconds since 1970.
    pub last_seen_us: i64,
    /// Events (and quarantined records) counted.
    pub events: u64,
    /// Distinct commits the source's events arrived in.
    pub arrivals: u64,
    /// EWMA of the gap between arrivals, seconds.
    pub typical_gap_seconds: Option<f64>,
    /// Events per hour, exponentially decayed (time constant one hour), as of `last_seen_us`.
    rate_at_last: f64,
    /// The ledger says the source is silent (last health event is `source-silent`).
    pub silent: bool,
    /// When it was declared silent, microseconds.
    pub silent_since_us: Option<i64>,
    /// Ledger id of the last event seen.
    pub last_event_id: u64,
    /// Ledger id and time of the last log-cleared event (Windows 1102 / 104).
    pub last_log_cleared: Option<(u64, i64)>,
}

const HOUR_US: f64 = 3_600_000_000.0;

impl SourceState {
    fn rate_per_hour(&self, now_us: i64) -> f64 {
        let dt = (now_us - self.last_seen_us).max(0) as f64;
        self.rate_at_last * (-dt / HOUR_US).exp()
    }
}

/// Announcements waiting to be ledgered: (kind, source, trigger id).
type Pending = BTreeSet<(String, String, u64)>;

#[derive(Default)]
struct Inner {
    sources: BTreeMap<String, SourceState>,
    /// Next ledger index to read.
    position: u64,
    /// Ledger size when the follower started: records below it are a replay.
    replay_until: u64,
    pending: Pending,
    /// Log-cleared triggers already announced (seen in the ledger or appended).
    cleared_done: BTreeSet<u64>,
}

/// The health state shared by the follower and the HTTP handlers.
pub struct Health {
    cfg: HealthConfig,
    inner: Mutex<Inner>,
}

/// The log-cleared events that matter: (provider, event id).
fn is_log_cleared(doc: &Value) -> bool {
    let code = doc.pointer("/event/code").and_then(Value::as_str).or_else(|| doc.pointer("/winlog/event_id").and_then(Value::as_str));
    let provider = doc.pointer("/winlog/provider_name").or(doc.pointer("/event/provider")).and_then(Value::as_str).unwrap_or("");
    match code {
        Some("1102") => provider.is_empty() || provider.contains("Eventlog") || provider.contains("Security-Auditing"),
        Some("104") => provider.is_empty() || provider.contains("Eventlog"),
        _ => false,
    }
}

impl Health {
    /// Empty state.
    pub fn new(cfg: HealthConfig) -> Health {
        Health { cfg, inner: Mutex::new(Inner::default()) }
    }

    /// The configuration.
    pub fn config(&self) -> &HealthConfig {
        &self.cfg
    }

    fn threshold_us(&self, s: &SourceState) -> Option<i64> {
        if let Some(e) = self.cfg.expect.iter().find(|e| e.source == s.source) {
            return Some(e.silent_after_seconds as i64 * 1_000_000);
        }
        if s.arrivals < self.cfg.watch_after_arrivals {
            return None;
        }
        let base = self.cfg.silent_after_seconds as f64;
        let learned = s.typical_gap_seconds.map_or(0.0, |g| g * self.cfg.learned_factor);
        Some((base.max(learned) * 1e6) as i64)
    }

    /// Feeds one ledger record (in ledger order).
    pub fn observe(&self, r: &Record, doc: &Value) {
        let mut g = self.inner.lock().unwrap();
        g.position = r.index + 1;
        let replay = r.index < g.replay_until;
        if !matches!(r.kind, EntryKind::Event | EntryKind::Quarantine) {
            return;
        }
        let t = r.ingested_micros;
        if doc.pointer("/event/dataset").and_then(Value::as_str) == Some(DATASET) {
            let h = doc.pointer("/mamori/source_health");
            let src = h.and_then(|h| h.get("source")).and_then(Value::as_str).unwrap_or("").to_owned();
            let action = doc.pointer("/event/action").and_then(Value::as_str).unwrap_or("");
            match action {
                "source-silent" => {
                    let upto = h.and_then(|h| h.get("last_event_id")).and_then(Value::as_u64).unwrap_or(0);
                    if let Some(s) = g.sources.get_mut(&src)
                        && s.last_event_id <= upto
                    {
                        s.silent = true;
                        s.silent_since_us.get_or_insert(t);
                    }
                }
                "source-resumed" => {
                    let trig = h.and_then(|h| h.get("trigger_id")).and_then(Value::as_u64).unwrap_or(0);
                    g.pending.retain(|(k, s, id)| !(k == "resumed" && *s == src && *id <= trig));
                }
                "source-log-cleared" => {
                    let trig = h.and_then(|h| h.get("trigger_id")).and_then(Value::as_u64).unwrap_or(0);
                    g.cleared_done.insert(trig);
                    g.pending.remove(&("cleared".to_owned(), src, trig));
                }
                _ => {}
            }
            return;
        }
        let Some(key) = source_key(doc) else { return };
        let s = g.sources.entry(key.clone()).or_insert_with(|| SourceState { source: key.clone(), first_seen_us: t, ..Default::default() });
        if s.events == 0 || t != s.last_seen_us {
            if s.events > 0 {
                let gap = (t - s.last_seen_us).max(0) as f64 / 1e6;
                s.typical_gap_seconds = Some(match s.typical_gap_seconds {
                    None => gap,
                    Some(g) => 0.8 * g + 0.2 * gap,
                });
                let dt = (t - s.last_seen_us).max(0) as f64;
                s.rate_at_last *= (-dt / HOUR_US).exp();
            }
            s.arrivals += 1;
        }
        s.rate_at_last += 1.0;
        s.events += 1;
        s.last_seen_us = t;
        s.last_event_id = r.index;
        let was_silent = std::mem::take(&mut s.silent);
        if was_silent {
            s.silent_since_us = None;
        }
        let cleared = is_log_cleared(doc);
        if cleared {
            s.last_log_cleared = Some((r.index, t));
        }
        if was_silent {
            g.pending.insert(("resumed".into(), key.clone(), r.index));
        }
        if cleared && !g.cleared_done.contains(&r.index) {
            g.pending.insert(("cleared".into(), key, r.index));
        }
        let _ = replay;
    }

    /// Health events due now: resumptions and log clearings seen (once the replay is over), and
    /// watched sources silent past their threshold (marked silent here, so each is announced once).
    pub fn due(&self, now_us: i64) -> Vec<Value> {
        let mut g = self.inner.lock().unwrap();
        let mut out = Vec::new();
        if g.position < g.replay_until {
            return out; // still replaying: the ledger may already hold these announcements
        }
        let g = &mut *g;
        for (kind, src, trig) in std::mem::take(&mut g.pending) {
            let Some(s) = g.sources.get(&src) else { continue };
            match kind.as_str() {
                "resumed" => out.push(health_doc("source-resumed", "event", s, Some(trig), now_us, None)),
                _ => {
                    g.cleared_done.insert(trig);
                    out.push(health_doc("source-log-cleared", "alert", s, Some(trig), now_us, None));
                }
            }
        }
        let mut silent = Vec::new();
        for s in g.sources.values() {
            if s.silent {
                continue;
            }
            if let Some(th) = self.threshold_us(s)
                && now_us - s.last_seen_us > th
            {
                silent.push((s.source.clone(), th));
            }
        }
        for (src, th) in silent {
            let s = g.sources.get_mut(&src).expect("present");
            s.silent = true;
            s.silent_since_us = Some(now_us);
            out.push(health_doc("source-silent", "alert", s, None, now_us, Some(th)));
        }
        out
    }

    /// `GET /api/v1/sources`.
    pub fn snapshot(&self, now_us: i64) -> Value {
        let g = self.inner.lock().unwrap();
        let ts = |us: i64| chrono::DateTime::from_timestamp_micros(us).map(mamori_event::format_ts);
        let sources: Vec<Value> = g
            .sources
            .values()
            .map(|s| {
                let th = self.threshold_us(s);
                let status = if s.silent {
                    "silent"
                } else if th.is_none() {
                    "learning"
                } else {
                    "ok"
                };
                json!({
                    "source": s.source,
                    "status": status,
                    "first_seen": ts(s.first_seen_us),
                    "last_seen": ts(s.last_seen_us),
                    "seconds_since_last": ((now_us - s.last_seen_us).max(0) as f64 / 1e6),
                    "events": s.events,
                    "arrivals": s.arrivals,
                    "rate_per_hour": s.rate_per_hour(now_us),
                    "typical_gap_seconds": s.typical_gap_seconds,
                    "silent_after_seconds": th.map(|t| t as f64 / 1e6),
                    "silent_since": s.silent_since_us.and_then(ts),
                    "last_event_id": s.last_event_id,
                    "last_log_cleared": s.last_log_cleared.map(|(id, t)| json!({"id": id, "at": ts(t)})),
                })
            })
            .collect();
        json!({"sources": sources, "position": g.position, "replaying": g.position < g.replay_until})
    }

    /// Prometheus lines for `/metrics`.
    pub fn metrics(&self, now_us: i64) -> String {
        let g = self.inner.lock().unwrap();
        let mut out = String::new();
        let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
        let mut gauge = |name: &str, help: &str, kind: &str, rows: Vec<(String, String)>| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (src, v) in rows {
                out.push_str(&format!("{name}{{source=\"{}\"}} {v}\n", esc(&src)));
            }
        };
        let all: Vec<&SourceState> = g.sources.values().collect();
        gauge("mamori_source_last_seen_seconds", "Ingestion time of the source's last event, seconds since 1970.", "gauge", all.iter().map(|s| (s.source.clone(), format!("{:.3}", s.last_seen_us as f64 / 1e6))).collect());
        gauge("mamori_source_events_total", "Events received from the source.", "counter", all.iter().map(|s| (s.source.clone(), s.events.to_string())).collect());
        gauge("mamori_source_rate_per_hour", "Events per hour from the source (EWMA, one-hour time constant).", "gauge", all.iter().map(|s| (s.source.clone(), format!("{:.3}", s.rate_per_hour(now_us)))).collect());
        gauge("mamori_source_silent", "1 if the source is silent past its threshold.", "gauge", all.iter().map(|s| (s.source.clone(), u8::from(s.silent).to_string())).collect());
        let n = all.iter().filter(|s| s.silent).count();
        out.push_str(&format!("# HELP mamori_sources_silent Sources silent past their threshold.\n# TYPE mamori_sources_silent gauge\nmamori_sources_silent {n}\n"));
        out
    }
}

fn health_doc(action: &str, kind: &str, s: &SourceState, trigger: Option<u64>, now_us: i64, threshold_us: Option<i64>) -> Value {
    let ts = |us: i64| chrono::DateTime::from_timestamp_micros(us).map(mamori_event::format_ts);
    let since = (now_us - s.last_seen_us).max(0) as f64 / 1e6;
    let message = match action {
        "source-silent" => format!("ログの受信が途絶えています: {} ({:.0} 秒) / source silent: {} for {since:.0} s", s.source, since, s.source),
        "source-resumed" => format!("ログの受信が再開しました: {} / source resumed: {}", s.source, s.source),
        _ => format!("イベントログが消去されました: {} / event log cleared on {}", s.source, s.source),
    };
    json!({
        "@timestamp": ts(now_us),
        "event": {"kind": kind, "category": ["host"], "type": ["info"], "action": action, "module": "mamori", "dataset": DATASET},
        "message": message,
        "mamori": {"source_health": {
            "source": s.source,
            "last_seen": ts(s.last_seen_us),
            "last_event_id": s.last_event_id,
            "silent_seconds": since,
            "silent_after_seconds": threshold_us.map(|t| t as f64 / 1e6),
            "events": s.events,
            "trigger_id": trigger,
        }},
    })
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Stops the follower when dropped.
pub struct Guard {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts the follower: replays the ledger into `health`, then follows it, appending health
/// events as they become due.
pub fn spawn(health: Arc<Health>, ledger: Ledger) -> Guard {
    let stop = Arc::new(AtomicBool::new(false));
    if !health.cfg.enabled {
        return Guard { stop, thread: None };
    }
    let s2 = stop.clone();
    let thread = std::thread::Builder::new()
        .name("source-health".into())
        .spawn(move || {
            let start = health.inner.lock().unwrap().position;
            health.inner.lock().unwrap().replay_until = ledger.durable_size();
            let mut cursor = ledger.records_from(start);
            let tick = Duration::from_millis(health.cfg.check_interval_ms.max(50));
            let mut last_check = std::time::Instant::now() - tick;
            while !s2.load(Ordering::SeqCst) {
                let records = cursor.read(ledger.durable_size(), 4096).unwrap_or_else(|e| {
                    tracing::error!(error = %e, "source health cannot read the ledger");
                    Vec::new()
                });
                for r in &records {
                    let doc = crate::indexer::doc_of(r);
                    health.observe(r, &doc);
                }
                if last_check.elapsed() >= tick || !records.is_empty() {
                    last_check = std::time::Instant::now();
                    let due = health.due(now_us());
                    if !due.is_empty() {
                        let entries = due.iter().map(|d| NewEntry { kind: EntryKind::Event, payload: serde_json::to_vec(d).expect("json") }).collect();
                        if let Err(e) = ledger.append_blocking(entries) {
                            tracing::error!(error = %e, "cannot ledger source-health events");
                        }
                    }
                }
                if records.is_empty() {
                    ledger.wait_durable_beyond(cursor.position(), tick.min(Duration::from_millis(200)));
                }
            }
        })
        .expect("spawn source-health");
    Guard { stop, thread: Some(thread) }
}

/// `GET /api/v1/sources`: every source with last seen, counts, rate, threshold and status.
pub async fn get_sources(
    axum::extract::State(st): axum::extract::State<crate::http::AppState>,
    headers: axum::http::HeaderMap,
) -> Result<axum::response::Response, crate::http::ApiError> {
    use axum::response::IntoResponse;
    crate::http::authorize_any(&st, &headers, &[mamori_auth::Action::ReadEvents, mamori_auth::Action::ReadMetrics])?;
    Ok(axum::Json(st.health.snapshot(now_us())).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(index: u64, us: i64) -> Record {
        Record { index, kind: EntryKind::Event, ingested_micros: us, salt: [0; 16], payload: Vec::new(), erased: false, commitment: [0; 32] }
    }

    fn cfg() -> HealthConfig {
        HealthConfig { silent_after_seconds: 10, watch_after_arrivals: 3, ..Default::default() }
    }

    #[test]
    fn keys_name_the_source() {
        assert_eq!(source_key(&json!({"log": {"syslog": {}}, "host": {"hostname": "fs01"}, "process": {"name": "smbd_audit"}})).unwrap(), "syslog:fs01/smbd_audit");
        assert_eq!(source_key(&json!({"agent": {"type": "winlogbeat", "name": "PC-12"}})).unwrap(), "agent:winlogbeat/PC-12");
        assert_eq!(source_key(&json!({"mamori": {"mapping": {"name": "juki-a"}}})).unwrap(), "mapping:juki-a");
        assert_eq!(source_key(&json!({"mamori": {"quarantine": {"source": "syslog-tcp:10.0.0.5:5123"}}})).unwrap(), "quarantine:syslog-tcp:10.0.0.5");
        assert!(source_key(&json!({"event": {"dataset": DATASET}})).is_none());
    }

    #[test]
    fn silent_then_resumed_once_each() {
        let h = Health::new(cfg());
        let doc = json!({"agent": {"type": "x", "name": "a"}});
        for i in 0..3 {
            h.observe(&rec(i, i as i64 * 1_000_000), &doc);
        }
        assert!(h.due(5_000_000).is_empty(), "not silent yet");
        let due = h.due(20_000_000);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0]["event"]["action"], "source-silent");
        assert!(h.due(30_000_000).is_empty(), "announced once");
        h.observe(&rec(3, 31_000_000), &doc);
        let due = h.due(31_000_001);
        assert_eq!(due[0]["event"]["action"], "source-resumed");
    }

    #[test]
    fn replay_does_not_announce_twice() {
        let h = Health::new(cfg());
        h.inner.lock().unwrap().replay_until = 6;
        let doc = json!({"agent": {"type": "x", "name": "a"}});
        for i in 0..3 {
            h.observe(&rec(i, i as i64 * 1_000_000), &doc);
        }
        let silent = json!({"event": {"dataset": DATASET, "action": "source-silent"}, "mamori": {"source_health": {"source": "agent:x/a", "last_event_id": 2}}});
        h.observe(&rec(3, 20_000_000), &silent);
        h.observe(&rec(4, 31_000_000), &doc);
        let resumed = json!({"event": {"dataset": DATASET, "action": "source-resumed"}, "mamori": {"source_health": {"source": "agent:x/a", "trigger_id": 4}}});
        h.observe(&rec(5, 31_000_001), &resumed);
        assert!(h.due(32_000_000).is_empty(), "{:?}", h.due(32_000_000));
    }

    #[test]
    fn log_cleared_is_announced() {
        let h = Health::new(cfg());
        let doc = json!({"agent": {"type": "winlogbeat", "name": "pc"}, "event": {"code": "1102"}, "winlog": {"provider_name": "Microsoft-Windows-Eventlog"}});
        h.observe(&rec(0, 1), &doc);
        let due = h.due(2);
        assert_eq!(due[0]["event"]["action"], "source-log-cleared");
        assert_eq!(due[0]["mamori"]["source_health"]["trigger_id"], 0);
    }
}

