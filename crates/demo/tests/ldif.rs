//! The demo city's `directory/accounts.ldif` goes into a real OpenLDAP `slapd` with `ldapadd`
//! (Debian `slapd`, `ldap-utils`; scripts/test.sh installs them), and `mamori ldap-sync`'s
//! reader (`mamori_directory::ldap::fetch`, OpenLDAP flavour) reads back every employed
//! person's account with their 職員番号, Hiratsuka's account still alive after retirement, and
//! the 課 groups.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BASE: &str = "dc=aoba,dc=example";
const ROOT_DN: &str = "cn=admin,dc=aoba,dc=example";
const ROOT_PW: &str = "demo-kanri";

fn tool(name: &str) -> Command {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return Command::new(p);
        }
    }
    panic!("{name} is not installed: apt-get install slapd ldap-utils (scripts/test.sh does)");
}

/// A slapd of its own (config, database, pid file in a temp dir) on 127.0.0.1 and a free port,
/// killed when dropped.
struct Slapd {
    child: Child,
    _dir: tempfile::TempDir,
    url: String,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn slapd() -> Slapd {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("db")).unwrap();
    let p = dir.path().display();
    let conf = format!(
        "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n\
         include /etc/ldap/schema/nis.schema\ninclude /etc/ldap/schema/inetorgperson.schema\n\
         modulepath /usr/lib/ldap\nmoduleload back_mdb\npidfile {p}/slapd.pid\nargsfile {p}/slapd.args\n\
         database mdb\nmaxsize 104857600\nsuffix \"{BASE}\"\nrootdn \"{ROOT_DN}\"\nrootpw {ROOT_PW}\ndirectory {p}/db\n"
    );
    let conf_path = dir.path().join("slapd.conf");
    std::fs::write(&conf_path, conf).unwrap();
    for _ in 0..5 {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("ldap://127.0.0.1:{port}/");
        let log = std::fs::File::create(dir.path().join("slapd.log")).unwrap();
        let mut child = tool("slapd").arg("-f").arg(&conf_path).args(["-h", &url, "-d", "0"]).stdout(Stdio::null()).stderr(log).spawn().expect("starting slapd");
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            let up = tool("ldapsearch").args(["-x", "-H", &url, "-b", "", "-s", "base", "namingContexts"]).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
            if up {
                return Slapd { child, _dir: dir, url };
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("slapd did not start: {}", std::fs::read_to_string(dir.path().join("slapd.log")).unwrap_or_default());
}

#[test]
fn the_demo_ldif_loads_into_slapd_and_syncs() {
    let tmp = tempfile::tempdir().unwrap();
    let city = tmp.path().join("city");
    let cfg = mamori_demo::Config { staff: 80, residents: 1000, activity: 1, ..Default::default() };
    mamori_demo::generate(&cfg, &city).unwrap();
    let ldif = std::fs::read_to_string(city.join("directory/accounts.ldif")).unwrap();
    let labels: serde_json::Value = serde_json::from_slice(&std::fs::read(city.join("labels.json")).unwrap()).unwrap();

    let s = slapd();
    let mut add = tool("ldapadd").args(["-x", "-H", &s.url, "-D", ROOT_DN, "-w", ROOT_PW]).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    add.stdin.take().unwrap().write_all(ldif.as_bytes()).unwrap();
    let out = add.wait_with_output().unwrap();
    assert!(out.status.success(), "ldapadd refused the LDIF: {}", String::from_utf8_lossy(&out.stderr));

    let settings = mamori_directory::ldap::LdapSettings::new(mamori_directory::ldap::Flavor::OpenLdap, BASE);
    let connect = mamori_directory::ldap::LdapConnect { url: s.url.clone(), bind_dn: ROOT_DN.into(), password: ROOT_PW.into(), timeout: Duration::from_secs(10) };
    let last: chrono::NaiveDate = labels["last_day"].as_str().unwrap().parse().unwrap();
    let snap = mamori_directory::ldap::fetch(&connect, &settings, chrono::Utc::now(), last).unwrap();
    assert!(snap.skipped.is_empty(), "{:?}", snap.skipped);

    // Every person employed on the last day, from the roster the demo wrote.
    let roster = std::fs::read_to_string(city.join("directory/roster.csv")).unwrap();
    let mut accounts = std::collections::BTreeMap::new();
    let mut retired = std::collections::BTreeSet::new();
    for l in roster.lines().skip(1) {
        let c: Vec<&str> = l.split(',').collect();
        if let Some(a) = c[9].split(';').next().filter(|a| !a.is_empty()) {
            accounts.insert(c[0].to_owned(), a.split('@').next().unwrap().to_owned());
        }
        if c[7] == "退職" {
            retired.insert(c[0].to_owned());
        }
    }
    let employed: Vec<&String> = accounts.keys().filter(|id| !retired.contains(*id)).collect();
    assert!(employed.len() >= 70, "{}", employed.len());
    for id in &employed {
        let a = snap.account(&accounts[*id]).unwrap_or_else(|| panic!("no LDAP account for {id} ({})", accounts[*id]));
        assert_eq!(a.staff_id.as_deref(), Some(id.as_str()));
        assert!(a.enabled);
        assert!(!a.groups.is_empty(), "{a:?}");
        assert!(a.name.contains(' '), "the Japanese name came back: {a:?}");
    }
    // Hiratsuka: retired 2026-03-31, account never removed. Other leavers: gone.
    let hira = labels["scenarios"].as_array().unwrap().iter().find(|s| s["id"] == "hiratsuka").unwrap();
    let hid = hira["people"][0]["staff_id"].as_str().unwrap();
    assert!(retired.contains(hid));
    assert_eq!(snap.account(hira["people"][0]["account"].as_str().unwrap()).and_then(|a| a.staff_id.as_deref()), Some(hid));
    let gone: Vec<&String> = retired.iter().filter(|id| id.as_str() != hid).collect();
    assert!(!gone.is_empty());
    for id in gone {
        assert!(snap.account(&accounts[id]).is_none(), "{id} left but still has an account");
    }
    assert_eq!(snap.accounts.len(), employed.len() + 1);
    // 市民課 (2010) is a group with the register staff in it.
    let g = snap.groups.iter().find(|g| g.name == "ka2010").expect("group ka2010");
    let kb = labels["scenarios"][0]["people"][1]["account"].as_str().unwrap();
    assert!(g.members.contains(kb), "{g:?}");
}
