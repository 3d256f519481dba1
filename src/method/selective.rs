//! Selective prediction: answer only above a confidence threshold. The risk–coverage curve, its
//! area (AURC, Geifman et al. 2018) and the excess over a perfect ranking (E-AURC), selective
//! accuracy at a fixed coverage, and errors at a coverage matched between two models
//! (`../shared/research/faithfulness.md` §3.1).
//!
//! Items are answered from the most confident down. Tied confidences are answered in a random
//! order: every figure here is its expectation over that order, so no tie is broken in anyone's
//! favour.

/// Items sorted by confidence (highest first) and grouped by equal confidence:
/// `(confidence, items, wrong)` per group.
fn groups(conf: &[f64], correct: &[bool]) -> Vec<(f64, usize, usize)> {
    let mut order: Vec<usize> = (0..conf.len()).collect();
    order.sort_by(|&a, &b| conf[b].total_cmp(&conf[a]));
    let mut out: Vec<(f64, usize, usize)> = Vec::new();
    for i in order {
        let wrong = !correct[i] as usize;
        match out.last_mut() {
            Some(g) if g.0 == conf[i] => {
                g.1 += 1;
                g.2 += wrong;
            }
            _ => out.push((conf[i], 1, wrong)),
        }
    }
    out
}

/// The expected errors among the `m` most confident items (ties in random order).
fn errors_in_top(conf: &[f64], correct: &[bool], m: usize) -> f64 {
    let mut taken = 0;
    let mut errors = 0.0;
    for (_, n, k) in groups(conf, correct) {
        if taken >= m {
            break;
        }
        let t = n.min(m - taken);
        errors += t as f64 * k as f64 / n as f64;
        taken += t;
    }
    errors
}

/// The risk–coverage curve at every distinct threshold, highest first: `(coverage, risk)` where
/// coverage is the share of items at or above the threshold and risk the error among them.
pub fn risk_coverage(conf: &[f64], correct: &[bool]) -> Vec<(f64, f64)> {
    let n = conf.len() as f64;
    let (mut items, mut wrong) = (0, 0);
    groups(conf, correct)
        .into_iter()
        .map(|(_, m, k)| {
            items += m;
            wrong += k;
            (items as f64 / n, wrong as f64 / items as f64)
        })
        .collect()
}

/// Area under the risk–coverage curve: the mean over `i = 1..n` of the error among the `i` most
/// confident items. Lower is better; a model that is always wrong scores 1. 0 for no items.
pub fn aurc(conf: &[f64], correct: &[bool]) -> f64 {
    let n = conf.len();
    if n == 0 {
        return 0.0;
    }
    let (mut taken, mut errors, mut area) = (0usize, 0.0, 0.0);
    for (_, m, k) in groups(conf, correct) {
        let rate = k as f64 / m as f64;
        for j in 1..=m {
            area += (errors + j as f64 * rate) / (taken + j) as f64;
        }
        taken += m;
        errors += k as f64;
    }
    area / n as f64
}

/// The AURC of a perfect ranking of the same answers (every right one before every wrong one):
/// what accuracy alone allows.
pub fn oracle_aurc(correct: &[bool]) -> f64 {
    let n = correct.len();
    if n == 0 {
        return 0.0;
    }
    let right = correct.iter().filter(|c| **c).count();
    (1..=n - right)
        .map(|j| j as f64 / (right + j) as f64)
        .sum::<f64>()
        / n as f64
}

/// AURC less the oracle's: the part of the area due to the ranking alone (0 = perfect).
pub fn e_aurc(conf: &[f64], correct: &[bool]) -> f64 {
    aurc(conf, correct) - oracle_aurc(correct)
}

/// How many items a coverage keeps: `round(c·n)`, at least one.
pub fn kept(coverage: f64, n: usize) -> usize {
    ((coverage * n as f64).round() as usize).clamp(1, n.max(1))
}

/// Accuracy among the share `coverage` of items answered with the highest confidence.
pub fn selective_accuracy(conf: &[f64], correct: &[bool], coverage: f64) -> f64 {
    if conf.is_empty() {
        return 0.0;
    }
    let m = kept(coverage, conf.len());
    1.0 - errors_in_top(conf, correct, m) / m as f64
}

