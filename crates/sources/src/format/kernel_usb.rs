//! Linux kernel USB messages (syslog / journald from `kernel`) to ECS host events with
//! `mamori.usb.*`.
//!
//! The kernel announces a device over several lines, all prefixed with the device's bus path
//! (`1-1`, `2-1.4`: bus, then the port chain), and a USB stick's disk over a few more that
//! name the SCSI host instead (drivers/usb/core/hub.c `hub_port_init`, `announce_device`;
//! drivers/usb/storage; drivers/scsi/sd.c):
//!
//! ```text
//! usb 1-1: new high-speed USB device number 2 using xhci_hcd
//! usb 1-1: New USB device found, idVendor=0781, idProduct=5567, bcdDevice= 1.00
//! usb 1-1: New USB device strings: Mfr=1, Product=2, SerialNumber=3
//! usb 1-1: Product: Cruzer Blade
//! usb 1-1: Manufacturer: SanDisk
//! usb 1-1: SerialNumber: 4C530001231121115322
//! usb-storage 1-1:1.0: USB Mass Storage device detected
//! scsi host6: usb-storage 1-1:1.0
//! sd 6:0:0:0: [sdb] Attached SCSI removable disk
//! EXT4-fs (sdb): mounted filesystem with ordered data mode. Quota mode: none.
//! usb 1-1: USB disconnect, device number 2
//! ```
//!
//! With USBGuard (or `authorized_default=0`) the kernel also says `usb 1-1: Device is not
//! authorized for usage` (drivers/usb/core/generic.c) when a device stays blocked and
//! `usb 1-1: authorized to connect` (hub.c `usb_authorize_device`) when it is allowed.
//! These shapes were checked against Debian 12's kernel 6.1 on QEMU-emulated xHCI sticks, a
//! hub and a keyboard (tests/fixtures/usb/qemu/, scripts/capture-usb-fixtures.sh).
//!
//! [`enrich_syslog_doc`] adds what one line says (`mamori.usb.bus_path`, the IDs on the
//! "New USB device found" line, a string descriptor). [`UsbCorrelator`] carries the device's
//! state from line to line within one input and completes lines into whole device
//! events: the last string descriptor the "strings" line announced (`usb-device-connected`,
//! with vendor, product, serial, manufacturer, product name and speed), the removable disk
//! line (`usb-storage-attached`, with the disk name as well), a file system mounted from that
//! disk (`usb-storage-mounted` / `-unmounted`; the kernel does not print the mount point), the
//! authorization lines (`usb-device-not-authorized`, `usb-device-authorized`) and the
//! disconnect (`usb-device-disconnected`). IDs are 4 lower-case hex digits, as USBGuard
//! writes them.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::syslog::set;

fn message(doc: &Map<String, Value>) -> Option<&str> {
    doc.get("message").and_then(Value::as_str)
}

fn is_kernel(doc: &Map<String, Value>) -> bool {
    doc.get("process").and_then(|p| p.get("name")).and_then(Value::as_str) == Some("kernel")
}

/// Drops the `[  123.456789] ` uptime prefix dmesg-style lines have.
fn strip_uptime(s: &str) -> &str {
    let t = s.trim_start();
    if let Some(r) = t.strip_prefix('[')
        && let Some((n, rest)) = r.split_once(']')
        && n.trim().bytes().all(|b| b.is_ascii_digit() || b == b'.')
    {
        return rest.trim_start();
    }
    t
}

