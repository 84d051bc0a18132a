//! mamori's index on ClickHouse, for a prefecture that serves many cities from one cluster.
//!
//! What it does: [`ClickHouseStore`] implements [`mamori_store::IndexBackend`] — the same query
//! API and the same results as the embedded SQLite [`mamori_store::Store`] (one test suite runs
//! against both, `tests/same_results.rs`) — on one events table shared by all tenants, with a
//! `tenant` column. A store is opened for exactly one tenant ([`mamori_tenant::TenantId`]) and
//! every statement it sends carries `tenant = '<id>'`, so a city's queries never see another
//! city's rows; the prefecture's cross-tenant aggregates ([`tenant_aggregates`]) return counts and
//! index progress only, never documents.
//!
//! It talks to ClickHouse over the HTTP interface (`FORMAT JSONEachRow` in both directions), which
//! works with Debian 12's clickhouse-server 18.16 (the `clickhouse` crate's RowBinary protocol
//! needs newer servers). The table may be a plain `MergeTree` ([`schema::events_table`]) or a
//! `Distributed` table over shards ([`schema::distributed_table`]); inserts into a Distributed
//! table are sent with `insert_distributed_sync=1`, so an insert succeeds only once every shard
//! it touches has its rows.
//!
//! Durability and replays: ClickHouse has no multi-statement transactions. After each batch is
//! inserted, the store appends the batch's last id to a small progress table
//! ([`schema::progress_table`]); [`ClickHouseStore::indexed_upto`] is the maximum recorded there.
//! If an insert fails halfway (a shard died), some rows beyond the recorded position may exist;
//! until the store has passed the highest such id it asks which ids of each batch are already
//! present and inserts only the others, so retries and restarts never duplicate or lose rows.
//!
//! Full text: each row stores `body` = `extract::fold(extract::full_text(doc))`, and a term
//! matches when `position(body, term) > 0` — exactly the substring semantics of the SQLite index
//! (which verifies its trigram candidates against the same body).
//!
//! What it does not do: it is not a source of truth (the ledger is; the table can be dropped and
//! rebuilt by re-feeding each city's ledger); it does not create the cluster or its config files
//! (docs/scale.md), does not redact erased events in place (a rebuild from the ledger does), and
//! keeps no `mark_reingested` side state (re-ingest state comes from ledgered admin events only).
#![deny(missing_docs)]

use std::time::Duration;

use mamori_store::backend::{
    SearchPlan, TimelinePlan, quarantine_before, quarantine_cursor, search_cursor, timeline_cursor,
};
use mamori_store::extract;
use mamori_store::{
    EventKind, Hit, IndexBackend, IndexEvent, Page, QuarantineItem, QuarantinePage, Query,
    Reingest, Result, Stats, StoreError,
};
use mamori_tenant::TenantId;
use serde::Deserialize;
use serde_json::Value;

pub mod local;
pub mod schema;

/// Where the store's tables are.
#[derive(Debug, Clone)]
pub struct Config {
    /// Base URL of a ClickHouse HTTP endpoint, e.g. `http://127.0.0.1:8123`.
    pub url: String,
    /// Database of the tables.
    pub database: String,
    /// The events table to insert into and query (MergeTree or Distributed).
    pub table: String,
    /// Whether `table` is a Distributed table (inserts then wait for the shards).
    pub distributed: bool,
    /// The progress table (see [`schema::progress_table`]).
    pub progress_table: String,
    /// HTTP timeout per request.
    pub timeout: Duration,
    /// Ordered pages are read in growing time windows (see [`Windows`]).
    pub windows: Windows,
}

