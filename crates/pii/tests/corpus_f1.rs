//! Precision/recall/F1 per kind on the labelled corpus (fixed seed). Fails below the targets:
//! F1 ≥ 0.98 on check-digit IDs, ≥ 0.90 on names, addresses and birth dates.

#[path = "support/corpus.rs"]
mod corpus;

use mamori_pii::{Kind, Options, scan_bytes};
use std::collections::BTreeMap;

#[test]
fn corpus_meets_f1_targets() {
    let docs = corpus::generate(60);
    let opts = Options::default();
    let mut acc: BTreeMap<Kind, corpus::Counts> = BTreeMap::new();
    let mut misses = Vec::new();
    for d in &docs {
        let r = scan_bytes(&d.name, &d.bytes, &opts);
        assert!(r.problems.is_empty(), "{}: {:?}", d.name, r.problems);
        let (fp, fnn) = corpus::score(d, &r.findings, 0.5, &mut acc);
        for x in fp {
            misses.push(format!("{} FP {:?} {}", d.name, x.0, x.1));
        }
        for x in fnn {
            misses.push(format!("{} FN {:?} {}", d.name, x.0, x.1));
        }
    }
    for (k, c) in &acc {
        println!("{:<22} tp {:>4} fp {:>3} fn {:>3}  P {:.3} R {:.3} F1 {:.3}", k.as_str(), c.tp, c.fp, c.fn_, c.precision(), c.recall(), c.f1());
    }
    for m in misses.iter().take(60) {
        println!("{m}");
    }
    let mut ids = corpus::Counts::default();
    for (k, c) in &acc {
        if k.has_check_digit() {
            ids.tp += c.tp;
            ids.fp += c.fp;
            ids.fn_ += c.fn_;
        }
    }
    assert!(ids.f1() >= 0.98, "check-digit IDs F1 {:.3}", ids.f1());
    for k in [Kind::MyNumber, Kind::PersonName, Kind::Address, Kind::BirthDate] {
        let c = acc.get(&k).copied().unwrap_or_default();
        let target = if k.has_check_digit() { 0.98 } else { 0.90 };
        assert!(c.tp > 0 && c.f1() >= target, "{} F1 {:.3} < {target}", k.as_str(), c.f1());
    }
}
