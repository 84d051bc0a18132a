//! Throughput of the auditd, auth (sshd/sudo/su/PAM/slapd), USBGuard, kernel-USB and
//! Winlogbeat-enrichment parsers on their (real or constructed) fixtures repeated to ~16 MiB:
//! `cargo run --release -p mamori-sources --example auth_usb_audit_bench`. One thread, input in
//! memory; MB/s = input bytes per second. Prints one Markdown table row per parser.

use std::time::Instant;

use chrono::{TimeZone, Utc};
use mamori_sources::format::correlate::LineCorrelator;
use mamori_sources::{SyslogContext, enrich_winlogbeat_doc, parse_auditd, parse_syslog};

const TARGET: usize = 16 << 20;

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/").to_owned() + rel).unwrap()
}

/// Repeats `base` to ~16 MiB; `fresh` rewrites each copy (e.g. new serials).
fn repeat(base: &[u8], fresh: impl Fn(&str, usize) -> String) -> Vec<u8> {
    let text = String::from_utf8_lossy(base).into_owned();
    let mut out = Vec::with_capacity(TARGET + base.len());
    let mut i = 0;
    while out.len() < TARGET {
        out.extend_from_slice(fresh(&text, i).as_bytes());
        i += 1;
    }
    out
}

fn row(name: &str, input: &str, bytes: usize, events: usize, secs: f64) {
    println!("| {name} | {input} | {:.1} | {:.0} |", bytes as f64 / secs / 1e6, events as f64 / secs);
}

fn syslog_run(body: &[u8]) -> (usize, f64) {
    let ctx = SyslogContext::new(Utc.with_ymd_and_hms(2026, 12, 2, 4, 0, 0).unwrap());
    let t = Instant::now();
    let mut corr = LineCorrelator::default();
    let mut n = 0;
    for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        if let Ok(mut d) = parse_syslog(line, &ctx) {
            corr.observe(&mut d);
            n += 1;
        }
    }
    (n, t.elapsed().as_secs_f64())
}

fn main() {
    // auditd: fresh serials per copy so events do not merge.
    // auditd: every serial prefixed with the copy number, so copies do not merge.
    let audit = {
        let base = String::from_utf8(fixture("auditd/auditd_3.0.9_enriched_watch.log")).unwrap();
        repeat(base.as_bytes(), |t, i| {
            t.lines()
                .map(|l| match l.split_once("):") {
                    Some((head, rest)) => match head.rsplit_once(':') {
                        Some((ts, serial)) => format!("{ts}:{i}{serial}):{rest}\n"),
                        None => format!("{l}\n"),
                    },
                    None => format!("{l}\n"),
                })
                .collect()
        })
    };
    let t = Instant::now();
    let ev = parse_auditd(&audit);
    let secs = t.elapsed().as_secs_f64();
    assert!(ev.iter().all(|r| r.is_ok()));
    row("auditd", "real auditd 3.0.9 ENRICHED log (file watch + execve) repeated, fresh serials, 16 MiB", audit.len(), ev.len(), secs);

    let auth = repeat(&fixture("auth/auth_debian12_rsyslog.log"), |t, i| t.replace("conn=10", &format!("conn={i}0")));
    let (n, secs) = syslog_run(&auth);
    row("auth", "real sshd/sudo/su/PAM/slapd auth.log repeated, 16 MiB: `parse_syslog` + slapd/USB correlator", auth.len(), n, secs);

    let kern = repeat(&fixture("usb/qemu/kern-traditional.log"), |t, _| t.to_owned());
    let (n, secs) = syslog_run(&kern);
    row("kernel-usb", "real Linux 6.1 kern.log under QEMU (boot + USB plug/unplug, traditional rsyslog format) repeated, 16 MiB: `parse_syslog` + correlator", kern.len(), n, secs);

    let ug = repeat(&fixture("usbguard/qemu/usbguard-audit.log"), |t, _| t.to_owned());
    let t = Instant::now();
    let ev = mamori_sources::format::usbguard::parse_usbguard(&ug);
    let secs = t.elapsed().as_secs_f64();
    row("usbguard", "real usbguard-daemon 1.1.2 audit log under QEMU (block, allow-device, remove) repeated, 16 MiB", ug.len(), ev.len(), secs);

    let wb = repeat(&fixture("windows/winlogbeat_usb_constructed.ndjson"), |t, _| t.to_owned());
    let docs: Vec<serde_json::Map<String, serde_json::Value>> = wb.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).unwrap()).collect();
    let t = Instant::now();
    let mut n = 0;
    for mut d in docs {
        enrich_winlogbeat_doc(&mut d);
        n += 1;
    }
    let secs = t.elapsed().as_secs_f64();
    row("winlogbeat", "Winlogbeat USB documents (constructed), `enrich_winlogbeat_doc` only (JSON already parsed), 16 MiB", wb.len(), n, secs);
}
