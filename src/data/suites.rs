//! Built-in, seeded task suites (DESIGN §1.2): `dosage`, the high-stakes domain, and `arith`, the
//! general corpus that also pretrains the base model. Eval items go one step beyond training.

use std::str::FromStr;

use super::{Dataset, EvalItem, Labeled, Unlabeled};
use crate::rng::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Suite {
    Dosage,
    Arith,
}

impl Suite {
    pub const NAMES: &'static [&'static str] = &["dosage", "arith"];

    pub fn name(self) -> &'static str {
        match self {
            Suite::Dosage => "dosage",
            Suite::Arith => "arith",
        }
    }

    /// Reasoning steps of training items; eval adds one more (out of distribution).
    pub fn train_steps(self) -> std::ops::RangeInclusive<u32> {
        match self {
            Suite::Dosage => 1..=2,
            Suite::Arith => 1..=3,
        }
    }

    pub fn example(self, rng: &mut Rng, steps: u32) -> Labeled {
        match self {
            Suite::Dosage => dosage(rng, steps),
            Suite::Arith => arith(rng, steps),
        }
    }
}

impl FromStr for Suite {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "dosage" => Ok(Suite::Dosage),
            "arith" => Ok(Suite::Arith),
            _ => Err(format!(
                "unknown suite `{s}` (expected one of: {})",
                Suite::NAMES.join(", ")
            )),
        }
    }
}

const DRUGS: &[&str] = &[
    "amoxicillin",
    "ibuprofen",
    "paracetamol",
    "cefalexin",
    "azithromycin",
];

/// Weight × mg/kg (1 step), split into doses (2), concentration → mL (3). Integer by construction.
fn dosage(rng: &mut Rng, steps: u32) -> Labeled {
    let drug = rng.pick(DRUGS);
    let mg_per_kg = rng.range(2, 9);
    let doses = rng.range(2, 4);
    loop {
        let per_dose_kg = rng.range(2, 12);
        let weight = if steps >= 2 {
            per_dose_kg * doses
        } else {
            rng.range(4, 40)
        };
        let total = weight * mg_per_kg;
        match steps {
            1 => {
                return Labeled {
                    question: format!("{drug} {mg_per_kg} mg/kg, patient {weight} kg. Dose in mg?"),
                    steps: vec![format!("{weight}*{mg_per_kg}={total}")],
                    answer: total.to_string(),
                };
            }
            2 => {
                let per_dose = total / doses;
                return Labeled {
                    question: format!(
                        "{drug} {mg_per_kg} mg/kg/day in {doses} doses, patient {weight} kg. mg per dose?"
                    ),
                    steps: vec![
                        format!("{weight}*{mg_per_kg}={total}"),
                        format!("{total}/{doses}={per_dose}"),
                    ],
                    answer: per_dose.to_string(),
                };
            }
            _ => {
                let per_dose = total / doses;
                let concs: Vec<i64> = [2, 4, 5]
                    .into_iter()
                    .filter(|c| per_dose % c == 0)
                    .collect();
                if concs.is_empty() {
                    continue;
                }
                let conc = *rng.pick(&concs);
                let ml = per_dose / conc;
                return Labeled {
                    question: format!(
                        "{drug} {mg_per_kg} mg/kg/day in {doses} doses, patient {weight} kg, syrup {conc} mg/mL. mL per dose?"
                    ),
                    steps: vec![
                        format!("{weight}*{mg_per_kg}={total}"),
                        format!("{total}/{doses}={per_dose}"),
                        format!("{per_dose}/{conc}={ml}"),
                    ],
                    answer: ml.to_string(),
                };
            }
        }
    }
}

/// A left-to-right chain of integer operations, one step per operation, values kept in 0..=999.
fn arith(rng: &mut Rng, steps: u32) -> Labeled {
    let mut value = rng.range(2, 20);
    let mut question = value.to_string();
    let mut trace = Vec::new();
    for _ in 0..steps {
        let (op, operand, next) = loop {
            match rng.range(0, 3) {
                0 => {
                    let b = rng.range(1, 50);
                    if value + b <= 999 {
                        break ('+', b, value + b);
                    }
                }
                1 if value > 1 => {
                    let b = rng.range(1, value.min(50));
                    break ('-', b, value - b);
                }
                2 => {
                    let b = rng.range(2, 9);
                    if value * b <= 999 {
                        break ('*', b, value * b);
                    }
                }
                3 => {
                    let divisors: Vec<i64> = (2..=9).filter(|d| value % d == 0).collect();
                    if !divisors.is_empty() {
                        let d = *rng.pick(&divisors);
                        break ('/', d, value / d);
                    }
                }
                _ => {}
            }
        };
        trace.push(format!("{value}{op}{operand}={next}"));
        question.push_str(&format!("{op}{operand}"));
        value = next;
    }
    Labeled {
        question: format!("{question}=?"),
        steps: trace,
        answer: value.to_string(),
    }
}

