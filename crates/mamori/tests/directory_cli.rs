//! The directory through the CLI and the API, end to end on one data directory:
//! `ingest --format roster` (CP932, 和暦), the USB registry, an entitlement policy, a register
//! permission export and smb.conf, `ldap-sync` against a real OpenLDAP slapd, the access review
//! (JSON, CSV, and a PDF checked with poppler's `pdftotext`), the sign-off, takeout requests
//! (self-approval refused, the 課長 approves), vendors — every change ledgered with who did it —
//! and the same state after `reindex` (rebuilt from the ledger) and after a server restart.

mod common;

#[path = "../../directory/tests/slapd/mod.rs"]
mod slapd;

use common::{Server, mamori, run_ok};
use std::path::Path;
use std::process::Command;

const ROSTER: &str = "職員番号,氏名,氏名カナ,所属コード,所属名,職名,発令日,異動区分,退職日,アカウント\r\n\
1000,市民課長,シミンカチョウ,2010,市民課,課長,平成27年4月1日,採用,,kacho.s\r\n\
1001,佐藤花子,サトウハナコ,2010,市民課,主事,平成27年4月1日,採用,,sato.h\r\n\
1002,田中健,タナカケン,2010,市民課,主事,平成27年4月1日,採用,,tanaka.k\r\n\
1002,田中健,タナカケン,1010,総務課,主事,令和5年4月1日,異動,,\r\n\
1003,鈴木誠,スズキマコト,2010,市民課,主事,平成27年4月1日,採用,,suzuki.m\r\n\
1003,鈴木誠,スズキマコト,2010,市民課,主事,R6.3.31,退職,R6.3.31,\r\n\
1004,壊れた行,コワレタギョウ,1010,総務課,主事,令和6年2月30日,採用,,broken.x\r\n";

const POLICY: &str = r#"
everyone = ["ldap-group:all-staff"]
[[entitlement]]
department = "2010"
resource = "system:juki"
[[entitlement]]
department = "2010"
resource = "ldap-group:juki-users"
[[entitlement]]
department = "2010"
resource = "share:shimin"
[[entitlement]]
department = "1010"
resource = "ldap-group:somu"
"#;

const MAPPING: &str = r#"
source = "juki"
account = "利用者ID"
resource_const = "system:juki"
access = "権限"
from = "付与日"
"#;

/// `mamori <subcommands> --data DATA <options>`: `--data` right after the subcommand words, so
/// an option at the end can take the next `.arg(…)` as its value.
fn data_cmd(data: &Path, args: &[&str]) -> Command {
    let mut c = mamori();
    let split = args.iter().position(|a| a.starts_with("--")).unwrap_or(args.len());
    c.args(&args[..split]).arg("--data").arg(data).args(&args[split..]);
    c
}

fn fails(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(!out.status.success(), "{c:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn state(data: &Path) -> (String, String, String) {
    (
        run_ok(&mut data_cmd(data, &["review", "access", "--as-of", "2024-04-10", "--json"])),
        run_ok(&mut data_cmd(data, &["takeout", "list", "--json"])),
        run_ok(&mut data_cmd(data, &["vendor", "list", "--json"])),
    )
}

fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl").args(["-s", "-w", "\n%{http_code}"]).args(args).output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.trim().parse().unwrap(), body.to_owned())
}

