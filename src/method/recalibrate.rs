//! Post-hoc calibration fitted on labelled held-out items (dev), the controls any
//! faithfulness claim must beat (`../shared/research/faithfulness.md` §2):
//! - temperature scaling (Guo et al. 2017): `σ(logit(p) / T)`, one scalar, monotone, so it
//!   changes Brier and ECE but never a ranking (AUROC, AURC);
//! - isotonic regression (pool-adjacent-violators), the non-parametric alternative;
//! - a logistic calibrator that can see difficulty: features the model produces for every answer
//!   (its response and answer-span log-odds, how many steps it wrote).
//!
//! An item the model did not answer has confidence 0 and keeps it under every map: it committed
//! to nothing. Fits use the answered items.

use serde::{Deserialize, Serialize};

const EPS: f64 = 1e-12;

pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// `ln(p / (1 − p))`, with p kept inside `[1e-12, 1 − 1e-12]`.
pub fn logit(p: f64) -> f64 {
    let p = p.clamp(EPS, 1.0 - EPS);
    (p / (1.0 - p)).ln()
}

/// Bernoulli negative log-likelihood of a probability.
fn nll(p: f64, y: bool) -> f64 {
    -(if y { p } else { 1.0 - p }).clamp(EPS, 1.0).ln()
}

/// `σ(logit(p) / T)`; 0 stays 0.
pub fn temperature_scale(p: f64, t: f64) -> f64 {
    if p <= 0.0 { 0.0 } else { sigmoid(logit(p) / t) }
}

/// The temperature minimising the NLL of the answered items (`conf > 0`), searched over
/// `T ∈ [0.01, 100]` (golden section on ln T; the NLL is convex in 1/T). 1 with nothing to fit.
pub fn fit_temperature(conf: &[f64], correct: &[bool]) -> f64 {
    let pts: Vec<(f64, bool)> = conf
        .iter()
        .zip(correct)
        .filter(|(c, _)| **c > 0.0)
        .map(|(c, y)| (logit(*c), *y))
        .collect();
    if pts.is_empty() {
        return 1.0;
    }
    let loss = |ln_t: f64| -> f64 {
        let t = ln_t.exp();
        pts.iter().map(|&(z, y)| nll(sigmoid(z / t), y)).sum()
    };
    let (mut a, mut b) = (0.01f64.ln(), 100f64.ln());
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let (mut c, mut d) = (b - g * (b - a), a + g * (b - a));
    let (mut fc, mut fd) = (loss(c), loss(d));
    while b - a > 1e-9 {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = loss(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = loss(d);
        }
    }
    ((a + b) / 2.0).exp()
}

/// An isotonic map from confidence to accuracy: fitted values at the distinct confidences of
/// the fit, interpolated linearly between them and held constant beyond them (as scikit-learn's
/// `IsotonicRegression(out_of_bounds="clip")` predicts).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Isotonic {
    pub x: Vec<f64>,
    pub y: Vec<f64>,
}

impl Isotonic {
    /// Pool-adjacent-violators on the answered items, equal confidences pooled first.
    pub fn fit(conf: &[f64], correct: &[bool]) -> Self {
        let mut pts: Vec<(f64, f64)> = conf
            .iter()
            .zip(correct)
            .filter(|(c, _)| **c > 0.0)
            .map(|(c, y)| (*c, *y as u8 as f64))
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Blocks: (sum of y, weight, first x index, last x index) over distinct x.
        let mut xs: Vec<f64> = Vec::new();
        let mut blocks: Vec<(f64, f64, usize, usize)> = Vec::new();
        for (x, y) in pts {
            if xs.last() == Some(&x) {
                let b = blocks.last_mut().expect("a block per x");
                b.0 += y;
                b.1 += 1.0;
            } else {
                xs.push(x);
                blocks.push((y, 1.0, xs.len() - 1, xs.len() - 1));
            }
            // Merge backwards while the order is violated.
            while blocks.len() > 1 {
                let n = blocks.len();
                let (a, b) = (blocks[n - 2], blocks[n - 1]);
                if a.0 / a.1 <= b.0 / b.1 {
                    break;
                }
                blocks[n - 2] = (a.0 + b.0, a.1 + b.1, a.2, b.3);
                blocks.pop();
            }
        }
        let mut y = vec![0.0; xs.len()];
        for b in &blocks {
            for v in &mut y[b.2..=b.3] {
                *v = b.0 / b.1;
            }
        }
        Isotonic { x: xs, y }
    }

