//! USB device events: USBGuard's audit log and `usbguard watch` output, and Linux kernel USB
//! messages correlated per device.
//!
//! Two kinds of fixtures:
//! - `fixtures/{usb,usbguard}/qemu/`: captured from the real programs: Debian 12's kernel
//!   (6.1), systemd-udevd, rsyslog, journald and usbguard-daemon 1.1.2 in a Debian 12 guest
//!   under QEMU, while scripts/capture-usb-fixtures.sh hot-plugged emulated USB sticks (with
//!   the serial numbers asserted below), a hub and a keyboard, and an officer's
//!   `usbguard allow-device` let one stick through (README.md beside them: versions, date,
//!   command). QEMU's devices have fixed vendor/product IDs (46f4:0001 stick, 0627:0001
//!   keyboard, 0409:55aa hub), so real-world IDs such as SanDisk's 0781:5567 come only from
//!   the older files below.
//! - the older files directly under `fixtures/usb/` and `fixtures/usbguard/`, written by hand
//!   in the format USBGuard's and Linux's code prints (their READMEs say how) before a real
//!   capture existed; kept for their real-world IDs and because crates/mamori's tests use them.

use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use mamori_sources::format::correlate::LineCorrelator;
use mamori_sources::format::journald::parse_journal_entry;
use mamori_sources::format::kernel_usb::parse_kernel_usb;
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

// ---- Real captures (scripts/capture-usb-fixtures.sh) ----

const STICK1: &str = "4C530001231121115322";
const STICK2: &str = "AA00000000001166";
const KEYBOARD: &str = "68284-0000:00:04.0-3";

fn action(d: &Doc) -> Option<&str> {
    d.get("event").and_then(|e| e.get("action")).and_then(Value::as_str)
}

fn with_action<'a>(docs: &'a [Doc], a: &str) -> Vec<&'a Doc> {
    docs.iter().filter(|d| action(d) == Some(a)).collect()
}

/// Every line of a syslog-shaped capture through `parse_syslog` and the line correlator.
fn syslog_capture(dir: &str, name: &str) -> Vec<Doc> {
    let ctx = SyslogContext::new(Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap());
    let mut corr = LineCorrelator::default();
    let body = read(dir, name);
    let lines: Vec<&[u8]> = body.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    let docs: Vec<Doc> = lines
        .iter()
        .map(|l| {
            let mut d = parse_syslog(l, &ctx).unwrap_or_else(|e| panic!("{name}: {e}"));
            corr.observe(&mut d);
            d
        })
        .collect();
    assert_eq!(docs.len(), lines.len(), "every line is kept");
    assert!(docs.len() > 400, "the whole boot is there, not only USB lines");
    docs
}

/// `journalctl -k -o json` through the journald parser and the line correlator.
fn journal_capture(dir: &str) -> Vec<Doc> {
    let received = Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap();
    let mut corr = LineCorrelator::default();
    let body = read(dir, "journal-kernel.json");
    let mut offset = 0u64;
    let mut docs = Vec::new();
    for (i, l) in body.split(|&b| b == b'\n').enumerate() {
        if !l.is_empty() {
            let mut d = parse_journal_entry(l, i + 1, offset, received).unwrap();
            corr.observe(&mut d);
            docs.push(d);
        }
        offset += l.len() as u64 + 1;
    }
    docs
}

fn usb(d: &Doc) -> &Value {
    &d["mamori"]["usb"]
}

