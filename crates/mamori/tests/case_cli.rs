//! Cases, the PPC report, the monthly log review and the takeout ledger with the real binary:
//! a case opened from a detector alert, edited, closed and reopened — every change an admin
//! entry in the ledger, the same case rebuilt after `mamori reindex`; the 確報 deadline (60 days
//! for an unlawful purpose, moved past 年末年始); the PDFs read back with poppler's `pdftotext`.

mod common;

mod case_support;

use case_support::{data_cmd, fails, pdftotext, retirement_alert, setup};
use common::run_ok;
use serde_json::{Value, json};
use std::path::Path;

fn show(data: &Path, id: &str) -> Value {
    serde_json::from_str(&run_ok(&mut data_cmd(data, &["case", "show", id, "--json"]))).unwrap()
}

#[test]
fn case_lifecycle_is_ledgered_and_rebuilt_from_the_ledger() {
    let tmp = tempfile::tempdir().unwrap();
    let data = setup(tmp.path());
    let alert = retirement_alert(&data);

    // Open from the alert: its evidence (the two exports after retirement) comes along.
    let out = run_ok(&mut data_cmd(
        &data,
        &["case", "open", "--alert", &alert.to_string(), "--recognized-on", "2026-12-01"],
    ));
    assert!(out.contains("2026-001") && out.contains("退職後"), "{out}");
    let c = show(&data, "2026-001");
    assert_eq!(c["alerts"], json!([alert]));
    assert_eq!(c["evidence"].as_array().unwrap().len(), 2, "{c}");
    // 本人の数 from the evidence's record counts: 121 + 122, largest 122.
    assert_eq!(c["persons"]["value"], 243);
    assert_eq!(c["persons"]["evidence_max"], 122);
    assert_eq!(c["proof_verified"], true, "{c}");
    assert!(c["subjects"][0].as_str().unwrap().contains("鈴木 一郎"));

    // Edits, an action taken, the 速報 recorded as sent, close; refusals name the problem.
    run_ok(&mut data_cmd(
        &data,
        &[
            "case",
            "edit",
            "2026-001",
            "--persons",
            "230",
            "--persons-note",
            "重複除去後",
            "--data-items",
            "氏名,住所,生年月日",
            "--unlawful",
            "true",
        ],
    ));
    run_ok(&mut data_cmd(
        &data,
        &[
            "case",
            "action",
            "2026-001",
            "--text",
            "アカウントを無効化し、USBメモリを回収",
            "--on",
            "2026-12-02",
        ],
    ));
    run_ok(&mut data_cmd(
        &data,
        &[
            "case",
            "reported",
            "2026-001",
            "--kind",
            "sokuho",
            "--on",
            "2026-12-04",
            "--note",
            "受付番号 A-1",
        ],
    ));
    let e = fails(&mut data_cmd(
        &data,
        &["case", "reported", "2026-001", "--kind", "sokuho", "--on", "2026-12-05"],
    ));
    assert!(e.contains("報告済み"), "{e}");
    let e = fails(&mut data_cmd(&data, &["case", "close", "2026-001", "--reason", " "]));
    assert!(e.contains("空欄"), "{e}");
    run_ok(&mut data_cmd(&data, &["case", "close", "2026-001", "--reason", "確報済み、再発防止策実施"]));
    let e = fails(&mut data_cmd(&data, &["case", "action", "2026-001", "--text", "追記"]));
    assert!(e.contains("終結"), "{e}");
    run_ok(&mut data_cmd(&data, &["case", "reopen", "2026-001", "--reason", "追加の持出しが判明"]));
    let e = fails(&mut data_cmd(&data, &["case", "evidence", "2026-001", "--id", "99999"]));
    assert!(e.contains("99999"), "{e}");
    run_ok(&mut data_cmd(
        &data,
        &["case", "open", "--title", "誤送信(手入力)", "--recognized-on", "2026-12-10"],
    ));

    let before = show(&data, "2026-001");
    assert_eq!(before["state"], "open");
    assert_eq!(before["persons"]["value"], 230);
    assert_eq!(before["history"].as_array().unwrap().len(), 6, "{before}");
    assert_eq!(before["sokuho"]["sent_on"], "2026-12-04");
    // 60 days (unlawful purpose) from 2026-12-01 is 2027-01-30, a Saturday: due Monday 02-01.
    assert_eq!(before["deadlines"]["kakuho_days"], 60);
    assert_eq!(before["deadlines"]["kakuho_by"], "2027-02-01");

    // Every change is an admin entry naming the action.
    for action in [
        "case-opened",
        "case-edited",
        "case-action-recorded",
        "case-reported",
        "case-closed",
        "case-reopened",
    ] {
        let s = run_ok(&mut data_cmd(&data, &["search", "--json", "--kind", "admin", "--action", action]));
        assert!(s.contains("2026-001"), "{action}: {s}");
    }

    // Rebuild the index from the ledger: the same cases come back.
    run_ok(&mut data_cmd(&data, &["reindex"]));
    let after = show(&data, "2026-001");
    assert_eq!(after["history"], before["history"]);
    assert_eq!(after["fields"], before["fields"]);
    assert_eq!(after["evidence"], before["evidence"]);
    let list = run_ok(&mut data_cmd(&data, &["case", "list"]));
    assert!(list.contains("2026-001") && list.contains("2026-002") && list.contains("誤送信"), "{list}");

    // The timeline puts the exports (2018) before the actions (2026).
    let t = after["timeline"].as_array().unwrap();
    assert_eq!(t[0]["kind"], "evidence");
    assert!(t.last().unwrap()["text"].as_str().unwrap().contains("再開"), "{t:?}");
}

