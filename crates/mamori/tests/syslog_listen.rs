//! `mamori serve` with a syslog port that another program holds: it does not start, and says
//! which listener (protocol, address) and why ("port in use"), Japanese first — the typed error
//! of `mamori_server::syslog::bind_and_serve`, which binds the single-city listeners.

mod common;

use common::*;

#[test]
fn serve_refuses_a_taken_syslog_port_naming_protocol_and_address() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    run_ok(mamori().args(["init", "--data"]).arg(&data));
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = held.local_addr().unwrap().to_string();
    let out = mamori()
        .args(["serve", "--data"])
        .arg(&data)
        .args(["--listen", "127.0.0.1:0", "--syslog-udp", "127.0.0.1:0", "--syslog-tcp", &taken])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success(), "serve started although {taken} is taken");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!stdout.contains("listening on"), "{stdout}");
    let want = format!("エラー / error: syslog TCP の受信口 {taken} を開けません(ポートは使用中です");
    assert!(stderr.contains(&want), "{want:?} missing in: {stderr}");
    assert!(stderr.contains(&format!("cannot bind the syslog TCP listener {taken} (port in use")), "{stderr}");
    // The OS error once, not repeated by the error chain.
    assert_eq!(stderr.matches("os error").count(), 1, "{stderr}");
    drop(held);
}
