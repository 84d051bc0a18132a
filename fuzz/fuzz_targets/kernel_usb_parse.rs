//! Any bytes as Linux kernel USB messages (drivers/usb/core/hub.c, usb-storage, sd): each line
//! straight into `parse_kernel_usb` (with and without a dmesg `[uptime]` prefix), then as
//! rsyslog `kernel:` lines from two hosts through `parse_syslog` and the USB correlator: must
//! never panic; a parsed line's bus path is in the line; IDs, when set, are 4 lower-case hex
//! digits; device events carry the bus path or disk they were completed from; every document
//! still passes `mamori_event::normalize`.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use mamori_sources::format::correlate::LineCorrelator;
use mamori_sources::format::kernel_usb::{UsbLine, parse_kernel_usb};
use mamori_sources::{SyslogContext, parse_syslog};

fn hex4(v: &serde_json::Value) {
    if let Some(s) = v.as_str() {
        assert!(s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{s:?}");
    }
}

fn bus_path<'a>(l: &UsbLine<'a>) -> Option<&'a str> {
    match l {
        UsbLine::NewDevice { bus_path, .. }
        | UsbLine::Ids { bus_path, .. }
        | UsbLine::Strings { bus_path, .. }
        | UsbLine::Descriptor { bus_path, .. }
        | UsbLine::Disconnect { bus_path }
        | UsbLine::ScsiHost { bus_path, .. }
        | UsbLine::MassStorage { bus_path }
        | UsbLine::NotAuthorized { bus_path }
        | UsbLine::Authorized { bus_path }
        | UsbLine::Other { bus_path } => Some(bus_path),
        UsbLine::RemovableDisk { .. } | UsbLine::Mounted { .. } | UsbLine::Unmounted { .. } => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for line in text.split('\n') {
        if let Some(l) = parse_kernel_usb(line) {
            if let Some(bp) = bus_path(&l) {
                assert!(line.contains(bp));
            }
            if let UsbLine::Ids { vendor, product, .. } = &l {
                hex4(&vendor.as_str().into());
                hex4(&product.as_str().into());
            }
        }
        let with_uptime = format!("[ 5321.402113] {line}");
        let _ = parse_kernel_usb(&with_uptime);
    }
    let received = Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap();
    let ctx = SyslogContext::new(received);
    let mut corr = LineCorrelator::default();
    for (i, part) in data.split(|&b| b == b'\n').enumerate() {
        let host = if i % 3 == 2 { "pc2" } else { "pc1" };
        let mut line = format!("<6>Dec  2 09:10:01 {host} kernel: ").into_bytes();
        line.extend_from_slice(part);
        let Ok(mut doc) = parse_syslog(&line, &ctx) else { continue };
        corr.observe(&mut doc);
        if let Some(usb) = doc.get("mamori").and_then(|m| m.get("usb")) {
            hex4(&usb["vendor_id"]);
            hex4(&usb["product_id"]);
            match doc.get("event").and_then(|e| e.get("action")).and_then(|a| a.as_str()) {
                Some("usb-device-connected" | "usb-device-disconnected") => assert!(usb["bus_path"].is_string(), "{doc:?}"),
                Some("usb-storage-attached" | "usb-storage-mounted" | "usb-storage-unmounted") => assert!(usb["disk"].is_string() || usb["bus_path"].is_string(), "{doc:?}"),
                _ => {}
            }
        }
        mamori_event::normalize(doc, received).expect("a kernel line is a valid event");
    }
});
