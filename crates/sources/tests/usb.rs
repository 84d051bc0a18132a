//! USB device events: USBGuard's audit log and `usbguard watch` output, and Linux kernel USB
//! messages correlated per device.
//!
//! The fixtures are constructed, not captured: this project's machines have no USB bus, so
//! neither usbguard-daemon nor the kernel can produce device events here. They are written in
//! the exact format USBGuard 1.1.2's and Linux 6.1's own code prints (source files named in
//! `fixtures/usbguard/README.md` and `fixtures/usb/README.md`).

use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use mamori_sources::format::correlate::LineCorrelator;
use mamori_sources::format::usbguard::parse_usbguard;
use mamori_sources::{SyslogContext, parse_syslog};
use serde_json::{Map, Value, json};

type Doc = Map<String, Value>;

fn read(dir: &str, name: &str) -> Vec<u8> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(dir).join(name)).unwrap()
}

#[test]
fn usbguard_audit_log_device_events() {
    let out = parse_usbguard(&read("usbguard", "usbguard-audit_1.1.2_device_events.log"));
    let docs: Vec<Doc> = out.into_iter().map(|r| r.unwrap().doc).collect();
    assert_eq!(docs.len(), 5);
    let ins = &docs[0];
    assert_eq!(ins["event"]["action"], "usb-device-connected");
    assert_eq!(ins["@timestamp"], "2026-12-02T04:00:00.101000Z");
    let usb = &ins["mamori"]["usb"];
    assert_eq!(usb["vendor_id"], "0781");
    assert_eq!(usb["product_id"], "5567");
    assert_eq!(usb["serial"], "4C530001231121115322");
    assert_eq!(usb["product"], "Cruzer Blade");
    assert_eq!(usb["via_port"], "1-1");
    assert_eq!(usb["mass_storage"], true);
    assert_eq!(usb["system_name"], "/devices/pci0000:00/0000:00:14.0/usb1/1-1");
    assert_eq!(ins["process"]["pid"], 812);
    let blocked = &docs[1];
    assert_eq!(blocked["event"]["action"], "usb-device-blocked");
    assert_eq!(blocked["event"]["type"], json!(["denied"]));
    assert_eq!(blocked["mamori"]["usb"]["blocked"], true);
    let allowed = &docs[3];
    assert_eq!(allowed["event"]["action"], "usb-device-allowed");
    assert_eq!(allowed["mamori"]["usb"]["allowed"], true);
    assert_eq!(allowed["mamori"]["usb"]["target_old"], "block");
    assert_eq!(allowed["mamori"]["usb"]["interfaces"], json!(["08:06:50", "08:06:62"]));
    assert_eq!(docs[4]["event"]["action"], "usb-device-disconnected");
}

#[test]
fn usbguard_watch_blocks() {
    let docs: Vec<Doc> = parse_usbguard(&read("usbguard", "usbguard-watch_1.1.2.txt")).into_iter().map(|r| r.unwrap().doc).collect();
    assert_eq!(docs.len(), 4);
    assert_eq!(docs[0]["event"]["action"], "usb-device-connected");
    assert_eq!(docs[0]["mamori"]["usb"]["device_id"], "7");
    assert_eq!(docs[1]["event"]["action"], "usb-device-blocked");
    assert_eq!(docs[3]["event"]["action"], "usb-device-allowed");
    assert_eq!(docs[3]["mamori"]["usb"]["serial"], "AA00000000001166");
    assert_eq!(docs[3]["mamori"]["usb"]["rule_id"], "3");
}

#[test]
fn usbguard_malformed_lines_are_errors_and_the_rest_is_kept() {
    let mut input = b"garbage line\n".to_vec();
    input.extend_from_slice(&read("usbguard", "usbguard-audit_1.1.2_device_events.log"));
    input.extend_from_slice(b"[17x.1] (A) type='Device.Insert'\n[1796184000.1] (i) not audit\n");
    let out = parse_usbguard(&input);
    let errs: Vec<_> = out.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(errs.len(), 3);
    assert_eq!((errs[0].line, errs[0].offset), (1, 0));
    assert!(errs[0].to_string().contains("行 1"), "{}", errs[0]);
    assert_eq!(errs[1].line, 7);
    assert!(errs[2].to_string().contains("(A)"));
    assert_eq!(out.iter().filter(|r| r.is_ok()).count(), 5);
}

fn kernel_docs() -> Vec<Doc> {
    let ctx = SyslogContext::new(Utc.with_ymd_and_hms(2026, 12, 2, 9, 50, 0).unwrap());
    let mut corr = LineCorrelator::default();
    read("usb", "kernel_usb_rsyslog.log")
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut d = parse_syslog(l, &ctx).unwrap();
            corr.observe(&mut d);
            d
        })
        .collect()
}

#[test]
fn kernel_lines_of_one_device_become_one_usb_event() {
    let d = kernel_docs();
    assert_eq!(d.len(), 19, "every line is kept");
    let connected: Vec<&Doc> = d.iter().filter(|x| x.get("event").and_then(|e| e.get("action")) == Some(&json!("usb-device-connected"))).collect();
    assert_eq!(connected.len(), 2);
    let stick = &connected[0]["mamori"]["usb"];
    assert_eq!(stick["bus_path"], "1-1");
    assert_eq!(stick["vendor_id"], "0781");
    assert_eq!(stick["product_id"], "5567");
    assert_eq!(stick["serial"], "4C530001231121115322");
    assert_eq!(stick["manufacturer"], "SanDisk");
    assert_eq!(stick["product"], "Cruzer Blade");
    // The receiver has no serial number: complete after its Manufacturer line.
    let rx = &connected[1]["mamori"]["usb"];
    assert_eq!(rx["vendor_id"], "046d");
    assert!(rx.get("serial").is_none());
    assert!(connected[1]["message"].as_str().unwrap().ends_with("usb 1-2: Manufacturer: Logitech"));

    let disk = d.iter().find(|x| x.get("event").and_then(|e| e.get("action")) == Some(&json!("usb-storage-attached"))).unwrap();
    assert_eq!(disk["mamori"]["usb"]["disk"], "sdb");
    assert_eq!(disk["mamori"]["usb"]["bus_path"], "1-1");
    assert_eq!(disk["mamori"]["usb"]["serial"], "4C530001231121115322");
    assert_eq!(disk["mamori"]["usb"]["mass_storage"], true);
    let gone = d.iter().find(|x| x.get("event").and_then(|e| e.get("action")) == Some(&json!("usb-device-disconnected"))).unwrap();
    assert_eq!(gone["mamori"]["usb"]["serial"], "4C530001231121115322");
    assert_eq!(gone["event"]["type"], json!(["end"]));
}

#[test]
fn kernel_lines_without_the_rest_still_parse() {
    // A capture that starts mid-device: the descriptor line alone is kept with what it says.
    let ctx = SyslogContext::new(Utc.with_ymd_and_hms(2026, 12, 2, 9, 50, 0).unwrap());
    let mut corr = LineCorrelator::default();
    let mut d = parse_syslog(b"<6>Dec  2 09:10:01 pc kernel: usb 3-4.1: SerialNumber: ABC", &ctx).unwrap();
    corr.observe(&mut d);
    assert_eq!(d["mamori"]["usb"]["serial"], "ABC");
    assert!(d["event"].get("action").is_none());
    let mut other = parse_syslog(b"<6>Dec  2 09:10:01 pc kernel: EXT4-fs (sdb1): mounted filesystem", &ctx).unwrap();
    corr.observe(&mut other);
    assert!(other.get("mamori").is_none());
}
