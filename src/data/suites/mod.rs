//! Built-in, seeded task suites (DESIGN §1.2): `dosage` and `finance`, the domains; `arith`, the
//! general benchmark; `general`, the pretraining corpus of varied word problems. All are made of
//! the same small skills ([`skills`]). Eval and dev items go one step beyond training and never
//! repeat a training question.

mod arith;
mod dosage;
mod finance;
mod general;
pub mod skills;

use crate::data::codec::BYTES;
use std::collections::HashSet;
use std::str::FromStr;

use super::{Dataset, EvalItem, Labeled, Unlabeled};
use crate::rng::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Suite {
    Dosage,
    Finance,
    Arith,
    General,
}

impl Suite {
    pub const NAMES: &'static [&'static str] = &["dosage", "finance", "arith", "general"];

    pub fn name(self) -> &'static str {
        match self {
            Suite::Dosage => "dosage",
            Suite::Finance => "finance",
            Suite::Arith => "arith",
            Suite::General => "general",
        }
    }

    /// Reasoning steps of training items; eval and dev add one more (out of distribution).
    pub fn train_steps(self) -> std::ops::RangeInclusive<u32> {
        match self {
            Suite::Dosage | Suite::Finance => 1..=2,
            Suite::Arith | Suite::General => 1..=3,
        }
    }

    pub fn example(self, rng: &mut Rng, steps: u32) -> Labeled {
        self.example_in(rng, steps, skills::FACTOR_RANGE)
    }

    /// An example whose multiplications take their first factor from `factor` (the domains:
    /// dosage's weight, finance's price; `arith` and `general` keep their own operands).
    pub fn example_in(self, rng: &mut Rng, steps: u32, factor: (i64, i64)) -> Labeled {
        match self {
            Suite::Dosage => dosage::example(rng, steps, factor),
            Suite::Finance => finance::example(rng, steps, factor),
            Suite::Arith => arith::example(rng, steps),
            Suite::General => general::example(rng, steps),
        }
    }
}

impl FromStr for Suite {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Suite::NAMES
            .iter()
            .position(|n| *n == s)
            .map(|i| [Suite::Dosage, Suite::Finance, Suite::Arith, Suite::General][i])
            .ok_or_else(|| {
                format!(
                    "unknown suite `{s}` (expected one of: {})",
                    Suite::NAMES.join(", ")
                )
            })
    }
}

/// Parameters of `hytune data gen`.
#[derive(Clone, Debug)]
pub struct GenSpec {
    pub suite: Suite,
    pub size: usize,
    pub eval_size: usize,
    /// Items of `dev.jsonl` (the split that chooses checkpoints and defaults); 0: none.
    pub dev_size: usize,
    pub labeled_fraction: f64,
    pub seed: u64,
    /// The first factor of the domains' multiplications, inclusive (`data.factor_range`).
    pub factor: (i64, i64),
}

/// Draws held-out items (difficulty up to one step beyond training) whose questions are not in
/// `seen`; each drawn question joins `seen`.
fn held_out(spec: &GenSpec, seed: u64, n: usize, seen: &mut HashSet<String>) -> Vec<EvalItem> {
    let train = spec.suite.train_steps();
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let steps = rng.range(*train.start() as i64, *train.end() as i64 + 1) as u32;
        // A few redraws find an unseen question; the cap keeps a tiny question space finite.
        let mut ex = spec.suite.example_in(&mut rng, steps, spec.factor);
        for _ in 0..200 {
            if !seen.contains(&ex.question) {
                break;
            }
            ex = spec.suite.example_in(&mut rng, steps, spec.factor);
        }
        seen.insert(ex.question.clone());
        out.push(EvalItem {
            question: ex.question,
            answer: ex.answer,
            steps: Some(ex.steps),
            difficulty: Some(steps),
        });
    }
    out
}

/// Training items span the suite's training steps; the first `labeled_fraction` keep their
/// traces. The training pool does not depend on the fraction, so eval and dev are the same
/// items at every fraction.
pub fn generate(spec: &GenSpec) -> Dataset {
    generate_with_pool(spec, None)
}

