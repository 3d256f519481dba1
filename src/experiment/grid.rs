//! The cells of an experiment: suite × labeled fraction × strategy × seed, and the presets.

use crate::config::Experiment;
use crate::data::suites::Suite;
use crate::method::mixing::Strategy;
use crate::method::parse_variant;
use crate::method::rewards::Reward;

#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub suite: Suite,
    pub fraction: f64,
    /// The labeled count (`experiment.labels`), when the grid is in counts.
    pub count: Option<usize>,
    pub strategy: Strategy,
    /// The RL reward when the grid entry names one (`hytuning+random`), else the config's.
    pub reward: Option<Reward>,
    pub seed: u64,
}

impl Cell {
    /// The cell's folder name, e.g. `dosage-f0.05-hytuning-s1` or `dosage-n16-rd-s2`.
    pub fn name(&self) -> String {
        format!(
            "{}-{}-{}-s{}",
            self.suite.name(),
            self.labels_tag(),
            self.variant(),
            self.seed
        )
    }

    /// The grid entry: `hytuning`, or `hytuning+random` for a reward control.
    pub fn variant(&self) -> String {
        match self.reward {
            Some(r) => format!("{}+{}", self.strategy.name(), r.name()),
            None => self.strategy.name().to_string(),
        }
    }

    /// `f0.05` for a fraction, `n16` for a count.
    pub fn labels_tag(&self) -> String {
        match self.count {
            Some(n) => format!("n{n}"),
            None => format!("f{}", self.fraction),
        }
    }

    /// The dataset of the cell (shared by its strategies and seeds).
    pub fn data_name(&self) -> String {
        format!("{}-{}", self.suite.name(), self.labels_tag())
    }
}

/// The grid's label arms: `(fraction, count)`, from `experiment.labels` (counts out of `size`,
/// capped at `size`) when given, else from `experiment.fractions`.
pub fn arms(e: &Experiment, size: usize) -> Vec<(f64, Option<usize>)> {
    if e.labels.is_empty() {
        return e.fractions.iter().map(|&f| (f, None)).collect();
    }
    e.labels
        .iter()
        .map(|&n| {
            let n = n.min(size);
            (n as f64 / size as f64, Some(n))
        })
        .collect()
}

/// Where the unlabeled pool starts when the grid is in counts: after the largest count below
/// `size`, so every count sees the same unlabeled questions.
pub fn pool_start(e: &Experiment, size: usize) -> Option<usize> {
    (!e.labels.is_empty()).then(|| {
        e.labels
            .iter()
            .copied()
            .filter(|&n| n < size)
            .max()
            .unwrap_or(0)
    })
}

/// How a report names an arm: `16 labels`, `all 4000 labels`, or `5%`.
pub fn arm_label(fraction: f64, count: Option<usize>) -> String {
    match count {
        Some(n) if fraction >= 1.0 => format!("all {n} labels"),
        Some(n) => format!("{n} labels"),
        None => format!("{}% labeled", fraction * 100.0),
    }
}

/// Every cell of the grid, suites outermost and strategies innermost, so a partial experiment
/// already compares strategies. Strategies outside a non-empty `sweep` run at the first fraction
/// only. At fraction 1.0 rollouts draw from the labeled questions. `size`: `data.size`.
pub fn cells(e: &Experiment, size: usize) -> Vec<Cell> {
    let mut out = Vec::new();
    for suite in &e.suites {
        let suite: Suite = suite.parse().expect("validated");
        for (f, &(fraction, count)) in arms(e, size).iter().enumerate() {
            for &seed in &e.seeds {
                for s in &e.strategies {
                    let (strategy, reward) = parse_variant(s).expect("validated");
                    if f > 0 && !e.sweep.is_empty() && !e.sweep.contains(s) {
                        continue;
                    }
                    out.push(Cell {
                        suite,
                        fraction,
                        count,
                        strategy,
                        reward,
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
        // The main question in about 20 minutes on a 2-core CPU (from the shipped base): dosage
        // at 16 labeled traces, RD, RLIF, HyTuning and its random-reward control, RD on all
        // 4,000 traces beside them; two seeds; eval 1,000 items, dev 300.
        "quick" => &[
            "experiment.suites=[\"dosage\"]",
            "experiment.strategies=[\"rd\", \"rlif\", \"hytuning\", \"hytuning+random\"]",
            "experiment.labels=[16, 4000]",
            "experiment.sweep=[\"rd\"]",
            "experiment.seeds=[1, 2]",
            "data.eval_size=1000",
            "data.dev_size=300",
            "eval.every=20",
            "eval.max_items=1000",
            "eval.dev_items=300",
            "checkpoint.every=20",
        ],
        // Both domains at 16 labels: the five strategies and the two reward controls, five
        // seeds; RD and HyTuning swept over 8-64 labels and all of them. Many hours; resumes.
        "full" => &[
            "experiment.suites=[\"dosage\", \"finance\"]",
            "experiment.strategies=[\"rd\", \"rlif\", \"fixed\", \"schedule\", \"hytuning\", \"hytuning+random\", \"hytuning+format\"]",
            "experiment.labels=[16, 8, 32, 64, 4000]",
            "experiment.sweep=[\"rd\", \"hytuning\"]",
            "experiment.seeds=[1, 2, 3, 4, 5]",
            "data.eval_size=1000",
            "data.dev_size=300",
            "eval.every=20",
            "eval.max_items=1000",
            "eval.dev_items=300",
            "checkpoint.every=20",
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
            labels: vec![],
        };
        let c = cells(&e, 4000);
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
        let c = cells(&e, 4000);
        assert_eq!(c.len(), 2 * (4 + 2));
        assert_eq!(c[4].name(), "dosage-f1-hytuning-s1");
        assert!(preset("quick").is_some() && preset("nope").is_none());
        // Counts: named n16, the largest count below the size starts the shared pool, and a
        // count at or above the size is all the labels.
        let e = Experiment {
            labels: vec![16, 64, 9000],
            sweep: vec![],
            suites: vec!["dosage".into()],
            ..e
        };
        let c = cells(&e, 4000);
        assert_eq!(c.len(), 3 * 2 * 2);
        assert_eq!(c[0].name(), "dosage-n16-rd-s1");
        assert_eq!(c[0].fraction, 0.004);
        assert_eq!(c[8].data_name(), "dosage-n4000");
        assert_eq!(c[8].fraction, 1.0);
        assert_eq!(pool_start(&e, 4000), Some(64));
        assert_eq!(arm_label(1.0, Some(4000)), "all 4000 labels");
        assert_eq!(arm_label(0.05, None), "5% labeled");
        assert_eq!(arm_label(0.004, Some(16)), "16 labels");
        assert_eq!(
            parse_variant("hytuning+random"),
            Some((Strategy::Hytuning, Some(Reward::Random)))
        );
        assert_eq!(parse_variant("rd"), Some((Strategy::Rd, None)));
        assert_eq!(parse_variant("rd+gold"), None);
        let e = Experiment {
            strategies: vec!["hytuning+format".into()],
            labels: vec![16],
            ..e
        };
        assert_eq!(cells(&e, 4000)[0].name(), "dosage-n16-hytuning+format-s1");
    }
}
