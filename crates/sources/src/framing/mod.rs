//! Incremental framing of a TCP syslog stream (RFC 6587).
//!
//! A [`Framer`] is fed whatever the socket read returned ([`Framer::push`])
//! and hands out complete frames ([`Framer::next_frame`]) as soon as they are
//! complete, so a frame split over any number of reads decodes to exactly the
//! same bytes as one delivered in a single read.
//!
//! Two framings exist (RFC 6587 §3.4):
//! - octet counting, §3.4.1: `MSG-LEN SP SYSLOG-MSG`, see [`octet_counting`];
//! - non-transparent framing, §3.4.2: a trailer after each message, LF in
//!   practice, see [`newline`]. We also accept CRLF and NUL because rsyslog
//!   and some appliances send those.
//!
//! [`FramingMode::Auto`] picks one per connection from the first byte, as
//! rsyslog's imtcp does: a digit means octet counting (a syslog message
//! always starts with `<`, never with a digit), anything else means LF.
//!
//! Every frame and every error carries the byte offset within the stream, so
//! a quarantined piece of input can be located in a capture later.
//!
//! Error policy: a frame that is too long in LF framing is reported and
//! skipped up to the next LF, after which decoding continues (the stream is
//! resynchronised by the trailer). In octet counting there is no trailer to
//! resynchronise on: a bad or absurd length prefix makes every later byte
//! ambiguous, so the error is fatal and the caller must close the
//! connection ([`FramingError::is_fatal`]).

use std::collections::VecDeque;

pub mod audit_assembler;
pub mod newline;
pub mod octet_counting;

/// Default maximum frame length: 64 KiB, the size rsyslog's imtcp accepts
/// with `$MaxMessageSize 64k` and far above RFC 5424 §6.1's 2048-octet
/// minimum that receivers must support.
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024;

/// How frames are delimited on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FramingMode {
    /// Decide from the first byte of the stream: ASCII digit means
    /// [`FramingMode::OctetCounting`], anything else
    /// [`FramingMode::NewlineDelimited`].
    #[default]
    Auto,
    /// RFC 6587 §3.4.1 `MSG-LEN SP SYSLOG-MSG`.
    OctetCounting,
    /// RFC 6587 §3.4.2 with LF as trailer; CRLF and NUL are accepted too.
    NewlineDelimited,
}

/// One complete frame: the bytes of one syslog message, without length
/// prefix or trailer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Byte offset of `data[0]` within the stream (the first byte pushed is
    /// offset 0). For octet counting this is the first byte after `MSG-LEN SP`.
    pub offset: u64,
    /// The message bytes, exactly as received (not validated as UTF-8).
    pub data: Vec<u8>,
}

/// What went wrong while framing. Every variant says where (`offset`: byte
/// offset within the stream) and, where there are any, gives back the bytes
/// involved so the caller can quarantine them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// LF framing: a frame grew past the maximum without a trailer. It was
    /// skipped up to the next LF/NUL; decoding continues after it.
    #[error(
        "byte {offset}: frame longer than the maximum of {max} bytes, skipped up to the next line feed; \
         hint: raise the maximum frame length or check that the sender terminates messages with LF"
    )]
    Oversized {
        /// Offset of the first byte of the oversized frame.
        offset: u64,
        /// The configured maximum.
        max: usize,
        /// The first `max` bytes of the frame (the rest was discarded).
        prefix: Vec<u8>,
    },
    /// Octet counting: the declared `MSG-LEN` exceeds the maximum. Fatal:
    /// there is no way to find the next frame without reading that many bytes.
    #[error(
        "byte {offset}: octet-counting length (at least {declared}) exceeds the maximum of {max} bytes; \
         the connection cannot be resynchronised; hint: the sender may not use octet counting \
         (check its framing setting) or the maximum frame length is too small"
    )]
    LengthTooLarge {
        /// Offset of the first digit of `MSG-LEN`.
        offset: u64,
        /// The length read so far: decoding stops at the first digit that
        /// makes it exceed `max`, so this is a lower bound.
        declared: u64,
        /// The configured maximum.
        max: usize,
        /// The length digits read so far (see `declared`).
        bytes: Vec<u8>,
    },
    /// Octet counting: the bytes where `MSG-LEN SP` was expected are not a
    /// valid length prefix (RFC 6587 §3.4.1: `NONZERO-DIGIT *DIGIT SP`).
    /// Fatal, for the same reason as [`FramingError::LengthTooLarge`].
    #[error(
        "byte {offset}: invalid octet-counting length prefix: {reason}; \
         hint: the sender probably switched to LF framing mid-stream or the stream is corrupt; \
         close the connection"
    )]
    InvalidLengthPrefix {
        /// Offset of the offending prefix.
        offset: u64,
        /// What is wrong with it.
        reason: &'static str,
        /// The prefix bytes from `offset` up to and including the first
        /// offending byte.
        bytes: Vec<u8>,
    },
    /// End of stream inside a frame. The incomplete bytes are returned so
    /// they can be quarantined rather than parsed as if complete.
    #[error(
        "byte {offset}: stream ended inside a frame ({} bytes received{}); \
         hint: the sender was cut off or did not terminate its last message",
        bytes.len(),
        match expected { Some(n) => format!(", {n} declared"), None => String::new() }
    )]
    Truncated {
        /// Offset of the first byte of the incomplete frame (for octet
        /// counting, of its length prefix).
        offset: u64,
        /// For octet counting, the declared message length, if the prefix
        /// was complete.
        expected: Option<usize>,
        /// Everything received from `offset` to the end of the stream.
        bytes: Vec<u8>,
    },
}

