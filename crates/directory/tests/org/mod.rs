//! A small fixture organisation (20 staff, 4 課 under 3 部) in two variants: one with the
//! Kamaishi and Hiratsuka conditions, one clean. Built through the public API exactly as the
//! CLI builds it: a roster CSV, grant exports, an entitlement policy, an LDAP snapshot.
#![allow(dead_code)]

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use mamori_directory::ldap::{LdapEntry, build_snapshot};
use mamori_directory::{
    Directory, DirectoryChange, DirectoryRecord, EntitlementSet, Flavor, GrantMapping, ImportRecord,
    LdapSettings, RECORD_FORMAT, parse_grant_csv,
};

pub const HEADER: &str =
    "職員番号,氏名,氏名カナ,所属コード,所属名,職名,発令日,異動区分,退職日,アカウント\n";

pub fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

pub fn at(y: i32, m: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, day, 3, 0, 0).unwrap()
}

/// The review date.
pub fn review_day() -> NaiveDate {
    d(2024, 4, 10)
}

/// (職員番号, 氏名, 所属コード, 所属名, 職名, account)
pub const STAFF: &[(&str, &str, &str, &str, &str, &str)] = &[
    ("S01", "市民部長", "20", "市民部", "部長", "s01"),
    ("S02", "市民課長", "2010", "市民課", "課長", "s02"),
    ("S03", "市民係長", "2010", "市民課", "係長", "s03"),
    ("S04", "市民主事A", "2010", "市民課", "主事", "s04"),
    ("S05", "市民主事B", "2010", "市民課", "主事", "s05"),
    ("S06", "総務課長", "1010", "総務課", "課長", "s06"),
    ("S07", "総務主事A", "1010", "総務課", "主事", "s07"),
    ("S08", "総務主事B", "1010", "総務課", "主事", "s08"),
    ("S09", "総務主事C", "1010", "総務課", "主事", "s09"),
    ("S10", "総務主事D", "1010", "総務課", "主事", "s10"),
    ("S11", "観光課長", "3010", "観光課", "課長", "s11"),
    ("S13", "観光主事B", "3010", "観光課", "主事", "s13"),
    ("S14", "観光主事C", "3010", "観光課", "主事", "s14"),
    ("S15", "観光主事D", "3010", "観光課", "主事", "s15"),
    ("S16", "保険課長", "2020", "保険年金課", "課長", "s16"),
    ("S17", "保険主事A", "2020", "保険年金課", "主事", "s17"),
    ("S18", "保険主事B", "2020", "保険年金課", "主事", "s18"),
    ("S19", "保険主事C", "2020", "保険年金課", "主事", "s19"),
];

/// The roster: everyone hired 2015-04-01; staff A (S12) moves from 市民課 to 観光課 on
/// 2023-04-01; the Hiratsuka leaver (S20, 市民課) retires on 2024-03-31.
pub fn roster() -> String {
    let mut s = String::from(HEADER);
    for (id, name, code, dept, title, acct) in STAFF {
        s.push_str(&format!("{id},{name},,{code},{dept},{title},2015-04-01,採用,,{acct}\n"));
    }
    s.push_str("S12,観光主事A,,2010,市民課,主事,2015-04-01,採用,,s12\n");
    s.push_str("S12,観光主事A,,3010,観光課,主事,令和5年4月1日,異動,,\n");
    s.push_str("S20,平塚退職者,,2010,市民課,主事,2015-04-01,採用,,s20\n");
    s.push_str("S20,平塚退職者,,2010,市民課,主事,2024-03-31,退職,2024-03-31,\n");
    s
}

pub const POLICY: &str = r#"
everyone = ["share:public", "ldap-group:all-staff"]

[[department]]
code = "2010"
name = "市民課"
parent = "20"

[[entitlement]]
department = "2010"
resource = "system:juki"
reason = "住民基本台帳事務"

[[entitlement]]
department = "20"
resource = "share:shimin"

[[entitlement]]
department = "20"
resource = "ldap-group:shimin"

[[entitlement]]
department = "1010"
resource = "share:somu"

[[entitlement]]
department = "3010"
resource = "share:kanko"
"#;

pub fn rec(id: &str, actor: &str, change: DirectoryChange) -> DirectoryRecord {
    DirectoryRecord { format: RECORD_FORMAT, id: id.into(), recorded_at: at(2024, 4, 9), actor: actor.into(), change }
}

/// Which variant.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Kamaishi (transferred staff keeps register access; register access for most staff) and
    /// Hiratsuka (leaver's account enabled), plus a dormant, a generic and an unknown account.
    Troubled,
    /// Access exactly as entitled; the leaver disabled.
    Clean,
}