/// Parameters of `hytune data gen`.
#[derive(Clone, Debug)]
pub struct GenSpec {
    pub suite: Suite,
    pub size: usize,
    pub eval_size: usize,
    pub labeled_fraction: f64,
    pub seed: u64,
}

/// Training items span the suite's training steps; eval items span one step more.
pub fn generate(spec: &GenSpec) -> Dataset {
    let mut rng = Rng::new(spec.seed);
    let train = spec.suite.train_steps();
    let n_labeled = ((spec.size as f64) * spec.labeled_fraction).round() as usize;
    let mut ds = Dataset::default();
    for i in 0..spec.size {
        let steps = rng.range(*train.start() as i64, *train.end() as i64) as u32;
        let ex = spec.suite.example(&mut rng, steps);
        if i < n_labeled {
            ds.labeled.push(ex);
        } else {
            ds.unlabeled.push(Unlabeled {
                question: ex.question,
            });
        }
    }
    let mut eval_rng = Rng::new(spec.seed ^ 0xE7A1);
    for _ in 0..spec.eval_size {
        let steps = eval_rng.range(*train.start() as i64, *train.end() as i64 + 1) as u32;
        let ex = spec.suite.example(&mut eval_rng, steps);
        ds.eval.push(EvalItem {
            question: ex.question,
            answer: ex.answer,
            steps: Some(ex.steps),
            difficulty: Some(steps),
        });
    }
    ds
}

/// The general pretraining corpus: fully labeled traces.
pub fn corpus(suite: Suite, size: usize, seed: u64) -> Vec<Labeled> {
    generate(&GenSpec {
        suite,
        size,
        eval_size: 0,
        labeled_fraction: 1.0,
        seed,
    })
    .labeled
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval_chain(steps: &[String]) -> i64 {
        let mut last = 0;
        for s in steps {
            let (expr, result) = s.split_once('=').unwrap();
            let pos = expr.find(['+', '-', '*', '/']).unwrap();
            let (a, b): (i64, i64) = (
                expr[..pos].parse().unwrap(),
                expr[pos + 1..].parse().unwrap(),
            );
            let v = match &expr[pos..pos + 1] {
                "+" => a + b,
                "-" => a - b,
                "*" => a * b,
                _ => {
                    assert_eq!(a % b, 0, "{s}");
                    a / b
                }
            };
            assert_eq!(v.to_string(), result, "{s}");
            last = v;
        }
        last
    }

    #[test]
    fn every_generated_trace_is_correct_arithmetic() {
        for suite in [Suite::Dosage, Suite::Arith] {
            let ds = generate(&GenSpec {
                suite,
                size: 300,
                eval_size: 100,
                labeled_fraction: 0.5,
                seed: 1,
            });
            for ex in &ds.labeled {
                assert_eq!(eval_chain(&ex.steps).to_string(), ex.answer);
                assert!(train_contains(suite, ex.steps.len()));
            }
            let max_eval = ds.eval.iter().map(|e| e.difficulty.unwrap()).max().unwrap();
            assert_eq!(
                max_eval,
                *suite.train_steps().end() + 1,
                "eval goes beyond training"
            );
            for e in &ds.eval {
                assert_eq!(eval_chain(e.steps.as_ref().unwrap()).to_string(), e.answer);
            }
        }
    }

    fn train_contains(suite: Suite, n: usize) -> bool {
        suite.train_steps().contains(&(n as u32))
    }

    #[test]
    fn generation_is_deterministic_and_split_by_fraction() {
        let spec = GenSpec {
            suite: Suite::Dosage,
            size: 200,
            eval_size: 10,
            labeled_fraction: 0.05,
            seed: 9,
        };
        let (a, b) = (generate(&spec), generate(&spec));
        assert_eq!(a.labeled, b.labeled);
        assert_eq!(a.eval, b.eval);
        assert_eq!(a.labeled.len(), 10);
        assert_eq!(a.unlabeled.len(), 190);
        let c = generate(&GenSpec { seed: 10, ..spec });
        assert_ne!(a.labeled, c.labeled);
    }
}
