//! One test suite, two backends: the embedded SQLite index and ClickHouse (a private
//! clickhouse-server started on 127.0.0.1) index the same events and must answer every query
//! of the suite as the reference computed from the events does, and identically to each other.

mod common;

use mamori_store::{IndexBackend, Store};
use mamori_store_clickhouse::{ClickHouseStore, Config, Windows, local::LocalServer, schema};
use mamori_tenant::TenantId;

fn run<B: IndexBackend>(b: &mut B, salt: &str) -> Vec<String> {
    let docs = common::corpus(400, salt);
    common::index_corpus(b, &docs, 64);
    common::check_queries(b, &docs, salt)
}

#[test]
fn sqlite_and_clickhouse_give_the_same_results() {
    let dir = tempfile::tempdir().unwrap();
    let mut sqlite = Store::open(&dir.path().join("index.db")).unwrap();
    let from_sqlite = run(&mut sqlite, "");

    let server = LocalServer::start(&dir.path().join("ch"), None).expect("start clickhouse-server");
    let cfg = Config::single(&server.url());
    schema::create_single(&cfg).unwrap();
    let mut ch = ClickHouseStore::open(cfg.clone(), TenantId::new("kamaishi").unwrap()).unwrap();
    let from_clickhouse = run(&mut ch, "");
    assert_eq!(from_sqlite.len(), from_clickhouse.len());
    for (a, b) in from_sqlite.iter().zip(&from_clickhouse) {
        assert_eq!(a, b);
    }

    // Pages read in many tiny time windows (1 s, ×2; the corpus spans ~2 minutes with equal and
    // out-of-order timestamps) and in one query (windows off) give the same results too.
    for (tenant, windows) in [
        (
            "kamaishi-w",
            Windows {
                first_micros: 1_000_000,
                growth: 2,
            },
        ),
        (
            "kamaishi-1",
            Windows {
                first_micros: 0,
                growth: 8,
            },
        ),
    ] {
        let cfg = Config {
            windows,
            ..cfg.clone()
        };
        let mut b = ClickHouseStore::open(cfg, TenantId::new(tenant).unwrap()).unwrap();
        let got = run(&mut b, "");
        assert_eq!(got, from_sqlite, "{tenant}: {windows:?}");
    }

    // A reopened store (a restarted indexer) resumes from the recorded progress.
    drop(ch);
    let ch = ClickHouseStore::open(cfg, TenantId::new("kamaishi").unwrap()).unwrap();
    assert_eq!(ch.indexed_upto().unwrap(), Some(399));
}
