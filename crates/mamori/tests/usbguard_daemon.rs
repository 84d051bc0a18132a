//! The real USBGuard daemon producing device events here, although this machine has no USB bus:
//! Debian's `usbguard-daemon` 1.1.2 is built with USBGuard's umockdev device manager
//! (`DeviceManagerBackend=umockdev`, libusbguard1 links libumockdev0), which reads recorded
//! sysfs device trees from `$USBGUARD_UMOCKDEV_DEVICEDIR` and runs the daemon's normal device and
//! policy code on them inside `umockdev-wrapper` (package `umockdev`). This is how USBGuard's
//! own test suite runs the daemon (src/Tests/UseCase/003_cli_devices_umockdev.sh).
//!
//! The device tree is `crates/sources/tests/fixtures/usbguard/umockdev/thinkpad-dock.umockdev`,
//! recorded with `umockdev-record` from a real ThinkPad with a dock, camera, hub, trackball and
//! keyboard; copied unchanged from USBGuard/usbguard `src/Tests/UseCase/devices.umockdev`
//! (commit 1477faad28a5a43b3f7bc106d529d89f3913eac3, GPL-2.0-or-later).
//!
//! What the daemon writes is real: its audit log (`AuditBackend=FileAudit`) and `usbguard watch`
//! over its IPC while an officer allows a blocked device with `usbguard allow-device`. mamori must
//! ingest every line of both (nothing quarantined) into the right device events.
//!
//! Not possible here: insert/remove. The umockdev backend turns a new file in the device
//! directory into a uevent from its own device thread, and in this container that send fails
//! (`uevent_sender sendmsg_one: sendmsg failed: Resource temporarily unavailable`), so hot-plug
//! events stay covered by the constructed fixtures of crates/sources/tests/fixtures/usbguard.

mod common;

use common::{mamori, run_ok};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn which(p: &str) -> Option<String> {
    ["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin", "/usr/local/sbin"].iter().map(|d| format!("{d}/{p}")).find(|f| Path::new(f).exists())
}

/// Kills a child when dropped (a failing assertion must not leave the daemon running).
struct Guard(std::process::Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ok() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn search(data: &Path, q: &str) -> Vec<serde_json::Value> {
    run_ok(mamori().args(["search", "--json", "--limit", "500", "--q", q, "--data"]).arg(data))
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].clone())
        .collect()
}

