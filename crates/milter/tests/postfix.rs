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
use std::process::Command;
use std::sync::{Arc, Mutex};

#[path = "support/postfix.rs"]
mod support;
use support::{Postfix, available, swaks, wait_for};

struct Events(Mutex<Vec<Value>>);

impl EventSink for Events {
    fn record(&self, doc: Value) {
        self.0.lock().unwrap().push(doc);
    }
}


fn start_milter(inspectors: Vec<Box<dyn Inspector>>, events: Arc<Events>) -> (u16, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Port 0: the kernel picks a free port atomically (probing first raced with parallel tests).
    let listener = rt.block_on(tokio::net::TcpListener::bind(("127.0.0.1", 0))).unwrap();
    let port = listener.local_addr().unwrap().port();
    rt.spawn(mamori_milter::run(listener, Config { inspectors, sink: events }, std::future::pending::<()>()));
    (port, rt)
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
