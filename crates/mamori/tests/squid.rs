//! A real Squid proxy (Debian `squid` 5.x) on 127.0.0.1 with a private squid.conf, logging the
//! same requests in the native (`squid`) and the Apache `combined` formats; curl makes requests
//! through it (basic proxy auth against `basic_ncsa_auth`, as a city's proxy authenticates its
//! staff) to a tiny HTTP server started by the test, including a denied request and a CONNECT.
//! Both files then go through `mamori ingest --format squid` and are searched back.
//!
//! Set `MAMORI_CAPTURE_DIR=DIR` to keep the two access logs (that is how
//! crates/sources/tests/fixtures/squid/ was produced).

mod common;

use common::{mamori, run_ok};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
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

/// Stops squid when dropped (SIGTERM; `shutdown_lifetime 0` makes it exit at once).
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

/// A minimal HTTP/1.1 origin: 200 with a body for any path except `/missing` (404).
fn origin_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut first = String::new();
                if r.read_line(&mut first).is_err() {
                    return;
                }
                let mut len = 0usize;
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0u8; len];
                let _ = std::io::Read::read_exact(&mut r, &mut body);
                let (status, text) = if first.contains("/missing") {
                    ("404 Not Found", "no")
                } else {
                    ("200 OK", "住民記録の一覧 (test page)\n")
                };
                let mut s = s;
                let _ = write!(
                    s,
                    "HTTP/1.1 {status}\r\nContent-Type: text/csv; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
            });
        }
    });
    port
}

fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "squid did not listen on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn curl(proxy: u16, user: &str, args: &[&str]) -> String {
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "10",
            "-x",
            &format!("http://127.0.0.1:{proxy}"),
            "-U",
            user,
        ])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn search(data: &Path, args: &[&str]) -> Vec<Value> {
    let out = run_ok(
        mamori()
            .args(["search", "--json", "--data"])
            .arg(data)
            .args(args),
    );
    // Each hit is {"id": …, "event": DOC}.
    out.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].clone())
        .collect()
}

