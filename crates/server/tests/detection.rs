//! Streaming detection end to end: events ingested over HTTP → alert in `GET /api/v1/alerts`
//! with evidence ids, verified inclusion proofs, person and department at the event's date;
//! triage and close are ledgered admin entries; a restart, and a rebuild from the ledger alone
//! (alerts.db deleted), give the same alerts and states.

mod common;

use common::*;
use mamori_server::DataDir;
use serde_json::{Value, json};
use std::time::Duration;

const ROSTER: &str = "職員番号,氏名,氏名カナ,所属コード,所属名,職名,発令日,異動区分,退職日,アカウント
1002,佐藤 花子,サトウ ハナコ,2010,市民課,主査,2008/4/1,採用,,sato.h@city.example.lg.jp
1003,鈴木 一郎,スズキ イチロウ,2010,市民課,主事,2000/4/1,採用,,suzuki.i@city.example.lg.jp
1003,鈴木 一郎,スズキ イチロウ,2010,市民課,主事,2018/12/21,退職,,
";

const POLICY: &str = "[[entitlement]]\ndepartment = \"2010\"\nresource = \"share:juki\"\n";

fn setup(root: &std::path::Path) -> String {
    let admin = init(root, "detect.example.lg.jp/audit", None);
    let dir = DataDir::new(root);
    let r = std::thread::scope(|s| s.spawn(|| dir.import_roster("hr-admin", "roster.csv", ROSTER.as_bytes())).join().unwrap());
    r.expect("roster import");
    std::fs::create_dir_all(root.join("rules")).unwrap();
    std::fs::write(root.join("rules/municipal.toml"), POLICY).unwrap();
    admin
}

