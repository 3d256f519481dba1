//! Calibration metrics (DESIGN §1.7): ECE, Brier, AUROC, confident-error rate, reliability bins
//! and confidence histograms.

use serde::{Deserialize, Serialize};

use super::selective;

pub const BINS: usize = 10;

/// Bin of a confidence: `[i/10, (i+1)/10)`, the last bin closed at 1.
pub fn bin_of(conf: f64) -> usize {
    ((conf * BINS as f64).floor() as usize).min(BINS - 1)
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    pub lo: f64,
    pub hi: f64,
    pub count: usize,
    /// Accuracy of the items in the bin (null when empty).
    pub accuracy: Option<f64>,
    pub mean_confidence: Option<f64>,
}

pub fn reliability(conf: &[f64], correct: &[bool]) -> Vec<ReliabilityBin> {
    let mut bins: Vec<(usize, f64, f64)> = vec![(0, 0.0, 0.0); BINS];
    for (&c, &ok) in conf.iter().zip(correct) {
        let b = &mut bins[bin_of(c)];
        b.0 += 1;
        b.1 += ok as u8 as f64;
        b.2 += c;
    }
    bins.iter()
        .enumerate()
        .map(|(i, &(n, right, sum))| ReliabilityBin {
            lo: i as f64 / BINS as f64,
            hi: (i + 1) as f64 / BINS as f64,
            count: n,
            accuracy: (n > 0).then(|| right / n as f64),
            mean_confidence: (n > 0).then(|| sum / n as f64),
        })
        .collect()
}

/// `Σ_b (n_b / N) |acc_b − conf_b|` over the non-empty bins.
pub fn ece(conf: &[f64], correct: &[bool]) -> f64 {
    let n = conf.len() as f64;
    reliability(conf, correct)
        .iter()
        .filter_map(|b| Some(b.count as f64 / n * (b.accuracy? - b.mean_confidence?).abs()))
        .sum()
}

pub fn brier(conf: &[f64], correct: &[bool]) -> f64 {
    conf.iter()
        .zip(correct)
        .map(|(c, &ok)| (c - ok as u8 as f64).powi(2))
        .sum::<f64>()
        / conf.len() as f64
}

/// Probability that a right answer is more confident than a wrong one (ties ½);
/// `None` when all items are right or all are wrong.
pub fn auroc(conf: &[f64], correct: &[bool]) -> Option<f64> {
    let pos: Vec<f64> = conf
        .iter()
        .zip(correct)
        .filter(|p| *p.1)
        .map(|p| *p.0)
        .collect();
    let neg: Vec<f64> = conf
        .iter()
        .zip(correct)
        .filter(|p| !*p.1)
        .map(|p| *p.0)
        .collect();
    if pos.is_empty() || neg.is_empty() {
        return None;
    }
    let mut wins = 0.0;
    for p in &pos {
        for q in &neg {
            wins += if p > q {
                1.0
            } else if p == q {
                0.5
            } else {
                0.0
            };
        }
    }
    Some(wins / (pos.len() * neg.len()) as f64)
}

/// Share of all items that are wrong with confidence ≥ `threshold`.
pub fn confident_error_rate(conf: &[f64], correct: &[bool], threshold: f64) -> f64 {
    conf.iter()
        .zip(correct)
        .filter(|(c, ok)| !**ok && **c >= threshold)
        .count() as f64
        / conf.len() as f64
}

/// Counts per confidence bin.
pub fn histogram(conf: impl IntoIterator<Item = f64>) -> Vec<usize> {
    let mut h = vec![0; BINS];
    for c in conf {
        h[bin_of(c)] += 1;
    }
    h
}

