//! LDAP sync against a real OpenLDAP slapd (started by the test, see `slapd/mod.rs`): users
//! with their groups (groupOfNames `member` and posixGroup `memberUid`), 職員番号 from
//! employeeNumber, modifyTimestamp, authTimestamp after a real bind (lastbind overlay); then
//! a user is locked (ppolicy pwdAccountLockedTime), one moves groups, one is deleted, one is
//! added, and the second sync's diff says exactly that.

mod slapd;

use chrono::Utc;
use mamori_directory::ldap::{LdapConnect, fetch};
use mamori_directory::{Directory, DirectoryChange, DirectoryRecord, Flavor, ImportRecord, LdapSettings, RECORD_FORMAT, Resolution};
use slapd::{BASE, ROOT_DN, ROOT_PW, Slapd};
use std::collections::BTreeSet;

const ROSTER: &str = "職員番号,氏名,氏名カナ,所属コード,所属名,職名,発令日,異動区分,退職日,アカウント\n\
1001,佐藤花子,,2010,市民課,主事,2020-04-01,採用,,\n\
1002,田中健,,1010,総務課,主事,2020-04-01,採用,,\n\
1003,鈴木誠,,2010,市民課,主事,2020-04-01,採用,,\n\
1003,鈴木誠,,2010,市民課,主事,2024-03-31,退職,2024-03-31,\n";

