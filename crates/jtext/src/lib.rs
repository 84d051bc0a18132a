//! Japanese text as city systems write it, shared by every crate that reads files exported by
//! people or business systems (HR rosters, 住基・税・福祉 operation logs).
//!
//! What it does: parses dates in Western and 和暦 forms checked against each era's real span
//! ([`date`]), maps full-width ASCII to half-width ([`halfwidth`]), and decodes bytes that are
//! UTF-8, UTF-8 with a BOM or CP932 ([`encoding`]).
//!
//! What it does not do: CSV, times of day, time zones or any I/O — callers own those.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod date;
pub mod encoding;

pub use date::{DateError, Era, halfwidth, parse_date};
pub use encoding::{SourceEncoding, decode};
