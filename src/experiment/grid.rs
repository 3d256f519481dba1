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
/// already compares strategies. Strategies that need unlabeled questions are left out where the
/// fraction leaves none (1.0).
pub fn cells(e: &Experiment) -> Vec<Cell> {
    let mut out = Vec::new();
    for suite in &e.suites {
        let suite: Suite = suite.parse().expect("validated");
        for &fraction in &e.fractions {
            for &seed in &e.seeds {
                for s in &e.strategies {
                    let strategy = Strategy::parse(s).expect("validated");
                    if fraction >= 1.0 && strategy.needs_rollouts() {
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
        // About 30 minutes on a 2-core CPU: one domain, the three pure strategies, 5% and full
        // labels, two seeds, a shorter post-training.
        "quick" => &[
            "experiment.suites=[\"dosage\"]",
            "experiment.strategies=[\"rd\", \"rlif\", \"hytuning\"]",
            "experiment.fractions=[0.05, 1.0]",
            "experiment.seeds=[1, 2]",
            "post.steps=60",
            "post.questions=6",
            "eval.every=20",
            "eval.max_items=100",
            "eval.dev_items=60",
            "checkpoint.every=20",
        ],
        // Both domains, all five strategies, three fractions, three seeds.
        "full" => &[
            "experiment.suites=[\"dosage\", \"finance\"]",
            "experiment.strategies=[\"rd\", \"rlif\", \"fixed\", \"schedule\", \"hytuning\"]",
            "experiment.fractions=[0.05, 0.25, 1.0]",
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
    fn grid_order_names_and_skipped_cells() {
        let e = Experiment {
            suites: vec!["dosage".into(), "finance".into()],
            strategies: vec!["rd".into(), "hytuning".into()],
            fractions: vec![0.05, 1.0],
            seeds: vec![1, 2],
            base_seed: 42,
        };
        let c = cells(&e);
        // Per suite: 0.05 × 2 seeds × 2 strategies + 1.0 × 2 seeds × rd only.
        assert_eq!(c.len(), 2 * (4 + 2));
        assert_eq!(c[0].name(), "dosage-f0.05-rd-s1");
        assert_eq!(c[1].name(), "dosage-f0.05-hytuning-s1");
        assert_eq!(c[4].name(), "dosage-f1-rd-s1");
        assert_eq!(c[4].data_name(), "dosage-f1");
        assert!(
            c.iter()
                .all(|x| x.fraction < 1.0 || x.strategy == Strategy::Rd)
        );
        assert!(preset("quick").is_some() && preset("nope").is_none());
    }
}