/// Growing time windows for ordered pages (newest-first search, oldest-first timelines from a
/// bound). ClickHouse 18.16 has no read-in-order optimisation: `ORDER BY ts DESC LIMIT n` over a
/// tenant reads and sorts every matching row of the tenant (tens of seconds at 100M rows). The
/// store first finds the newest `first_micros`-wide slice holding any row of the tenant (cheap
/// `LIMIT 1` probes on the primary key `(tenant, ts, id)`: exponential, then binary search), then
/// reads the page in windows starting there, each `growth` times wider than the last, until the
/// page is full or the range is exhausted. Windows are disjoint half-open `ts` ranges visited in
/// page order, so the result is exactly the single query's (the same-results suite runs with
/// tiny windows too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// Width of the first window, microseconds; 0 turns windows off (one query per page).
    pub first_micros: i64,
    /// Each window is this many times wider than the previous one (at least 2).
    pub growth: i64,
}

impl Default for Windows {
    /// One hour, ×8.
    fn default() -> Self {
        Windows {
            first_micros: 3_600_000_000,
            growth: 8,
        }
    }
}

impl Config {
    /// A single-node layout: `mamori_events` and `mamori_progress` in `default`.
    pub fn single(url: &str) -> Config {
        Config {
            url: url.trim_end_matches('/').to_owned(),
            database: "default".into(),
            table: "mamori_events".into(),
            distributed: false,
            progress_table: "mamori_progress".into(),
            timeout: Duration::from_secs(60),
            windows: Windows::default(),
        }
    }
}

/// A thin ClickHouse HTTP client (one endpoint).
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::blocking::Client,
    url: String,
    database: String,
}

fn backend_err(context: impl Into<String>, reason: impl Into<String>) -> StoreError {
    StoreError::Backend {
        backend: "clickhouse",
        context: context.into(),
        reason: reason.into(),
    }
}

impl Client {
    /// A client for `url` (`http://host:port`) and `database`.
    pub fn new(url: &str, database: &str, timeout: Duration) -> Result<Client> {
        let http = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| backend_err("building the HTTP client", e.to_string()))?;
        Ok(Client {
            http,
            url: url.trim_end_matches('/').to_owned(),
            database: database.to_owned(),
        })
    }

    /// Runs a statement with `body` as its data (INSERT … FORMAT JSONEachRow) or, when `query`
    /// is `None`, `body` as the statement itself. Returns the response text.
    pub fn post(
        &self,
        context: &str,
        query: Option<&str>,
        body: Vec<u8>,
        settings: &[(&str, &str)],
    ) -> Result<String> {
        let mut params: Vec<(&str, &str)> = vec![
            ("database", &self.database),
            ("output_format_json_quote_64bit_integers", "0"),
        ];
        if let Some(q) = query {
            params.push(("query", q));
        }
        params.extend_from_slice(settings);
        let resp = self
            .http
            .post(format!("{}/", self.url))
            .query(&params)
            .body(body)
            .send()
            .map_err(|e| backend_err(context, format!("{} unreachable: {e}", self.url)))?;
        let status = resp.status();
        let text = resp
            .text()
            .map_err(|e| backend_err(context, format!("reading the response: {e}")))?;
        if !status.is_success() {
            return Err(backend_err(
                context,
                format!("HTTP {status}: {}", text.trim()),
            ));
        }
        Ok(text)
    }

    /// Runs `sql` (a statement without data).
    pub fn exec(&self, context: &str, sql: &str) -> Result<String> {
        self.post(context, None, sql.as_bytes().to_vec(), &[])
    }

    /// Runs a SELECT and decodes its `FORMAT JSONEachRow` rows.
    pub fn select<T: for<'de> Deserialize<'de>>(&self, context: &str, sql: &str) -> Result<Vec<T>> {
        let text = self.exec(context, &format!("{sql} FORMAT JSONEachRow"))?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .map_err(|e| backend_err(context, format!("unexpected row {l:?}: {e}")))
            })
            .collect()
    }
}