/// [`generate`], with the unlabeled pool starting at training item `pool_start` when given
/// (items between the labeled ones and it are left out, though still kept out of eval and
/// dev): a grid of labeled counts then shares one unlabeled pool.
pub fn generate_with_pool(spec: &GenSpec, pool_start: Option<usize>) -> Dataset {
    let mut rng = Rng::new(spec.seed);
    let train = spec.suite.train_steps();
    // A positive fraction keeps at least one trace (16 of 4,000 is 0.004; of 40 it rounds to 0).
    let n_labeled = (((spec.size as f64) * spec.labeled_fraction).round() as usize)
        .max((spec.labeled_fraction > 0.0 && spec.size > 0) as usize);
    let mut ds = Dataset::default();
    let mut seen = HashSet::new();
    // Every training item fits the default model: its trace, and its question with a rollout.
    let (max_len, max_new) = (
        crate::data::fit::DEFAULT_MAX_LEN,
        crate::data::fit::DEFAULT_MAX_NEW,
    );
    let fits = |ex: &Labeled| {
        crate::data::fit::trace_tokens(&BYTES, ex) <= max_len
            && crate::data::fit::prompt_tokens(&BYTES, &ex.question) + max_new <= max_len
    };
    for i in 0..spec.size {
        let steps = rng.range(*train.start() as i64, *train.end() as i64) as u32;
        let mut ex = spec.suite.example_in(&mut rng, steps, spec.factor);
        while !fits(&ex) {
            ex = spec.suite.example_in(&mut rng, steps, spec.factor);
        }
        seen.insert(ex.question.clone());
        if i < n_labeled {
            ds.labeled.push(ex);
        } else if pool_start.is_some_and(|p| i < p) {
            continue;
        } else {
            ds.unlabeled.push(Unlabeled {
                question: ex.question,
            });
        }
    }
    ds.eval = held_out(spec, spec.seed ^ 0xE7A1, spec.eval_size, &mut seen);
    ds.dev = held_out(spec, spec.seed ^ 0xDE5, spec.dev_size, &mut seen);
    ds
}

