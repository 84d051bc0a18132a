//! Windows coverage beyond tests/evtx.rs: Sysmon 23, remote-control tools, and the same
//! mapping for Winlogbeat documents arriving over `_bulk` (`enrich_winlogbeat_doc`).
//!
//! Real records: the public EVTX corpus in /work/shared/corpora/evtx (see tests/evtx.rs for
//! its licence and manifest). USB storage events (6416 for a stick, Kernel-PnP 400/410,
//! DriverFrameworks-UserMode 2003/2100, Partition/Diagnostic 1006) do not occur in any public
//! corpus and no Windows machine is available here, so `fixtures/windows/` holds Winlogbeat
//! documents constructed from Microsoft's documented schemas for those events (its README
//! says how).

use std::path::{Path, PathBuf};

use mamori_sources::{enrich_winlogbeat_doc, parse_evtx};
use serde_json::{Map, Value, json};

type Doc = Map<String, Value>;

fn corpus(rel: &str) -> Option<Vec<u8>> {
    let p = Path::new("/work/shared/corpora/evtx").join(rel);
    match std::fs::read(&p) {
        Ok(b) => Some(b),
        Err(_) => {
            eprintln!("SKIPPED: {} not present (the shared EVTX corpus is only on the project VM)", p.display());
            None
        }
    }
}

fn evtx_docs(rel: &str) -> Option<Vec<Doc>> {
    Some(parse_evtx(rel, &corpus(rel)?).into_iter().filter_map(|r| r.ok()).map(|e| e.doc).collect())
}

fn all_corpus_files() -> Vec<PathBuf> {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "evtx") {
                out.push(p);
            }
        }
    }
    let mut v = Vec::new();
    walk(Path::new("/work/shared/corpora/evtx"), &mut v);
    v.sort();
    v
}

#[test]
fn sysmon_23_file_delete_and_remote_tools_in_the_corpus() {
    let mut deleted = Vec::new();
    let mut remote = Vec::new();
    for f in all_corpus_files() {
        let bytes = std::fs::read(&f).unwrap();
        for ev in parse_evtx(&f.display().to_string(), &bytes).into_iter().flatten() {
            let d = ev.doc;
            if d["winlog"]["provider_name"] == "Microsoft-Windows-Sysmon" && d["winlog"]["event_id"] == "23" {
                deleted.push(d.clone());
            }
            if d.get("mamori").and_then(|m| m.get("remote_control")).is_some() {
                remote.push(d);
            }
        }
    }
    if deleted.is_empty() && remote.is_empty() {
        eprintln!("SKIPPED: corpus not present");
        return;
    }
    assert_eq!(deleted.len(), 2);
    for d in &deleted {
        assert_eq!(d["event"]["action"], "file-deleted");
        assert_eq!(d["event"]["type"], json!(["deletion"]));
        assert!(d["file"]["path"].as_str().unwrap().contains('\\'), "{d:?}");
        assert!(d["process"]["executable"].is_string());
    }
    // AnyDesk's own file writes (Sysmon 11) are tagged with the tool.
    let anydesk: Vec<&Doc> = remote.iter().filter(|d| d["mamori"]["remote_control"]["tool"] == "AnyDesk").collect();
    assert!(!anydesk.is_empty(), "{remote:?}");
    for d in &anydesk {
        assert_eq!(d["tags"], json!(["remote-control"]));
        assert!(d["process"]["name"].as_str().unwrap().to_ascii_lowercase().starts_with("anydesk") || d["file"]["name"].as_str().unwrap_or_default().to_ascii_lowercase().starts_with("anydesk"));
    }
}

/// What Winlogbeat 8 sends for a record when no ingest pipeline runs: the `winlog` object,
/// `@timestamp`, `host`, `event.{kind,code,provider,action = task}`, `message`.
fn as_winlogbeat(d: &Doc) -> Doc {
    let mut w = d["winlog"].clone();
    w["api"] = json!("wineventlog");
    let task = w.get("task").cloned().unwrap_or(json!(""));
    let mut out = Map::new();
    out.insert("@timestamp".into(), d["@timestamp"].clone());
    out.insert("host".into(), d["host"].clone());
    out.insert("event".into(), json!({"kind": "event", "code": d["event"]["code"], "provider": d["event"]["provider"], "action": task}));
    out.insert("winlog".into(), w);
    out.insert("message".into(), json!("winlogbeat message"));
    out
}

#[test]
fn winlogbeat_documents_get_the_evtx_mapping() {
    let files = [
        "attack/EVTX-ATTACK-SAMPLES/Lateral Movement/LM_ScheduledTask_ATSVC_target_host.evtx",
        "attack/EVTX-ATTACK-SAMPLES/Defense Evasion/DE_1102_security_log_cleared.evtx",
    ];
    let mut checked = 0;
    let mut docs: Vec<Doc> = Vec::new();
    for f in files {
        if let Some(d) = evtx_docs(f) {
            docs.extend(d);
        }
    }
    // And a slice of the whole corpus for breadth.
    for f in all_corpus_files().iter().step_by(7) {
        let bytes = std::fs::read(f).unwrap();
        docs.extend(parse_evtx("x", &bytes).into_iter().flatten().map(|e| e.doc));
    }
    if docs.is_empty() {
        return;
    }
    for d in &docs {
        let Some(action) = d["event"].get("action") else { continue };
        let mut wb = as_winlogbeat(d);
        enrich_winlogbeat_doc(&mut wb);
        assert_eq!(&wb["event"]["action"], action, "{d:?}");
        for k in ["user", "source", "destination", "file", "process", "registry"] {
            assert_eq!(wb.get(k), d.get(k), "{k} differs for {}", d["winlog"]["event_id"]);
        }
        assert_eq!(wb["event"].get("outcome"), d["event"].get("outcome"));
        assert_eq!(wb.get("mamori").and_then(|m| m.get("usb")), d.get("mamori").and_then(|m| m.get("usb")));
        checked += 1;
    }
    assert!(checked > 100, "only {checked} mapped records");
}

