//! The SQLite-backed index.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params, params_from_iter,
};
use serde_json::Value;

use crate::cursor::{self, Tag};
use crate::error::{Result, SqlContext, StoreError};
use crate::extract;
use crate::types::{
    DEFAULT_LIMIT, EventKind, Hit, IndexEvent, MAX_LIMIT, Page, QuarantineItem, QuarantinePage,
    Query, Reingest, Stats,
};

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: i64 = 2;

/// Schema, version 2 (version 1 had `detail=full` FTS; it is refused and rebuilt).
///
/// * `events`: one row per ledger entry, `id` = ledger index = rowid (no separate key index),
///   extracted filter columns, and the document once as JSON text (last, so filter-only reads
///   rarely touch overflow pages).
/// * two secondary indexes: `(user_name, ts)` for timelines and user-filtered search, `(ts)` for
///   newest-first search; both implicitly end in the rowid, so `(ts, id)` keyset order is served.
/// * `events_fts`: contentless FTS5 (`content=''`), trigram tokenizer, `detail=none`: the text is
///   stored only as an inverted index from each trigram to the ids containing it, without
///   positions. A full-text query asks it for the ids containing all trigrams of the terms
///   (candidates) and then verifies each candidate exactly against the body recomputed from the
///   stored document (see [`FullText`]), so any ≥3-character substring (Japanese included) is
///   found, case-insensitively, with no false positives.
///
///   Why `detail=none` and not the positional `detail=full` of version 1: positions made the
///   FTS index ~2/3 of indexing time (trigram position lists for ~400 characters per event) and
///   held indexing at ~21k events/s at 1M events; without positions (and with the word
///   extraction of [`extract::index_words`]) FTS inserts are several times cheaper and indexing
///   reaches ~50k events/s at 1M in-line on one core (docs/benchmarks-store.md), while the exact
///   verification keeps the substring semantics. The price is paid at query
///   time, only by candidates that reach a page: one JSON parse and a folded `contains` each,
///   which the hit needs anyway (its document is returned).
/// * `quarantine`: side table for quarantined records and their derived re-ingest state.
/// * `ts_watermarks`: per 1024-id bucket, the maximum and minimum `@timestamp` of its events;
///   lets full-text search for common terms visit only the buckets that can hold the newest
///   matches and still be exact (see `search_fts_newest`). ~10k rows at 10M events.
/// * `kind_counts`, `meta`: counters and `schema_version` / `indexed_upto`, written in the same
///   transaction as the rows.
const SCHEMA: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE events (
    id        INTEGER PRIMARY KEY,
    ts        INTEGER NOT NULL,
    ingested  INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    user_name TEXT,
    host_name TEXT,
    action    TEXT,
    file_path TEXT,
    doc       TEXT NOT NULL
);
CREATE INDEX events_user_ts ON events(user_name, ts);
CREATE INDEX events_ts ON events(ts);
CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY,
    reason      TEXT,
    source      TEXT,
    admin_event INTEGER,
    new_ids     TEXT
);
CREATE TABLE kind_counts (kind TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE ts_watermarks (bucket INTEGER PRIMARY KEY, max_ts INTEGER NOT NULL, min_ts INTEGER NOT NULL);
CREATE INDEX ts_watermarks_max ON ts_watermarks(max_ts);
";

/// Number of FTS columns; see [`fts_schema`].
const FTS_COLUMNS: usize = 32;

/// The FTS table: contentless, trigram, `detail=none`, with [`FTS_COLUMNS`] columns `w0..`.
/// Each indexed word of an event ([`extract::index_words`]) goes into its own column (the
/// words beyond the last column share it, space-separated), because the trigram tokenizer
/// would otherwise also emit the 3 useless trigrams across every separator (~30% of all tokens
/// of a typical event). With `detail=none` the columns cost nothing in the index (no column
/// numbers are stored) and a query matches in any column.
fn fts_schema() -> String {
    let cols: Vec<String> = (0..FTS_COLUMNS).map(|c| format!("w{c}")).collect();
    format!(
        "CREATE VIRTUAL TABLE events_fts USING fts5({}, content='', tokenize='trigram', detail=none, columnsize=0);",
        cols.join(", ")
    )
}

/// The FTS5 'delete' command for contentless tables, with the same parameters as the insert.
fn fts_delete_sql() -> String {
    let cols: Vec<String> = (0..FTS_COLUMNS).map(|c| format!("w{c}")).collect();
    let vals: Vec<String> = (0..FTS_COLUMNS).map(|c| format!("?{}", c + 2)).collect();
    format!(
        "INSERT INTO events_fts (events_fts, rowid, {}) VALUES ('delete', ?1, {})",
        cols.join(", "),
        vals.join(", ")
    )
}

fn fts_insert_sql() -> String {
    let cols: Vec<String> = (0..FTS_COLUMNS).map(|c| format!("w{c}")).collect();
    let vals: Vec<String> = (0..FTS_COLUMNS).map(|c| format!("?{}", c + 2)).collect();
    format!(
        "INSERT INTO events_fts (rowid, {}) VALUES (?1, {})",
        cols.join(", "),
        vals.join(", ")
    )
}

/// FTS5 tuning, stored in the FTS config table at creation. A 32 MiB in-memory term buffer lets a
/// 4096-event batch flush as one segment instead of many 1 MiB ones, and automerge 8 merges less
/// often; together ~+30% indexing throughput in `benches/index_bench.rs` (docs/benchmarks-store.md).
const FTS_CONFIG: &str = "
INSERT INTO events_fts (events_fts, rank) VALUES ('hashsize', 33554432);
INSERT INTO events_fts (events_fts, rank) VALUES ('automerge', 8);
";

/// Timestamp watermarks are kept per bucket of 2^10 ids.
const WATERMARK_SHIFT: i64 = 10;
/// Up to this many full-text matches, search reads them all and lets SQL order them.
const FTS_RARE: i64 = 4096;

/// Time bounds of a full-text search, for skipping watermark buckets.
#[derive(Debug, Clone, Copy)]
struct FtsBounds {
    from: i64,
    to: i64,
    cursor_ts: i64,
}

const INSERT_EVENT: &str = "INSERT INTO events (id, ts, ingested, kind, user_name, host_name, action, file_path, doc) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
const INSERT_QUARANTINE: &str = "INSERT INTO quarantine (id, reason, source) VALUES (?1, ?2, ?3)";
const MARK_REINGESTED: &str = "UPDATE quarantine SET admin_event = ?2, new_ids = ?3 WHERE id = ?1";
const HIT_COLUMNS: &str = "id, ts, ingested, kind, doc";

/// The search index. See the crate docs.
///
/// A `Store` wraps one SQLite connection, so it is `Send` but not `Sync`: use one writer (the
/// follower) and, for concurrent queries, further connections from [`Store::open_read_only`]
/// (WAL lets readers run alongside the writer).
pub struct Store {
    /// Declared first so it stops before `conn` closes (the last close checkpoints the WAL).
    _checkpointer: Option<Checkpointer>,
    conn: Connection,
    path: PathBuf,
}

/// Background WAL checkpointing for a writing [`Store`]: a thread with its own connection runs
/// `wal_checkpoint(PASSIVE)` every [`CHECKPOINT_EVERY`]. A passive checkpoint does not block
/// the writer, so copying WAL pages into the database file (~5% of indexing time when the
/// committing writer does it itself through `wal_autocheckpoint`) runs on another core, and
/// the writer's next transaction restarts the WAL once everything is copied. The writer's
/// `wal_autocheckpoint` stays as a backstop (256 MiB) should this thread fall behind.
struct Checkpointer {
    stop: std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
    handle: Option<std::thread::JoinHandle<()>>,
}

const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

impl Checkpointer {
    fn start(path: &Path) -> Option<Checkpointer> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ok()?;
        conn.busy_timeout(std::time::Duration::from_millis(100))
            .ok()?;
        let stop = std::sync::Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("index-checkpoint".into())
            .spawn(move || {
                let (lock, cv) = &*flag;
                let mut stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
                while !*stopped {
                    stopped = cv
                        .wait_timeout(stopped, CHECKPOINT_EVERY)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                    if *stopped {
                        break;
                    }
                    drop(stopped);
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::debug!(error = %e, "background checkpoint failed; retrying later");
                    }
                    stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
                }
            })
            .ok()?;
        Some(Checkpointer {
            stop,
            handle: Some(handle),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (lock, cv) = &*self.stop;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Binds JSON bytes as TEXT without re-validating UTF-8 (serde_json only writes UTF-8).
struct JsonText<'a>(&'a [u8]);

impl rusqlite::ToSql for JsonText<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Text(self.0)))
    }
}

