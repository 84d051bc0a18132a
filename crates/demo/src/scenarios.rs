//! The seed incidents as scenarios: the cast, the directory records they need, their events,
//! and `labels.json` / `manifest.json`.

use std::path::Path;

use chrono::{Datelike, Duration, NaiveDate};
use serde_json::{Value, json};

use crate::DemoError;
use crate::names::*;
use crate::world::*;

/// The HR list on the HR share (Hirosaki).
pub(crate) const HR_LIST: &str = "/職員データ/職員名簿.csv";

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Indices into the people list of the scenarios' actors.
pub(crate) struct Cast {
    /// Kamaishi staff A (moved away from 市民課 on 2025-04-01).
    pub ka: usize,
    /// Kamaishi staff B (still in 市民課, entitled).
    pub kb: usize,
    /// Kamaishi: the 市民課 colleague who puts the handover list in the all-staff folder.
    pub kc: usize,
    /// Hiratsuka: retires 2026-03-31.
    pub hh: usize,
    /// Ikeda: the 部長 whose PC is taken over.
    pub ikeda: usize,
    /// Hirosaki: the 人事課 member who keeps the HR list.
    pub hw: usize,
    /// Hirosaki: the reader outside 人事課 who leaks it.
    pub hl: usize,
    /// Nara: the 総務課 member who puts the list in the publish folder.
    pub nw: usize,
    /// Fukuoka: the 健康推進課 member who invites an outsider.
    pub fk: usize,
}

impl Cast {
    /// People whose register-system work the scenarios write themselves (none: all do normal work).
    pub(crate) fn quiet_juki(&self, _id: &str) -> bool {
        false
    }
}

pub(crate) fn cast(r: &mut Rng, people: &mut People) -> Cast {
    let ka = people.add(r, ymd(2012, 4, 1), "201010", "主事", true);
    people.list[ka]
        .posts
        .push((ymd(2025, 4, 1), "3010", "主任"));
    let kb = people.add(r, ymd(2009, 4, 1), "201010", "主任", true);
    let kc = people.add(r, ymd(2018, 4, 1), "201020", "主事", true);
    let hh = people.add(r, ymd(1986, 4, 1), "201010", "主査", true);
    people.list[hh].retire = Some(ymd(2026, 3, 31));
    let ikeda = people.add(r, ymd(1989, 4, 1), "50", "部長", true);
    // The director's PC is one whose logs are collected as EVTX files.
    people.list[ikeda].evtx = true;
    let hw = people.add(r, ymd(2010, 4, 1), "101010", "主査", true);
    let hl = people.add(r, ymd(2011, 4, 1), "1020", "主査", true);
    let nw = people.add(r, ymd(2016, 4, 1), "1020", "主任", true);
    let fk = people.add(r, ymd(2015, 4, 1), "4030", "主任", true);
    Cast {
        ka,
        kb,
        kc,
        hh,
        ikeda,
        hw,
        hl,
        nw,
        fk,
    }
}

/// USB 管理台帳 entries: id, vendor, product, serial, kind, owner, state, since, note.
const USB: &[(&str, &str, &str, &str, &str, &str, &str)] = &[
    (
        "USB-001",
        "0781",
        "5567",
        "AOBA2010001",
        "セキュアUSB",
        "所属:2010",
        "市民課共用",
    ),
    (
        "USB-002",
        "0781",
        "5567",
        "AOBA4010001",
        "セキュアUSB",
        "所属:4010",
        "子育て支援課共用",
    ),
    (
        "USB-003",
        "0951",
        "1666",
        "AOBA2030001",
        "暗号化USB",
        "所属:2030",
        "税務課共用",
    ),
    (
        "USB-010",
        "0781",
        "5567",
        "AOBA1020001",
        "セキュアUSB",
        "所属:1020",
        "総務課共用",
    ),
    (
        "USB-011",
        "0951",
        "1666",
        "AOBA3010001",
        "暗号化USB",
        "所属:3010",
        "建設課共用",
    ),
];

/// The unregistered sticks of the scenarios.
const KA_STICK: (&str, &str, &str) = ("0930", "6545", "07A1KA773100");
const HH_STICK: (&str, &str, &str) = ("058f", "6387", "HH0042PLAIN");

fn usb_dev(id: &str) -> (&'static str, &'static str, &'static str) {
    let u = USB.iter().find(|u| u.0 == id).unwrap();
    (u.1, u.2, u.3)
}

