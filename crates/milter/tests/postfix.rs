//! The milter behind a real Postfix (Debian `postfix`, private config and queue directories
//! under a temp dir, SMTP and milter on 127.0.0.1 free ports), mail sent with `swaks`:
//! - a list carrying a canary record goes on hold and raises an alert naming the export and
//!   the recipient it was made for;
//! - the same list without the canary passes, with no alert;
//! - the personal-data hook holds a list to an external domain unless a takeout approves it.
//!
//! Needs root (Postfix's master drops privileges to `postfix`); skipped with a message when the
//! programs are missing.

use mamori_milter::{CanaryInspector, Config, EventSink, Inspector, PiiFinding, PiiInspector, Verdict};
use mamori_trace::canary::{self, CanaryPlace};
use mamori_trace::synth::{export_csv, population};
use mamori_trace::{CanaryMeta, FingerprintKey};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Postfix {
    dir: PathBuf,
    smtp: u16,
}

impl Postfix {
    fn start(root: &Path, milter_port: u16) -> Postfix {
        let smtp = free_port();
        let dir = root.join("etc");
        std::fs::create_dir_all(&dir).unwrap();
        let main = format!(
            "compatibility_level = 3.6\n\
             queue_directory = {q}\n\
             data_directory = {d}\n\
             meta_directory = /etc/postfix\n\
             command_directory = /usr/sbin\n\
             daemon_directory = /usr/lib/postfix/sbin\n\
             shlib_directory = no\n\
             mail_owner = postfix\n\
             setgid_group = postdrop\n\
             myhostname = mamori-test.example.lg.jp\n\
             mydomain = example.lg.jp\n\
             myorigin = $myhostname\n\
             mydestination =\n\
             inet_interfaces = 127.0.0.1\n\
             inet_protocols = ipv4\n\
             mynetworks = 127.0.0.0/8\n\
             smtpd_relay_restrictions = permit_mynetworks, reject\n\
             default_transport = discard:\n\
             relay_transport = discard:\n\
             smtpd_milters = inet:127.0.0.1:{milter_port}\n\
             milter_default_action = tempfail\n\
             maillog_file = {log}\n\
             maillog_file_prefixes = {root}\n\
             alias_maps =\n\
             alias_database =\n\
             biff = no\n",
            q = root.join("queue").display(),
            d = root.join("data").display(),
            log = root.join("maillog").display(),
            root = root.display(),
        );
        // Postfix's daemons run as `postfix` and must reach the queue under the temp dir.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.join("main.cf"), main).unwrap();
        let services = [
            "pickup unix n - n 60 1 pickup",
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "rewrite unix - - n - - trivial-rewrite",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
            "verify unix - - n - 1 verify",
            "flush unix n - n 1000? 0 flush",
            "proxymap unix - - n - - proxymap",
            "showq unix n - n - - showq",
            "error unix - - n - - error",
            "retry unix - - n - - error",
            "discard unix - - n - - discard",
            "anvil unix - - n - 1 anvil",
            "scache unix - - n - 1 scache",
            "postlog unix-dgram n - n - 1 postlogd",
        ];
        let master = format!("127.0.0.1:{smtp} inet n - n - - smtpd\n{}\n", services.join("\n"));
        std::fs::write(dir.join("master.cf"), master).unwrap();
        for d in ["queue", "data"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let st = Command::new("chown").args(["postfix:postfix"]).arg(root.join("data")).status().unwrap();
        assert!(st.success());
        let out = Command::new("/usr/sbin/postfix").arg("-c").arg(&dir).arg("start").output().unwrap();
        assert!(out.status.success(), "postfix start: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let pf = Postfix { dir, smtp };
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", smtp)).is_err() {
            assert!(t0.elapsed() < Duration::from_secs(20), "postfix smtpd did not listen on {smtp}");
            std::thread::sleep(Duration::from_millis(100));
        }
        pf
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.parent().unwrap().join("maillog")).unwrap_or_default()
    }

    /// Queue names of the messages in the queue (`postqueue -j`).
    fn queue(&self) -> Vec<Value> {
        let out = Command::new("/usr/sbin/postqueue").arg("-c").arg(&self.dir).arg("-j").output().unwrap();
        String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new("/usr/sbin/postfix").arg("-c").arg(&self.dir).arg("stop").output();
    }
}

struct Events(Mutex<Vec<Value>>);

impl EventSink for Events {
    fn record(&self, doc: Value) {
        self.0.lock().unwrap().push(doc);
    }
}

fn swaks(port: u16, to: &str, attachment: &Path, name: &str) -> std::process::Output {
    Command::new("swaks")
        .args(["--server", &format!("127.0.0.1:{port}"), "--from", "tanaka.k@city.example.lg.jp", "--to", to])
        .args(["--header", "Subject: list", "--body", "see attached"])
        .args(["--attach-type", "text/csv", "--attach-name", name, "--attach"])
        .arg(format!("@{}", attachment.display()))
        .output()
        .unwrap()
}

fn available() -> bool {
    let have = |p: &str| Command::new("sh").args(["-c", &format!("command -v {p}")]).output().is_ok_and(|o| o.status.success());
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !(have("swaks") && Path::new("/usr/sbin/postfix").exists() && root) {
        eprintln!("SKIP: needs root, postfix and swaks (scripts/test.sh installs them)");
        return false;
    }
    true
}

