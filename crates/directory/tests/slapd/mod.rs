//! A real OpenLDAP `slapd` (Debian `slapd`, `ldap-utils`) for tests: its own slapd.conf,
//! database and pid file in a temp dir, listening on 127.0.0.1 on a free port, in the
//! foreground (`-d 0`), killed when dropped. Nothing of the system's slapd is used or touched.
//! Modules: back_mdb, ppolicy (pwdAccountLockedTime), lastbind (authTimestamp on bind).
#![allow(dead_code)]

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BASE: &str = "dc=city,dc=example";
pub const ROOT_DN: &str = "cn=admin,dc=city,dc=example";
pub const ROOT_PW: &str = "kanri-secret";

pub struct Slapd {
    child: Child,
    pub dir: tempfile::TempDir,
    pub url: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn tool(name: &str) -> Command {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return Command::new(p);
        }
    }
    panic!("{name} is not installed: apt-get install slapd ldap-utils (scripts/test.sh does)");
}

fn wait_ready(child: &mut Child, url: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        let ok = tool("ldapsearch")
            .args(["-x", "-H", url, "-b", "", "-s", "base", "namingContexts"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

impl Slapd {
    pub fn start() -> Slapd {
        Slapd::start_with_schemas(&[])
    }

    /// With extra schema files from /etc/ldap/schema (e.g. `msuser`: Microsoft's AD user
    /// attributes, shipped with Debian's slapd).
    pub fn start_with_schemas(extra: &[&str]) -> Slapd {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        std::fs::create_dir(&db).unwrap();
        let p = dir.path().display();
        let extra: String = extra.iter().map(|e| format!("include /etc/ldap/schema/{e}.schema\n")).collect();
        let conf = format!(
            "include /etc/ldap/schema/core.schema\n\
             include /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/nis.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n\
             {extra}\
             modulepath /usr/lib/ldap\n\
             moduleload back_mdb\n\
             moduleload ppolicy\n\
             moduleload lastbind\n\
             pidfile {p}/slapd.pid\n\
             argsfile {p}/slapd.args\n\
             database mdb\n\
             maxsize 10485760\n\
             suffix \"{BASE}\"\n\
             rootdn \"{ROOT_DN}\"\n\
             rootpw {ROOT_PW}\n\
             directory {p}/db\n\
             overlay ppolicy\n\
             overlay lastbind\n"
        );
        let conf_path = dir.path().join("slapd.conf");
        std::fs::write(&conf_path, conf).unwrap();
        for _ in 0..5 {
            let port = free_port();
            let url = format!("ldap://127.0.0.1:{port}/");
            let log = std::fs::File::create(dir.path().join("slapd.log")).unwrap();
            let mut child = tool("slapd")
                .arg("-f")
                .arg(&conf_path)
                .args(["-h", &url, "-d", "0"])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("starting slapd");
            if wait_ready(&mut child, &url) {
                return Slapd { child, dir, url };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let log = std::fs::read_to_string(dir.path().join("slapd.log")).unwrap_or_default();
        panic!("slapd did not start: {log}");
    }

    fn run_ldif(&self, program: &str, extra: &[&str], ldif: &str) {
        let mut c = tool(program)
            .args(["-x", "-H", &self.url, "-D", ROOT_DN, "-w", ROOT_PW])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(ldif.as_bytes()).unwrap();
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{program} failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// ldapadd as the root DN.
    pub fn add(&self, ldif: &str) {
        self.run_ldif("ldapadd", &[], ldif);
    }

    /// ldapmodify as the root DN, with the Relax control (needed for pwdAccountLockedTime).
    pub fn modify(&self, ldif: &str) {
        self.run_ldif("ldapmodify", &["-e", "relax"], ldif);
    }

    /// ldapdelete as the root DN.
    pub fn delete(&self, dn: &str) {
        let out = tool("ldapdelete").args(["-x", "-H", &self.url, "-D", ROOT_DN, "-w", ROOT_PW, dn]).output().unwrap();
        assert!(out.status.success(), "ldapdelete: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// A simple bind as a user (sets authTimestamp through the lastbind overlay).
    pub fn bind_as(&self, dn: &str, pw: &str) {
        let out = tool("ldapwhoami").args(["-x", "-H", &self.url, "-D", dn, "-w", pw]).output().unwrap();
        assert!(out.status.success(), "ldapwhoami: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The seed: an OU tree (people/shimin, people/somu, groups), four users, a groupOfNames per
/// 課 and a posixGroup of everyone.
pub const SEED: &str = "dn: dc=city,dc=example
objectClass: dcObject
objectClass: organization
o: city
dc: city

dn: ou=people,dc=city,dc=example
objectClass: organizationalUnit
ou: people

dn: ou=shimin,ou=people,dc=city,dc=example
objectClass: organizationalUnit
ou: shimin

dn: ou=somu,ou=people,dc=city,dc=example
objectClass: organizationalUnit
ou: somu

dn: ou=groups,dc=city,dc=example
objectClass: organizationalUnit
ou: groups

dn: uid=sato.h,ou=shimin,ou=people,dc=city,dc=example
objectClass: inetOrgPerson
uid: sato.h
cn: 佐藤 花子
sn: 佐藤
employeeNumber: 1001
mail: sato.h@city.example.lg.jp
userPassword: sato-pw

dn: uid=suzuki.m,ou=shimin,ou=people,dc=city,dc=example
objectClass: inetOrgPerson
uid: suzuki.m
cn: 鈴木 誠
sn: 鈴木
employeeNumber: 1003
userPassword: suzuki-pw

dn: uid=tanaka.k,ou=somu,ou=people,dc=city,dc=example
objectClass: inetOrgPerson
uid: tanaka.k
cn: 田中 健
sn: 田中
employeeNumber: 1002
userPassword: tanaka-pw

dn: uid=kyotsu01,ou=people,dc=city,dc=example
objectClass: inetOrgPerson
uid: kyotsu01
cn: 窓口共用
sn: 共用

dn: cn=juki-users,ou=groups,dc=city,dc=example
objectClass: groupOfNames
cn: juki-users
member: uid=sato.h,ou=shimin,ou=people,dc=city,dc=example
member: uid=suzuki.m,ou=shimin,ou=people,dc=city,dc=example

dn: cn=somu,ou=groups,dc=city,dc=example
objectClass: groupOfNames
cn: somu
member: uid=tanaka.k,ou=somu,ou=people,dc=city,dc=example

dn: cn=all-staff,ou=groups,dc=city,dc=example
objectClass: posixGroup
cn: all-staff
gidNumber: 5000
memberUid: sato.h
memberUid: suzuki.m
memberUid: tanaka.k
memberUid: kyotsu01
";

/// The changes between the two syncs: suzuki.m locked (leaver), tanaka.k moved from somu to
/// juki-users, kyotsu01 deleted, ito.y added.
pub const CHANGES: &str = "dn: uid=suzuki.m,ou=shimin,ou=people,dc=city,dc=example
changetype: modify
add: pwdAccountLockedTime
pwdAccountLockedTime: 000001010000Z

dn: cn=somu,ou=groups,dc=city,dc=example
changetype: modify
delete: member
member: uid=tanaka.k,ou=somu,ou=people,dc=city,dc=example
-
add: member
member: uid=ito.y,ou=somu,ou=people,dc=city,dc=example

dn: cn=juki-users,ou=groups,dc=city,dc=example
changetype: modify
add: member
member: uid=tanaka.k,ou=somu,ou=people,dc=city,dc=example

dn: cn=all-staff,ou=groups,dc=city,dc=example
changetype: modify
delete: memberUid
memberUid: kyotsu01
";

pub const NEW_USER: &str = "dn: uid=ito.y,ou=somu,ou=people,dc=city,dc=example
objectClass: inetOrgPerson
uid: ito.y
cn: 伊藤 裕
sn: 伊藤
employeeNumber: 1004
userPassword: ito-pw
";

/// Applies the changes in order (the new user first: the group names it).
pub fn apply_changes(s: &Slapd) {
    s.add(NEW_USER);
    s.modify(CHANGES);
    s.delete("uid=kyotsu01,ou=people,dc=city,dc=example");
}
