//! Stream-level framing tests: the same frames whatever the read boundaries.

use std::path::PathBuf;

use mamori_sources::{Frame, Framer, FramingError, FramingMode};

fn fixture_lines() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/syslog");
    let mut lines = Vec::new();
    for name in [
        "rsyslog_protocol23.log",
        "rsyslog_traditional.log",
        "samba_full_audit.log",
        "shift_jis.log",
    ] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        lines.extend(
            bytes
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec),
        );
    }
    lines
}

/// LF-framed stream, one line with CRLF and one with a NUL trailer.
fn lf_stream(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut s = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        s.extend_from_slice(l);
        s.extend_from_slice(match i % 3 {
            0 => b"\n",
            1 => b"\r\n",
            _ => b"\0",
        });
    }
    s
}

/// Octet-counted stream; includes a message with an embedded LF.
fn octet_stream(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut s = Vec::new();
    for l in lines {
        s.extend_from_slice(format!("{} ", l.len()).as_bytes());
        s.extend_from_slice(l);
    }
    let multi = "<13>1 2024-04-01T09:00:00+09:00 h app - - - 一行目\n二行目".as_bytes();
    s.extend_from_slice(format!("{} ", multi.len()).as_bytes());
    s.extend_from_slice(multi);
    s
}

type Outcome = (Vec<Result<Frame, FramingError>>, Result<(), FramingError>);

fn decode_chunks(mode: FramingMode, max: usize, chunks: &[&[u8]]) -> Outcome {
    let mut f = Framer::with_max_frame_length(mode, max);
    let mut out = Vec::new();
    for c in chunks {
        f.push(c);
        while let Some(r) = f.next_frame() {
            out.push(r);
        }
    }
    let end = f.finish();
    while let Some(r) = f.next_frame() {
        out.push(r);
    }
    (out, end)
}

/// Splits at every byte boundary (two reads) and byte by byte; all must
/// equal the single-read result.
fn assert_split_invariant(mode: FramingMode, max: usize, stream: &[u8]) -> Outcome {
    let whole = decode_chunks(mode, max, &[stream]);
    for cut in 0..=stream.len() {
        let (a, b) = stream.split_at(cut);
        assert_eq!(decode_chunks(mode, max, &[a, b]), whole, "split at {cut}");
    }
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(decode_chunks(mode, max, &bytes), whole, "byte by byte");
    whole
}

#[test]
fn lf_stream_split_anywhere_gives_same_frames() {
    let lines = fixture_lines();
    let stream = lf_stream(&lines);
    let (frames, end) = assert_split_invariant(FramingMode::Auto, 64 * 1024, &stream);
    assert_eq!(end, Ok(()));
    let frames: Vec<Frame> = frames.into_iter().map(Result::unwrap).collect();
    assert_eq!(frames.len(), lines.len());
    for (fr, line) in frames.iter().zip(&lines) {
        assert_eq!(&fr.data, line);
        // The offset points at the frame in the stream.
        let at = fr.offset as usize;
        assert_eq!(&stream[at..at + fr.data.len()], &line[..]);
    }
}

#[test]
fn octet_stream_split_anywhere_gives_same_frames() {
    let lines = fixture_lines();
    let stream = octet_stream(&lines);
    let (frames, end) = assert_split_invariant(FramingMode::Auto, 64 * 1024, &stream);
    assert_eq!(end, Ok(()));
    let frames: Vec<Frame> = frames.into_iter().map(Result::unwrap).collect();
    assert_eq!(frames.len(), lines.len() + 1);
    for (fr, line) in frames.iter().zip(&lines) {
        assert_eq!(&fr.data, line);
        let at = fr.offset as usize;
        assert_eq!(&stream[at..at + fr.data.len()], &line[..]);
    }
    let last = String::from_utf8(frames.last().unwrap().data.clone()).unwrap();
    assert!(last.ends_with("一行目\n二行目"), "{last}");
}

#[test]
fn truncated_lf_stream_returns_tail_bytes_whatever_the_split() {
    let lines = fixture_lines();
    let mut stream = lf_stream(&lines);
    let tail_at = stream.len();
    stream.extend_from_slice("<13>Apr  1 09:00:00 h app: 途中で切".as_bytes());
    let (frames, end) = assert_split_invariant(FramingMode::NewlineDelimited, 1024, &stream);
    assert_eq!(frames.len(), lines.len());
    match end {
        Err(FramingError::Truncated {
            offset,
            expected,
            bytes,
        }) => {
            assert_eq!(offset, tail_at as u64);
            assert_eq!(expected, None);
            assert_eq!(bytes, &stream[tail_at..]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn truncated_octet_stream_returns_tail_bytes_whatever_the_split() {
    let lines = fixture_lines();
    let mut stream = octet_stream(&lines);
    let tail_at = stream.len();
    stream.extend_from_slice(b"100 <13>only part of it");
    let (frames, end) = assert_split_invariant(FramingMode::OctetCounting, 1024, &stream);
    assert!(frames.iter().all(Result::is_ok));
    assert_eq!(
        end,
        Err(FramingError::Truncated {
            offset: tail_at as u64,
            expected: Some(100),
            bytes: stream[tail_at..].to_vec(),
        })
    );
}

#[test]
fn oversized_lf_frame_is_skipped_and_stream_resyncs_whatever_the_split() {
    let mut stream = b"<13>ok one\n".to_vec();
    let big_at = stream.len();
    stream.extend(std::iter::repeat_n(b'x', 300));
    stream.extend_from_slice(b"\n<13>ok two\n");
    let (frames, end) = assert_split_invariant(FramingMode::Auto, 100, &stream);
    assert_eq!(end, Ok(()));
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[0].as_ref().unwrap().data, b"<13>ok one");
    match &frames[1] {
        Err(
            e @ FramingError::Oversized {
                offset,
                max,
                prefix,
            },
        ) => {
            assert_eq!(*offset, big_at as u64);
            assert_eq!(*max, 100);
            assert_eq!(prefix.len(), 100);
            assert!(!e.is_fatal());
        }
        other => panic!("{other:?}"),
    }
    let two = frames[2].as_ref().unwrap();
    assert_eq!(two.data, b"<13>ok two");
    assert_eq!(two.offset, (big_at + 301) as u64);
}

#[test]
fn absurd_octet_length_is_fatal_whatever_the_split() {
    let mut stream = b"5 <13>a".to_vec();
    stream.extend_from_slice(b"4294967296 <13>rest of stream");
    let (frames, end) = assert_split_invariant(FramingMode::Auto, 64 * 1024, &stream);
    assert_eq!(end, Ok(()), "nothing more is reported after a fatal error");
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0].as_ref().unwrap().data, b"<13>a");
    let err = frames[1].as_ref().unwrap_err();
    assert!(err.is_fatal());
    assert_eq!(err.offset(), 7);
    assert!(matches!(err, FramingError::LengthTooLarge { .. }));
}

#[test]
fn lf_framing_of_octet_data_when_forced() {
    // A peer configured for LF but sending octet-counted frames: with an
    // explicit mode nothing is guessed and the digits stay in the frame.
    let (frames, _) = decode_chunks(FramingMode::NewlineDelimited, 100, &[b"5 <13>a\n"]);
    assert_eq!(frames[0].as_ref().unwrap().data, b"5 <13>a");
}
