//! Keyed features of a record: HMAC-SHA256 under the installation's key, truncated to 8 bytes,
//! of each pair of normalised fields (氏名+生年月日, 氏名+住所, …) and of the whole record. A
//! leaked list with columns dropped, merged or mistyped still shares some pairs with its export;
//! the store holds only these keyed hashes, so it is no list of residents itself.

use crate::record::{Field, Record};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The field pairs fingerprinted, with their one-byte tags (part of the HMAC input, so a pair
/// never collides with another pair of the same values).
pub const PAIRS: [(u8, Field, Field); 8] = [
    (b'1', Field::Name, Field::Birth),
    (b'2', Field::Name, Field::Address),
    (b'3', Field::Name, Field::Phone),
    (b'4', Field::Birth, Field::Address),
    (b'5', Field::Birth, Field::Phone),
    (b'6', Field::Address, Field::Phone),
    (b'7', Field::Kana, Field::Birth),
    (b'8', Field::Kana, Field::Address),
];

/// Tag of the record-level feature (氏名+生年月日+住所, when all three are present).
pub const RECORD_TAG: u8 = b'R';

/// The per-installation fingerprint key (32 random bytes kept in the data dir's `keys/`).
#[derive(Clone)]
pub struct FingerprintKey {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FingerprintKey(..)")
    }
}

impl FingerprintKey {
    /// A key from its bytes.
    pub fn new(key: &[u8]) -> Self {
        FingerprintKey { mac: Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length") }
    }

    /// HMAC-SHA256 of `parts` (joined by 0x1f) truncated to its first 8 bytes.
    pub fn hash(&self, tag: u8, parts: &[&str]) -> u64 {
        let mut m = self.mac.clone();
        m.update(&[tag]);
        for p in parts {
            m.update(&[0x1f]);
            m.update(p.as_bytes());
        }
        let out = m.finalize().into_bytes();
        u64::from_be_bytes(out[..8].try_into().expect("32-byte HMAC"))
    }
}

/// A record's view for features: a name written only in kana also counts as the reading.
fn kana_of(r: &Record) -> Option<&str> {
    r.kana.as_deref().or_else(|| r.name.as_deref().filter(|n| n.chars().all(|c| ('\u{3041}'..='\u{309F}').contains(&c) || c == 'ー')))
}

fn value(r: &Record, f: Field) -> Option<&str> {
    match f {
        Field::Kana => kana_of(r),
        _ => r.get(f),
    }
}

/// The pairs (by tag) present in `r`.
pub fn pairs_present(r: &Record) -> Vec<u8> {
    PAIRS.iter().filter(|(_, a, b)| value(r, *a).is_some() && value(r, *b).is_some()).map(|(t, _, _)| *t).collect()
}

/// The keyed features of `r`: one per present pair, plus the record-level one.
pub fn features(key: &FingerprintKey, r: &Record) -> Vec<u64> {
    let mut out = Vec::with_capacity(9);
    for (tag, a, b) in PAIRS {
        if let (Some(x), Some(y)) = (value(r, a), value(r, b)) {
            out.push(key.hash(tag, &[x, y]));
        }
    }
    if let (Some(n), Some(b), Some(a)) = (r.name.as_deref(), r.birth.as_deref(), r.address.as_deref()) {
        out.push(key.hash(RECORD_TAG, &[n, b, a]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str, birth: &str, addr: &str) -> Record {
        let mut r = Record::default();
        r.set_raw(Field::Name, name);
        r.set_raw(Field::Birth, birth);
        r.set_raw(Field::Address, addr);
        r
    }

    #[test]
    fn features_depend_on_key_and_survive_variants() {
        let k = FingerprintKey::new(b"k1");
        let a = features(&k, &rec("髙橋 一郎", "昭和45年3月2日", "青森県弘前市本町一丁目2番3号"));
        let b = features(&k, &rec("高橋一郎", "1970-03-02", "弘前市本町1-2-3"));
        assert_eq!(a, b);
        assert_eq!(a.len(), 4);
        let other = features(&FingerprintKey::new(b"k2"), &rec("高橋一郎", "1970-03-02", "弘前市本町1-2-3"));
        assert!(a.iter().all(|h| !other.contains(h)));
        // A typo in the name keeps birth+address.
        let t = features(&k, &rec("高橋一朗", "1970-03-02", "弘前市本町1-2-3"));
        assert_eq!(t.iter().filter(|h| a.contains(h)).count(), 1);
    }
}