fn args(v: &[&str]) -> Value {
    json!({"args": v})
}

/// A person employed and in `unit` (prefix) on every day of `[a, b]`, not an actor.
fn find(people: &People, unit: &str, a: NaiveDate, b: NaiveDate, skip: usize) -> Option<usize> {
    let mut n = 0;
    for (i, p) in people.list.iter().enumerate() {
        if p.actor || p.posts[0].2.ends_with('長') {
            continue;
        }
        let ok = [a, b]
            .iter()
            .all(|d| p.post_at(*d).is_some_and(|(u, _)| u.starts_with(unit)))
            && p.posts.len() == 1;
        if ok {
            if n == skip {
                return Some(i);
            }
            n += 1;
        }
    }
    None
}

/// The 課長 of a 課 on a day.
fn kacho(people: &People, ka: &str, d: NaiveDate) -> usize {
    people
        .list
        .iter()
        .position(|p| p.post_at(d).is_some_and(|(u, t)| u == ka && t == "課長"))
        .expect("課長")
}

/// Roster, grants, entitlements, USB 管理台帳, vendors, takeouts, policy, mapping.
pub(crate) fn directory(
    r: &mut Rng,
    out: &Path,
    people: &People,
    cast: &Cast,
    res: &[Resident],
    w: &mut Written,
    first: NaiveDate,
) -> Result<(), DemoError> {
    let _ = res;
    // Roster.
    let mut roster = String::from(
        "職員番号,氏名,氏名カナ,所属コード,所属名,職名,発令日,異動区分,退職日,アカウント\n",
    );
    for p in &people.list {
        for (i, (from, unit, title)) in p.posts.iter().enumerate() {
            let kind = if i == 0 { "採用" } else { "異動" };
            let acct = if i == 0 {
                format!("{}@{DOMAIN};{WINDOMAIN}\\{}", p.account, p.account)
            } else {
                String::new()
            };
            roster.push_str(&csv_line(&[
                &p.id,
                &p.name,
                &p.kana,
                unit,
                dept(unit).name,
                title,
                &from.format("%Y/%-m/%-d").to_string(),
                kind,
                "",
                &acct,
            ]));
        }
        if let Some(rd) = p.retire {
            let (unit, title) = p.post_at(rd).unwrap();
            roster.push_str(&csv_line(&[
                &p.id,
                &p.name,
                &p.kana,
                unit,
                dept(unit).name,
                title,
                &rd.format("%Y/%-m/%-d").to_string(),
                "退職",
                "",
                "",
            ]));
        }
    }
    write(out, "directory/roster.csv", roster.as_bytes())?;
    // The LDAP directory as of the last day (not loaded: mamori reads LDAP from a server,
    // `mamori ldap-sync`; `ldapadd -f` puts it into one — crates/demo/tests/ldif.rs).
    let ldif = crate::ldif::accounts_ldif(people, crate::world::Config::last_day(), &[people.list[cast.hh].id.as_str()]);
    write(out, "directory/accounts.ldif", ldif.as_bytes())?;
    w.steps
        .push(args(&["roster-import", "directory/roster.csv"]));

    // Entitlements (所属ごとの権限基準).
    let mut ent = String::from(
        "# あおば市(架空)の権限基準 / entitlement policy of the fictional city\neveryone = [\"share:zenchou\", \"system:mail\"]\n\n",
    );
    for d in DEPTS {
        ent.push_str(&format!(
            "[[department]]\ncode = \"{}\"\nname = \"{}\"\n",
            d.code, d.name
        ));
        if !d.parent.is_empty() {
            ent.push_str(&format!("parent = \"{}\"\n", d.parent));
        }
        ent.push('\n');
    }
    for (d, res, acc, why) in [
        (
            "2010",
            "system:住民記録システム",
            "write",
            "住民基本台帳事務",
        ),
        (
            "2020",
            "system:住民記録システム",
            "read",
            "国民健康保険・年金の資格確認",
        ),
        ("2030", "system:住民記録システム", "read", "課税事務"),
        ("2010", "share:juki", "write", "住民記録の帳票"),
        ("1010", "share:jinji", "write", "人事・給与事務"),
        ("1020", "share:kouhou", "write", "広報・公開資料"),
    ] {
        ent.push_str(&format!("[[entitlement]]\ndepartment = \"{d}\"\nresource = \"{res}\"\naccess = \"{acc}\"\nreason = \"{why}\"\n\n"));
    }
    write(out, "directory/entitlements.toml", ent.as_bytes())?;
    w.steps.push(args(&[
        "entitlements-import",
        "directory/entitlements.toml",
    ]));

    // Grants: the register system's permission export — half the staff (Kamaishi: ~300 of ~600).
    let as_of = first.format("%Y-%m-%d").to_string();
    let mut g = String::from("アカウント,資源,権限,開始日,終了日\n");
    for p in &people.list {
        let unit = p.post_at(first).map(|x| x.0).unwrap_or(p.posts[0].1);
        if juki_entitled(unit) || p.id == people.list[cast.ka].id || r.chance(0.42) {
            g.push_str(&csv_line(&[
                &p.account,
                "system:住民記録システム",
                "参照",
                "2015/4/1",
                "",
            ]));
        }
    }
    write(out, "directory/grants-juki.csv", g.as_bytes())?;
    w.steps.push(args(&[
        "grants-import",
        "--source",
        "juki",
        "--as-of",
        &as_of,
        "directory/grants-juki.csv",
    ]));
    // The HR share: readable by 20 people (人事課 and a few others, Hirosaki).
    let mut g = String::from("アカウント,資源,権限,開始日,終了日\n");
    let mut n = 0;
    for p in &people.list {
        if p.posts[0].1.starts_with("1010") || p.id == people.list[cast.hl].id {
            g.push_str(&csv_line(&[
                &p.account,
                "share:jinji",
                "write",
                "2015/4/1",
                "",
            ]));
            n += 1;
        }
    }
    for p in &people.list {
        if n >= 20 {
            break;
        }
        if !p.posts[0].1.starts_with("1010")
            && p.posts[0].1.starts_with("10")
            && p.id != people.list[cast.hl].id
        {
            g.push_str(&csv_line(&[
                &p.account,
                "share:jinji",
                "read",
                "2015/4/1",
                "",
            ]));
            n += 1;
        }
    }
    write(out, "directory/grants-jinji.csv", g.as_bytes())?;
    w.steps.push(args(&[
        "grants-import",
        "--source",
        "fs01-jinji",
        "--as-of",
        &as_of,
        "directory/grants-jinji.csv",
    ]));

    // USB 管理台帳.
    let mut u = String::from("管理番号,ベンダーID,製品ID,シリアル,種別,所有者,状態,登録日,備考\n");
    for x in USB {
        u.push_str(&csv_line(&[
            x.0,
            x.1,
            x.2,
            x.3,
            x.4,
            x.5,
            "使用中",
            "2023/4/1",
            x.6,
        ]));
    }
    write(out, "directory/usb.csv", u.as_bytes())?;
    w.steps.push(args(&["usb-import", "directory/usb.csv"]));

    // Vendors (委託先). Isetō: the printing contract ends, no deletion certificate.
    for (id, vendor, subject, from, until, dept_code, handover, cert) in [
        (
            "V-2025-01",
            "東北システム株式会社(架空)",
            "住民記録システム保守",
            "2025-04-01",
            "2025-09-30",
            "2010",
            Some(("2025-04-15", "保守用テストデータ", "1200")),
            Some("2025-10-20"),
        ),
        (
            "V-2025-02",
            "あおば印刷株式会社(架空)",
            "納税通知書の印刷・封入",
            "2025-04-01",
            "2025-07-31",
            "2030",
            Some(("2025-05-12", "課税データ(納税義務者)", "28000")),
            None,
        ),
        (
            "V-2025-03",
            "けんこう基金(架空)",
            "健診結果通知の作成",
            "2025-06-01",
            "2026-03-31",
            "4030",
            None,
            None,
        ),
    ] {
        w.steps.push(args(&[
            "vendor",
            "add",
            "--id",
            id,
            "--vendor",
            vendor,
            "--subject",
            subject,
            "--from",
            from,
            "--until",
            until,
            "--department",
            dept_code,
        ]));
        if let Some((on, data, recs)) = handover {
            w.steps.push(args(&[
                "vendor",
                "handover",
                "--id",
                id,
                "--on",
                on,
                "--content",
                data,
                "--records",
                recs,
            ]));
        }
        if let Some(on) = cert {
            w.steps.push(args(&[
                "vendor",
                "certificate",
                "--id",
                id,
                "--on",
                on,
                "--note",
                "データ消去証明書(上書き消去・立会い)",
            ]));
        }
    }

    // Approved takeouts (持ち出し申請, 課長 approval).
    for (tid, unit, skip, usb, day, records, dest) in [
        (
            "T-2025-001",
            "201020",
            0,
            "USB-001",
            ymd(2025, 7, 8),
            "120",
            "北部公民館 出張窓口",
        ),
        (
            "T-2025-002",
            "201020",
            1,
            "USB-001",
            ymd(2025, 11, 18),
            "140",
            "南部支所 出張窓口",
        ),
        (
            "T-2026-001",
            "4010",
            0,
            "USB-002",
            ymd(2026, 2, 10),
            "60",
            "子育て広場 出張相談",
        ),
    ] {
        let Some(a) = find(people, unit, day - Duration::days(10), day, skip) else {
            continue;
        };
        let k = kacho(people, ka_of(unit), day);
        let on = (day - Duration::days(1)).format("%Y-%m-%d").to_string();
        let ds = day.format("%Y-%m-%d").to_string();
        let medium = format!("usb:{usb}");
        w.steps.push(args(&[
            "takeout",
            "request",
            "--id",
            tid,
            "--applicant",
            &people.list[a].id,
            "--description",
            "交付対象者名簿",
            "--records",
            records,
            "--purpose",
            dest,
            "--medium",
            &medium,
            "--destination",
            dest,
            "--from",
            &ds,
            "--until",
            &ds,
            "--on",
            &on,
        ]));
        w.steps.push(args(&[
            "takeout",
            "approve",
            "--id",
            tid,
            "--approver",
            &people.list[k].id,
            "--on",
            &on,
        ]));
        w.steps
            .push(args(&["takeout", "take", "--id", tid, "--on", &ds]));
        w.steps
            .push(args(&["takeout", "return", "--id", tid, "--on", &ds]));
    }

    // Detection policy and the business-system mapping.
    let ka = &people.list[cast.ka];
    let policy = format!(
        r#"# あおば市(架空)の検知ポリシー / detection policy of the fictional city
utc_offset_hours = 9
everyone = ["share:zenchou", "system:mail"]
all_staff = ["share:zenchou"]
audit_admin_departments = ["1030"]
handover_window = ["03-15", "04-15"]
repeated_threshold = 3
repeated_window_days = 365
invite_revoke_within_hours = 72
proxy_window_hours = 72

[office_hours]
start = "08:30:00"
end = "17:15:00"
grace_minutes = 60

[[sensitive]]
resource = "share:jinji"
learning_days = 14

[home_addresses]
"{}" = ["{}.home@example.net"]
"#,
        ka.id,
        ka.account.replace('.', "")
    );
    write(out, "rules/municipal.toml", policy.as_bytes())?;
    w.steps.push(json!({"copy": "rules/municipal.toml"}));
    write(out, "mappings/demo-juki.toml", JUKI_MAPPING.as_bytes())?;
    Ok(())
}

