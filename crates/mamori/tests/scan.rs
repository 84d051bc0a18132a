//! `mamori scan`: JSON Lines output shape, masking, --fail-on-find for a pre-publication
//! check, unreadable files listed with a reason, and the incremental share scan.

use std::path::Path;
use std::process::Command;

fn mamori() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mamori"))
}

fn json_lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}"))).collect()
}

const SURNAMES: [&str; 8] = ["佐藤", "鈴木", "高橋", "田中", "渡辺", "伊藤", "山本", "中村"];
const GIVEN: [&str; 8] = ["太郎", "花子", "一郎", "洋子", "健太", "美咲", "誠", "裕子"];

/// A list of 397 residents like the one Nara published (CP932 CSV, as exported by Excel).
fn nara_list(dir: &Path) -> std::path::PathBuf {
    let mut csv = String::from("番号,氏名,地区\r\n");
    for i in 0..397 {
        csv.push_str(&format!("{},{} {},第{}地区\r\n", i + 1, SURNAMES[i % 8], GIVEN[(i / 8) % 8], i % 5 + 1));
    }
    let p = dir.join("公表資料.csv");
    std::fs::write(&p, encoding_rs::SHIFT_JIS.encode(&csv).0).unwrap();
    p
}

#[test]
fn nara_list_of_397_names_is_one_strong_finding_and_fails_the_upload_check() {
    let dir = tempfile::tempdir().unwrap();
    let p = nara_list(dir.path());
    let out = mamori().args(["scan", "--json", "--fail-on-find"]).arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let lines = json_lines(&out.stdout);
    let names: Vec<&serde_json::Value> = lines.iter().filter(|l| l["kind"] == "person_name").collect();
    assert_eq!(names.len(), 1, "{lines:?}");
    assert_eq!(names[0]["count"], 397);
    assert_eq!(names[0]["location"]["cell"], "B2:B398");
    assert!(names[0]["confidence"].as_f64().unwrap() >= 0.9);
    // Masked by default: the surname's first character only.
    assert_eq!(names[0]["value"], "佐* **");
    let summary = lines.last().unwrap();
    assert_eq!(summary["path"], p.display().to_string());
    assert_eq!(summary["summary"]["values"], 397);
    assert!(summary["summary"]["format"].as_str().unwrap().starts_with("csv/Shift_JIS"));
}

#[test]
fn findings_have_the_documented_fields_and_values_only_with_show_values() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("申請書.txt");
    std::fs::write(&p, "注文番号 123456789018\n氏名 山田 太郎\n生年月日 昭和四十五年三月二日\n個人番号：１２３４－５６７８－９０１８\n").unwrap();
    let out = mamori().args(["scan", "--json"]).arg(&p).output().unwrap();
    assert!(out.status.success());
    let lines = json_lines(&out.stdout);
    let findings: Vec<&serde_json::Value> = lines.iter().filter(|l| l.get("kind").is_some()).collect();
    let kinds: Vec<&str> = findings.iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["person_name", "birth_date", "my_number"]);
    for f in &findings {
        let mut keys: Vec<&str> = f.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        keys.sort();
        assert_eq!(keys, ["confidence", "context", "kind", "location", "path", "value"]);
    }
    let mn = findings[2];
    assert_eq!(mn["location"], serde_json::json!({"line": 4, "column": 6}));
    assert_eq!(mn["value"], "**********18");
    assert!(!mn["context"].as_str().unwrap().contains("5678"));
    let out = mamori().args(["scan", "--json", "--show-values"]).arg(&p).output().unwrap();
    let lines = json_lines(&out.stdout);
    let mn = lines.iter().find(|l| l["kind"] == "my_number").unwrap();
    assert_eq!(mn["value"], "123456789018");
    assert!(mn["context"].as_str().unwrap().contains("個人番号：[123456789018]"), "{}", mn["context"]);
}

#[test]
fn clean_files_pass_and_unknown_files_are_listed_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let notice = dir.path().join("notice.txt");
    std::fs::write(&notice, "令和6年4月1日 市民講座のお知らせ。会場 市役所本庁舎3階。\n").unwrap();
    std::fs::write(dir.path().join("blob.bin"), [0u8, 1, 2, 3, 0, 0, 0xff, 0xfe, 7, 0, 9]).unwrap();
    let out = mamori().args(["scan", "--fail-on-find"]).arg(&notice).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("notice.txt: 0 件 / 0 findings"));
    // Without the gate, an unknown file is listed with its reason and the scan succeeds.
    let out = mamori().arg("scan").arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("blob.bin: 未検査 / not scanned: 未対応の形式(バイナリ)/ unknown binary format"), "{text}");
    assert!(text.contains("notice.txt: 0 件 / 0 findings"), "{text}");
    // With the gate it cannot pass: what was not read was not checked.
    let out = mamori().args(["scan", "--fail-on-find"]).arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Regression: `--fail-on-find` exited 0 for an unreadable PDF, so a broken (or encrypted)
/// PDF of a resident list would have passed the pre-publication check unread.
#[test]
fn unreadable_pdf_does_not_pass_the_pre_publication_check() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("公表資料.pdf");
    std::fs::write(&pdf, b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\n\x00\xff broken").unwrap();
    let out = mamori().args(["scan", "--json", "--fail-on-find"]).arg(&pdf).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "stdout: {} stderr: {}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let lines = json_lines(&out.stdout);
    let summary = lines.last().unwrap();
    assert_eq!(summary["summary"]["findings"], 0);
    let problems = summary["summary"]["problems"].as_array().unwrap();
    assert!(problems.iter().any(|p| p.as_str().unwrap().contains("PDF")), "{problems:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not be scanned"));
    // Personal data found still wins (status 3) when another file could not be read.
    let list = nara_list(dir.path());
    let out = mamori().args(["scan", "--fail-on-find"]).arg(&pdf).arg(&list).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn kamaishi_handover_folder_incremental_scan_flags_all_staff_exposure() {
    let dir = tempfile::tempdir().unwrap();
    let share = dir.path().join("全職員共有/引継ぎ");
    std::fs::create_dir_all(&share).unwrap();
    std::fs::write(share.join("引継書.txt"), "対象者 佐藤 花子 様\n住所 岩手県釜石市只越町3丁目9番13号\n").unwrap();
    std::fs::write(share.join("会議録.txt"), "議事: 予算について\n").unwrap();
    let state = dir.path().join("state.json");
    let run = || {
        mamori()
            .args(["scan", "--json", "--incremental"])
            .arg(&state)
            .arg("--all-staff")
            .arg(dir.path().join("全職員共有"))
            .arg(dir.path())
            .output()
            .unwrap()
    };
    let out = run();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.iter().filter(|l| l.get("summary").is_some()).count(), 2);
    let exposure: Vec<&serde_json::Value> = lines.iter().filter(|l| l.get("all_staff_exposure").is_some()).collect();
    assert_eq!(exposure.len(), 1);
    assert!(exposure[0]["path"].as_str().unwrap().ends_with("引継書.txt"));
    // The state keeps kinds and counts, never the values.
    let st = std::fs::read_to_string(&state).unwrap();
    assert!(st.contains("person_name") && st.contains("address"));
    assert!(!st.contains("花子") && !st.contains("只越町"));
    // Second run: nothing changed, nothing rescanned, exposure still reported.
    let lines = json_lines(&run().stdout);
    assert_eq!(lines.iter().filter(|l| l.get("summary").is_some()).count(), 0);
    assert_eq!(lines.iter().filter(|l| l.get("all_staff_exposure").is_some()).count(), 1);
}
