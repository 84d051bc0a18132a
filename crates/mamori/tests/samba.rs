//! End to end with a real Samba file server: Debian's `smbd` with `vfs_full_audit` logs every
//! file operation through `syslog(3)`; a private rsyslogd forwards the lines to `mamori serve`
//! over syslog TCP; the test queries the derived file events back per user.
//!
//! Getting the audit lines out of smbd. `full_audit:syslog = true` (the production setting)
//! makes smbd call glibc `syslog(3)`, which always writes to the fixed path `/dev/log`; there is
//! no per-process way to point it elsewhere. Binding `/dev/log` itself would touch (or clash
//! with) the machine's syslog daemon. So smbd is started in a private *mount namespace*
//! (`unshare -m`, needs root, which this test needs anyway for smbd): inside it, after
//! `mount --make-rprivate /`, a tmpfs is mounted over `/dev` holding symlinks to the real device
//! nodes (re-bound under the temp dir) plus `/dev/log -> <tmp>/log.sock`, the socket of a
//! private rsyslogd (imuxsock). Nothing outside the namespace changes and the mounts vanish with
//! smbd. The alternative, `full_audit:syslog = false` (audit lines in smbd's debug log), was not
//! chosen because that is a different line format from what a city forwards in production.
//!
//! Differences from the configuration in the brief: the audit prefix is `%u|%I|%m|%S|%P` (the
//! share root path added) because Samba 4.17 logs absolute server paths, and the parser needs
//! `%P` to make `file.path` share-relative; `pread_recv`/`pwrite_recv` are audited because SMB2
//! reads and writes go through the async VFS calls (plain `pread`/`pwrite` never appear). A
//! wrong password is rejected in session setup, before any share connect, so `vfs_full_audit`
//! never sees it: the test checks that it leaves no event, and the failed outcome is checked on
//! an `openat` of a missing file instead.

mod common;

use common::{Server, mamori, run_ok};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const USERS: [(&str, &str); 2] = [("mamoritest1", "Juki-Pass-1"), ("mamoritest2", "Juki-Pass-2")];

