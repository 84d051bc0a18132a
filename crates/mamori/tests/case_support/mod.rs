//! Shared setup of the case tests (case_cli, case_api, ui_workflows): a data directory with a
//! roster, a leaver's exports after retirement, a month of ordinary reads, and the detector's
//! alerts; `pdftotext`.
#![allow(dead_code)]

use crate::common::{Server, mamori, run_ok};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

pub const ROSTER: &str = "職員番号,氏名,氏名カナ,所属コード,所属名,職名,発令日,異動区分,退職日,アカウント
1001,市民 課長,シミン カチョウ,2010,市民課,課長,2000/4/1,採用,,kacho.s@city.example.lg.jp
1003,鈴木 一郎,スズキ イチロウ,2010,市民課,主事,2000/4/1,採用,,suzuki.i@city.example.lg.jp
1003,鈴木 一郎,スズキ イチロウ,2010,市民課,主事,2018/12/21,退職,,
1004,佐藤 花子,サトウ ハナコ,3010,税務課,主事,2000/4/1,採用,,sato.h@city.example.lg.jp
1006,田中 次郎,タナカ ジロウ,2010,市民課,主事,2010/4/1,採用,,tanaka.j@city.example.lg.jp
";

pub fn data_cmd(data: &Path, args: &[&str]) -> Command {
    let mut c = mamori();
    c.args(args).arg("--data").arg(data).env("RUST_LOG", "warn");
    c
}

pub fn fails(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(!out.status.success(), "{c:?} should fail: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn pdftotext(pdf: &Path) -> String {
    let out = Command::new("pdftotext")
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) must be installed");
    assert!(out.status.success(), "pdftotext failed");
    String::from_utf8(out.stdout).unwrap()
}

/// A data directory with the roster, two exports of 121 and 122 records by a leaver on the
/// day after retirement, and 28 days of ordinary reads by 佐藤 (税務課); the detector's alerts
/// raised by one server run.
pub fn setup(tmp: &Path) -> std::path::PathBuf {
    let data = tmp.join("d");
    run_ok(mamori().args(["init", "--data"]).arg(&data));
    let roster = tmp.join("roster.csv");
    std::fs::write(&roster, ROSTER).unwrap();
    run_ok(&mut data_cmd(&data, &["roster-import", roster.to_str().unwrap()]));
    let mut lines = Vec::new();
    for (i, t) in ["2018-12-20T01:00:00Z", "2018-12-22T01:00:00Z", "2018-12-22T02:00:00Z"].iter().enumerate() {
        lines.push(json!({"@timestamp": t, "user": {"name": "suzuki.i"}, "event": {"action": "file-read", "type": ["access"]}, "mamori": {"share": "juki", "export": {"records": 120 + i, "system": "juki"}}, "file": {"path": "/台帳.csv"}}).to_string());
    }
    for d in 1..=28 {
        lines.push(json!({"@timestamp": format!("2018-12-{d:02}T03:00:00Z"), "user": {"name": "sato.h"}, "event": {"action": "file-read"}, "file": {"path": format!("/税/{d}.csv")}}).to_string());
    }
    let ev = tmp.join("ev.ndjson");
    std::fs::write(&ev, lines.join("\n") + "\n").unwrap();
    run_ok(&mut data_cmd(&data, &["ingest", "--format", "ecs-ndjson", ev.to_str().unwrap()]));
    let srv = Server::start(&data, &["--listen", "127.0.0.1:0"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let o = data_cmd(&data, &["alerts", "--json", "--limit", "1000"]).output().unwrap();
        if o.status.success() {
            let v: Value = serde_json::from_slice(&o.stdout).unwrap();
            if v["alerts"].as_array().unwrap().iter().any(|a| a["rule_id"] == "hiratsuka_after_retirement") {
                break;
            }
        }
        assert!(std::time::Instant::now() < deadline, "no alert from the server");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    srv.stop();
    data
}

pub fn retirement_alert(data: &Path) -> u64 {
    let v: Value = serde_json::from_str(&run_ok(&mut data_cmd(data, &["alerts", "--json", "--limit", "1000"]))).unwrap();
    v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["rule_id"] == "hiratsuka_after_retirement")
        .unwrap()["id"]
        .as_u64()
        .unwrap()
}
