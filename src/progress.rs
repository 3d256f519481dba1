//! Throughput and ETA from step metrics, ignoring warm-up steps (kernel compilation, caches).

use std::collections::VecDeque;

use crate::engine::protocol::StepMetrics;

const WINDOW: usize = 20;

#[derive(Default, Clone, Debug)]
pub struct Progress {
    recent: VecDeque<(f64, f64)>,
    pub step: usize,
    pub total: usize,
    pub phase: String,
    pub warming_up: bool,
}

impl Progress {
    pub fn push(&mut self, m: &StepMetrics) {
        if m.phase != self.phase {
            self.recent.clear();
            self.phase = m.phase.clone();
        }
        self.step = m.step;
        self.total = m.total;
        self.warming_up = m.warmup;
        if !m.warmup {
            let tokens =
                m.tok_s_update * m.time_update + m.tok_s_rollout.unwrap_or(0.0) * m.time_rollout;
            self.recent.push_back((m.step_seconds, tokens));
            if self.recent.len() > WINDOW {
                self.recent.pop_front();
            }
        }
    }

    /// Median seconds per step over the recent window (warm-up excluded).
    pub fn seconds_per_step(&self) -> Option<f64> {
        let mut v: Vec<f64> = self.recent.iter().map(|r| r.0).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some(v[v.len() / 2])
    }

    pub fn tokens_per_second(&self) -> Option<f64> {
        let (s, t) = self
            .recent
            .iter()
            .fold((0.0, 0.0), |(s, t), r| (s + r.0, t + r.1));
        (s > 0.0).then(|| t / s)
    }

    pub fn eta_seconds(&self) -> Option<f64> {
        Some(self.seconds_per_step()? * self.total.saturating_sub(self.step) as f64)
    }
}

pub fn format_duration(secs: f64) -> String {
    let s = secs.round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(step: usize, secs: f64, warmup: bool) -> StepMetrics {
        StepMetrics {
            phase: "post".into(),
            step,
            total: 10,
            step_seconds: secs,
            time_update: secs,
            tok_s_update: 100.0,
            warmup,
            ..Default::default()
        }
    }

    #[test]
    fn eta_ignores_warmup() {
        let mut p = Progress::default();
        p.push(&step(1, 90.0, true));
        assert_eq!(p.eta_seconds(), None, "a warm-up step alone gives no ETA");
        p.push(&step(2, 1.0, false));
        p.push(&step(3, 2.0, false));
        p.push(&step(4, 1.5, false));
        assert_eq!(p.seconds_per_step(), Some(1.5));
        assert_eq!(p.eta_seconds(), Some(9.0));
        assert_eq!(p.tokens_per_second(), Some(100.0));
        assert_eq!(format_duration(125.0), "2m05s");
    }
}
