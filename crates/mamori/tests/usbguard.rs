//! The USBGuard rule file generated from the USB 管理台帳 (`mamori_directory::usbguard_rules`),
//! checked with Debian's real USBGuard tooling (package `usbguard`, installed by
//! `scripts/test.sh`).
//!
//! 1. `usbguard-rule-parser -f <file>` — the rule parser shipped with the package, the same
//!    library code (`libusbguard`) the daemon uses. It exits 0 only if every line parses, and
//!    echoes each rule back in canonical form; the test checks that the serials it read back
//!    are the ones registered (spaces, quotes, backslashes, tabs and Japanese text escaped as
//!    the parser itself writes them).
//! 2. `usbguard-daemon -d -k -P -c <temp conf>` with `RuleFile=<our file>` and
//!    `ImplicitPolicyTarget=block`: the daemon loads the rule file (log line
//!    `Configuration loaded successfully.`), then tries to enumerate `/sys/bus/usb/devices`. This
//!    step only runs where that directory does NOT exist (containers without a USB bus), where
//!    the daemon exits right after loading the rules; on a machine with USB devices the daemon
//!    would start enforcing a policy on the host, so the step is skipped there and the rule
//!    parser alone is the check.
//!
//! Both checks are also run on deliberately broken files (a rule naive quoting would produce,
//! a 3-digit product ID, an escape USBGuard does not know) and must reject them, so the test
//! can fail.

