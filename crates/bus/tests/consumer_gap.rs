//! A durable consumer whose JetStream state is ahead of its sink still delivers every record.
//!
//! This is the state a SIGKILLed nats-server can leave behind (the consumer's delivered
//! sequence survives, the stream's unsynced tail does not and is re-published under sequence
//! numbers the consumer counts as done): the records the sink needs are in the stream, but not
//! in the durable consumer's future. Here it is made deterministically by creating the durable
//! consumer to start after the stream's first frame. Before the fix the consumer held the later
//! frames and waited for record 0 for ever (filling max_ack_pending); now it waits
//! `gap_timeout`, re-reads the stream from the start and catches up.

mod common;
use common::wait_until;

use std::time::Duration;

use async_nats::jetstream::{self, consumer::DeliverPolicy};
use mamori_bus::local::NatsServer;
use mamori_bus::{BusConfig, Consumer, IndexSink, Publisher, ensure_stream};
use mamori_ledger::{CheckpointSigner, EntryKind, Ledger, LedgerConfig, NewEntry};
use mamori_store::Store;
use mamori_tenant::TenantId;

#[test]
fn consumer_ahead_of_its_sink_rereads_the_stream_and_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&dir.path().join("nats")).expect("start nats-server");
    let (signer, _) = CheckpointSigner::generate("test.lg.jp/hiraizumi").unwrap();
    let ledger = Ledger::open(LedgerConfig::new(dir.path().join("ledger"), signer)).unwrap();
    let tenant = TenantId::new("hiraizumi").unwrap();
    let cfg = BusConfig {
        max_frame_bytes: 4 << 10,
        gap_timeout: Duration::from_secs(1),
        ..BusConfig::new(&nats.url())
    };

    let total = 300u64;
    let entries = (0..total)
        .map(|i| NewEntry {
            kind: EntryKind::Event,
            payload: format!(r#"{{"message":"event number {i}","user":{{"name":"u{i}"}}}}"#)
                .into_bytes(),
        })
        .collect();
    ledger.append_blocking(entries).unwrap();
    let publisher = Publisher::spawn(ledger.clone(), cfg.clone(), tenant.clone());
    wait_until("the publisher", Duration::from_secs(60), || {
        publisher.published() == total
    });
    publisher.stop();

    // The durable consumer already "delivered" stream message 1 (records 0..k), which the
    // sink never saw.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let frames = rt.block_on(async {
        let js = jetstream::new(async_nats::connect(nats.url()).await.unwrap());
        let mut stream = ensure_stream(&js, &cfg).await.unwrap();
        let frames = stream.info().await.unwrap().state.messages;
        let first = stream.get_raw_message(1).await.unwrap();
        let recs = mamori_bus::decode_frame(&first.payload).unwrap();
        assert_eq!(recs[0].id, 0, "stream message 1 starts the ledger");
        assert!(
            (recs.len() as u64) < total,
            "the ledger spans several frames"
        );
        stream
            .create_consumer(jetstream::consumer::pull::Config {
                durable_name: Some("index-hiraizumi".into()),
                filter_subject: cfg.subject(&tenant),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: 2 },
                ..Default::default()
            })
            .await
            .unwrap();
        frames
    });
    assert!(frames >= 3, "{frames} frames");

    let index_path = dir.path().join("index.db");
    let consumer = Consumer::spawn(
        cfg.clone(),
        tenant.clone(),
        "index-hiraizumi",
        IndexSink::new(Store::open(&index_path).unwrap()),
    );
    let reader = Store::open_read_only(&index_path).unwrap();
    wait_until("the indexer to catch up", Duration::from_secs(120), || {
        reader.indexed_upto().unwrap() == Some(total - 1)
    });
    let sink = consumer.stop();
    assert_eq!(
        sink.backend.stats().unwrap().total,
        total,
        "each record once"
    );
    for id in [0, 1, total / 2, total - 1] {
        let hit = reader
            .get(id)
            .unwrap()
            .unwrap_or_else(|| panic!("event {id} missing"));
        assert_eq!(hit.doc["message"], format!("event number {id}"));
    }
    ledger.close();
}