fn id_to_sql(id: u64) -> Result<i64> {
    i64::try_from(id).map_err(|_| StoreError::IdOutOfRange(id))
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

pub(crate) fn check_limit(limit: Option<u32>) -> Result<u32> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(StoreError::invalid(
            "limit",
            format!("{n} is not between 1 and {MAX_LIMIT}"),
        )),
    }
}

fn parse_time(param: &'static str, s: Option<&str>) -> Result<Option<i64>> {
    match s.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => extract::rfc3339_micros(s).map(Some).ok_or_else(|| {
            StoreError::invalid(
                param,
                format!("{s:?} is not an RFC 3339 timestamp (e.g. 2024-04-01T09:00:00+09:00)"),
            )
        }),
    }
}

pub(crate) fn time_range(from: Option<&str>, to: Option<&str>) -> Result<(Option<i64>, Option<i64>)> {
    let from = parse_time("from", from)?;
    let to = parse_time("to", to)?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(StoreError::invalid("to", "is before `from`"));
    }
    Ok((from, to))
}

/// A parsed full-text query (`q`): the FTS5 expression that selects candidates, and the folded
/// terms a candidate's body must contain to be a hit.
///
/// The FTS table has `detail=none` (no positions), where FTS5 cannot match a phrase of several
/// trigrams. The expression is therefore the AND of the distinct trigrams of all terms, each
/// quoted (a single token; user text never becomes FTS5 operator syntax). Every true hit
/// contains all of them, but so can events where they occur apart (`abcX…bcd` for the term
/// `abcd`, or a term split across two fields); [`FullText::verify`] removes those by recomputing
/// the body from the stored document with the same [`extract::full_text`] used at index time,
/// folding it with [`extract::fold`] and checking each term as a literal substring. Results are
/// thus exactly the events whose body contains every term, as with the positional index of
/// schema version 1.
#[derive(Debug, Clone)]
pub(crate) struct FullText {
    /// The FTS5 MATCH expression (AND of quoted trigrams).
    pub(crate) fts: String,
    /// The distinct terms, folded.
    pub(crate) terms: Vec<String>,
}

impl FullText {
    /// Whether `doc`'s full-text body contains every term (the exact check).
    fn verify(&self, doc: &Value, buf: &mut String) -> bool {
        extract::full_text_contains_all(doc, &self.terms, buf)
    }

    /// A cheap necessary condition on the stored JSON text, before parsing it.
    fn may_match(&self, json: &str) -> bool {
        extract::json_may_contain_all(json, &self.terms)
    }
}

/// Turns user text into a [`FullText`]: whitespace-separated terms, all of which must occur as
/// literal substrings (case-insensitive); terms shorter than 3 characters are rejected, since
/// the trigram index cannot find them. `None` when there is no term.
pub(crate) fn fts_query(q: &str) -> Result<Option<FullText>> {
    let mut seen = std::collections::HashSet::new();
    let mut fts = String::new();
    let mut terms: Vec<String> = Vec::new();
    for term in q.split_whitespace() {
        let chars: Vec<char> = term.chars().collect();
        if chars.len() < 3 {
            return Err(StoreError::invalid(
                "q",
                format!(
                    "search term {term:?} is shorter than 3 characters; the full-text index matches substrings of 3 or more"
                ),
            ));
        }
        for w in chars.windows(3) {
            let tri: String = w.iter().collect();
            if !seen.insert(tri.clone()) {
                continue;
            }
            if !fts.is_empty() {
                fts.push_str(" AND ");
            }
            fts.push('"');
            fts.push_str(&tri.replace('"', "\"\""));
            fts.push('"');
        }
        let folded = extract::fold(term);
        if !terms.contains(&folded) {
            terms.push(folded);
        }
    }
    Ok(if terms.is_empty() {
        None
    } else {
        Some(FullText { fts, terms })
    })
}

