//! Typed errors of the index.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything that can go wrong in the index.
///
/// [`StoreError::InvalidParam`] is the only variant caused by caller input (a query parameter);
/// an HTTP layer should answer it with 400 and the message. Everything else is a server-side
/// problem (500), except [`StoreError::Gap`], which means the follower fed events out of order.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or configured.
    #[error("opening index database {}: {source}", path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// The underlying SQLite error.
        #[source]
        source: rusqlite::Error,
    },

    /// The database was written by a different (usually newer) version of mamori.
    #[error(
        "index database {} has schema version {found}, this build supports only version {supported}; \
         it is a rebuildable cache: delete it (Store::remove_files) and let it be rebuilt from the ledger",
        path.display()
    )]
    UnsupportedSchema {
        /// The database file.
        path: PathBuf,
        /// The version recorded in the database.
        found: i64,
        /// The version this build understands.
        supported: i64,
    },

    /// A read-only open found a file that is not an initialised mamori index.
    #[error("{} is not an initialised mamori index database (no schema version recorded)", path.display())]
    NotInitialised {
        /// The database file.
        path: PathBuf,
    },

    /// A batch was not contiguous with what is already indexed: a bug in the follower.
    #[error(
        "non-contiguous index batch: index holds events up to {indexed_upto:?}, so the next id must be \
         {expected}, but got {got}"
    )]
    Gap {
        /// The highest id already indexed (`None` for an empty index).
        indexed_upto: Option<u64>,
        /// The id that had to come next.
        expected: u64,
        /// The id that came instead.
        got: u64,
    },

    /// An event id does not fit SQLite's signed 64-bit integer.
    #[error("event id {0} is out of range (ids must be < 2^63)")]
    IdOutOfRange(u64),

    /// A caller-supplied query parameter is invalid.
    #[error("invalid parameter `{param}`: {reason}")]
    InvalidParam {
        /// The name of the parameter, as in [`crate::Query`] (`from`, `to`, `cursor`, `q`, `limit` …).
        param: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// A SQLite statement failed.
    #[error("index database error while {context}: {source}")]
    Sqlite {
        /// What the store was doing.
        context: &'static str,
        /// The underlying SQLite error.
        #[source]
        source: rusqlite::Error,
    },

    /// A row in the database could not be decoded (e.g. the stored document is not JSON).
    #[error("corrupt index row {id}: {reason}")]
    Corrupt {
        /// The event id of the row.
        id: u64,
        /// What is wrong with it.
        reason: String,
    },

    /// An external index backend (e.g. ClickHouse, see [`crate::IndexBackend`]) failed or
    /// could not be reached. Not caller input: answer with 500 (or 503 while it is down).
    #[error("index backend {backend} failed while {context}: {reason}")]
    Backend {
        /// Which backend (`"clickhouse"` …).
        backend: &'static str,
        /// What the store was doing.
        context: String,
        /// What went wrong (the backend's own message).
        reason: String,
    },

    /// A file operation (removing the database files) failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was attempted.
        op: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    /// Whether the error was caused by invalid caller input (answer with HTTP 400).
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, StoreError::InvalidParam { .. })
    }

    /// An [`StoreError::InvalidParam`], for backends outside this crate that validate the
    /// same parameters.
    pub fn invalid_param(param: &'static str, reason: impl Into<String>) -> Self {
        Self::invalid(param, reason)
    }

    pub(crate) fn invalid(param: &'static str, reason: impl Into<String>) -> Self {
        StoreError::InvalidParam {
            param,
            reason: reason.into(),
        }
    }
}

/// Attaches a context string to a rusqlite result.
pub(crate) trait SqlContext<T> {
    fn ctx(self, context: &'static str) -> Result<T>;
}

impl<T> SqlContext<T> for std::result::Result<T, rusqlite::Error> {
    fn ctx(self, context: &'static str) -> Result<T> {
        self.map_err(|source| StoreError::Sqlite { context, source })
    }
}
