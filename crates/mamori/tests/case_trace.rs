//! `mamori case trace`: a leaked list traced to the export it came from becomes the case's
//! evidence, and 本人の数 is the leaked list's record count (Hirosaki: the list mailed to the
//! press is all the city has).

mod common;

use common::{mamori, run_ok};
use mamori_trace::synth::{Rng, export_csv, population};
use serde_json::Value;

const ROSTER: &str = "職員番号,氏名,氏名カナ,所属コード,所属名,職名,発令日,異動区分,退職日,アカウント\n\
2001,田中一郎,タナカイチロウ,210,市民課,主事,2020/4/1,採用,,tanaka.k\n\
2002,佐藤花子,サトウハナコ,310,税務課,主査,2019/4/1,採用,,sato.h\n";

#[test]
fn traced_exports_become_evidence_and_set_the_persons() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    run_ok(mamori().args(["init", "--data"]).arg(&data));
    let roster = tmp.path().join("roster.csv");
    std::fs::write(&roster, ROSTER).unwrap();
    run_ok(mamori().args(["roster-import", "--data"]).arg(&data).arg(&roster));
    let people = population(7, 2000);
    let mut ids = Vec::new();
    for (i, user) in ["sato.h", "tanaka.k"].iter().enumerate() {
        let f = tmp.path().join(format!("export{i}.csv"));
        std::fs::write(&f, export_csv(&people[i * 1000..i * 1000 + 600])).unwrap();
        let out = run_ok(
            mamori()
                .args(["fingerprint", "--json", "--user", user, "--channel", "business-system-csv", "--data"])
                .arg(&data)
                .arg(&f),
        );
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        ids.push(v["export"]["export_id"].as_u64().unwrap());
    }
    // A third of tanaka's export leaked.
    let mut rng = Rng::new(5);
    let leaked: Vec<_> = people[1000..1600].iter().filter(|_| rng.below(3) == 0).cloned().collect();
    let n = leaked.len() as u64;
    assert!(n > 100, "{n}");
    let leak = tmp.path().join("leak.csv");
    std::fs::write(&leak, export_csv(&leaked)).unwrap();

    run_ok(
        mamori()
            .args(["case", "open", "--title", "報道機関への名簿郵送", "--recognized-on", "2026-12-01", "--data"])
            .arg(&data),
    );
    let out = run_ok(mamori().args(["case", "trace", "2026-001", "--data"]).arg(&data).arg(&leak));
    assert!(out.contains(&format!("記録 {n} 件")), "{out}");
    let v: Value = serde_json::from_str(&run_ok(mamori().args(["case", "show", "2026-001", "--json", "--data"]).arg(&data))).unwrap();
    let ev = v["evidence"].as_array().unwrap();
    assert_eq!(ev[0]["ledger_id"].as_u64(), Some(ids[1]), "tanaka's export first: {v}");
    assert!(ev.iter().all(|e| e["ledger_id"].as_u64() != Some(ids[0])), "sato's export did not match");
    assert_eq!(ev[0]["records"].as_u64(), Some(n), "every leaked record matched");
    assert!(ev[0]["note"].as_str().unwrap().contains("一致"));
    assert_eq!(v["persons"]["value"].as_u64(), Some(n));
    assert!(v["persons"]["basis_ja"].as_str().unwrap().contains("leak.csv"));
    assert_eq!(v["proof_verified"], true);
}
