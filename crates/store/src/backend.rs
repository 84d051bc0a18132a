//! The index backend interface: one query API over several storage engines.
//!
//! [`IndexBackend`] is what the follower (indexer) and the query layer need from an index:
//! contiguous, replay-safe batch indexing with a durable high-water mark, filtered newest-first
//! search, per-person timelines, single events, counters and the quarantine list. The embedded
//! SQLite [`Store`] is the default implementation; `mamori-store-clickhouse` implements it on a
//! shared ClickHouse table for a prefecture-scale deployment. Both must give the same results for
//! the same events (one test suite runs against both: `crates/store-clickhouse/tests`).
//!
//! So that every backend validates parameters identically (same [`StoreError::InvalidParam`]
//! for the same bad input) and hands out interchangeable cursors, the parsing lives here:
//! [`SearchPlan::parse`], [`TimelinePlan::parse`], [`quarantine_before`] and the cursor
//! encoders. Full-text semantics are also shared: a hit's body is
//! `extract::fold(extract::full_text(doc))` and must contain every folded term of
//! [`SearchPlan::terms`] as a substring.

use crate::cursor::{self, Tag};
use crate::error::Result;
use crate::store::{check_limit, fts_query, time_range};
use crate::types::{Hit, IndexEvent, Page, QuarantinePage, Query, Stats};
use crate::{Store, StoreError};

