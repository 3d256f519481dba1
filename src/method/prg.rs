//! Progressive Reasoning Gain (DESIGN §1.4): did the steps raise confidence step by step?

use serde::{Deserialize, Serialize};

/// Steps may lower confidence by this much and still count as "not lowering" it.
pub const DEFAULT_EPS: f64 = 0.01;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrgScore {
    /// `g_k = p_k − p_{k−1}`, k = 1..K.
    pub gains: Vec<f64>,
    /// Share of steps with `g_k ≥ −ε` (1 when K = 0).
    pub mono: f64,
    /// `(p_K − p_0) · mono`.
    pub prg: f64,
}

/// Scores a trace `p_0..p_K` of answer confidences.
pub fn prg(trace: &[f64], eps: f64) -> PrgScore {
    let gains: Vec<f64> = trace.windows(2).map(|w| w[1] - w[0]).collect();
    if gains.is_empty() {
        return PrgScore {
            gains,
            mono: 1.0,
            prg: 0.0,
        };
    }
    let mono = gains.iter().filter(|&&g| g >= -eps).count() as f64 / gains.len() as f64;
    let prg = (trace[trace.len() - 1] - trace[0]) * mono;
    PrgScore { gains, mono, prg }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn monotone_trace() {
        let s = prg(&[0.1, 0.3, 0.6], DEFAULT_EPS);
        assert!(close(s.gains[0], 0.2) && close(s.gains[1], 0.3));
        assert_eq!(s.mono, 1.0);
        assert!(close(s.prg, 0.5));
    }

    #[test]
    fn non_monotone_trace_is_discounted() {
        let s = prg(&[0.2, 0.5, 0.4, 0.8], DEFAULT_EPS);
        assert!(close(s.mono, 2.0 / 3.0));
        assert!(close(s.prg, 0.6 * 2.0 / 3.0));
        // A dip within ε does not count against the trace.
        assert!(close(prg(&[0.5, 0.495, 0.7], DEFAULT_EPS).prg, 0.2));
        // Confidence that the steps lowered scores ≤ 0.
        assert!(prg(&[0.9, 0.2], DEFAULT_EPS).prg <= 0.0);
        assert!(close(prg(&[0.9, 0.95, 0.5], DEFAULT_EPS).prg, -0.4 * 0.5));
    }

    #[test]
    fn no_steps_scores_zero() {
        let s = prg(&[0.7], DEFAULT_EPS);
        assert_eq!(s.prg, 0.0);
        assert!(s.gains.is_empty());
    }
}