fn ldap_entry(acct: &str, name: &str, enabled: bool, last_logon: DateTime<Utc>) -> LdapEntry {
    let ts = last_logon.format("%Y%m%d%H%M%SZ").to_string();
    LdapEntry::new(&format!("uid={acct},ou=people,dc=city,dc=example"), [
        ("uid", vec![acct.to_owned()]),
        ("cn", vec![name.to_owned()]),
        ("authTimestamp", vec![ts]),
        ("memberOf", vec!["cn=all-staff,ou=groups,dc=city,dc=example".to_owned()]),
    ]
    .into_iter()
    .chain((!enabled).then(|| ("pwdAccountLockedTime", vec!["000001010000Z".to_owned()]))))
}

/// The directory for a variant.
pub fn build(v: Variant) -> Directory {
    let mut dir = Directory::new();
    let roster = ImportRecord::from_csv("roster-1", roster().as_bytes(), at(2024, 4, 1), Some("shokuin.csv".into()));
    assert!(roster.errors.is_empty(), "{:?}", roster.errors);
    dir.apply(&roster).unwrap();
    dir.apply_record(&rec("ent-1", "somu-admin", DirectoryChange::Entitlements(EntitlementSet::from_toml(POLICY).unwrap())))
        .unwrap();

    // The register system's permission export.
    let mut juki = String::from("利用者ID,権限,付与日\n");
    let holders: Vec<&str> = match v {
        Variant::Clean => vec!["s02", "s03", "s04", "s05"],
        Variant::Troubled => vec!["s02", "s03", "s04", "s05", "s12", "s20", "s07", "s08", "s09", "s10", "s17", "s18", "s19"],
    };
    for h in &holders {
        juki.push_str(&format!("{h},更新,2015/4/1\n"));
    }
    let mapping = GrantMapping {
        source: "juki".into(),
        account: "利用者ID".into(),
        resource: None,
        resource_prefix: String::new(),
        resource_const: Some("system:juki".into()),
        access: Some("権限".into()),
        default_access: mamori_directory::Access::Use,
        from: Some("付与日".into()),
        until: None,
    };
    let snap = parse_grant_csv(juki.as_bytes(), &mapping, d(2024, 4, 1));
    assert!(snap.errors.is_empty(), "{:?}", snap.errors);
    dir.apply_record(&rec("grants-juki", "juki-admin", DirectoryChange::Grants(snap))).unwrap();

    // The file server's shares.
    let conf = "[global]\n   workgroup = CITY\n[shimin]\n   path = /srv/shimin\n   valid users = @shimin\n   read only = no\n[public]\n   path = /srv/public\n";
    let smb = mamori_directory::parse_smb_conf(conf, "smb:fs01", d(2024, 4, 1));
    assert!(smb.errors.is_empty(), "{:?}", smb.errors);
    dir.apply_record(&rec("grants-smb", "fs-admin", DirectoryChange::Grants(smb))).unwrap();

    // LDAP.
    let recent = at(2024, 4, 8);
    let mut users = Vec::new();
    let mut shimin_members: Vec<String> = vec!["s01", "s02", "s03", "s04", "s05"].into_iter().map(String::from).collect();
    for (_, name, _, _, _, acct) in STAFF {
        let logon = if v == Variant::Troubled && *acct == "s15" { recent - Duration::days(200) } else { recent };
        users.push(ldap_entry(acct, name, true, logon));
    }
    users.push(ldap_entry("s12", "観光主事A", true, recent));
    users.push(ldap_entry("s20", "平塚退職者", v == Variant::Troubled, recent - Duration::days(9)));
    if v == Variant::Troubled {
        users.push(ldap_entry("kyotsu01", "共用端末", true, recent));
        users.push(ldap_entry("tmp.contractor", "委託作業者", true, recent));
        // Staff A is still in the 市民 group after the transfer.
        shimin_members.push("s12".into());
    }
    let groups = vec![LdapEntry::new("cn=shimin,ou=groups,dc=city,dc=example", [(
        "member",
        shimin_members.iter().map(|m| format!("uid={m},ou=people,dc=city,dc=example")).collect::<Vec<_>>(),
    )])];
    let settings = LdapSettings::new(Flavor::OpenLdap, "dc=city,dc=example");
    let snapshot = build_snapshot(&settings, "ldap://fixture", at(2024, 4, 9), d(2024, 4, 9), &users, &groups);
    let change = dir.ldap_sync_change(snapshot);
    dir.apply_record(&rec("ldap-1", "cli", change)).unwrap();
    dir
}
