//! A real CUPS scheduler (Debian `cups` 2.4) in the foreground with a private configuration
//! (`cupsd -f -c DIR/cupsd.conf -s DIR/cups-files.conf`, 127.0.0.1 on a free port, all logs,
//! spool and state under a temp dir). A queue uses the `printer-driver-cups-pdf` PPD (so CUPS'
//! real filters run and count pages) with the device `file:///dev/null`: the cups-pdf backend
//! itself would write PDFs under /var/spool/cups-pdf, outside the test's directory. Named users
//! submit jobs with `lp -U USER -t TITLE`; the first job is logged with CUPS' default
//! PageLogFormat, then cupsd is reloaded (SIGHUP) with mamori's keyed PageLogFormat and more
//! jobs follow, so one page_log holds both layouts. page_log and access_log go through
//! `mamori ingest --format cups-page|cups-access` and are searched back by user.
//!
//! Set `MAMORI_CAPTURE_DIR=DIR` to keep the logs (crates/sources/tests/fixtures/cups/ was
//! produced that way).

mod common;

use common::{mamori, run_ok};
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const KEYED: &str = "PageLogFormat printer=%p user=%u job=%j time=%T pages=%P sheets=%C copies=%{copies} billing=%{job-billing} \
                     host=%{job-originating-host-name} media=%{media} sides=%{sides} format=%{document-format} title=%{job-name}";

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
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cupsd_conf(port: u16, page_format: &str) -> String {
    format!(
        "Listen 127.0.0.1:{port}\nLogLevel info\nAccessLogLevel all\nMaxLogSize 0\nWebInterface No\nBrowsing No\n\
         DefaultAuthType None\n{page_format}\n\
         <Location />\n  Order allow,deny\n  Allow from 127.0.0.1\n</Location>\n\
         <Location /admin>\n  Order allow,deny\n  Allow from 127.0.0.1\n</Location>\n\
         <Policy default>\n  <Limit All>\n    Order deny,allow\n  </Limit>\n</Policy>\n"
    )
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_lines(path: &Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let count = std::fs::read_to_string(path)
            .map(|s| s.lines().count())
            .unwrap_or(0);
        if count >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "page_log has {count} lines, waited for {n}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn search(data: &Path, args: &[&str]) -> Vec<Value> {
    let out = run_ok(
        mamori()
            .args(["search", "--json", "--limit", "200", "--data"])
            .arg(data)
            .args(args),
    );
    // Each hit is {"id": …, "event": DOC}.
    out.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].clone())
        .collect()
}