use chrono::NaiveDate;
use mamori_directory::{Owner, UsbKind, UsbRecord, UsbRegistry, UsbStatus, usbguard_rules};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn which(p: &str) -> Option<String> {
    for dir in [
        "/usr/bin",
        "/usr/sbin",
        "/bin",
        "/sbin",
        "/usr/local/bin",
        "/usr/local/sbin",
    ] {
        let f = format!("{dir}/{p}");
        if Path::new(&f).exists() {
            return Some(f);
        }
    }
    None
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn reg(
    id: &str,
    v: &str,
    p: &str,
    serial: &str,
    kind: UsbKind,
    owner: Owner,
    note: &str,
) -> UsbRecord {
    UsbRecord::Registered {
        id: id.into(),
        vendor_id: v.into(),
        product_id: p.into(),
        serial: serial.into(),
        kind,
        owner,
        date: d("2023-04-01"),
        note: note.into(),
    }
}

/// (管理番号, serial) of the devices that must be allowed, and the registry.
fn registry() -> (UsbRegistry, Vec<(&'static str, &'static str)>) {
    let allowed = vec![
        ("USB-001", "4C530001 2301 "),
        ("USB-002", r#"AB"12\34"#),
        ("USB-003", "シリアル\t７"),
        ("USB-\"005\"", "plain"),
    ];
    let mut records = vec![
        reg(
            "USB-001",
            "0781",
            "5567",
            allowed[0].1,
            UsbKind::Secure,
            Owner::Department("0101".into()),
            "総務課共用\n金庫保管 \"注意\" \\",
        ),
        reg(
            "USB-002",
            "090C",
            "1000",
            allowed[1].1,
            UsbKind::Encrypted,
            Owner::Person("12345".into()),
            "",
        ),
        reg(
            "USB-003",
            "0951",
            "1666",
            allowed[2].1,
            UsbKind::Secure,
            Owner::Person("職員 23456".into()),
            "「髙橋」さん # not a rule",
        ),
        reg(
            "USB-004",
            "0781",
            "5581",
            "LOST-1",
            UsbKind::Ordinary,
            Owner::Department("0202".into()),
            "",
        ),
        reg(
            allowed[3].0,
            "abcd",
            "0001",
            allowed[3].1,
            UsbKind::Secure,
            Owner::Department("0303".into()),
            "",
        ),
    ];
    records.push(UsbRecord::StatusChanged {
        id: "USB-004".into(),
        status: UsbStatus::Lost,
        date: d("2024-01-10"),
        note: "紛失".into(),
    });
    (UsbRegistry::replay(&records).unwrap(), allowed)
}

/// Runs `usbguard-rule-parser -f file`: (success, stdout, stderr).
fn rule_parser(file: &Path) -> (bool, String, String) {
    let bin = which("usbguard-rule-parser").expect(
        "usbguard-rule-parser is not installed: run ./scripts/test.sh, which installs usbguard",
    );
    let out = Command::new(bin).arg("-f").arg(file).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Starts `usbguard-daemon` on a temp config using `rules`; returns its log, or None when the
/// daemon must not be run here (a USB bus exists).
fn daemon_load(dir: &Path, name: &str, rules: &Path) -> Option<String> {
    if Path::new("/sys/bus/usb/devices").exists() {
        return None;
    }
    let bin =
        which("usbguard-daemon").expect("usbguard-daemon is not installed: run ./scripts/test.sh");
    let conf = dir.join(format!("{name}-daemon.conf"));
    std::fs::write(
        &conf,
        format!(
            "RuleFile={}\nImplicitPolicyTarget=block\nPresentDevicePolicy=keep\nPresentControllerPolicy=keep\n\
             InsertedDevicePolicy=apply-policy\nIPCAllowedUsers=root\nDeviceManagerBackend=uevent\n\
             AuditBackend=FileAudit\nAuditFilePath={}\n",
            rules.display(),
            dir.join(format!("{name}-audit.log")).display()
        ),
    )
    .unwrap();
    let log = dir.join(format!("{name}-daemon.log"));
    let mut child = Command::new(bin)
        .args(["-d", "-k", "-P", "-c"])
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(dir.join(format!("{name}-daemon.err"))).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(15) {
            child.kill().unwrap();
            child.wait().unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut text = std::fs::read_to_string(&log).unwrap_or_default();
    text.push_str(
        &std::fs::read_to_string(dir.join(format!("{name}-daemon.err"))).unwrap_or_default(),
    );
    Some(text)
}

#[test]
fn generated_rules_are_accepted_by_usbguard_and_broken_ones_rejected() {
    let (registry, allowed) = registry();
    let text = usbguard_rules(&registry, d("2024-04-01"));
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("rules.conf");
    std::fs::write(&file, &text).unwrap();

    // 1. The rule parser accepts the file and reads back the registered serials.
    let (ok, stdout, stderr) = rule_parser(&file);
    assert!(
        ok,
        "usbguard-rule-parser rejected the generated rules:\n{stderr}\n{stdout}\n--- file ---\n{text}"
    );
    let rules: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("OUTPUT: "))
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(rules.len(), allowed.len() + 1, "{stdout}");
    assert_eq!(
        *rules.last().unwrap(),
        "block with-interface one-of { 08:*:* }"
    );
    for (id, serial) in &allowed {
        let want_serial = format!("serial \"{}\"", mamori_directory::usbguard_escape(serial));
        let want_label = format!("label \"{}\"", mamori_directory::usbguard_escape(id));
        assert!(
            rules.iter().any(|r| r.starts_with("allow id ")
                && r.contains(&want_serial)
                && r.contains(&want_label)),
            "no allow rule for {id} with {want_serial} in {rules:#?}"
        );
    }
    assert!(
        !stdout.contains("LOST-1"),
        "a lost device must not be allowed"
    );
    assert!(text.contains("\"注意\""), "notes stay readable in comments");

    // 2. The broken variants are rejected by the same tool.
    let broken = [
        // What naive quoting of the serial AB"12\34 would produce.
        (
            "naive-quotes",
            text.replace(r#"serial "AB\"12\\34""#, r#"serial "AB"12\34""#),
        ),
        (
            "short-id",
            format!("{text}allow id 0781:556 serial \"x\"\n"),
        ),
        (
            "unknown-escape",
            format!("{text}allow id 0781:5567 serial \"a\\tb\"\n"),
        ),
        (
            "newline-in-comment",
            text.replacen("# USB-001", "# USB-001\n総務課", 1),
        ),
    ];
    for (name, bad) in &broken {
        assert_ne!(bad, &text, "{name}: the corruption did not apply");
        let f = tmp.path().join(format!("{name}.conf"));
        std::fs::write(&f, bad).unwrap();
        let (ok, stdout, stderr) = rule_parser(&f);
        assert!(
            !ok,
            "{name}: usbguard-rule-parser accepted a broken file:\n{stdout}"
        );
        assert!(
            stderr.contains("RuleParserError") || stderr.contains("ERROR"),
            "{name}: {stderr}"
        );
    }

    // 3. The daemon itself loads the file (only where there is no USB bus; see the module doc).
    match daemon_load(tmp.path(), "good", &file) {
        None => eprintln!("/sys/bus/usb/devices exists: daemon check skipped, rule parser only"),
        Some(log) => {
            assert!(
                log.contains("Configuration loaded successfully"),
                "daemon did not load the rules:\n{log}"
            );
            assert!(!log.contains("(E) Rules:"), "{log}");
            let appended = log.matches("appendRule parent").count();
            assert_eq!(
                appended,
                allowed.len() + 1,
                "rules loaded by the daemon:\n{log}"
            );
            let bad = tmp.path().join("naive-quotes.conf");
            let log = daemon_load(tmp.path(), "bad", &bad).unwrap();
            assert!(
                log.contains("(E) Rules:"),
                "daemon accepted a broken rule file:\n{log}"
            );
            assert!(!log.contains("Configuration loaded successfully"), "{log}");
        }
    }
}