/// A USB bus path (`1-1`, `3-2.4.1`; root hubs are `usb1`).
fn is_bus_path(s: &str) -> bool {
    let Some((bus, ports)) = s.split_once('-') else { return false };
    !bus.is_empty() && bus.bytes().all(|b| b.is_ascii_digit()) && !ports.is_empty() && ports.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// What one kernel line says about USB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsbLine<'a> {
    /// `usb 1-1: new high-speed USB device number 2 using xhci_hcd`
    NewDevice {
        /// Bus path.
        bus_path: &'a str,
        /// `number N`.
        number: Option<u32>,
        /// `low-speed`, `full-speed`, `high-speed`, `SuperSpeed`, `SuperSpeed Plus Gen 2x1` …
        speed: Option<&'a str>,
    },
    /// `usb 1-1: New USB device found, idVendor=0781, idProduct=5567, bcdDevice= 1.00`
    Ids {
        /// Bus path.
        bus_path: &'a str,
        /// idVendor (lower case).
        vendor: String,
        /// idProduct (lower case).
        product: String,
    },
    /// `usb 1-1: New USB device strings: Mfr=1, Product=2, SerialNumber=3`
    Strings {
        /// Bus path.
        bus_path: &'a str,
        /// Which strings will follow: (manufacturer, product, serial).
        present: (bool, bool, bool),
    },
    /// `usb 1-1: Product: …` / `Manufacturer: …` / `SerialNumber: …`
    Descriptor {
        /// Bus path.
        bus_path: &'a str,
        /// `Product`, `Manufacturer` or `SerialNumber`.
        which: &'a str,
        /// The value.
        value: &'a str,
    },
    /// `usb 1-1: USB disconnect, device number 2`
    Disconnect {
        /// Bus path.
        bus_path: &'a str,
    },
    /// `scsi host6: usb-storage 1-1:1.0`
    ScsiHost {
        /// SCSI host number.
        host: u32,
        /// Bus path of the USB interface.
        bus_path: &'a str,
    },
    /// `sd 6:0:0:0: [sdb] Attached SCSI removable disk`
    RemovableDisk {
        /// SCSI host number.
        host: u32,
        /// `sdb`.
        disk: &'a str,
    },
    /// `usb-storage 1-1:1.0: USB Mass Storage device detected`
    MassStorage {
        /// Bus path.
        bus_path: &'a str,
    },
    /// `usb 1-1: Device is not authorized for usage` (blocked by USBGuard / authorized_default).
    NotAuthorized {
        /// Bus path.
        bus_path: &'a str,
    },
    /// `usb 1-1: authorized to connect` (allowed after being blocked).
    Authorized {
        /// Bus path.
        bus_path: &'a str,
    },
    /// `EXT4-fs (sdb1): mounted filesystem …` (also ext2/ext3 through the ext4 driver).
    Mounted {
        /// The block device (`sdb`, `sdb1`).
        device: &'a str,
        /// `ext4` …
        fs: &'a str,
    },
    /// `EXT4-fs (sdb1): unmounting filesystem.`
    Unmounted {
        /// The block device.
        device: &'a str,
        /// `ext4` …
        fs: &'a str,
    },
    /// Another `usb 1-1: …` line.
    Other {
        /// Bus path.
        bus_path: &'a str,
    },
}

fn hex4(s: &str) -> Option<String> {
    let s = s.trim().trim_end_matches(',');
    (s.len() == 4 && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| s.to_ascii_lowercase())
}

/// Parses the kernel message text of one line (without syslog header).
pub fn parse_kernel_usb(msg: &str) -> Option<UsbLine<'_>> {
    let msg = strip_uptime(msg);
    if let Some(r) = msg.strip_prefix("EXT4-fs (")
        && let Some((device, rest)) = r.split_once("): ")
        && !device.is_empty()
        && !device.contains(' ')
    {
        if rest.starts_with("mounted filesystem") {
            return Some(UsbLine::Mounted { device, fs: "ext4" });
        }
        if rest.starts_with("unmounting filesystem") {
            return Some(UsbLine::Unmounted { device, fs: "ext4" });
        }
        return None;
    }
    let (dev, rest) = msg.split_once(": ")?;
    let (driver, name) = dev.split_once(' ')?;
    match driver {
        "usb" if is_bus_path(name) => {
            let bus_path = name;
            if let Some(r) = rest.strip_prefix("new ") {
                let speed = r.split_once(" USB device").map(|(s, _)| s).filter(|s| !s.is_empty() && !s.contains("device"));
                let number = r.split_once("device number ").and_then(|(_, n)| n.split(' ').next()).and_then(|n| n.parse().ok());
                return Some(UsbLine::NewDevice { bus_path, number, speed });
            }
            if let Some(r) = rest.strip_prefix("New USB device found, ") {
                let mut vendor = None;
                let mut product = None;
                for part in r.split(", ") {
                    if let Some(v) = part.strip_prefix("idVendor=") {
                        vendor = hex4(v);
                    } else if let Some(p) = part.strip_prefix("idProduct=") {
                        product = hex4(p);
                    }
                }
                return Some(UsbLine::Ids { bus_path, vendor: vendor?, product: product? });
            }
            if let Some(r) = rest.strip_prefix("New USB device strings: ") {
                let mut p = (false, false, false);
                for part in r.split(", ") {
                    let (k, v) = part.split_once('=').unwrap_or((part, "0"));
                    let on = v.trim() != "0";
                    match k.trim() {
                        "Mfr" => p.0 = on,
                        "Product" => p.1 = on,
                        "SerialNumber" => p.2 = on,
                        _ => {}
                    }
                }
                return Some(UsbLine::Strings { bus_path, present: p });
            }
            for which in ["Product", "Manufacturer", "SerialNumber"] {
                if let Some(v) = rest.strip_prefix(which).and_then(|r| r.strip_prefix(": ")) {
                    return Some(UsbLine::Descriptor { bus_path, which, value: v.trim_end() });
                }
            }
            if rest.starts_with("USB disconnect") {
                return Some(UsbLine::Disconnect { bus_path });
            }
            if rest.starts_with("Device is not authorized for usage") {
                return Some(UsbLine::NotAuthorized { bus_path });
            }
            if rest.starts_with("authorized to connect") {
                return Some(UsbLine::Authorized { bus_path });
            }
            Some(UsbLine::Other { bus_path })
        }
        "usb-storage" => {
            let bus_path = name.split(':').next()?;
            is_bus_path(bus_path).then_some(UsbLine::MassStorage { bus_path })
        }
        "scsi" => {
            let host = name.strip_prefix("host")?.parse().ok()?;
            let iface = rest.strip_prefix("usb-storage ")?;
            let bus_path = iface.split(':').next()?;
            is_bus_path(bus_path).then_some(UsbLine::ScsiHost { host, bus_path })
        }
        "sd" => {
            let host = name.split(':').next()?.parse().ok()?;
            let r = rest.strip_prefix('[')?;
            let (disk, r) = r.split_once("] ")?;
            r.starts_with("Attached SCSI removable disk").then_some(UsbLine::RemovableDisk { host, disk })
        }
        _ => None,
    }
}

