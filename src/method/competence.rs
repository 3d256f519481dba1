//! Where a model sits relative to its competence: for each item, N sampled votes and the gold
//! answer; per difficulty, how often the votes answer, run into the length cap, are right, and
//! how often their majority is right. Internal feedback (the consensus reward) can only amplify
//! a right majority: a suite helps RLIF where the majority is right on part of the pool, neither
//! almost never (nothing to amplify; a wrong majority is trained in) nor almost always (nothing
//! to learn).

use serde::{Deserialize, Serialize};

use super::rewards::vote;
use crate::data::text::answers_equal;

/// The band of majority accuracy at which a suite counts as at the edge of the model's
/// competence (issue 34: roughly 30–70% of the pool).
pub const EDGE: (f64, f64) = (0.3, 0.7);

/// One item's votes, reduced.
#[derive(Clone, Debug, PartialEq)]
pub struct VoteItem {
    pub difficulty: Option<u32>,
    pub votes: usize,
    /// Votes with an answer line.
    pub answered: usize,
    /// Votes cut by the length cap (no end token).
    pub cut: usize,
    /// Votes whose answer is the gold one.
    pub right: usize,
    /// The majority answer (ties: the first seen) and its share of all votes; `None` when no
    /// vote answered.
    pub majority: Option<(String, f64)>,
    pub majority_right: bool,
    /// Mean confidence of the votes that gave the majority answer (`None`: no majority, or
    /// none of those votes has a confidence): what `post.min_confidence` reads.
    pub majority_conf: Option<f64>,
}

impl VoteItem {
    /// Reduces the votes' answers (`None`: no answer), end flags and confidences against
    /// `gold`.
    pub fn of(
        difficulty: Option<u32>,
        answers: &[Option<&str>],
        ended: &[bool],
        confs: &[Option<f64>],
        gold: &str,
    ) -> Self {
        let majority = vote(answers).map(|(m, s)| (m.to_string(), s));
        VoteItem {
            majority_conf: majority
                .as_ref()
                .and_then(|(m, _)| majority_confidence(answers, confs, m)),
            difficulty,
            votes: answers.len(),
            answered: answers.iter().flatten().count(),
            cut: ended.iter().filter(|e| !**e).count(),
            right: answers
                .iter()
                .flatten()
                .filter(|a| answers_equal(a, gold))
                .count(),
            majority_right: majority
                .as_ref()
                .is_some_and(|(m, _)| answers_equal(m, gold)),
            majority,
        }
    }
}

/// Mean confidence of the votes whose answer is `majority` (`None` when none has one).
pub fn majority_confidence(
    answers: &[Option<&str>],
    confs: &[Option<f64>],
    majority: &str,
) -> Option<f64> {
    let c: Vec<f64> = answers
        .iter()
        .zip(confs)
        .filter(|(a, _)| a.is_some_and(|a| answers_equal(a, majority)))
        .filter_map(|(_, c)| *c)
        .collect();
    (!c.is_empty()).then(|| c.iter().sum::<f64>() / c.len() as f64)
}

/// The competence figures of a set of items.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Competence {
    pub items: usize,
    /// Share of all votes with an answer.
    pub answer_rate: f64,
    /// Share of all votes cut by the length cap.
    pub cut_rate: f64,
    /// Share of all votes that are right (the sampled accuracy).
    pub vote_accuracy: f64,
    /// Share of items with at least one right vote (pass@N).
    pub pass_at_n: f64,
    /// Share of items whose majority answer is right (no answer: wrong).
    pub majority_right: f64,
    /// Its standard error over items.
    pub majority_right_se: f64,
    /// Mean share of all votes the majority holds (0 without answers).
    pub majority_share: f64,
    /// Share of items whose majority holds at least `min_majority` of the votes: the groups
    /// the consensus reward trains.
    pub trained: f64,
    /// Among those, the share whose majority is right: the consensus reward's precision.
    /// `None` when no group qualifies.
    pub trained_right: Option<f64>,
    /// The same two at each vote threshold of [`THRESHOLDS`]: `(threshold, trained,
    /// trained_right)`, what a stricter `post.min_majority` would train and how often rightly.
    #[serde(default)]
    pub by_threshold: Vec<(f64, f64, Option<f64>)>,
    /// The same two at each confidence floor of [`CONFIDENCE_FLOORS`] on top of the vote
    /// threshold: what `post.min_confidence` would train and how often rightly.
    #[serde(default)]
    pub by_confidence: Vec<(f64, f64, Option<f64>)>,
}