impl FramingError {
    /// Byte offset within the stream where the problem starts.
    pub fn offset(&self) -> u64 {
        match self {
            FramingError::Oversized { offset, .. }
            | FramingError::LengthTooLarge { offset, .. }
            | FramingError::InvalidLengthPrefix { offset, .. }
            | FramingError::Truncated { offset, .. } => *offset,
        }
    }

    /// The bytes this error is about, for quarantine.
    pub fn bytes(&self) -> &[u8] {
        match self {
            FramingError::Oversized { prefix, .. } => prefix,
            FramingError::LengthTooLarge { bytes, .. }
            | FramingError::InvalidLengthPrefix { bytes, .. }
            | FramingError::Truncated { bytes, .. } => bytes,
        }
    }

    /// True when the stream cannot be decoded any further and the
    /// connection should be closed. The framer yields no more frames after
    /// a fatal error.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            FramingError::LengthTooLarge { .. } | FramingError::InvalidLengthPrefix { .. }
        )
    }
}

/// Unconsumed stream bytes shared by the decoders.
#[derive(Debug, Default)]
pub(crate) struct Buffer {
    /// Received bytes; `data[start..]` is not yet consumed.
    pub(crate) data: Vec<u8>,
    /// Index of the first unconsumed byte in `data`.
    pub(crate) start: usize,
    /// Stream offset of `data[0]`.
    pub(crate) base: u64,
}

impl Buffer {
    /// Stream offset of `data[index]`.
    pub(crate) fn offset_of(&self, index: usize) -> u64 {
        self.base + index as u64
    }

    /// Unconsumed bytes.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.data[self.start..]
    }

    /// Drops consumed bytes so memory stays bounded by one frame plus one read.
    fn compact(&mut self) {
        if self.start > 0 {
            self.data.drain(..self.start);
            self.base += self.start as u64;
            self.start = 0;
        }
    }

    /// Removes and returns all unconsumed bytes with their offset.
    fn take_pending(&mut self) -> (u64, Vec<u8>) {
        let offset = self.offset_of(self.start);
        let bytes = self.data.split_off(self.start);
        self.compact();
        (offset, bytes)
    }
}

#[derive(Debug)]
enum Decoder {
    Undecided,
    Octet(octet_counting::OctetCountingDecoder),
    Newline(newline::NewlineDecoder),
}

/// Incremental RFC 6587 frame decoder for one connection.
///
/// ```
/// use mamori_sources::{Framer, FramingMode};
/// let mut framer = Framer::new(FramingMode::Auto);
/// framer.push(b"<13>first\n<13>sec");
/// framer.push(b"ond\n");
/// let a = framer.next_frame().unwrap().unwrap();
/// let b = framer.next_frame().unwrap().unwrap();
/// assert_eq!((a.offset, &a.data[..]), (0, &b"<13>first"[..]));
/// assert_eq!((b.offset, &b.data[..]), (10, &b"<13>second"[..]));
/// assert!(framer.next_frame().is_none());
/// assert!(framer.finish().is_ok());
/// ```
#[derive(Debug)]
pub struct Framer {
    configured: FramingMode,
    max: usize,
    buf: Buffer,
    decoder: Decoder,
    failed: bool,
    eof: bool,
    pending: VecDeque<Result<Frame, FramingError>>,
}

