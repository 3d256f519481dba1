//! `finance`, the second domain: unit price × quantity (1 step), plus a fee (2), split among
//! partners (3, evaluation only). Integer answers by construction; operands within the skills.

use super::skills::{ADD_MAX, add, div, factors, mul};
use crate::data::Labeled;
use crate::rng::Rng;

const ITEMS: &[&str] = &["licenses", "shares", "bonds", "tickets", "units"];

pub fn example(rng: &mut Rng, steps: u32) -> Labeled {
    let item = rng.pick(ITEMS);
    loop {
        let (price, qty) = factors(rng);
        let (s1, total) = mul(price, qty);
        let base = format!("{qty} {item} at {price} dollars each");
        if steps <= 1 {
            return Labeled {
                question: format!("{base}. Total cost in dollars?"),
                steps: vec![s1],
                answer: total.to_string(),
            };
        }
        if steps == 2 {
            let fee = rng.range(2, ADD_MAX);
            let (s2, due) = add(total, fee);
            return Labeled {
                question: format!("{base}, plus a {fee} dollar fee. Amount due?"),
                steps: vec![s1, s2],
                answer: due.to_string(),
            };
        }
        let partners = rng.range(2, 5);
        // The fee that makes the amount due split evenly.
        let fees: Vec<i64> = (2..=ADD_MAX)
            .filter(|f| (total + f) % partners == 0)
            .collect();
        let fee = *rng.pick(&fees);
        let (s2, due) = add(total, fee);
        let (s3, each) = div(due, partners);
        return Labeled {
            question: format!(
                "{base}, plus a {fee} dollar fee, split among {partners} partners. Dollars each?"
            ),
            steps: vec![s1, s2, s3],
            answer: each.to_string(),
        };
    }
}
