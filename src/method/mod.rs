//! The method's formulas (DESIGN §1.3–1.7) as plain functions over plain numbers. The engine
//! applies the same formulas to tensors; tests here pin them to hand-checked values.

pub mod bootstrap;
pub mod calibration;
pub mod consensus;
pub mod grpo;
pub mod hacking;
pub mod mixing;
pub mod prg;
pub mod rewards;
pub mod self_certainty;
pub mod within_auroc;

pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}
