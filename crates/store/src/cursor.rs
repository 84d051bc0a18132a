//! Opaque keyset-pagination cursors.
//!
//! A cursor is a one-letter tag naming the listing it belongs to followed by hex: `s` (search,
//! newest first) and `t` (timeline, oldest first) carry the `(timestamp, id)` of the last row
//! returned, `q` (quarantine list) carries the id. Clients must treat them as opaque.

use crate::error::{Result, StoreError};

/// Which listing a cursor belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    Search,
    Timeline,
    Quarantine,
}

impl Tag {
    fn letter(self) -> char {
        match self {
            Tag::Search => 's',
            Tag::Timeline => 't',
            Tag::Quarantine => 'q',
        }
    }
}

/// Encodes a position `(ts, id)`.
pub fn encode(tag: Tag, ts: i64, id: u64) -> String {
    format!("{}{:016x}{:016x}", tag.letter(), ts as u64, id)
}

/// Decodes a cursor produced by [`encode`] with the same tag.
pub fn decode(tag: Tag, s: &str) -> Result<(i64, u64)> {
    let bad = |why: &str| {
        StoreError::invalid(
            "cursor",
            format!("{why}; pass back the next_cursor of a previous page unchanged"),
        )
    };
    let rest = s
        .strip_prefix(tag.letter())
        .ok_or_else(|| bad("not a cursor of this listing"))?;
    if rest.len() != 32 || !rest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("malformed cursor"));
    }
    let ts = u64::from_str_radix(&rest[..16], 16).map_err(|_| bad("malformed cursor"))? as i64;
    let id = u64::from_str_radix(&rest[16..], 16).map_err(|_| bad("malformed cursor"))?;
    if id > i64::MAX as u64 {
        return Err(bad("malformed cursor"));
    }
    Ok((ts, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_including_negative_timestamps() {
        for (ts, id) in [
            (0i64, 0u64),
            (-1, 7),
            (1_700_000_000_000_000, 123_456_789),
            (i64::MIN, 1),
        ] {
            let c = encode(Tag::Search, ts, id);
            assert_eq!(decode(Tag::Search, &c).unwrap(), (ts, id));
        }
    }

    #[test]
    fn rejects_foreign_and_malformed() {
        let c = encode(Tag::Timeline, 5, 5);
        let e = decode(Tag::Search, &c).unwrap_err();
        assert!(
            matches!(
                e,
                StoreError::InvalidParam {
                    param: "cursor",
                    ..
                }
            ),
            "{e}"
        );
        for bad in [
            "",
            "s",
            "s123",
            "szzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
            "s0000000000000000ffffffffffffffff",
        ] {
            assert!(decode(Tag::Search, bad).is_err(), "{bad:?} accepted");
        }
    }
}