/// Floors on the majority's mean response confidence at which [`Competence::by_confidence`] is
/// read.
pub const CONFIDENCE_FLOORS: [f64; 7] = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6];

/// Majority shares at which [`Competence::by_threshold`] is read (of 8 votes: 4, 5, 6, 7, 8).
pub const THRESHOLDS: [f64; 5] = [0.5, 0.625, 0.75, 0.875, 1.0];

/// The share of `items` whose majority holds at least `t` of the votes with a mean confidence
/// of at least `floor` (0: any), and the share of those whose majority is right (`None` when
/// none does).
pub fn trained_at(items: &[VoteItem], t: f64, floor: f64) -> (f64, Option<f64>) {
    let trained: Vec<&VoteItem> = items
        .iter()
        .filter(|i| i.majority.as_ref().is_some_and(|(_, s)| *s >= t - 1e-9))
        .filter(|i| floor <= 0.0 || i.majority_conf.is_some_and(|c| c >= floor))
        .collect();
    let right = (!trained.is_empty())
        .then(|| trained.iter().filter(|i| i.majority_right).count() as f64 / trained.len() as f64);
    (trained.len() as f64 / items.len().max(1) as f64, right)
}

impl Competence {
    /// Whether the majority is right on a share within [`EDGE`].
    pub fn at_edge(&self) -> bool {
        (EDGE.0..=EDGE.1).contains(&self.majority_right)
    }
}

/// The figures of `items`; `min_majority` as `post.min_majority`. `None` for no items.
pub fn competence(items: &[VoteItem], min_majority: f64) -> Option<Competence> {
    if items.is_empty() {
        return None;
    }
    let n = items.len() as f64;
    let votes = items.iter().map(|i| i.votes).sum::<usize>().max(1) as f64;
    let sum = |f: &dyn Fn(&VoteItem) -> usize| items.iter().map(f).sum::<usize>() as f64;
    let majority_right = sum(&|i| i.majority_right as usize) / n;
    let (trained, trained_right) = trained_at(items, min_majority, 0.0);
    Some(Competence {
        items: items.len(),
        answer_rate: sum(&|i| i.answered) / votes,
        cut_rate: sum(&|i| i.cut) / votes,
        vote_accuracy: sum(&|i| i.right) / votes,
        pass_at_n: sum(&|i| (i.right > 0) as usize) / n,
        majority_right,
        majority_right_se: (majority_right * (1.0 - majority_right) / n).sqrt(),
        majority_share: items
            .iter()
            .map(|i| i.majority.as_ref().map_or(0.0, |(_, s)| *s))
            .sum::<f64>()
            / n,
        trained,
        trained_right,
        by_threshold: THRESHOLDS
            .iter()
            .map(|&t| {
                let (a, b) = trained_at(items, t, 0.0);
                (t, a, b)
            })
            .collect(),
        by_confidence: CONFIDENCE_FLOORS
            .iter()
            .map(|&f| {
                let (a, b) = trained_at(items, min_majority, f);
                (f, a, b)
            })
            .collect(),
    })
}