fn read_hit(row: &Row<'_>) -> rusqlite::Result<std::result::Result<Hit, StoreError>> {
    let id: i64 = row.get(0)?;
    let ts: i64 = row.get(1)?;
    let ingested: i64 = row.get(2)?;
    let kind = EventKind::from_name(row.get_ref(3)?.as_str()?);
    let doc_text = row.get_ref(4)?.as_str()?;
    let id = id as u64;
    Ok(serde_json::from_str::<Value>(doc_text)
        .map(|doc| Hit {
            id,
            timestamp_micros: ts,
            ingested_micros: ingested,
            kind,
            doc,
        })
        .map_err(|e| StoreError::Corrupt {
            id,
            reason: format!("stored document is not JSON: {e}"),
        }))
}

fn configure(conn: &Connection, path: &Path, read_only: bool) -> Result<()> {
    let open_err = |source| StoreError::Open {
        path: path.to_owned(),
        source,
    };
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(open_err)?;
    if !read_only {
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "index database is not in WAL mode");
        }
    }
    // Durability comes from the ledger: after a crash the follower re-feeds from indexed_upto.
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL;
         PRAGMA cache_size = -65536;
         PRAGMA temp_store = MEMORY;
         PRAGMA foreign_keys = OFF;
         PRAGMA wal_autocheckpoint = 16384;",
    )
    .map_err(open_err)?;
    let _: i64 = conn
        .query_row("PRAGMA mmap_size = 268435456", [], |r| r.get(0))
        .map_err(open_err)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn table_exists(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [name],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

fn schema_version(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT value FROM meta WHERE key = 'schema_version'",
        [],
        |r| r.get(0),
    )
    .optional()
}

fn read_upto(conn: &Connection) -> Result<Option<u64>> {
    conn.prepare_cached("SELECT value FROM meta WHERE key = 'indexed_upto'")
        .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)).optional())
        .ctx("reading indexed_upto")
        .map(|v| v.map(|v| v as u64))
}

