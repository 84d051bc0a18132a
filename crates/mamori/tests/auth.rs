//! End to end with real authentication programs: Debian's OpenSSH `sshd` 9.2, `sudo` 1.9 and
//! OpenLDAP `slapd` 2.5 log through `syslog(3)` to a private rsyslogd (the same mount-namespace
//! `/dev/log` arrangement as crates/mamori/tests/samba.rs: glibc always writes to `/dev/log`,
//! so each program runs in `unshare -m` with a tmpfs `/dev` whose `log` points at the
//! rsyslogd's imuxsock socket). rsyslogd writes a traditional `auth.log`-style file, which the
//! test ingests with `mamori ingest --format syslog` and searches back.
//!
//! Activity: an SSH login with a key and one with a password, a wrong password, an unknown
//! user (`sshpass`), `sudo` of an allowed command, and a wrong sudo
//! password (a sudoers drop-in `/etc/sudoers.d/mamori-test-<pid>`, removed at the end), and
//! LDAP simple binds to slapd with a right and a wrong password (`ldapwhoami`).
//!
//! With `MAMORI_CAPTURE_AUTH=<file>` the rsyslog output is copied there (that is how
//! crates/sources/tests/fixtures/auth/auth_debian12_rsyslog.log was made).

mod common;

use common::{mamori, run_ok};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const USER: &str = "mamoriauth1";
const PASS: &str = "Auth-Pass-1";

/// PATH with the sbin directories (cargo's environment often lacks them).
fn path() -> String {
    format!("/usr/local/sbin:/usr/sbin:/sbin:{}", std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()))
}

fn sh(script: &str) -> std::process::Output {
    Command::new("sh").args(["-c", script]).env("PATH", path()).output().unwrap()
}