/// The figures overall and per difficulty (items without one are only in the overall).
pub fn by_difficulty(
    items: &[VoteItem],
    min_majority: f64,
) -> (
    Option<Competence>,
    std::collections::BTreeMap<u32, Competence>,
) {
    let mut per = std::collections::BTreeMap::<u32, Vec<VoteItem>>::new();
    for i in items {
        if let Some(d) = i.difficulty {
            per.entry(d).or_default().push(i.clone());
        }
    }
    (
        competence(items, min_majority),
        per.into_iter()
            .filter_map(|(d, v)| competence(&v, min_majority).map(|c| (d, c)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(d: u32, answers: &[Option<&str>], ended: &[bool], gold: &str) -> VoteItem {
        VoteItem::of(Some(d), answers, ended, &vec![None; answers.len()], gold)
    }

    #[test]
    fn one_item_reduces_its_votes() {
        // 4 votes: "12", "12", none (cut), "7"; gold 12.
        let i = item(
            1,
            &[Some("12"), Some("12"), None, Some("7")],
            &[true, true, false, true],
            "12",
        );
        assert_eq!((i.votes, i.answered, i.cut, i.right), (4, 3, 1, 2));
        assert_eq!(i.majority, Some(("12".into(), 0.5)));
        assert!(i.majority_right);
        // A wrong majority: "7" three times of 4.
        let w = item(
            1,
            &[Some("7"), Some("7"), Some("7"), Some("12")],
            &[true; 4],
            "12",
        );
        assert_eq!(w.majority, Some(("7".into(), 0.75)));
        assert!(!w.majority_right);
        assert_eq!(w.right, 1);
        // No answer at all.
        let none = item(2, &[None, None], &[false, false], "3");
        assert_eq!(
            (none.majority.clone(), none.majority_right, none.cut),
            (None, false, 2)
        );
    }

    #[test]
    fn figures_over_items_by_hand() {
        let items = vec![
            // right majority 0.5 (2 of 4), 1 cut
            item(
                1,
                &[Some("12"), Some("12"), None, Some("7")],
                &[true, true, false, true],
                "12",
            ),
            // wrong majority 0.75, one right vote
            item(
                1,
                &[Some("7"), Some("7"), Some("7"), Some("12")],
                &[true; 4],
                "12",
            ),
            // no answers, all cut
            item(2, &[None, None, None, None], &[false; 4], "3"),
            // right majority 1.0
            item(
                2,
                &[Some("3"), Some("3"), Some("3"), Some("3")],
                &[true; 4],
                "3",
            ),
        ];
        let c = competence(&items, 0.5).unwrap();
        assert_eq!(c.items, 4);
        // answered 3 + 4 + 0 + 4 = 11 of 16; cut 1 + 0 + 4 + 0 = 5; right 2 + 1 + 0 + 4 = 7.
        assert!((c.answer_rate - 11.0 / 16.0).abs() < 1e-12);
        assert!((c.cut_rate - 5.0 / 16.0).abs() < 1e-12);
        assert!((c.vote_accuracy - 7.0 / 16.0).abs() < 1e-12);
        // pass@4: items 1, 2, 4 have a right vote.
        assert!((c.pass_at_n - 0.75).abs() < 1e-12);
        // majority right on items 1 and 4: 0.5, se sqrt(0.25 / 4) = 0.25.
        assert!((c.majority_right - 0.5).abs() < 1e-12);
        assert!((c.majority_right_se - 0.25).abs() < 1e-12);
        // shares 0.5, 0.75, 0, 1 → 2.25 / 4.
        assert!((c.majority_share - 0.5625).abs() < 1e-12);
        // ≥ 0.5: items 1, 2, 4 → 0.75 trained, 2 of 3 right.
        assert!((c.trained - 0.75).abs() < 1e-12);
        assert!((c.trained_right.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert!(c.at_edge());
        // A stricter vote trains only item 2 (0.75) and item 4 (1.0): 1 of 2 right.
        let s = competence(&items, 0.7).unwrap();
        assert!((s.trained - 0.5).abs() < 1e-12);
        assert!((s.trained_right.unwrap() - 0.5).abs() < 1e-12);
        // Nothing qualifies above 1.
        assert_eq!(competence(&items, 1.01).unwrap().trained_right, None);
        // The thresholds: 0.5 as above; 0.625 and 0.75 keep items 2 and 4 (1 of 2 right);
        // 0.875 and 1.0 keep item 4 only (right).
        assert_eq!(
            c.by_threshold,
            vec![
                (0.5, 0.75, Some(2.0 / 3.0)),
                (0.625, 0.5, Some(0.5)),
                (0.75, 0.5, Some(0.5)),
                (0.875, 0.25, Some(1.0)),
                (1.0, 0.25, Some(1.0)),
            ]
        );

        let (all, per) = by_difficulty(&items, 0.5);
        assert_eq!(all.unwrap(), c);
        assert_eq!(per.len(), 2);
        // difficulty 1: majority right 1 of 2; difficulty 2: 1 of 2, answer rate 4 of 8.
        assert!((per[&1].majority_right - 0.5).abs() < 1e-12);
        assert!((per[&2].answer_rate - 0.5).abs() < 1e-12);
        assert!((per[&1].pass_at_n - 1.0).abs() < 1e-12);
        assert!(competence(&[], 0.5).is_none());
    }

    #[test]
    fn a_confidence_floor_keeps_the_confident_majorities() {
        let with = |answers: &[Option<&str>], confs: &[Option<f64>], gold: &str| {
            VoteItem::of(Some(1), answers, &vec![true; answers.len()], confs, gold)
        };
        // Majority "12" (votes 1, 2, 4) at confidences 0.6, 0.3, — : mean 0.45; the minority
        // vote's 0.9 is not read.
        let a = with(
            &[Some("12"), Some("12"), Some("7"), Some("12")],
            &[Some(0.6), Some(0.3), Some(0.9), None],
            "12",
        );
        assert!((a.majority_conf.unwrap() - 0.45).abs() < 1e-12);
        // A wrong majority at 0.1, 0.2: mean 0.15.
        let b = with(
            &[Some("7"), Some("7"), Some("12")],
            &[Some(0.1), Some(0.2), Some(0.8)],
            "12",
        );
        assert!((b.majority_conf.unwrap() - 0.15).abs() < 1e-12);
        // No confidence on the majority's votes: no majority confidence.
        let c = with(&[Some("3"), Some("3")], &[None, None], "3");
        assert_eq!(c.majority_conf, None);
        let items = [a, b, c];
        // Floor 0 (off): all three train, 2 right. Floor 0.1: a and b (1 of 2 right; c has no
        // confidence). Floor 0.2: a only (right). Floor 0.5: none.
        assert_eq!(trained_at(&items, 0.5, 0.0), (1.0, Some(2.0 / 3.0)));
        assert_eq!(trained_at(&items, 0.5, 0.1), (2.0 / 3.0, Some(0.5)));
        assert_eq!(trained_at(&items, 0.5, 0.2), (1.0 / 3.0, Some(1.0)));
        assert_eq!(trained_at(&items, 0.5, 0.5), (0.0, None));
        let comp = competence(&items, 0.5).unwrap();
        assert_eq!(comp.by_confidence[0], (0.0, 1.0, Some(2.0 / 3.0)));
        assert_eq!(comp.by_confidence[2], (0.2, 1.0 / 3.0, Some(1.0)));
    }

    #[test]
    fn the_edge_band() {
        let mut c = competence(
            &[
                item(1, &[Some("1")], &[true], "1"),
                item(1, &[Some("2")], &[true], "1"),
            ],
            0.5,
        )
        .unwrap();
        assert!(c.at_edge());
        c.majority_right = 0.29;
        assert!(!c.at_edge());
        c.majority_right = 0.71;
        assert!(!c.at_edge());
    }
}