impl Store {
    /// Opens (creating if missing) the index database at `path` for reading and writing.
    ///
    /// Creates the schema on a fresh file and records [`SCHEMA_VERSION`]; refuses a file with any
    /// other recorded version ([`StoreError::UnsupportedSchema`]; version 1 files, from before
    /// the `detail=none` full-text index, are refused too and must be rebuilt, e.g. with
    /// `mamori reindex`). Sets WAL mode, `synchronous=NORMAL`, a 64 MiB page cache and 256 MiB
    /// mmap, and starts a background thread that checkpoints the WAL (see `Checkpointer`; the
    /// writer's own auto-checkpoint is a 256 MiB backstop).
    pub fn open(path: &Path) -> Result<Store> {
        let open_err = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        configure(&conn, path, false)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(open_err)?;
        if table_exists(&tx, "meta").map_err(open_err)? {
            match schema_version(&tx).map_err(open_err)? {
                Some(SCHEMA_VERSION) => {}
                found => {
                    return Err(StoreError::UnsupportedSchema {
                        path: path.to_owned(),
                        found: found.unwrap_or(0),
                        supported: SCHEMA_VERSION,
                    });
                }
            }
        } else {
            tx.execute_batch(SCHEMA).map_err(open_err)?;
            tx.execute_batch(&fts_schema()).map_err(open_err)?;
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)",
                [SCHEMA_VERSION],
            )
            .map_err(open_err)?;
            tx.execute_batch(FTS_CONFIG).map_err(open_err)?;
            tracing::info!(path = %path.display(), version = SCHEMA_VERSION, "created index database");
        }
        tx.commit().map_err(open_err)?;
        // The writer checkpoints only as a backstop; see [`Checkpointer`].
        conn.execute_batch("PRAGMA wal_autocheckpoint = 65536;")
            .map_err(open_err)?;
        Ok(Store {
            _checkpointer: Checkpointer::start(path),
            conn,
            path: path.to_owned(),
        })
    }

    /// Opens an existing index read-only, for query connections running beside the writer.
    /// Writes through it fail.
    pub fn open_read_only(path: &Path) -> Result<Store> {
        let open_err = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(open_err)?;
        configure(&conn, path, true)?;
        if !table_exists(&conn, "meta").map_err(open_err)? {
            return Err(StoreError::NotInitialised {
                path: path.to_owned(),
            });
        }
        match schema_version(&conn).map_err(open_err)? {
            Some(SCHEMA_VERSION) => Ok(Store {
                _checkpointer: None,
                conn,
                path: path.to_owned(),
            }),
            None => Err(StoreError::NotInitialised {
                path: path.to_owned(),
            }),
            Some(found) => Err(StoreError::UnsupportedSchema {
                path: path.to_owned(),
                found,
                supported: SCHEMA_VERSION,
            }),
        }
    }

    /// Deletes the index database at `path` with its `-wal` and `-shm` files (missing files are
    /// fine), so it can be rebuilt from the ledger. No `Store` may have it open.
    pub fn remove_files(path: &Path) -> Result<()> {
        let mut names = vec![path.to_owned()];
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            names.push(PathBuf::from(p));
        }
        for p in names {
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(StoreError::Io {
                        op: "removing index file",
                        path: p,
                        source,
                    });
                }
            }
        }
        Ok(())
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The highest ledger id indexed, `None` for an empty index. Written in the same transaction
    /// as the rows, so after a crash the follower resumes exactly at `indexed_upto + 1`.
    pub fn indexed_upto(&self) -> Result<Option<u64>> {
        read_upto(&self.conn)
    }

    /// Indexes a batch of events, in ledger order, in one transaction.
    ///
    /// Events with `id <= indexed_upto` are skipped (replays are safe); the rest must be
    /// contiguous: the first new id must be `indexed_upto + 1` (`0` for an empty index) and each
    /// next one the previous plus one, otherwise [`StoreError::Gap`] and nothing of the batch is
    /// written. An Admin event whose doc has `mamori.reingest.quarantine_id` marks that
    /// quarantined record re-ingested (with `mamori.reingest.new_ids`).
    pub fn index_batch(&mut self, events: &[IndexEvent<'_>]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx("starting the index transaction")?;
        let start = read_upto(&tx)?;
        let mut upto = start;
        let mut counts: HashMap<&str, i64> = HashMap::new();
        let mut watermarks: Vec<(i64, i64, i64)> = Vec::new();
        {
            let mut ins_event = tx
                .prepare_cached(INSERT_EVENT)
                .ctx("preparing event insert")?;
            let mut ins_fts = tx
                .prepare_cached(&fts_insert_sql())
                .ctx("preparing full-text insert")?;
            let mut words: Vec<&str> = Vec::with_capacity(64);
            let mut doc_buf: Vec<u8> = Vec::with_capacity(4096);
            let mut fts_buf = String::with_capacity(1024);
            for ev in events {
                if let Some(u) = upto
                    && ev.id <= u
                {
                    continue;
                }
                let expected = upto.map_or(0, |u| u + 1);
                if ev.id != expected {
                    return Err(StoreError::Gap {
                        indexed_upto: upto,
                        expected,
                        got: ev.id,
                    });
                }
                let id = id_to_sql(ev.id)?;
                let doc = ev.doc;
                let ts = extract::timestamp_micros(doc).unwrap_or(ev.ingested_micros);
                // The caller's original JSON text when it has it (no re-serialization).
                // (Not re-validated as UTF-8: ~4% of indexing time; bytes serde_json parsed are
                // UTF-8, and a violated contract only makes reading that event fail.)
                let doc_text: &[u8] = match ev.raw {
                    Some(raw) => {
                        debug_assert!(std::str::from_utf8(raw).is_ok(), "raw is not UTF-8");
                        raw
                    }
                    None => {
                        doc_buf.clear();
                        serde_json::to_writer(&mut doc_buf, doc)
                            .expect("serializing a serde_json::Value cannot fail");
                        &doc_buf
                    }
                };
                let kind = ev.kind.as_str();
                ins_event
                    .execute(params![
                        id,
                        ts,
                        ev.ingested_micros,
                        kind,
                        extract::str_field(doc, &["user", "name"]),
                        extract::str_field(doc, &["host", "name"]),
                        extract::str_field(doc, &["event", "action"]),
                        extract::str_field(doc, &["file", "path"]),
                        JsonText(doc_text),
                    ])
                    .ctx("inserting an event row")?;
                extract::index_words(doc, &mut words);
                if !words.is_empty() {
                    insert_words(&mut ins_fts, id, &words, &mut fts_buf)
                        .ctx("inserting full text")?;
                }
                match ev.kind {
                    EventKind::Quarantine => {
                        tx.prepare_cached(INSERT_QUARANTINE)
                            .and_then(|mut s| {
                                s.execute(params![
                                    id,
                                    extract::str_field(doc, &["mamori", "quarantine", "reason"]),
                                    extract::str_field(doc, &["mamori", "quarantine", "source"]),
                                ])
                            })
                            .ctx("inserting a quarantine row")?;
                    }
                    EventKind::Admin => {
                        if let Some(re) = extract::field(doc, &["mamori", "reingest"]) {
                            apply_reingest(&tx, ev.id, re)?;
                        }
                    }
                    _ => {}
                }
                *counts.entry(kind).or_insert(0) += 1;
                let bucket = id >> WATERMARK_SHIFT;
                match watermarks.last_mut() {
                    Some((b, max, min)) if *b == bucket => {
                        *max = (*max).max(ts);
                        *min = (*min).min(ts);
                    }
                    _ => watermarks.push((bucket, ts, ts)),
                }
                upto = Some(ev.id);
            }
        }
        if upto != start
            && let Some(u) = upto
        {
            tx.prepare_cached(
                "INSERT INTO meta (key, value) VALUES ('indexed_upto', ?1) \
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            )
            .and_then(|mut s| s.execute([u as i64]))
            .ctx("updating indexed_upto")?;
            let mut upd = tx
                .prepare_cached(
                    "INSERT INTO kind_counts (kind, n) VALUES (?1, ?2) \
                     ON CONFLICT(kind) DO UPDATE SET n = n + excluded.n",
                )
                .ctx("preparing counter update")?;
            for (kind, n) in &counts {
                upd.execute(params![kind, n]).ctx("updating counters")?;
            }
            let mut wm = tx
                .prepare_cached(
                    "INSERT INTO ts_watermarks (bucket, max_ts, min_ts) VALUES (?1, ?2, ?3) \
                     ON CONFLICT(bucket) DO UPDATE SET max_ts = max(max_ts, excluded.max_ts), \
                     min_ts = min(min_ts, excluded.min_ts)",
                )
                .ctx("preparing watermark update")?;
            for (bucket, max_ts, min_ts) in &watermarks {
                wm.execute([bucket, max_ts, min_ts])
                    .ctx("updating watermarks")?;
            }
        }
        tx.commit().ctx("committing the index transaction")?;
        Ok(())
    }

    /// Searches, newest first by `(@timestamp, id)`. See [`Query`] for the parameters;
    /// invalid ones give [`StoreError::InvalidParam`] naming the parameter.
    ///
    /// Plans: a `user` filter walks the `(user_name, ts)` index (with `q`, the full-text
    /// candidates are materialised as a set first); `q` without `user` reads rare terms'
    /// candidates whole and walks common terms' candidates bucket by bucket, newest buckets
    /// first, stopping early (see `search_fts_newest`). With `q`, every candidate that could make
    /// the page is verified exactly (`FullText`) and rows keep being read until the page has
    /// `limit` hits or there are no more, so pages stay full and cursors exact. Otherwise the `(ts)` index
    /// is walked backwards and the other filters are checked per row (fast for common values, a
    /// long scan for values that are rare in a large index).
    pub fn search(&self, q: &Query) -> Result<Page> {
        let limit = check_limit(q.limit)?;
        let (from, to) = time_range(q.from.as_deref(), q.to.as_deref())?;
        let cursor = non_empty(&q.cursor)
            .map(|c| cursor::decode(Tag::Search, c))
            .transpose()?;
        let fts = non_empty(&q.q).map(fts_query).transpose()?.flatten();

        let mut sql = format!("SELECT {HIT_COLUMNS} FROM events WHERE 1");
        let mut args: Vec<SqlValue> = Vec::new();
        let mut bind = |sql: &mut String, cond: &str, v: SqlValue| {
            args.push(v);
            sql.push_str(&cond.replace('?', &format!("?{}", args.len())));
        };
        if let Some(u) = non_empty(&q.user) {
            bind(&mut sql, " AND user_name = ?", u.to_owned().into());
        }
        if let Some(h) = non_empty(&q.host) {
            bind(&mut sql, " AND host_name = ?", h.to_owned().into());
        }
        if let Some(a) = non_empty(&q.action) {
            bind(&mut sql, " AND action = ?", a.to_owned().into());
        }
        if let Some(k) = non_empty(&q.kind) {
            bind(&mut sql, " AND kind = ?", k.to_owned().into());
        }
        if let Some(p) = non_empty(&q.path) {
            bind(
                &mut sql,
                " AND substr(file_path, 1, ?",
                (p.chars().count() as i64).into(),
            );
            bind(&mut sql, ") = ?", p.to_owned().into());
        }
        if let Some(f) = from {
            bind(&mut sql, " AND ts >= ?", f.into());
        }
        if let Some(t) = to {
            bind(&mut sql, " AND ts < ?", t.into());
        }
        if let Some((cts, cid)) = cursor {
            bind(&mut sql, " AND ts <= ?", cts.into());
            bind(&mut sql, " AND (ts < ?", cts.into());
            bind(&mut sql, " OR id < ?)", (cid as i64).into());
        }
        if let Some(m) = fts {
            if non_empty(&q.user).is_none() {
                let bounds = FtsBounds {
                    from: from.unwrap_or(i64::MIN),
                    to: to.unwrap_or(i64::MAX),
                    cursor_ts: cursor.map_or(i64::MAX, |c| c.0),
                };
                return self.search_fts_newest(&m, &sql, args, limit, bounds);
            }
            // With a user filter the (user_name, ts) index drives and the FTS candidates are a
            // set; candidates are verified as they stream by in order, and the SQL has no
            // effective limit (-1; a bound value, so the plan is the same) because some may fail.
            bind(
                &mut sql,
                " AND id IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)",
                m.fts.clone().into(),
            );
            bind(
                &mut sql,
                " ORDER BY ts DESC, id DESC LIMIT ?",
                (-1i64).into(),
            );
            return self.page(&sql, args, limit, Tag::Search, "q", Some(&m));
        }
        bind(
            &mut sql,
            " ORDER BY ts DESC, id DESC LIMIT ?",
            (limit as i64 + 1).into(),
        );
        self.page(&sql, args, limit, Tag::Search, "q", None)
    }

    /// Full-text search newest first without materialising every match.
    ///
    /// `filter_sql` is a `SELECT <hit columns> FROM events WHERE 1 AND ..` with `args` holding
    /// the other filters (including `from`/`to`/cursor bounds).
    ///
    /// * Rare terms (at most [`FTS_RARE`] matches): all matching ids are read from FTS and the
    ///   filters, order and limit are applied in one statement.
    /// * Common terms: a threshold walk over 1024-id buckets in descending order of their
    ///   maximum `@timestamp` (`ts_watermarks`); each bucket's matches are read with an FTS rowid
    ///   range. It stops when the next bucket's maximum timestamp is below the worst of the
    ///   `limit + 1` best rows kept, so the result is exact newest-first even with late or
    ///   future-dated events, and the cost is O(limit) buckets instead of O(matches).
    fn search_fts_newest(
        &self,
        ft: &FullText,
        filter_sql: &str,
        mut args: Vec<SqlValue>,
        limit: u32,
        bounds: FtsBounds,
    ) -> Result<Page> {
        let keep = limit as usize + 1;
        let n = args.len();
        let ids: Vec<i64> = self
            .conn
            .prepare_cached(
                "SELECT rowid FROM events_fts WHERE events_fts MATCH ?1 ORDER BY rowid DESC LIMIT ?2",
            )
            .and_then(|mut st| {
                st.query_map(params![ft.fts, FTS_RARE + 1], |r| r.get(0))?
                    .collect()
            })
            .map_err(|e| query_err(e, "q"))?;
        if ids.len() as i64 <= FTS_RARE {
            args.push(SqlValue::Text(
                serde_json::to_string(&ids).expect("ids serialize"),
            ));
            // No effective limit: candidates are verified as they come, in order.
            args.push((-1i64).into());
            let sql = format!(
                "{filter_sql} AND id IN (SELECT value FROM json_each(?{})) \
                 ORDER BY ts DESC, id DESC LIMIT ?{}",
                n + 1,
                n + 2
            );
            return self.page(&sql, args, limit, Tag::Search, "q", Some(ft));
        }

        let rows_sql = format!(
            "{filter_sql} AND id IN (SELECT value FROM json_each(?{}))",
            n + 1
        )
        .replacen(&format!("SELECT {HIT_COLUMNS} "), "SELECT ts, id, doc ", 1);
        let mut rows_stmt = self
            .conn
            .prepare_cached(&rows_sql)
            .ctx("preparing a full-text query")?;
        let mut range_stmt = self
            .conn
            .prepare_cached(
                "SELECT rowid FROM events_fts WHERE events_fts MATCH ?1 AND rowid >= ?2 AND rowid < ?3",
            )
            .ctx("preparing a full-text query")?;
        let mut buckets_stmt = self
            .conn
            .prepare_cached(
                "SELECT bucket, max_ts FROM ts_watermarks INDEXED BY ts_watermarks_max \
                 WHERE max_ts >= ?1 AND min_ts < ?2 AND min_ts <= ?3 ORDER BY max_ts DESC",
            )
            .ctx("preparing a watermark scan")?;
        let mut buckets = buckets_stmt
            .query(params![bounds.from, bounds.to, bounds.cursor_ts])
            .ctx("scanning watermarks")?;
        // The `keep` newest verified hits so far, newest first, with their (ts, id).
        let mut best: Vec<((i64, i64), Hit)> = Vec::with_capacity(keep + 1);
        let mut buf = String::new();
        args.push(SqlValue::Null);
        while let Some(row) = buckets.next().ctx("scanning watermarks")? {
            let bucket: i64 = row.get(0).ctx("scanning watermarks")?;
            let max_ts: i64 = row.get(1).ctx("scanning watermarks")?;
            if best.len() == keep && max_ts < best[keep - 1].0.0 {
                break;
            }
            let lo = bucket << WATERMARK_SHIFT;
            let ids: Vec<i64> = range_stmt
                .query_map(params![ft.fts, lo, lo + (1 << WATERMARK_SHIFT)], |r| {
                    r.get(0)
                })
                .and_then(|rows| rows.collect())
                .map_err(|e| query_err(e, "q"))?;
            if ids.is_empty() {
                continue;
            }
            args[n] = SqlValue::Text(serde_json::to_string(&ids).expect("ids serialize"));
            // The cheap check on the JSON text runs here, on the row already read, so most
            // false candidates are dropped without a second lookup or a JSON parse.
            let mut found = rows_stmt
                .query_map(params_from_iter(args.iter()), |r| {
                    if !ft.may_match(r.get_ref(2)?.as_str()?) {
                        return Ok(None);
                    }
                    Ok(Some((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
                })
                .and_then(|rows| {
                    rows.filter_map(|r| r.transpose())
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(|e| query_err(e, "q"))?;
            // Newest first; only candidates that would enter the kept set are read and verified.
            found.sort_unstable_by(|a, b| b.cmp(a));
            for key in found {
                if best.len() == keep && key < best[keep - 1].0 {
                    break;
                }
                let Some(hit) = self.verified_hit(key.1, ft, &mut buf)? else {
                    continue;
                };
                let at = best.partition_point(|(k, _)| *k > key);
                best.insert(at, (key, hit));
                best.truncate(keep);
            }
        }
        let mut events: Vec<Hit> = best.into_iter().map(|(_, h)| h).collect();
        let next_cursor = if events.len() > limit as usize {
            events.truncate(limit as usize);
            events
                .last()
                .map(|h| cursor::encode(Tag::Search, h.timestamp_micros, h.id))
        } else {
            None
        };
        Ok(Page {
            events,
            next_cursor,
        })
    }

    /// Replaces the rows of events whose payload was erased from the ledger (retention period
    /// over) by the same stub a rebuild from the ledger produces (`{"mamori":{"erased":true}}`,
    /// no extracted columns) and removes their full-text postings, with `secure_delete` so the
    /// freed pages are zeroed, then truncates the WAL so no copy of the old pages remains in it.
    /// Ids that are not indexed are an error; the ledger's tombstone is the record of who erased
    /// what and why.
    pub fn redact(&mut self, ids: &[u64]) -> Result<usize> {
        let stub = serde_json::json!({"mamori": {"erased": true}}).to_string();
        self.conn.pragma_update(None, "secure_delete", "ON").ctx("secure_delete")?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx("begin redact")?;
        let mut n = 0;
        for id in ids {
            let id_sql = i64::try_from(*id).map_err(|_| StoreError::IdOutOfRange(*id))?;
            // A contentless FTS5 row is deleted by replaying the exact values it was inserted with
            // (the FTS5 'delete' command), recomputed from the stored document with the same
            // extraction as at index time.
            let doc: Option<String> = tx
                .query_row("SELECT doc FROM events WHERE id = ?1", params![id_sql], |r| r.get(0))
                .optional()
                .ctx("read event for redaction")?;
            let Some(doc) = doc else {
                return Err(StoreError::invalid("ids", format!("event {id} is not in the index")));
            };
            let value: Value = serde_json::from_str(&doc).unwrap_or(Value::Null);
            let mut words = Vec::new();
            extract::index_words(&value, &mut words);
            if !words.is_empty() {
                let mut del = tx.prepare_cached(&fts_delete_sql()).ctx("prepare fts delete")?;
                let mut rest = String::new();
                insert_words(&mut del, id_sql, &words, &mut rest).ctx("delete full text")?;
            }
            let changed = tx
                .execute(
                    "UPDATE events SET doc = ?2, user_name = NULL, host_name = NULL, action = NULL, file_path = NULL WHERE id = ?1",
                    params![id_sql, stub],
                )
                .ctx("redact event")?;
            if changed == 0 {
                return Err(StoreError::invalid("ids", format!("event {id} is not in the index")));
            }
            n += changed;
        }
        // Merge the full-text segments so the deleted ids' postings (which trigrams the erased
        // text contained) are really gone, not only marked deleted. O(index size), but erasure
        // runs rarely, in retention batches.
        tx.execute("INSERT INTO events_fts (events_fts) VALUES ('optimize')", []).ctx("fts optimize")?;
        tx.commit().ctx("commit redact")?;
        self.conn.pragma_update(None, "secure_delete", "OFF").ctx("secure_delete")?;
        self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).ctx("wal checkpoint")?;
        Ok(n)
    }

    /// One person's activity (`user.name` = `user`) in time order, **oldest first** by
    /// `(@timestamp, id)`, optionally bounded by `from` (inclusive) and `to` (exclusive), RFC 3339.
    /// Served entirely by the `(user_name, ts)` index, so a page costs O(limit) regardless of the
    /// index size. `limit` defaults to 100 (max 1000); `cursor` is the previous page's
    /// `next_cursor`.
    pub fn timeline(
        &self,
        user: &str,
        from: Option<&str>,
        to: Option<&str>,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<Page> {
        let crate::backend::TimelinePlan { limit, user, from, to, cursor } =
            crate::backend::TimelinePlan::parse(user, from, to, limit, cursor)?;
        let (cts, cid) = cursor.map_or((i64::MIN, -1), |(t, i)| (t, i as i64));
        // One lower bound for the index range: the later of `from` and the cursor position.
        let lo = from.unwrap_or(i64::MIN).max(cts);
        let sql = format!(
            "SELECT {HIT_COLUMNS} FROM events INDEXED BY events_user_ts \
             WHERE user_name = ?1 AND ts >= ?2 AND ts < ?3 AND (ts > ?4 OR id > ?5) \
             ORDER BY ts, id LIMIT ?6"
        );
        let args: Vec<SqlValue> = vec![
            user.into(),
            lo.into(),
            to.unwrap_or(i64::MAX).into(),
            cts.into(),
            cid.into(),
            (limit as i64 + 1).into(),
        ];
        self.page(&sql, args, limit, Tag::Timeline, "user", None)
    }

    /// Runs a hit query and makes a page of `limit` hits (+1 to know whether there is more).
    /// With `verify`, rows are full-text candidates in final order: each is checked exactly and
    /// rows are read until `limit + 1` pass or the rows run out (the SQL must not cut them off).
    fn page(
        &self,
        sql: &str,
        args: Vec<SqlValue>,
        limit: u32,
        tag: Tag,
        fts_param: &'static str,
        verify: Option<&FullText>,
    ) -> Result<Page> {
        let mut stmt = self.conn.prepare_cached(sql).ctx("preparing a query")?;
        let mut rows = stmt
            .query(params_from_iter(args))
            .map_err(|e| query_err(e, fts_param))?;
        let mut events = Vec::with_capacity(limit as usize + 1);
        let mut buf = String::new();
        while events.len() <= limit as usize {
            let Some(row) = rows.next().map_err(|e| query_err(e, fts_param))? else {
                break;
            };
            if let Some(ft) = verify {
                let text = row
                    .get_ref(4)
                    .and_then(|v| Ok(v.as_str()?))
                    .map_err(|e| query_err(e, fts_param))?;
                if !ft.may_match(text) {
                    continue;
                }
            }
            let hit = read_hit(row).map_err(|e| query_err(e, fts_param))??;
            if let Some(ft) = verify
                && !ft.verify(&hit.doc, &mut buf)
            {
                continue;
            }
            events.push(hit);
        }
        let next_cursor = if events.len() > limit as usize {
            events.truncate(limit as usize);
            events
                .last()
                .map(|h| cursor::encode(tag, h.timestamp_micros, h.id))
        } else {
            None
        };
        Ok(Page {
            events,
            next_cursor,
        })
    }

    /// The event `id` if it is a full-text hit of `ft` (prefilter on the JSON text, then the
    /// exact check on the parsed document).
    fn verified_hit(&self, id: i64, ft: &FullText, buf: &mut String) -> Result<Option<Hit>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {HIT_COLUMNS} FROM events WHERE id = ?1"))
            .ctx("preparing get")?;
        let mut rows = stmt.query([id]).ctx("reading an event")?;
        let Some(row) = rows.next().ctx("reading an event")? else {
            return Err(StoreError::Corrupt {
                id: id as u64,
                reason: "row vanished during a query".into(),
            });
        };
        let text = row
            .get_ref(4)
            .and_then(|v| Ok(v.as_str()?))
            .ctx("reading an event")?;
        if !ft.may_match(text) {
            return Ok(None);
        }
        let hit = read_hit(row).ctx("reading an event")??;
        Ok(ft.verify(&hit.doc, buf).then_some(hit))
    }

    /// One event by ledger id.
    pub fn get(&self, id: u64) -> Result<Option<Hit>> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(None);
        };
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {HIT_COLUMNS} FROM events WHERE id = ?1"))
            .ctx("preparing get")?;
        stmt.query_row([id], read_hit)
            .optional()
            .ctx("reading an event")?
            .transpose()
    }

    /// Counters for /metrics; cheap (reads small counter tables, not the events).
    pub fn stats(&self) -> Result<Stats> {
        let mut stats = Stats {
            indexed_upto: self.indexed_upto()?,
            ..Stats::default()
        };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT kind, n FROM kind_counts")
            .ctx("preparing stats")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .ctx("reading stats")?;
        for r in rows {
            let (kind, n) = r.ctx("reading stats")?;
            stats.total += n as u64;
            stats.by_kind.insert(kind, n as u64);
        }
        stats.quarantine_total = stats
            .by_kind
            .get(EventKind::Quarantine.as_str())
            .copied()
            .unwrap_or(0);
        stats.quarantine_pending = self
            .conn
            .prepare_cached("SELECT count(*) FROM quarantine WHERE new_ids IS NULL")
            .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
            .ctx("counting pending quarantine")? as u64;
        Ok(stats)
    }

    /// Quarantined records, newest (highest id) first; `pending_only` leaves out re-ingested ones.
    pub fn list_quarantine(
        &self,
        limit: Option<u32>,
        cursor: Option<&str>,
        pending_only: bool,
    ) -> Result<QuarantinePage> {
        let limit = check_limit(limit)?;
        let before = match cursor.filter(|c| !c.is_empty()) {
            Some(c) => cursor::decode(Tag::Quarantine, c)?.1 as i64,
            None => i64::MAX,
        };
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT e.id, e.ts, e.ingested, e.kind, e.doc, q.reason, q.source, q.admin_event, q.new_ids \
                 FROM quarantine q JOIN events e ON e.id = q.id \
                 WHERE q.id < ?1 AND (?2 = 0 OR q.new_ids IS NULL) ORDER BY q.id DESC LIMIT ?3",
            )
            .ctx("preparing quarantine list")?;
        let rows = stmt
            .query_map(
                params![before, pending_only as i64, limit as i64 + 1],
                |r| {
                    let hit = read_hit(r)?;
                    let reason: Option<String> = r.get(5)?;
                    let source: Option<String> = r.get(6)?;
                    let admin: Option<i64> = r.get(7)?;
                    let new_ids: Option<String> = r.get(8)?;
                    Ok((hit, reason, source, admin, new_ids))
                },
            )
            .ctx("listing quarantine")?;
        let mut items = Vec::new();
        for r in rows {
            let (hit, reason, source, admin, new_ids) = r.ctx("listing quarantine")?;
            let hit = hit?;
            let reingested = match new_ids {
                None => None,
                Some(s) => Some(Reingest {
                    admin_event_id: admin.map(|a| a as u64),
                    new_ids: serde_json::from_str(&s).map_err(|e| StoreError::Corrupt {
                        id: hit.id,
                        reason: format!("new_ids: {e}"),
                    })?,
                }),
            };
            items.push(QuarantineItem {
                hit,
                reason,
                source,
                reingested,
            });
        }
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items
                .last()
                .map(|i| cursor::encode(Tag::Quarantine, 0, i.hit.id))
        } else {
            None
        };
        Ok(QuarantinePage { items, next_cursor })
    }

    /// Marks a quarantined record re-ingested as `new_ids`. Returns whether `quarantine_id` is an
    /// indexed quarantine record.
    ///
    /// This is derived index state only and is lost on a rebuild: the ledger is the truth. The
    /// normal path is a ledger Admin event `{"mamori":{"reingest":{"quarantine_id":n,"new_ids":[..]}}}`,
    /// which [`Store::index_batch`] applies by itself; use this only for state the ledger also
    /// records.
    pub fn mark_reingested(&mut self, quarantine_id: u64, new_ids: &[u64]) -> Result<bool> {
        let id = id_to_sql(quarantine_id)?;
        let ids = serde_json::to_string(new_ids).expect("serializing ids cannot fail");
        let n = self
            .conn
            .prepare_cached(MARK_REINGESTED)
            .and_then(|mut s| s.execute(params![id, Option::<i64>::None, ids]))
            .ctx("marking a quarantine record re-ingested")?;
        Ok(n > 0)
    }

    /// Checkpoints and truncates the WAL (e.g. after a bulk rebuild, or before measuring size).
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .ctx("checkpointing the WAL")
    }
}