#[test]
fn directory_end_to_end_through_cli_and_api() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    run_ok(mamori().args(["init", "--data"]).arg(&data));
    let w = |name: &str, bytes: &[u8]| {
        let p = tmp.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };

    // Roster through `ingest --format roster`: the malformed row is refused by row and column.
    let (cp932, _, bad) = encoding_rs::SHIFT_JIS.encode(ROSTER);
    assert!(!bad);
    let roster = w("shokuin.csv", &cp932);
    let out = data_cmd(&data, &["ingest", "--format", "roster"]).arg(&roster).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 6 rows"), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stderr).contains("8行目「発令日」"), "{}", String::from_utf8_lossy(&out.stderr));

    let usb = w("usb.csv", "管理番号,ベンダーID,製品ID,シリアル,種別,所有者,状態,登録日,備考\nUSB-001,0781,5567,4C530001,セキュアUSB,所属:2010,使用中,令和5年4月1日,\n".as_bytes());
    run_ok(data_cmd(&data, &["usb-import"]).arg(&usb));
    let policy = w("policy.toml", POLICY.as_bytes());
    assert!(run_ok(data_cmd(&data, &["entitlements-import"]).arg(&policy)).contains("4 entitlements"));
    let mapping = w("juki.toml", MAPPING.as_bytes());
    let (juki_csv, _, _) = encoding_rs::SHIFT_JIS.encode("利用者ID,権限,付与日\nsato.h,更新,H27.4.1\ntanaka.k,更新,H27.4.1\nsuzuki.m,参照,H27.4.1\nbad user,更新,\n");
    let export = w("juki.csv", &juki_csv);
    let out = data_cmd(&data, &["grants-import", "--source", "juki", "--as-of", "2024-04-01", "--mapping"]).arg(&mapping).arg(&export).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 grants"), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stderr).contains("5行目「利用者ID」"), "{}", String::from_utf8_lossy(&out.stderr));
    let smb = w("smb.conf", b"[global]\n workgroup = CITY\n[shimin]\n path = /srv/shimin\n valid users = @juki-users\n read only = no\n");
    run_ok(data_cmd(&data, &["grants-import", "--smb-conf", "--source", "smb:fs01", "--as-of", "2024-04-01"]).arg(&smb));

    // LDAP from a real slapd (sato.h, suzuki.m, tanaka.k, kyotsu01; groups juki-users, somu, all-staff).
    let s = slapd::Slapd::start();
    s.add(slapd::SEED);
    let pw = w("ldap.pw", format!("{}\n", slapd::ROOT_PW).as_bytes());
    let sync = |date: &str| {
        let out = run_ok(
            data_cmd(&data, &["ldap-sync", "--json", "--url", &s.url, "--bind-dn", slapd::ROOT_DN, "--base-dn", slapd::BASE, "--date", date, "--password-file"]).arg(&pw),
        );
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    let first = sync("2024-04-09");
    assert_eq!(first["accounts"], 4);
    drop(s);

    // The review: suzuki.m retired on 3/31 and is still enabled (Hiratsuka); tanaka.k moved to
    // 総務課 and keeps the register (Kamaishi); kyotsu01 is generic. Nothing else: sato.h's
    // register, share and group access is justified by 市民課.
    let review: serde_json::Value = serde_json::from_str(&state(&data).0).unwrap();
    let ids: Vec<&str> = review["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["leaver_access:suzuki.m", "unjustified_grant:tanaka.k:system:juki", "generic_account:kyotsu01"]);
    let tanaka = review["findings"].as_array().unwrap().iter().find(|f| f["id"] == "unjustified_grant:tanaka.k:system:juki").unwrap();
    assert_eq!(tanaka["transferred_from"], "市民課(2010)");
    let csv = run_ok(&mut data_cmd(&data, &["review", "access", "--as-of", "2024-04-10", "--csv"]));
    assert!(csv.contains("leaver_access:suzuki.m"));

    // PDF with a Japanese font, read back with poppler.
    let pdf = tmp.path().join("review.pdf");
    run_ok(data_cmd(&data, &["review", "access", "--as-of", "2024-04-10", "--pdf"]).arg(&pdf));
    let text = Command::new("pdftotext").arg(&pdf).arg("-").output().expect("pdftotext (poppler-utils)");
    assert!(text.status.success());
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("アクセス権棚卸し報告書"), "{text}");
    assert!(text.contains("退職者のアカウント") && text.contains("suzuki.m") && text.contains("鈴木誠"), "{text}");

    // Sign-off with comments per finding; a comment on a finding that is not there is refused.
    let bad_comments = w("bad.csv", "指摘ID,コメント\nleaver_access:nobody,x\n".as_bytes());
    assert!(fails(data_cmd(&data, &["review", "sign", "--as-of", "2024-04-10", "--reviewer", "情報政策課長", "--comments"]).arg(&bad_comments)).contains("leaver_access:nobody"));
    let comments = w("comments.csv", "指摘ID,コメント\nleaver_access:suzuki.m,4/10 停止依頼済み\nunjustified_grant:tanaka.k:system:juki,権限削除を住基担当へ依頼\n".as_bytes());
    run_ok(data_cmd(&data, &["review", "sign", "--as-of", "2024-04-10", "--reviewer", "情報政策課長", "--comments"]).arg(&comments));
    let pdf2 = tmp.path().join("signed.pdf");
    run_ok(data_cmd(&data, &["review", "access", "--as-of", "2024-04-10", "--pdf"]).arg(&pdf2));
    let text2 = String::from_utf8_lossy(&Command::new("pdftotext").arg(&pdf2).arg("-").output().unwrap().stdout).into_owned();
    assert!(text2.contains("停止依頼済み") && text2.contains("情報政策課長"), "{text2}");

    // Takeout: sato.h asks to take 120 records on the registered stick; she cannot approve it
    // herself; the 課長 can.
    run_ok(&mut data_cmd(&data, &["takeout", "request", "--id", "T-1", "--applicant", "sato.h", "--description", "転入者一覧", "--records", "120", "--purpose", "照合", "--medium", "usb:USB-001", "--destination", "県", "--from", "2024-05-01", "--until", "2024-05-10", "--on", "2024-04-25"]));
    let e = fails(&mut data_cmd(&data, &["takeout", "approve", "--id", "T-1", "--approver", "1001", "--on", "2024-04-26"]));
    assert!(e.contains("本人"), "{e}");
    let e = fails(&mut data_cmd(&data, &["takeout", "request", "--id", "T-2", "--applicant", "sato.h", "--description", "x", "--purpose", "y", "--medium", "usb:USB-999", "--from", "2024-05-01", "--until", "2024-05-02"]));
    assert!(e.contains("USB-999"), "{e}");
    run_ok(&mut data_cmd(&data, &["takeout", "approve", "--id", "T-1", "--approver", "kacho.s", "--on", "2024-04-26"]));
    run_ok(&mut data_cmd(&data, &["takeout", "take", "--id", "T-1", "--on", "2024-05-01"]));
    assert!(run_ok(&mut data_cmd(&data, &["takeout", "reminders", "--as-of", "2024-05-20"])).contains("T-1"));
    run_ok(&mut data_cmd(&data, &["vendor", "add", "--id", "K-1", "--vendor", "株式会社イセトー", "--from", "2024-04-01", "--until", "2024-06-30"]));
    assert!(run_ok(&mut data_cmd(&data, &["vendor", "reminders", "--as-of", "2024-08-15"])).contains("消去証明書が未提出"));

    // Every change is an admin entry naming who did it.
    for action in ["ldap-synced", "grants-imported", "entitlements-imported", "takeout-changed", "vendor-changed", "access-review-signed", "roster-imported"] {
        let found = run_ok(&mut data_cmd(&data, &["search", "--json", "--kind", "admin", "--action", action]));
        assert!(found.contains("\"name\":\"cli\""), "{action}: {found}");
    }

    // The same state after rebuilding the index from the ledger.
    let before = state(&data);
    run_ok(&mut data_cmd(&data, &["reindex"]));
    assert_eq!(state(&data), before, "replay from the ledger gives the same state");

    // The API: the review, and a takeout transition ledgered under the caller's name.
    let officer = run_ok(&mut data_cmd(&data, &["token", "--name", "kanri", "--role", "officer"])).trim().to_owned();
    let ingest = run_ok(&mut data_cmd(&data, &["token", "--name", "shipper", "--role", "ingest"])).trim().to_owned();
    let srv = Server::start(&data, &["--listen", "127.0.0.1:0", "--syslog-tcp", "127.0.0.1:0", "--syslog-udp", "127.0.0.1:0"]);
    let auth = format!("Authorization: Bearer {officer}");
    let (code, body) = curl(&["-H", &auth, &format!("{}/api/v1/review/access?as_of=2024-04-10", srv.http)]);
    assert_eq!(code, 200, "{body}");
    let api_review: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(api_review["findings"], review["findings"]);
    let (code, _) = curl(&[&format!("{}/api/v1/review/access?as_of=2024-04-10", srv.http)]);
    assert_eq!(code, 401);
    let (code, _) = curl(&["-H", &format!("Authorization: Bearer {ingest}"), &format!("{}/api/v1/review/access?as_of=2024-04-10", srv.http)]);
    assert_eq!(code, 403, "an ingest token reads no names");
    let self_approve = r#"{"action":"approve","id":"T-9","approver":"1001","on":"2024-04-26"}"#;
    let (code, body) = curl(&["-H", &auth, "-H", "Content-Type: application/json", "-d", self_approve, &format!("{}/api/v1/takeouts", srv.http)]);
    assert_eq!(code, 409, "{body}");
    let ret = r#"{"action":"return","id":"T-1","on":"2024-05-09","note":"返却確認"}"#;
    let (code, body) = curl(&["-H", &auth, "-H", "Content-Type: application/json", "-d", ret, &format!("{}/api/v1/takeouts", srv.http)]);
    assert_eq!(code, 201, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["takeout"]["state"], "returned");
    assert_eq!(v["takeout"]["history"].as_array().unwrap().last().unwrap()["by"], "kanri");
    let events = r#"[{"@timestamp":"2024-05-02T01:00:00Z","user":{"name":"sato.h"},"file":{"name":"a.csv"},"mamori":{"usb":{"vendor_id":"0781","product_id":"5567","serial":"4C530001"}}},
                    {"@timestamp":"2024-05-02T01:00:00Z","user":{"name":"tanaka.k"},"mamori":{"export":{"records":31429,"system":"juki"}}}]"#;
    let (code, body) = curl(&["-H", &auth, "-H", "Content-Type: application/json", "-d", events, &format!("{}/api/v1/takeouts/reconcile", srv.http)]);
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["results"][0]["result"]["verdict"], "matched");
    assert_eq!(v["results"][1]["result"]["reason"], "no_request");
    let (code, body) = curl(&["-H", &auth, &format!("{}/api/v1/directory/accounts/unknown?as_of=2024-04-10", srv.http)]);
    assert_eq!(code, 200);
    assert!(body.contains("kyotsu01"), "{body}");
    srv.stop();

    // After the restart the API's change is part of the replayed state.
    let (_, takeouts, _) = state(&data);
    assert!(takeouts.contains("\"returned\"") && takeouts.contains("\"kanri\""), "{takeouts}");
}
