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
    /// A 64-bit FNV-1a digest of every item of every file, in order: what a checkpoint records
    /// so a resume on other data is refused.
    pub fn fingerprint(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |s: &str| {
            for b in s.bytes().chain([0xff]) {
                h ^= b as u64;
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        for x in &self.labeled {
            eat(&serde_json::to_string(x).unwrap_or_default());
        }
        eat("|unlabeled");
        for x in &self.unlabeled {
            eat(&x.question);
        }
        eat("|eval");
        for x in &self.eval {
            eat(&serde_json::to_string(x).unwrap_or_default());
        }
        eat("|dev");
        for x in &self.dev {
            eat(&serde_json::to_string(x).unwrap_or_default());
        }
        format!("{h:016x}")
    }

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

    #[test]
    fn fingerprint_changes_with_any_item_and_nothing_else() {
        let d = Dataset {
            labeled: vec![Labeled {
                question: "q".into(),
                steps: vec!["1+1=2".into()],
                answer: "2".into(),
            }],
            ..Dataset::default()
        };
        assert_eq!(d.fingerprint(), d.clone().fingerprint());
        // FNV-1a of the one labeled item's JSON and the three section markers, by hand.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for part in [
            r#"{"question":"q","steps":["1+1=2"],"answer":"2"}"#,
            "|unlabeled",
            "|eval",
            "|dev",
        ] {
            for b in part.bytes().chain([0xff]) {
                h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
            }
        }
        assert_eq!(d.fingerprint(), format!("{h:016x}"));
        let mut e = d.clone();
        e.labeled[0].answer = "3".into();
        assert_ne!(d.fingerprint(), e.fingerprint());
        // An unlabeled question differs from the same text moved to eval.
        let mut u = d.clone();
        u.unlabeled.push(Unlabeled {
            question: "x".into(),
        });
        let mut v = d.clone();
        v.eval.push(EvalItem {
            question: "x".into(),
            answer: "1".into(),
            steps: None,
            difficulty: None,
        });
        assert_ne!(u.fingerprint(), v.fingerprint());
    }
}
