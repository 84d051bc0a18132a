//! The log entry format: what each leaf of the Merkle tree commits to.
//!
//! An entry is one line of ASCII, pinned byte for byte by tests:
//!
//! ```text
//! mamori/v1 <kind> <ingested-unix-micros> <hex SHA-256(salt || payload)>
//! ```
//!
//! It carries no personal data, only a salted commitment to the payload, so tiles can be served
//! to any auditor and a payload can be erased later without breaking the tree (the salt is erased
//! with it, so the commitment cannot be brute-forced from guessable personal data).

use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// What a ledger entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// An event from a source (an operation on personal data, a logon, a file copy …).
    Event,
    /// An administrative action of mamori itself (users, tokens, config, rules, retention).
    Admin,
    /// Input that could not be parsed, kept verbatim so it can be re-ingested after a fix.
    Quarantine,
    /// A record that a payload was erased after its retention period.
    Tombstone,
    /// A signing-key rotation.
    Key,
}

impl EntryKind {
    /// The wire name used in entries.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Event => "event",
            EntryKind::Admin => "admin",
            EntryKind::Quarantine => "quarantine",
            EntryKind::Tombstone => "tombstone",
            EntryKind::Key => "key",
        }
    }

    /// The one-byte code used in the payload store.
    pub fn code(self) -> u8 {
        match self {
            EntryKind::Event => 1,
            EntryKind::Admin => 2,
            EntryKind::Quarantine => 3,
            EntryKind::Tombstone => 4,
            EntryKind::Key => 5,
        }
    }

    /// Inverse of [`EntryKind::code`].
    pub fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            1 => EntryKind::Event,
            2 => EntryKind::Admin,
            3 => EntryKind::Quarantine,
            4 => EntryKind::Tombstone,
            5 => EntryKind::Key,
            _ => return None,
        })
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EntryKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "event" => EntryKind::Event,
            "admin" => EntryKind::Admin,
            "quarantine" => EntryKind::Quarantine,
            "tombstone" => EntryKind::Tombstone,
            "key" => EntryKind::Key,
            other => return Err(format!("unknown entry kind {other:?}")),
        })
    }
}

/// A parsed log entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// What it records.
    pub kind: EntryKind,
    /// When mamori accepted it, microseconds since the Unix epoch (UTC).
    pub ingested_micros: i64,
    /// `SHA-256(salt || payload)`.
    pub commitment: [u8; 32],
}

const PREFIX: &str = "mamori/v1 ";

impl Entry {
    /// The canonical bytes that are hashed into the tree.
    pub fn to_bytes(&self) -> Vec<u8> {
        format!(
            "{PREFIX}{} {} {}",
            self.kind,
            self.ingested_micros,
            hex::encode(self.commitment)
        )
        .into_bytes()
    }

    /// Parses canonical entry bytes; anything not canonical is an error.
    pub fn parse(bytes: &[u8]) -> Result<Entry, String> {
        let s = std::str::from_utf8(bytes).map_err(|_| "entry is not UTF-8".to_owned())?;
        let rest = s.strip_prefix(PREFIX).ok_or("entry does not start with \"mamori/v1 \"")?;
        let mut parts = rest.split(' ');
        let (Some(kind), Some(ts), Some(c), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("entry does not have 4 space-separated fields".into());
        };
        let kind: EntryKind = kind.parse()?;
        let ingested_micros: i64 = ts.parse().map_err(|_| format!("bad timestamp {ts:?}"))?;
        let mut commitment = [0u8; 32];
        hex::decode_to_slice(c, &mut commitment).map_err(|_| format!("bad commitment {c:?}"))?;
        let e = Entry { kind, ingested_micros, commitment };
        if e.to_bytes() != bytes {
            return Err("entry is not in canonical form".into());
        }
        Ok(e)
    }
}

/// `SHA-256(salt || payload)`.
pub fn commitment(salt: &[u8; 16], payload: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(payload);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_bytes_are_pinned() {
        let salt = [7u8; 16];
        let e = Entry {
            kind: EntryKind::Event,
            ingested_micros: 1_763_900_000_123_456,
            commitment: commitment(&salt, b"{\"message\":\"x\"}"),
        };
        let bytes = e.to_bytes();
        // Independent oracle: python3 hashlib.sha256(b"\x07"*16 + b'{"message":"x"}').
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            "mamori/v1 event 1763900000123456 76c0dc64b16f8a2f7fcec4a0cd468b399bb285bc302fb484cab9c069be35c390"
        );
        assert_eq!(Entry::parse(&bytes).unwrap(), e);
    }

    #[test]
    fn parse_rejects_noncanonical() {
        let good = format!("mamori/v1 admin 5 {}", "ab".repeat(32));
        assert!(Entry::parse(good.as_bytes()).is_ok());
        for bad in [
            format!("mamori/v1 admin 05 {}", "ab".repeat(32)),
            format!("mamori/v1 admin 5 {}", "AB".repeat(32)),
            format!("mamori/v1 admin 5 {} ", "ab".repeat(32)),
            format!("mamori/v2 admin 5 {}", "ab".repeat(32)),
            format!("mamori/v1 nope 5 {}", "ab".repeat(32)),
        ] {
            assert!(Entry::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
