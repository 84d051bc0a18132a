//! Non-transparent framing, RFC 6587 §3.4.2: each message is followed by a
//! TRAILER, in practice LF (%d10).
//!
//! Tolerances, because rsyslog and appliances vary:
//! - CRLF: the CR before the LF is stripped (Windows-based senders).
//! - NUL (%d00) also ends a frame: RFC 6587 §3.4.2 notes that some senders
//!   use it, and rsyslog can be configured to.
//! - Empty frames (`\n\n`, `\r\n` after a NUL) are skipped: they carry no
//!   message and reporting them would only be noise.
//!
//! RFC 6587 §3.4.2 itself warns that a message containing an LF is split
//! here; that is inherent to this framing, and the offsets let an
//! investigator see the pieces were adjacent.

use super::{Buffer, Frame, FramingError};

fn is_trailer(b: u8) -> bool {
    b == b'\n' || b == 0
}

/// Decoder state for LF-delimited framing.
#[derive(Debug, Default)]
pub struct NewlineDecoder {
    /// Stream offset from which to resume the trailer search, so that a
    /// long frame arriving in many small reads is scanned once, not once
    /// per read.
    scan_from: u64,
    /// Inside an oversized frame that was already reported: drop bytes
    /// until the next trailer.
    discarding: bool,
}

impl NewlineDecoder {
    pub(crate) fn decode(
        &mut self,
        buf: &mut Buffer,
        max: usize,
    ) -> Option<Result<Frame, FramingError>> {
        loop {
            let scan_idx = (self.scan_from.saturating_sub(buf.base) as usize).max(buf.start);
            let found = buf.data[scan_idx..]
                .iter()
                .position(|&b| is_trailer(b))
                .map(|p| scan_idx + p);
            let Some(end) = found else {
                self.scan_from = buf.offset_of(buf.data.len());
                if self.discarding {
                    // Still inside the skipped frame: drop what arrived.
                    buf.start = buf.data.len();
                    return None;
                }
                let len = buf.data.len() - buf.start;
                // A trailing CR may be the first half of CRLF; it does not
                // count towards the frame length.
                let effective = if buf.data.last() == Some(&b'\r') {
                    len - 1
                } else {
                    len
                };
                if effective > max {
                    let offset = buf.offset_of(buf.start);
                    let prefix = buf.data[buf.start..buf.start + max].to_vec();
                    buf.start = buf.data.len();
                    self.discarding = true;
                    return Some(Err(FramingError::Oversized {
                        offset,
                        max,
                        prefix,
                    }));
                }
                return None;
            };

            let frame_start = buf.start;
            buf.start = end + 1;
            self.scan_from = buf.offset_of(buf.start);
            if self.discarding {
                self.discarding = false;
                continue;
            }
            let mut data = &buf.data[frame_start..end];
            if let Some(stripped) = data.strip_suffix(b"\r") {
                data = stripped;
            }
            if data.is_empty() {
                continue;
            }
            let offset = buf.offset_of(frame_start);
            if data.len() > max {
                // The whole oversized frame arrived in one read; report it
                // the same way as one that grew over several reads.
                return Some(Err(FramingError::Oversized {
                    offset,
                    max,
                    prefix: data[..max].to_vec(),
                }));
            }
            return Some(Ok(Frame {
                offset,
                data: data.to_vec(),
            }));
        }
    }

    pub(crate) fn finish(&mut self, buf: &mut Buffer) -> Result<(), FramingError> {
        if self.discarding {
            // The tail belongs to a frame already reported as oversized.
            buf.take_pending();
            return Ok(());
        }
        let (offset, bytes) = buf.take_pending();
        if bytes.iter().all(|&b| super::is_separator(b)) {
            return Ok(());
        }
        // RFC 6587 §3.4.2 requires the trailer; without it we cannot tell a
        // complete message from one cut off mid-write, so it is quarantined.
        Err(FramingError::Truncated {
            offset,
            expected: None,
            bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::framing::{Framer, FramingError, FramingMode};

    fn frames(input: &[u8], max: usize) -> Vec<Result<(u64, Vec<u8>), FramingError>> {
        crate::framing::frame_all(FramingMode::NewlineDelimited, input, max)
    }

    #[test]
    fn lf_crlf_and_nul_trailers() {
        let got = frames(b"a\nbb\r\nccc\0", 100);
        assert_eq!(
            got,
            vec![
                Ok((0, b"a".to_vec())),
                Ok((2, b"bb".to_vec())),
                Ok((6, b"ccc".to_vec()))
            ]
        );
    }

    #[test]
    fn empty_lines_are_skipped_but_offsets_count_them() {
        let got = frames(b"\n\r\n\0a\n", 100);
        assert_eq!(got, vec![Ok((4, b"a".to_vec()))]);
    }

    #[test]
    fn cr_inside_frame_is_kept() {
        let got = frames(b"a\rb\n", 100);
        assert_eq!(got, vec![Ok((0, b"a\rb".to_vec()))]);
    }

    #[test]
    fn oversized_in_one_read_resyncs() {
        let got = frames(b"0123456789\nok\n", 4);
        assert_eq!(
            got,
            vec![
                Err(FramingError::Oversized {
                    offset: 0,
                    max: 4,
                    prefix: b"0123".to_vec()
                }),
                Ok((11, b"ok".to_vec()))
            ]
        );
    }

    #[test]
    fn oversized_across_reads_is_reported_once_and_resyncs() {
        let mut f = Framer::with_max_frame_length(FramingMode::NewlineDelimited, 4);
        f.push(b"ok\n012");
        assert_eq!(f.next_frame().unwrap().unwrap().data, b"ok");
        assert!(f.next_frame().is_none());
        f.push(b"345");
        let err = f.next_frame().unwrap().unwrap_err();
        assert_eq!(
            err,
            FramingError::Oversized {
                offset: 3,
                max: 4,
                prefix: b"0123".to_vec()
            }
        );
        assert!(!err.is_fatal());
        f.push(b"6789");
        assert!(
            f.next_frame().is_none(),
            "no second report for the same frame"
        );
        f.push(b"9\nnext\n");
        let fr = f.next_frame().unwrap().unwrap();
        assert_eq!((fr.offset, fr.data), (15, b"next".to_vec()));
        assert_eq!(f.finish(), Ok(()));
    }

    #[test]
    fn exactly_max_with_pending_cr_is_not_oversized() {
        let mut f = Framer::with_max_frame_length(FramingMode::NewlineDelimited, 4);
        f.push(b"abcd\r");
        assert!(f.next_frame().is_none());
        f.push(b"\n");
        assert_eq!(f.next_frame().unwrap().unwrap().data, b"abcd");
    }

    #[test]
    fn unterminated_tail_is_truncated_with_bytes() {
        let got = frames(b"a\nbroken", 100);
        assert_eq!(
            got,
            vec![
                Ok((0, b"a".to_vec())),
                Err(FramingError::Truncated {
                    offset: 2,
                    expected: None,
                    bytes: b"broken".to_vec()
                })
            ]
        );
    }

    #[test]
    fn trailing_separators_are_not_truncation() {
        assert_eq!(frames(b"a\n\r", 100), vec![Ok((0, b"a".to_vec()))]);
    }

    #[test]
    fn eof_while_discarding_is_not_truncation() {
        let got = frames(b"0123456789", 4);
        assert_eq!(got.len(), 1);
        assert!(matches!(
            got[0],
            Err(FramingError::Oversized { offset: 0, .. })
        ));
    }
}
