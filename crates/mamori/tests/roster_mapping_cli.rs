//! `mamori ingest --format roster --mapping NAME|FILE` and `mamori roster-import --mapping`:
//! a personnel system's CP932 export (title lines, its own column names, 和暦, 発令区分 codes,
//! accounts in three columns) through the shipped `jinji-a` roster mapping and through a
//! mapping file; refused rows named by the original line and column on stderr; the import is
//! ledgered with the mapping and survives a reindex; a non-roster mapping is refused.

mod common;

use common::{mamori, run_ok};

const EXPORT: &str = "人事給与システム 異動履歴出力\r
出力日: 令和6年4月1日\r
職員コード,姓,名,セイ,メイ,所属CD,所属名称,職位名称,発令年月日,発令区分,退職年月日,WindowsログオンID,住基操作者ID,メールアドレス\r
001234,山田,太郎,ヤマダ,タロウ,2010,市民課,主事,令和2年4月1日,10,,yamada.t,JK0123,yamada.t@city.example.lg.jp\r
001234,山田,太郎,ヤマダ,タロウ,3010,税務課,主事,R4.4.1,20,,yamada.t,,yamada.t@city.example.lg.jp\r
005678,佐藤,花子,サトウ,ハナコ,2010,市民課,主査,平成31年4月1日,10,,sato.h,JK0456,sato.h@city.example.lg.jp\r
005678,佐藤,花子,サトウ,ハナコ,2010,市民課,主査,令和6年3月31日,90,,,,\r
008888,高橋,次郎,タカハシ,ジロウ,2010,市民課,主事,令和4年13月1日,10,,takahashi.j,,\r
";

#[test]
fn personnel_export_through_a_roster_mapping() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    run_ok(mamori().args(["init", "--data"]).arg(&data));
    let (cp932, _, bad) = encoding_rs::SHIFT_JIS.encode(EXPORT);
    assert!(!bad);
    let file = tmp.path().join("idou_rireki.csv");
    std::fs::write(&file, &cp932).unwrap();

    let out = mamori().args(["ingest", "--format", "roster", "--mapping", "jinji-a", "--data"]).arg(&data).arg(&file).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("imported 4 rows with mapping jinji-a") && stdout.contains("1 rows refused"), "{stdout}");
    assert!(stderr.contains("8行目「発令年月日」(名簿の発令日)"), "original line and column: {stderr}");

    let who = |account: &str, date: &str| run_ok(mamori().args(["who", account, "--date", date, "--data"]).arg(&data));
    let before = who("JK0123", "2022-03-31");
    assert!(before.contains("市民課") && before.contains("山田 太郎"), "{before}");
    assert!(who("yamada.t", "令和4年4月1日").contains("税務課"), "the 異動 (code 20) on R4.4.1");
    assert!(who("sato.h@city.example.lg.jp", "2024-03-31").contains("在職"), "the retirement day itself");
    assert!(who("JK0456", "2024-04-01").contains("退職"), "the day after");
    assert!(who("takahashi.j", "2023-01-01").contains("unknown account"), "the refused row imported nothing");

    // Ledgered as a roster import with the mapping; the same after a reindex.
    let a = run_ok(mamori().args(["search", "--json", "--kind", "admin", "--action", "roster-imported", "--data"]).arg(&data));
    assert!(a.contains("idou_rireki.csv") && a.contains("jinji-a") && a.contains("発令区分"), "{a}");
    run_ok(mamori().args(["reindex", "--data"]).arg(&data));
    assert!(who("yamada.t", "2022-04-01").contains("税務課"));

    // The same layout through a mapping file, with roster-import; a later correction.
    let toml = tmp.path().join("our_hr.toml");
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../directory/mappings/jinji-a.toml")).unwrap();
    std::fs::write(&toml, shipped.replace("name = \"jinji-a\"", "name = \"our-hr\"")).unwrap();
    let fix = "人事給与システム 異動履歴出力\r\n出力日: 令和6年4月2日\r\n職員コード,姓,名,セイ,メイ,所属CD,所属名称,職位名称,発令年月日,発令区分,退職年月日,WindowsログオンID,住基操作者ID,メールアドレス\r\n008888,高橋,次郎,タカハシ,ジロウ,2010,市民課,主事,令和4年12月1日,10,,takahashi.j,,\r\n";
    let f2 = tmp.path().join("fix.csv");
    std::fs::write(&f2, encoding_rs::SHIFT_JIS.encode(fix).0).unwrap();
    let out = run_ok(mamori().args(["roster-import", "--mapping"]).arg(&toml).arg("--data").arg(&data).arg(&f2));
    assert!(out.contains("imported 1 rows with mapping our-hr"), "{out}");
    assert!(who("takahashi.j", "2023-01-01").contains("高橋 次郎"));

    // An operation-log mapping is not a roster mapping; an unknown name lists the roster ones.
    let o = mamori().args(["ingest", "--format", "roster", "--mapping", "juki-a", "--data"]).arg(&data).arg(&file).output().unwrap();
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("action") || e.contains("職員番号"), "{e}");
    let o = mamori().args(["ingest", "--format", "roster", "--mapping", "no-such", "--data"]).arg(&data).arg(&file).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("jinji-a"));
}
