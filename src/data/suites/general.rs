//! `general`, the pretraining corpus: the skills' facts asked bare, everyday rate problems in
//! varied phrasings (words and unit slashes), and bare chains, all built from the same skills
//! as the domains, with none of the domains' own templates (no drugs, patients, prices or fees).
//! It is what gives the base model the arithmetic that its domain steps execute.

use super::arith;
use super::skills::{div, factors, mul, split};
use crate::data::Labeled;
use crate::rng::Rng;

const THINGS: &[&str] = &[
    "sand", "rope", "water", "paint", "grain", "wire", "juice", "oil", "cloth", "gravel", "seed",
    "salt", "tea", "milk", "clay", "foam",
];

/// (rate unit, per unit, quantity word, answer question)
const UNITS: &[(&str, &str, &str, &str)] = &[
    ("g", "kg", "load", "Total in g?"),
    ("mL", "min", "run time", "Volume in mL?"),
    ("km", "h", "trip", "Distance in km?"),
    ("cm", "step", "walk", "Length in cm?"),
    ("L", "day", "period", "Total in L?"),
    ("g", "m", "roll", "Weight in g?"),
    ("mg", "L", "tank", "Amount in mg?"),
];

/// A rate times a quantity, in one of several phrasings: `(question text, answer unit)`.
fn rate_phrase(rng: &mut Rng, rate: i64, qty: i64) -> (String, &'static str, &'static str) {
    let thing = rng.pick(THINGS);
    let &(u, per, what, ask) = rng.pick(UNITS);
    let text = match rng.range(0, 4) {
        0 => format!("{thing} {rate} {u}/{per}, {what} {qty} {per}"),
        1 => format!("{thing} at {rate} {u} per {per} for {qty} {per}"),
        2 => format!("{qty} {per} of {thing} at {rate} {u}/{per}"),
        3 => format!("{thing}: {rate} {u} each {per}, {qty} {per}"),
        _ => format!("{thing} rate {rate} {u}/{per}, {what} of {qty} {per}"),
    };
    (text, u, ask)
}

/// A word problem with `steps` steps (1 or 2), a bare fact, or a bare chain (every 3-step item:
/// long word problems would crowd the context). Five in nine of the 1–2-step items are bare facts
/// of the domains' skills (products, their inverses, splits 2..=5 ways): a small model learns the
/// table from them far faster than from word problems, where the fact is a few tokens among many.
pub fn example(rng: &mut Rng, steps: u32) -> Labeled {
    let mut ex = item(rng, steps);
    // Domain questions are long, so their steps sit far into the context; with learned absolute
    // positions a table learned only at short offsets is not recalled there (measured: 97% on
    // bare products, wrong products after long questions). A neutral preface of varied length
    // on half of the items puts the same facts at every offset.
    if rng.range(0, 1) == 0 {
        let p = preface(rng);
        // Never longer than the longest domain question, so every item fits the context.
        if p.len() + 1 + ex.question.len() <= QUESTION_MAX {
            ex.question = format!("{p} {}", ex.question);
        }
    }
    ex
}

/// The longest question the general corpus asks (the domains' longest is 93 characters).
pub const QUESTION_MAX: usize = 100;

/// One to three neutral sentences (no domain words), 12 to about 90 characters.
fn preface(rng: &mut Rng) -> String {
    let n = rng.range(1, 3);
    let parts: Vec<String> = (0..n)
        .map(|_| match rng.range(0, 7) {
            0 => format!("Line {} of the log.", rng.range(1, 99)),
            1 => format!("Worked example, page {}.", rng.range(1, 40)),
            2 => "From the notebook:".to_string(),
            3 => format!("Task {} for the morning shift.", rng.range(1, 30)),
            4 => "Write each step.".to_string(),
            5 => format!("Revision sheet, item {}.", rng.range(1, 60)),
            6 => "Use the table if needed.".to_string(),
            _ => "Answer with the number only.".to_string(),
        })
        .collect();
    parts.join(" ")
}

fn item(rng: &mut Rng, steps: u32) -> Labeled {
    if steps > 2 {
        return arith::example(rng, steps);
    }
    match rng.range(0, 9) {
        // The table and its divisions, asked bare.
        0 | 1 => {
            let (a, b) = factors(rng);
            mul_fact(a, b)
        }
        2 => {
            let (a, b) = factors(rng);
            let (s, q) = div(a * b, b);
            Labeled {
                question: format!("{}/{b}=?", a * b),
                steps: vec![s],
                answer: q.to_string(),
            }
        }
        // The domains' second step: a product split 2..=5 ways.
        3 | 4 => {
            let (a, b) = factors(rng);
            let Some(n) = split(rng, a * b, 2..=5) else {
                return mul_fact(a, b);
            };
            let (s, q) = div(a * b, n);
            Labeled {
                question: format!("{}/{n}=?", a * b),
                steps: vec![s],
                answer: q.to_string(),
            }
        }
        5 => arith::example(rng, steps),
        // Rate × quantity, then (two steps) an equal split.
        _ => loop {
            let (qty, rate) = factors(rng);
            let (s1, total) = mul(qty, rate);
            let (text, u, ask) = rate_phrase(rng, rate, qty);
            if steps <= 1 {
                return Labeled {
                    question: format!("{text}. {ask}"),
                    steps: vec![s1],
                    answer: total.to_string(),
                };
            }
            let Some(n) = split(rng, total, 2..=5) else {
                continue;
            };
            let (s2, each) = div(total, n);
            return Labeled {
                question: format!("{text}, in {n} equal parts. {u} per part?"),
                steps: vec![s1, s2],
                answer: each.to_string(),
            };
        },
    }
}

fn mul_fact(a: i64, b: i64) -> Labeled {
    let (s, c) = mul(a, b);
    Labeled {
        question: format!("{a}*{b}=?"),
        steps: vec![s],
        answer: c.to_string(),
    }
}
