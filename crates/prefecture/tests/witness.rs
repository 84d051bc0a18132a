//! The prefecture witnesses every city's checkpoints: each new checkpoint of a city is cosigned
//! with the prefecture's witness key (the city's own `verify` accepts it as a trusted witness);
//! a city whose ledger is rolled back to an older copy, and then forked (different entries
//! past the cosigned size), is refused — alarms in the prefecture's health and ledger, no
//! cosignature — while the other city goes on being cosigned.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mamori_ledger::storage::FsTileStore;
use mamori_ledger::verify::{VerifyOptions, verify_log};
use mamori_ledger::{EntryKind, NewEntry};
use mamori_prefecture::{Prefecture, TenantId, city_dir, init_city, init_prefecture, router};
use mamori_store_clickhouse::local::LocalServer;
use mamori_store_clickhouse::{Config, schema};
use serde_json::Value;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}

fn append(p: &Prefecture, t: &TenantId, n: usize, tag: &str) {
    let c = p.city(t).unwrap();
    let entries = (0..n)
        .map(|i| NewEntry {
            kind: EntryKind::Event,
            payload: serde_json::json!({
                "@timestamp": "2024-05-01T09:00:00+09:00",
                "user": {"name": "tanaka"},
                "event": {"action": "file-read"},
                "message": format!("{tag} {i}"),
            })
            .to_string()
            .into_bytes(),
        })
        .collect();
    c.ledger.append_blocking(entries).unwrap();
}