    pub fn apply(&self, p: f64) -> f64 {
        if p <= 0.0 || self.x.is_empty() {
            return if p <= 0.0 { 0.0 } else { p };
        }
        let i = self.x.partition_point(|&x| x <= p);
        if i == 0 {
            return self.y[0];
        }
        if i == self.x.len() {
            return self.y[i - 1];
        }
        let (x0, x1, y0, y1) = (self.x[i - 1], self.x[i], self.y[i - 1], self.y[i]);
        y0 + (y1 - y0) * (p - x0) / (x1 - x0)
    }
}

/// What the logistic calibrator sees of one answer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Features {
    /// `Π p(token)` over the whole response through the answer line.
    pub response: f64,
    /// `Π p(token)` over the answer and its newline.
    pub answer: f64,
    /// Steps the model wrote.
    pub steps: usize,
}

/// The names of [`Logistic::weights`], in order.
pub const FEATURES: [&str; 4] = [
    "intercept",
    "logit(response confidence)",
    "logit(answer confidence)",
    "steps written",
];

fn design(f: &Features) -> [f64; 4] {
    [1.0, logit(f.response), logit(f.answer), f.steps as f64]
}

/// `σ(w · [1, logit(response), logit(answer), steps])`, fitted by Newton's method with a small
/// ridge on the slopes (so separable data still has a finite fit).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Logistic {
    pub weights: [f64; 4],
}

/// The ridge on the slopes.
pub const RIDGE: f64 = 1e-3;

impl Logistic {
    pub fn fit(features: &[Features], correct: &[bool]) -> Self {
        let rows: Vec<([f64; 4], f64)> = features
            .iter()
            .zip(correct)
            .filter(|(f, _)| f.response > 0.0)
            .map(|(f, y)| (design(f), *y as u8 as f64))
            .collect();
        let mut w = [0.0; 4];
        for _ in 0..100 {
            let mut grad = [0.0; 4];
            let mut hess = [[0.0; 4]; 4];
            for (x, y) in &rows {
                let p = sigmoid(dot(&w, x));
                let s = p * (1.0 - p);
                for i in 0..4 {
                    grad[i] += (p - y) * x[i];
                    for j in 0..4 {
                        hess[i][j] += s * x[i] * x[j];
                    }
                }
            }
            for i in 1..4 {
                grad[i] += RIDGE * w[i];
                hess[i][i] += RIDGE;
            }
            hess[0][0] += 1e-12;
            let Some(step) = solve(hess, grad) else { break };
            let mut size = 0.0f64;
            for i in 0..4 {
                w[i] -= step[i];
                size = size.max(step[i].abs());
            }
            if size < 1e-10 {
                break;
            }
        }
        Logistic { weights: w }
    }

    pub fn apply(&self, f: &Features) -> f64 {
        if f.response <= 0.0 {
            0.0
        } else {
            sigmoid(dot(&self.weights, &design(f)))
        }
    }
}