/// The calibration figures of one group of items.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub n: usize,
    pub accuracy: f64,
    pub ece: f64,
    pub brier: f64,
    pub auroc: Option<f64>,
    pub confident_error_rate: f64,
    pub mean_confidence: f64,
    pub reliability: Vec<ReliabilityBin>,
    pub hist_right: Vec<usize>,
    pub hist_wrong: Vec<usize>,
    /// Area under the risk–coverage curve (`method::selective`; lower is better).
    #[serde(default)]
    pub aurc: f64,
    /// AURC less a perfect ranking's: the ranking's own share.
    #[serde(default)]
    pub e_aurc: f64,
    /// Accuracy among the 50% and the 80% most confident items.
    #[serde(default)]
    pub selective_accuracy_50: f64,
    #[serde(default)]
    pub selective_accuracy_80: f64,
    /// Share of items with confidence ≥ the confident threshold, and the error among them.
    #[serde(default)]
    pub coverage: f64,
    #[serde(default)]
    pub selective_risk: Option<f64>,
}

impl Calibration {
    /// `n … accuracy … ECE … Brier … AUROC … confident-errors … mean-conf …` on one line.
    pub fn summary_line(&self) -> String {
        format!(
            "n {} accuracy {:.3} ECE {:.3} Brier {:.3} AUROC {} confident-errors {:.3} mean-conf {:.3} AURC {:.3}",
            self.n,
            self.accuracy,
            self.ece,
            self.brier,
            self.auroc
                .map(|a| format!("{a:.3}"))
                .unwrap_or_else(|| "n/a".into()),
            self.confident_error_rate,
            self.mean_confidence,
            self.aurc
        )
    }

    pub fn of(conf: &[f64], correct: &[bool], threshold: f64) -> Self {
        let n = conf.len();
        if n == 0 {
            return Self {
                reliability: reliability(&[], &[]),
                hist_right: vec![0; BINS],
                hist_wrong: vec![0; BINS],
                ..Self::default()
            };
        }
        let pick = |want: bool| {
            conf.iter()
                .zip(correct)
                .filter(move |p| *p.1 == want)
                .map(|p| *p.0)
        };
        Self {
            n,
            accuracy: correct.iter().filter(|&&c| c).count() as f64 / n as f64,
            ece: ece(conf, correct),
            brier: brier(conf, correct),
            auroc: auroc(conf, correct),
            confident_error_rate: confident_error_rate(conf, correct, threshold),
            mean_confidence: conf.iter().sum::<f64>() / n as f64,
            reliability: reliability(conf, correct),
            hist_right: histogram(pick(true)),
            hist_wrong: histogram(pick(false)),
            aurc: selective::aurc(conf, correct),
            e_aurc: selective::e_aurc(conf, correct),
            selective_accuracy_50: selective::selective_accuracy(conf, correct, 0.5),
            selective_accuracy_80: selective::selective_accuracy(conf, correct, 0.8),
            coverage: selective::coverage_at(conf, threshold),
            selective_risk: selective::risk_at(conf, correct, threshold),
        }
    }
}

/// How best.hyt is chosen among the dev evaluations of post-training (`eval.best`).
pub const BEST_RULES: &[&str] = &["accuracy", "brier"];

/// The key a dev evaluation ranks by for best.hyt, higher better: `accuracy` (ties: the lower
/// Brier) or `brier` (the lower Brier; ties: the higher accuracy). Brier alone prefers a model
/// that answers nothing with confidence 0 to one that answers: on the real SmolLM2 the untrained
/// base (dev accuracy 0.031, Brier 0.031) beat its own step 12 (0.188, Brier 0.257).
pub fn best_key(rule: &str, c: &Calibration) -> (f64, f64) {
    match rule {
        "brier" => (-c.brier, c.accuracy),
        _ => (c.accuracy, -c.brier),
    }
}

/// Whether `key` replaces the best so far (`None`: nothing yet); an equal key does not.
pub fn beats(key: (f64, f64), best: Option<(f64, f64)>) -> bool {
    best.is_none_or(|b| key.0 > b.0 || (key.0 == b.0 && key.1 > b.1))
}

