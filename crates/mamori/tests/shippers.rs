//! End to end with a real shipper: Debian's rsyslogd receives messages from `logger` and forwards
//! them to a running `mamori serve` both over syslog TCP (omfwd, RFC 5424, octet counting) and
//! over the Elasticsearch `_bulk` API (omelasticsearch). The events are queried back through the
//! API and an inclusion proof is checked with an independent implementation (tlog_tiles).

mod common;

use base64::Engine;
use common::{Server, mamori, run_ok};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn which(p: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {p}")]).output().map(|o| o.status.success()).unwrap_or(false)
}

fn get_json(client: &reqwest::blocking::Client, url: &str, token: &str) -> serde_json::Value {
    client.get(url).bearer_auth(token).send().unwrap().json().unwrap()
}

#[test]
fn rsyslog_forwards_via_syslog_and_bulk_and_events_are_provable() {
    let rsyslogd = ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"].into_iter().find(|p| Path::new(p).exists());
    let rsyslogd = rsyslogd.expect("rsyslogd is not installed: run ./scripts/test.sh, which installs rsyslog and rsyslog-elasticsearch");
    assert!(which("logger"), "logger (bsdutils) is not installed");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    run_ok(mamori().args(["init", "--origin", "test.example.lg.jp/audit", "--data"]).arg(&data));
    let ingest = run_ok(mamori().args(["token", "--name", "rsyslog", "--role", "ingest", "--data"]).arg(&data)).trim().to_owned();
    let viewer = run_ok(mamori().args(["token", "--name", "auditor", "--role", "auditor", "--data"]).arg(&data)).trim().to_owned();
    let srv = Server::start(&data, &["--listen", "127.0.0.1:0", "--syslog-tcp", "127.0.0.1:0"]);
    let (http_host, http_port) = srv.http.trim_start_matches("http://").rsplit_once(':').unwrap();
    let syslog_tcp = srv.syslog_tcp.clone().unwrap();
    let (tcp_host, tcp_port) = syslog_tcp.rsplit_once(':').unwrap();
    let udp_port = free_udp_port();
    let token_id = ingest.clone();

    let conf = tmp.path().join("rsyslog.conf");
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(
        &conf,
        format!(
            r#"global(workDirectory="{work}")
module(load="imudp")
module(load="omelasticsearch")
input(type="imudp" address="127.0.0.1" port="{udp_port}")
template(name="ecs" type="list" option.jsonf="on") {{
  property(outname="@timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="message" name="msg" format="jsonf")
  property(outname="host.name" name="hostname" format="jsonf")
  property(outname="process.name" name="programname" format="jsonf")
}}
action(type="omfwd" target="{tcp_host}" port="{tcp_port}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
action(type="omelasticsearch" server="{http_host}" serverport="{http_port}" template="ecs" searchIndex="rsyslog-test" bulkmode="on" uid="rsyslog" pwd="{token_id}" errorFile="{work}/es-errors.json")
"#,
            work = work.display()
        ),
    )
    .unwrap();
    let pid = tmp.path().join("rsyslogd.pid");
    let mut rs = Command::new(rsyslogd)
        .args(["-n", "-f"])
        .arg(&conf)
        .arg("-i")
        .arg(&pid)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));

    let marker = format!("mamori-e2e-{}", std::process::id());
    let client = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut hits = Vec::new();
    while Instant::now() < deadline {
        // Keep sending until both paths have delivered (UDP to rsyslog may race its start-up).
        let st = Command::new("logger")
            .args(["-n", "127.0.0.1", "-P", &udp_port.to_string(), "-d", "-t", "jyuki", &format!("{marker} 住民基本台帳 抽出")])
            .status()
            .unwrap();
        assert!(st.success());
        std::thread::sleep(Duration::from_millis(700));
        let v = get_json(&client, &format!("{}/api/v1/events?q={marker}&limit=100", srv.http), &viewer);
        hits = v["events"].as_array().cloned().unwrap_or_default();
        let via_bulk = hits.iter().any(|h| h["event"]["event"]["dataset"] == "rsyslog-test");
        let via_syslog = hits.iter().any(|h| h["event"]["event"]["module"] == "syslog");
        if via_bulk && via_syslog {
            break;
        }
    }
    let _ = rs.kill();
    let _ = rs.wait();
    let via_bulk: Vec<_> = hits.iter().filter(|h| h["event"]["event"]["dataset"] == "rsyslog-test").collect();
    let via_syslog: Vec<_> = hits.iter().filter(|h| h["event"]["event"]["module"] == "syslog").collect();
    assert!(!via_bulk.is_empty(), "no event arrived through omelasticsearch/_bulk: {hits:?}");
    assert!(!via_syslog.is_empty(), "no event arrived through omfwd/syslog TCP: {hits:?}");
    assert_eq!(via_syslog[0]["event"]["process"]["name"], "jyuki");
    assert!(via_bulk[0]["event"]["message"].as_str().unwrap().contains("住民基本台帳"));

    // Inclusion proof of the syslog event, checked with tlog_tiles against the checkpoint.
    let id = via_syslog[0]["id"].as_u64().unwrap();
    let mut proof = serde_json::Value::Null;
    for _ in 0..40 {
        let r = client.get(format!("{}/api/v1/events/{id}/proof", srv.http)).bearer_auth(&viewer).send().unwrap();
        if r.status().is_success() {
            proof = r.json().unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let b64 = |s: &serde_json::Value| -> tlog_tiles::Hash {
        tlog_tiles::Hash(base64::prelude::BASE64_STANDARD.decode(s.as_str().unwrap()).unwrap().try_into().unwrap())
    };
    let hashes: Vec<tlog_tiles::Hash> = proof["hashes"].as_array().unwrap().iter().map(b64).collect();
    let size = proof["tree_size"].as_u64().unwrap();
    let root = b64(&proof["root_hash"]);
    let leaf = tlog_tiles::record_hash(proof["entry"].as_str().unwrap().as_bytes());
    tlog_tiles::check_record(&hashes, size, root, id, leaf).expect("inclusion proof verifies");
    let mut bad = hashes.clone();
    if let Some(h) = bad.first_mut() {
        h.0[0] ^= 1;
        assert!(tlog_tiles::check_record(&bad, size, root, id, leaf).is_err());
    }
    // The checkpoint in the proof is signed by the log key.
    let vkey = std::fs::read_to_string(data.join("keys/log.vkey")).unwrap();
    mamori_ledger::SignedCheckpoint::verify(proof["checkpoint"].as_str().unwrap().as_bytes(), vkey.trim(), &[]).unwrap();
    // An ingest token cannot read.
    let r = client.get(format!("{}/api/v1/events", srv.http)).bearer_auth(&ingest).send().unwrap();
    assert_eq!(r.status().as_u16(), 403);
    drop(srv);
    // After the server stops, the whole log verifies from the data directory.
    let out = mamori().args(["verify", "--data"]).arg(&data).output().unwrap();
    assert!(out.status.success(), "verify failed: {}", String::from_utf8_lossy(&out.stderr));
}
