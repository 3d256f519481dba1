use serde::{Deserialize, Serialize};

/// A supervised reasoning trace: the scarce anchor of RD.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Labeled {
    pub question: String,
    pub steps: Vec<String>,
    pub answer: String,
}

/// A question without a trace or answer: RLIF's abundant signal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Unlabeled {
    pub question: String,
}

/// An evaluation item; its answer never reaches training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalItem {
    pub question: String,
    pub answer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difficulty: Option<u32>,
}

/// A dataset directory's files, loaded.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    pub labeled: Vec<Labeled>,
    pub unlabeled: Vec<Unlabeled>,
    pub eval: Vec<EvalItem>,
    /// `dev.jsonl`: chooses checkpoints and defaults; empty when the directory has none.
    pub dev: Vec<EvalItem>,
}

impl Dataset {
    /// Questions rollouts draw from: the unlabeled ones, or, when every question is labeled, the
    /// labeled questions without their traces (so RLIF and HyTuning still run at 100% labels).
    pub fn rollout_pool(&self) -> usize {
        if self.unlabeled.is_empty() {
            self.labeled.len()
        } else {
            self.unlabeled.len()
        }
    }

    /// Question `i` of [`Dataset::rollout_pool`].
    pub fn rollout_question(&self, i: usize) -> &str {
        if self.unlabeled.is_empty() {
            &self.labeled[i].question
        } else {
            &self.unlabeled[i].question
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollouts_fall_back_to_labeled_questions_only_without_unlabeled_ones() {
        let lab = |q: &str| Labeled {
            question: q.into(),
            steps: vec![],
            answer: "1".into(),
        };
        let mut d = Dataset {
            labeled: vec![lab("a"), lab("b")],
            ..Dataset::default()
        };
        assert_eq!((d.rollout_pool(), d.rollout_question(1)), (2, "b"));
        d.unlabeled.push(Unlabeled {
            question: "u".into(),
        });
        assert_eq!((d.rollout_pool(), d.rollout_question(0)), (1, "u"));
    }
}