/// Binds one event's index words to the FTS insert (one word per column, the rest joined in
/// the last column, unused columns NULL) and runs it.
fn insert_words(
    stmt: &mut rusqlite::CachedStatement<'_>,
    id: i64,
    words: &[&str],
    rest: &mut String,
) -> rusqlite::Result<()> {
    stmt.clear_bindings();
    stmt.raw_bind_parameter(1, id)?;
    for (c, w) in words.iter().enumerate().take(FTS_COLUMNS) {
        if c + 1 == FTS_COLUMNS && words.len() > FTS_COLUMNS {
            rest.clear();
            rest.push_str(&words[c..].join(" "));
            stmt.raw_bind_parameter(c + 2, rest.as_str())?;
        } else {
            stmt.raw_bind_parameter(c + 2, *w)?;
        }
    }
    stmt.raw_execute()?;
    Ok(())
}

fn query_err(e: rusqlite::Error, fts_param: &'static str) -> StoreError {
    // User text is quoted before it reaches FTS5, so this is a safety net only.
    if e.to_string().contains("fts5") {
        StoreError::invalid(fts_param, format!("full-text query rejected: {e}"))
    } else {
        StoreError::Sqlite {
            context: "running a query",
            source: e,
        }
    }
}

fn apply_reingest(conn: &Connection, admin_id: u64, re: &Value) -> Result<()> {
    let Some(qid) = re.get("quarantine_id").and_then(Value::as_u64) else {
        tracing::warn!(
            admin_id,
            "admin event has mamori.reingest without a numeric quarantine_id; ignored"
        );
        return Ok(());
    };
    let new_ids: Vec<u64> = re
        .get("new_ids")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let ids = serde_json::to_string(&new_ids).expect("serializing ids cannot fail");
    let n = conn
        .prepare_cached(MARK_REINGESTED)
        .and_then(|mut s| {
            s.execute(params![
                i64::try_from(qid).unwrap_or(-1),
                admin_id as i64,
                ids
            ])
        })
        .ctx("marking a quarantine record re-ingested")?;
    if n == 0 {
        tracing::warn!(
            admin_id,
            quarantine_id = qid,
            "re-ingest refers to an id that is not an indexed quarantine record"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(store: &Store, sql: &str, args: &[SqlValue]) -> String {
        let mut st = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let rows = st
            .query_map(params_from_iter(args.iter()), |r| r.get::<_, String>(3))
            .unwrap();
        rows.map(|r| r.unwrap()).collect::<Vec<_>>().join(" | ")
    }

    #[test]
    fn fts_query_quotes_terms_and_rejects_short_ones() {
        let f = fts_query("住民基本台帳").unwrap().unwrap();
        assert_eq!(
            f.fts,
            "\"住民基\" AND \"民基本\" AND \"基本台\" AND \"本台帳\""
        );
        assert_eq!(f.terms, ["住民基本台帳"]);
        let f = fts_query(" ABC  d\"ef abc aaaa").unwrap().unwrap();
        assert_eq!(
            f.fts, "\"ABC\" AND \"d\"\"e\" AND \"\"\"ef\" AND \"abc\" AND \"aaa\"",
            "distinct trigrams, quoted"
        );
        assert_eq!(f.terms, ["abc", "d\"ef", "aaaa"], "folded, distinct");
        assert!(fts_query("   ").unwrap().is_none());
        assert!(matches!(
            fts_query("abc ab"),
            Err(StoreError::InvalidParam { param: "q", .. })
        ));
    }

    #[test]
    fn hot_queries_use_the_intended_indexes_without_sorting() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("p.db")).unwrap();
        let user_search = format!(
            "SELECT {HIT_COLUMNS} FROM events WHERE 1 AND user_name = ?1 AND ts <= ?2 AND (ts < ?2 OR id < ?3) \
             ORDER BY ts DESC, id DESC LIMIT 101"
        );
        let p = plan(
            &store,
            &user_search,
            &["u".to_owned().into(), 1i64.into(), 1i64.into()],
        );
        assert!(
            p.contains("events_user_ts") && !p.contains("TEMP B-TREE"),
            "{p}"
        );
        let newest = format!(
            "SELECT {HIT_COLUMNS} FROM events WHERE 1 AND host_name = ?1 ORDER BY ts DESC, id DESC LIMIT 101"
        );
        let p = plan(&store, &newest, &["h".to_owned().into()]);
        assert!(p.contains("events_ts") && !p.contains("TEMP B-TREE"), "{p}");
        let timeline = format!(
            "SELECT {HIT_COLUMNS} FROM events INDEXED BY events_user_ts \
             WHERE user_name = ?1 AND ts >= ?2 AND ts < ?3 AND (ts > ?4 OR id > ?5) ORDER BY ts, id LIMIT ?6"
        );
        let args: Vec<SqlValue> = vec![
            "u".to_owned().into(),
            0i64.into(),
            9i64.into(),
            0i64.into(),
            0i64.into(),
            5i64.into(),
        ];
        let p = plan(&store, &timeline, &args);
        assert!(
            p.contains("events_user_ts (user_name=? AND ts>? AND ts<?)")
                && !p.contains("TEMP B-TREE"),
            "{p}"
        );
    }
}
