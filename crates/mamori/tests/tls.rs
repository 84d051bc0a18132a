//! TLS: HTTPS for the API (checked with curl against our CA) and syslog over TLS (RFC 5425)
//! from a real rsyslogd using its GnuTLS network stream driver.

mod common;

use common::{Server, mamori};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn curl(args: &[&str]) -> (bool, String) {
    let out = Command::new("curl").args(["-sS", "--max-time", "5"]).args(args).output().expect("curl is installed by scripts/test.sh");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

#[test]
fn https_api_and_syslog_over_tls_from_rsyslog() {
    let rsyslogd = ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"].into_iter().find(|p| Path::new(p).exists()).expect("rsyslogd missing: run ./scripts/test.sh");
    assert!(Path::new("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so").exists() || Command::new("sh").args(["-c", "ls /usr/lib/*/rsyslog/lmnsd_gtls.so"]).status().unwrap().success(), "rsyslog-gnutls missing: run ./scripts/test.sh");
    let tmp = tempfile::tempdir().unwrap();
    // A private CA and a server certificate for localhost / 127.0.0.1.
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "mamori test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let (ca_pem, cert_pem, key_pem) = (tmp.path().join("ca.pem"), tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    std::fs::write(&ca_pem, ca.pem()).unwrap();
    std::fs::write(&cert_pem, cert.pem()).unwrap();
    std::fs::write(&key_pem, key.serialize_pem()).unwrap();

    let data = tmp.path().join("data");
    assert!(mamori().args(["init", "--data"]).arg(&data).output().unwrap().status.success());
    let out = mamori().args(["token", "--name", "aud", "--role", "auditor", "--data"]).arg(&data).output().unwrap();
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let srv = Server::start(
        &data,
        &["--listen", "127.0.0.1:0", "--syslog-tls", "127.0.0.1:0", "--tls-cert", cert_pem.to_str().unwrap(), "--tls-key", key_pem.to_str().unwrap()],
    );
    let base = srv.http.clone();
    assert!(base.starts_with("https://"), "server announces https: {base}");
    let tls_addr = srv.syslog_tls.clone();
    let tls_port = tls_addr.unwrap().rsplit_once(':').unwrap().1.to_owned();

    // HTTPS works with our CA, and is refused without it; plain HTTP gets no answer.
    let ca_s = ca_pem.to_str().unwrap();
    let (ok, body) = curl(&["--cacert", ca_s, &format!("{base}/checkpoint")]);
    assert!(ok, "{body}");
    assert!(body.starts_with("mamori.example.lg.jp/audit\n"), "{body}");
    let (ok, _) = curl(&[&format!("{base}/checkpoint")]);
    assert!(!ok, "a certificate from an unknown CA must not be accepted by default");
    let (ok, _) = curl(&[&format!("{}/checkpoint", base.replace("https://", "http://"))]);
    assert!(!ok, "plain HTTP must not be served on the TLS port");

    // rsyslog: logger → imudp → omfwd over TLS (gtls, x509/name) → mamori.
    let udp_port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let conf = tmp.path().join("rsyslog.conf");
    std::fs::write(
        &conf,
        format!(
            r#"global(workDirectory="{}" DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile="{ca_s}")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="{udp_port}")
action(type="omfwd" target="127.0.0.1" port="{tls_port}" protocol="tcp" TCP_Framing="octet-counted" StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="localhost" template="RSYSLOG_SyslogProtocol23Format")
"#,
            work.display()
        ),
    )
    .unwrap();
    let rs = Kill(Command::new(rsyslogd).args(["-n", "-f"]).arg(&conf).arg("-i").arg(tmp.path().join("rs.pid")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap());
    let marker = format!("tls-e2e-{}", std::process::id());
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut found = String::new();
    while Instant::now() < deadline {
        assert!(Command::new("logger").args(["-n", "127.0.0.1", "-P", &udp_port.to_string(), "-d", "-t", "zeimu", &format!("{marker} 課税台帳 閲覧")]).status().unwrap().success());
        std::thread::sleep(Duration::from_millis(700));
        let (ok, body) = curl(&["--cacert", ca_s, "-H", &format!("Authorization: Bearer {token}"), &format!("{base}/api/v1/events?q={marker}")]);
        assert!(ok, "{body}");
        if body.contains("syslog-tls") || body.contains("\"zeimu\"") {
            found = body;
            break;
        }
    }
    drop(rs);
    assert!(found.contains("課税台帳"), "no event arrived over syslog TLS: {found}");
    let v: serde_json::Value = serde_json::from_str(&found).unwrap();
    assert_eq!(v["events"][0]["event"]["process"]["name"], "zeimu");
    drop(srv);
}