/// A ClickHouse string literal for `s` (quoted, with `\` and `'` and control characters
/// escaped), so no caller text can change a statement.
pub fn lit(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The index of one tenant on a shared ClickHouse table. See the crate docs.
#[derive(Debug)]
pub struct ClickHouseStore {
    cfg: Config,
    client: Client,
    tenant: TenantId,
    /// The highest id recorded in the progress table, as this writer knows it.
    upto: Option<u64>,
    /// Rows up to this id may already be in the table beyond `upto` (a failed or interrupted
    /// insert); batches up to it insert only the ids not yet present.
    suspect_until: Option<u64>,
}

#[derive(Deserialize)]
struct HitRow {
    id: u64,
    ts: i64,
    ingested: i64,
    kind: String,
    doc: String,
}

impl HitRow {
    fn into_hit(self) -> Result<Hit> {
        let doc: Value = serde_json::from_str(&self.doc).map_err(|e| StoreError::Corrupt {
            id: self.id,
            reason: format!("stored document is not JSON: {e}"),
        })?;
        Ok(Hit {
            id: self.id,
            timestamp_micros: self.ts,
            ingested_micros: self.ingested,
            kind: EventKind::from_name(&self.kind),
            doc,
        })
    }
}

#[derive(Deserialize)]
struct KeyRow {
    id: u64,
    ts: i64,
}

const HIT_COLUMNS: &str = "id, ts, ingested, kind, doc";

impl ClickHouseStore {
    /// Opens the index of `tenant` on the tables of `cfg` (they must exist: [`schema`]).
    /// Reads the tenant's progress and the highest id present, so a restarted indexer resumes
    /// after the last recorded batch without duplicating a half-inserted one.
    pub fn open(cfg: Config, tenant: TenantId) -> Result<ClickHouseStore> {
        let client = Client::new(&cfg.url, &cfg.database, cfg.timeout)?;
        let mut store = ClickHouseStore {
            cfg,
            client,
            tenant,
            upto: None,
            suspect_until: None,
        };
        store.refresh()?;
        Ok(store)
    }

    /// The tenant this store serves.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// The HTTP client (for schema statements and tests).
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn t(&self) -> String {
        lit(self.tenant.as_str())
    }

    /// Re-reads the progress and the highest id present beyond it.
    fn refresh(&mut self) -> Result<()> {
        self.upto = self.read_upto()?;
        #[derive(Deserialize)]
        struct Max {
            n: u64,
            m: u64,
        }
        let after = self.upto.map_or(-1i128, |u| u as i128);
        let rows: Vec<Max> = self.client.select(
            "reading the highest indexed id",
            &format!(
                "SELECT count() AS n, max(id) AS m FROM {} WHERE tenant = {} AND id > {after}",
                self.cfg.table,
                self.t()
            ),
        )?;
        self.suspect_until = rows.first().filter(|r| r.n > 0).map(|r| r.m);
        Ok(())
    }

    fn read_upto(&self) -> Result<Option<u64>> {
        #[derive(Deserialize)]
        struct Up {
            n: u64,
            m: u64,
        }
        let rows: Vec<Up> = self.client.select(
            "reading indexed_upto",
            &format!(
                "SELECT count() AS n, max(upto) AS m FROM {} WHERE tenant = {}",
                self.cfg.progress_table,
                self.t()
            ),
        )?;
        Ok(rows.first().filter(|r| r.n > 0).map(|r| r.m))
    }

    fn insert_settings(&self) -> Vec<(&'static str, &'static str)> {
        if self.cfg.distributed {
            vec![("insert_distributed_sync", "1")]
        } else {
            Vec::new()
        }
    }

    fn present_ids(&self, lo: u64, hi: u64) -> Result<std::collections::HashSet<u64>> {
        #[derive(Deserialize)]
        struct Id {
            id: u64,
        }
        let rows: Vec<Id> = self.client.select(
            "checking which ids of a retried batch are present",
            &format!(
                "SELECT id FROM {} WHERE tenant = {} AND id >= {lo} AND id <= {hi}",
                self.cfg.table,
                self.t()
            ),
        )?;
        Ok(rows.into_iter().map(|r| r.id).collect())
    }

    fn row_json(&self, ev: &IndexEvent<'_>, buf: &mut String, out: &mut Vec<u8>) {
        let doc = ev.doc;
        let ts = extract::timestamp_micros(doc).unwrap_or(ev.ingested_micros);
        let text: std::borrow::Cow<'_, str> = match ev.raw.and_then(|r| std::str::from_utf8(r).ok())
        {
            Some(s) => s.into(),
            None => serde_json::to_string(doc)
                .expect("serializing a serde_json::Value cannot fail")
                .into(),
        };
        buf.clear();
        extract::full_text(doc, buf);
        let body = extract::fold(buf);
        let (q_reason, q_source) = if ev.kind == EventKind::Quarantine {
            (
                extract::str_field(doc, &["mamori", "quarantine", "reason"]),
                extract::str_field(doc, &["mamori", "quarantine", "source"]),
            )
        } else {
            (None, None)
        };
        let (reingest_of, new_ids) = match (&ev.kind, extract::field(doc, &["mamori", "reingest"]))
        {
            (EventKind::Admin, Some(re)) => {
                let qid = re
                    .get("quarantine_id")
                    .and_then(Value::as_u64)
                    .and_then(|q| i64::try_from(q).ok())
                    .unwrap_or(-1);
                let ids: Vec<u64> = re
                    .get("new_ids")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_u64).collect())
                    .unwrap_or_default();
                (qid, serde_json::to_string(&ids).expect("ids serialize"))
            }
            _ => (-1, String::new()),
        };
        let row = serde_json::json!({
            "tenant": self.tenant.as_str(),
            "id": ev.id,
            "ts": ts,
            "ingested": ev.ingested_micros,
            "kind": ev.kind.as_str(),
            "user_name": extract::str_field(doc, &["user", "name"]),
            "host_name": extract::str_field(doc, &["host", "name"]),
            "action": extract::str_field(doc, &["event", "action"]),
            "file_path": extract::str_field(doc, &["file", "path"]),
            "q_reason": q_reason,
            "q_source": q_source,
            "reingest_of": reingest_of,
            "reingest_new_ids": new_ids,
            "body": body,
            "doc": text,
        });
        serde_json::to_writer(&mut *out, &row).expect("serializing a row cannot fail");
        out.push(b'\n');
    }

    fn insert_batch(&mut self, events: &[&IndexEvent<'_>]) -> Result<()> {
        let first = events[0].id;
        let last = events[events.len() - 1].id;
        let present = match self.suspect_until {
            Some(s) if first <= s => self.present_ids(first, last)?,
            _ => Default::default(),
        };
        let mut body = Vec::with_capacity(events.len() * 1024);
        let mut buf = String::new();
        let mut n = 0usize;
        for ev in events {
            if present.contains(&ev.id) {
                continue;
            }
            self.row_json(ev, &mut buf, &mut body);
            n += 1;
        }
        let settings = self.insert_settings();
        if n > 0 {
            let q = format!("INSERT INTO {} FORMAT JSONEachRow", self.cfg.table);
            if let Err(e) = self
                .client
                .post("inserting events", Some(&q), body, &settings)
            {
                self.suspect_until = Some(self.suspect_until.map_or(last, |s| s.max(last)));
                return Err(e);
            }
        }
        let q = format!("INSERT INTO {} FORMAT JSONEachRow", self.cfg.progress_table);
        let row = serde_json::json!({"tenant": self.tenant.as_str(), "upto": last}).to_string();
        if let Err(e) = self
            .client
            .post("recording indexed_upto", Some(&q), row.into_bytes(), &[])
        {
            self.suspect_until = Some(self.suspect_until.map_or(last, |s| s.max(last)));
            return Err(e);
        }
        self.upto = Some(last);
        if self.suspect_until.is_some_and(|s| s <= last) {
            self.suspect_until = None;
        }
        Ok(())
    }

    /// Hits for `keys` (in that order), fetched by id.
    fn hits_for(&self, keys: &[KeyRow]) -> Result<Vec<Hit>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = keys.iter().map(|k| k.id.to_string()).collect();
        // The page's timestamp range lets the primary key (tenant, ts, id) select the granules;
        // `id IN` alone would read the id column of the whole tenant.
        let lo = keys.iter().map(|k| k.ts).min().expect("non-empty");
        let hi = keys.iter().map(|k| k.ts).max().expect("non-empty");
        let rows: Vec<HitRow> = self.client.select(
            "reading events",
            &format!(
                "SELECT {HIT_COLUMNS} FROM {} WHERE tenant = {} AND ts >= {lo} AND ts <= {hi} AND id IN ({})",
                self.cfg.table,
                self.t(),
                ids.join(",")
            ),
        )?;
        let mut by_id: std::collections::HashMap<u64, HitRow> =
            rows.into_iter().map(|r| (r.id, r)).collect();
        keys.iter()
            .map(|k| {
                by_id
                    .remove(&k.id)
                    .ok_or_else(|| StoreError::Corrupt {
                        id: k.id,
                        reason: "row vanished during a query".into(),
                    })?
                    .into_hit()
            })
            .collect()
    }

    fn keyed_page(
        &self,
        mut keys: Vec<KeyRow>,
        limit: u32,
        cursor_of: fn(i64, u64) -> String,
    ) -> Result<Page> {
        let next_cursor = if keys.len() > limit as usize {
            keys.truncate(limit as usize);
            keys.last().map(|k| cursor_of(k.ts, k.id))
        } else {
            None
        };
        Ok(Page {
            events: self.hits_for(&keys)?,
            next_cursor,
        })
    }

    /// Whether the tenant has any row with `lo <= ts < hi` (bounds optional). One `LIMIT 1`
    /// read of the primary key range.
    fn any_in(&self, lo: Option<i64>, hi: Option<i64>) -> Result<bool> {
        let mut w = format!("tenant = {}", self.t());
        if let Some(l) = lo {
            w.push_str(&format!(" AND ts >= {l}"));
        }
        if let Some(h) = hi {
            w.push_str(&format!(" AND ts < {h}"));
        }
        let rows: Vec<KeyRow> = self.client.select(
            "probing a time window",
            &format!("SELECT id, ts FROM {} WHERE {w} LIMIT 1", self.cfg.table),
        )?;
        Ok(!rows.is_empty())
    }

    /// Up to `need` keys matching `filter` with `lo <= ts < hi`, newest first (`desc`) or
    /// oldest first, read in growing time windows ([`Windows`]); exactly what one
    /// `ORDER BY … LIMIT need` over the whole range returns.
    fn ordered_keys(
        &self,
        filter: &str,
        lo: Option<i64>,
        hi: Option<i64>,
        desc: bool,
        need: u64,
    ) -> Result<Vec<KeyRow>> {
        let order = if desc { "ts DESC, id DESC" } else { "ts, id" };
        let query = |a: Option<i64>, b: Option<i64>, n: u64| -> Result<Vec<KeyRow>> {
            let mut w = filter.to_owned();
            if let Some(a) = a {
                w.push_str(&format!(" AND ts >= {a}"));
            }
            if let Some(b) = b {
                w.push_str(&format!(" AND ts < {b}"));
            }
            self.client.select(
                "running a query",
                &format!(
                    "SELECT id, ts FROM {} WHERE {w} ORDER BY {order} LIMIT {n}",
                    self.cfg.table
                ),
            )
        };
        let Windows {
            first_micros: width,
            growth,
        } = self.cfg.windows;
        let growth = growth.max(2);
        // Oldest-first without a lower bound has no place to start from: one query.
        if width <= 0 || (!desc && lo.is_none()) {
            return query(lo, hi, need);
        }
        // Windows are measured as distances from `start`, in page order: newest first from the
        // upper bound (or from a day after now when there is none; rows beyond it, clocks set
        // wrong, are in the first window), oldest first from the lower bound.
        const FAR: i64 = 1 << 62;
        let start = if desc {
            hi.unwrap_or_else(|| {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_micros() as i64);
                now + 86_400_000_000
            })
        } else {
            lo.expect("checked above")
        };
        // The distance where the range ends.
        let end = if desc {
            lo.map_or(FAR, |l| start.saturating_sub(l))
        } else {
            hi.map_or(FAR, |h| h.saturating_sub(start))
        }
        .min(FAR);
        if end <= width {
            return query(lo, hi, need);
        }
        // The ts bounds of the distances [d0, d1); the range's own bounds at its two ends.
        let bounds = |d0: i64, d1: i64| -> (Option<i64>, Option<i64>) {
            if desc {
                let upper = if d0 == 0 { hi } else { Some(start - d0) };
                let lower = if d1 >= end { lo } else { Some(start - d1) };
                (lower, upper)
            } else {
                let lower = if d0 == 0 { lo } else { Some(start + d0) };
                let upper = if d1 >= end { hi } else { Some(start + d1) };
                (lower, upper)
            }
        };
        // 1. The nearest `width`-wide slice holding any row: exponential, then binary search.
        let (mut a0, mut a1) = (0i64, width.min(end));
        loop {
            let (l, h) = bounds(a0, a1);
            if self.any_in(l, h)? {
                break;
            }
            if a1 >= end {
                return Ok(Vec::new());
            }
            a0 = a1;
            a1 = a1.saturating_mul(growth).min(end);
        }
        while a1 - a0 > width {
            let mid = a0 + (a1 - a0) / 2;
            let (l, h) = bounds(a0, mid);
            if self.any_in(l, h)? {
                a1 = mid;
            } else {
                a0 = mid;
            }
        }
        // 2. The page, in windows from `start` up to that slice's end, then ever wider.
        let mut out: Vec<KeyRow> = Vec::new();
        let (mut d0, mut d1, mut w) = (0i64, a1, width);
        loop {
            let (l, h) = bounds(d0, d1);
            out.extend(query(l, h, need - out.len() as u64)?);
            if out.len() as u64 >= need || d1 >= end {
                return Ok(out);
            }
            w = w.saturating_mul(growth);
            d0 = d1;
            d1 = d1.saturating_add(w).min(end);
        }
    }

    /// `GLOBAL ` on a Distributed table: the subquery runs once, on all shards, and its result
    /// is sent to each shard (a plain IN would ask each shard for its local part only).
    fn global(&self) -> &'static str {
        if self.cfg.distributed { "GLOBAL " } else { "" }
    }

    /// The ids of quarantine records re-ingested by an indexed admin event (applied as in the
    /// SQLite index: only admin events after the record).
    fn reingested_subquery(&self) -> String {
        format!(
            "SELECT toUInt64(reingest_of) FROM {} WHERE tenant = {} AND reingest_of >= 0 AND reingest_of < id",
            self.cfg.table,
            self.t()
        )
    }
}

