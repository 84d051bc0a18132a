//! `mamori alerts` / `mamori alert` with the real binary: retro-hunt over the store, alerts
//! raised by `mamori serve`, and a local (server stopped) close that is ledgered.

mod common;

use common::{Server, mamori, run_ok};
use serde_json::{Value, json};

const ROSTER: &str = "職員番号,氏名,氏名カナ,所属コード,所属名,職名,発令日,異動区分,退職日,アカウント
1003,鈴木 一郎,スズキ イチロウ,2010,市民課,主事,2000/4/1,採用,,suzuki.i@city.example.lg.jp
1003,鈴木 一郎,スズキ イチロウ,2010,市民課,主事,2018/12/21,退職,,
";

#[test]
fn hiratsuka_alerts_cli_hunt_list_close() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    run_ok(mamori().args(["init", "--data"]).arg(&data));
    let roster = tmp.path().join("roster.csv");
    std::fs::write(&roster, ROSTER).unwrap();
    run_ok(mamori().args(["roster-import", "--data"]).arg(&data).arg(&roster));
    let events = tmp.path().join("ev.ndjson");
    let lines: Vec<String> = ["2018-12-20T01:00:00Z", "2018-12-22T01:00:00Z"]
        .iter()
        .map(|t| json!({"@timestamp": t, "user": {"name": "suzuki.i"}, "event": {"action": "file-read", "type": ["access"]}, "mamori": {"share": "juki"}, "file": {"path": "/台帳.csv"}}).to_string())
        .collect();
    std::fs::write(&events, lines.join("\n") + "\n").unwrap();
    run_ok(mamori().args(["ingest", "--format", "ecs-ndjson", "--data"]).arg(&data).arg(&events));

    // Retro-hunt over the store, no server needed; the window keeps only the 22nd.
    let rules = tmp.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    let out = run_ok(mamori().args(["alerts", "--hunt", "--json", "--from", "2018-12-01", "--to", "2018-12-31", "--rules"]).arg(&rules).arg("--data").arg(&data));
    let v: Value = serde_json::from_str(&out).unwrap();
    let hits: Vec<&Value> = v["alerts"].as_array().unwrap().iter().filter(|a| a["rule_id"] == "hiratsuka_after_retirement").collect();
    assert_eq!(hits.len(), 1, "{out}");
    assert_eq!(hits[0]["person"]["staff_id"], "1003");
    let out = run_ok(mamori().args(["alerts", "--hunt", "--json", "--to", "2018-12-21", "--rules"]).arg(&rules).arg("--data").arg(&data));
    assert!(!out.contains("hiratsuka_after_retirement"), "{out}");

    // The server's detector raises it (catching up at start).
    let srv = Server::start(&data, &["--listen", "127.0.0.1:0"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let id = loop {
        let o = mamori().args(["alerts", "--json", "--data"]).arg(&data).output().unwrap();
        if o.status.success() {
            let v: Value = serde_json::from_slice(&o.stdout).unwrap();
            if let Some(a) = v["alerts"].as_array().unwrap().iter().find(|a| a["rule_id"] == "hiratsuka_after_retirement") {
                break a["id"].as_u64().unwrap();
            }
        }
        assert!(std::time::Instant::now() < deadline, "no alert from the server");
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    srv.stop();
    let text = run_ok(mamori().args(["alerts", "--state", "new", "--data"]).arg(&data));
    assert!(text.contains("退職後") && text.contains("鈴木 一郎"), "{text}");

    // Close locally: ledgered and applied.
    let out = mamori().args(["alert", "close", &id.to_string(), "--data"]).arg(&data).output().unwrap();
    assert!(!out.status.success(), "a reason is required");
    let out = run_ok(mamori().args(["alert", "close", &id.to_string(), "--reason", "削除漏れ、対応済み", "--data"]).arg(&data));
    assert!(out.contains("完了"), "{out}");
    let v: Value = serde_json::from_str(&run_ok(mamori().args(["alerts", "--json", "--state", "closed", "--data"]).arg(&data))).unwrap();
    assert_eq!(v["alerts"][0]["id"], id);
    assert_eq!(v["alerts"][0]["reason"], "削除漏れ、対応済み");
    let a = run_ok(mamori().args(["search", "--json", "--kind", "admin", "--action", "alert-closed", "--data"]).arg(&data));
    assert!(a.contains("削除漏れ、対応済み"), "{a}");
}
