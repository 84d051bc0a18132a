//! Property-style tests: arbitrary and mutated input never panics, and the
//! framing/parsing invariants hold on it. Deterministic (fixed seeds), so a
//! failure reproduces.

use std::path::PathBuf;

use chrono::{FixedOffset, TimeZone, Utc};
use mamori_sources::{
    Framer, FramingError, FramingMode, SyslogContext, parse_ndjson, parse_syslog,
};

/// xorshift64*: tiny, deterministic, good enough to spray bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        // Bias towards bytes that matter to the parsers.
        const INTERESTING: &[u8] = b"<>[]=\" \\-:0123456789\n\r\0T.Z+JanFebOct\xEF\xBB\xBF\x80\xFF";
        (0..len)
            .map(|_| {
                if self.below(2) == 0 {
                    INTERESTING[self.below(INTERESTING.len())]
                } else {
                    self.next() as u8
                }
            })
            .collect()
    }
}

fn corpus() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/syslog");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        out.extend(
            bytes
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec),
        );
    }
    assert!(out.len() > 20);
    out
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(4) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.bytes(1)[0];
            }
            1 => {
                let i = rng.below(v.len() + 1);
                let n = rng.below(8) + 1;
                let ins = rng.bytes(n);
                v.splice(i..i, ins);
            }
            2 if !v.is_empty() => {
                let i = rng.below(v.len());
                let j = (i + rng.below(8)).min(v.len());
                v.drain(i..j);
            }
            _ => v.truncate(rng.below(v.len() + 1)),
        }
    }
    v
}

fn ctx() -> SyslogContext {
    SyslogContext {
        received: Utc.with_ymd_and_hms(2024, 12, 31, 23, 59, 59).unwrap(),
        peer: None,
        default_offset: Some(FixedOffset::east_opt(9 * 3600).unwrap()),
        frame_offset: Some(7),
    }
}

#[test]
fn syslog_never_panics_and_ok_docs_are_complete() {
    let mut rng = Rng(0x5EED_0001);
    let corpus = corpus();
    let mut inputs: Vec<Vec<u8>> = (0..3000)
        .map(|_| {
            let n = rng.below(200);
            rng.bytes(n)
        })
        .collect();
    for _ in 0..5000 {
        let base = &corpus[rng.below(corpus.len())];
        inputs.push(mutate(&mut rng, base));
    }
    let (mut ok, mut err) = (0, 0);
    for input in &inputs {
        match parse_syslog(input, &ctx()) {
            Ok(doc) => {
                ok += 1;
                let ts = doc["@timestamp"].as_str().expect("@timestamp");
                assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");
                let pri = doc["log"]["syslog"]["priority"].as_u64().unwrap();
                assert!(pri <= 191);
                assert_eq!(doc["log"]["offset"], 7);
                let original = doc["event"]["original"].as_str().unwrap();
                assert_eq!(original, String::from_utf8_lossy(input));
                let flagged = doc
                    .get("mamori")
                    .and_then(|m| m["syslog"].get("invalid_utf8"))
                    .is_some();
                assert_eq!(flagged, std::str::from_utf8(input).is_err(), "{input:?}");
            }
            Err(e) => {
                err += 1;
                assert!(e.offset <= input.len(), "{e} for {input:?}");
                assert_eq!(e.frame_offset, Some(7));
            }
        }
    }
    // The mix must exercise both paths.
    assert!(ok > 1000 && err > 100, "ok={ok} err={err}");
}

#[test]
fn framer_never_panics_and_frames_point_into_the_stream() {
    let mut rng = Rng(0x5EED_0002);
    let corpus = corpus();
    for round in 0..400 {
        let mut stream = Vec::new();
        for _ in 0..rng.below(10) {
            match rng.below(3) {
                0 => {
                    let l = &corpus[rng.below(corpus.len())];
                    stream.extend_from_slice(format!("{} ", l.len()).as_bytes());
                    stream.extend_from_slice(l);
                }
                1 => {
                    stream.extend_from_slice(&corpus[rng.below(corpus.len())]);
                    stream.push(b'\n');
                }
                _ => {
                    let n = rng.below(100);
                    stream.extend(rng.bytes(n));
                }
            }
        }
        let mode = [
            FramingMode::Auto,
            FramingMode::OctetCounting,
            FramingMode::NewlineDelimited,
        ][round % 3];
        let max = [16, 300, 64 * 1024][rng.below(3)];
        let mut f = Framer::with_max_frame_length(mode, max);
        let mut pos = 0;
        let mut results = Vec::new();
        while pos < stream.len() {
            let n = (rng.below(40) + 1).min(stream.len() - pos);
            f.push(&stream[pos..pos + n]);
            pos += n;
            results.extend(std::iter::from_fn(|| f.next_frame()));
        }
        let end = f.finish();
        results.extend(std::iter::from_fn(|| f.next_frame()));
        let mut last_offset = 0;
        for r in &results {
            match r {
                Ok(fr) => {
                    assert!(fr.data.len() <= max);
                    assert!(!fr.data.is_empty());
                    let at = fr.offset as usize;
                    assert_eq!(&stream[at..at + fr.data.len()], &fr.data[..]);
                    assert!(fr.offset >= last_offset, "frames in stream order");
                    last_offset = fr.offset;
                }
                Err(e) => {
                    let at = e.offset() as usize;
                    assert!(at <= stream.len());
                    assert_eq!(&stream[at..at + e.bytes().len()], e.bytes());
                }
            }
        }
        if let Err(e) = end {
            assert!(matches!(e, FramingError::Truncated { .. }));
            let at = e.offset() as usize;
            assert_eq!(&stream[at..], e.bytes(), "truncated error carries the tail");
        }
    }
}

#[test]
fn ndjson_never_panics_and_errors_carry_their_line() {
    let mut rng = Rng(0x5EED_0003);
    let good = br#"{"a":{"b":[1,2,{"c":"\u65e5"}]},"d":null}"#;
    for _ in 0..3000 {
        let mut body = Vec::new();
        for _ in 0..rng.below(6) {
            let line = if rng.below(2) == 0 {
                mutate(&mut rng, good)
            } else {
                let n = rng.below(60);
                rng.bytes(n)
            };
            body.extend(line);
            body.push(b'\n');
        }
        for r in parse_ndjson(&body, 50) {
            if let Err(e) = r {
                assert_eq!(&body[e.offset..e.offset + e.raw.len()], &e.raw[..]);
                assert!(e.line >= 1);
            }
        }
    }
}