/// What the follower and the query layer need from an index. See the module docs.
pub trait IndexBackend {
    /// A short name for logs and errors (`"sqlite"`, `"clickhouse"`).
    fn backend_name(&self) -> &'static str;
    /// The highest ledger id indexed, `None` when empty; the follower resumes after it.
    fn indexed_upto(&self) -> Result<Option<u64>>;
    /// Indexes a batch in ledger order; ids `<= indexed_upto` are skipped, the rest must be
    /// contiguous ([`StoreError::Gap`] otherwise, nothing written).
    fn index_batch(&mut self, events: &[IndexEvent<'_>]) -> Result<()>;
    /// Filtered search, newest first by `(@timestamp, id)`; see [`Query`].
    fn search(&self, q: &Query) -> Result<Page>;
    /// One person's activity, oldest first by `(@timestamp, id)`.
    fn timeline(
        &self,
        user: &str,
        from: Option<&str>,
        to: Option<&str>,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<Page>;
    /// One event by ledger id.
    fn get(&self, id: u64) -> Result<Option<Hit>>;
    /// Counters for /metrics.
    fn stats(&self) -> Result<Stats>;
    /// Quarantined records, newest (highest id) first.
    fn list_quarantine(
        &self,
        limit: Option<u32>,
        cursor: Option<&str>,
        pending_only: bool,
    ) -> Result<QuarantinePage>;
}

impl IndexBackend for Store {
    fn backend_name(&self) -> &'static str {
        "sqlite"
    }
    fn indexed_upto(&self) -> Result<Option<u64>> {
        Store::indexed_upto(self)
    }
    fn index_batch(&mut self, events: &[IndexEvent<'_>]) -> Result<()> {
        Store::index_batch(self, events)
    }
    fn search(&self, q: &Query) -> Result<Page> {
        Store::search(self, q)
    }
    fn timeline(
        &self,
        user: &str,
        from: Option<&str>,
        to: Option<&str>,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<Page> {
        Store::timeline(self, user, from, to, limit, cursor)
    }
    fn get(&self, id: u64) -> Result<Option<Hit>> {
        Store::get(self, id)
    }
    fn stats(&self) -> Result<Stats> {
        Store::stats(self)
    }
    fn list_quarantine(
        &self,
        limit: Option<u32>,
        cursor: Option<&str>,
        pending_only: bool,
    ) -> Result<QuarantinePage> {
        Store::list_quarantine(self, limit, cursor, pending_only)
    }
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_deref().filter(|s| !s.is_empty()).map(str::to_owned)
}

/// A validated [`Query`], as every backend must interpret it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPlan {
    /// Page size (validated, default applied).
    pub limit: u32,
    /// Exact `user.name`.
    pub user: Option<String>,
    /// Exact `host.name`.
    pub host: Option<String>,
    /// Exact `event.action`.
    pub action: Option<String>,
    /// Entry kind wire name.
    pub kind: Option<String>,
    /// Byte-wise prefix of `file.path`.
    pub path: Option<String>,
    /// Inclusive lower bound on the timestamp, micros.
    pub from: Option<i64>,
    /// Exclusive upper bound on the timestamp, micros.
    pub to: Option<i64>,
    /// Keyset position `(ts, id)`: only rows strictly before it (newest-first order).
    pub cursor: Option<(i64, u64)>,
    /// Folded full-text terms; a hit's folded body contains each as a substring.
    pub terms: Vec<String>,
}

impl SearchPlan {
    /// Validates `q` exactly as [`Store::search`] does (same errors, same order of checks).
    pub fn parse(q: &Query) -> Result<SearchPlan> {
        let limit = check_limit(q.limit)?;
        let (from, to) = time_range(q.from.as_deref(), q.to.as_deref())?;
        let cursor = q
            .cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|c| cursor::decode(Tag::Search, c))
            .transpose()?;
        let terms = match q.q.as_deref().filter(|s| !s.is_empty()) {
            Some(text) => fts_query(text)?.map(|f| f.terms).unwrap_or_default(),
            None => Vec::new(),
        };
        Ok(SearchPlan {
            limit,
            user: non_empty(&q.user),
            host: non_empty(&q.host),
            action: non_empty(&q.action),
            kind: non_empty(&q.kind),
            path: non_empty(&q.path),
            from,
            to,
            cursor,
            terms,
        })
    }
}

/// Validated timeline parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelinePlan {
    /// Page size.
    pub limit: u32,
    /// The person (`user.name`), non-empty.
    pub user: String,
    /// Inclusive lower bound, micros.
    pub from: Option<i64>,
    /// Exclusive upper bound, micros.
    pub to: Option<i64>,
    /// Keyset position `(ts, id)`: only rows strictly after it (oldest-first order).
    pub cursor: Option<(i64, u64)>,
}

impl TimelinePlan {
    /// Validates timeline parameters; [`Store::timeline`] uses it too.
    pub fn parse(
        user: &str,
        from: Option<&str>,
        to: Option<&str>,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<TimelinePlan> {
        let limit = check_limit(limit)?;
        let (from, to) = time_range(from, to)?;
        let cursor = cursor
            .filter(|c| !c.is_empty())
            .map(|c| cursor::decode(Tag::Timeline, c))
            .transpose()?;
        if user.is_empty() {
            return Err(StoreError::invalid("user", "must not be empty"));
        }
        Ok(TimelinePlan {
            limit,
            user: user.to_owned(),
            from,
            to,
            cursor,
        })
    }
}

/// Validates a quarantine-list page size and cursor: `(limit, only ids below this)`.
pub fn quarantine_before(limit: Option<u32>, cursor: Option<&str>) -> Result<(u32, Option<u64>)> {
    let limit = check_limit(limit)?;
    let before = cursor
        .filter(|c| !c.is_empty())
        .map(|c| cursor::decode(Tag::Quarantine, c).map(|p| p.1))
        .transpose()?;
    Ok((limit, before))
}

/// The `next_cursor` of a search page whose last hit is at `(ts, id)`.
pub fn search_cursor(ts: i64, id: u64) -> String {
    cursor::encode(Tag::Search, ts, id)
}

/// The `next_cursor` of a timeline page whose last hit is at `(ts, id)`.
pub fn timeline_cursor(ts: i64, id: u64) -> String {
    cursor::encode(Tag::Timeline, ts, id)
}

/// The `next_cursor` of a quarantine page whose last item has `id`.
pub fn quarantine_cursor(id: u64) -> String {
    cursor::encode(Tag::Quarantine, 0, id)
}
