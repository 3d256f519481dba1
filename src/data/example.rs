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
