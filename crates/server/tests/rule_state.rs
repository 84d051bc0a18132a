//! The rules' state snapshot lags the high-water mark (it is saved every N records or 10 s, not
//! per batch): a restart loads the snapshot and replays the records after it through the rules,
//! so state learnt from those records is not lost. Here kamaishi_proxy must remember a register
//! read that came after the snapshot to flag the mail that follows the restart.

mod common;

use common::init;
use mamori_ledger::{EntryKind, NewEntry};
use mamori_server::DataDir;
use mamori_server::detection::{Detection, alerts_path, open_db};
use serde_json::json;

const ROSTER: &str = "職員番号,氏名,氏名カナ,所属コード,所属名,職名,発令日,異動区分,退職日,アカウント
1002,佐藤 花子,サトウ ハナコ,2010,市民課,主査,2008/4/1,採用,,sato.h@city.example.lg.jp
1001,山田 太郎,ヤマダ タロウ,3010,建設課,主事,2008/4/1,採用,,yamada.t@city.example.lg.jp
";

fn append_and_detect(root: &std::path::Path, doc: serde_json::Value) -> Vec<String> {
    let dir = DataDir::new(root);
    let opened = dir.open().expect("open");
    opened.ledger.append_blocking(vec![NewEntry { kind: EntryKind::Event, payload: serde_json::to_vec(&doc).unwrap() }]).unwrap();
    dir.index_now(&opened.ledger).unwrap();
    let det = Detection::start(&dir, &opened.ledger).expect("detector");
    let rules: Vec<String> = det.list(None, None, 100).unwrap().into_iter().map(|a| a.rule_id).collect();
    drop(det);
    opened.ledger.close();
    rules
}

fn state_next(root: &std::path::Path) -> (u64, u64) {
    let db = open_db(&alerts_path(&DataDir::new(root))).unwrap();
    let get = |k: &str| db.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get::<_, String>(0)).unwrap().parse::<u64>().unwrap();
    (get("state_next"), get("next"))
}

#[test]
fn restart_replays_the_records_after_the_state_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("d");
    init(&root, "state.example.lg.jp/audit", None);
    let dir = DataDir::new(&root);
    std::thread::scope(|s| s.spawn(|| dir.import_roster("hr", "roster.csv", ROSTER.as_bytes())).join().unwrap()).unwrap();
    std::fs::create_dir_all(root.join("rules")).unwrap();
    std::fs::write(root.join("rules/municipal.toml"), "[[entitlement]]\ndepartment = \"2010\"\nresource = \"share:juki\"\n").unwrap();

    // 1. A snapshot after an unrelated event (every record snapshots).
    // SAFETY: the only test in this binary; no other thread reads the environment.
    unsafe { std::env::set_var("MAMORI_DETECT_STATE_EVERY_RECORDS", "1") };
    let quiet = json!({"@timestamp": "2018-11-01T00:30:00Z", "user": {"name": "sato.h"}, "event": {"action": "logon", "type": ["start"]}});
    append_and_detect(&root, quiet);
    let (snap, next) = state_next(&root);
    assert_eq!(snap, next);

    // 2. The register read: evaluated, but no new snapshot.
    unsafe { std::env::set_var("MAMORI_DETECT_STATE_EVERY_RECORDS", "1000000") };
    let read = json!({"@timestamp": "2018-11-01T01:00:00Z", "user": {"name": "sato.h"}, "event": {"action": "file-read", "type": ["access"]}, "mamori": {"share": "juki"}, "file": {"path": "/台帳/juki_20181101.csv", "name": "juki_20181101.csv"}});
    append_and_detect(&root, read);
    let (snap2, next2) = state_next(&root);
    assert_eq!(snap2, snap, "no snapshot for the read");
    assert!(next2 > snap2, "the high-water mark is past the snapshot");

    // 3. After a restart, the mail to a colleague without register access: the read (after the
    //    snapshot) must have been replayed into the rule's memory.
    let mail = json!({"@timestamp": "2018-11-01T02:00:00Z", "event": {"kind": "event", "category": ["email"], "action": "mail-message", "dataset": "postfix.message"}, "email": {"from": {"address": "sato.h@city.example.lg.jp"}, "to": {"address": ["yamada.t@city.example.lg.jp"]}, "direction": "outbound", "attachments": [{"file": {"name": "juki_20181101.csv"}}]}});
    let rules = append_and_detect(&root, mail);
    assert!(rules.iter().any(|r| r == "kamaishi_proxy"), "{rules:?}");

    // The same alerts after a rebuild from the ledger alone.
    for f in ["alerts.db", "alerts.db-wal", "alerts.db-shm"] {
        let _ = std::fs::remove_file(root.join("index").join(f));
    }
    let dir = DataDir::new(&root);
    let opened = dir.open().unwrap();
    let det = Detection::start(&dir, &opened.ledger).unwrap();
    let again: Vec<String> = det.list(None, None, 100).unwrap().into_iter().map(|a| a.rule_id).collect();
    drop(det);
    opened.ledger.close();
    assert_eq!(again, rules);
}