impl IndexBackend for ClickHouseStore {
    fn backend_name(&self) -> &'static str {
        "clickhouse"
    }

    fn indexed_upto(&self) -> Result<Option<u64>> {
        self.read_upto()
    }

    fn index_batch(&mut self, events: &[IndexEvent<'_>]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let start = self.upto;
        let mut upto = start;
        let mut new: Vec<&IndexEvent<'_>> = Vec::with_capacity(events.len());
        for ev in events {
            if let Some(u) = upto
                && ev.id <= u
            {
                continue;
            }
            let expected = upto.map_or(0, |u| u + 1);
            if ev.id != expected {
                return Err(StoreError::Gap {
                    indexed_upto: start,
                    expected,
                    got: ev.id,
                });
            }
            if ev.id > i64::MAX as u64 {
                return Err(StoreError::IdOutOfRange(ev.id));
            }
            new.push(ev);
            upto = Some(ev.id);
        }
        if new.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.insert_batch(&new) {
            // Another writer or a lost response may have moved the progress: re-read it.
            if let Ok(u) = self.read_upto() {
                self.upto = u;
            }
            return Err(e);
        }
        Ok(())
    }

    fn search(&self, q: &Query) -> Result<Page> {
        let p = SearchPlan::parse(q)?;
        let mut w = format!("tenant = {}", self.t());
        for (col, v) in [
            ("user_name", &p.user),
            ("host_name", &p.host),
            ("action", &p.action),
            ("kind", &p.kind),
        ] {
            if let Some(v) = v {
                w.push_str(&format!(" AND {col} = {}", lit(v)));
            }
        }
        if let Some(path) = &p.path {
            w.push_str(&format!(
                " AND substring(file_path, 1, {}) = {}",
                path.len(),
                lit(path)
            ));
        }
        let mut hi = p.to;
        if let Some((cts, cid)) = p.cursor {
            w.push_str(&format!(" AND (ts < {cts} OR (ts = {cts} AND id < {cid}))"));
            let c = cts.saturating_add(1);
            hi = Some(hi.map_or(c, |h| h.min(c)));
        }
        for term in &p.terms {
            w.push_str(&format!(" AND position(body, {}) > 0", lit(term)));
        }
        let keys = self.ordered_keys(&w, p.from, hi, true, p.limit as u64 + 1)?;
        self.keyed_page(keys, p.limit, search_cursor)
    }

    fn timeline(
        &self,
        user: &str,
        from: Option<&str>,
        to: Option<&str>,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<Page> {
        let p = TimelinePlan::parse(user, from, to, limit, cursor)?;
        let mut w = format!("tenant = {} AND user_name = {}", self.t(), lit(&p.user));
        let mut lo = p.from;
        if let Some((cts, cid)) = p.cursor {
            w.push_str(&format!(" AND (ts > {cts} OR (ts = {cts} AND id > {cid}))"));
            lo = Some(lo.map_or(cts, |l| l.max(cts)));
        }
        let keys = self.ordered_keys(&w, lo, p.to, false, p.limit as u64 + 1)?;
        self.keyed_page(keys, p.limit, timeline_cursor)
    }

    fn get(&self, id: u64) -> Result<Option<Hit>> {
        if id > i64::MAX as u64 {
            return Ok(None);
        }
        let rows: Vec<HitRow> = self.client.select(
            "reading an event",
            &format!(
                "SELECT {HIT_COLUMNS} FROM {} WHERE tenant = {} AND id = {id} LIMIT 1",
                self.cfg.table,
                self.t()
            ),
        )?;
        rows.into_iter().next().map(HitRow::into_hit).transpose()
    }

    fn stats(&self) -> Result<Stats> {
        #[derive(Deserialize)]
        struct KindRow {
            kind: String,
            n: u64,
        }
        let mut stats = Stats {
            indexed_upto: self.read_upto()?,
            ..Stats::default()
        };
        let rows: Vec<KindRow> = self.client.select(
            "reading stats",
            &format!(
                "SELECT kind, count() AS n FROM {} WHERE tenant = {} GROUP BY kind",
                self.cfg.table,
                self.t()
            ),
        )?;
        for r in rows {
            stats.total += r.n;
            stats.by_kind.insert(r.kind, r.n);
        }
        stats.quarantine_total = stats
            .by_kind
            .get(EventKind::Quarantine.as_str())
            .copied()
            .unwrap_or(0);
        #[derive(Deserialize)]
        struct N {
            n: u64,
        }
        let pending: Vec<N> = self.client.select(
            "counting pending quarantine",
            &format!(
                "SELECT count() AS n FROM {} WHERE tenant = {} AND kind = 'quarantine' AND id {}NOT IN ({})",
                self.cfg.table,
                self.t(),
                self.global(),
                self.reingested_subquery()
            ),
        )?;
        stats.quarantine_pending = pending.first().map_or(0, |r| r.n);
        Ok(stats)
    }

    fn list_quarantine(
        &self,
        limit: Option<u32>,
        cursor: Option<&str>,
        pending_only: bool,
    ) -> Result<QuarantinePage> {
        let (limit, before) = quarantine_before(limit, cursor)?;
        #[derive(Deserialize)]
        struct QRow {
            id: u64,
            ts: i64,
            ingested: i64,
            kind: String,
            doc: String,
            q_reason: Option<String>,
            q_source: Option<String>,
        }
        let mut w = format!("tenant = {} AND kind = 'quarantine'", self.t());
        if let Some(b) = before {
            w.push_str(&format!(" AND id < {b}"));
        }
        if pending_only {
            w.push_str(&format!(
                " AND id {}NOT IN ({})",
                self.global(),
                self.reingested_subquery()
            ));
        }
        let mut rows: Vec<QRow> = self.client.select(
            "listing quarantine",
            &format!(
                "SELECT {HIT_COLUMNS}, q_reason, q_source FROM {} WHERE {w} ORDER BY id DESC LIMIT {}",
                self.cfg.table,
                limit as u64 + 1
            ),
        )?;
        let next_cursor = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last().map(|r| quarantine_cursor(r.id))
        } else {
            None
        };
        let mut reingests = std::collections::HashMap::new();
        if !rows.is_empty() {
            #[derive(Deserialize)]
            struct Re {
                q: i64,
                admin: u64,
                new_ids: String,
            }
            let ids: Vec<String> = rows.iter().map(|r| r.id.to_string()).collect();
            let res: Vec<Re> = self.client.select(
                "reading re-ingest state",
                &format!(
                    "SELECT reingest_of AS q, max(id) AS admin, argMax(reingest_new_ids, id) AS new_ids \
                     FROM {} WHERE tenant = {} AND reingest_of IN ({}) AND reingest_of < id GROUP BY reingest_of",
                    self.cfg.table,
                    self.t(),
                    ids.join(",")
                ),
            )?;
            for r in res {
                let new_ids: Vec<u64> =
                    serde_json::from_str(&r.new_ids).map_err(|e| StoreError::Corrupt {
                        id: r.q as u64,
                        reason: format!("new_ids: {e}"),
                    })?;
                reingests.insert(
                    r.q as u64,
                    Reingest {
                        admin_event_id: Some(r.admin),
                        new_ids,
                    },
                );
            }
        }
        let items = rows
            .into_iter()
            .map(|r| {
                let reingested = reingests.remove(&r.id);
                let hit = HitRow {
                    id: r.id,
                    ts: r.ts,
                    ingested: r.ingested,
                    kind: r.kind,
                    doc: r.doc,
                }
                .into_hit()?;
                Ok(QuarantineItem {
                    hit,
                    reason: r.q_reason,
                    source: r.q_source,
                    reingested,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(QuarantinePage { items, next_cursor })
    }
}

/// One tenant's aggregate counters, as the prefecture role may see them (no documents).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct TenantAggregate {
    /// The tenant id.
    pub tenant: String,
    /// Indexed rows.
    pub events: u64,
    /// Quarantined records among them.
    pub quarantined: u64,
    /// Distinct `user.name` values (active accounts).
    pub users: u64,
    /// Latest `@timestamp`, micros.
    pub last_ts: i64,
}

/// Cross-tenant health and aggregates for the prefecture: one row per tenant, counts only.
pub fn tenant_aggregates(cfg: &Config) -> Result<Vec<TenantAggregate>> {
    let client = Client::new(&cfg.url, &cfg.database, cfg.timeout)?;
    client.select(
        "reading tenant aggregates",
        &format!(
            "SELECT tenant, count() AS events, countIf(kind = 'quarantine') AS quarantined, \
             uniqExact(user_name) AS users, max(ts) AS last_ts FROM {} GROUP BY tenant ORDER BY tenant",
            cfg.table
        ),
    )
}