const JUKI_MAPPING: &str = r#"# あおば市(架空)住民記録システムの操作ログ / the demo city's register-system operation log.
#   操作日時,端末名,操作者ID,操作者名,業務,画面ID,操作区分,宛名番号,対象件数,出力ファイル,処理結果
[mapping]
name = "demo-juki"
input = "csv"
system = "住民記録システム"
description = "デモ市 住民記録システム 操作ログ(UTF-8)"

[csv]
encoding = "auto"

[timestamp]
from = "操作日時"
formats = ["%Y/%m/%d %H:%M:%S"]
timezone = "+09:00"

[fields."user.name"]
from = "操作者ID"
required = true

[fields."user.full_name"]
from = "操作者名"

[fields."host.name"]
from = "端末名"

[fields."mamori.export.screen"]
from = "画面ID"

[fields."mamori.subject.id"]
from = "宛名番号"

[fields."mamori.export.records"]
from = "対象件数"
type = "count"

[fields."file.name"]
from = "出力ファイル"

[fields."event.outcome"]
from = "処理結果"
map = { "正常" = "success", "異常" = "failure" }

[constants]
"event.type" = ["access"]

[action]
from = "操作区分"
map = { "照会" = "view", "一覧出力" = "list-export", "CSV出力" = "csv-export", "印刷" = "print" }
personal_data = ["view", "list-export", "csv-export", "print"]

