//! Dates as HR rosters write them (Western and 和暦, full-width digits): the parser lives in
//! [`mamori_jtext::date`], shared with the business-system CSV source; see there for the accepted
//! forms and the era checks. (CSV decoding stays in [`crate::roster`]: its `SourceEncoding` is part
//! of ledgered import records and keeps its serialized names.)

pub use mamori_jtext::date::*;
