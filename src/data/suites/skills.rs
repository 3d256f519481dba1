//! The arithmetic skills every suite's steps are made of, with operand ranges a small byte-level
//! model can learn in minutes: a multiplication table (10..=29 × 2..=9), the exact divisions of
//! its products by 2..=9, and short additions and subtractions (the `arith` benchmark only). A
//! table of 160 products is what a 0.9M-parameter model learns in 2,000 steps; with 10..=49 it
//! reached 29% after 1,600 steps and never learned general addition (docs/method.md, "The base"). Every step is written `a<op>b=c` with the
//! larger factor first, in every suite, so the general corpus teaches exactly what the domain
//! suites execute.

use crate::rng::Rng;

/// Largest first factor of a multiplication step (the other factor is 2..=9).
pub const MUL_A_MAX: i64 = 29;
/// Largest value a chain carries (the product table's top).
pub const VALUE_MAX: i64 = MUL_A_MAX * 9;
/// Largest addend or subtrahend.
pub const ADD_MAX: i64 = 60;

/// `a*b=c` with the larger factor first.
pub fn mul(a: i64, b: i64) -> (String, i64) {
    let (x, y) = if a >= b { (a, b) } else { (b, a) };
    (format!("{x}*{y}={}", x * y), x * y)
}

/// `a/b=c`; the caller guarantees `b` divides `a`.
pub fn div(a: i64, b: i64) -> (String, i64) {
    debug_assert_eq!(a % b, 0);
    (format!("{a}/{b}={}", a / b), a / b)
}

pub fn add(a: i64, b: i64) -> (String, i64) {
    (format!("{a}+{b}={}", a + b), a + b)
}

pub fn sub(a: i64, b: i64) -> (String, i64) {
    (format!("{a}-{b}={}", a - b), a - b)
}

/// Divisors of `v` in 2..=9.
pub fn small_divisors(v: i64) -> Vec<i64> {
    (2..=9).filter(|d| v % d == 0).collect()
}

/// A product of the table split `n` ways, `n` drawn from the divisors in `parts` (the domains'
/// second step): `None` when none of them divides it.
pub fn split(rng: &mut Rng, v: i64, parts: std::ops::RangeInclusive<i64>) -> Option<i64> {
    let ds: Vec<i64> = small_divisors(v)
        .into_iter()
        .filter(|d| parts.contains(d))
        .collect();
    (!ds.is_empty()).then(|| *rng.pick(&ds))
}

/// The default range of a multiplication's first factor (`data.factor_range`).
pub const FACTOR_RANGE: (i64, i64) = (10, MUL_A_MAX);

/// A first factor in 10..=`MUL_A_MAX` and a second in 2..=9.
pub fn factors(rng: &mut Rng) -> (i64, i64) {
    factors_in(rng, FACTOR_RANGE)
}

/// A first factor in `lo..=hi` and a second in 2..=9.
pub fn factors_in(rng: &mut Rng, (lo, hi): (i64, i64)) -> (i64, i64) {
    (rng.range(lo, hi), rng.range(2, 9))
}

/// The value of a step `a<op>b=c` and whether it is correct arithmetic (tests and checks).
pub fn check_step(step: &str) -> Option<i64> {
    let (expr, result) = step.split_once('=')?;
    let pos = expr.find(['+', '-', '*', '/'])?;
    let a: i64 = expr[..pos].parse().ok()?;
    let b: i64 = expr[pos + 1..].parse().ok()?;
    let v = match &expr[pos..pos + 1] {
        "+" => a + b,
        "-" => a - b,
        "*" => a * b,
        _ => {
            if b == 0 || a % b != 0 {
                return None;
            }
            a / b
        }
    };
    (result.parse::<i64>().ok()? == v).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_put_the_larger_factor_first_and_check() {
        assert_eq!(mul(7, 23), ("23*7=161".to_string(), 161));
        assert_eq!(div(161, 7), ("161/7=23".to_string(), 23));
        assert_eq!(add(161, 12).0, "161+12=173");
        assert_eq!(sub(161, 12).0, "161-12=149");
        assert_eq!(check_step("23*7=161"), Some(161));
        assert_eq!(check_step("23*7=162"), None);
        assert_eq!(check_step("10/3=3"), None);
        assert_eq!(small_divisors(12), vec![2, 3, 4, 6]);
    }
}