fn rec(id: &str, change: DirectoryChange) -> DirectoryRecord {
    DirectoryRecord { format: RECORD_FORMAT, id: id.into(), recorded_at: Utc::now(), actor: "cli".into(), change }
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn ldap_sync_against_real_slapd_and_diff() {
    let s = Slapd::start();
    s.add(slapd::SEED);
    s.bind_as("uid=sato.h,ou=shimin,ou=people,dc=city,dc=example", "sato-pw");
    let connect = LdapConnect { url: s.url.clone(), bind_dn: ROOT_DN.into(), password: ROOT_PW.into(), timeout: std::time::Duration::from_secs(10) };
    let settings = LdapSettings::new(Flavor::OpenLdap, BASE);
    let today = chrono::Local::now().date_naive();
    let first = fetch(&connect, &settings, Utc::now(), today).expect("first sync");

    let names: Vec<&str> = first.accounts.iter().map(|a| a.account.as_str()).collect();
    assert_eq!(names, vec!["kyotsu01", "sato.h", "suzuki.m", "tanaka.k"]);
    let sato = first.account("sato.h").unwrap();
    assert_eq!(sato.name, "佐藤 花子", "UTF-8 attributes come through");
    assert_eq!(sato.staff_id.as_deref(), Some("1001"));
    assert_eq!(sato.mail.as_deref(), Some("sato.h@city.example.lg.jp"));
    assert!(sato.enabled);
    assert_eq!(sato.groups, set(&["all-staff", "juki-users"]));
    assert!(sato.changed.is_some(), "modifyTimestamp");
    let logon = sato.last_logon.expect("authTimestamp from the bind");
    assert!((Utc::now() - logon).num_minutes().abs() < 60);
    assert_eq!(first.account("tanaka.k").unwrap().last_logon, None, "never bound");
    assert_eq!(first.account("tanaka.k").unwrap().groups, set(&["all-staff", "somu"]));
    let juki = first.groups.iter().find(|g| g.name == "juki-users").unwrap();
    assert_eq!(juki.members, set(&["sato.h", "suzuki.m"]));
    assert!(first.skipped.is_empty(), "{:?}", first.skipped);

    let mut dir = Directory::new();
    dir.apply(&ImportRecord::from_csv("r1", ROSTER.as_bytes(), Utc::now(), None)).unwrap();
    let c1 = dir.ldap_sync_change(first);
    let DirectoryChange::LdapSync { diff, .. } = &c1 else { unreachable!() };
    assert_eq!(diff.added.len(), 4, "everything is new on the first sync");
    dir.apply_record(&rec("ldap-1", c1)).unwrap();
    // Accounts → person through employeeNumber (the roster lists no accounts).
    match dir.resolve_account("sato.h", today) {
        Resolution::Person(p) => assert_eq!(p.staff_id, "1001"),
        other => panic!("{other:?}"),
    }
    assert!(dir.unknown_accounts(today).iter().any(|u| u.account == "kyotsu01" && u.generic));

    slapd::apply_changes(&s);
    let second = fetch(&connect, &settings, Utc::now(), today).expect("second sync");
    let c2 = dir.ldap_sync_change(second);
    let DirectoryChange::LdapSync { diff, snapshot } = &c2 else { unreachable!() };
    assert_eq!(diff.added, vec!["ito.y"]);
    assert_eq!(diff.removed, vec!["kyotsu01"]);
    assert_eq!(diff.disabled, vec!["suzuki.m"]);
    assert!(diff.enabled.is_empty());
    let suzuki = snapshot.account("suzuki.m").unwrap();
    assert_eq!(suzuki.disabled_by.as_deref(), Some("pwdAccountLockedTime"));
    assert!(diff.joined_groups.contains(&("tanaka.k".into(), "juki-users".into())), "{:?}", diff.joined_groups);
    assert!(diff.left_groups.contains(&("tanaka.k".into(), "somu".into())), "{:?}", diff.left_groups);
    assert!(diff.joined_groups.contains(&("ito.y".into(), "somu".into())));
    assert!(diff.left_groups.contains(&("kyotsu01".into(), "all-staff".into())));
    dir.apply_record(&rec("ldap-2", c2)).unwrap();
    let grants: Vec<String> = dir.grants_of("tanaka.k", today).into_iter().map(|g| g.resource).collect();
    assert!(grants.contains(&"ldap-group:juki-users".to_owned()) && !grants.contains(&"ldap-group:somu".to_owned()), "{grants:?}");
}

/// Active Directory itself cannot run here. Its attributes can: slapd with Debian's
/// `msuser.schema` (Microsoft's definitions of sAMAccountName, userAccountControl, lastLogon,
/// lastLogonTimestamp, whenChanged, memberOf, employeeID) serves AD-shaped entries, so the AD
/// flavour is exercised over the wire — FILETIME and the ACCOUNTDISABLE bit included.
#[test]
fn ad_shaped_entries_over_real_ldap() {
    let s = Slapd::start_with_schemas(&["msuser"]);
    let user = |cn: &str, sam: &str, uac: u32, extra: &str| {
        format!(
            "dn: cn={cn},dc=city,dc=example\nobjectClass: inetOrgPerson\nobjectClass: extensibleObject\ncn: {cn}\nsn: {cn}\nsAMAccountName: {sam}\nuserAccountControl: {uac}\n{extra}\n"
        )
    };
    let seed = [
        "dn: dc=city,dc=example\nobjectClass: dcObject\nobjectClass: organization\no: city\ndc: city\n".to_owned(),
        user("Sato Hanako", "Sato.H", 512, "lastLogonTimestamp: 133579584000000000\nlastLogon: 133580448000000000\nwhenChanged: 20240401093000.0Z\nemployeeID: 1001\nmemberOf: CN=Juki-Users,OU=Groups,DC=city,DC=example"),
        user("Suzuki Makoto", "suzuki.m", 514, "employeeID: 1003"),
        user("Tanaka Ken", "tanaka.k", 66048, "lastLogon: 0"),
    ]
    .join("\n");
    s.add(&seed);
    let connect = LdapConnect { url: s.url.clone(), bind_dn: ROOT_DN.into(), password: ROOT_PW.into(), timeout: std::time::Duration::from_secs(10) };
    let mut settings = LdapSettings::new(Flavor::Ad, BASE);
    // Not real AD: no objectCategory=person here, so select by sAMAccountName.
    settings.user_filter = "(sAMAccountName=*)".into();
    let today = chrono::Local::now().date_naive();
    let snap = fetch(&connect, &settings, Utc::now(), today).unwrap();
    let names: Vec<&str> = snap.accounts.iter().map(|a| a.account.as_str()).collect();
    assert_eq!(names, vec!["sato.h", "suzuki.m", "tanaka.k"]);
    let sato = snap.account("sato.h").unwrap();
    assert!(sato.enabled);
    assert_eq!(sato.staff_id.as_deref(), Some("1001"));
    // The later of lastLogonTimestamp (2024-04-19) and lastLogon (2024-04-20).
    assert_eq!(sato.last_logon.unwrap().date_naive(), chrono::NaiveDate::from_ymd_opt(2024, 4, 20).unwrap());
    assert_eq!(sato.changed.unwrap().to_rfc3339(), "2024-04-01T09:30:00+00:00");
    assert_eq!(sato.groups, set(&["juki-users"]));
    let suzuki = snap.account("suzuki.m").unwrap();
    assert!(!suzuki.enabled);
    assert_eq!(suzuki.disabled_by.as_deref(), Some("userAccountControl 0x2"));
    let tanaka = snap.account("tanaka.k").unwrap();
    assert!(tanaka.enabled, "0x10200 (DONT_EXPIRE_PASSWORD | NORMAL_ACCOUNT) is enabled");
    assert_eq!(tanaka.last_logon, None, "lastLogon 0 means never");

    s.modify("dn: cn=Tanaka Ken,dc=city,dc=example\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 66050\n");
    let mut dir = Directory::new();
    dir.apply_record(&rec("ad-1", dir.ldap_sync_change(snap))).unwrap();
    let second = fetch(&connect, &settings, Utc::now(), today).unwrap();
    let DirectoryChange::LdapSync { diff, .. } = dir.ldap_sync_change(second) else { unreachable!() };
    assert_eq!(diff.disabled, vec!["tanaka.k"]);
    assert!(diff.added.is_empty() && diff.removed.is_empty() && diff.enabled.is_empty());
}
