//! Each finished cell's final predictions read back, and what is fitted on its dev split:
//! temperature, isotonic and logistic maps and the two certificates, applied to its eval split;
//! certificates over redrawn calibration sets; the mean risk–coverage curve of a strategy.
//! `faithfulness.rs` writes the tables from these, `plots.rs` the curves.

use super::cell_data::{CellData, mean_std};
use crate::engine::protocol::Prediction;
use crate::method::certify::{self, Applied, Certificate};
use crate::method::recalibrate::{
    Features, Isotonic, Logistic, fit_temperature, temperature_scale,
};
use crate::method::selective::selective_accuracy;
use crate::rng::Rng;

/// One scored item of a final evaluation.
#[derive(Clone, Debug)]
pub struct Item {
    pub question: String,
    pub conf: f64,
    pub correct: bool,
    pub difficulty: Option<u32>,
    pub features: Features,
}

/// The final `split` predictions of a finished cell (scored items only, in file order).
pub fn final_items(d: &CellData, split: &str) -> Option<Vec<Item>> {
    let r = d.last(split)?;
    let path = d.run_dir.join(format!(
        "predictions-{}-{}-{:07}.jsonl",
        r.split, r.phase, r.step
    ));
    let text = std::fs::read_to_string(path).ok()?;
    Some(
        text.lines()
            .filter_map(|l| serde_json::from_str::<Prediction>(l).ok())
            .filter(|p| !p.unfit)
            .map(|p| Item {
                features: crate::eval_model::features(&p),
                question: p.question,
                conf: p.confidence,
                correct: p.correct,
                difficulty: p.difficulty,
            })
            .collect(),
    )
}

/// A finished cell's maps fitted on dev, and its eval items under each.
pub struct Fitted {
    pub seed: u64,
    pub temperature: f64,
    /// Eval items (question → index) and, per item: raw, temperature-scaled, isotonic and
    /// logistic confidence; answered under the raw and the logistic certificate.
    pub eval: Vec<Item>,
    pub ts: Vec<f64>,
    pub iso: Vec<f64>,
    pub lr: Vec<f64>,
    pub cert: Option<Certificate>,
    pub cert_lr: Option<Certificate>,
    /// The dev items the maps were fitted on.
    pub dev: Vec<Item>,
}

pub fn split(items: &[Item]) -> (Vec<f64>, Vec<bool>) {
    items.iter().map(|i| (i.conf, i.correct)).unzip()
}

/// Fits a cell's maps on its dev items and applies them to its eval items.
pub fn fit(d: &CellData, epsilon: f64, delta: f64) -> Option<Fitted> {
    let dev = final_items(d, "dev")?;
    let eval = final_items(d, "eval")?;
    let (dc, dk) = split(&dev);
    let t = fit_temperature(&dc, &dk);
    let iso = Isotonic::fit(&dc, &dk);
    let feats: Vec<Features> = dev.iter().map(|i| i.features).collect();
    let lr = Logistic::fit(&feats, &dk);
    let cert = certify::certify(&dc, &dk, epsilon, delta, "confidence").ok();
    let cert_lr = certify::certify_logistic(&feats, &dk, epsilon, delta).ok();
    Some(Fitted {
        seed: d.cell.seed,
        temperature: t,
        ts: eval.iter().map(|i| temperature_scale(i.conf, t)).collect(),
        iso: eval.iter().map(|i| iso.apply(i.conf)).collect(),
        lr: eval.iter().map(|i| lr.apply(&i.features)).collect(),
        eval,
        cert,
        cert_lr,
        dev,
    })
}

/// Draws of the calibration set in [`redrawn`].
pub const DRAWS: usize = 200;

/// What a certificate does over many calibration sets: dev and eval pooled, re-split `DRAWS`
/// times at random into a calibration set of dev's size and a test set of the rest, certified
/// on the one (the logistic score: fitted on half of it, certified on the other) and applied to
/// the other. Returns the mean test coverage and the share of draws whose test error exceeded
/// ε, which a valid certificate keeps near or below δ (the one dev set of a grid is one draw,
/// shared by all its seeds).
pub fn redrawn(f: &Fitted, epsilon: f64, delta: f64, logistic: bool) -> Option<(f64, f64)> {
    let pool: Vec<&Item> = f.dev.iter().chain(&f.eval).collect();
    let n_cal = f.dev.len();
    let mut rng = Rng::new(0xCA11 + f.seed);
    let (mut coverage, mut failed) = (0.0, 0usize);
    for _ in 0..DRAWS {
        let mut idx: Vec<usize> = (0..pool.len()).collect();
        rng.shuffle(&mut idx);
        let (cal, test) = idx.split_at(n_cal);
        let k: Vec<bool> = cal.iter().map(|&i| pool[i].correct).collect();
        let cert = if logistic {
            let f: Vec<Features> = cal.iter().map(|&i| pool[i].features).collect();
            certify::certify_logistic(&f, &k, epsilon, delta)
        } else {
            let s: Vec<f64> = cal.iter().map(|&i| pool[i].conf).collect();
            certify::certify(&s, &k, epsilon, delta, "confidence")
        }
        .ok()?;
        let ts: Vec<f64> = test
            .iter()
            .map(|&i| cert.score(pool[i].conf, &pool[i].features))
            .collect();
        let tk: Vec<bool> = test.iter().map(|&i| pool[i].correct).collect();
        let a = certify::apply(&cert, &ts, &tk);
        coverage += a.coverage;
        failed += !a.held as usize;
    }
    Some((coverage / DRAWS as f64, failed as f64 / DRAWS as f64))
}

impl Fitted {
    /// The certificate's score of each eval item.
    fn cert_scores(&self, c: &Certificate) -> Vec<f64> {
        self.eval
            .iter()
            .map(|i| c.score(i.conf, &i.features))
            .collect()
    }

    /// 1 where the certificate answers the eval item, else 0 (`None`: no certificate).
    pub fn answered(&self, logistic: bool) -> Option<Vec<f64>> {
        let c = if logistic {
            self.cert_lr.as_ref()
        } else {
            self.cert.as_ref()
        }?;
        Some(
            self.cert_scores(c)
                .into_iter()
                .map(|s| c.answers(s) as u8 as f64)
                .collect(),
        )
    }

    pub fn applied(&self, logistic: bool, keep: &dyn Fn(&Item) -> bool) -> Option<Applied> {
        let c = if logistic {
            self.cert_lr.as_ref()
        } else {
            self.cert.as_ref()
        }?;
        let (s, k): (Vec<f64>, Vec<bool>) = self
            .cert_scores(c)
            .into_iter()
            .zip(&self.eval)
            .filter(|(_, i)| keep(i))
            .map(|(s, i)| (s, i.correct))
            .unzip();
        Some(certify::apply(c, &s, &k))
    }
}

/// The mean over a strategy's seeds of its risk at coverage 1%, 2%, …, 100% (for the plot), from
/// each seed's final eval items.
pub fn mean_curve(seeds: &[Vec<Item>]) -> Vec<(f64, f64)> {
    (1..=100)
        .map(|k| {
            let c = k as f64 / 100.0;
            let v: Vec<f64> = seeds
                .iter()
                .map(|items| {
                    let (x, ok) = split(items);
                    1.0 - selective_accuracy(&x, &ok, c)
                })
                .collect();
            (c, mean_std(&v).map_or(0.0, |m| m.0))
        })
        .collect()
}
