//! Order statistics of a set of samples.
//!
//! Quantiles use linear interpolation between the closest ranks (Hyndman & Fan type 7, the
//! default of R, NumPy and most spreadsheets): for `n` sorted samples `x[0..n]`, quantile `q` is
//! at position `h = q * (n - 1)`, i.e. `x[⌊h⌋] + (h - ⌊h⌋) * (x[⌊h⌋ + 1] - x[⌊h⌋])`. The median
//! is the usual one (the mean of the two middle samples when `n` is even); the p95 of 20 samples
//! lies between the 19th and the 20th smallest (position 18.05), i.e. just above the second
//! largest.

use serde::Serialize;

/// Summary of a non-empty set of samples (all in the same unit).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    pub n: usize,
    pub min: f64,
    pub median: f64,
    pub p95: f64,
    pub max: f64,
    pub mean: f64,
}

impl Summary {
    /// `None` for an empty slice or one holding a NaN.
    pub fn of(samples: &[f64]) -> Option<Self> {
        if samples.is_empty() || samples.iter().any(|v| v.is_nan()) {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        Some(Self {
            n,
            min: *sorted.first()?,
            median: quantile_sorted(&sorted, 0.5)?,
            p95: quantile_sorted(&sorted, 0.95)?,
            max: *sorted.last()?,
            mean: sorted.iter().sum::<f64>() / n as f64,
        })
    }
}

/// Quantile `q` (0.0..=1.0) of ascending `sorted` samples, type 7 (see the module docs).
/// `None` if `sorted` is empty or `q` is outside 0..=1.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let h = q * (sorted.len() - 1) as f64;
    let lower = h.floor();
    // `h` lies in 0..=len-1, so the conversion is exact and in range.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let i = lower as usize;
    let a = *sorted.get(i)?;
    let b = sorted.get(i + 1).copied().unwrap_or(a);
    Some(a + (h - lower) * (b - a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_nan_have_no_summary() {
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(Summary::of(&[1.0, f64::NAN]), None);
        assert_eq!(quantile_sorted(&[1.0], 1.5), None);
    }

    #[test]
    fn single_sample() {
        let s = Summary::of(&[7.5]).unwrap();
        assert_eq!(
            (s.n, s.min, s.median, s.p95, s.max, s.mean),
            (1, 7.5, 7.5, 7.5, 7.5, 7.5)
        );
    }

    #[test]
    fn median_odd_and_even() {
        assert_eq!(Summary::of(&[3.0, 1.0, 2.0]).unwrap().median, 2.0);
        assert_eq!(Summary::of(&[4.0, 1.0, 3.0, 2.0]).unwrap().median, 2.5);
    }

    #[test]
    fn twenty_samples_unsorted() {
        // 1..=20 in a scrambled order.
        let samples: Vec<f64> = (0..20).map(|i| f64::from((i * 7) % 20 + 1)).collect();
        let s = Summary::of(&samples).unwrap();
        assert_eq!(s.n, 20);
        assert_eq!(s.min, 1.0);
        assert_eq!(s.max, 20.0);
        assert_eq!(s.median, 10.5);
        assert_eq!(s.mean, 10.5);
        // position 0.95 * 19 = 18.05: 19 + 0.05 * (20 - 19)
        assert!((s.p95 - 19.05).abs() < 1e-9, "{}", s.p95);
    }

    #[test]
    fn p95_with_an_outlier() {
        let mut samples = vec![100.0; 19];
        samples.push(1000.0);
        let s = Summary::of(&samples).unwrap();
        assert_eq!(s.median, 100.0);
        assert!((s.p95 - 145.0).abs() < 1e-9, "{}", s.p95);
        assert_eq!(s.max, 1000.0);
    }

    #[test]
    fn quantile_ends() {
        let sorted = [1.0, 2.0, 4.0, 8.0];
        assert_eq!(quantile_sorted(&sorted, 0.0), Some(1.0));
        assert_eq!(quantile_sorted(&sorted, 1.0), Some(8.0));
        assert_eq!(quantile_sorted(&sorted, 0.5), Some(3.0));
    }
}
