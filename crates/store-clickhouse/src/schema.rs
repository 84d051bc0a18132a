//! Table definitions (ClickHouse 18.16 and later).
//!
//! * Events: one row per (tenant, ledger id), sorted by `(tenant, ts, id)` so each tenant's
//!   newest-first search and time ranges read a contiguous key range; partitioned by the
//!   month the ledger accepted the event (`ingested`), so retention tiers drop or move whole
//!   months (docs/scale.md) and a batch touches one or two partitions.
//! * Progress: per tenant, the last ledger id of each inserted batch (see the crate docs).

/// The columns of the events table.
pub const EVENT_COLUMNS: &str = "
    tenant String,
    id UInt64,
    ts Int64,
    ingested Int64,
    kind String,
    user_name Nullable(String),
    host_name Nullable(String),
    action Nullable(String),
    file_path Nullable(String),
    q_reason Nullable(String),
    q_source Nullable(String),
    reingest_of Int64,
    reingest_new_ids String,
    body String,
    doc String";

/// `CREATE TABLE IF NOT EXISTS name (...) ENGINE = engine ...` for an events table;
/// `engine` is `MergeTree` or e.g.
/// `ReplicatedMergeTree('/clickhouse/tables/{shard}/mamori_events', '{replica}')`.
pub fn events_table(name: &str, engine: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {name} ({EVENT_COLUMNS}) ENGINE = {engine} \
         PARTITION BY toYYYYMM(toDateTime(intDiv(ingested, 1000000))) \
         ORDER BY (tenant, ts, id) SETTINGS index_granularity = 8192"
    )
}

/// A Distributed table `name` over `local` in `database` on `cluster`, sharded by tenant and
/// id (each tenant's rows spread evenly over all shards, so every city's queries use every node).
pub fn distributed_table(name: &str, cluster: &str, database: &str, local: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {name} ({EVENT_COLUMNS}) \
         ENGINE = Distributed({cluster}, {database}, {local}, cityHash64(tenant, id))"
    )
}

/// The progress table.
pub fn progress_table(name: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {name} (tenant String, upto UInt64, at DateTime DEFAULT now()) \
         ENGINE = ReplacingMergeTree(upto) ORDER BY tenant"
    )
}

/// Creates the single-node layout of [`crate::Config::single`] at `cfg`.
pub fn create_single(cfg: &crate::Config) -> mamori_store::Result<()> {
    let c = crate::Client::new(&cfg.url, &cfg.database, cfg.timeout)?;
    c.exec(
        "creating the events table",
        &events_table(&cfg.table, "MergeTree"),
    )?;
    c.exec(
        "creating the progress table",
        &progress_table(&cfg.progress_table),
    )?;
    Ok(())
}