#[test]
fn winlogbeat_fields_already_set_are_kept() {
    let mut d: Doc = serde_json::from_value(json!({
        "@timestamp": "2026-12-02T00:00:00Z",
        "event": {"code": "4624", "action": "logged-in-special"},
        "user": {"name": "from-pipeline"},
        "winlog": {"provider_name": "Microsoft-Windows-Security-Auditing", "event_id": "4624", "channel": "Security", "task": "Logon",
                   "event_data": {"TargetUserName": "tanaka", "IpAddress": "10.0.0.5", "LogonType": "3"}}
    }))
    .unwrap();
    enrich_winlogbeat_doc(&mut d);
    assert_eq!(d["event"]["action"], "logged-in-special");
    assert_eq!(d["user"]["name"], "from-pipeline");
    assert_eq!(d["source"]["ip"], "10.0.0.5");
    assert_eq!(d["event"]["category"], json!(["authentication"]));
    // Not a Winlogbeat document: untouched.
    let mut other: Doc = serde_json::from_value(json!({"message": "x", "winlog": {"channel": "Security"}})).unwrap();
    let before = other.clone();
    enrich_winlogbeat_doc(&mut other);
    assert_eq!(other, before);
}

fn usb_fixture() -> Vec<Doc> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/windows/winlogbeat_usb_constructed.ndjson");
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| {
            let mut d: Doc = serde_json::from_str(l).unwrap();
            enrich_winlogbeat_doc(&mut d);
            d
        })
        .collect()
}

#[test]
fn usb_device_events_from_winlogbeat_give_vendor_product_serial() {
    let d = usb_fixture();
    assert_eq!(d.len(), 7);
    let expect = [
        ("6416", "external-device-recognized"),
        ("400", "device-configured"),
        ("410", "device-started"),
        ("2003", "device-driver-loading"),
        ("2100", "device-pnp-request"),
        ("1006", "removable-disk-attached"),
        ("1006", "removable-disk-removed"),
    ];
    for (doc, (id, action)) in d.iter().zip(expect) {
        assert_eq!(doc["winlog"]["event_id"], id);
        assert_eq!(doc["event"]["action"], action, "{doc:?}");
        assert_eq!(doc["event"]["category"], json!(["host"]));
        let usb = &doc["mamori"]["usb"];
        assert_eq!(usb["serial"], "4C530001231121115322", "{id}: {usb:?}");
        let _ = usb;
    }
    // VID/PID where the event names the USB device (6416, 1006's ParentId).
    for i in [0, 5] {
        assert_eq!(d[i]["mamori"]["usb"]["vendor_id"], "0781");
        assert_eq!(d[i]["mamori"]["usb"]["product_id"], "5567");
    }
    // USBSTOR instance IDs: the serial without "&0", vendor and product names.
    assert_eq!(d[1]["mamori"]["usb"]["manufacturer"], "SanDisk");
    assert_eq!(d[1]["mamori"]["usb"]["product"], "Cruzer Blade");
    assert_eq!(d[1]["mamori"]["usb"]["driver"], "disk.inf");
    assert_eq!(d[3]["mamori"]["usb"]["device_id"], "USBSTOR\\DISK&VEN_SANDISK&PROD_CRUZER_BLADE&REV_1.00\\4C530001231121115322&0");
    assert_eq!(d[5]["mamori"]["usb"]["capacity"], 15376318464u64);
    assert_eq!(d[5]["mamori"]["usb"]["product"], "Cruzer Blade");
    assert_eq!(d[6]["event"]["type"], json!(["end"]));
    // 6416 also names who registered it.
    assert_eq!(d[0]["user"]["name"], "KUMIN-PC12$");
}

#[test]
fn instance_ids_without_a_serial_give_none() {
    let mut d: Doc = serde_json::from_value(json!({
        "@timestamp": "2026-12-02T00:00:00Z",
        "winlog": {"provider_name": "Microsoft-Windows-Kernel-PnP", "event_id": "400", "channel": "Microsoft-Windows-Kernel-PnP/Configuration",
                   "event_data": {"DeviceInstanceId": "USB\\VID_046D&PID_C52B\\6&2A1B3C4D&0&1"}}
    }))
    .unwrap();
    enrich_winlogbeat_doc(&mut d);
    assert_eq!(d["mamori"]["usb"]["vendor_id"], "046d");
    assert!(d["mamori"]["usb"].get("serial").is_none());
    // Not a USB device: no mamori.usb, the instance ID is kept.
    let mut p: Doc = serde_json::from_value(json!({
        "@timestamp": "2026-12-02T00:00:00Z",
        "winlog": {"provider_name": "Microsoft-Windows-Kernel-PnP", "event_id": "410", "event_data": {"DeviceInstanceId": "PCI\\VEN_8086&DEV_A0ED\\3&11583659&0&A0"}}
    }))
    .unwrap();
    enrich_winlogbeat_doc(&mut p);
    assert!(p["mamori"].get("usb").is_none());
    assert_eq!(p["mamori"]["evtx"]["device_instance_id"], "PCI\\VEN_8086&DEV_A0ED\\3&11583659&0&A0");
}