/// Waits until the city's whole ledger is checkpointed and that checkpoint cosigned by the
/// prefecture; returns its size.
fn wait_cosigned(p: &Prefecture, t: &TenantId) -> u64 {
    let c = p.city(t).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let size = c.ledger.durable_size();
        let cp = c.ledger.checkpoint();
        if cp.size == size && c.witness.status().cosigned_size == size {
            let note = String::from_utf8_lossy(&cp.note).into_owned();
            if note.contains("iwate.lg.jp/prefecture/witness") {
                return size;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{t}: not cosigned: ledger {size}, checkpoint {}, status {:?}",
            cp.size,
            c.witness.status()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_alarm(p: &Prefecture, t: &TenantId, kind: &str) -> mamori_prefecture::witness::Alarm {
    let c = p.city(t).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(a) = c.witness.status().alarm
            && a.kind == kind
        {
            return a;
        }
        assert!(
            Instant::now() < deadline,
            "{t}: no {kind} alarm: {:?}",
            c.witness.status()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn verify(root: &Path, t: &TenantId, witness_vkeys: &[String]) -> Result<Vec<String>, String> {
    let d = city_dir(root, t);
    let vkey = std::fs::read_to_string(d.join("keys/log.vkey")).unwrap();
    let opts = VerifyOptions {
        log_vkey: vkey.trim().to_owned(),
        previous_log_vkeys: Vec::new(),
        witness_vkeys: witness_vkeys.to_vec(),
        trusted_checkpoint: None,
        payload_dir: Some(d.join("ledger/wal")),
    };
    verify_log(&FsTileStore::new(d.join("ledger")), &opts)
        .map(|r| r.witnesses)
        .map_err(|e| e.to_string())
}

fn health(p: &Arc<Prefecture>, token: &str) -> Value {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = router(p.clone());
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let token = token.to_owned();
        let v = tokio::task::spawn_blocking(move || {
            let r = reqwest::blocking::Client::new()
                .get(format!("http://{addr}/prefecture/api/v1/health"))
                .bearer_auth(token)
                .send()
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().unwrap()
        })
        .await
        .unwrap();
        server.abort();
        v
    })
}

fn city_health<'a>(h: &'a Value, t: &str) -> &'a Value {
    h["cities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["tenant"] == t)
        .unwrap()
}

#[test]
fn prefecture_cosigns_every_city_and_refuses_a_rolled_back_or_forked_city() {
    let dir = tempfile::tempdir().unwrap();
    let ch = LocalServer::start(&dir.path().join("ch"), None).expect("start clickhouse-server");
    let cfg = Config::single(&ch.url());
    schema::create_single(&cfg).unwrap();
    let root = dir.path().join("pref");
    let created = init_prefecture(&root, "iwate.lg.jp").unwrap();
    let wkey = created.witness_vkey.clone();
    assert!(
        wkey.starts_with("iwate.lg.jp/prefecture/witness+"),
        "{wkey}"
    );
    let a = TenantId::new("kamaishi").unwrap();
    let b = TenantId::new("miyako").unwrap();
    init_city(&root, "iwate.lg.jp", &a).unwrap();
    init_city(&root, "iwate.lg.jp", &b).unwrap();
    let cities = [a.clone(), b.clone()];
    // A closed prefecture's ledgers are unlocked once the last thread holding them (a city's
    // detector notices its end within a poll) let go: retry briefly.
    let open = || {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match Prefecture::open(&root, &cities, cfg.clone()) {
                Ok(p) => return Arc::new(p),
                Err(e) if Instant::now() < deadline && e.to_string().contains("in use") => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("{e}"),
            }
        }
    };

    // 1. Both cities' checkpoints are cosigned; their own verify accepts the prefecture's key
    //    as a required witness (and refuses a witness that never cosigned).
    let p = open();
    assert_eq!(p.witness_vkey(), wkey);
    let pref_token = p
        .create_token(None, "pref-auditor", mamori_auth::Role::Auditor, "test")
        .unwrap();
    append(&p, &a, 5, "first");
    append(&p, &b, 3, "miyako");
    let s1 = wait_cosigned(&p, &a);
    wait_cosigned(&p, &b);
    p.close();
    drop(p);
    let w = verify(&root, &a, std::slice::from_ref(&wkey)).unwrap();
    assert_eq!(w, vec!["iwate.lg.jp/prefecture/witness".to_owned()]);
    verify(&root, &b, std::slice::from_ref(&wkey)).unwrap();
    let (other, _) = mamori_ledger::Cosigner::generate("iwate.lg.jp/other/witness");
    assert!(verify(&root, &a, &[other.vkey()]).is_err());
    // The witness state is persisted per city.
    assert!(
        root.join("prefecture/witness/cities/kamaishi.json")
            .exists()
    );
    assert!(root.join("prefecture/witness/cities/miyako.json").exists());

    // 2. An old copy of kamaishi is kept; kamaishi grows and is cosigned at the larger size.
    let backup = dir.path().join("kamaishi-backup");
    copy_dir(&city_dir(&root, &a), &backup);
    let p = open();
    append(&p, &a, 7, "second");
    let s2 = wait_cosigned(&p, &a);
    assert!(s2 > s1);
    p.close();
    drop(p);

    // 3. Roll back: the old copy is put back. The prefecture refuses it.
    std::fs::remove_dir_all(city_dir(&root, &a)).unwrap();
    copy_dir(&backup, &city_dir(&root, &a));
    let p = open();
    let alarm = wait_alarm(&p, &a, "rollback");
    assert_eq!(alarm.status, 409);
    assert_eq!(alarm.witnessed_size, s2);
    assert_eq!(alarm.checkpoint_size, s1);
    // Visible in the prefecture's health; the other city is still cosigned.
    append(&p, &b, 2, "miyako-more");
    let sb = wait_cosigned(&p, &b);
    let h = health(&p, &pref_token);
    assert_eq!(h["witness"]["vkey"], wkey.as_str());
    assert_eq!(
        h["witness"]["refused_cities"],
        serde_json::json!(["kamaishi"])
    );
    assert!(h["witness"]["alarms"].as_u64().unwrap() >= 1, "{h}");
    let ha = city_health(&h, "kamaishi");
    assert_eq!(ha["witness"]["alarm"]["kind"], "rollback", "{h}");
    assert_eq!(ha["witness"]["cosigned_size"], s2);
    let hb = city_health(&h, "miyako");
    assert!(hb["witness"]["alarm"].is_null(), "{h}");
    assert_eq!(hb["witness"]["cosigned_size"], sb);

    // 4. Fork: the rolled-back city takes other entries past the cosigned size. Its new
    //    checkpoints do not extend what the prefecture cosigned: refused, never cosigned.
    append(&p, &a, 10, "forked");
    let alarm = wait_alarm(&p, &a, "inconsistent");
    assert_eq!(alarm.status, 422);
    assert!(alarm.checkpoint_size > s2, "{alarm:?}");
    assert_eq!(p.city(&a).unwrap().witness.status().cosigned_size, s2);
    let h = health(&p, &pref_token);
    assert_eq!(
        city_health(&h, "kamaishi")["witness"]["alarm"]["kind"],
        "inconsistent"
    );
    // Both alarms are in the prefecture's own ledger, with the refused checkpoints.
    let pl = p.ledger().clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    let kinds = loop {
        let recs =
            mamori_ledger::engine::read_records(pl.dir(), 0, pl.durable_size(), 10_000).unwrap();
        let kinds: Vec<String> = recs
            .iter()
            .map(mamori_server::indexer::doc_of)
            .filter(|d| d.pointer("/event/action") == Some(&Value::from("witness-alarm")))
            .map(|d| {
                assert_eq!(d["mamori"]["witness_alarm"]["tenant"], "kamaishi");
                assert!(
                    d["mamori"]["witness_alarm"]["refused_checkpoint"]
                        .as_str()
                        .unwrap()
                        .starts_with("iwate.lg.jp/kamaishi\n")
                );
                d["mamori"]["witness_alarm"]["alarm"]["kind"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        if kinds.len() >= 2 || Instant::now() > deadline {
            break kinds;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(kinds, vec!["rollback", "inconsistent"]);
    p.close();
    drop(p);
    // The forked city's current checkpoint carries no prefecture cosignature.
    let e = verify(&root, &a, std::slice::from_ref(&wkey)).unwrap_err();
    assert!(e.contains("cosignature"), "{e}");
    verify(&root, &b, std::slice::from_ref(&wkey)).unwrap();
}