/// What the kernel run (no USBGuard) must show, whatever the shape of the log.
fn assert_kernel_run(docs: &[Doc], shape: &str) {
    for d in docs {
        assert_eq!(d["host"]["name"], "usb-capture-guest", "{shape}");
    }
    // Root hubs (`usb usb1: …`) are not devices a person plugs in.
    assert!(docs.iter().filter(|d| d["message"].as_str().is_some_and(|m| m.contains("usb usb1:"))).all(|d| d.get("mamori").and_then(|m| m.get("usb")).is_none()), "{shape}");

    let connected = with_action(docs, "usb-device-connected");
    let by_port: Vec<(&str, &str, &str)> = connected.iter().map(|d| (usb(d)["bus_path"].as_str().unwrap(), usb(d)["vendor_id"].as_str().unwrap(), usb(d)["product_id"].as_str().unwrap())).collect();
    assert_eq!(by_port, [("2-1", "46f4", "0001"), ("1-2", "0409", "55aa"), ("1-2.1", "46f4", "0001"), ("1-3", "0627", "0001")], "{shape}");
    let s1 = usb(connected[0]);
    assert_eq!(s1["serial"], STICK1, "{shape}");
    assert_eq!(s1["manufacturer"], "QEMU");
    assert_eq!(s1["product"], "QEMU USB HARDDRIVE");
    assert_eq!(s1["speed"], "SuperSpeed", "{shape}");
    // Behind the hub: dotted bus path, full speed.
    assert_eq!(usb(connected[2])["serial"], STICK2);
    assert_eq!(usb(connected[2])["speed"], "full-speed");
    assert_eq!(usb(connected[3])["serial"], KEYBOARD);
    assert_eq!(usb(connected[3])["product"], "QEMU USB Keyboard");

    // The disk lines name only the SCSI host; serial and port come from the device's lines.
    let disks = with_action(docs, "usb-storage-attached");
    let d: Vec<(&str, &str, &str)> = disks.iter().map(|d| (usb(d)["disk"].as_str().unwrap(), usb(d)["bus_path"].as_str().unwrap(), usb(d)["serial"].as_str().unwrap())).collect();
    assert_eq!(d, [("sda", "2-1", STICK1), ("sdb", "1-2.1", STICK2)], "{shape}");
    assert!(disks.iter().all(|d| usb(d)["mass_storage"] == true));

    // The guest mounted stick 1 (ext4) and wrote a file on it.
    let mounted = with_action(docs, "usb-storage-mounted");
    assert_eq!(mounted.len(), 1, "{shape}");
    assert_eq!(usb(mounted[0])["serial"], STICK1);
    assert_eq!(usb(mounted[0])["mounted_device"], "sda");
    assert_eq!(usb(mounted[0])["fs_type"], "ext4");
    let unmounted = with_action(docs, "usb-storage-unmounted");
    assert_eq!(unmounted.len(), 1, "{shape}");
    assert_eq!(usb(unmounted[0])["serial"], STICK1);

    // Unplugged in the order QMP device_del removed them; the hub stays.
    let gone: Vec<&str> = with_action(docs, "usb-device-disconnected").iter().map(|d| usb(d)["serial"].as_str().unwrap()).collect();
    assert_eq!(gone, [STICK1, KEYBOARD, STICK2], "{shape}");
    assert!(with_action(docs, "usb-device-not-authorized").is_empty(), "no USBGuard in this run");
}

#[test]
fn real_kernel_rsyslog_debian12_default_format() {
    // Debian 12's rsyslog writes kern.log with RFC 3339 stamps, no PRI.
    let docs = syslog_capture("usb/qemu", "kern.log");
    assert_kernel_run(&docs, "kern.log");
    let first = with_action(&docs, "usb-device-connected")[0];
    assert!(first["@timestamp"].as_str().unwrap().starts_with("2026-12-03T"), "{:?}", first["@timestamp"]);
}

#[test]
fn real_kernel_rsyslog_traditional_format() {
    assert_kernel_run(&syslog_capture("usb/qemu", "kern-traditional.log"), "kern-traditional.log");
}

#[test]
fn real_kernel_journal_json() {
    let docs = journal_capture("usb/qemu");
    assert!(docs.len() > 400);
    assert_kernel_run(&docs, "journal-kernel.json");
}

#[test]
fn real_dmesg_lines_parse_like_the_syslog_ones() {
    // `dmesg` has only `[uptime] message`: the per-line parser must see the same USB lines in
    // it as in the rsyslog copy of the same boot.
    let kinds = |body: Vec<u8>, strip_header: bool| -> Vec<String> {
        String::from_utf8(body)
            .unwrap()
            .lines()
            .map(|l| if strip_header { l.split_once(" kernel: ").map_or(l, |(_, m)| m) } else { l })
            .filter_map(|m| parse_kernel_usb(m).map(|u| format!("{u:?}")))
            .collect()
    };
    let dmesg = kinds(read("usb/qemu", "dmesg.txt"), false);
    let journal: Vec<String> = journal_capture("usb/qemu").iter().filter_map(|d| parse_kernel_usb(d["message"].as_str().unwrap()).map(|u| format!("{u:?}"))).collect();
    // 4 devices of 5 to 8 lines each, 2 disks, 2 scsi hosts, mount, unmount, 3 disconnects.
    assert_eq!(dmesg.len(), 36);
    assert_eq!(dmesg, journal);
    assert_eq!(kinds(read("usb/qemu", "kern.log"), true), dmesg);
    assert_eq!(kinds(read("usb/qemu", "kern-traditional.log"), true), dmesg);
}

#[test]
fn real_kernel_lines_while_usbguard_blocks() {
    // The same kernel with usbguard-daemon (ImplicitPolicyTarget=block): each device is
    // announced, then "not authorized"; the officer's allow-device authorizes stick 2 only.
    for docs in [syslog_capture("usbguard/qemu", "kern.log"), journal_capture("usbguard/qemu")] {
        let blocked: Vec<(&str, &str)> = with_action(&docs, "usb-device-not-authorized").iter().map(|d| (usb(d)["bus_path"].as_str().unwrap(), usb(d)["serial"].as_str().unwrap())).collect();
        assert_eq!(blocked, [("2-1", STICK1), ("2-2", STICK2), ("1-3", KEYBOARD)]);
        let b = with_action(&docs, "usb-device-not-authorized")[0];
        assert_eq!(b["event"]["type"], json!(["denied"]));
        assert_eq!(usb(b)["authorized"], false);
        let allowed = with_action(&docs, "usb-device-authorized");
        assert_eq!(allowed.len(), 1);
        assert_eq!(usb(allowed[0])["serial"], STICK2);
        assert_eq!(usb(allowed[0])["vendor_id"], "46f4");
        // Only the allowed stick became a disk.
        let disks = with_action(&docs, "usb-storage-attached");
        assert_eq!(disks.len(), 1);
        assert_eq!(usb(disks[0])["serial"], STICK2);
        assert_eq!(with_action(&docs, "usb-storage-mounted").len(), 1);
        assert_eq!(with_action(&docs, "usb-device-disconnected").len(), 3);
    }
}

