//! The method's formulas (DESIGN §1.3–1.7) as plain functions over plain numbers. The engine
//! applies the same formulas to tensors; tests here pin them to hand-checked values.

pub mod bootstrap;
pub mod calibration;
pub mod certify;
pub mod competence;
pub mod consensus;
pub mod grpo;
pub mod hacking;
pub mod mixing;
pub mod prg;
pub mod recalibrate;
pub mod rewards;
pub mod selective;
pub mod self_certainty;
pub mod within_auroc;

/// A grid entry: `strategy` or `strategy+reward` (a control such as `hytuning+random` runs the
/// same mixing with another reward). `None` when either part is unknown.
pub fn parse_variant(s: &str) -> Option<(mixing::Strategy, Option<rewards::Reward>)> {
    match s.split_once('+') {
        None => Some((mixing::Strategy::parse(s)?, None)),
        Some((st, r)) => Some((
            mixing::Strategy::parse(st)?,
            Some(rewards::Reward::parse(r)?),
        )),
    }
}

pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}
