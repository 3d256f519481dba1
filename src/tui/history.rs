//! A metric's history at two resolutions: the recent window at full resolution, and the whole
//! run down-sampled by doubling the stride, so memory stays bounded however long the run.

use std::collections::VecDeque;

#[derive(Clone, Debug)]
pub struct Series {
    recent: VecDeque<(f64, f64)>,
    whole: Vec<(f64, f64)>,
    stride: usize,
    seen: usize,
    cap: usize,
}

impl Series {
    pub fn new(cap: usize) -> Self {
        Self {
            recent: VecDeque::with_capacity(cap),
            whole: Vec::new(),
            stride: 1,
            seen: 0,
            cap: cap.max(4),
        }
    }

    pub fn push(&mut self, x: f64, y: f64) {
        if !y.is_finite() {
            return;
        }
        if self.recent.len() == self.cap {
            self.recent.pop_front();
        }
        self.recent.push_back((x, y));
        if self.seen % self.stride == 0 {
            self.whole.push((x, y));
            if self.whole.len() >= 2 * self.cap {
                // Keep every other point and double the stride.
                self.whole = self.whole.iter().step_by(2).copied().collect();
                self.stride *= 2;
            }
        }
        self.seen += 1;
    }

    pub fn points(&self, whole_run: bool) -> Vec<(f64, f64)> {
        if whole_run {
            self.whole.clone()
        } else {
            self.recent.iter().copied().collect()
        }
    }

    pub fn last(&self) -> Option<f64> {
        self.recent.back().map(|p| p.1)
    }

    pub fn is_empty(&self) -> bool {
        self.recent.is_empty()
    }

    pub fn stored(&self) -> usize {
        self.recent.len() + self.whole.len()
    }
}

/// Exponential moving average of a curve (`smoothing` 0 = raw).
pub fn ema(points: &[(f64, f64)], smoothing: f64) -> Vec<(f64, f64)> {
    let mut acc = None;
    points
        .iter()
        .map(|&(x, y)| {
            let v = match acc {
                None => y,
                Some(a) => smoothing * a + (1.0 - smoothing) * y,
            };
            acc = Some(v);
            (x, v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_bounded_and_whole_run_spans_everything() {
        let mut s = Series::new(16);
        for i in 0..100_000 {
            s.push(i as f64, i as f64);
        }
        assert!(s.stored() <= 16 + 32, "{}", s.stored());
        let whole = s.points(true);
        assert_eq!(whole[0].0, 0.0);
        assert!(whole.last().unwrap().0 > 90_000.0);
        assert_eq!(s.points(false).len(), 16);
        assert_eq!(s.points(false)[15].0, 99_999.0);
        s.push(1.0, f64::NAN);
        assert_eq!(
            s.last(),
            Some(99_999.0),
            "non-finite values are not plotted"
        );
    }

    #[test]
    fn ema_by_hand() {
        let p = [(0.0, 1.0), (1.0, 3.0), (2.0, 3.0)];
        assert_eq!(ema(&p, 0.0), p.to_vec());
        let e = ema(&p, 0.5);
        assert_eq!(e[1].1, 2.0);
        assert_eq!(e[2].1, 2.5);
    }
}
