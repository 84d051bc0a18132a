//! The city's accounts as an LDAP LDIF (RFC 2849), in the OpenLDAP shape `mamori ldap-sync`
//! reads (`crates/directory/src/ldap.rs`, flavour `openldap`): `inetOrgPerson` entries under
//! `ou=people` with `uid` (the login), `employeeNumber` (職員番号), `cn`/`sn`/`givenName`,
//! `mail`, `departmentNumber` and `title`; one `groupOfNames` per 課 under `ou=groups`.
//!
//! As of the last simulated day: employed staff, and Hiratsuka's account, which was left alive
//! after the 2026-03-31 retirement (the point of that scenario); other leavers' entries were
//! removed as the city's procedure says.

use std::collections::BTreeMap;

use base64::Engine as _;
use chrono::NaiveDate;

use crate::names::BASE_DN;
use crate::world::{People, dept, ka_of};

/// An attribute line: `name: value`, or `name:: base64` when the value is not a SAFE-STRING
/// (RFC 2849: non-ASCII, or starting with a space, colon or `<`).
fn line(out: &mut String, name: &str, value: &str) {
    let safe = value.bytes().all(|b| b.is_ascii() && b != 0 && b != b'\n' && b != b'\r')
        && !value.starts_with([' ', ':', '<'])
        && !value.ends_with(' ');
    if safe {
        out.push_str(&format!("{name}: {value}\n"));
    } else {
        out.push_str(&format!("{name}:: {}\n", base64::engine::general_purpose::STANDARD.encode(value)));
    }
}

/// The LDIF text. `alive_after_retirement`: 職員番号 of leavers whose account stayed.
pub(crate) fn accounts_ldif(people: &People, day: NaiveDate, alive_after_retirement: &[&str]) -> String {
    let base = BASE_DN;
    let mut s = String::new();
    s.push_str("version: 1\n\n");
    s.push_str(&format!("dn: {base}\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\ndc: aoba\n"));
    line(&mut s, "o", "あおば市(架空)");
    s.push('\n');
    for ou in ["people", "groups"] {
        s.push_str(&format!("dn: ou={ou},{base}\nobjectClass: organizationalUnit\nou: {ou}\n\n"));
    }
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in &people.list {
        let post = p.post_at(day).or_else(|| {
            // A leaver whose account was never removed: as on their last day.
            let last = p.retire.filter(|_| alive_after_retirement.contains(&p.id.as_str()))?;
            p.post_at(last)
        });
        let Some((unit, title)) = post else { continue };
        let dn = format!("uid={},ou=people,{base}", p.account);
        s.push_str(&format!("dn: {dn}\nobjectClass: top\nobjectClass: inetOrgPerson\nuid: {}\n", p.account));
        let (sn, given) = p.name.split_once(' ').unwrap_or((p.name.as_str(), ""));
        line(&mut s, "cn", &p.name);
        line(&mut s, "sn", sn);
        if !given.is_empty() {
            line(&mut s, "givenName", given);
        }
        line(&mut s, "displayName", &p.name);
        s.push_str(&format!("employeeNumber: {}\nmail: {}\ndepartmentNumber: {unit}\n", p.id, p.mail()));
        line(&mut s, "ou", dept(unit).name);
        line(&mut s, "title", title);
        s.push('\n');
        groups.entry(ka_of(unit).to_owned()).or_default().push(dn);
    }
    for (ka, members) in groups {
        s.push_str(&format!("dn: cn=ka{ka},ou=groups,{base}\nobjectClass: top\nobjectClass: groupOfNames\ncn: ka{ka}\n"));
        line(&mut s, "description", dept(&ka).name);
        for m in members {
            s.push_str(&format!("member: {m}\n"));
        }
        s.push('\n');
    }
    s
}