/// The general pretraining corpus: fully labeled traces.
pub fn corpus(suite: Suite, size: usize, seed: u64) -> Vec<Labeled> {
    let train = suite.train_steps();
    let mut rng = Rng::new(seed);
    (0..size)
        .map(|_| {
            let steps = rng.range(*train.start() as i64, *train.end() as i64) as u32;
            suite.example(&mut rng, steps)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::skills::check_step;
    use super::*;

    fn chain_value(steps: &[String]) -> i64 {
        let mut last = 0;
        for s in steps {
            last = check_step(s).unwrap_or_else(|| panic!("wrong step {s}"));
        }
        last
    }

    fn spec(suite: Suite) -> GenSpec {
        GenSpec {
            suite,
            size: 300,
            eval_size: 100,
            dev_size: 50,
            labeled_fraction: 0.5,
            seed: 1,
            factor: skills::FACTOR_RANGE,
        }
    }

    #[test]
    fn every_generated_trace_is_correct_arithmetic() {
        for &suite in &[Suite::Dosage, Suite::Finance, Suite::Arith, Suite::General] {
            let ds = generate(&spec(suite));
            for ex in &ds.labeled {
                assert_eq!(chain_value(&ex.steps).to_string(), ex.answer, "{ex:?}");
                assert!(suite.train_steps().contains(&(ex.steps.len() as u32)));
            }
            let max_eval = ds.eval.iter().map(|e| e.difficulty.unwrap()).max().unwrap();
            assert_eq!(
                max_eval,
                *suite.train_steps().end() + 1,
                "eval goes beyond training"
            );
            for e in ds.eval.iter().chain(&ds.dev) {
                assert_eq!(chain_value(e.steps.as_ref().unwrap()).to_string(), e.answer);
            }
        }
    }

    #[test]
    fn every_item_of_every_suite_fits_the_default_context() {
        let (max_len, max_new) = (
            crate::data::fit::DEFAULT_MAX_LEN,
            crate::data::fit::DEFAULT_MAX_NEW,
        );
        for &suite in &[Suite::Dosage, Suite::Finance, Suite::Arith, Suite::General] {
            let mut ds = generate(&GenSpec {
                size: 3000,
                eval_size: 300,
                dev_size: 300,
                ..spec(suite)
            });
            ds.unlabeled.truncate(2000);
            let bad = crate::data::fit::misfits(&BYTES, &ds, max_len, max_new);
            assert!(bad.is_empty(), "{suite:?}: {:?}", &bad[..bad.len().min(3)]);
            // The pretraining corpus is never cut either.
            let longest = corpus(suite, 3000, 5)
                .iter()
                .map(|ex| crate::data::fit::trace_tokens(&BYTES, ex))
                .max()
                .unwrap();
            assert!(longest <= max_len, "{suite:?} corpus: {longest}");
        }
    }

    #[test]
    fn held_out_questions_are_never_training_questions() {
        for &suite in &[Suite::Dosage, Suite::Finance] {
            let ds = generate(&spec(suite));
            let train: HashSet<&str> = ds
                .labeled
                .iter()
                .map(|l| l.question.as_str())
                .chain(ds.unlabeled.iter().map(|u| u.question.as_str()))
                .collect();
            let eval: HashSet<&str> = ds.eval.iter().map(|e| e.question.as_str()).collect();
            for e in ds.eval.iter().chain(&ds.dev) {
                assert!(!train.contains(e.question.as_str()), "{}", e.question);
            }
            assert!(ds.dev.iter().all(|d| !eval.contains(d.question.as_str())));
        }
    }

    #[test]
    fn dosage_steps_match_the_question() {
        // weight × mg/kg, then the split, with the numbers the question states.
        let mut rng = Rng::new(3);
        let ex = Suite::Dosage.example(&mut rng, 2);
        let nums: Vec<i64> = ex
            .question
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|t| t.parse().ok())
            .collect();
        let (mg, doses, weight) = (nums[0], nums[1], nums[2]);
        assert_eq!(ex.steps[0], format!("{weight}*{mg}={}", weight * mg));
        assert_eq!(
            ex.steps[1],
            format!("{}/{doses}={}", weight * mg, weight * mg / doses)
        );
    }

    #[test]
    fn generation_is_deterministic_and_split_by_fraction() {
        let s = GenSpec {
            suite: Suite::Dosage,
            size: 200,
            eval_size: 10,
            dev_size: 5,
            labeled_fraction: 0.05,
            seed: 9,
            factor: skills::FACTOR_RANGE,
        };
        let (a, b) = (generate(&s), generate(&s));
        assert_eq!(a.labeled, b.labeled);
        assert_eq!(a.eval, b.eval);
        assert_eq!(a.labeled.len(), 10);
        assert_eq!(a.unlabeled.len(), 190);
        assert_eq!(a.dev.len(), 5);
        let full = generate(&GenSpec {
            labeled_fraction: 1.0,
            ..s.clone()
        });
        assert_eq!(
            full.eval, a.eval,
            "eval does not depend on the labeled fraction"
        );
        assert_eq!(full.labeled[..10], a.labeled[..]);
        let c = generate(&GenSpec { seed: 10, ..s });
        assert_ne!(a.labeled, c.labeled);
    }

    /// `data.factor_range` moves the domains' first factor and nothing else: the default is
    /// the suites as they were, a narrower range keeps every weight and price inside it, and
    /// the answers stay the traces' arithmetic.
    #[test]
    fn factor_range_sets_the_first_factor() {
        let base = spec(Suite::Dosage);
        assert_eq!(
            generate(&base).eval,
            generate(&GenSpec { ..base.clone() }).eval
        );
        for suite in [Suite::Dosage, Suite::Finance] {
            let ds = generate(&GenSpec {
                factor: (2, 12),
                ..spec(suite)
            });
            for ex in &ds.labeled {
                let first = &ex.steps[0];
                let a: i64 = first.split('*').next().unwrap().parse().unwrap();
                let b: i64 = first[first.find('*').unwrap() + 1..first.find('=').unwrap()]
                    .parse()
                    .unwrap();
                // The step writes the larger factor first; both come from 2..=12 here.
                assert!(
                    (2..=12).contains(&a) && (2..=9).contains(&b),
                    "{suite:?}: {first}"
                );
                for s in &ex.steps {
                    assert!(skills::check_step(s).is_some(), "{suite:?}: {s}");
                }
            }
            assert_ne!(ds.labeled, generate(&spec(suite)).labeled);
        }
    }
}