#[test]
fn ppc_drafts_deadlines_and_pdf_text() {
    let tmp = tempfile::tempdir().unwrap();
    let data = setup(tmp.path());
    let alert = retirement_alert(&data);
    // Known 2026-12-01, no unlawful purpose (yet): day 30 is 12-31 (年末年始) → 2027-01-04.
    run_ok(&mut data_cmd(
        &data,
        &["case", "open", "--alert", &alert.to_string(), "--recognized-on", "2026-12-01"],
    ));
    let v: Value = serde_json::from_str(&run_ok(&mut data_cmd(
        &data,
        &["report", "ppc", "2026-001", "--kind", "kakuho", "--json", "--as-of", "2026-12-02"],
    )))
    .unwrap();
    assert_eq!(v["deadlines"]["kakuho_days"], 30);
    assert_eq!(v["deadlines"]["kakuho_nominal"], "2026-12-31");
    assert_eq!(v["deadlines"]["kakuho_by"], "2027-01-04");
    assert_eq!(v["deadlines"]["sokuho_from"], "2026-12-04");
    assert_eq!(v["deadlines"]["sokuho_by"], "2026-12-06");
    assert_eq!(v["due"]["days_left"], 33);
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 9);
    let labels: Vec<&str> = items.iter().map(|i| i["label_ja"].as_str().unwrap()).collect();
    assert_eq!(labels[0], "概要");
    assert!(labels[1].contains("保有個人情報の項目") && labels[2].contains("本人の数"));
    assert_eq!(
        labels[3..],
        [
            "原因",
            "二次被害又はそのおそれの有無及びその内容",
            "本人への対応の実施状況",
            "公表の実施状況",
            "再発防止のための措置",
            "その他参考となる事項"
        ]
    );
    assert!(items[0]["text"].as_str().unwrap().contains("鈴木 一郎"), "the overview comes from the alert");
    assert!(items[2]["text"].as_str().unwrap().starts_with("243人"));
    assert_eq!(items[3]["missing"], true, "cause not known yet");
    // 243 persons > 100: reportable.
    assert!(
        v["reportable_because"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains("100人"))
    );
    assert!(v["evidence"].as_array().unwrap().iter().all(|e| e["proof_verified"] == true), "{v}");

    // Unlawful purpose: 60 days → 2027-01-30 (Sat) → 2027-02-01.
    run_ok(&mut data_cmd(
        &data,
        &[
            "case",
            "edit",
            "2026-001",
            "--unlawful",
            "true",
            "--cause",
            "退職時にアカウントが削除されていなかった",
            "--data-items",
            "氏名、住所、生年月日、世帯番号",
        ],
    ));
    let pdf = tmp.path().join("kakuho.pdf");
    run_ok(&mut data_cmd(
        &data,
        &[
            "report",
            "ppc",
            "2026-001",
            "--kind",
            "kakuho",
            "--as-of",
            "2026-12-02",
            "--pdf",
            pdf.to_str().unwrap(),
        ],
    ));
    let text = pdftotext(&pdf);
    for want in [
        "個人情報保護委員会への漏えい等報告(確報)案",
        "2026-001",
        "概要",
        "本人の数",
        "243人",
        "退職時にアカウントが削除されていなかった",
        "氏名、住所、生年月日、世帯番号",
        "60日以内",
        "2027-02-01",
        "鈴木 一郎",
        "包含証明 検証済み",
    ] {
        assert!(text.contains(want), "PDF lacks {want:?}:\n{text}");
    }
    // The 速報 draft leaves unknown items for the 確報.
    let v: Value = serde_json::from_str(&run_ok(&mut data_cmd(
        &data,
        &["report", "ppc", "2026-001", "--kind", "sokuho", "--json", "--as-of", "2026-12-08"],
    )))
    .unwrap();
    assert!(v["items"][4]["text"].as_str().unwrap().contains("確報で報告"), "{v}");
    assert!(v["due"]["days_left"].as_i64().unwrap() < 0, "overdue on 12-08");
    assert!(v["due"]["message"].as_str().unwrap().contains("過ぎています"));
    let e = fails(&mut data_cmd(&data, &["report", "ppc", "2026-001", "--kind", "interim", "--json"]));
    assert!(e.contains("sokuho"), "{e}");
}

