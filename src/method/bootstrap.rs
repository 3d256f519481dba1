//! Paired per-item bootstrap of a difference between two strategies: the same eval items are
//! resampled for both (and for every seed at once), so item difficulty cancels and the interval
//! is that of the difference itself, not of two overlapping means.

use crate::rng::Rng;

/// One cell's predictions on the eval items, in the same item order for every cell:
/// `(confidence, correct)` per item.
pub type Preds = Vec<(f64, bool)>;

/// A metric of a set of predictions (accuracy, ECE, confident-error rate, …).
pub type Metric<'a> = &'a dyn Fn(&[f64], &[bool]) -> f64;

fn metric_on(m: Metric<'_>, preds: &Preds, idx: &[usize]) -> f64 {
    let conf: Vec<f64> = idx.iter().map(|&i| preds[i].0).collect();
    let correct: Vec<bool> = idx.iter().map(|&i| preds[i].1).collect();
    m(&conf, &correct)
}

/// The mean over seeds of `m(a_s) − m(b_s)` on all items, and its 95% percentile interval over
/// `reps` resamples of the items (with replacement, the same resample for every seed and both
/// sides). `a[s]` and `b[s]` are the two strategies' predictions of seed `s`; every list holds
/// the same items in the same order. `None` when there is nothing to compare.
pub fn paired_diff(
    a: &[Preds],
    b: &[Preds],
    m: Metric<'_>,
    reps: usize,
    rng: &mut Rng,
) -> Option<(f64, f64, f64)> {
    let n = a.first()?.len();
    if n == 0 || a.len() != b.len() || a.iter().chain(b).any(|p| p.len() != n) {
        return None;
    }
    let all: Vec<usize> = (0..n).collect();
    let diff = |idx: &[usize]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| metric_on(m, x, idx) - metric_on(m, y, idx))
            .sum::<f64>()
            / a.len() as f64
    };
    let point = diff(&all);
    let mut draws: Vec<f64> = (0..reps)
        .map(|_| {
            let idx: Vec<usize> = (0..n).map(|_| rng.below(n)).collect();
            diff(&idx)
        })
        .collect();
    draws.sort_by(f64::total_cmp);
    let q = |p: f64| draws[((p * (reps - 1) as f64).round() as usize).min(reps - 1)];
    Some((point, q(0.025), q(0.975)))
}

pub fn accuracy(_: &[f64], correct: &[bool]) -> f64 {
    correct.iter().filter(|c| **c).count() as f64 / correct.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_shift_has_a_tight_interval_and_noise_a_wide_one() {
        // A is right on items 0..60 of 100, B on items 0..50: A − B = 0.10 on every resample
        // only if the resample keeps the proportions; the interval must contain 0.10 and be
        // well above 0 (B's right items are a subset of A's, so the difference never flips).
        let a: Preds = (0..100).map(|i| (0.5, i < 60)).collect();
        let b: Preds = (0..100).map(|i| (0.5, i < 50)).collect();
        let mut rng = Rng::new(7);
        let (d, lo, hi) =
            paired_diff(&[a.clone()], &[b.clone()], &accuracy, 500, &mut rng).unwrap();
        assert!((d - 0.10).abs() < 1e-12);
        assert!(
            lo > 0.03 && hi < 0.17 && lo < 0.10 && 0.10 < hi,
            "{lo} {hi}"
        );
        // Identical predictions: exactly 0 everywhere.
        let (d, lo, hi) =
            paired_diff(&[a.clone()], &[a.clone()], &accuracy, 100, &mut rng).unwrap();
        assert_eq!((d, lo, hi), (0.0, 0.0, 0.0));
        // Two seeds: the point is the mean of the per-seed differences (0.10 and 0.0).
        let (d, _, _) = paired_diff(
            &[a.clone(), a.clone()],
            &[b, a.clone()],
            &accuracy,
            50,
            &mut rng,
        )
        .unwrap();
        assert!((d - 0.05).abs() < 1e-12);
        // Mismatched item counts are refused.
        assert!(paired_diff(&[a], &[vec![(0.5, true)]], &accuracy, 10, &mut rng).is_none());
    }

    #[test]
    fn unpaired_noise_gives_an_interval_around_zero() {
        // Two independent coin flips on 400 items: the interval should straddle 0.
        let mut r = Rng::new(11);
        let a: Preds = (0..400).map(|_| (0.5, r.unit() < 0.5)).collect();
        let b: Preds = (0..400).map(|_| (0.5, r.unit() < 0.5)).collect();
        let (d, lo, hi) = paired_diff(&[a], &[b], &accuracy, 400, &mut Rng::new(3)).unwrap();
        assert!(
            lo < d && d < hi && hi - lo > 0.05 && hi - lo < 0.2,
            "{d} {lo} {hi}"
        );
    }
}
