//! Alert notifications end to end: a server with `rules/notify.toml` raises an alert from an
//! ingested event and sends it (1) by e-mail through a real Postfix (Debian `postfix`, private
//! `config_directory`/`queue_directory` under a temp dir, `postfix -c DIR start`, smtpd on a
//! free 127.0.0.1 port, local delivery to a mailbox file in the temp dir) and (2) to a webhook
//! served by a small HTTP listener on 127.0.0.1 in this test.

mod common;

use common::*;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const ROSTER: &str = "職員番号,氏名,氏名カナ,所属コード,所属名,職名,発令日,異動区分,退職日,アカウント
1003,鈴木 一郎,スズキ イチロウ,2010,市民課,主事,2000/4/1,採用,,suzuki.i@city.example.lg.jp
1003,鈴木 一郎,スズキ イチロウ,2010,市民課,主事,2018/12/21,退職,,
";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct PostfixGuard(PathBuf);
impl Drop for PostfixGuard {
    fn drop(&mut self) {
        let _ = Command::new("postfix").arg("-c").arg(&self.0).arg("stop").output();
    }
}

/// Starts a private Postfix accepting mail for test.example.lg.jp on 127.0.0.1:port and
/// delivering `security@` to the mailbox `<t>/mail/nobody`.
fn start_postfix(t: &Path) -> (u16, PostfixGuard) {
    let td = t.display().to_string();
    let etc = t.join("etc");
    for d in ["etc", "queue", "data", "mail"] {
        std::fs::create_dir_all(t.join(d)).unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(t, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(t.join("mail"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    assert!(Command::new("chown").args(["postfix", &format!("{td}/data")]).status().unwrap().success());
    let port = free_port();
    std::fs::write(
        etc.join("main.cf"),
        format!(
            "compatibility_level = 3.6\nqueue_directory = {td}/queue\ndata_directory = {td}/data\nmail_owner = postfix\nsetgid_group = postdrop\n\
             myhostname = mx.test.example.lg.jp\nmydomain = test.example.lg.jp\nmyorigin = $mydomain\nmydestination = $myhostname, $mydomain, localhost\n\
             inet_interfaces = 127.0.0.1\ninet_protocols = ipv4\nmynetworks = 127.0.0.0/8\nsmtp_dns_support_level = disabled\n\
             maillog_file = {td}/maillog\nmaillog_file_prefixes = {td}\nalias_maps = inline:{{ {{security = nobody}} }}\nalias_database =\n\
             mail_spool_directory = {td}/mail\nbiff = no\n"
        ),
    )
    .unwrap();
    let master = std::fs::read_to_string("/etc/postfix/master.cf").expect("/etc/postfix/master.cf from the postfix package");
    let master = master.replacen("smtp      inet  n       -       y", &format!("127.0.0.1:{port} inet n - n"), 1);
    assert!(master.contains(&format!("127.0.0.1:{port} inet")));
    std::fs::write(etc.join("master.cf"), master).unwrap();
    let _ = std::fs::copy("/etc/postfix/dynamicmaps.cf", etc.join("dynamicmaps.cf"));
    let out = Command::new("postconf").arg("-c").arg(&etc).args(["-F", "*/*/chroot = n"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new("postfix").arg("-c").arg(&etc).arg("start").output().expect("postfix is installed (scripts/test.sh)");
    let guard = PostfixGuard(etc);
    assert!(out.status.success(), "postfix start: {}", String::from_utf8_lossy(&out.stderr));
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "postfix did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    (port, guard)
}

/// A one-request-at-a-time HTTP listener that answers 200 and hands each body over.
fn webhook_sink() -> (u16, std::sync::mpsc::Receiver<Value>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming().take(8) {
            let Ok(mut s) = s else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            if let Ok(v) = serde_json::from_slice(&body) {
                let _ = tx.send(v);
            }
        }
    });
    (port, rx)
}

/// The decoded text of a message in an mbox (base64 or 8bit body).
fn body_text(mbox: &str) -> String {
    let body = mbox.split("\n\n").skip(1).collect::<Vec<_>>().join("\n\n");
    use base64::Engine;
    let compact: String = body.lines().filter(|l| !l.starts_with("From ")).collect::<Vec<_>>().join("");
    base64::prelude::BASE64_STANDARD.decode(compact.trim()).ok().and_then(|b| String::from_utf8(b).ok()).unwrap_or(body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn alert_mail_through_real_postfix_and_webhook() {
    assert!(Command::new("id").arg("-u").output().unwrap().stdout.starts_with(b"0\n"), "postfix start needs root (scripts/test.sh runs the tests as root)");
    let tmp = tempfile::tempdir().unwrap();
    let pf = tmp.path().join("postfix");
    std::fs::create_dir_all(&pf).unwrap();
    let (smtp, _guard) = tokio::task::block_in_place(|| start_postfix(&pf));
    let (hook, bodies) = webhook_sink();

    let root = tmp.path().join("d");
    let admin = init(&root, "notify.example.lg.jp/audit", None);
    let dir = mamori_server::DataDir::new(&root);
    std::thread::scope(|s| s.spawn(|| dir.import_roster("hr", "roster.csv", ROSTER.as_bytes())).join().unwrap()).unwrap();
    std::fs::create_dir_all(root.join("rules")).unwrap();
    std::fs::write(
        root.join("rules/notify.toml"),
        format!("min_severity = \"high\"\n[email]\nsmtp = \"127.0.0.1:{smtp}\"\nfrom = \"mamori@test.example.lg.jp\"\nto = [\"security@test.example.lg.jp\"]\n[webhook]\nurl = \"http://127.0.0.1:{hook}/mamori\"\n"),
    )
    .unwrap();
    let srv = start(&root).await;
    let ev = json!({"@timestamp": "2018-12-22T01:00:00Z", "user": {"name": "suzuki.i"}, "event": {"action": "file-read", "type": ["access"]}, "mamori": {"share": "juki"}, "file": {"path": "/台帳/2018.csv"}});
    let (s, v) = srv.post("/api/v1/events", &admin, format!("{ev}\n").into_bytes()).await;
    assert_eq!(s, 200, "{v}");
    let id = v["items"][0]["id"].as_u64().unwrap();

    // The webhook gets the alert JSON.
    let got = tokio::task::spawn_blocking(move || bodies.recv_timeout(Duration::from_secs(20))).await.unwrap().expect("webhook called");
    assert_eq!(got["alert"]["rule_id"], "hiratsuka_after_retirement");
    assert_eq!(got["alert"]["evidence"], json!([id]));
    assert_eq!(got["alert"]["person"]["staff_id"], "1003");

    // Postfix delivers the mail to the security mailbox.
    let mbox = pf.join("mail/nobody");
    let text = eventually(30, "mail delivered by postfix", || async { std::fs::read_to_string(&mbox).ok().filter(|t| t.contains("\n\n")) }).await;
    assert!(text.contains("From: mamori@test.example.lg.jp") || text.contains("From: <mamori@test.example.lg.jp>"), "{text}");
    assert!(text.contains("To: security@test.example.lg.jp") || text.contains("security@test.example.lg.jp"), "{text}");
    let body = body_text(&text);
    assert!(body.contains("hiratsuka_after_retirement"), "{body}");
    assert!(body.contains("鈴木 一郎"), "{body}");
    assert!(body.contains(&format!("[{id}]")), "{body}");
    let log = std::fs::read_to_string(pf.join("maillog")).unwrap_or_default();
    assert!(log.contains("status=sent") && log.contains("delivered to mailbox"), "{log}");
    srv.stop().await;
}
