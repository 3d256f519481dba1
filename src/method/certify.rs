//! Certified abstention (`hytune calibrate`): the lowest confidence threshold whose answered set
//! has error at most ε with probability at least 1 − δ, by Learn-then-Test with fixed-sequence
//! testing and exact binomial p-values (`../shared/research/faithfulness.md` §3.3).
//!
//! The thresholds are the distinct confidences of the calibration items, highest first, starting
//! at the first that keeps enough items for zero errors to pass the test at all (which depends on
//! the confidences only, never on the answers). At each threshold λ_j with n_j items kept and k_j
//! of them wrong, `p_j = P(Bin(n_j, ε) ≤ k_j)`; the walk rejects "risk(λ_j) > ε" while p_j ≤ δ
//! and stops at the first p_j > δ. The certified threshold is the last rejected one; none
//! rejected means abstain on everything. Fixed-sequence testing needs no multiplicity correction.

use serde::{Deserialize, Serialize};

use super::recalibrate::{Features, Logistic};

/// `ln C(n, t)` for `t = 0..=n`.
fn ln_choose_row(n: usize) -> Vec<f64> {
    let mut row = vec![0.0; n + 1];
    for t in 1..=n {
        row[t] = row[t - 1] + ((n - t + 1) as f64).ln() - (t as f64).ln();
    }
    row
}

/// `P(Bin(n, p) ≤ k)`, summed in log space (exact for the sizes here; no overflow at n = 10⁵).
pub fn binomial_cdf(k: usize, n: usize, p: f64) -> f64 {
    if k >= n {
        return 1.0;
    }
    if p <= 0.0 {
        return 1.0;
    }
    if p >= 1.0 {
        return 0.0;
    }
    let row = ln_choose_row(n);
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    (0..=k)
        .map(|t| (row[t] + t as f64 * lp + (n - t) as f64 * lq).exp())
        .sum::<f64>()
        .min(1.0)
}

/// The fewest answered items with which a certificate can exist at all: zero errors among `n`
/// passes only when `(1 − ε)ⁿ ≤ δ`, i.e. `n ≥ ln δ / ln(1 − ε)` (45 at ε = 5%, δ = 10%).
pub fn min_items(epsilon: f64, delta: f64) -> usize {
    (delta.ln() / (1.0 - epsilon).ln()).ceil() as usize
}

/// What `hytune calibrate` certified, stored with the checkpoint and carried by every export.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Certificate {
    /// Answer only when the score is at least this; `None`: abstain on everything (nothing
    /// could be certified).
    pub threshold: Option<f64>,
    pub epsilon: f64,
    pub delta: f64,
    /// The score thresholded: `confidence` (the model's own, `eval.confidence`) or `logistic`
    /// (the calibrator below, fitted on a separate half of the calibration items).
    pub score: String,
    /// Calibration items the test ran on.
    pub n: usize,
    /// Of those, answered at the threshold, and wrong among them.
    pub answered: usize,
    pub errors: usize,
    /// `answered / n`.
    pub coverage: f64,
    /// The exact binomial p-value at the threshold.
    pub p_value: Option<f64>,
    /// The calibrator of `score = logistic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibrator: Option<Logistic>,
    /// Temperature scaling of the confidence fitted on the same items (reported; monotone, so
    /// it moves no item across the threshold).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// The calibration items (a file), and when the certificate was made (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made: Option<String>,
}

impl Certificate {
    /// The score this certificate thresholds: the model's confidence, or its calibrator's output
    /// on what the calibrator sees.
    pub fn score(&self, confidence: f64, features: &Features) -> f64 {
        match &self.calibrator {
            Some(c) => c.apply(features),
            None => confidence,
        }
    }

    /// Whether an item with this score is answered.
    pub fn answers(&self, score: f64) -> bool {
        self.threshold.is_some_and(|t| score >= t)
    }

    /// One line for a terminal or a log.
    pub fn describe(&self) -> String {
        match self.threshold {
            Some(t) => format!(
                "threshold {} on {}: answers {}/{} calibration items ({:.1}% coverage), {} wrong; error ≤ {} with probability ≥ {} (p = {:.3})",
                show(t),
                self.score,
                self.answered,
                self.n,
                100.0 * self.coverage,
                self.errors,
                self.epsilon,
                1.0 - self.delta,
                self.p_value.unwrap_or(1.0)
            ),
            None => format!(
                "threshold none on {}: no threshold keeps error ≤ {} with probability ≥ {} on {} calibration items; abstain on everything",
                self.score,
                self.epsilon,
                1.0 - self.delta,
                self.n
            ),
        }
    }
}

