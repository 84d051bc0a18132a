//! `mamori ingest`: files of ECS NDJSON and of syslog lines, into a data directory and to a
//! running server (`--server`), with per-line errors that name the line, and the bad lines kept
//! in quarantine.

mod common;

use common::{Server, mamori, run_ok};

const SYSLOG: &str = "<86>Apr  1 09:15:02 fs01 sshd[4721]: Accepted password for tanaka.k from 10.1.2.3 port 50122 ssh2\n\
<999>broken priority\n\
<134>1 2026-04-01T09:16:00.123+09:00 fs01 smbd 77 - - 住民基本台帳 を開きました\n\
<13>Apr  1 09:17:00 fs01 app: no trailing newline";

#[test]
fn ingest_files_into_a_data_dir_and_to_a_server() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    run_ok(mamori().args(["init", "--data"]).arg(&data));
    let syslog = tmp.path().join("messages.log");
    std::fs::write(&syslog, SYSLOG).unwrap();
    let ndjson = tmp.path().join("events.ndjson");
    std::fs::write(&ndjson, "{\"message\":\"ok one\",\"user\":{\"name\":\"sato.y\"}}\n{\"user\":{\"name\":7}}\n").unwrap();

    // Into the data directory.
    let out = mamori().args(["ingest", "--format", "syslog", "--data"]).arg(&data).arg(&syslog).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("accepted 3") && stdout.contains("quarantined 1"), "{stdout}");
    assert!(stderr.contains("line 2:") && stderr.contains("999"), "the error names the line: {stderr}");
    let found = run_ok(mamori().args(["search", "--json", "--q", "Accepted password", "--data"]).arg(&data));
    let v: serde_json::Value = serde_json::from_str(found.lines().next().expect("one hit")).unwrap();
    // RFC 3164 has no zone: the configured +09:00 applies (09:15:02 JST = 00:15:02 UTC).
    assert!(v["event"]["@timestamp"].as_str().unwrap().contains("T00:15:02"), "{v}");
    assert_eq!(v["event"]["process"]["name"], "sshd");
    let q = run_ok(mamori().args(["search", "--json", "--kind", "quarantine", "--data"]).arg(&data));
    assert!(q.contains("broken priority") || q.contains("PRI value 999"), "{q}");

    // To a running server, both formats.
    let ingest = run_ok(mamori().args(["token", "--name", "cli", "--role", "ingest", "--data"]).arg(&data)).trim().to_owned();
    let srv = Server::start(&data, &["--listen", "127.0.0.1:0"]);
    for (fmt, file, accepted, rejected) in [("syslog", &syslog, 3, 1), ("ecs-ndjson", &ndjson, 1, 1)] {
        let out = mamori().args(["ingest", "--format", fmt, "--server", &srv.http, "--token", &ingest]).arg(file).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(&format!("accepted {accepted},")) && stdout.contains(&format!("quarantined {rejected}")), "{fmt}: {stdout}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("line 2:"), "{fmt}");
    }
    // A wrong token is refused with the server's message.
    let out = mamori().args(["ingest", "--format", "syslog", "--server", &srv.http, "--token", "nope"]).arg(&syslog).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
    srv.stop();
    let out = run_ok(mamori().args(["verify", "--data"]).arg(&data));
    assert!(out.contains("verified"), "{out}");
}