/// Share of all items that are wrong and among the `coverage` most confident: the
/// confident-error rate at a coverage fixed in advance (e.g. the coverage another model has at
/// confidence 0.9), so a sharper model cannot look worse merely by moving items over a fixed
/// threshold.
pub fn errors_at_coverage(conf: &[f64], correct: &[bool], coverage: f64) -> f64 {
    if conf.is_empty() || coverage <= 0.0 {
        return 0.0;
    }
    errors_in_top(conf, correct, kept(coverage, conf.len())) / conf.len() as f64
}

/// Share of items with confidence ≥ `threshold`.
pub fn coverage_at(conf: &[f64], threshold: f64) -> f64 {
    if conf.is_empty() {
        return 0.0;
    }
    conf.iter().filter(|c| **c >= threshold).count() as f64 / conf.len() as f64
}

/// Error among the items with confidence ≥ `threshold` (`None`: none reach it).
pub fn risk_at(conf: &[f64], correct: &[bool], threshold: f64) -> Option<f64> {
    let (n, k) = conf
        .iter()
        .zip(correct)
        .filter(|(c, _)| **c >= threshold)
        .fold((0, 0), |(n, k), (_, ok)| (n + 1, k + !*ok as usize));
    (n > 0).then(|| k as f64 / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn aurc_by_hand() {
        // Ranked W R R R: errors among the top 1..4 are 1/1, 1/2, 1/3, 1/4.
        let conf = [0.9, 0.8, 0.7, 0.6];
        let ok = [false, true, true, true];
        assert!(close(
            aurc(&conf, &ok),
            (1.0 + 0.5 + 1.0 / 3.0 + 0.25) / 4.0
        ));
        // The oracle ranks R R R W: 0, 0, 0, 1/4.
        assert!(close(oracle_aurc(&ok), 0.25 / 4.0));
        assert!(close(e_aurc(&conf, &ok), (1.0 + 0.5 + 1.0 / 3.0) / 4.0));
        // A perfect ranking has no excess; all wrong scores 1, all right 0.
        let good = [0.1, 0.9, 0.8, 0.7];
        assert!(close(e_aurc(&good, &ok), 0.0));
        assert!(close(aurc(&conf, &[false; 4]), 1.0));
        assert!(close(aurc(&conf, &[true; 4]), 0.0));
        assert_eq!(aurc(&[], &[]), 0.0);
    }

    #[test]
    fn ties_count_in_expectation() {
        // Two tied items, one wrong: top-1 risk ½ in expectation, top-2 risk ½.
        assert!(close(aurc(&[0.5, 0.5], &[true, false]), 0.5));
        // A tie below a right item: 0, then (0 + ½)/2, then 1/3.
        let conf = [0.9, 0.5, 0.5];
        let ok = [true, true, false];
        assert!(close(aurc(&conf, &ok), (0.0 + 0.25 + 1.0 / 3.0) / 3.0));
        // Selective accuracy at 2/3 coverage: the right one and half of the tie.
        assert!(close(selective_accuracy(&conf, &ok, 2.0 / 3.0), 0.75));
        assert!(close(errors_at_coverage(&conf, &ok, 2.0 / 3.0), 0.5 / 3.0));
    }

    #[test]
    fn curve_selective_accuracy_and_matched_errors() {
        let conf = [0.95, 0.9, 0.6, 0.4, 0.2];
        let ok = [true, false, true, true, false];
        assert_eq!(
            risk_coverage(&conf, &ok),
            vec![
                (0.2, 0.0),
                (0.4, 0.5),
                (0.6, 1.0 / 3.0),
                (0.8, 0.25),
                (1.0, 0.4)
            ]
        );
        // 50% of 5 rounds to 3 items: one wrong.
        assert!(close(selective_accuracy(&conf, &ok, 0.5), 2.0 / 3.0));
        assert!(close(selective_accuracy(&conf, &ok, 0.8), 0.75));
        assert!(close(selective_accuracy(&conf, &ok, 1.0), 0.6));
        assert!(close(coverage_at(&conf, 0.9), 0.4));
        assert_eq!(risk_at(&conf, &ok, 0.9), Some(0.5));
        assert_eq!(risk_at(&conf, &ok, 0.99), None);
        // At RD's coverage of 0.4 this model has 1 error in its top 2: 1/5 of all items.
        assert!(close(errors_at_coverage(&conf, &ok, 0.4), 0.2));
        assert_eq!(errors_at_coverage(&conf, &ok, 0.0), 0.0);
    }
}