#[test]
fn usbguard_daemon_under_umockdev_audits_devices_and_an_officers_allow() {
    let daemon = which("usbguard-daemon").expect("usbguard-daemon is not installed: run ./scripts/test.sh (package usbguard)");
    let cli = which("usbguard").expect("usbguard is not installed: run ./scripts/test.sh");
    let wrapper = which("umockdev-wrapper").expect("umockdev-wrapper is not installed: run ./scripts/test.sh (package umockdev)");
    let me = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap().trim().to_owned();

    let tmp = tempfile::tempdir().unwrap();
    let devs = tmp.path().join("devices");
    std::fs::create_dir(&devs).unwrap();
    let tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sources/tests/fixtures/usbguard/umockdev/thinkpad-dock.umockdev");
    std::fs::copy(&tree, devs.join("thinkpad-dock.umockdev")).unwrap();
    let audit = tmp.path().join("usbguard-audit.log");
    let rules = tmp.path().join("rules.conf");
    // Hubs are allowed; everything else is blocked (ImplicitPolicyTarget), as a city's
    // policy for PCs would start.
    std::fs::write(&rules, "allow with-interface equals { 09:00:* }\n").unwrap();
    let conf = tmp.path().join("usbguard-daemon.conf");
    std::fs::write(
        &conf,
        format!(
            "RuleFile={}\nImplicitPolicyTarget=block\nPresentDevicePolicy=apply-policy\nPresentControllerPolicy=allow\nInsertedDevicePolicy=apply-policy\n\
             RestoreControllerDeviceState=false\nDeviceManagerBackend=umockdev\nIPCAllowedUsers={me}\nDeviceRulesWithPort=false\nAuditBackend=FileAudit\nAuditFilePath={}\n",
            rules.display(),
            audit.display()
        ),
    )
    .unwrap();
    let daemon_log = std::fs::File::create(tmp.path().join("daemon.out")).unwrap();
    let _daemon = Guard(
        Command::new(&wrapper)
            .args([daemon.as_str(), "-d", "-k", "-P", "-c"])
            .arg(&conf)
            .env("USBGUARD_UMOCKDEV_DEVICEDIR", &devs)
            .stdout(Stdio::from(daemon_log.try_clone().unwrap()))
            .stderr(Stdio::from(daemon_log))
            .spawn()
            .unwrap(),
    );
    let read_audit = || std::fs::read_to_string(&audit).unwrap_or_default();
    // Seven devices in the tree; the keyboard sits behind the hub the policy blocks, so six are
    // present, each followed by its policy decision.
    wait_for("the daemon's audit of the recorded devices", || read_audit().lines().filter(|l| l.contains("type='Policy.Device.Update'")).count() >= 6);

    let watch_out = tmp.path().join("usbguard-watch.txt");
    let _watch = Guard(Command::new(&cli).arg("watch").stdout(Stdio::from(std::fs::File::create(&watch_out).unwrap())).stderr(Stdio::null()).spawn().unwrap());
    wait_for("usbguard watch to connect", || std::fs::read_to_string(&watch_out).unwrap_or_default().contains("Connected"));

    // An officer allows the blocked trackball.
    let list = String::from_utf8(Command::new(&cli).arg("list-devices").output().unwrap().stdout).unwrap();
    let trackball = list.lines().find(|l| l.contains("Kensington Eagle Trackball")).expect("trackball listed");
    assert!(trackball.contains(": block id 047d:2048"), "{list}");
    let id = trackball.split(':').next().unwrap().trim();
    let st = Command::new(&cli).args(["allow-device", id]).status().unwrap();
    assert!(st.success());
    wait_for("the allow in the audit log", || read_audit().lines().any(|l| l.contains("047d:2048") && l.contains("target.new='allow'") && l.contains("target.old='block'")));
    wait_for("the allow in usbguard watch", || std::fs::read_to_string(&watch_out).unwrap_or_default().contains("target_new=allow"));
    drop(_watch);
    drop(_daemon);

    let data = tmp.path().join("d");
    run_ok(mamori().args(["init", "--data"]).arg(&data));
    let lines = read_audit().lines().count();
    let out = run_ok(mamori().args(["ingest", "--format", "usbguard", "--data"]).arg(&data).arg(&audit).arg(&watch_out));
    assert!(out.contains("quarantined 0") || !out.contains("quarantined"), "every real line parses: {out}");

    let cam = search(&data, "Integrated Camera");
    let present = cam.iter().find(|d| d["event"]["action"] == "usb-device-present").expect("camera present");
    assert_eq!(present["mamori"]["usb"]["vendor_id"], "5986");
    assert_eq!(present["mamori"]["usb"]["product_id"], "0706");
    assert_eq!(present["mamori"]["usb"]["via_port"], "1-8");
    assert!(cam.iter().any(|d| d["event"]["action"] == "usb-device-blocked" && d["mamori"]["usb"]["target"] == "block"), "{cam:?}");

    let tb = search(&data, "Kensington Eagle Trackball");
    let allowed: Vec<_> = tb.iter().filter(|d| d["event"]["action"] == "usb-device-allowed").collect();
    assert!(!allowed.is_empty(), "{tb:?}");
    assert!(allowed.iter().any(|d| d["mamori"]["usb"]["target_old"] == "block" && d["user"]["id"].is_string()), "{allowed:?}");
    // The audit log's lines are all there (each line one event), plus the watch blocks.
    let all = search(&data, "usbguard");
    assert!(all.len() >= lines, "{} events for {lines} audit lines", all.len());
}
