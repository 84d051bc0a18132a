//! Trace: rank recorded exports by how many of a leaked list's records they contain.
//!
//! Scoring (docs/trace.md): a leaked record *matches* an export when at least one of its keyed
//! features (a field pair or the whole record) is among the export's features. A typo or an
//! OCR error in one field breaks only the pairs using that field; the others still match. The
//! score is `matched / leaked` (leaked = usable records read). Candidates are ordered by
//! matched records, then by the smaller export (a tighter superset explains the list better),
//! then the earlier export. An unrelated export matches only by keyed-hash collision (2⁻⁵⁶ per
//! probe in the compacted index) or by residents it genuinely shares with the list.

use crate::features::{FingerprintKey, features};
use crate::index::{CanaryMeta, ExportMeta, FpStore};
use crate::read::Located;
use serde::Serialize;
use std::collections::HashMap;

/// One candidate export.
#[derive(Clone, Debug, Serialize)]
pub struct Candidate {
    /// The export.
    pub export: ExportMeta,
    /// Leaked records found in it.
    pub matched: u64,
    /// Usable leaked records.
    pub leaked: u64,
    /// matched / leaked.
    pub score: f64,
    /// Features that hit (a record matched by many pairs is a stronger match).
    pub features_matched: u64,
}

/// A canary record found in a list: certain attribution.
#[derive(Clone, Debug, Serialize)]
pub struct CanarySighting {
    /// The canary.
    pub canary: CanaryMeta,
    /// Where it was found.
    pub location: String,
    /// Features it shares with the registered canary.
    pub shared: usize,
}

/// Result of a trace.
#[derive(Clone, Debug, Serialize)]
pub struct TraceResult {
    /// Usable records read from the leaked file.
    pub leaked: u64,
    /// Candidates, best first.
    pub candidates: Vec<Candidate>,
    /// Canaries found.
    pub canaries: Vec<CanarySighting>,
}

/// Ranks exports; at most `limit` candidates are returned.
pub fn trace(store: &FpStore, key: &FingerprintKey, records: &[Located], limit: usize) -> TraceResult {
    let mut counts: HashMap<u32, (u64, u64)> = HashMap::new();
    let mut hits = Vec::new();
    let mut leaked = 0u64;
    let mut feats_all = Vec::with_capacity(records.len());
    for l in records {
        let feats = features(key, &l.record);
        if feats.is_empty() {
            feats_all.push(feats);
            continue;
        }
        leaked += 1;
        hits.clear();
        for f in &feats {
            store.lookup(*f, &mut hits);
        }
        let nfeat = hits.len();
        hits.sort_unstable();
        let mut last = None;
        for (i, e) in hits.iter().enumerate() {
            if last == Some(*e) {
                continue;
            }
            last = Some(*e);
            let n = hits[i..].iter().take_while(|x| *x == e).count() as u64;
            let c = counts.entry(*e).or_default();
            c.0 += 1;
            c.1 += n;
        }
        let _ = nfeat;
        feats_all.push(feats);
    }
    let by_no: HashMap<u32, &ExportMeta> = store.exports().iter().map(|e| (e.no, e)).collect();
    let mut candidates: Vec<Candidate> = counts
        .into_iter()
        .filter_map(|(no, (m, f))| {
            let e = by_no.get(&no)?;
            Some(Candidate { export: (*e).clone(), matched: m, leaked, score: if leaked == 0 { 0.0 } else { m as f64 / leaked as f64 }, features_matched: f })
        })
        .collect();
    candidates.sort_by(|a, b| b.matched.cmp(&a.matched).then(a.export.records.cmp(&b.export.records)).then(a.export.no.cmp(&b.export.no)));
    candidates.truncate(limit);
    let canaries = sightings(store.canaries(), records.iter().map(|l| l.location.as_str()).zip(feats_all.iter().map(Vec::as_slice)));
    TraceResult { leaked, candidates, canaries }
}

/// Canaries among records given as (location, features): a record sharing at least two
/// features with a registered canary (or its only one, for a record that has one) is a sighting.
pub fn sightings<'a>(canaries: &[CanaryMeta], records: impl Iterator<Item = (&'a str, &'a [u64])>) -> Vec<CanarySighting> {
    if canaries.is_empty() {
        return Vec::new();
    }
    let mut by_feature: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, c) in canaries.iter().enumerate() {
        for f in &c.features {
            by_feature.entry(*f).or_default().push(i);
        }
    }
    let mut out = Vec::new();
    for (loc, feats) in records {
        let mut shared: HashMap<usize, usize> = HashMap::new();
        for f in feats {
            for i in by_feature.get(f).into_iter().flatten() {
                *shared.entry(*i).or_default() += 1;
            }
        }
        for (i, n) in shared {
            if n >= 2 || (n >= 1 && feats.len() == 1) {
                out.push(CanarySighting { canary: canaries[i].clone(), location: loc.to_owned(), shared: n });
            }
        }
    }
    out
}

/// Features of every record of a list (the export side).
pub fn list_features(key: &FingerprintKey, records: &[Located]) -> Vec<u64> {
    records.iter().flat_map(|l| features(key, &l.record)).collect()
}