fn dot(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `A⁻¹ b` by Gaussian elimination with partial pivoting; `None` when A is singular.
fn solve(mut a: [[f64; 4]; 4], mut b: [f64; 4]) -> Option<[f64; 4]> {
    for col in 0..4 {
        let piv = (col..4).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        for r in col + 1..4 {
            let f = a[r][col] / a[col][col];
            for c in col..4 {
                a[r][c] -= f * a[col][c];
            }
            b[r] -= f * b[col];
        }
    }
    let mut x = [0.0; 4];
    for r in (0..4).rev() {
        let s: f64 = (r + 1..4).map(|c| a[r][c] * x[c]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() < tol
    }

    #[test]
    fn temperature_by_hand() {
        // Confidence σ(±2) with 3 of 4 right at +2 and 1 of 4 right at −2: the NLL's zero is
        // σ(2/T) = 3/4, T = 2 / ln 3 = 1.8205.
        let p = sigmoid(2.0);
        let conf = [p, p, p, p, 1.0 - p, 1.0 - p, 1.0 - p, 1.0 - p];
        let ok = [true, true, true, false, false, false, false, true];
        let t = fit_temperature(&conf, &ok);
        assert!(close(t, 2.0 / 3f64.ln(), 1e-6), "{t}");
        assert!(close(temperature_scale(p, t), 0.75, 1e-6));
        // Unanswered items stay at 0 and are not fitted.
        assert_eq!(temperature_scale(0.0, t), 0.0);
        let mut c2 = conf.to_vec();
        c2.push(0.0);
        let mut o2 = ok.to_vec();
        o2.push(false);
        assert!(close(fit_temperature(&c2, &o2), t, 1e-6));
        assert_eq!(fit_temperature(&[0.0], &[false]), 1.0);
        // Monotone: the order of confidences is kept.
        assert!(temperature_scale(0.9, 3.0) > temperature_scale(0.8, 3.0));
    }

    #[test]
    fn isotonic_pools_violators() {
        // Sorted by confidence: y = 1, 0, 1, 1 at x = .2, .4, .6, .8: the first two pool to ½.
        let iso = Isotonic::fit(
            &[0.4, 0.2, 0.8, 0.6, 0.0],
            &[false, true, true, true, false],
        );
        assert_eq!(iso.x, vec![0.2, 0.4, 0.6, 0.8]);
        assert_eq!(iso.y, vec![0.5, 0.5, 1.0, 1.0]);
        // Between .4 and .6 linearly; clipped outside; 0 stays 0.
        assert!(close(iso.apply(0.5), 0.75, 1e-12));
        assert_eq!(iso.apply(0.1), 0.5);
        assert_eq!(iso.apply(0.95), 1.0);
        assert_eq!(iso.apply(0.0), 0.0);
        // Equal confidences are pooled before the fit: x .3 twice, one right.
        let iso = Isotonic::fit(&[0.3, 0.3, 0.9], &[true, false, true]);
        assert_eq!(
            (iso.x.clone(), iso.y.clone()),
            (vec![0.3, 0.9], vec![0.5, 1.0])
        );
    }

    #[test]
    fn logistic_solves_its_score_equations() {
        // Intercept only (every feature the same): the fit is the base rate, logit(3/5).
        let f = Features {
            response: 0.5,
            answer: 0.5,
            steps: 0,
        };
        let lr = Logistic::fit(&[f; 5], &[true, true, true, false, false]);
        assert!(close(lr.apply(&f), 0.6, 1e-6), "{:?}", lr);
        // Varied features: at the fit, Σ (y − p̂)·x = ridge·w on the slopes (the optimum's
        // gradient is zero).
        let feats: Vec<Features> = (0..40)
            .map(|i| Features {
                response: 0.05 + 0.9 * ((i * 7) % 40) as f64 / 40.0,
                answer: 0.3 + 0.6 * ((i * 3) % 40) as f64 / 40.0,
                steps: i % 4,
            })
            .collect();
        let ok: Vec<bool> = (0..40)
            .map(|i| (i * 7) % 40 > 12 && i % 4 != 3 || i == 5)
            .collect();
        let lr = Logistic::fit(&feats, &ok);
        let mut grad = [0.0; 4];
        for (f, y) in feats.iter().zip(&ok) {
            let x = design(f);
            let r = lr.apply(f) - *y as u8 as f64;
            for i in 0..4 {
                grad[i] += r * x[i];
            }
        }
        for i in 1..4 {
            grad[i] += RIDGE * lr.weights[i];
        }
        assert!(grad.iter().all(|g| g.abs() < 1e-6), "{grad:?}");
        // It learned that steps written predicts failure here (3 steps are always wrong).
        assert!(lr.weights[3] < 0.0);
        assert_eq!(
            lr.apply(&Features {
                response: 0.0,
                answer: 0.0,
                steps: 1
            }),
            0.0
        );
    }

    #[test]
    fn solve_by_hand() {
        let a = [
            [2.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.0],
            [0.0, 3.0, 0.0, 0.0],
            [1.0, 0.0, 0.0, 1.0],
        ];
        let x = solve(a, [2.0, 5.0, 6.0, 4.0]).unwrap();
        assert_eq!(x, [1.0, 2.0, 5.0, 3.0]);
        assert_eq!(solve([[0.0; 4]; 4], [1.0; 4]), None);
    }
}