impl Framer {
    /// A framer with the default maximum frame length ([`DEFAULT_MAX_FRAME`]).
    pub fn new(mode: FramingMode) -> Self {
        Self::with_max_frame_length(mode, DEFAULT_MAX_FRAME)
    }

    /// A framer accepting frames of at most `max` bytes (at least 1).
    pub fn with_max_frame_length(mode: FramingMode, max: usize) -> Self {
        let decoder = match mode {
            FramingMode::Auto => Decoder::Undecided,
            FramingMode::OctetCounting => Decoder::Octet(Default::default()),
            FramingMode::NewlineDelimited => Decoder::Newline(Default::default()),
        };
        Framer {
            configured: mode,
            max: max.max(1),
            buf: Buffer::default(),
            decoder,
            failed: false,
            eof: false,
            pending: VecDeque::new(),
        }
    }

    /// The framing in use: the configured one, or for [`FramingMode::Auto`]
    /// the detected one (still `Auto` before the first byte arrived).
    pub fn mode(&self) -> FramingMode {
        match self.decoder {
            Decoder::Undecided => self.configured,
            Decoder::Octet(_) => FramingMode::OctetCounting,
            Decoder::Newline(_) => FramingMode::NewlineDelimited,
        }
    }

    /// The configured maximum frame length.
    pub fn max_frame_length(&self) -> usize {
        self.max
    }

    /// True after a fatal error ([`FramingError::is_fatal`]): no further
    /// frames will be produced and the connection should be closed.
    pub fn is_failed(&self) -> bool {
        self.failed
    }

    /// Appends received bytes. Bytes pushed after a fatal error or after
    /// [`Framer::finish`] are ignored, so a misbehaving peer cannot make the
    /// buffer grow.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed || self.eof {
            return;
        }
        self.buf.compact();
        self.buf.data.extend_from_slice(bytes);
    }

    /// The next complete frame or error, or `None` if more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Result<Frame, FramingError>> {
        if let Some(item) = self.pending.pop_front() {
            return Some(item);
        }
        if self.failed || self.eof {
            return None;
        }
        self.decode()
    }

    fn decode(&mut self) -> Option<Result<Frame, FramingError>> {
        if let Decoder::Undecided = self.decoder {
            // RFC 6587 §3.4.1 frames start with NONZERO-DIGIT; a syslog
            // message (RFC 5424 §6 / RFC 3164 §4.1) starts with '<'. So the
            // first byte tells which framing the peer uses.
            let first = *self.buf.pending().first()?;
            self.decoder = if first.is_ascii_digit() {
                Decoder::Octet(Default::default())
            } else {
                Decoder::Newline(Default::default())
            };
        }
        let item = match &mut self.decoder {
            Decoder::Undecided => None,
            Decoder::Octet(d) => d.decode(&mut self.buf, self.max),
            Decoder::Newline(d) => d.decode(&mut self.buf, self.max),
        };
        if let Some(Err(e)) = &item
            && e.is_fatal()
        {
            self.failed = true;
        }
        item
    }

    /// Signals end of stream.
    ///
    /// Complete frames still buffered stay available from
    /// [`Framer::next_frame`]. If bytes of an incomplete frame remain after
    /// them, returns [`FramingError::Truncated`] carrying those bytes.
    /// Trailing separators (LF, CR, NUL, spaces) alone are not a truncated
    /// frame. Calling it again returns `Ok(())`.
    pub fn finish(&mut self) -> Result<(), FramingError> {
        if self.eof {
            return Ok(());
        }
        if !self.failed {
            while let Some(item) = self.decode() {
                self.pending.push_back(item);
                if self.failed {
                    break;
                }
            }
        }
        self.eof = true;
        if self.failed {
            return Ok(());
        }
        match &mut self.decoder {
            Decoder::Undecided => Ok(()),
            Decoder::Octet(d) => d.finish(&mut self.buf),
            Decoder::Newline(d) => d.finish(&mut self.buf),
        }
    }

    /// Removes and returns every byte received but not yet framed, with the
    /// stream offset of the first one. Meant for quarantining the rest of a
    /// connection after a fatal error.
    pub fn take_remaining(&mut self) -> (u64, Vec<u8>) {
        self.buf.take_pending()
    }
}

