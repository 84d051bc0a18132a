//! `mamori hunt --rules DIR [--from --to] [--json]` without `--evtx`: the retro-hunt over the
//! data directory's store with the real binary — the municipal rule pack (with the roster as
//! ledgered) and a Sigma rule over ECS fields, both over the ingested events; the time window
//! and the JSON Lines output; a rule that cannot be loaded is named on stderr.

mod common;

use common::{mamori, run_ok};
use serde_json::{Value, json};

const ROSTER: &str = "職員番号,氏名,氏名カナ,所属コード,所属名,職名,発令日,異動区分,退職日,アカウント
1002,佐藤 花子,サトウ ハナコ,2010,市民課,主査,2008/4/1,採用,,sato.h@city.example.lg.jp
1003,鈴木 一郎,スズキ イチロウ,2010,市民課,主事,2000/4/1,採用,,suzuki.i@city.example.lg.jp
1003,鈴木 一郎,スズキ イチロウ,2010,市民課,主事,2018/12/21,退職,,
";

const SIGMA: &str = "title: 住基台帳 CSV の読み出し / register CSV read
id: 5b0c1e9e-7d0b-4a55-9a63-2f1d7a0c0001
status: experimental
level: high
logsource:
  product: mamori
detection:
  selection:
    event.action: file-read
    file.path|endswith: '.csv'
    file.path|contains: '台帳'
  condition: selection
";

const BROKEN: &str = "title: broken
id: 5b0c1e9e-7d0b-4a55-9a63-2f1d7a0c0002
logsource:
  product: mamori
detection:
  selection:
    file.path|nosuchmodifier: x
  condition: selection
";

fn lines(out: &str) -> Vec<Value> {
    out.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

#[test]
fn hunt_without_evtx_runs_municipal_and_sigma_rules_over_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    run_ok(mamori().args(["init", "--data"]).arg(&data));
    let roster = tmp.path().join("roster.csv");
    std::fs::write(&roster, ROSTER).unwrap();
    run_ok(mamori().args(["roster-import", "--data"]).arg(&data).arg(&roster));
    let ev = |t: &str, user: &str, path: &str| json!({"@timestamp": t, "user": {"name": user}, "event": {"action": "file-read", "type": ["access"]}, "mamori": {"share": "juki"}, "file": {"path": path}}).to_string();
    let events = [
        ev("2018-12-20T01:00:00Z", "suzuki.i", "/台帳/2018.csv"),
        ev("2018-12-22T01:00:00Z", "suzuki.i", "/台帳/2019.csv"),
        ev("2018-12-25T01:00:00Z", "sato.h", "/総務/お知らせ.txt"),
    ];
    let f = tmp.path().join("ev.ndjson");
    std::fs::write(&f, events.join("\n") + "\n").unwrap();
    run_ok(mamori().args(["ingest", "--format", "ecs-ndjson", "--data"]).arg(&data).arg(&f));

    let rules = tmp.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("register_csv.yml"), SIGMA).unwrap();
    std::fs::write(rules.join("broken.yml"), BROKEN).unwrap();

    // The whole store: the after-retirement read and both register CSV reads.
    let o = mamori().args(["hunt", "--json", "--rules"]).arg(&rules).arg("--data").arg(&data).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("broken.yml") && stderr.contains("nosuchmodifier"), "the unloadable rule is named: {stderr}");
    assert!(stderr.contains("evaluated 3 events"), "{stderr}");
    let all = lines(&stdout);
    assert!(all.iter().all(|a| a["type"] == "alert"), "{stdout}");
    let retired: Vec<&Value> = all.iter().filter(|a| a["rule_id"] == "hiratsuka_after_retirement").collect();
    assert_eq!(retired.len(), 1, "{stdout}");
    assert_eq!(retired[0]["person"]["staff_id"], "1003");
    assert_eq!(retired[0]["department"]["code"], "2010");
    let sigma: Vec<&Value> = all.iter().filter(|a| a["rule_id"] == "sigma:5b0c1e9e-7d0b-4a55-9a63-2f1d7a0c0001").collect();
    assert!(!sigma.is_empty(), "{stdout}");
    let ev_ids: std::collections::BTreeSet<u64> = sigma.iter().flat_map(|a| a["evidence"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap())).collect();
    assert_eq!(ev_ids.len(), 2, "both register CSV reads, not the notice: {stdout}");

    // A window before the retirement: no after-retirement alert, one Sigma read.
    let out = run_ok(mamori().args(["hunt", "--json", "--to", "2018-12-21", "--rules"]).arg(&rules).arg("--data").arg(&data));
    let w = lines(&out);
    assert!(w.iter().all(|a| a["rule_id"] != "hiratsuka_after_retirement"), "{out}");
    let n: usize = w.iter().filter(|a| a["rule_id"].as_str().unwrap().starts_with("sigma:")).map(|a| a["evidence"].as_array().unwrap().len()).sum();
    assert_eq!(n, 1, "{out}");
    // From the 22nd on (RFC 3339): the after-retirement read only.
    let out = run_ok(mamori().args(["hunt", "--json", "--from", "2018-12-22T00:00:00Z", "--rules"]).arg(&rules).arg("--data").arg(&data));
    assert!(lines(&out).iter().any(|a| a["rule_id"] == "hiratsuka_after_retirement"), "{out}");

    // The table is Japanese first.
    let text = run_ok(mamori().args(["hunt", "--rules"]).arg(&rules).arg("--data").arg(&data));
    assert!(text.contains("鈴木 一郎") && text.contains("退職後"), "{text}");

    // No store: a clear error naming the data directory.
    let o = mamori().args(["hunt", "--rules"]).arg(&rules).arg("--data").arg(tmp.path().join("none")).output().unwrap();
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("none") && e.contains("--evtx"), "{e}");
}