#[test]
fn real_cupsd_page_and_access_logs_become_print_events() {
    let cupsd =
        which("cupsd").expect("cupsd is not installed: run ./scripts/test.sh, which installs cups");
    which("lp").expect("lp (cups-client) is not installed: run ./scripts/test.sh");
    let ppd = Path::new("/usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd");
    assert!(
        ppd.is_file(),
        "printer-driver-cups-pdf is not installed: run ./scripts/test.sh"
    );
    assert!(
        Command::new("id")
            .arg("-u")
            .output()
            .unwrap()
            .stdout
            .starts_with(b"0\n"),
        "cupsd must run as root here (scripts/test.sh runs the tests as root)"
    );

    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    for d in ["log", "spool/tmp", "cache", "state"] {
        std::fs::create_dir_all(t.join(d)).unwrap();
    }
    // Filters run as user lp and must reach the spool.
    for d in ["", "log", "spool", "spool/tmp", "cache", "state"] {
        std::fs::set_permissions(
            t.join(d),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
    }
    let port = free_tcp_port();
    let server = format!("127.0.0.1:{port}");
    let td = t.display();
    std::fs::write(
        t.join("cups-files.conf"),
        format!(
            "AccessLog {td}/log/access_log\nErrorLog {td}/log/error_log\nPageLog {td}/log/page_log\nCacheDir {td}/cache\n\
             StateDir {td}/state\nRequestRoot {td}/spool\nTempDir {td}/spool/tmp\nServerRoot {td}\nPrintcap {td}/printcap\nFileDevice Yes\n"
        ),
    )
    .unwrap();
    std::fs::write(t.join("cupsd.conf"), cupsd_conf(port, "")).unwrap();
    let child = Command::new(&cupsd)
        .arg("-f")
        .arg("-c")
        .arg(t.join("cupsd.conf"))
        .arg("-s")
        .arg(t.join("cups-files.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = Guard(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(&server).is_err() {
        assert!(Instant::now() < deadline, "cupsd did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    run(Command::new("lpadmin")
        .args([
            "-h",
            &server,
            "-p",
            "kazei-pr1",
            "-E",
            "-v",
            "file:///dev/null",
            "-P",
        ])
        .arg(ppd));
    let doc = t.join("doc.txt");
    std::fs::write(&doc, "住民票 1\x0c住民票 2\x0c住民票 3\n").unwrap();
    let page_log = t.join("log/page_log");

    // 1. Default PageLogFormat.
    run(Command::new("lp")
        .args([
            "-h",
            &server,
            "-d",
            "kazei-pr1",
            "-U",
            "sato.h",
            "-t",
            "住民票 写し",
        ])
        .arg(&doc));
    wait_lines(&page_log, 1);

    // 2. mamori's keyed PageLogFormat (cupsd re-reads its configuration on SIGHUP).
    std::fs::write(t.join("cupsd.conf"), cupsd_conf(port, KEYED)).unwrap();
    run(Command::new("kill").args(["-HUP", &guard.0.id().to_string()]));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        std::thread::sleep(Duration::from_millis(300));
        if Command::new("lpstat")
            .args(["-h", &server, "-p", "kazei-pr1"])
            .output()
            .is_ok_and(|o| o.status.success())
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "cupsd did not come back after SIGHUP"
        );
    }
    run(Command::new("lp")
        .args([
            "-h",
            &server,
            "-d",
            "kazei-pr1",
            "-U",
            "tanaka.k",
            "-t",
            "課税台帳 2026",
            "-n",
            "2",
        ])
        .arg(&doc));
    wait_lines(&page_log, 2);
    run(Command::new("lp")
        .args([
            "-h",
            &server,
            "-d",
            "kazei-pr1",
            "-U",
            "suzuki.m",
            "-t",
            "福祉 名簿=全件",
            "-o",
            "media=A4",
            "-o",
            "sides=two-sided-long-edge",
        ])
        .arg(&doc));
    wait_lines(&page_log, 3);
    drop(guard);

    let access_log = t.join("log/access_log");
    if let Ok(dir) = std::env::var("MAMORI_CAPTURE_DIR") {
        std::fs::copy(&page_log, Path::new(&dir).join("page_log")).unwrap();
        std::fs::copy(&access_log, Path::new(&dir).join("access_log")).unwrap();
    }
    let page_text = std::fs::read_to_string(&page_log).unwrap();
    assert!(
        page_text
            .lines()
            .next()
            .unwrap()
            .starts_with("kazei-pr1 sato.h "),
        "{page_text}"
    );
    assert!(
        page_text
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("printer=kazei-pr1 user=tanaka.k "),
        "{page_text}"
    );
    let damaged = t.join("page_log.damaged");
    std::fs::write(&damaged, format!("kazei-pr1 broken-line\n{page_text}")).unwrap();

    let data = t.join("data");
    run_ok(mamori().args(["init", "--data"]).arg(&data));
    let out = run_ok(
        mamori()
            .args(["ingest", "--format", "cups-page", "--data"])
            .arg(&data)
            .arg(&page_log)
            .arg(&damaged),
    );
    assert!(out.contains("page_log: 取込 3 件"), "{out}");
    assert!(out.contains("page_log.damaged: 取込 4 件"), "{out}");
    let out = run_ok(
        mamori()
            .args(["ingest", "--format", "cups-access", "--data"])
            .arg(&data)
            .arg(&access_log),
    );
    assert!(out.contains("access_log: 取込"), "{out}");

    let jobs = search(&data, &["--action", "print-job"]);
    assert_eq!(jobs.len(), 6, "{jobs:#?}");
    let by_user = |u: &str| {
        jobs.iter()
            .find(|d| d["user"]["name"] == u)
            .unwrap_or_else(|| panic!("no job of {u}: {jobs:#?}"))
    };
    let sato = by_user("sato.h");
    assert_eq!(sato["mamori"]["print"]["log_format"], "default");
    assert_eq!(sato["file"]["name"], "住民票 写し");
    assert_eq!(sato["mamori"]["print"]["pages"], 3);
    assert_eq!(sato["mamori"]["print"]["printer"], "kazei-pr1");
    assert_eq!(sato["mamori"]["print"]["job_id"], "1");
    assert_eq!(sato["source"]["domain"], "localhost");
    let tanaka = by_user("tanaka.k");
    assert_eq!(tanaka["mamori"]["print"]["log_format"], "keyed");
    assert_eq!(tanaka["file"]["name"], "課税台帳 2026");
    assert_eq!(tanaka["mamori"]["print"]["pages"], 6, "3 pages x 2 copies");
    assert_eq!(tanaka["mamori"]["print"]["copies"], 2);
    assert_eq!(tanaka["mamori"]["print"]["document_format"], "text/plain");
    let suzuki = by_user("suzuki.m");
    assert_eq!(suzuki["file"]["name"], "福祉 名簿=全件");
    assert_eq!(suzuki["mamori"]["print"]["media"], "A4");
    assert_eq!(suzuki["mamori"]["print"]["sides"], "two-sided-long-edge");
    assert_eq!(suzuki["mamori"]["print"]["job_id"], "3");

    let raw = search(&data, &["--q", "broken-line"]);
    assert_eq!(raw.len(), 1, "{raw:#?}");
    assert_eq!(raw[0]["mamori"]["cups"]["unparsed"], true);
    assert!(
        raw[0]["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("line 1 (byte 0)"),
        "{}",
        raw[0]["error"]["message"]
    );

    let creates = search(&data, &["--action", "ipp-create-job"]);
    assert_eq!(creates.len(), 3, "{creates:#?}");
    for c in &creates {
        assert_eq!(c["mamori"]["print"]["printer"], "kazei-pr1");
        assert_eq!(c["mamori"]["print"]["ipp_status"], "successful-ok");
        assert_eq!(c["http"]["request"]["method"], "POST");
        assert_eq!(c["event"]["outcome"], "success");
    }
}
