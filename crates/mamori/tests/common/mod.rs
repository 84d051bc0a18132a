//! Running the real `mamori` binary in tests: commands, and `mamori serve` on free loopback
//! ports, stopped (killed) when dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `mamori` binary under test.
pub fn mamori() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mamori"))
}

/// Runs a command that must succeed; returns its stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run mamori");
    assert!(out.status.success(), "{:?} failed: {}", cmd, String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A running `mamori serve`.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>` (or `https://…` with TLS).
    pub http: String,
    /// Syslog TCP address, if one was requested.
    pub syslog_tcp: Option<String>,
    /// Syslog TLS address, if one was requested.
    pub syslog_tls: Option<String>,
}

impl Server {
    /// Starts `mamori serve --data DATA ARGS…` (ARGS should bind port 0) and waits until it
    /// announces its addresses.
    pub fn start(data: &Path, args: &[&str]) -> Server {
        let mut child = mamori()
            .args(["serve", "--data"])
            .arg(data)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut http, mut syslog_tcp, mut syslog_tls) = (None, None, None);
        while http.is_none() {
            let l = lines.next().expect("server output").unwrap();
            if let Some(a) = l.strip_prefix("syslog TCP: ") {
                syslog_tcp = Some(a.trim().to_owned());
            }
            if let Some(a) = l.strip_prefix("syslog TLS: ") {
                syslog_tls = Some(a.trim().to_owned());
            }
            if l.contains("listening on") {
                let i = l.rfind("http").unwrap();
                http = Some(l[i..].split_whitespace().next().unwrap().trim_end_matches('/').to_owned());
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Server { child: Some(child), http: http.unwrap(), syslog_tcp, syslog_tls }
    }

    /// SIGTERM (graceful shutdown), then wait; panics if it does not stop within 10 s.
    pub fn stop(mut self) {
        let mut c = self.child.take().unwrap();
        let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if c.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
        panic!("server did not stop on SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A running `mamori prefecture serve` (killed on drop): its base URL and every stdout line up
/// to and including the "listening on" line.
pub struct PrefServe {
    pub child: std::process::Child,
    pub base: String,
    pub lines: Vec<String>,
}

impl PrefServe {
    pub fn start(args: &[&str]) -> PrefServe {
        let mut child = mamori()
            .args(["prefecture", "serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut it = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut lines = Vec::new();
        let base = loop {
            let l = it.next().expect("server output").unwrap();
            lines.push(l.clone());
            if l.contains("listening on") {
                let i = l.rfind("http").unwrap();
                break l[i..].split_whitespace().next().unwrap().trim_end_matches('/').to_owned();
            }
        };
        std::thread::spawn(move || for _ in it {});
        PrefServe { child, base, lines }
    }

    /// Stops it with SIGTERM and waits.
    pub fn stop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "prefecture serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for PrefServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
