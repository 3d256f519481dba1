//! `arith`, the general benchmark: a left-to-right chain of the skills, one step per operation.

use super::skills::{ADD_MAX, MUL_A_MAX, VALUE_MAX, add, div, mul, small_divisors, sub};
use crate::data::Labeled;
use crate::rng::Rng;

/// Applies one random skill to `value`: the step text, the operator and operand, the new value.
pub fn next_op(rng: &mut Rng, value: i64) -> (String, char, i64, i64) {
    loop {
        match rng.range(0, 3) {
            0 => {
                let b = rng.range(1, ADD_MAX);
                if value + b <= VALUE_MAX + ADD_MAX {
                    let (s, v) = add(value, b);
                    return (s, '+', b, v);
                }
            }
            1 if value > 1 => {
                let b = rng.range(1, (value - 1).min(ADD_MAX));
                let (s, v) = sub(value, b);
                return (s, '-', b, v);
            }
            2 if value <= MUL_A_MAX => {
                let b = rng.range(2, 9);
                let (s, v) = mul(value, b);
                return (s, '*', b, v);
            }
            3 => {
                let ds = small_divisors(value);
                if !ds.is_empty() {
                    let d = *rng.pick(&ds);
                    let (s, v) = div(value, d);
                    return (s, '/', d, v);
                }
            }
            _ => {}
        }
    }
}

pub fn example(rng: &mut Rng, steps: u32) -> Labeled {
    let mut value = rng.range(2, MUL_A_MAX);
    let mut question = value.to_string();
    let mut trace = Vec::new();
    for _ in 0..steps {
        let (step, op, operand, next) = next_op(rng, value);
        trace.push(step);
        question.push_str(&format!("{op}{operand}"));
        value = next;
    }
    Labeled {
        question: format!("{question}=?"),
        steps: trace,
        answer: value.to_string(),
    }
}