/// Bytes that may separate frames without being part of one: LF and CR
/// (RFC 6587 §3.4.2 trailers and the CR of CRLF), NUL (rsyslog's
/// alternative trailer) and, between octet-counted frames, stray spaces
/// and tabs some relays add.
pub(crate) fn is_separator(b: u8) -> bool {
    matches!(b, b'\n' | b'\r' | 0 | b' ' | b'\t')
}

/// Test helper for the framing modules: pushes `input` at once into a framer of `mode` with
/// frame limit `max`, and returns every frame as (offset, bytes) followed by `finish`'s error.
#[cfg(test)]
pub(crate) fn frame_all(mode: FramingMode, input: &[u8], max: usize) -> Vec<Result<(u64, Vec<u8>), FramingError>> {
    let mut f = Framer::with_max_frame_length(mode, max);
    f.push(input);
    let mut out: Vec<_> = std::iter::from_fn(|| f.next_frame())
        .map(|r| r.map(|fr| (fr.offset, fr.data)))
        .collect();
    if let Err(e) = f.finish() {
        out.push(Err(e));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(f: &mut Framer) -> Vec<Result<Frame, FramingError>> {
        std::iter::from_fn(|| f.next_frame()).collect()
    }

    #[test]
    fn auto_detects_octet_counting_from_digit() {
        let mut f = Framer::new(FramingMode::Auto);
        assert_eq!(f.mode(), FramingMode::Auto);
        f.push(b"5 <13>a");
        let frames = drain(&mut f);
        assert_eq!(f.mode(), FramingMode::OctetCounting);
        assert_eq!(
            frames,
            vec![Ok(Frame {
                offset: 2,
                data: b"<13>a".to_vec()
            })]
        );
    }

    #[test]
    fn auto_detects_newline_from_angle_bracket() {
        let mut f = Framer::new(FramingMode::Auto);
        f.push(b"<13>a\r\n<13>b\0");
        let frames = drain(&mut f);
        assert_eq!(f.mode(), FramingMode::NewlineDelimited);
        assert_eq!(
            frames,
            vec![
                Ok(Frame {
                    offset: 0,
                    data: b"<13>a".to_vec()
                }),
                Ok(Frame {
                    offset: 7,
                    data: b"<13>b".to_vec()
                }),
            ]
        );
    }

    #[test]
    fn empty_push_does_not_decide_mode() {
        let mut f = Framer::new(FramingMode::Auto);
        f.push(b"");
        assert!(f.next_frame().is_none());
        assert_eq!(f.mode(), FramingMode::Auto);
        assert_eq!(f.finish(), Ok(()));
    }

    #[test]
    fn fatal_error_stops_framer_and_ignores_later_bytes() {
        let mut f = Framer::new(FramingMode::OctetCounting);
        f.push(b"5 <13>ax <13>b");
        assert!(f.next_frame().unwrap().is_ok());
        let err = f.next_frame().unwrap().unwrap_err();
        assert!(err.is_fatal());
        assert_eq!(err.offset(), 7);
        assert!(f.is_failed());
        f.push(b"5 <13>c");
        assert!(f.next_frame().is_none());
        assert_eq!(f.finish(), Ok(()));
        let (off, rest) = f.take_remaining();
        assert_eq!(off, 7);
        assert_eq!(rest, b"x <13>b");
    }

    #[test]
    fn finish_keeps_complete_frames_available() {
        let mut f = Framer::new(FramingMode::NewlineDelimited);
        f.push(b"<13>a\n<13>b\n<13>partial");
        let err = f.finish().unwrap_err();
        assert_eq!(
            err,
            FramingError::Truncated {
                offset: 12,
                expected: None,
                bytes: b"<13>partial".to_vec()
            }
        );
        let frames = drain(&mut f);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1].as_ref().unwrap().data, b"<13>b");
        assert_eq!(f.finish(), Ok(()));
    }

    #[test]
    fn error_messages_carry_offset_and_hint() {
        let e = FramingError::Truncated {
            offset: 42,
            expected: Some(10),
            bytes: b"abc".to_vec(),
        };
        let s = e.to_string();
        assert!(s.starts_with("byte 42:"), "{s}");
        assert!(s.contains("10 declared"), "{s}");
        assert!(s.contains("hint:"), "{s}");
        assert_eq!(e.bytes(), b"abc");
        assert!(!e.is_fatal());
    }
}