#[test]
fn logreview_and_takeout_ledger_pdfs() {
    let tmp = tempfile::tempdir().unwrap();
    let data = setup(tmp.path());
    let v1: Value = serde_json::from_str(&run_ok(&mut data_cmd(
        &data,
        &["logreview", "show", "--month", "2018-12", "--sample", "5", "--json"],
    )))
    .unwrap();
    let v2: Value = serde_json::from_str(&run_ok(&mut data_cmd(
        &data,
        &["logreview", "show", "--month", "2018-12", "--sample", "5", "--json"],
    )))
    .unwrap();
    assert_eq!(v1["events"], 31);
    assert_eq!(v1["sample"], v2["sample"], "the sample is reproducible");
    assert_eq!(v1["sample"].as_array().unwrap().len(), 5);
    let depts: Vec<(String, u64)> = v1["departments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["department"].as_str().unwrap().to_owned(), d["total"].as_u64().unwrap()))
        .collect();
    assert_eq!(depts, vec![("税務課".to_owned(), 28), ("市民課".to_owned(), 3)]);
    let alert = retirement_alert(&data);
    assert!(v1["anomalies"].as_array().unwrap().iter().any(|a| a["alert_id"] == alert));
    assert_eq!(v1["signed_current"], false);
    // November has no events: nothing to show, a different digest.
    let nov: Value = serde_json::from_str(&run_ok(&mut data_cmd(&data, &["logreview", "show", "--month", "2018-11", "--json"]))).unwrap();
    assert_eq!(nov["events"], 0);
    assert_ne!(nov["digest"], v1["digest"]);

    run_ok(&mut data_cmd(
        &data,
        &[
            "logreview",
            "comment",
            "--month",
            "2018-12",
            "--alert",
            &alert.to_string(),
            "--text",
            "退職者アカウント、事案化",
        ],
    ));
    let e = fails(&mut data_cmd(&data, &["logreview", "comment", "--month", "2018-12", "--text", " "]));
    assert!(e.contains("空欄"), "{e}");
    run_ok(&mut data_cmd(
        &data,
        &[
            "logreview",
            "sign",
            "--month",
            "2018-12",
            "--reviewer",
            "監査 花子",
            "--summary",
            "異常1件は事案化済み",
            "--sample",
            "5",
        ],
    ));
    let e = fails(&mut data_cmd(
        &data,
        &["logreview", "sign", "--month", "2018-12", "--reviewer", "監査 花子", "--sample", "5"],
    ));
    assert!(e.contains("確認済み"), "{e}");
    let v: Value = serde_json::from_str(&run_ok(&mut data_cmd(
        &data,
        &["logreview", "show", "--month", "2018-12", "--sample", "5", "--json"],
    )))
    .unwrap();
    assert_eq!(v["signed_current"], true);
    assert_eq!(v["record"]["signoffs"][0]["reviewer"], "監査 花子");
    let s = run_ok(&mut data_cmd(&data, &["search", "--json", "--kind", "admin", "--action", "logreview-signed"]));
    assert!(s.contains("監査 花子"), "{s}");

    let pdf = tmp.path().join("lr.pdf");
    run_ok(&mut data_cmd(
        &data,
        &["report", "logreview", "--month", "2018-12", "--sample", "5", "--pdf", pdf.to_str().unwrap()],
    ));
    let text = pdftotext(&pdf);
    for want in [
        "操作ログ点検結果 2018年12月",
        "対象イベント 31 件",
        "税務課: 28 件",
        "市民課: 3 件",
        "退職者アカウント、事案化",
        "監査 花子",
        "点検済み",
    ] {
        assert!(text.contains(want), "PDF lacks {want:?}:\n{text}");
    }
    let first_sample = v["sample"][0]["id"].as_u64().unwrap();
    assert!(text.contains(&format!("#{first_sample} ")), "the sampled events are listed");

    // The takeout ledger: a request approved by the 課長, one rejected.
    for args in [
        vec![
            "takeout",
            "request",
            "--id",
            "T-1",
            "--applicant",
            "1004",
            "--description",
            "滞納者一覧",
            "--records",
            "40",
            "--purpose",
            "県への報告",
            "--medium",
            "mail:kenzei@pref.example.lg.jp",
            "--from",
            "2018-12-03",
            "--until",
            "2018-12-07",
            "--on",
            "2018-12-01",
        ],
        vec![
            "takeout",
            "request",
            "--id",
            "T-2",
            "--applicant",
            "1003",
            "--description",
            "住民票データ",
            "--records",
            "900",
            "--purpose",
            "在宅作業",
            "--medium",
            "paper",
            "--from",
            "2018-12-03",
            "--until",
            "2018-12-04",
            "--on",
            "2018-12-01",
        ],
        vec!["takeout", "approve", "--id", "T-2", "--approver", "1001", "--on", "2018-12-02"],
        vec!["takeout", "take", "--id", "T-2", "--on", "2018-12-03"],
    ] {
        run_ok(&mut data_cmd(&data, &args));
    }
    let e = fails(&mut data_cmd(
        &data,
        &["takeout", "approve", "--id", "T-1", "--approver", "1004", "--on", "2018-12-02"],
    ));
    assert!(e.contains("本人"), "self-approval refused: {e}");
    let pdf = tmp.path().join("takeouts.pdf");
    run_ok(&mut data_cmd(
        &data,
        &["report", "takeouts", "--as-of", "2018-12-20", "--pdf", pdf.to_str().unwrap()],
    ));
    let text = pdftotext(&pdf);
    for want in [
        "持ち出し管理簿 2018-12-20 現在",
        "申請 2 件",
        "申請番号 T-1",
        "【申請中】",
        "申請番号 T-2",
        "【持出中】",
        "市民 課長",
        "鈴木 一郎",
        "900件",
        "滞納者一覧",
        "返却・消去の記録がありません",
    ] {
        assert!(text.contains(want), "PDF lacks {want:?}:\n{text}");
    }
}