/// A threshold as a person reads it: six decimals, or three significant digits below 0.001 (a
/// whole response's probability on a real model is often 1e-9).
fn show(t: f64) -> String {
    if t >= 1e-3 || t == 0.0 {
        format!("{t:.6}")
    } else {
        format!("{t:.3e}")
    }
}

/// Why a certificate cannot be computed.
#[derive(Debug, PartialEq)]
pub enum Refusal {
    /// ε or δ outside (0, 1).
    Range(&'static str, f64),
    /// Fewer calibration items than [`min_items`].
    TooFew { have: usize, need: usize },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Range(name, v) => write!(f, "--{name} {v} is outside (0, 1)"),
            Refusal::TooFew { have, need } => write!(
                f,
                "{have} calibration items cannot certify anything: even with no errors it takes {need} answered items (ln δ / ln(1 − ε)), and a few hundred to certify a useful coverage"
            ),
        }
    }
}

/// Checks ε and δ and the item count before any work.
pub fn check(epsilon: f64, delta: f64, items: usize) -> Result<(), Refusal> {
    for (name, v) in [("epsilon", epsilon), ("delta", delta)] {
        if !(v > 0.0 && v < 1.0) {
            return Err(Refusal::Range(name, v));
        }
    }
    let need = min_items(epsilon, delta);
    if items < need {
        return Err(Refusal::TooFew { have: items, need });
    }
    Ok(())
}

/// The certificate of `scores` (higher = surer) against `correct` at level ε, δ.
pub fn certify(
    scores: &[f64],
    correct: &[bool],
    epsilon: f64,
    delta: f64,
    score: &str,
) -> Result<Certificate, Refusal> {
    check(epsilon, delta, scores.len())?;
    let need = min_items(epsilon, delta);
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut cert = Certificate {
        threshold: None,
        epsilon,
        delta,
        score: score.to_string(),
        n: scores.len(),
        answered: 0,
        errors: 0,
        coverage: 0.0,
        p_value: None,
        calibrator: None,
        temperature: None,
        data: None,
        made: None,
    };
    let (mut n, mut k) = (0, 0);
    let mut i = 0;
    while i < order.len() {
        // Every item tied at this score is in or out together.
        let s = scores[order[i]];
        while i < order.len() && scores[order[i]] == s {
            n += 1;
            k += !correct[order[i]] as usize;
            i += 1;
        }
        if n < need {
            continue;
        }
        let p = binomial_cdf(k, n, epsilon);
        if p > delta {
            break;
        }
        cert.threshold = Some(s);
        cert.answered = n;
        cert.errors = k;
        cert.coverage = n as f64 / scores.len() as f64;
        cert.p_value = Some(p);
    }
    Ok(cert)
}

/// The certificate of the logistic calibrator's score (`score = logistic`): the calibrator is
/// fitted on the even items and the threshold certified on the odd ones, since a score fitted on
/// the items it is certified on would void the guarantee. The calibrator travels in the
/// certificate. Needs [`min_items`] odd items.
pub fn certify_logistic(
    features: &[Features],
    correct: &[bool],
    epsilon: f64,
    delta: f64,
) -> Result<Certificate, Refusal> {
    let half = |r: usize| (r..features.len()).step_by(2);
    let lr = Logistic::fit(
        &half(0).map(|i| features[i]).collect::<Vec<_>>(),
        &half(0).map(|i| correct[i]).collect::<Vec<_>>(),
    );
    let scores: Vec<f64> = half(1).map(|i| lr.apply(&features[i])).collect();
    let ok: Vec<bool> = half(1).map(|i| correct[i]).collect();
    Ok(Certificate {
        calibrator: Some(lr),
        ..certify(&scores, &ok, epsilon, delta, "logistic")?
    })
}

/// A certificate applied to held-out items: how many it answers, their error, and whether the
/// promise (error ≤ ε) held there.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Applied {
    pub n: usize,
    pub answered: usize,
    pub abstained: usize,
    pub coverage: f64,
    /// Error among the answered items (`None`: none answered).
    pub risk: Option<f64>,
    /// `risk ≤ ε` (true when nothing is answered: no answer is never a wrong one).
    pub held: bool,
}

