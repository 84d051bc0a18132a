//! Robust statistics for baselines: median and MAD (median absolute deviation), which one
//! huge export cannot drag the way it drags a mean and standard deviation.

/// The median of `xs` (None when empty).
pub fn median(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// Median absolute deviation.
pub fn mad(xs: &[f64]) -> Option<f64> {
    let m = median(xs)?;
    let dev: Vec<f64> = xs.iter().map(|x| (x - m).abs()).collect();
    median(&dev)
}

/// A baseline of daily amounts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Baseline {
    /// Median daily amount.
    pub median: f64,
    /// MAD.
    pub mad: f64,
    /// Days it was computed from.
    pub days: usize,
}

impl Baseline {
    /// The baseline of `xs`, when at least `min_days` values.
    pub fn of(xs: &[f64], min_days: usize) -> Option<Baseline> {
        if xs.len() < min_days.max(1) {
            return None;
        }
        Some(Baseline { median: median(xs)?, mad: mad(xs)?, days: xs.len() })
    }

    /// The alert threshold: median + k × 1.4826 × MAD (the MAD scaled to a standard deviation
    /// for normal data), with the MAD floored at 10% of the median (and 1) so a perfectly
    /// regular history does not make every small rise an outlier.
    pub fn threshold(&self, k: f64) -> f64 {
        let spread = self.mad.max(self.median * 0.1).max(1.0);
        self.median + k * 1.4826 * spread
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robust_against_one_outlier() {
        let xs = [100.0, 120.0, 90.0, 110.0, 100.0, 50_000.0];
        assert_eq!(median(&xs), Some(105.0));
        let b = Baseline::of(&xs, 5).unwrap();
        assert!(b.threshold(6.0) < 1000.0, "{b:?}");
        assert!(Baseline::of(&xs[..3], 5).is_none());
        assert_eq!(mad(&[1.0, 1.0, 2.0, 2.0, 4.0, 6.0, 9.0]), Some(1.0));
    }
}
