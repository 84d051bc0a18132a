//! HR roster through the CLI: a CP932 roster with 和暦 dates is ledgered, a malformed row is
//! refused by row and column while the rest imports, and `mamori who` answers who used an
//! account on a date — the Hiratsuka leaver's account the day after retirement.

mod common;

use common::{mamori, run_ok};

const ROSTER: &str = "職員番号,氏名,氏名カナ,所属コード,所属名,職名,発令日,異動区分,退職日,アカウント\r\n\
1001,平塚太郎,ヒラツカタロウ,210,市民課,主事,平成22年4月1日,採用,,hira.t;CITY\\hira.t\r\n\
1001,平塚太郎,ヒラツカタロウ,210,市民課,主事,2018/12/21,退職,2018-12-21,\r\n\
1002,釜石花子,カマイシハナコ,110,総務企画部,係長,令和3年4月1日,採用,,kama.h\r\n\
1003,壊れた行,コワレタギョウ,110,総務企画部,主査,令和4年13月1日,採用,,broken.x\r\n";

#[test]
fn hiratsuka_login_after_retirement_via_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    run_ok(mamori().args(["init", "--data"]).arg(&data));
    let (cp932, _, unmappable) = encoding_rs::SHIFT_JIS.encode(ROSTER);
    assert!(!unmappable);
    let file = tmp.path().join("shokuin.csv");
    std::fs::write(&file, &cp932).unwrap();

    let out = mamori().args(["roster-import", "--data"]).arg(&data).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("imported 3 rows") && stdout.contains("1 rows refused"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("5行目「発令日」"), "the error names row and column: {stderr}");

    let who = |account: &str, date: &str| run_ok(mamori().args(["who", account, "--date", date, "--data"]).arg(&data));
    let on_day = who("hira.t", "2018-12-21");
    assert!(on_day.contains("在職") && on_day.contains("市民課"), "{on_day}");
    let after = who("CITY\\hira.t", "平成30年12月22日");
    assert!(after.contains("退職") && after.contains("平塚太郎"), "the day after retirement: {after}");
    assert!(who("nobody.x", "2020-01-01").contains("unknown account"));
    assert!(who("broken.x", "2023-01-01").contains("unknown account"), "the refused row imported nothing");

    // The import is an admin record in the ledger; the log verifies.
    let a = run_ok(mamori().args(["search", "--json", "--kind", "admin", "--action", "roster-imported", "--data"]).arg(&data));
    assert!(a.contains("shokuin.csv"), "{a}");
    assert!(run_ok(mamori().args(["verify", "--data"]).arg(&data)).contains("verified"));
}