[action.category]
view = ["database"]
list-export = ["database"]
csv-export = ["database", "file"]
print = ["database"]
"#;

/// The scenarios' own events (merged into the months by time).
pub(crate) fn events(r: &mut Rng, people: &People, cast: &Cast, res: &[Resident]) -> Out {
    let mut o = Out::default();
    let p = |i: usize| &people.list[i];
    let t = |d: NaiveDate, h: u32, m: u32| at(d, hms(h, m, 0));
    // Kamaishi.
    o.tag = Some("kamaishi");
    let (ka, kb, kc) = (p(cast.ka), p(cast.kb), p(cast.kc));
    for (i, d) in [
        ymd(2025, 5, 20),
        ymd(2025, 7, 15),
        ymd(2025, 9, 9),
        ymd(2025, 11, 11),
        ymd(2026, 1, 20),
        ymd(2026, 2, 17),
    ]
    .into_iter()
    .enumerate()
    {
        let f = format!("住基_{}.csv", d.format("%Y%m%d"));
        o.smb_read(t(d, 10, 12), ka, "juki", &format!("/スナップショット/{f}"));
        o.usb_write(t(d, 16, 58), ka, KA_STICK, &f, Some(res.len() as u64));
        if i == 1 {
            o.mail(
                t(d, 17, 3),
                ka,
                &[format!("{}.home@example.net", ka.account.replace('.', ""))],
                "",
                &[&f],
            );
        }
        if i == 3 {
            o.mail(
                t(d, 17, 4),
                ka,
                &[format!("{}1975@gmail.com", ka.account.replace('.', ""))],
                "",
                &[&f],
            );
        }
    }
    let d = ymd(2025, 6, 12);
    o.juki(
        t(d, 10, 30),
        kb,
        "JKR0301",
        "一覧出力",
        "",
        2_400,
        "住基抽出_20250612.csv",
    );
    o.mail(
        t(d, 11, 5),
        kb,
        &[ka.mail()],
        "",
        &["住基抽出_20250612.csv"],
    );
    o.chat(
        t(d, 11, 9),
        kb,
        ka,
        "dm",
        "例のデータ送ります",
        Some("住基抽出_20250612.csv"),
    );
    let d = ymd(2025, 10, 8);
    o.juki(
        t(d, 13, 40),
        kb,
        "JKR0302",
        "CSV出力",
        "",
        12_800,
        "住基全件_20251008.csv",
    );
    o.mail(
        t(d, 14, 2),
        kb,
        &[ka.mail()],
        "",
        &["住基全件_20251008.csv"],
    );
    let d = ymd(2025, 6, 20);
    let data = json!({"SubjectUserName": kb.account, "SubjectDomainName": WINDOMAIN, "SubjectLogonId": "0x3e7a1", "CategoryId": "%%8274", "SubcategoryId": "%%12800",
        "SubcategoryGuid": "{0CCE921D-69AE-11D9-BED3-505054503030}", "AuditPolicyChanges": "%%8448, %%8450"});
    o.win(
        t(d, 16, 50),
        kb,
        "Microsoft-Windows-Security-Auditing",
        "Security",
        4719,
        data,
    );
    let d = ymd(2026, 3, 24);
    o.smb_write(
        t(d, 15, 20),
        kc,
        "zenchou",
        "/市民課窓口係/引継ぎ/住民異動引継ぎ名簿.xlsx",
    );
    o.smb_read(
        t(ymd(2026, 3, 26), 11, 40),
        ka,
        "zenchou",
        "/市民課窓口係/引継ぎ/住民異動引継ぎ名簿.xlsx",
    );

    // Hiratsuka.
    o.tag = Some("hiratsuka");
    let hh = p(cast.hh);
    let d = ymd(2026, 3, 30);
    o.juki(
        t(d, 16, 30),
        hh,
        "JKR0301",
        "一覧出力",
        "",
        900,
        "住民一覧_20260330.csv",
    );
    o.usb_write(
        t(d, 16, 52),
        hh,
        HH_STICK,
        "住民一覧_20260330.csv",
        Some(900),
    );
    let d = ymd(2026, 4, 1);
    o.logon(t(d, 10, 5), hh);
    o.juki(
        t(d, 10, 20),
        hh,
        "JKR0302",
        "CSV出力",
        "",
        31_429,
        "住民全件_20260401.csv",
    );
    o.usb_write(
        t(d, 10, 41),
        hh,
        HH_STICK,
        "住民全件_20260401.csv",
        Some(31_429),
    );
    o.logoff(t(d, 10, 55), hh);

    // Ikeda.
    o.tag = Some("ikeda");
    let ik = p(cast.ikeda);
    let d = ymd(2025, 6, 3);
    o.web(
        t(d, 15, 31),
        ik,
        "http://pc-support-alert.example.com/virus-alert/?phone=0120-000-000",
    );
    o.web(
        t(d, 15, 33),
        ik,
        "http://pc-support-alert.example.com/download/support-tool.html",
    );
    o.process(
        t(d, 15, 40),
        ik,
        "C:\\Users\\Public\\Downloads\\TeamViewer_Setup.exe",
        "TeamViewer_Setup.exe /S",
    );
    o.process(
        t(d, 15, 46),
        ik,
        "C:\\Program Files\\TeamViewer\\TeamViewer.exe",
        "\"C:\\Program Files\\TeamViewer\\TeamViewer.exe\"",
    );
    for i in 0..14u32 {
        let f = format!(
            "/部長室/{}_{:02}.docx",
            ["議会答弁", "人事案", "予算要求", "入札予定"][i as usize % 4],
            i
        );
        o.smb_read(t(d, 16, 3) + i64::from(i) * 170, ik, "k50", &f);
    }
    let data = json!({"SubjectUserName": ik.account, "SubjectDomainName": WINDOMAIN});
    let doc = json!({"@timestamp": at(d, hms(16, 45, 0)), "_": 0});
    let _ = doc;
    o.win(
        t(d, 16, 45),
        ik,
        "Microsoft-Windows-Eventlog",
        "Security",
        1102,
        data,
    );
    for (day, url) in [
        (ymd(2025, 6, 10), "http://casino-example.example.com/slots/"),
        (ymd(2025, 6, 17), "http://keiba-yosou.example.net/today"),
        (ymd(2025, 6, 24), "http://casino-example.example.com/live/"),
    ] {
        o.web(t(day, 14, 20), ik, url);
    }

    // Hirosaki.
    o.tag = Some("hirosaki");
    let (hw, hl) = (p(cast.hw), p(cast.hl));
    o.smb_write(t(ymd(2025, 4, 10), 9, 40), hw, "jinji", HR_LIST);
    let d = ymd(2025, 10, 15);
    o.smb_read(t(d, 14, 10), hl, "jinji", HR_LIST);
    o.usb_write(t(d, 14, 22), hl, usb_dev("USB-010"), "職員抽出.csv", None);

    // Nara: the list goes to the publish folder.
    o.tag = Some("nara");
    o.smb_write(
        t(ymd(2026, 2, 5), 13, 15),
        p(cast.nw),
        "kouhou",
        "/公開予定/令和7年度_説明会参加者名簿.pdf",
    );

    // Fukuoka: an outsider invited, never revoked.
    o.tag = Some("fukuoka");
    let fk = p(cast.fk);
    o.share(
        t(ymd(2025, 8, 5), 11, 20),
        fk,
        "COLLABORATION_INVITE",
        "陽性者一覧_20250805.xlsx",
        "https://files.example.com/s/aoba-kenko-0805",
        "outsider@example.com",
    );

    // Approved takeouts (normal work, not a scenario).
    o.tag = None;
    for (unit, skip, usb, day, records) in [
        ("201020", 0, "USB-001", ymd(2025, 7, 8), 120),
        ("201020", 1, "USB-001", ymd(2025, 11, 18), 140),
        ("4010", 0, "USB-002", ymd(2026, 2, 10), 60),
    ] {
        let Some(a) = find(people, unit, day - Duration::days(10), day, skip) else {
            continue;
        };
        o.usb_write(
            t(day, 9, 50),
            p(a),
            usb_dev(usb),
            &format!("交付名簿_{}.csv", day.format("%Y%m%d")),
            Some(records),
        );
    }
    let _ = (r, res);
    o
}

