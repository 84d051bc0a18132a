//! Any bytes as a TCP stream, cut into reads at fuzzer-chosen points: frames
//! must be the same as for a single read and must point into the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_sources::{Frame, Framer, FramingError, FramingMode};

type Outcome = (Vec<Result<Frame, FramingError>>, Result<(), FramingError>);

fn run(mode: FramingMode, max: usize, chunks: &[&[u8]]) -> Outcome {
    let mut f = Framer::with_max_frame_length(mode, max);
    let mut out = Vec::new();
    for c in chunks {
        f.push(c);
        out.extend(std::iter::from_fn(|| f.next_frame()));
    }
    let end = f.finish();
    out.extend(std::iter::from_fn(|| f.next_frame()));
    (out, end)
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, stream)) = data.split_first() else {
        return;
    };
    let mode = [
        FramingMode::Auto,
        FramingMode::OctetCounting,
        FramingMode::NewlineDelimited,
    ][usize::from(ctl % 3)];
    let max = [8, 64, 65536][usize::from((ctl / 3) % 3)];
    // Chunk size from the control byte; the rest of the stream is fed in
    // reads of that size.
    let step = usize::from(ctl / 9) + 1;
    let chunks: Vec<&[u8]> = stream.chunks(step).collect();
    let whole = run(mode, max, &[stream]);
    let split = run(mode, max, &chunks);
    assert_eq!(whole, split);
    for r in &whole.0 {
        match r {
            Ok(fr) => {
                let at = fr.offset as usize;
                assert!(fr.data.len() <= max);
                assert_eq!(&stream[at..at + fr.data.len()], &fr.data[..]);
            }
            Err(e) => {
                let at = e.offset() as usize;
                assert_eq!(&stream[at..at + e.bytes().len()], e.bytes());
            }
        }
    }
});