#[test]
fn real_squid_native_and_combined_logs_become_web_events() {
    let squid =
        which("squid").expect("squid is not installed: run ./scripts/test.sh, which installs it");
    which("curl").expect("curl is needed");
    which("openssl").expect("openssl is needed to hash the proxy password");
    assert!(
        Command::new("id")
            .arg("-u")
            .output()
            .unwrap()
            .stdout
            .starts_with(b"0\n"),
        "squid must be started as root here (it drops to user proxy), as scripts/test.sh runs the tests"
    );

    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    // squid drops to user `proxy` before opening its logs.
    std::fs::set_permissions(t, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let hash = Command::new("openssl")
        .args(["passwd", "-apr1", "Juki-Proxy-1"])
        .output()
        .unwrap();
    std::fs::write(
        t.join("passwd"),
        format!("tanaka.k:{}", String::from_utf8_lossy(&hash.stdout)),
    )
    .unwrap();
    let port = free_tcp_port();
    let web = origin_server();
    let conf = format!(
        "http_port 127.0.0.1:{port}\n\
         pid_filename {t}/squid.pid\n\
         cache_log {t}/cache.log\n\
         cache deny all\n\
         cache_mem 8 MB\n\
         coredump_dir {t}\n\
         netdb_filename none\n\
         shutdown_lifetime 0 seconds\n\
         cache_effective_user proxy\n\
         logformat combined %>a %[ui %[un [%tl] \"%rm %ru HTTP/%rv\" %>Hs %<st \"%{{Referer}}>h\" \"%{{User-Agent}}>h\" %Ss:%Sh\n\
         access_log stdio:{t}/access.log squid\n\
         access_log stdio:{t}/combined.log combined\n\
         auth_param basic program /usr/lib/squid/basic_ncsa_auth {t}/passwd\n\
         auth_param basic realm mamori-test\n\
         acl staff proxy_auth REQUIRED\n\
         http_access allow staff\n\
         http_access deny all\n",
        t = t.display()
    );
    std::fs::write(t.join("squid.conf"), conf).unwrap();
    let child = Command::new(&squid)
        .args(["-N", "-f"])
        .arg(t.join("squid.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = Guard(child);
    wait_port(port);

    let base = format!("http://127.0.0.1:{web}");
    assert_eq!(
        curl(
            port,
            "tanaka.k:Juki-Proxy-1",
            &[&format!("{base}/juki/list.csv?page=2")]
        ),
        "200"
    );
    assert_eq!(
        curl(
            port,
            "tanaka.k:Juki-Proxy-1",
            &[
                "-A",
                "Mozilla/5.0 (mamori test)",
                "-e",
                "http://intranet.example/",
                &format!("{base}/missing")
            ]
        ),
        "404"
    );
    assert_eq!(
        curl(
            port,
            "tanaka.k:Juki-Proxy-1",
            &["-d", "name=住民", &format!("{base}/upload")]
        ),
        "200"
    );
    assert_eq!(
        curl(
            port,
            "tanaka.k:wrong-password",
            &[&format!("{base}/secret")]
        ),
        "407"
    );
    // CONNECT to the plain-HTTP origin: the tunnel opens (200), TLS then fails, as expected.
    let _ = curl(
        port,
        "tanaka.k:Juki-Proxy-1",
        &["-k", &format!("https://127.0.0.1:{web}/")],
    );
    drop(guard);

    let access = t.join("access.log");
    let combined = t.join("combined.log");
    if let Ok(dir) = std::env::var("MAMORI_CAPTURE_DIR") {
        std::fs::copy(&access, Path::new(&dir).join("access_native.log")).unwrap();
        std::fs::copy(&combined, Path::new(&dir).join("access_combined.log")).unwrap();
    }
    let native_text = std::fs::read_to_string(&access).unwrap();
    // 6 lines: the five requests, and first the test's own port probe (a connection closed
    // before any request: `NONE_NONE/000 … error:transaction-end-before-headers`).
    assert_eq!(native_text.lines().count(), 6, "{native_text}");

    // A damaged copy: one garbage line in the middle must not stop the rest.
    let mut damaged = native_text.lines().take(2).collect::<Vec<_>>().join("\n");
    damaged.push_str("\ngarbage-line-without-squid-shape 住民\n");
    damaged.push_str(&native_text.lines().skip(2).collect::<Vec<_>>().join("\n"));
    damaged.push('\n');
    let damaged_path = t.join("damaged.log");
    std::fs::write(&damaged_path, damaged).unwrap();

    let data = t.join("data");
    run_ok(mamori().args(["init", "--data"]).arg(&data));
    let out = run_ok(
        mamori()
            .args(["ingest", "--format", "squid", "--data"])
            .arg(&data)
            .arg(&access)
            .arg(&combined)
            .arg(&damaged_path),
    );
    assert!(out.contains("access.log: 取込 6 件"), "{out}");
    assert!(out.contains("combined.log: 取込 6 件"), "{out}");
    assert!(out.contains("damaged.log: 取込 7 件"), "{out}");

    let all = search(&data, &["--user", "tanaka.k", "--limit", "100"]);
    assert_eq!(all.len(), 15, "{all:#?}");
    for fmt in ["native", "combined"] {
        let docs: Vec<&Value> = all
            .iter()
            .filter(|d| d["mamori"]["squid"]["format"] == fmt)
            .collect();
        assert!(!docs.is_empty(), "{fmt}");
        let get = docs
            .iter()
            .find(|d| d["url"]["path"] == "/juki/list.csv")
            .unwrap_or_else(|| panic!("{fmt}: no GET of list.csv: {docs:#?}"));
        assert_eq!(get["http"]["request"]["method"], "GET");
        assert_eq!(get["http"]["response"]["status_code"], 200);
        assert_eq!(get["source"]["ip"], "127.0.0.1");
        assert_eq!(get["url"]["domain"], "127.0.0.1");
        assert_eq!(get["url"]["port"], web);
        assert_eq!(get["mamori"]["squid"]["result_code"], "TCP_MISS/200");
        assert_eq!(get["mamori"]["squid"]["hierarchy"], "HIER_DIRECT");
        assert!(get["http"]["response"]["bytes"].as_u64().unwrap() > 0);
        let denied = docs
            .iter()
            .find(|d| d["http"]["response"]["status_code"] == 407)
            .expect("407");
        assert_eq!(denied["mamori"]["squid"]["cache_result"], "TCP_DENIED");
        assert_eq!(denied["event"]["outcome"], "failure");
        assert!(
            denied["event"]["type"]
                .as_array()
                .unwrap()
                .contains(&"denied".into())
        );
        let tunnel = docs
            .iter()
            .find(|d| d["event"]["action"] == "web-tunnel")
            .expect("CONNECT");
        assert_eq!(tunnel["http"]["request"]["method"], "CONNECT");
        assert_eq!(tunnel["destination"]["port"], web);
        assert_eq!(tunnel["mamori"]["squid"]["cache_result"], "TCP_TUNNEL");
        let post = docs
            .iter()
            .find(|d| d["http"]["request"]["method"] == "POST")
            .expect("POST");
        assert_eq!(post["url"]["path"], "/upload");
    }
    let native_get = all
        .iter()
        .find(|d| {
            d["mamori"]["squid"]["format"] == "native" && d["url"]["path"] == "/juki/list.csv"
        })
        .unwrap();
    assert_eq!(native_get["http"]["response"]["mime_type"], "text/csv");
    let probes = search(&data, &["--action", "web-error"]);
    assert_eq!(
        probes.len(),
        3,
        "the port probe line, in each file: {probes:#?}"
    );
    assert_eq!(
        probes[0]["mamori"]["squid"]["error"],
        "transaction-end-before-headers"
    );
    assert!(native_get["event"].get("duration").is_some());
    let combined_404 = all
        .iter()
        .find(|d| {
            d["mamori"]["squid"]["format"] == "combined"
                && d["http"]["response"]["status_code"] == 404
        })
        .unwrap();
    assert_eq!(
        combined_404["user_agent"]["original"],
        "Mozilla/5.0 (mamori test)"
    );
    assert_eq!(
        combined_404["http"]["request"]["referrer"],
        "http://intranet.example/"
    );

    // The garbage line: kept, searchable, with an error naming its line.
    let raw = search(&data, &["--q", "garbage-line-without-squid-shape"]);
    assert_eq!(raw.len(), 1, "{raw:#?}");
    assert_eq!(raw[0]["mamori"]["squid"]["unparsed"], true);
    assert_eq!(raw[0]["mamori"]["parse_error"]["line"], 3);
    let offset = native_text
        .lines()
        .take(2)
        .map(|l| l.len() + 1)
        .sum::<usize>();
    assert!(
        raw[0]["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("line 3 (byte {offset}), column 1: ")),
        "{}",
        raw[0]["error"]["message"]
    );
}
