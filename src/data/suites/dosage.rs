//! `dosage`, the high-stakes domain: weight × mg/kg (1 step), split into doses (2), concentration
//! → mL (3, evaluation only). Integer answers by construction; operands within the skill table.

use super::skills::{div, mul, split};
use crate::data::Labeled;
use crate::rng::Rng;

const DRUGS: &[&str] = &[
    "amoxicillin",
    "ibuprofen",
    "paracetamol",
    "cefalexin",
    "azithromycin",
    "clarithromycin",
    "gentamicin",
    "vancomycin",
    "fluconazole",
    "acyclovir",
    "cefuroxime",
    "clindamycin",
];

/// A question of `steps` steps, the patient's weight in `weight` kg (`data.factor_range`).
pub fn example(rng: &mut Rng, steps: u32, (lo, hi): (i64, i64)) -> Labeled {
    let drug = rng.pick(DRUGS);
    let mg_per_kg = rng.range(2, 9);
    loop {
        let weight = rng.range(lo, hi);
        let (s1, total) = mul(weight, mg_per_kg);
        if steps <= 1 {
            return Labeled {
                question: format!("{drug} {mg_per_kg} mg/kg, patient {weight} kg. Dose in mg?"),
                steps: vec![s1],
                answer: total.to_string(),
            };
        }
        let Some(n) = split(rng, total, 2..=4) else {
            continue;
        };
        let (s2, per_dose) = div(total, n);
        if steps == 2 {
            return Labeled {
                question: format!(
                    "{drug} {mg_per_kg} mg/kg/day in {n} doses, patient {weight} kg. mg per dose?"
                ),
                steps: vec![s1, s2],
                answer: per_dose.to_string(),
            };
        }
        let Some(conc) = split(rng, per_dose, 2..=5).filter(|c| *c != 3) else {
            continue;
        };
        let (s3, ml) = div(per_dose, conc);
        return Labeled {
            question: format!(
                "{drug} {mg_per_kg} mg/kg/day in {n} doses, patient {weight} kg, syrup {conc} mg/mL. mL per dose?"
            ),
            steps: vec![s1, s2, s3],
            answer: ml.to_string(),
        };
    }
}