pub fn apply(cert: &Certificate, scores: &[f64], correct: &[bool]) -> Applied {
    let (mut answered, mut wrong) = (0, 0);
    for (&s, &ok) in scores.iter().zip(correct) {
        if cert.answers(s) {
            answered += 1;
            wrong += !ok as usize;
        }
    }
    let risk = (answered > 0).then(|| wrong as f64 / answered as f64);
    Applied {
        n: scores.len(),
        answered,
        abstained: scores.len() - answered,
        coverage: if scores.is_empty() {
            0.0
        } else {
            answered as f64 / scores.len() as f64
        },
        risk,
        held: risk.is_none_or(|r| r <= cert.epsilon),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() < tol
    }

    #[test]
    fn binomial_cdf_by_hand() {
        // P(Bin(3, ½) ≤ 1) = (1 + 3)/8.
        assert!(close(binomial_cdf(1, 3, 0.5), 0.5, 1e-12));
        // P(Bin(10, 0.05) ≤ 0) = 0.95¹⁰.
        assert!(close(binomial_cdf(0, 10, 0.05), 0.95f64.powi(10), 1e-12));
        // P(Bin(4, 0.1) ≤ 1) = 0.9⁴ + 4·0.1·0.9³ = 0.6561 + 0.2916.
        assert!(close(binomial_cdf(1, 4, 0.1), 0.9477, 1e-12));
        assert_eq!(binomial_cdf(5, 5, 0.3), 1.0);
        // Large n: P(Bin(1000, 0.05) ≤ 50) = 0.5375290408 (Python's exact integer sum
        // Σ comb(1000, t)·.05^t·.95^(1000−t), t ≤ 50).
        assert!(close(binomial_cdf(50, 1000, 0.05), 0.537_529_040_8, 1e-9));
    }

    #[test]
    fn the_fewest_items_match_the_notes() {
        // faithfulness.md §3.4: 45 at ε = 5%, δ = 10%.
        assert_eq!(min_items(0.05, 0.1), 45);
        assert!(0.95f64.powi(45) <= 0.1 && 0.95f64.powi(44) > 0.1);
        assert_eq!(
            check(0.05, 0.1, 44),
            Err(Refusal::TooFew { have: 44, need: 45 })
        );
        assert_eq!(check(0.0, 0.1, 100), Err(Refusal::Range("epsilon", 0.0)));
        assert_eq!(check(0.05, 1.0, 100), Err(Refusal::Range("delta", 1.0)));
        assert!(check(0.05, 0.1, 45).is_ok());
    }

    #[test]
    fn walks_down_while_the_test_rejects() {
        // 200 items, score i/200 for item i; wrong items at 150 and every item below 100. The
        // top 45 (scores 155..199) have 0 errors: p = .95^45 = .0994 ≤ .1, certified. Adding
        // item 154..151 keeps 0 errors (p falls); item 150 is wrong: n = 50, k = 1:
        // P(Bin(50, .05) ≤ 1) = .95^50 + 50·.05·.95^49 = .279 > .1: stop at 151.
        let scores: Vec<f64> = (0..200).map(|i| i as f64 / 200.0).collect();
        let ok: Vec<bool> = (0..200).map(|i| i >= 100 && i != 150).collect();
        let c = certify(&scores, &ok, 0.05, 0.1, "confidence").unwrap();
        assert_eq!(c.threshold, Some(151.0 / 200.0));
        assert_eq!((c.answered, c.errors, c.n), (49, 0, 200));
        assert!(close(c.coverage, 49.0 / 200.0, 1e-12));
        assert!(close(c.p_value.unwrap(), 0.95f64.powi(49), 1e-12));
        // The first p above δ stops the walk even if a later one would pass: fixed sequence.
        let a = apply(&c, &scores, &ok);
        assert_eq!(
            (a.answered, a.abstained, a.risk, a.held),
            (49, 151, Some(0.0), true)
        );
    }

    #[test]
    fn nothing_certified_abstains_everywhere() {
        // Half wrong at every score: no threshold passes.
        let scores: Vec<f64> = (0..100).map(|i| (i / 2) as f64).collect();
        let ok: Vec<bool> = (0..100).map(|i| i % 2 == 0).collect();
        let c = certify(&scores, &ok, 0.05, 0.1, "confidence").unwrap();
        assert_eq!(c.threshold, None);
        assert!(!c.answers(1e9));
        let a = apply(&c, &scores, &ok);
        assert_eq!((a.answered, a.risk, a.held), (0, None, true));
        assert!(c.describe().contains("threshold none"));
        assert_eq!(show(0.25), "0.250000");
        assert_eq!(show(3.14159e-9), "3.142e-9");
    }

    #[test]
    fn ties_go_in_together() {
        // 60 items at one score, 1 wrong: P(Bin(60, .05) ≤ 1) = .95^60 + 60·.05·.95^59 = .192
        // > .1, so nothing; with 0 wrong, p = .95^60 = .046: all 60 at once.
        let scores = vec![0.7; 60];
        let mut ok = vec![true; 60];
        assert_eq!(
            certify(&scores, &ok, 0.05, 0.1, "confidence")
                .unwrap()
                .answered,
            60
        );
        ok[3] = false;
        assert_eq!(
            certify(&scores, &ok, 0.05, 0.1, "confidence")
                .unwrap()
                .threshold,
            None
        );
    }
}
