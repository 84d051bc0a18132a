//! Source health (Ikeda: nobody noticed the logs had stopped): a server with a short silence
//! threshold, two live sources (syslog over TCP, a Winlogbeat-like NDJSON shipper), one stops;
//! its `source-silent` event appears in the ledger and `GET /api/v1/sources` shows it; when it
//! sends again `source-resumed` follows; a Windows log-cleared event raises `source-log-cleared`;
//! the state is rebuilt from the ledger after a restart. Waits are bounded polls; nothing here
//! asserts how fast anything happens.

mod common;

use common::{Server, mamori, run_ok};
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

const SYSLOG_SOURCE: &str = "syslog:fs01/smbd_audit";
const AGENT_SOURCE: &str = "agent:winlogbeat/PC-B";

fn edit_config(data: &Path, from: &str, to: &str) {
    let p = data.join("config.toml");
    let c = std::fs::read_to_string(&p).unwrap();
    assert!(c.contains(from), "{from:?} not in {c}");
    std::fs::write(&p, c.replace(from, to)).unwrap();
}

fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Client {
    c: reqwest::blocking::Client,
    http: String,
    ingest: String,
    officer: String,
}

impl Client {
    fn agent_event(&self, extra: Value) -> u64 {
        let mut doc = json!({"agent": {"type": "winlogbeat", "name": "PC-B"}, "host": {"name": "PC-B"}, "message": "logon", "event": {"code": "4624"}});
        if let (Some(d), Some(e)) = (doc.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                d.insert(k.clone(), v.clone());
            }
        }
        let r: Value = self.c.post(format!("{}/api/v1/events", self.http)).bearer_auth(&self.ingest).body(doc.to_string() + "\n").send().unwrap().json().unwrap();
        r["items"][0]["id"].as_u64().unwrap()
    }
    fn sources(&self) -> Value {
        self.c.get(format!("{}/api/v1/sources", self.http)).bearer_auth(&self.officer).send().unwrap().json().unwrap()
    }
    fn source(&self, key: &str) -> Option<Value> {
        self.sources()["sources"].as_array()?.iter().find(|s| s["source"] == key).cloned()
    }
    fn health_events(&self, action: &str, source: &str) -> Vec<Value> {
        let v: Value = self.c.get(format!("{}/api/v1/events", self.http)).query(&[("action", action)]).bearer_auth(&self.officer).send().unwrap().json().unwrap();
        v["events"].as_array().cloned().unwrap_or_default().into_iter().filter(|e| e["event"]["mamori"]["source_health"]["source"] == source).collect()
    }
}

fn syslog_line(tcp: &mut std::net::TcpStream, i: usize) {
    let line = format!("<173>1 2026-04-01T09:00:{:02}+09:00 fs01 smbd_audit - - - tanaka|10.0.0.5|pc01|juki|/srv/juki|openat|ok|r|台帳{i}.txt\n", i % 60);
    tcp.write_all(line.as_bytes()).unwrap();
    tcp.flush().unwrap();
}