/// The index of the evaluation best.hyt keeps under `rule`, of `(index, evaluation)` pairs in
/// the order they were made: the first that no later one beats.
pub fn best_index<'a>(
    rule: &str,
    evals: impl IntoIterator<Item = (usize, &'a Calibration)>,
) -> Option<usize> {
    let mut best: Option<(usize, (f64, f64))> = None;
    for (i, c) in evals {
        let key = best_key(rule, c);
        if beats(key, best.map(|b| b.1)) {
            best = Some((i, key));
        }
    }
    best.map(|b| b.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn bin_edges() {
        assert_eq!(bin_of(0.0), 0);
        assert_eq!(bin_of(0.0999), 0);
        assert_eq!(bin_of(0.1), 1);
        assert_eq!(bin_of(0.95), 9);
        assert_eq!(bin_of(1.0), 9, "last bin is closed");
    }

    #[test]
    fn ece_brier_auroc_by_hand() {
        let conf = [0.95, 0.85, 0.15, 1.0];
        let ok = [true, false, false, true];
        // bin 9: acc 1, conf .975 (2 items); bin 8: acc 0, conf .85; bin 1: acc 0, conf .15
        assert!(close(
            ece(&conf, &ok),
            0.5 * 0.025 + 0.25 * 0.85 + 0.25 * 0.15
        ));
        assert!(close(brier(&conf, &ok), (0.0025 + 0.7225 + 0.0225) / 4.0));
        assert_eq!(auroc(&conf, &ok), Some(1.0));
        assert_eq!(confident_error_rate(&conf, &ok, 0.9), 0.0);
        assert_eq!(confident_error_rate(&[0.9, 0.2], &[false, false], 0.9), 0.5);
        let r = reliability(&conf, &ok);
        assert_eq!(r[5].count, 0);
        assert_eq!(
            r[5].accuracy, None,
            "empty bins have no accuracy and add nothing to ECE"
        );
    }

    #[test]
    fn auroc_ties_and_undefined() {
        assert_eq!(auroc(&[0.5, 0.5, 0.2], &[true, false, false]), Some(0.75));
        assert_eq!(auroc(&[0.1, 0.9], &[false, true]), Some(1.0));
        assert_eq!(auroc(&[0.9, 0.1], &[false, true]), Some(0.0));
        assert_eq!(auroc(&[0.5, 0.7], &[true, true]), None);
        assert_eq!(auroc(&[0.5, 0.7], &[false, false]), None);
    }

    #[test]
    fn summary_histograms_split_right_and_wrong() {
        let c = Calibration::of(&[0.95, 0.85, 0.15, 1.0], &[true, false, false, true], 0.9);
        assert_eq!(c.n, 4);
        assert_eq!(c.accuracy, 0.5);
        assert_eq!(c.hist_right[9], 2);
        assert_eq!(c.hist_wrong[8] + c.hist_wrong[1], 2);
        assert!(close(c.mean_confidence, 0.7375));
        assert_eq!(Calibration::of(&[], &[], 0.9).n, 0);
    }

    #[test]
    fn best_hyt_follows_accuracy_unless_brier_is_asked_for() {
        // The real SmolLM2 run's dev evaluations at steps 0, 12 and 24.
        let eval = |accuracy, brier| Calibration {
            accuracy,
            brier,
            ..Default::default()
        };
        let evals = [eval(0.031, 0.031), eval(0.188, 0.257), eval(0.125, 0.467)];
        let pick = |rule| best_index(rule, evals.iter().enumerate()).unwrap();
        assert_eq!(pick("accuracy"), 1);
        assert_eq!(pick("brier"), 0);
        // Equal accuracy: the lower Brier wins; an equal key keeps the earlier one.
        let k = |a, b| best_key("accuracy", &eval(a, b));
        assert!(beats(k(0.5, 0.2), Some(k(0.5, 0.3))));
        assert!(!beats(k(0.5, 0.3), Some(k(0.5, 0.3))));
        assert!(!beats(k(0.4, 0.0), Some(k(0.5, 0.3))));
        assert!(beats(
            best_key("brier", &eval(0.1, 0.2)),
            Some(best_key("brier", &eval(0.9, 0.3)))
        ));
    }
}
