//! Throughput of the Postfix, Squid and CUPS parsers (plain `main`, `harness = false`).
//!
//! Input: the real programs' logs under tests/fixtures/{postfix,squid,cups}, repeated until
//! about BENCH_MB (default 32) MiB; for Postfix each copy gets fresh queue ids so the
//! correlator really tracks that many messages. Measured: Postfix `parse_syslog` (which
//! enriches the line) + `MailCorrelator::push`/`finish`; Squid `parse_squid_line` on the
//! native and the combined file; CUPS `parse_page_log_line` and `parse_access_log_line`.
//! One thread, best of three runs. Run: `cargo bench -p mamori-sources --bench mail_proxy_print`.
//! Numbers are written up in docs/benchmarks.md and docs/sources/{postfix,squid,cups}.md.

use std::path::PathBuf;
use std::time::Instant;

use chrono::Utc;
use mamori_sources::{
    LinePos, MailCorrelator, SyslogContext, parse_access_log_line, parse_page_log_line,
    parse_squid_line, parse_syslog,
};

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(rel),
    )
    .unwrap()
}

fn repeat_to(base: &[u8], bytes: usize, mut vary: impl FnMut(usize, &[u8]) -> Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + base.len());
    let mut i = 0;
    while out.len() < bytes {
        out.extend_from_slice(&vary(i, base));
        i += 1;
    }
    out
}

fn report(name: &str, bytes: usize, events: usize, secs: f64) {
    println!(
        "{name:<28} {:>8.1} MB/s {:>10.0} lines/s  ({} lines, {:.1} MiB, {:.3} s)",
        bytes as f64 / 1e6 / secs,
        events as f64 / secs,
        events,
        bytes as f64 / (1024.0 * 1024.0),
        secs
    );
}

fn best_of_3(mut f: impl FnMut() -> usize) -> (usize, f64) {
    let mut best = f64::MAX;
    let mut n = 0;
    for _ in 0..3 {
        let t = Instant::now();
        n = f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    (n, best)
}

fn lines_of(b: &[u8]) -> impl Iterator<Item = &[u8]> {
    b.split(|&c| c == b'\n').filter(|l| !l.is_empty())
}

fn main() {
    let mb: usize = std::env::var("BENCH_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32);
    let size = mb * 1024 * 1024;

    // Postfix: queue ids (11 upper-hex chars in this log) replaced per copy.
    let maillog = fixture("postfix/maillog_3.7");
    let text = String::from_utf8(maillog.clone()).unwrap();
    let ids = ["D33619B01C0", "DDCE09B01CC", "EC8649B01D3"];
    let input = repeat_to(&maillog, size, |i, _| {
        let mut t = text.clone();
        for (k, id) in ids.iter().enumerate() {
            t = t.replace(
                id,
                &format!("{:X}", 0x0100_0000_0000_u64 + (i as u64) * 4 + k as u64),
            );
        }
        t.into_bytes()
    });
    let ctx = SyslogContext::new(Utc::now());
    let (n, secs) = best_of_3(|| {
        let mut c = MailCorrelator::new();
        let mut n = 0;
        let mut messages = 0;
        for l in lines_of(&input) {
            let d = parse_syslog(l, &ctx).unwrap();
            messages += c.push(&d).len();
            n += 1;
        }
        messages += c.finish().len();
        assert!(messages > 0);
        n
    });
    report("postfix (parse+correlate)", input.len(), n, secs);
    let (n, secs) = best_of_3(|| {
        lines_of(&input)
            .filter(|l| parse_syslog(l, &ctx).is_ok())
            .count()
    });
    report("postfix (parse only)", input.len(), n, secs);

    for name in ["squid/access_native.log", "squid/access_combined.log"] {
        let input = repeat_to(&fixture(name), size, |_, b| b.to_vec());
        let (n, secs) = best_of_3(|| {
            lines_of(&input)
                .filter(|l| parse_squid_line(l, LinePos::default()).is_ok())
                .count()
        });
        report(name, input.len(), n, secs);
    }
    let input = repeat_to(&fixture("cups/page_log"), size, |_, b| b.to_vec());
    let (n, secs) = best_of_3(|| {
        lines_of(&input)
            .filter(|l| parse_page_log_line(l, LinePos::default()).is_ok())
            .count()
    });
    report("cups/page_log", input.len(), n, secs);
    let input = repeat_to(&fixture("cups/access_log"), size, |_, b| b.to_vec());
    let (n, secs) = best_of_3(|| {
        lines_of(&input)
            .filter(|l| parse_access_log_line(l, LinePos::default()).is_ok())
            .count()
    });
    report("cups/access_log", input.len(), n, secs);
}