fn which(p: &str) -> Option<String> {
    let out = Command::new("sh").args(["-c", &format!("command -v {p}")]).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn sh(script: &str) {
    let out = Command::new("sh").args(["-c", script]).output().unwrap();
    assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Kills a child when dropped (so a failing assertion does not leave smbd or rsyslogd running).
struct Guard(std::process::Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn smbclient(port: u16, user: &str, pass: &str, cmds: &str, dir: &Path) -> std::process::Output {
    Command::new("smbclient")
        .args(["//127.0.0.1/juki", "-p", &port.to_string(), "-U", &format!("{user}%{pass}"), "-c", cmds])
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn smbd_full_audit_via_rsyslog_becomes_file_events() {
    let smbd = which("smbd").expect("smbd is not installed: run ./scripts/test.sh, which installs samba and smbclient");
    which("smbclient").expect("smbclient is not installed: run ./scripts/test.sh");
    let rsyslogd = which("rsyslogd").expect("rsyslogd is not installed: run ./scripts/test.sh");
    which("unshare").expect("unshare (util-linux) is needed");
    assert!(
        Command::new("id").arg("-u").output().unwrap().stdout.starts_with(b"0\n"),
        "this test runs smbd and a mount namespace and must run as root (as scripts/test.sh does in CI)"
    );

    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().display().to_string();

    // mamori
    let data = tmp.path().join("data");
    run_ok(mamori().args(["init", "--origin", "test.example.lg.jp/audit", "--data"]).arg(&data));
    let viewer = run_ok(mamori().args(["token", "--name", "auditor", "--role", "auditor", "--data"]).arg(&data)).trim().to_owned();
    let srv = Server::start(&data, &["--listen", "127.0.0.1:0", "--syslog-tcp", "127.0.0.1:0"]);
    let syslog_tcp = srv.syslog_tcp.clone().unwrap();
    let (tcp_host, tcp_port) = syslog_tcp.rsplit_once(':').unwrap();

    // rsyslogd: imuxsock on a private socket, forwarded to mamori (RFC 5424, octet counting).
    for d in ["work", "priv", "lock", "state", "cache", "pid", "ncalrpc", "share", "olddev", "client"] {
        std::fs::create_dir_all(tmp.path().join(d)).unwrap();
    }
    sh(&format!("chmod 777 {t}/share"));
    std::fs::write(
        tmp.path().join("rsyslog.conf"),
        format!(
            r#"global(workDirectory="{t}/work")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{t}/log.sock")
if $programname == "smbd_audit" then {{
  action(type="omfwd" target="{tcp_host}" port="{tcp_port}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
  action(type="omfile" file="{t}/audit.log" template="RSYSLOG_SyslogProtocol23Format")
}}
"#
        ),
    )
    .unwrap();
    let _rs = Guard(
        Command::new(&rsyslogd)
            .args(["-n", "-f", &format!("{t}/rsyslog.conf"), "-i", &format!("{t}/rsyslogd.pid")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    // smbd with vfs_full_audit on [juki].
    let port = free_tcp_port();
    let conf = format!("{t}/smb.conf");
    std::fs::write(
        &conf,
        format!(
            r#"[global]
server role = standalone server
workgroup = MAMORITEST
interfaces = 127.0.0.1
bind interfaces only = yes
smb ports = {port}
private dir = {t}/priv
lock directory = {t}/lock
state directory = {t}/state
cache directory = {t}/cache
pid directory = {t}/pid
ncalrpc dir = {t}/ncalrpc
log file = {t}/smbd.log
passdb backend = tdbsam:{t}/passdb.tdb
disable spoolss = yes
load printers = no
printcap name = /dev/null

[juki]
path = {t}/share
read only = no
vfs objects = full_audit
full_audit:prefix = %u|%I|%m|%S|%P
full_audit:success = connect disconnect openat pread pread_recv pwrite pwrite_recv renameat unlinkat mkdirat
full_audit:failure = connect openat
full_audit:facility = LOCAL5
full_audit:priority = NOTICE
full_audit:syslog = true
"#
        ),
    )
    .unwrap();
    for (user, pass) in USERS {
        sh(&format!("id {user} >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin {user}"));
        sh(&format!("printf '%s\\n%s\\n' '{pass}' '{pass}' | smbpasswd -c {conf} -a -s {user} >/dev/null"));
    }
    let ns_script = format!(
        r#"set -e
mount --make-rprivate /
mount --rbind /dev {t}/olddev
mount -t tmpfs -o mode=755 mamoridev /dev
for f in {t}/olddev/* ; do ln -s "$f" /dev/"$(basename "$f")"; done
rm -f /dev/log
ln -s {t}/log.sock /dev/log
exec {smbd} --foreground --no-process-group --configfile={conf}
"#
    );
    let _smbd = Guard(
        Command::new("unshare")
            .args(["-m", "sh", "-c", &ns_script])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "smbd did not listen on {port}; see {t}/smbd.log");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Client activity.
    let client = tmp.path().join("client");
    std::fs::write(client.join("local.txt"), "住民基本台帳 抜粋\n").unwrap();
    let (u1, p1) = USERS[0];
    let (u2, p2) = USERS[1];
    let out = smbclient(
        port,
        u1,
        p1,
        "mkdir 住民; put local.txt 住民/台帳.txt; get 住民/台帳.txt got.txt; rename 住民/台帳.txt 住民/台帳2.txt; del 住民/台帳2.txt",
        &client,
    );
    assert!(out.status.success(), "smbclient {u1}: {} {}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    assert!(client.join("got.txt").exists());
    let out = smbclient(port, u2, p2, "put local.txt 引継ぎ.txt; get nosuch.txt x.txt", &client);
    assert!(String::from_utf8_lossy(&out.stdout).contains("NT_STATUS_OBJECT_NAME_NOT_FOUND"), "{out:?}");
    let out = smbclient(port, u2, "wrong-password", "ls", &client);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("LOGON_FAILURE"), "{out:?}");

    // Query mamori until both users' disconnects arrived (they are the last lines of a session).
    let http = reqwest::blocking::Client::new();
    let events = |user: &str| -> Vec<serde_json::Value> {
        let v: serde_json::Value = http
            .get(format!("{}/api/v1/events?user={user}&limit=1000", srv.http))
            .bearer_auth(&viewer)
            .send()
            .unwrap()
            .json()
            .unwrap();
        v["events"].as_array().cloned().unwrap_or_default().into_iter().map(|h| h["event"].clone()).collect()
    };
    let has = |evs: &[serde_json::Value], action: &str| evs.iter().any(|e| e["event"]["action"] == action);
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut e1, mut e2) = (Vec::new(), Vec::new());
    while Instant::now() < deadline {
        e1 = events(u1);
        e2 = events(u2);
        if has(&e1, "share-disconnect") && has(&e2, "share-disconnect") {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let audit = std::fs::read_to_string(format!("{t}/audit.log")).unwrap_or_default();
    assert!(has(&e1, "share-disconnect") && has(&e2, "share-disconnect"), "events missing; rsyslog saw:\n{audit}");

    for e in e1.iter().chain(&e2) {
        assert_eq!(e["source"]["ip"], "127.0.0.1", "{e}");
        assert_eq!(e["mamori"]["share"], "juki", "{e}");
        assert_eq!(e["process"]["name"], "smbd_audit");
        assert_eq!(e["event"]["category"], serde_json::json!(["file"]));
        assert!(e["mamori"]["samba"].get("unparsed").is_none(), "{e}");
    }
    let find = |evs: &[serde_json::Value], action: &str, path: &str, outcome: &str| -> serde_json::Value {
        evs.iter()
            .find(|e| e["event"]["action"] == action && e["file"]["path"] == path && e["event"]["outcome"] == outcome)
            .cloned()
            .unwrap_or_else(|| panic!("no {action} {path} {outcome} in {evs:#?}"))
    };
    find(&e1, "directory-create", "/住民", "success");
    let w = find(&e1, "file-write", "/住民/台帳.txt", "success");
    assert_eq!(w["user"]["name"], u1);
    assert!(e1.iter().any(|e| e["event"]["action"] == "file-open"
        && e["mamori"]["samba"]["open_mode"] == "write"
        && e["file"]["path"] == "/住民/台帳.txt"));
    find(&e1, "file-read", "/住民/台帳.txt", "success");
    let r = find(&e1, "file-rename", "/住民/台帳.txt", "success");
    assert_eq!(r["mamori"]["file"]["target_path"], "/住民/台帳2.txt");
    find(&e1, "file-delete", "/住民/台帳2.txt", "success");
    assert!(has(&e1, "share-connect"));

    find(&e2, "file-write", "/引継ぎ.txt", "success");
    let miss = find(&e2, "file-open", "/nosuch.txt", "failure");
    assert_eq!(miss["error"]["message"], "No such file or directory");
    // u2 never read, renamed or deleted anything; u1's actions are not attributed to u2.
    assert!(!has(&e2, "file-read") && !has(&e2, "file-rename") && !has(&e2, "file-delete"));
    // The rejected login reached no share: exactly one connect for u2.
    assert_eq!(e2.iter().filter(|e| e["event"]["action"] == "share-connect").count(), 1);
    srv.stop();
}