fn person_json(p: &Person, role: &str) -> Value {
    json!({"role": role, "staff_id": p.id, "account": p.account, "name": p.name})
}

/// Files (HR list, extract, leaked list, Nara PDF, residents), labels.json, manifest.json.
pub(crate) fn finish(
    out: &Path,
    cfg: &Config,
    people: &People,
    cast: &Cast,
    res: &[Resident],
    w: &mut Written,
    staff_days: u64,
) -> Result<(), DemoError> {
    // Residents (the business system's master; fictional).
    let mut s = String::from("宛名番号,氏名,氏名カナ,性別,生年月日,住所,住民票コード,個人番号\n");
    for x in res {
        s.push_str(&csv_line(&[
            &x.atena,
            &x.name,
            &x.kana,
            x.sex,
            &x.birth.format("%Y/%m/%d").to_string(),
            &x.address,
            &x.juminhyo,
            &x.my_number,
        ]));
    }
    write(out, "residents/residents.csv", s.as_bytes())?;
    // The HR list (Hirosaki) as it sits on the HR share, and the reader's extract.
    let d = ymd(2025, 10, 15);
    let mut hr = String::from("職員番号,氏名,フリガナ,生年月日,住所,所属,職名\n");
    let mut ext = String::from("氏名,フリガナ,生年月日,住所,所属,職名\n");
    let mut leaked = String::from("住所,お名前,生年月日\n");
    for p in &people.list {
        let Some((u, t)) = p.post_at(d) else { continue };
        let b = p.birth.format("%Y/%m/%d").to_string();
        hr.push_str(&csv_line(&[
            &p.id,
            &p.name,
            &p.kana,
            &b,
            &p.address,
            dept(u).name,
            t,
        ]));
        if t.ends_with('長') {
            ext.push_str(&csv_line(&[
                &p.name,
                &p.kana,
                &b,
                &p.address,
                dept(u).name,
                t,
            ]));
            let jb = format!(
                "{}年{}月{}日",
                p.birth.year(),
                p.birth.month(),
                p.birth.day()
            );
            leaked.push_str(&csv_line(&[
                &p.address.replace(PREF, ""),
                &p.name.replace(' ', "　"),
                &jb,
            ]));
        }
    }
    write(out, "files/jinji/職員名簿.csv", hr.as_bytes())?;
    write(out, "files/hirosaki/職員抽出.csv", ext.as_bytes())?;
    write(out, "leaked/hirosaki_leaked.csv", leaked.as_bytes())?;
    let (hw, hl) = (&people.list[cast.hw], &people.list[cast.hl]);
    w.steps.push(args(&[
        "fingerprint",
        "files/jinji/職員名簿.csv",
        "--user",
        &hw.account,
        "--channel",
        "share",
        "--name",
        HR_LIST,
    ]));
    w.steps.push(args(&[
        "fingerprint",
        "files/hirosaki/職員抽出.csv",
        "--user",
        &hl.account,
        "--channel",
        "usb",
    ]));
    // Nara: 397 residents in a PDF about to be published.
    let mut lines = vec!["番号  氏名  住所".to_owned()];
    for (i, x) in res.iter().take(397).enumerate() {
        lines.push(format!("{:>3}  {}  {}", i + 1, x.name, x.address));
    }
    let pdf = crate::pdf::lines_pdf("令和7年度 地域説明会 参加者名簿(公開用資料)", &lines)
        .map_err(DemoError::Pdf)?;
    write(out, "files/publish/令和7年度_説明会参加者名簿.pdf", &pdf)?;
    write(out, "files/publish/お知らせ.txt", "令和7年度 地域説明会を開催しました。多数のご参加ありがとうございました。\nあおば市 総務課\n".as_bytes())?;

    // Labels.
    let pj = |i: usize, role: &str| person_json(&people.list[i], role);
    let e = |rule: &str, i: usize| json!({"rule": rule, "staff_id": people.list[i].id, "account": people.list[i].account});
    // An expectation that one of the alert's evidence events is a given action by a given
    // account (the Kamaishi chat hand-over: the proxy alert must hold the chat message, not
    // only the mail of the same day).
    let via = |mut x: Value, action: &str, i: usize| {
        x["evidence"] = json!({"action": action, "user": people.list[i].account});
        x
    };
    let events = |id: &str| -> Vec<Value> {
        w.labels
            .iter()
            .filter(|l| l.0 == id)
            .map(|l| json!({"file": l.1, "line": l.2}))
            .collect()
    };
    let scen = json!([
        {"id": "kamaishi", "title_ja": "釜石市型: 異動後の住基データの取得・受け渡し・持出", "title_en": "Kamaishi: register data after a transfer, by proxy, to USB and home",
         "people": [pj(cast.ka, "A (moved to 建設課 2025-04-01)"), pj(cast.kb, "B (市民課, entitled)"), pj(cast.kc, "handover list writer")],
         "expect": [e("kamaishi_after_transfer", cast.ka), e("kamaishi_proxy", cast.kb), via(e("kamaishi_proxy", cast.kb), "file-shared", cast.kb), e("hiratsuka_usb", cast.ka), e("kamaishi_takeout_unapproved", cast.ka),
                    e("kamaishi_repeated", cast.ka), e("kamaishi_mail_home", cast.ka), e("kamaishi_audit_exclusion", cast.kb), e("kamaishi_handover_folder", cast.ka),
                    e("kamaishi_bulk_export", cast.kb)],
         "allow": [e("kamaishi_handover_folder", cast.kc), e("kamaishi_bulk_export", cast.ka)],
         "counts": {"usb_snapshots": 6, "mails_home": 2, "proxy_mails": 2},
         "ppc": {"records_sum": 6 * res.len() + 2_400 + 12_800, "records_max": res.len().max(12_800), "why": "six whole-register snapshots on USB (each all residents) and the two lists B exported for A; the sum counts residents more than once (an upper bound), the maximum is the register"},
         "events": events("kamaishi")},
        {"id": "hiratsuka", "title_ja": "平塚市型: 退職前後の複製(退職翌日もアカウント有効、私物USB)", "title_en": "Hiratsuka: copies before and the day after retirement on a live account, plain USB",
         "people": [pj(cast.hh, "retires 2026-03-31")],
         "expect": [e("hiratsuka_after_retirement", cast.hh), e("hiratsuka_usb", cast.hh)],
         "allow": [e("kamaishi_takeout_unapproved", cast.hh), e("kamaishi_bulk_export", cast.hh)],
         "events": events("hiratsuka")},
        {"id": "ikeda", "title_ja": "池田町型: サポート詐欺、遠隔操作ツール、16:03〜16:41 の文書閲覧、ログ消去", "title_en": "Ikeda: support scam, remote tool, documents read 16:03–16:41, logs cleared",
         "people": [pj(cast.ikeda, "部長")],
         "expect": [e("ikeda_remote_tool", cast.ikeda), e("ikeda_logs_cleared", cast.ikeda), e("ikeda_inappropriate_browsing", cast.ikeda)],
         "allow": [],
         "events": events("ikeda")},
        {"id": "hirosaki", "title_ja": "弘前市型: 20人が読める人事共有、1人が読み、後に名簿が漏えい", "title_en": "Hirosaki: HR share readable by 20, one reads, the list leaks",
         "people": [pj(cast.hl, "reader outside 人事課"), pj(cast.hw, "人事課, keeps the list")],
         "expect": [e("hirosaki_hr_share", cast.hl)],
         "allow": [e("kamaishi_after_transfer", cast.hl), e("kamaishi_takeout_unapproved", cast.hl), e("kamaishi_proxy", cast.hl)],
         "trace": {"leaked": "leaked/hirosaki_leaked.csv", "first_user": hl.account},
         "events": events("hirosaki")},
        {"id": "nara", "title_ja": "奈良市型: 397人の氏名を含むPDFが公開フォルダに", "title_en": "Nara: a PDF with 397 names in the publish folder",
         "people": [pj(cast.nw, "総務課")],
         "expect": [], "allow": [],
         "scan": {"path": "files/publish", "file": "files/publish/令和7年度_説明会参加者名簿.pdf", "names": 397},
         "events": events("nara")},
        {"id": "fukuoka", "title_ja": "福岡県型: 外部への共有招待が取り消されない", "title_en": "Fukuoka: cloud invitation to an outsider not revoked",
         "people": [pj(cast.fk, "健康推進課")],
         "expect": [e("fukuoka_invite", cast.fk)], "allow": [],
         "events": events("fukuoka")},
        {"id": "iseto", "title_ja": "イセトー型: 委託契約終了後も消去証明書がない", "title_en": "Isetō: vendor contract ended, no deletion certificate",
         "people": [], "expect": [], "allow": [],
         "vendor": {"id": "V-2025-02", "overdue_as_of": "2026-04-07"},
         "events": []},
    ]);
    let labels = json!({
        "city": format!("{PREF}{CITY}(架空 / fictional)"),
        "seed": cfg.seed, "staff": cfg.staff, "residents": cfg.residents, "days": cfg.days,
        "first_day": cfg.first_day(), "last_day": Config::last_day(), "staff_days": staff_days,
        "events": w.events,
        "scenarios": scen,
    });
    write(
        out,
        "labels.json",
        serde_json::to_string_pretty(&labels).unwrap().as_bytes(),
    )?;
    let manifest = json!({"format": 1, "steps": w.steps});
    write(
        out,
        "manifest.json",
        serde_json::to_string_pretty(&manifest).unwrap().as_bytes(),
    )?;
    Ok(())
}
