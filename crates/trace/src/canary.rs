//! Canary records (目印レコード): fictitious residents put into one export for one recipient,
//! registered (as keyed features only) so that any later sighting names the export and the
//! person with certainty.
//!
//! A canary is derived from the installation key, the export, the recipient and its number, so
//! it is unique per recipient and cannot be guessed without the key. It is fictional by
//! construction (docs/trace.md, "Canary records"): a 町名 the city confirms does not exist in
//! its 住居表示 (default `みどり野`, to be checked by the city), 番地 in the 900s, a birth date
//! 1940–1999, a phone number in 0120-9xx-xxx style left out by default. A canary must never be
//! a real resident: that is the city's check before first use.

use crate::features::{FingerprintKey, features};
use crate::synth::{GIVEN, Resident, Rng, SURNAMES};
use crate::record::{Field, Record};

/// Where canaries live (the city supplies a 町名 that does not exist in its area).
#[derive(Clone, Debug)]
pub struct CanaryPlace {
    /// 都道府県.
    pub prefecture: String,
    /// 市区町村 + fictional 町名, e.g. `弘前市みどり野`.
    pub locality: String,
}

impl Default for CanaryPlace {
    fn default() -> Self {
        CanaryPlace { prefecture: "青森県".into(), locality: "弘前市みどり野".into() }
    }
}

/// Makes `n` canary residents for (`export`, `recipient`).
pub fn make(key: &FingerprintKey, export: &str, recipient: &str, n: usize, place: &CanaryPlace) -> Vec<Resident> {
    (0..n)
        .map(|i| {
            let seed = key.hash(b'C', &[export, recipient, &i.to_string()]);
            let mut rng = Rng::new(seed);
            let (s, sk) = *rng.pick(SURNAMES);
            let (g, gk) = *rng.pick(GIVEN);
            let birth = chrono::NaiveDate::from_ymd_opt(1940, 1, 1).expect("date") + chrono::Duration::days(rng.below(60 * 365) as i64);
            Resident {
                surname: s.into(),
                given: g.into(),
                surname_kana: sk.into(),
                given_kana: gk.into(),
                birth,
                prefecture: place.prefecture.clone(),
                locality: place.locality.clone(),
                block: (1 + rng.below(5) as u32, 900 + rng.below(100) as u32, 1 + rng.below(30) as u32),
                phone: String::new(),
            }
        })
        .collect()
}

/// The normalised record of a resident (for fingerprinting canaries and generated lists).
pub fn record_of(r: &Resident) -> Record {
    let mut rec = Record::default();
    rec.set_raw(Field::Name, &r.name());
    rec.set_raw(Field::Kana, &r.kana());
    rec.set_raw(Field::Birth, &r.birth.format("%Y-%m-%d").to_string());
    rec.set_raw(Field::Address, &r.address());
    if !r.phone.is_empty() {
        rec.set_raw(Field::Phone, &r.phone);
    }
    rec
}

/// The keyed features registered for a canary.
pub fn canary_features(key: &FingerprintKey, r: &Resident) -> Vec<u64> {
    features(key, &record_of(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canaries_differ_per_recipient_and_key() {
        let k = FingerprintKey::new(b"key");
        let p = CanaryPlace::default();
        let a = make(&k, "export-1", "tanaka.k", 3, &p);
        let b = make(&k, "export-1", "sato.h", 3, &p);
        assert_eq!(a, make(&k, "export-1", "tanaka.k", 3, &p));
        assert_ne!(a, b);
        assert_ne!(a, make(&FingerprintKey::new(b"other"), "export-1", "tanaka.k", 3, &p));
        assert!(a.iter().all(|r| r.block.1 >= 900 && r.locality.ends_with("みどり野")));
    }
}