/// Alerts without the proof part (the checkpoint grows between calls).
fn stable(v: &Value) -> Vec<Value> {
    v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let mut a = a.clone();
            a.as_object_mut().unwrap().remove("evidence_proofs");
            a
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hiratsuka_alert_over_http_with_proofs_triage_and_rebuild() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("d");
    let admin = setup(&root);
    let srv = start(&root).await;
    let (_, officer) = srv.token(&admin, "officer-1", "officer").await;
    let (_, viewer) = srv.token(&admin, "viewer-1", "viewer").await;

    // The day before retirement ends (still employed), then the day after.
    let body = [
        json!({"@timestamp": "2018-11-29T01:00:00Z", "user": {"name": "suzuki.i"}, "event": {"action": "file-read", "type": ["access"]}, "mamori": {"share": "juki"}, "file": {"path": "/台帳/2018.csv"}}),
        json!({"@timestamp": "2018-12-22T01:00:00Z", "user": {"name": "suzuki.i"}, "event": {"action": "file-read", "type": ["access"]}, "mamori": {"share": "juki"}, "file": {"path": "/台帳/2018.csv"}}),
        json!({"@timestamp": "2018-12-22T01:05:00Z", "user": {"name": "suzuki.i"}, "event": {"action": "file-read", "type": ["access"]}, "mamori": {"share": "juki"}, "file": {"path": "/台帳/2019.csv"}}),
        json!({"@timestamp": "2018-12-25T01:00:00Z", "user": {"name": "sato.h"}, "event": {"action": "file-read", "type": ["access"]}, "mamori": {"share": "juki"}, "file": {"path": "/台帳/2018.csv"}}),
    ]
    .iter()
    .map(|v| v.to_string() + "\n")
    .collect::<String>();
    let (s, v) = srv.post("/api/v1/events", &admin, body.into_bytes()).await;
    assert_eq!(s, 200, "{v}");
    let ids: Vec<u64> = v["items"].as_array().unwrap().iter().map(|i| i["id"].as_u64().unwrap()).collect();

    // The alert appears, grouped (two reads, one alert), with verified proofs.
    let alerts = eventually(20, "retirement alert with verified proofs", || async {
        let v = srv.get_ok("/api/v1/alerts", &officer).await;
        let a = v["alerts"].as_array().unwrap().iter().find(|a| a["rule_id"] == "hiratsuka_after_retirement").cloned();
        a.filter(|a| a["proof_verified"] == true && a["count"] == 2).map(|_| v)
    })
    .await;
    let a = alerts["alerts"].as_array().unwrap().iter().find(|a| a["rule_id"] == "hiratsuka_after_retirement").unwrap().clone();
    assert_eq!(a["evidence"], json!([ids[1], ids[2]]));
    assert_eq!(a["person"]["staff_id"], "1003");
    assert_eq!(a["person"]["status"], "Retired");
    assert_eq!(a["department"]["code"], "2010");
    assert_eq!(a["department"]["name"], "市民課");
    assert_eq!(a["state"], "new");
    assert!(a["evidence_proofs"].as_array().unwrap().iter().all(|p| p["proof_verified"] == true && p["proof"]["tree_size"].as_u64().unwrap() > p["id"].as_u64().unwrap()));
    // The employed day and the colleague raised nothing of this rule.
    assert!(!alerts["alerts"].as_array().unwrap().iter().any(|x| x["rule_id"] == "hiratsuka_after_retirement" && x["evidence"].as_array().unwrap().contains(&json!(ids[0]))));
    let id = a["id"].as_u64().unwrap();

    // Roles: a viewer reads but cannot triage; a close without a reason is refused.
    assert_eq!(srv.get_ok(&format!("/api/v1/alerts/{id}"), &viewer).await["id"], id);
    let (s, _) = srv.req_json("POST", &format!("/api/v1/alerts/{id}/triage"), &viewer, json!({"reason": "x"})).await;
    assert_eq!(s, 403);
    let (s, _) = srv.req_json("POST", &format!("/api/v1/alerts/{id}/close"), &officer, json!({"reason": " "})).await;
    assert_eq!(s, 409);

    let (s, t) = srv.req_json("POST", &format!("/api/v1/alerts/{id}/triage"), &officer, json!({"reason": "退職者アカウントの使用を確認中", "assignee": "情報政策課 伊藤"})).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["alert"]["state"], "triaged");
    let (s, c) = srv.req_json("POST", &format!("/api/v1/alerts/{id}/close"), &officer, json!({"reason": "アカウント削除漏れ。削除済み、本人に聴取"})).await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["alert"]["state"], "closed");
    assert_eq!(c["alert"]["history"].as_array().unwrap().len(), 2);
    // Closed is final.
    let (s, _) = srv.req_json("POST", &format!("/api/v1/alerts/{id}/triage"), &officer, json!({"reason": "again"})).await;
    assert_eq!(s, 409);

    // Both actions are ledger admin entries naming the officer.
    srv.wait_indexed().await;
    for (action, lid) in [("alert-triaged", &t["ledger_id"]), ("alert-closed", &c["ledger_id"])] {
        let e = srv.get_ok(&format!("/api/v1/events/{}", lid.as_u64().unwrap()), &admin).await;
        assert_eq!(e["kind"], "admin");
        assert_eq!(e["event"]["event"]["action"], action);
        assert_eq!(e["event"]["user"]["name"], "officer-1");
        assert_eq!(e["event"]["mamori"]["alert_action"]["alert"], id);
    }
    let before = stable(&srv.get_ok("/api/v1/alerts", &officer).await);
    srv.stop().await;

    // Restart: the same alerts and states.
    let srv = start(&root).await;
    assert_eq!(stable(&srv.get_ok("/api/v1/alerts", &officer).await), before);
    srv.stop().await;

    // Rebuild from the ledger alone.
    std::fs::remove_file(root.join("index/alerts.db")).unwrap();
    let _ = std::fs::remove_file(root.join("index/alerts.db-wal"));
    let _ = std::fs::remove_file(root.join("index/alerts.db-shm"));
    let srv = start(&root).await;
    let after = eventually(10, "rebuilt alerts", || async {
        let v = stable(&srv.get_ok("/api/v1/alerts", &officer).await);
        (v.len() == before.len()).then_some(v)
    })
    .await;
    assert_eq!(after, before);
    let closed = after.iter().find(|a| a["id"] == id).unwrap();
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["reason"], "アカウント削除漏れ。削除済み、本人に聴取");
    tokio::time::sleep(Duration::from_millis(10)).await;
    srv.stop().await;
}