fn sh_ok(script: &str) -> String {
    let out = sh(script);
    assert!(out.status.success(), "{script}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Removes a file when dropped (the sudoers drop-in).
struct RemoveOnDrop(String);
impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Kills the process whose pid is in a file (slapd daemonises) when dropped.
struct PidFileGuard(std::path::PathBuf);
impl Drop for PidFileGuard {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(&self.0) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

/// A shell script prologue that gives the rest of the script a private `/dev/log`.
fn ns_prologue(t: &str) -> String {
    format!(
        r#"set -e
mount --make-rprivate /
mount --rbind /dev {t}/olddev
mount -t tmpfs -o mode=755 mamoridev /dev
for f in {t}/olddev/* ; do ln -s "$f" /dev/"$(basename "$f")"; done
rm -f /dev/log
ln -s {t}/log.sock /dev/log
"#
    )
}

fn in_ns(t: &str, script: &str) -> std::process::Output {
    Command::new("unshare").args(["-m", "sh", "-c", &format!("{}{script}", ns_prologue(t))]).env("PATH", path()).output().unwrap()
}

fn wait_for(file: &Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(Instant::now() < deadline, "{needle:?} never appeared in {}:\n{text}", file.display());
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn which(p: &str) -> Option<String> {
    let out = Command::new("sh").args(["-c", &format!("command -v {p}")]).env("PATH", path()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[test]
fn sshd_sudo_slapd_via_rsyslog_become_auth_events() {
    for p in ["sshd", "ssh", "sshpass", "sudo", "slapd", "ldapwhoami", "rsyslogd", "unshare"] {
        which(p).unwrap_or_else(|| panic!("{p} is not installed: run ./scripts/test.sh (openssh-server openssh-client sshpass sudo slapd ldap-utils rsyslog)"));
    }
    assert!(Command::new("id").arg("-u").output().unwrap().stdout.starts_with(b"0\n"), "this test needs root (mount namespace, sshd, a test user)");

    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().display().to_string();
    for d in ["work", "olddev", "home", "ldapdb", "keys"] {
        std::fs::create_dir_all(tmp.path().join(d)).unwrap();
    }
    sh_ok(&format!("chmod 755 {t}"));

    // rsyslogd on a private socket, writing auth.log-style lines.
    std::fs::write(
        tmp.path().join("rsyslog.conf"),
        format!(
            r#"global(workDirectory="{t}/work")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{t}/log.sock" CreatePath="on")
action(type="omfile" file="{t}/auth.log" template="RSYSLOG_TraditionalFileFormat")
"#
        ),
    )
    .unwrap();
    let _rs = Guard(
        Command::new(which("rsyslogd").unwrap())
            .args(["-n", "-f", &format!("{t}/rsyslog.conf"), "-i", &format!("{t}/rsyslogd.pid")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !tmp.path().join("log.sock").exists() {
        assert!(Instant::now() < deadline, "rsyslogd did not create its socket");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Test user with a key and a password.
    sh_ok(&format!("id {USER} >/dev/null 2>&1 || useradd -M -d {t}/home -s /bin/sh {USER}"));
    sh_ok(&format!("echo '{USER}:{PASS}' | chpasswd"));
    sh_ok(&format!("ssh-keygen -q -t ed25519 -N '' -f {t}/keys/user && ssh-keygen -q -t ed25519 -N '' -f {t}/keys/host"));
    sh_ok(&format!("cp {t}/keys/user.pub {t}/keys/authorized_keys && chmod 644 {t}/keys/authorized_keys && chmod 600 {t}/keys/user"));
    // sshd's privilege separation directory (tmpfs /run; left in place, as the package does).
    sh_ok("mkdir -p /run/sshd && chmod 755 /run/sshd");

    let port = free_tcp_port();
    std::fs::write(
        tmp.path().join("sshd_config"),
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {t}/keys/host\nPidFile {t}/sshd.pid\nUsePAM yes\nLogLevel INFO\nSyslogFacility AUTH\n\
AuthorizedKeysFile {t}/keys/authorized_keys\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\nStrictModes no\nPermitRootLogin no\nMaxAuthTries 3\n"
        ),
    )
    .unwrap();
    let sshd = which("sshd").unwrap();
    let _sshd = Guard(
        Command::new("unshare")
            .args(["-m", "sh", "-c", &format!("{}exec {sshd} -D -f {t}/sshd_config", ns_prologue(&t))])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let log = tmp.path().join("auth.log");
    wait_for(&log, "Server listening on 127.0.0.1");

    let opts = format!("-p {port} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=10");
    let out = sh(&format!("env -u SSH_AUTH_SOCK ssh {opts} -i {t}/keys/user -o BatchMode=yes -o PasswordAuthentication=no {USER}@127.0.0.1 true"));
    assert!(out.status.success(), "key login: {}", String::from_utf8_lossy(&out.stderr));
    let pw = |pass: &str, user: &str| sh(&format!("sshpass -p '{pass}' ssh {opts} -o PubkeyAuthentication=no -o NumberOfPasswordPrompts=1 {user}@127.0.0.1 true"));
    let out = pw(PASS, USER);
    assert!(out.status.success(), "password login: {}", String::from_utf8_lossy(&out.stderr));
    assert!(!pw("wrong-password", USER).status.success());
    assert!(!pw("x", "nosuchuser9").status.success());

    // sudo, with a temporary drop-in.
    let dropin = format!("/etc/sudoers.d/mamori-test-{}", std::process::id());
    let _rm = RemoveOnDrop(dropin.clone());
    std::fs::write(&dropin, format!("{USER} ALL=(root) NOPASSWD: /usr/bin/cat\n{USER} ALL=(root) PASSWD: /usr/bin/whoami\n")).unwrap();
    sh_ok(&format!("chmod 440 {dropin} && visudo -c -f {dropin} >/dev/null"));
    let out = in_ns(&t, &format!("su {USER} -c 'sudo -n /usr/bin/cat /etc/hostname >/dev/null'"));
    assert!(out.status.success(), "sudo cat: {}", String::from_utf8_lossy(&out.stderr));
    let _ = in_ns(&t, &format!("su {USER} -c 'echo wrong | sudo -S -p \"\" /usr/bin/whoami' || true"));

    // slapd with stats logging, one right and one wrong simple bind.
    let lport = free_tcp_port();
    std::fs::write(
        tmp.path().join("slapd.conf"),
        format!(
            "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\ninclude /etc/ldap/schema/inetorgperson.schema\n\
pidfile {t}/slapd.pid\nargsfile {t}/slapd.args\nmodulepath /usr/lib/ldap\nmoduleload back_mdb\nloglevel stats\n\
database mdb\nsuffix \"dc=city\"\nrootdn \"cn=admin,dc=city\"\nrootpw admin-secret\ndirectory {t}/ldapdb\n"
        ),
    )
    .unwrap();
    let _slapd = PidFileGuard(tmp.path().join("slapd.pid"));
    let out = in_ns(&t, &format!("slapd -h ldap://127.0.0.1:{lport}/ -f {t}/slapd.conf -l LOCAL4"));
    assert!(out.status.success(), "slapd: {}", String::from_utf8_lossy(&out.stderr));
    let uri = format!("ldap://127.0.0.1:{lport}/");
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", lport)).is_err() {
        assert!(Instant::now() < deadline, "slapd did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::write(
        tmp.path().join("people.ldif"),
        "dn: dc=city\nobjectClass: dcObject\nobjectClass: organization\ndc: city\no: city\n\n\
dn: ou=people,dc=city\nobjectClass: organizationalUnit\nou: people\n\n\
dn: uid=tanaka,ou=people,dc=city\nobjectClass: inetOrgPerson\nuid: tanaka\ncn: 田中\nsn: 田中\nuserPassword: Ldap-Pass-1\n",
    )
    .unwrap();
    sh_ok(&format!("ldapadd -x -H {uri} -D cn=admin,dc=city -w admin-secret -f {t}/people.ldif >/dev/null"));
    sh_ok(&format!("ldapwhoami -x -H {uri} -D uid=tanaka,ou=people,dc=city -w Ldap-Pass-1"));
    assert!(!sh(&format!("ldapwhoami -x -H {uri} -D uid=tanaka,ou=people,dc=city -w wrong")).status.success());

    let text = wait_for(&log, "RESULT tag=97 err=49");
    wait_for(&log, "incorrect password attempt");
    if let Ok(dest) = std::env::var("MAMORI_CAPTURE_AUTH") {
        std::fs::write(dest, &text).unwrap();
    }

    // Into mamori.
    let data = tmp.path().join("data");
    run_ok(mamori().args(["init", "--data"]).arg(&data));
    let out = mamori().args(["ingest", "--format", "syslog", "--data"]).arg(&data).arg(&log).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let all = run_ok(mamori().args(["search", "--json", "--limit", "1000", "--data"]).arg(&data));
    let docs: Vec<serde_json::Value> = all.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].clone()).collect();
    let find = |action: &str, user: &str| -> &serde_json::Value {
        docs.iter()
            .find(|d| d["event"]["action"] == action && d["user"]["name"] == user)
            .unwrap_or_else(|| panic!("no {action} for {user}; actions: {:?}", docs.iter().map(|d| (d["event"]["action"].clone(), d["user"]["name"].clone())).collect::<Vec<_>>()))
    };
    let key = docs
        .iter()
        .find(|d| d["event"]["action"] == "ssh-login" && d["mamori"]["auth"]["method"] == "publickey")
        .expect("publickey login");
    assert_eq!(key["user"]["name"], USER);
    assert_eq!(key["source"]["ip"], "127.0.0.1");
    assert!(key["source"]["port"].as_u64().unwrap() > 0);
    assert_eq!(key["event"]["outcome"], "success");
    assert!(docs.iter().any(|d| d["event"]["action"] == "ssh-login" && d["mamori"]["auth"]["method"] == "password" && d["user"]["name"] == USER));
    let failed = find("ssh-login-failed", USER);
    assert_eq!(failed["event"]["outcome"], "failure");
    find("ssh-invalid-user", "nosuchuser9");
    assert!(
        docs.iter().any(|d| d["event"]["action"] == "session-opened" && d["user"]["name"] == USER && d["mamori"]["auth"]["service"] == "sshd"),
        "pam_unix(sshd:session) session opened"
    );
    let sudo = docs.iter().find(|d| d["event"]["action"] == "sudo-command" && d["process"]["executable"] == "/usr/bin/cat").expect("sudo cat");
    assert_eq!(sudo["user"]["name"], USER);
    assert_eq!(sudo["user"]["target"]["name"], "root");
    assert_eq!(sudo["process"]["args"], serde_json::json!(["/usr/bin/cat", "/etc/hostname"]));
    let refused = docs.iter().filter(|d| d["event"]["action"] == "sudo-command-refused").collect::<Vec<_>>();
    assert!(
        refused.iter().any(|d| d["process"]["executable"] == "/usr/bin/whoami" && d["event"]["reason"].as_str().unwrap_or_default().contains("incorrect password")),
        "{refused:?}"
    );
    let su = find("su", "root");
    assert_eq!(su["user"]["target"]["name"], USER);
    let bind_ok = find("ldap-bind", "tanaka");
    assert_eq!(bind_ok["event"]["outcome"], "success");
    assert_eq!(bind_ok["mamori"]["auth"]["dn"], "uid=tanaka,ou=people,dc=city");
    assert_eq!(bind_ok["source"]["ip"], "127.0.0.1");
    let bind_bad = find("ldap-bind-failed", "tanaka");
    assert_eq!(bind_bad["mamori"]["auth"]["ldap"]["result"], "invalidCredentials");
    assert_eq!(bind_bad["event"]["outcome"], "failure");
}