fn start_milter(inspectors: Vec<Box<dyn Inspector>>, events: Arc<Events>) -> (u16, tokio::runtime::Runtime) {
    let port = free_port();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind(("127.0.0.1", port))).unwrap();
    rt.spawn(mamori_milter::run(listener, Config { inspectors, sink: events }, std::future::pending::<()>()));
    (port, rt)
}

fn wait_for(mut f: impl FnMut() -> bool, what: &str) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn canary_list_mailed_through_postfix_is_held_and_names_the_export() {
    if !available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let key = FingerprintKey::new(b"installation key of the test city");
    let place = CanaryPlace::default();
    let canaries = canary::make(&key, "住民一覧-2026-04-01", "委託先B社", 2, &place);
    let metas: Vec<CanaryMeta> = canaries
        .iter()
        .enumerate()
        .map(|(i, r)| CanaryMeta { canary_id: format!("canary-{i}"), export: "住民一覧-2026-04-01".into(), recipient: "委託先B社".into(), ledger_id: 42, features: canary::canary_features(&key, r) })
        .collect();
    let events = Arc::new(Events(Mutex::new(Vec::new())));
    let (mport, _rt) = start_milter(vec![Box::new(CanaryInspector::new(key, metas, Verdict::Hold(String::new())))], events.clone());
    let pf = Postfix::start(tmp.path(), mport);

    let people = population(11, 200);
    let plain = tmp.path().join("plain.csv");
    std::fs::write(&plain, export_csv(&people)).unwrap();
    let mut with = people.clone();
    with.insert(120, canaries[1].clone());
    let leaked = tmp.path().join("leaked.csv");
    std::fs::write(&leaked, export_csv(&with)).unwrap();

    let out = swaks(pf.smtp, "reporter@press.example.com", &plain, "list.csv");
    assert!(out.status.success(), "swaks: {}", String::from_utf8_lossy(&out.stdout));
    assert!(events.0.lock().unwrap().is_empty(), "no canary, no alert");

    let out = swaks(pf.smtp, "reporter@press.example.com", &leaked, "list.csv");
    assert!(out.status.success(), "swaks: {}", String::from_utf8_lossy(&out.stdout));
    let ev = events.0.lock().unwrap().clone();
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["event"]["action"], "canary-sighted");
    assert_eq!(ev[0]["mamori"]["canary"]["export"], "住民一覧-2026-04-01");
    assert_eq!(ev[0]["mamori"]["canary"]["recipient"], "委託先B社");
    assert_eq!(ev[0]["email"]["to"]["address"][0], "reporter@press.example.com");
    assert!(ev[0]["mamori"]["canary"]["location"].as_str().unwrap().starts_with("list.csv"));
    // Postfix put it on hold, with the milter's reason.
    wait_for(|| pf.log().contains("milter-hold"), "milter-hold in the Postfix log");
    wait_for(|| pf.queue().iter().any(|m| m["queue_name"] == "hold"), "a held message");
    let held: Vec<Value> = pf.queue().into_iter().filter(|m| m["queue_name"] == "hold").collect();
    assert_eq!(held.len(), 1);
    // The held message carries the milter's header naming the export (postcat reads the queue file).
    let id = held[0]["queue_id"].as_str().unwrap();
    let cat = Command::new("/usr/sbin/postcat").arg("-c").arg(&pf.dir).args(["-h", "-q", id]).output().unwrap();
    let cat = String::from_utf8_lossy(&cat.stdout);
    assert!(cat.contains("X-Mamori-Alert: mamori canary record of export"), "{cat}");
    assert!(pf.log().contains(&format!("{id}: milter-hold")), "{}", pf.log());
}

#[test]
fn pii_hook_holds_external_mail_unless_a_takeout_approves() {
    if !available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // The scanner plugged in: the trace crate's own record reader stands in until mamori-pii
    // offers scan_bytes; every usable resident record is a `person_name` finding.
    let scan = Box::new(|name: &str, bytes: &[u8]| -> Vec<PiiFinding> {
        mamori_trace::read_list(name, bytes)
            .map(|l| l.records.into_iter().map(|r| PiiFinding { kind: "person_name".into(), location: r.location, confidence: 0.9 }).collect())
            .unwrap_or_default()
    });
    let approved = Box::new(|m: &mamori_milter::MailInfo| m.subject.as_deref().is_some_and(|s| s.contains("持出し承認")));
    let pii = PiiInspector { scan, internal_domains: vec!["city.example.lg.jp".into()], approved, min_confidence: 0.5, action: Verdict::Hold(String::new()) };
    let events = Arc::new(Events(Mutex::new(Vec::new())));
    let (mport, _rt) = start_milter(vec![Box::new(pii)], events.clone());
    let pf = Postfix::start(tmp.path(), mport);
    let list = tmp.path().join("list.csv");
    std::fs::write(&list, export_csv(&population(5, 30))).unwrap();

    assert!(swaks(pf.smtp, "kaigo@city.example.lg.jp", &list, "list.csv").status.success());
    assert!(events.0.lock().unwrap().is_empty(), "internal mail is not held");
    assert!(swaks(pf.smtp, "vendor@itaku.example.com", &list, "list.csv").status.success());
    wait_for(|| pf.queue().iter().any(|m| m["queue_name"] == "hold"), "the external mail held");
    let ev = events.0.lock().unwrap().clone();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["event"]["action"], "pii-mail-held");
    assert_eq!(ev[0]["mamori"]["pii"]["findings"].as_array().unwrap().len(), 30);
}
