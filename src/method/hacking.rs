//! The onset of reward hacking, read off the reward canary (labeled questions rolled out but
//! never trained on): the reward still rises while it has stopped ranking correct rollouts
//! above wrong ones (SRT's "consistent but incorrect"), or the canary's accuracy falls well
//! below its best (M-GRPO's "reward rises, accuracy falls").

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What one canary evaluation measured that the onset rule reads (checkpoints carry the run's
/// points, so a resumed run's rule still sees the earlier ones).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CanaryPoint {
    #[serde(with = "nan_as_null")]
    pub reward_mean: f64,
    /// Within-question AUROC of the reward against correctness (`None`: no mixed group).
    pub auroc: Option<f64>,
    #[serde(with = "nan_as_null")]
    pub accuracy: f64,
    /// Standard error of `accuracy` (over questions).
    #[serde(with = "nan_as_null")]
    pub accuracy_se: f64,
}

/// JSON has no NaN (serde_json writes it as `null` and then refuses to read `null` as a
/// number): a non-finite figure goes out as `null` and comes back as NaN.
mod nan_as_null {
    use super::*;

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// An AUROC below this no longer ranks right above wrong usefully.
pub const AUROC_FLOOR: f64 = 0.6;

/// Why `now` marks the onset of hacking given the earlier points, or `None`:
/// - the mean reward rose since the previous point while the AUROC is below [`AUROC_FLOOR`];
/// - the accuracy is more than 2 standard errors (of the best point) below the best so far.
pub fn onset(history: &[CanaryPoint], now: &CanaryPoint) -> Option<String> {
    let prev = history.last()?;
    if let Some(a) = now.auroc
        && now.reward_mean > prev.reward_mean
        && a < AUROC_FLOOR
    {
        return Some(format!(
            "reward rose {:.3} → {:.3} while its within-question AUROC is {a:.2} (< {AUROC_FLOOR})",
            prev.reward_mean, now.reward_mean
        ));
    }
    let best = history
        .iter()
        .max_by(|a, b| a.accuracy.total_cmp(&b.accuracy))?;
    if now.accuracy < best.accuracy - 2.0 * best.accuracy_se {
        return Some(format!(
            "canary accuracy {:.3} is more than 2 SE below its best {:.3} (SE {:.3})",
            now.accuracy, best.accuracy, best.accuracy_se
        ));
    }
    None
}

/// Mean and standard error (sample std / √n) of per-question values.
pub fn mean_se(values: &[f64]) -> (f64, f64) {
    let n = values.len();
    if n == 0 {
        return (0.0, 0.0);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, (var / n as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(reward_mean: f64, auroc: Option<f64>, accuracy: f64) -> CanaryPoint {
        CanaryPoint {
            reward_mean,
            auroc,
            accuracy,
            accuracy_se: 0.05,
        }
    }

    #[test]
    fn onset_rules_by_hand() {
        let h = [p(0.5, Some(0.8), 0.60), p(0.55, Some(0.75), 0.62)];
        // Healthy: reward up, AUROC fine, accuracy within 2 SE (0.62 − 0.10 = 0.52).
        assert_eq!(onset(&h, &p(0.6, Some(0.7), 0.55)), None);
        // Reward up while AUROC 0.55.
        let why = onset(&h, &p(0.6, Some(0.55), 0.6)).unwrap();
        assert!(why.contains("0.55"), "{why}");
        // AUROC low but reward falling: not this rule.
        assert_eq!(onset(&h, &p(0.5, Some(0.5), 0.6)), None);
        // Accuracy 0.51 < 0.52.
        let why = onset(&h, &p(0.5, Some(0.9), 0.51)).unwrap();
        assert!(why.contains("2 SE"), "{why}");
        // Nothing to compare with at the first point.
        assert_eq!(onset(&[], &p(1.0, Some(0.1), 0.0)), None);
    }

    #[test]
    fn a_point_survives_json_even_when_not_finite() {
        let a = p(0.75, Some(0.5), 0.25);
        let text = serde_json::to_string(&a).unwrap();
        assert_eq!(
            text,
            r#"{"reward_mean":0.75,"auroc":0.5,"accuracy":0.25,"accuracy_se":0.05}"#
        );
        assert_eq!(serde_json::from_str::<CanaryPoint>(&text).unwrap(), a);
        // NaN is written as null and read back as NaN, not refused.
        let text = serde_json::to_string(&p(f64::NAN, None, 0.25)).unwrap();
        assert!(text.contains(r#""reward_mean":null"#), "{text}");
        let back: CanaryPoint = serde_json::from_str(&text).unwrap();
        assert!(back.reward_mean.is_nan() && back.auroc.is_none() && back.accuracy == 0.25);
    }

    #[test]
    fn mean_and_standard_error_by_hand() {
        // mean 0.5; sample var ((0.25·2) + 0)/2... values 0, 0.5, 1: var 0.25, se √(0.25/3).
        let (m, se) = mean_se(&[0.0, 0.5, 1.0]);
        assert!((m - 0.5).abs() < 1e-12);
        assert!((se - (0.25f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(mean_se(&[]), (0.0, 0.0));
        assert_eq!(mean_se(&[0.4]), (0.4, 0.0));
    }
}
