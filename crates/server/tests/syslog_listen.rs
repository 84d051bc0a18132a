//! `mamori_server::syslog::bind_and_serve`, the one binding of a listener set used by the
//! single-city `mamori serve` and by the prefecture's per-city listeners (real data directory,
//! ledger, indexer and HTTP API in-process, sockets on loopback):
//! * a bound set reports its real ports and its receivers deliver into the given ingest path;
//! * a port already taken is a typed error naming the protocol, the address and the hint
//!   "port in use", and nothing of the set is left listening;
//! * syslog over TLS without a certificate is refused before anything is bound.

mod common;

use common::*;
use mamori_server::syslog::{ListenError, ListenerSet, Protocol, bind_and_serve};
use tokio::io::AsyncWriteExt;

const ORIGIN: &str = "listen.example.lg.jp/audit";

fn set(tcp: Option<&str>, udp: Option<&str>, tls: Option<&str>) -> ListenerSet {
    ListenerSet { tcp: tcp.map(str::to_owned), udp: udp.map(str::to_owned), tls: tls.map(str::to_owned) }
}

/// A loopback address whose TCP and UDP ports were free a moment ago.
fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bound_listeners_deliver_and_a_taken_port_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let admin = init(dir.path(), ORIGIN, None);
    let srv = start(dir.path()).await;

    // Port 0: the bound ports are reported, TCP then UDP.
    let bound = bind_and_serve(&srv.st, &set(Some("127.0.0.1:0"), Some("127.0.0.1:0"), None), None).await.unwrap();
    assert_eq!(bound.iter().map(|b| b.protocol).collect::<Vec<_>>(), [Protocol::Tcp, Protocol::Udp]);
    assert!(bound.iter().all(|b| b.addr.port() != 0 && b.addr.ip().is_loopback()), "{bound:?}");
    let (tcp, udp) = (bound[0].addr, bound[1].addr);

    // Their receivers feed this server's ledger and index.
    let mut s = tokio::net::TcpStream::connect(tcp).await.unwrap();
    s.write_all(b"<86>1 2026-12-03T09:00:00+09:00 fs01 sshd 1 - - listenmarktcp accepted\n").await.unwrap();
    s.shutdown().await.unwrap();
    let u = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    u.send_to(b"<86>1 2026-12-03T09:00:01+09:00 fs01 sshd 1 - - listenmarkudp accepted", udp).await.unwrap();
    for m in ["listenmarktcp", "listenmarkudp"] {
        let v = eventually(30, m, || async {
            srv.wait_indexed().await;
            let v = srv.get_ok(&format!("/api/v1/events?q={m}"), &admin).await;
            (v["events"].as_array().map_or(0, Vec::len) == 1).then_some(v)
        })
        .await;
        let doc = &v["events"][0]["event"];
        assert_eq!(doc["process"]["name"], "sshd", "parsed as RFC 5424, not quarantined: {v}");
    }

    // The TCP port is now taken: the error names protocol, address and the hint.
    let taken = tcp.to_string();
    let e = bind_and_serve(&srv.st, &set(Some(&taken), None, None), None).await.unwrap_err();
    assert!(matches!(&e, ListenError::Bind { error, .. } if error.kind() == std::io::ErrorKind::AddrInUse), "{e:?}");
    assert_eq!((e.protocol(), e.addr()), (Protocol::Tcp, taken.as_str()));
    let msg = e.to_string();
    for want in ["syslog TCP の受信口", taken.as_str(), "ポートは使用中", "cannot bind the syslog TCP listener", "port in use"] {
        assert!(msg.contains(want), "{want:?} missing in: {msg}");
    }

    // UDP taken while the TCP address is free: a UDP error, and the TCP port was let go again
    // (nothing of a failed set stays listening).
    let free_tcp = free_addr();
    let taken_udp = udp.to_string();
    let e = bind_and_serve(&srv.st, &set(Some(&free_tcp), Some(&taken_udp), None), None).await.unwrap_err();
    assert_eq!((e.protocol(), e.addr()), (Protocol::Udp, taken_udp.as_str()), "{e}");
    assert!(e.to_string().contains("syslog UDP") && e.to_string().contains("port in use"), "{e}");
    std::net::TcpListener::bind(&free_tcp).unwrap_or_else(|e| panic!("{free_tcp} still held after the failed set: {e}"));

    // Not an address: the hint says what is expected.
    let e = bind_and_serve(&srv.st, &set(Some("nowhere"), None, None), None).await.unwrap_err();
    assert_eq!(e.addr(), "nowhere");
    assert!(e.to_string().contains("IP:PORT"), "{e}");

    // TLS without a certificate: refused before anything is bound (the TCP address stays free).
    let free_tcp = free_addr();
    let e = bind_and_serve(&srv.st, &set(Some(&free_tcp), None, Some("127.0.0.1:0")), None).await.unwrap_err();
    assert!(matches!(e, ListenError::NoTlsConfig { .. }), "{e:?}");
    assert_eq!((e.protocol(), e.addr()), (Protocol::Tls, "127.0.0.1:0"));
    assert!(e.to_string().contains("証明書と秘密鍵が必要") && e.to_string().contains("needs a certificate and key"), "{e}");
    std::net::TcpListener::bind(&free_tcp).unwrap_or_else(|e| panic!("{free_tcp} bound although TLS was refused: {e}"));

    srv.stop().await;
}
