//! USB device events through the `mamori` binary: `mamori ingest --format usbguard` (USBGuard
//! audit log), `--format syslog` (kernel USB lines, correlated per device within the file) and
//! Winlogbeat documents posted to the server's `_bulk` API, which get the EVTX mapping
//! (`mamori.usb.*` from Kernel-PnP / Partition events). The inputs are the constructed fixtures
//! of crates/sources/tests/fixtures/{usbguard,usb,windows} (no USB bus and no Windows machine
//! here; their READMEs say how they were made). A malformed line in each file is quarantined
//! with its line number while the rest is ingested.

mod common;

use common::{Server, mamori, run_ok};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sources/tests/fixtures").join(rel)).unwrap()
}

fn search(data: &std::path::Path, q: &str) -> Vec<serde_json::Value> {
    run_ok(mamori().args(["search", "--json", "--limit", "200", "--q", q, "--data"]).arg(data))
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].clone())
        .collect()
}

#[test]
fn usbguard_kernel_and_winlogbeat_usb_events_are_ingested() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    run_ok(mamori().args(["init", "--data"]).arg(&data));

    // USBGuard audit log with a broken line in the middle.
    let mut ug = fixture("usbguard/usbguard-audit_1.1.2_device_events.log");
    ug.splice(0..0, b"not a usbguard line\n".iter().copied());
    let ug_file = tmp.path().join("usbguard-audit.log");
    std::fs::write(&ug_file, &ug).unwrap();
    let out = mamori().args(["ingest", "--format", "usbguard", "--data"]).arg(&data).arg(&ug_file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("accepted 5") && stdout.contains("quarantined 1"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1"), "the error names the line");

    // Kernel lines as rsyslog writes kern.log.
    let kern = tmp.path().join("kern.log");
    std::fs::write(&kern, fixture("usb/kernel_usb_rsyslog.log")).unwrap();
    let out = mamori().args(["ingest", "--format", "syslog", "--data"]).arg(&data).arg(&kern).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let hits = search(&data, "4C530001231121115322");
    let blocked = hits.iter().find(|d| d["event"]["action"] == "usb-device-blocked").expect("USBGuard block decision");
    assert_eq!(blocked["mamori"]["usb"]["vendor_id"], "0781");
    assert_eq!(blocked["mamori"]["usb"]["via_port"], "1-1");
    // The disk line does not name the serial: it comes from the device's earlier lines.
    let disk_lines = search(&data, "Attached SCSI removable disk");
    let attached = disk_lines.iter().find(|d| d["event"]["action"] == "usb-storage-attached").expect("kernel removable disk");
    assert_eq!(attached["mamori"]["usb"]["serial"], "4C530001231121115322");
    assert_eq!(attached["mamori"]["usb"]["product_id"], "5567");
    assert_eq!(attached["mamori"]["usb"]["disk"], "sdb");
    assert_eq!(attached["host"]["name"], "kumin-pc12");

    // Winlogbeat over _bulk.
    let ingest = run_ok(mamori().args(["token", "--name", "wlb", "--role", "ingest", "--data"]).arg(&data)).trim().to_owned();
    let auditor = run_ok(mamori().args(["token", "--name", "aud", "--role", "auditor", "--data"]).arg(&data)).trim().to_owned();
    let srv = Server::start(&data, &["--listen", "127.0.0.1:0"]);
    let mut body = String::new();
    for line in String::from_utf8(fixture("windows/winlogbeat_usb_constructed.ndjson")).unwrap().lines() {
        body.push_str("{\"create\":{\"_index\":\"winlogbeat-8.11.1\"}}\n");
        body.push_str(line);
        body.push('\n');
    }
    let client = reqwest::blocking::Client::new();
    let resp = client
        .post(format!("{}/_bulk", srv.http))
        .header("Authorization", format!("Bearer {ingest}"))
        .header("Content-Type", "application/x-ndjson")
        .body(body)
        .send()
        .unwrap();
    assert!(resp.status().is_success(), "{:?}", resp.text());
    let v: serde_json::Value = resp.json().unwrap();
    assert_eq!(v["errors"], false, "{v}");

    let deadline = Instant::now() + Duration::from_secs(30);
    let docs = loop {
        let r: serde_json::Value = client
            .get(format!("{}/api/v1/events", srv.http))
            .query(&[("q", "removable-disk-attached"), ("limit", "50")])
            .header("Authorization", format!("Bearer {auditor}"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let hits: Vec<serde_json::Value> = r["events"].as_array().cloned().unwrap_or_default();
        if !hits.is_empty() {
            break hits;
        }
        assert!(Instant::now() < deadline, "the _bulk events were never indexed: {r}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let ev = &docs[0]["event"];
    assert_eq!(ev["event"]["action"], "removable-disk-attached");
    assert_eq!(ev["mamori"]["usb"]["serial"], "4C530001231121115322");
    assert_eq!(ev["mamori"]["usb"]["vendor_id"], "0781");
    assert_eq!(ev["event"]["category"], serde_json::json!(["host"]));
    srv.stop();
}
