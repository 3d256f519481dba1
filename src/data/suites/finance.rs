//! `finance`, the second domain: unit price × quantity (1 step), split among partners (2), paid
//! over months (3, evaluation only). Integer answers by construction; operands within
//! the skill table. The same skills as `dosage` in another domain's words.

use super::skills::{div, factors_in, mul, split};
use crate::data::Labeled;
use crate::rng::Rng;

const ITEMS: &[&str] = &[
    "licenses", "shares", "bonds", "tickets", "units", "seats", "options", "coupons", "permits",
    "vouchers",
];

/// A question of `steps` steps, the unit price within `price` dollars (`data.factor_range`).
pub fn example(rng: &mut Rng, steps: u32, price: (i64, i64)) -> Labeled {
    let item = rng.pick(ITEMS);
    loop {
        let (price, qty) = factors_in(rng, price);
        let (s1, total) = mul(price, qty);
        let base = format!("{qty} {item} at {price} dollars each");
        if steps <= 1 {
            return Labeled {
                question: format!("{base}. Total cost in dollars?"),
                steps: vec![s1],
                answer: total.to_string(),
            };
        }
        let Some(partners) = split(rng, total, 2..=5) else {
            continue;
        };
        let (s2, each) = div(total, partners);
        if steps == 2 {
            return Labeled {
                question: format!("{base}, split among {partners} partners. Dollars each?"),
                steps: vec![s1, s2],
                answer: each.to_string(),
            };
        }
        let Some(months) = split(rng, each, 2..=5) else {
            continue;
        };
        let (s3, monthly) = div(each, months);
        return Labeled {
            question: format!(
                "{base}, split among {partners} partners, each over {months} months. Dollars per month?"
            ),
            steps: vec![s1, s2, s3],
            answer: monthly.to_string(),
        };
    }
}