#[test]
fn real_usbguard_audit_log() {
    let out = parse_usbguard(&read("usbguard/qemu", "usbguard-audit.log"));
    let docs: Vec<Doc> = out.into_iter().map(|r| r.unwrap().doc).collect();
    // Root hubs present at start (allowed by the rule file), then the hot-plugged devices.
    let hubs: Vec<&Doc> = docs.iter().filter(|d| usb(d)["vendor_id"] == "1d6b").collect();
    assert!(hubs.iter().all(|d| matches!(action(d), Some("usb-device-present" | "usb-device-allowed"))), "{hubs:?}");
    let plugged: Vec<(&str, &str)> = with_action(&docs, "usb-device-connected").iter().map(|d| (usb(d)["serial"].as_str().unwrap(), usb(d)["via_port"].as_str().unwrap())).collect();
    assert_eq!(plugged, [(STICK1, "2-1"), (STICK2, "2-2"), (KEYBOARD, "1-3")]);
    let ins = with_action(&docs, "usb-device-connected")[0];
    assert_eq!(usb(ins)["vendor_id"], "46f4");
    assert_eq!(usb(ins)["product_id"], "0001");
    assert_eq!(usb(ins)["product"], "QEMU USB HARDDRIVE");
    assert_eq!(usb(ins)["mass_storage"], true);
    assert_eq!(usb(ins)["system_name"], "/devices/pci0000:00/0000:00:04.0/usb2/2-1");
    assert_eq!(ins["event"]["outcome"], "success");
    let blocked: Vec<&str> = with_action(&docs, "usb-device-blocked").iter().filter(|d| usb(d)["vendor_id"] != "1d6b").map(|d| usb(d)["serial"].as_str().unwrap()).collect();
    assert_eq!(blocked, [STICK1, STICK2, KEYBOARD]);
    let allowed: Vec<&Doc> = with_action(&docs, "usb-device-allowed").into_iter().filter(|d| usb(d)["vendor_id"] != "1d6b").collect();
    assert_eq!(allowed.len(), 1);
    assert_eq!(usb(allowed[0])["serial"], STICK2);
    assert_eq!(usb(allowed[0])["target_old"], "block");
    assert_eq!(usb(allowed[0])["allowed"], true);
    let removed: Vec<&str> = with_action(&docs, "usb-device-disconnected").iter().map(|d| usb(d)["serial"].as_str().unwrap()).collect();
    assert_eq!(removed, [STICK1, KEYBOARD, STICK2]);
    assert!(docs.iter().all(|d| d["@timestamp"].as_str().unwrap().starts_with("2026-12-03T")));
}

#[test]
fn real_usbguard_watch() {
    let out = parse_usbguard(&read("usbguard/qemu", "usbguard-watch.txt"));
    let docs: Vec<Doc> = out.into_iter().map(|r| r.unwrap().doc).collect();
    let ins: Vec<(&str, &str)> = with_action(&docs, "usb-device-connected").iter().map(|d| (usb(d)["serial"].as_str().unwrap(), usb(d)["device_id"].as_str().unwrap())).collect();
    assert_eq!(ins.len(), 3);
    assert_eq!(ins.iter().map(|x| x.0).collect::<Vec<_>>(), [STICK1, STICK2, KEYBOARD]);
    let allowed = with_action(&docs, "usb-device-allowed");
    assert!(!allowed.is_empty() && allowed.iter().all(|d| usb(d)["serial"] == STICK2));
    // The allowed stick keeps its device id from insertion to removal.
    let id2 = ins[1].1;
    assert!(allowed.iter().all(|d| usb(d)["device_id"] == id2));
    let removed: Vec<&str> = with_action(&docs, "usb-device-disconnected").iter().map(|d| usb(d)["serial"].as_str().unwrap()).collect();
    assert_eq!(removed, [STICK1, KEYBOARD, STICK2]);
}

#[test]
fn real_usbguard_audit_log_with_a_torn_line() {
    // A line cut in half (a copy taken while the daemon was writing): an error naming its line
    // and offset; every other real line is still an event.
    let body = read("usbguard/qemu", "usbguard-audit.log");
    let lines: Vec<&[u8]> = body.split_inclusive(|&b| b == b'\n').collect();
    let mut torn = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if i == 5 {
            torn.extend_from_slice(&l[..l.len() / 2]);
            torn.push(b'\n');
        } else {
            torn.extend_from_slice(l);
        }
    }
    let out = parse_usbguard(&torn);
    let errs: Vec<_> = out.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].line, 6);
    assert_eq!(errs[0].offset, lines[..5].iter().map(|l| l.len() as u64).sum::<u64>());
    assert_eq!(out.iter().filter(|r| r.is_ok()).count(), lines.len() - 1);
}
