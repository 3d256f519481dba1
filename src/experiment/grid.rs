//! The cells of an experiment: suite × labeled fraction × strategy × seed, and the presets.

use crate::config::Experiment;
use crate::data::suites::Suite;
use crate::method::mixing::Strategy;

#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub suite: Suite,
    pub fraction: f64,
    pub strategy: Strategy,
    pub seed: u64,
}

impl Cell {
    /// The cell's folder name, e.g. `dosage-f0.05-hytuning-s1`.
    pub fn name(&self) -> String {
        format!(
            "{}-f{}-{}-s{}",
            self.suite.name(),
            self.fraction,
            self.strategy.name(),
            self.seed
        )
    }

    /// The dataset of the cell (shared by its strategies and seeds).
    pub fn data_name(&self) -> String {
        format!("{}-f{}", self.suite.name(), self.fraction)
    }
}

/// Every cell of the grid, suites outermost and strategies innermost, so a partial experiment
/// already compares strategies. Strategies outside a non-empty `sweep` run at the first fraction
/// only. At fraction 1.0 rollouts draw from the labeled questions.
pub fn cells(e: &Experiment) -> Vec<Cell> {
    let mut out = Vec::new();
    for suite in &e.suites {
        let suite: Suite = suite.parse().expect("validated");
        for (f, &fraction) in e.fractions.iter().enumerate() {
            for &seed in &e.seeds {
                for s in &e.strategies {
                    let strategy = Strategy::parse(s).expect("validated");
                    if f > 0 && !e.sweep.is_empty() && !e.sweep.contains(s) {
                        continue;
                    }
                    out.push(Cell {
                        suite,
                        fraction,
                        strategy,
                        seed,
                    });
                }
            }
        }
    }
    out
}

pub const PRESETS: &[&str] = &["quick", "full"];

/// `--set` overrides of a preset, applied before the user's own.
pub fn preset(name: &str) -> Option<Vec<String>> {
    let sets: &[&str] = match name {
        // About 30 minutes on a 2-core CPU: one domain, the three pure strategies at 5% labels,
        // RD and HyTuning at full labels too, two seeds, a shorter post-training.
        "quick" => &[
            "experiment.suites=[\"dosage\"]",
            "experiment.strategies=[\"rd\", \"rlif\", \"hytuning\"]",
            "experiment.fractions=[0.05, 1.0]",
            "experiment.sweep=[\"rd\", \"hytuning\"]",
            "experiment.seeds=[1, 2]",
            "post.steps=60",
            "post.questions=6",
            "eval.every=20",
            "eval.max_items=100",
            "eval.dev_items=60",
            "checkpoint.every=20",
        ],
        // Both domains: all five strategies at 5% labels, RD and HyTuning swept over three
        // fractions, three seeds.
        "full" => &[
            "experiment.suites=[\"dosage\", \"finance\"]",
            "experiment.strategies=[\"rd\", \"rlif\", \"fixed\", \"schedule\", \"hytuning\"]",
            "experiment.fractions=[0.05, 0.25, 1.0]",
            "experiment.sweep=[\"rd\", \"hytuning\"]",
            "experiment.seeds=[1, 2, 3]",
            "checkpoint.every=25",
        ],
        _ => return None,
    };
    Some(sets.iter().map(|s| s.to_string()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_order_and_names() {
        let e = Experiment {
            suites: vec!["dosage".into(), "finance".into()],
            strategies: vec!["rd".into(), "hytuning".into()],
            fractions: vec![0.05, 1.0],
            sweep: vec![],
            seeds: vec![1, 2],
            base_seed: 42,
        };
        let c = cells(&e);
        // Per suite: 2 fractions × 2 seeds × 2 strategies.
        assert_eq!(c.len(), 2 * 8);
        assert_eq!(c[0].name(), "dosage-f0.05-rd-s1");
        assert_eq!(c[1].name(), "dosage-f0.05-hytuning-s1");
        assert_eq!(c[4].name(), "dosage-f1-rd-s1");
        assert_eq!(c[4].data_name(), "dosage-f1");
        assert_eq!(c[5].name(), "dosage-f1-hytuning-s1");
        assert_eq!(c[8].name(), "finance-f0.05-rd-s1");
        // A sweep of hytuning alone: rd runs at the first fraction only.
        let e = Experiment {
            sweep: vec!["hytuning".into()],
            ..e
        };
        let c = cells(&e);
        assert_eq!(c.len(), 2 * (4 + 2));
        assert_eq!(c[4].name(), "dosage-f1-hytuning-s1");
        assert!(preset("quick").is_some() && preset("nope").is_none());
    }
}
