//! The group's majority answer, which a rollout's PRG can be scored against instead of its own
//! (docs/method.md): copying the last step into the answer then earns nothing unless the group
//! agrees on that answer.

use crate::data::text::answers_equal;

/// The most frequent answer among `answers` (equal as in `answers_equal`); ties go to the
/// answer seen first. `None` when no rollout answered.
pub fn majority<'a>(answers: &[Option<&'a str>]) -> Option<&'a str> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for a in answers.iter().flatten() {
        match counts.iter_mut().find(|(b, _)| answers_equal(a, b)) {
            Some((_, n)) => *n += 1,
            None => counts.push((a, 1)),
        }
    }
    let mut best: Option<(&str, usize)> = None;
    for (a, n) in counts {
        if best.is_none_or(|(_, m)| n > m) {
            best = Some((a, n));
        }
    }
    best.map(|(a, _)| a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majority_counts_equal_numbers_and_breaks_ties_by_order() {
        assert_eq!(
            majority(&[Some("12"), Some("7"), Some("12.0"), None]),
            Some("12")
        );
        assert_eq!(majority(&[Some("3"), Some("4")]), Some("3"));
        assert_eq!(majority(&[Some("3"), Some("4"), Some("4")]), Some("4"));
        assert_eq!(majority(&[None, None]), None);
        assert_eq!(majority(&[]), None);
    }
}
