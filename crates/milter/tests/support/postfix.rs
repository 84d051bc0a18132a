//! A private Postfix instance for tests (shared by crates/milter/tests and crates/mamori/tests):
//! its own config, queue and data directories under a temp dir, SMTP on a free 127.0.0.1 port,
//! `smtpd_milters = inet:127.0.0.1:PORT`, every message discarded unless a milter holds it.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub struct Postfix {
    pub dir: PathBuf,
    pub smtp: u16,
}

impl Postfix {
    pub fn start(root: &Path, milter_port: u16) -> Postfix {
        let smtp = free_port();
        let dir = root.join("etc");
        std::fs::create_dir_all(&dir).unwrap();
        let main = format!(
            "compatibility_level = 3.6\n\
             queue_directory = {q}\n\
             data_directory = {d}\n\
             meta_directory = /etc/postfix\n\
             command_directory = /usr/sbin\n\
             daemon_directory = /usr/lib/postfix/sbin\n\
             shlib_directory = no\n\
             mail_owner = postfix\n\
             setgid_group = postdrop\n\
             myhostname = mamori-test.example.lg.jp\n\
             mydomain = example.lg.jp\n\
             myorigin = $myhostname\n\
             mydestination =\n\
             inet_interfaces = 127.0.0.1\n\
             inet_protocols = ipv4\n\
             mynetworks = 127.0.0.0/8\n\
             smtpd_relay_restrictions = permit_mynetworks, reject\n\
             default_transport = discard:\n\
             relay_transport = discard:\n\
             smtpd_milters = inet:127.0.0.1:{milter_port}\n\
             milter_default_action = tempfail\n\
             maillog_file = {log}\n\
             maillog_file_prefixes = {root}\n\
             alias_maps =\n\
             alias_database =\n\
             biff = no\n",
            q = root.join("queue").display(),
            d = root.join("data").display(),
            log = root.join("maillog").display(),
            root = root.display(),
        );
        // Postfix's daemons run as `postfix` and must reach the queue under the temp dir.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.join("main.cf"), main).unwrap();
        let services = [
            "pickup unix n - n 60 1 pickup",
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "rewrite unix - - n - - trivial-rewrite",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
            "verify unix - - n - 1 verify",
            "flush unix n - n 1000? 0 flush",
            "proxymap unix - - n - - proxymap",
            "showq unix n - n - - showq",
            "error unix - - n - - error",
            "retry unix - - n - - error",
            "discard unix - - n - - discard",
            "anvil unix - - n - 1 anvil",
            "scache unix - - n - 1 scache",
            "postlog unix-dgram n - n - 1 postlogd",
        ];
        let master = format!("127.0.0.1:{smtp} inet n - n - - smtpd\n{}\n", services.join("\n"));
        std::fs::write(dir.join("master.cf"), master).unwrap();
        for d in ["queue", "data"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let st = Command::new("chown").args(["postfix:postfix"]).arg(root.join("data")).status().unwrap();
        assert!(st.success());
        let out = Command::new("/usr/sbin/postfix").arg("-c").arg(&dir).arg("start").output().unwrap();
        assert!(out.status.success(), "postfix start: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let pf = Postfix { dir, smtp };
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", smtp)).is_err() {
            assert!(t0.elapsed() < Duration::from_secs(20), "postfix smtpd did not listen on {smtp}");
            std::thread::sleep(Duration::from_millis(100));
        }
        pf
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.parent().unwrap().join("maillog")).unwrap_or_default()
    }

    /// Queue names of the messages in the queue (`postqueue -j`).
    pub fn queue(&self) -> Vec<Value> {
        let out = Command::new("/usr/sbin/postqueue").arg("-c").arg(&self.dir).arg("-j").output().unwrap();
        String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new("/usr/sbin/postfix").arg("-c").arg(&self.dir).arg("stop").output();
    }
}

pub fn available() -> bool {
    let have = |p: &str| Command::new("sh").args(["-c", &format!("command -v {p}")]).output().is_ok_and(|o| o.status.success());
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !(have("swaks") && Path::new("/usr/sbin/postfix").exists() && root) {
        eprintln!("SKIP: needs root, postfix and swaks (scripts/test.sh installs them)");
        return false;
    }
    true
}


pub fn swaks(port: u16, to: &str, attachment: &Path, name: &str) -> std::process::Output {
    Command::new("swaks")
        .args(["--server", &format!("127.0.0.1:{port}"), "--from", "tanaka.k@city.example.lg.jp", "--to", to])
        .args(["--header", "Subject: list", "--body", "see attached"])
        .args(["--attach-type", "text/csv", "--attach-name", name, "--attach"])
        .arg(format!("@{}", attachment.display()))
        .output()
        .unwrap()
}

pub fn wait_for(mut f: impl FnMut() -> bool, what: &str) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One message with a subject, a body and optionally one attachment of `mime` type.
pub fn swaks_mail(port: u16, to: &str, subject: &str, body: &str, attachment: Option<(&Path, &str, &str)>) -> std::process::Output {
    let mut c = Command::new("swaks");
    c.args(["--server", &format!("127.0.0.1:{port}"), "--from", "tanaka.k@city.example.lg.jp", "--to", to])
        .args(["--header", &format!("Subject: {subject}"), "--body", body]);
    if let Some((path, name, mime)) = attachment {
        c.args(["--attach-type", mime, "--attach-name", name, "--attach"]).arg(format!("@{}", path.display()));
    }
    c.output().unwrap()
}