fn usb_set(doc: &mut Map<String, Value>, k: &str, v: Value) {
    set(doc, &["mamori", "usb", k], v);
}

fn event(doc: &mut Map<String, Value>, action: &str, ty: &str) {
    set(doc, &["event", "action"], action.into());
    set(doc, &["event", "category"], json!(["host"]));
    set(doc, &["event", "type"], json!([ty]));
}

/// Adds what one kernel line says about USB (no state). Other documents are left alone.
/// Called by [`parse_syslog`](crate::parse_syslog).
pub fn enrich_syslog_doc(doc: &mut Map<String, Value>) {
    if !is_kernel(doc) {
        return;
    }
    let Some(m) = message(doc).map(str::to_owned) else { return };
    let Some(line) = parse_kernel_usb(&m) else { return };
    match line {
        UsbLine::NewDevice { bus_path, number, speed } => {
            usb_set(doc, "bus_path", bus_path.into());
            if let Some(n) = number {
                usb_set(doc, "device_number", n.into());
            }
            if let Some(s) = speed {
                usb_set(doc, "speed", s.into());
            }
            event(doc, "usb-device-detected", "info");
        }
        UsbLine::Ids { bus_path, vendor, product } => {
            usb_set(doc, "bus_path", bus_path.into());
            usb_set(doc, "vendor_id", vendor.into());
            usb_set(doc, "product_id", product.into());
            event(doc, "usb-device-identified", "info");
        }
        UsbLine::Strings { bus_path, .. } | UsbLine::Other { bus_path } | UsbLine::MassStorage { bus_path } => {
            usb_set(doc, "bus_path", bus_path.into());
            if matches!(line, UsbLine::MassStorage { .. }) {
                usb_set(doc, "mass_storage", true.into());
                event(doc, "usb-mass-storage-detected", "info");
            }
        }
        UsbLine::Descriptor { bus_path, which, value } => {
            usb_set(doc, "bus_path", bus_path.into());
            let k = match which {
                "Product" => "product",
                "Manufacturer" => "manufacturer",
                _ => "serial",
            };
            usb_set(doc, k, value.into());
        }
        UsbLine::Disconnect { bus_path } => {
            usb_set(doc, "bus_path", bus_path.into());
            event(doc, "usb-device-disconnected", "end");
        }
        UsbLine::NotAuthorized { bus_path } => {
            usb_set(doc, "bus_path", bus_path.into());
            usb_set(doc, "authorized", false.into());
            event(doc, "usb-device-not-authorized", "denied");
        }
        UsbLine::Authorized { bus_path } => {
            usb_set(doc, "bus_path", bus_path.into());
            usb_set(doc, "authorized", true.into());
            event(doc, "usb-device-authorized", "allowed");
        }
        // Any block device: only the correlator knows whether it is on USB.
        UsbLine::Mounted { .. } | UsbLine::Unmounted { .. } => {}
        UsbLine::ScsiHost { host, bus_path } => {
            usb_set(doc, "bus_path", bus_path.into());
            usb_set(doc, "scsi_host", host.into());
        }
        UsbLine::RemovableDisk { host, disk } => {
            usb_set(doc, "scsi_host", host.into());
            usb_set(doc, "disk", disk.into());
            event(doc, "usb-storage-attached", "start");
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Device {
    vendor: Option<String>,
    product: Option<String>,
    serial: Option<String>,
    manufacturer: Option<String>,
    name: Option<String>,
    speed: Option<String>,
    expected: Option<(bool, bool, bool)>,
    announced: bool,
    mass_storage: bool,
}

impl Device {
    fn complete(&self) -> bool {
        let Some((m, p, s)) = self.expected else { return false };
        (!m || self.manufacturer.is_some()) && (!p || self.name.is_some()) && (!s || self.serial.is_some())
    }

    fn write(&self, doc: &mut Map<String, Value>) {
        for (k, v) in [("vendor_id", &self.vendor), ("product_id", &self.product), ("serial", &self.serial), ("manufacturer", &self.manufacturer), ("product", &self.name), ("speed", &self.speed)] {
            if let Some(v) = v {
                usb_set(doc, k, v.clone().into());
            }
        }
        if self.mass_storage {
            usb_set(doc, "mass_storage", true.into());
        }
    }
}

/// Carries each device's lines together within one input (see the module documentation).
/// State is per (host name, bus path) and per (host name, SCSI host); bounded by
/// [`UsbCorrelator::MAX_DEVICES`].
#[derive(Debug, Default)]
pub struct UsbCorrelator {
    devices: HashMap<(String, String), Device>,
    scsi: HashMap<(String, u32), String>,
    /// (host name, disk `sdb`) → bus path, from the removable disk line.
    disks: HashMap<(String, String), String>,
}

impl UsbCorrelator {
    /// Devices remembered at most (a host has a few dozen ports).
    pub const MAX_DEVICES: usize = 4096;

    /// Updates the state from an (already enriched) kernel document and completes it.
    pub fn observe(&mut self, doc: &mut Map<String, Value>) {
        if !is_kernel(doc) {
            return;
        }
        let Some(m) = message(doc).map(str::to_owned) else { return };
        let Some(line) = parse_kernel_usb(&m) else { return };
        let host = doc.get("host").and_then(|h| h.get("name")).and_then(Value::as_str).unwrap_or_default().to_owned();
        if self.devices.len() > Self::MAX_DEVICES {
            self.devices.clear();
            self.scsi.clear();
            self.disks.clear();
        }
        let key = |bp: &str| (host.clone(), bp.to_owned());
        match line {
            UsbLine::NewDevice { bus_path, speed, .. } => {
                // A new device on the port: forget the old one.
                self.devices.insert(key(bus_path), Device { speed: speed.map(str::to_owned), ..Device::default() });
            }
            UsbLine::Ids { bus_path, vendor, product } => {
                let d = self.devices.entry(key(bus_path)).or_default();
                d.vendor = Some(vendor);
                d.product = Some(product);
            }
            UsbLine::Strings { bus_path, present } => {
                let d = self.devices.entry(key(bus_path)).or_default();
                d.expected = Some(present);
                if d.complete() && !d.announced {
                    // A device without any strings: this line completes it.
                    d.announced = true;
                    let d = d.clone();
                    d.write(doc);
                    event(doc, "usb-device-connected", "start");
                }
            }
            UsbLine::Descriptor { bus_path, which, value } => {
                let d = self.devices.entry(key(bus_path)).or_default();
                match which {
                    "Product" => d.name = Some(value.to_owned()),
                    "Manufacturer" => d.manufacturer = Some(value.to_owned()),
                    _ => d.serial = Some(value.to_owned()),
                }
                if d.complete() && !d.announced {
                    d.announced = true;
                    let d = d.clone();
                    d.write(doc);
                    event(doc, "usb-device-connected", "start");
                }
            }
            UsbLine::MassStorage { bus_path } => {
                if let Some(d) = self.devices.get_mut(&key(bus_path)) {
                    d.mass_storage = true;
                    let d = d.clone();
                    d.write(doc);
                }
            }
            UsbLine::ScsiHost { host: h, bus_path } => {
                self.scsi.insert((host.clone(), h), bus_path.to_owned());
                if let Some(d) = self.devices.get_mut(&key(bus_path)) {
                    d.mass_storage = true;
                }
            }
            UsbLine::RemovableDisk { host: h, disk } => {
                if let Some(bp) = self.scsi.get(&(host.clone(), h)).cloned() {
                    usb_set(doc, "bus_path", bp.clone().into());
                    if let Some(d) = self.devices.get(&key(&bp)) {
                        d.write(doc);
                    }
                    self.disks.insert((host.clone(), disk.to_owned()), bp);
                }
            }
            UsbLine::Mounted { device, fs } | UsbLine::Unmounted { device, fs } => {
                let mounted = matches!(line, UsbLine::Mounted { .. });
                // `sdb1` is a partition of `sdb`.
                let disk = device.trim_end_matches(|c: char| c.is_ascii_digit());
                if let Some(bp) = self.disks.get(&(host.clone(), disk.to_owned())).cloned() {
                    usb_set(doc, "bus_path", bp.clone().into());
                    usb_set(doc, "disk", disk.into());
                    usb_set(doc, "mounted_device", device.into());
                    usb_set(doc, "fs_type", fs.into());
                    usb_set(doc, "mass_storage", true.into());
                    if let Some(d) = self.devices.get(&key(&bp)) {
                        d.write(doc);
                    }
                    if mounted {
                        event(doc, "usb-storage-mounted", "access");
                    } else {
                        event(doc, "usb-storage-unmounted", "end");
                    }
                }
            }
            UsbLine::NotAuthorized { bus_path } | UsbLine::Authorized { bus_path } => {
                if let Some(d) = self.devices.get(&key(bus_path)) {
                    d.write(doc);
                }
            }
            UsbLine::Disconnect { bus_path } => {
                if let Some(d) = self.devices.remove(&key(bus_path)) {
                    d.write(doc);
                }
                let gone = |hh: &String, bp: &String| hh == &host && (bp == bus_path || bp.starts_with(&format!("{bus_path}.")));
                self.scsi.retain(|(hh, _), bp| !gone(hh, bp));
                self.disks.retain(|(hh, _), bp| !gone(hh, bp));
            }
            UsbLine::Other { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shapes() {
        assert_eq!(
            parse_kernel_usb("[ 12.5] usb 1-1: New USB device found, idVendor=0781, idProduct=5567, bcdDevice= 1.00"),
            Some(UsbLine::Ids { bus_path: "1-1", vendor: "0781".into(), product: "5567".into() })
        );
        assert_eq!(parse_kernel_usb("sd 6:0:0:0: [sdb] Attached SCSI removable disk"), Some(UsbLine::RemovableDisk { host: 6, disk: "sdb" }));
        assert_eq!(parse_kernel_usb("scsi host6: usb-storage 1-1.2:1.0"), Some(UsbLine::ScsiHost { host: 6, bus_path: "1-1.2" }));
        assert_eq!(parse_kernel_usb("usb usb1: New USB device found, idVendor=1d6b"), None);
        assert_eq!(parse_kernel_usb("EXT4-fs (vda1): recovery complete"), None);
        assert_eq!(
            parse_kernel_usb("EXT4-fs (sda1): mounted filesystem 0b6f-1 with ordered data mode. Quota mode: none."),
            Some(UsbLine::Mounted { device: "sda1", fs: "ext4" })
        );
        assert_eq!(
            parse_kernel_usb("usb 2-1: new SuperSpeed USB device number 2 using xhci_hcd"),
            Some(UsbLine::NewDevice { bus_path: "2-1", number: Some(2), speed: Some("SuperSpeed") })
        );
        assert_eq!(parse_kernel_usb("EXT4-fs (sda): unmounting filesystem."), Some(UsbLine::Unmounted { device: "sda", fs: "ext4" }));
        assert_eq!(parse_kernel_usb("usb 1-3: Device is not authorized for usage"), Some(UsbLine::NotAuthorized { bus_path: "1-3" }));
        assert_eq!(parse_kernel_usb("usb 2-2: authorized to connect"), Some(UsbLine::Authorized { bus_path: "2-2" }));
    }
}