#[test]
fn ikeda_a_source_that_falls_silent_is_itself_an_event() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    run_ok(mamori().args(["init", "--data"]).arg(&data));
    edit_config(&data, "silent_after_seconds = 3600", "silent_after_seconds = 3");
    edit_config(&data, "check_interval_ms = 5000", "check_interval_ms = 200");
    let ingest = run_ok(mamori().args(["token", "--name", "shipper", "--role", "ingest", "--data"]).arg(&data)).trim().to_owned();
    let officer = run_ok(mamori().args(["token", "--name", "officer", "--role", "officer", "--data"]).arg(&data)).trim().to_owned();
    let srv = Server::start(&data, &["--listen", "127.0.0.1:0", "--syslog-tcp", "127.0.0.1:0"]);
    let cl = Client { c: reqwest::blocking::Client::new(), http: srv.http.clone(), ingest, officer };
    let mut tcp = std::net::TcpStream::connect(srv.syslog_tcp.as_ref().unwrap()).unwrap();

    // Both sources send a few times, so both are watched.
    for i in 0..4 {
        syslog_line(&mut tcp, i);
        cl.agent_event(json!({}));
        std::thread::sleep(Duration::from_millis(300));
    }
    let s = poll("both sources watched", || {
        let a = cl.source(SYSLOG_SOURCE)?;
        let b = cl.source(AGENT_SOURCE)?;
        (a["status"] == "ok" && b["status"] == "ok" && a["events"].as_u64()? >= 4).then_some(a)
    });
    assert_eq!(s["silent_after_seconds"].as_f64(), Some(3.0), "{s}");

    // The syslog source stops; the shipper goes on.
    drop(tcp);
    let silent = poll("source-silent for the syslog source", || {
        cl.agent_event(json!({}));
        let e = cl.health_events("source-silent", SYSLOG_SOURCE);
        (!e.is_empty()).then_some(e)
    });
    assert_eq!(silent.len(), 1, "announced once: {silent:?}");
    let ev = &silent[0]["event"];
    assert_eq!(ev["event"]["dataset"], "mamori.source_health");
    assert_eq!(ev["event"]["kind"], "alert");
    assert!(ev["mamori"]["source_health"]["silent_seconds"].as_f64().unwrap() > 3.0);
    assert!(ev["message"].as_str().unwrap().contains("途絶"));
    let a = cl.source(SYSLOG_SOURCE).unwrap();
    assert_eq!(a["status"], "silent", "{a}");
    assert!(a["silent_since"].is_string());
    let metrics = cl.c.get(format!("{}/metrics", cl.http)).bearer_auth(&cl.officer).send().unwrap().text().unwrap();
    assert!(metrics.contains(&format!("mamori_source_silent{{source=\"{SYSLOG_SOURCE}\"}} 1")), "{metrics}");
    assert!(metrics.contains(&format!("mamori_source_events_total{{source=\"{AGENT_SOURCE}\"}}")));

    // It comes back.
    let mut tcp = std::net::TcpStream::connect(srv.syslog_tcp.as_ref().unwrap()).unwrap();
    syslog_line(&mut tcp, 99);
    let resumed = poll("source-resumed", || {
        let e = cl.health_events("source-resumed", SYSLOG_SOURCE);
        (!e.is_empty()).then_some(e)
    });
    assert_eq!(resumed[0]["event"]["event"]["kind"], "event");
    poll("status back to ok", || (cl.source(SYSLOG_SOURCE)?["status"] == "ok").then_some(()));

    // Windows: the Security log was cleared (1102) — a health signal of its own.
    let cleared = cl.agent_event(json!({"event": {"code": "1102"}, "winlog": {"provider_name": "Microsoft-Windows-Eventlog", "channel": "Security"}}));
    let e = poll("source-log-cleared", || {
        let e = cl.health_events("source-log-cleared", AGENT_SOURCE);
        (!e.is_empty()).then_some(e)
    });
    assert_eq!(e[0]["event"]["mamori"]["source_health"]["trigger_id"], cleared);
    assert_eq!(cl.source(AGENT_SOURCE).unwrap()["last_log_cleared"]["id"], cleared);

    // Rebuilt from the ledger on restart: same counts, nothing announced twice.
    drop(tcp);
    // (the follower has seen the shipper's last event, the log-cleared one)
    let before = poll("counts settle", || {
        let b = cl.source(AGENT_SOURCE)?;
        if b["last_event_id"] != cleared {
            return None;
        }
        b["events"].as_u64()
    });
    srv.stop();
    let srv = Server::start(&data, &["--listen", "127.0.0.1:0"]);
    let cl = Client { http: srv.http.clone(), ..cl };
    let after = poll("replay done", || {
        let v = cl.sources();
        if v["replaying"] != false {
            return None;
        }
        let b = v["sources"].as_array()?.iter().find(|s| s["source"] == AGENT_SOURCE)?.clone();
        b["events"].as_u64()
    });
    assert_eq!(after, before);
    assert_eq!(cl.health_events("source-resumed", SYSLOG_SOURCE).len(), 1);
    assert_eq!(cl.health_events("source-log-cleared", AGENT_SOURCE).len(), 1);
    srv.stop();
    run_ok(mamori().args(["verify", "--data"]).arg(&data));
}
