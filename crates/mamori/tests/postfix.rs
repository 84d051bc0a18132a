//! A real Postfix (Debian `postfix` 3.7) in a private `config_directory`/`queue_directory`
//! under a temp dir (`postfix -c DIR start`), listening on 127.0.0.1 on a free port, logging
//! through `postlogd` to `maillog_file` in the temp dir (Postfix ≥ 3.4), chroot off in
//! master.cf (the private queue has no chroot tree). It delivers to a local mailbox (an alias
//! to `nobody`, `mail_spool_directory` in the temp dir), relays to an SMTP sink the test runs on
//! 127.0.0.1 (which accepts, defers with 450 and rejects with 550 by recipient), hands one
//! domain to LMTP on the same sink, bounces one recipient through the `error` transport and
//! rejects one at RCPT time. `swaks` sends, with two attachments; `mime_header_checks` logs
//! their names (the rule from docs/sources/postfix.md). The maillog then goes through
//! `mamori ingest --format postfix`, and the correlated message events are searched back.
//!
//! Set `MAMORI_CAPTURE_DIR=DIR` to keep the maillog (that is how
//! crates/sources/tests/fixtures/postfix/ was produced).

mod common;

use common::{Server, mamori, run_ok};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn which(p: &str) -> Option<String> {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {p}")])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// SMTP/LMTP sink: 550 for recipients containing "reject", 450 for "later", else 250.
fn smtp_sink() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (n, s) in l.incoming().flatten().enumerate() {
            let id = n + 1;
            std::thread::spawn(move || {
                let mut w = s.try_clone().unwrap();
                let mut r = BufReader::new(s);
                let _ = w.write_all(b"220 sink.test ESMTP\r\n");
                let mut rcpts = 0;
                let mut lmtp = false;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let u = line.to_ascii_uppercase();
                    if u.starts_with("LHLO") {
                        lmtp = true;
                    }
                    let reply: String = if u.starts_with("EHLO") || u.starts_with("LHLO") {
                        "250-sink.test\r\n250 8BITMIME\r\n".into()
                    } else if u.starts_with("RCPT") && u.contains("REJECT") {
                        "550 5.1.1 no such user here\r\n".into()
                    } else if u.starts_with("RCPT") && u.contains("LATER") {
                        "450 4.2.0 mailbox busy, try later\r\n".into()
                    } else if u.starts_with("RCPT") {
                        rcpts += 1;
                        "250 2.1.5 ok\r\n".into()
                    } else if u.starts_with("DATA") {
                        let _ = w.write_all(b"354 go ahead\r\n");
                        loop {
                            let mut d = String::new();
                            if r.read_line(&mut d).unwrap_or(0) == 0 || d == ".\r\n" {
                                break;
                            }
                        }
                        // LMTP wants one reply per accepted recipient (Postfix sends one
                        // recipient per LMTP delivery here); SMTP one in all.
                        let n = if lmtp { rcpts.max(1) } else { 1 };
                        rcpts = 0;
                        format!("250 2.0.0 Ok: queued as SINK{id}\r\n").repeat(n)
                    } else if u.starts_with("QUIT") {
                        let _ = w.write_all(b"221 bye\r\n");
                        return;
                    } else {
                        "250 ok\r\n".into()
                    };
                    if w.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// Stops the private Postfix when dropped.
struct PostfixGuard(PathBuf);
impl Drop for PostfixGuard {
    fn drop(&mut self) {
        let _ = Command::new("postfix")
            .arg("-c")
            .arg(&self.0)
            .arg("stop")
            .output();
    }
}

fn search(data: &Path, args: &[&str]) -> Vec<Value> {
    let out = run_ok(
        mamori()
            .args(["search", "--json", "--limit", "500", "--data"])
            .arg(data)
            .args(args),
    );
    // Each hit is {"id": …, "event": DOC}.
    out.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].clone())
        .collect()
}

fn swaks(port: u16, args: &[&str], dir: &Path) {
    let out = Command::new("swaks")
        .args(["-s", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "swaks {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn wait_for(path: &Path, what: &str, count: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = std::fs::read_to_string(path).unwrap_or_default();
        if s.matches(what).count() >= count {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "maillog never had {count}x {what:?}:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn real_postfix_log_correlates_into_message_events() {
    which("postfix").expect("postfix is not installed: run ./scripts/test.sh, which installs it");
    which("swaks").expect("swaks is not installed: run ./scripts/test.sh");
    assert!(
        Command::new("id")
            .arg("-u")
            .output()
            .unwrap()
            .stdout
            .starts_with(b"0\n"),
        "postfix start needs root (scripts/test.sh runs the tests as root)"
    );
    assert!(
        Command::new("id")
            .arg("postfix")
            .output()
            .unwrap()
            .status
            .success(),
        "the postfix user (mail_owner) comes with the Debian package"
    );

    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().to_path_buf();
    let td = t.display().to_string();
    let etc = t.join("etc");
    for d in ["etc", "queue", "data", "mail"] {
        std::fs::create_dir_all(t.join(d)).unwrap();
    }
    std::fs::set_permissions(&t, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        t.join("mail"),
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )
    .unwrap();
    assert!(
        Command::new("chown")
            .args(["postfix", &format!("{td}/data")])
            .status()
            .unwrap()
            .success()
    );
    let smtp_port = free_tcp_port();
    let sink = smtp_sink();
    let maillog = t.join("maillog");
    std::fs::write(
        etc.join("main.cf"),
        format!(
            "compatibility_level = 3.6\n\
             queue_directory = {td}/queue\n\
             data_directory = {td}/data\n\
             mail_owner = postfix\n\
             setgid_group = postdrop\n\
             myhostname = mx.test.example.lg.jp\n\
             mydomain = test.example.lg.jp\n\
             myorigin = $mydomain\n\
             mydestination = $myhostname, $mydomain, localhost\n\
             inet_interfaces = 127.0.0.1\n\
             inet_protocols = ipv4\n\
             mynetworks = 127.0.0.0/8\n\
             relayhost = [127.0.0.1]:{sink}\n\
             smtp_dns_support_level = disabled\n\
             maillog_file = {td}/maillog\n\
             maillog_file_prefixes = {td}\n\
             alias_maps = inline:{{ {{juki.ka = nobody}}, {{tanaka.k = nobody}} }}\n\
             alias_database =\n\
             mail_spool_directory = {td}/mail\n\
             biff = no\n\
             smtpd_reject_unlisted_recipient = no\n\
             smtpd_recipient_restrictions = check_recipient_access inline:{{ {{leak@outside.example = REJECT 外部送信禁止 blocked by policy}} }}, permit_mynetworks, reject_unauth_destination\n\
             transport_maps = inline:{{ {{blocked@partner.example.com = error:5.7.1 blocked by city policy}}, {{lmtp.test.example.lg.jp = lmtp:inet:[127.0.0.1]:{sink}}} }}\n\
             mime_header_checks = regexp:{td}/etc/mime_header_checks\n\
             header_checks = regexp:{td}/etc/header_checks\n"
        ),
    )
    .unwrap();
    std::fs::write(
        etc.join("mime_header_checks"),
        "/^Content-(Disposition|Type):.*name\\*?=/ INFO attachment\n",
    )
    .unwrap();
    std::fs::write(etc.join("header_checks"), "/^Subject:/ INFO subject\n").unwrap();
    let master = std::fs::read_to_string("/etc/postfix/master.cf")
        .expect("/etc/postfix/master.cf from the postfix package");
    let master = master.replacen(
        "smtp      inet  n       -       y",
        &format!("127.0.0.1:{smtp_port} inet n - n"),
        1,
    );
    assert!(
        master.contains(&format!("127.0.0.1:{smtp_port} inet")),
        "master.cf has no smtp inet line to replace"
    );
    std::fs::write(etc.join("master.cf"), master).unwrap();
    let _ = std::fs::copy("/etc/postfix/dynamicmaps.cf", etc.join("dynamicmaps.cf"));
    let out = Command::new("postconf")
        .arg("-c")
        .arg(&etc)
        .args(["-F", "*/*/chroot = n"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("postfix")
        .arg("-c")
        .arg(&etc)
        .arg("start")
        .output()
        .unwrap();
    let guard = PostfixGuard(etc.clone());
    assert!(
        out.status.success(),
        "postfix start: {} {} (see {td}/maillog)",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", smtp_port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "postfix smtpd did not listen on {smtp_port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    std::fs::write(t.join("住民一覧.pdf"), "%PDF-1.4 test\n").unwrap();
    std::fs::write(t.join("kazei_2026.csv"), "氏名,税額\n山田,1000\n").unwrap();
    // 1. tanaka.k to six recipients: local (alias), relay (sent), relay (450), relay (550),
    //    error transport, LMTP — plus one rejected at RCPT; two attachments.
    swaks(
        smtp_port,
        &[
            "-f",
            "tanaka.k@test.example.lg.jp",
            "-t",
            "juki.ka@test.example.lg.jp,out@partner.example.com,later@partner.example.com,reject@partner.example.com,blocked@partner.example.com,box@lmtp.test.example.lg.jp,leak@outside.example",
            "--header",
            "Subject: =?UTF-8?B?5L2P5rCR44OH44O844K/?=",
            "--attach",
            "住民一覧.pdf",
            "--attach",
            "kazei_2026.csv",
        ],
        &t,
    );
    // 2. A plain local message from sato.
    swaks(
        smtp_port,
        &[
            "-f",
            "sato@test.example.lg.jp",
            "-t",
            "root@localhost",
            "--body",
            "定例会の件",
        ],
        &t,
    );
    // Messages 1's bounce notice, message 2 and the notice's delivery end with `removed`;
    // message 1 stays queued (deferred recipient).
    let log = wait_for(&maillog, ": removed", 2);
    wait_for(&maillog, "status=deferred", 1);
    wait_for(&maillog, "postfix/lmtp[", 1);
    let _ = log;
    drop(guard);
    let log = std::fs::read_to_string(&maillog).unwrap();
    if let Ok(dir) = std::env::var("MAMORI_CAPTURE_DIR") {
        std::fs::write(Path::new(&dir).join("maillog_3.7"), &log).unwrap();
    }

    let data = t.join("mamori");
    run_ok(mamori().args(["init", "--data"]).arg(&data));
    let out = run_ok(
        mamori()
            .args(["ingest", "--format", "postfix", "--data"])
            .arg(&data)
            .arg(&maillog),
    );
    let lines = log.lines().count();
    // Every line is an event, plus one per message (3: message 1, its bounce notice, message 2).
    assert!(
        out.contains(&format!("取込 {} 件", lines + 3)),
        "{lines} lines: {out}"
    );

    let msgs = search(&data, &["--action", "mail-message"]);
    assert_eq!(msgs.len(), 3, "{msgs:#?}");
    let m1 = msgs
        .iter()
        .find(|m| m["email"]["from"]["address"][0] == "tanaka.k@test.example.lg.jp")
        .expect("tanaka's message");
    let qid = m1["email"]["local_id"].as_str().unwrap();
    assert!(log.contains(&format!("{qid}: client=localhost[127.0.0.1]")));
    assert_eq!(
        m1["mamori"]["mail"]["complete"], false,
        "the deferred recipient keeps it queued"
    );
    assert_eq!(m1["mamori"]["mail"]["nrcpt"], 6);
    assert!(m1["mamori"]["mail"]["size"].as_u64().unwrap() > 500);
    assert_eq!(m1["source"]["ip"], "127.0.0.1");
    assert_eq!(m1["email"]["subject"], "住民データ");
    assert!(m1["email"]["message_id"].as_str().unwrap().contains('@'));
    let names: Vec<&str> = m1["email"]["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["file"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["住民一覧.pdf", "kazei_2026.csv"]);
    let to: Vec<&str> = m1["email"]["to"]["address"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for r in [
        "juki.ka@test.example.lg.jp",
        "out@partner.example.com",
        "later@partner.example.com",
        "reject@partner.example.com",
        "blocked@partner.example.com",
        "box@lmtp.test.example.lg.jp",
        "leak@outside.example",
    ] {
        assert!(to.contains(&r), "{r} missing from {to:?}");
    }
    let rcpt = |addr: &str| {
        m1["mamori"]["mail"]["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["address"] == addr || r["orig_to"] == addr)
            .unwrap_or_else(|| panic!("no recipient {addr}: {m1:#}"))
            .clone()
    };
    let local = rcpt("juki.ka@test.example.lg.jp");
    assert_eq!(
        (
            local["status"].as_str(),
            local["relay"].as_str(),
            local["agent"].as_str()
        ),
        (Some("sent"), Some("local"), Some("local"))
    );
    assert_eq!(local["address"], "nobody@test.example.lg.jp");
    assert_eq!(rcpt("out@partner.example.com")["status"], "sent");
    assert_eq!(
        rcpt("out@partner.example.com")["relay"],
        format!("127.0.0.1[127.0.0.1]:{sink}")
    );
    assert_eq!(rcpt("later@partner.example.com")["status"], "deferred");
    assert_eq!(rcpt("reject@partner.example.com")["status"], "bounced");
    assert_eq!(rcpt("reject@partner.example.com")["dsn"], "5.1.1");
    assert_eq!(rcpt("blocked@partner.example.com")["status"], "bounced");
    assert_eq!(rcpt("blocked@partner.example.com")["agent"], "error");
    assert_eq!(rcpt("box@lmtp.test.example.lg.jp")["agent"], "lmtp");
    assert_eq!(rcpt("box@lmtp.test.example.lg.jp")["status"], "sent");
    assert_eq!(rcpt("leak@outside.example")["status"], "rejected");
    let statuses = m1["mamori"]["mail"]["status"].as_array().unwrap();
    for s in ["sent", "deferred", "bounced", "rejected"] {
        assert!(statuses.contains(&s.into()), "{s} not in {statuses:?}");
    }
    assert_eq!(m1["event"]["outcome"], "failure");
    let notice_id = m1["mamori"]["mail"]["notification_ids"][0]
        .as_str()
        .expect("bounce notification id");

    let notice = msgs
        .iter()
        .find(|m| m["email"]["local_id"] == notice_id)
        .expect("the bounce notice message");
    assert_eq!(notice["mamori"]["mail"]["complete"], true);
    assert!(
        notice["email"]["from"]
            .get("address")
            .is_none_or(|a| a[0] == ""),
        "null sender: {notice:#}"
    );
    let m2 = msgs
        .iter()
        .find(|m| m["email"]["from"]["address"][0] == "sato@test.example.lg.jp")
        .expect("sato's message");
    assert_eq!(m2["mamori"]["mail"]["complete"], true);
    assert_eq!(m2["mamori"]["mail"]["status"], serde_json::json!(["sent"]));
    assert_eq!(m2["event"]["outcome"], "success");
    assert_eq!(
        m2["email"]["to"]["address"],
        serde_json::json!(["root@localhost"])
    );

    // The raw lines are events too, searchable by queue id.
    let raw = search(&data, &["--q", qid]);
    assert!(
        raw.iter()
            .filter(|d| d["event"]["dataset"] != "postfix.message")
            .count()
            >= 10,
        "{raw:#?}"
    );
    let deliveries = search(&data, &["--action", "mail-delivery"]);
    assert!(
        deliveries
            .iter()
            .any(|d| d["mamori"]["mail"]["status"] == "deferred" && d["email"]["local_id"] == qid)
    );
}

/// The live path: the real Postfix lines captured from the run above
/// (crates/sources/tests/fixtures/postfix/maillog_3.7) sent to `mamori serve` over syslog TCP
/// with PRI `<22>` (mail.info), as rsyslog forwards them; each line comes back as an event with
/// the per-line mail fields, and the lines are joined by queue id into message events.
#[test]
fn postfix_lines_over_syslog_tcp_are_enriched_live() {
    let log = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../sources/tests/fixtures/postfix/maillog_3.7"
    ))
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    run_ok(mamori().args(["init", "--data"]).arg(&data));
    let viewer = run_ok(
        mamori()
            .args(["token", "--name", "auditor", "--role", "auditor", "--data"])
            .arg(&data),
    )
    .trim()
    .to_owned();
    let srv = Server::start(
        &data,
        &["--listen", "127.0.0.1:0", "--syslog-tcp", "127.0.0.1:0"],
    );
    let mut sock = std::net::TcpStream::connect(srv.syslog_tcp.clone().unwrap()).unwrap();
    for l in log.lines() {
        writeln!(sock, "<22>{l}").unwrap();
    }
    drop(sock);
    let http = reqwest::blocking::Client::new();
    let query = |q: &str| -> Vec<Value> {
        let v: Value = http
            .get(format!("{}/api/v1/events?{q}&limit=1000", srv.http))
            .bearer_auth(&viewer)
            .send()
            .unwrap()
            .json()
            .unwrap();
        v["events"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|h| h["event"].clone())
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut deliveries = Vec::new();
    while Instant::now() < deadline {
        deliveries = query("action=mail-delivery");
        if deliveries.len() >= 8 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(deliveries.len(), 8, "{deliveries:#?}");
    let bounced = deliveries
        .iter()
        .find(|d| d["mamori"]["mail"]["agent"] == "error")
        .expect("error agent line");
    assert_eq!(bounced["email"]["local_id"], "D33619B01C0");
    assert_eq!(bounced["mamori"]["mail"]["status"], "bounced");
    assert_eq!(
        bounced["email"]["to"]["address"][0],
        "blocked@partner.example.com"
    );
    assert_eq!(bounced["log"]["syslog"]["facility"]["name"], "mail");
    assert_eq!(bounced["observer"].get("ip"), None);
    let headers = query("action=mail-header");
    assert!(
        headers
            .iter()
            .any(|h| h["email"]["attachments"][0]["file"]["name"] == "住民一覧.pdf"),
        "{headers:#?}"
    );
    // Correlated by queue id on the live path too, as `ingest --format postfix` does: one
    // message event per message (two closed by qmgr's `removed`, the deferred one emitted
    // incomplete when the connection closed), joining from/to/size/subject/attachments lines.
    let mut msgs = Vec::new();
    while Instant::now() < deadline + Duration::from_secs(30) {
        msgs = query("action=mail-message");
        if msgs.len() >= 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(msgs.len(), 3, "{msgs:#?}");
    let m1 = msgs
        .iter()
        .find(|m| m["email"]["from"]["address"][0] == "tanaka.k@test.example.lg.jp")
        .expect("tanaka's message");
    assert_eq!(m1["mamori"]["mail"]["complete"], false);
    assert_eq!(m1["mamori"]["mail"]["nrcpt"], 6);
    assert!(m1["mamori"]["mail"]["size"].as_u64().unwrap() > 500);
    assert_eq!(m1["email"]["subject"], "住民データ");
    let names: Vec<&str> = m1["email"]["attachments"].as_array().unwrap().iter().map(|a| a["file"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["住民一覧.pdf", "kazei_2026.csv"]);
    let to = m1["email"]["to"]["address"].to_string();
    assert!(to.contains("leak@outside.example") && to.contains("juki.ka@test.example.lg.jp"), "{to}");
    assert_eq!(msgs.iter().filter(|m| m["mamori"]["mail"]["complete"] == true).count(), 2, "{msgs:#?}");
    srv.stop();
}
