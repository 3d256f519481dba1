//! `hytune calibrate`: certify an abstention threshold for a checkpoint on labelled held-out
//! items (answers only, no traces), store it in the checkpoint's header, and let every export
//! carry it (`method::certify`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;

use crate::config::args::ConfigArgs;
use crate::data::EvalItem;
use crate::data::jsonl::{self, DEV};
use crate::engine::checkpoint::{self, DataRecord};
use crate::engine::evaluate::{self, EvalOpts};
use crate::engine::{DataSource, load_data};
use crate::eval_model;
use crate::method::calibration::{brier, ece};
use crate::method::certify;
use crate::method::recalibrate::{fit_temperature, temperature_scale};

/// The scores a certificate may threshold.
pub const SCORES: &[&str] = &["confidence", "logistic"];

#[derive(Args, Debug)]
pub struct CalibrateArgs {
    /// The checkpoint to certify; the certificate is written into its header.
    #[arg(long, value_name = "CKPT")]
    pub checkpoint: PathBuf,
    /// Labelled held-out items the run never trained on: a dataset directory (its dev.jsonl)
    /// or a JSONL file of {"question", "answer"}. Default: the run's dataset's dev.jsonl.
    #[arg(long, value_name = "DIR|FILE")]
    pub data: Option<PathBuf>,
    /// The error rate allowed among the answered items.
    #[arg(long, default_value_t = 0.05)]
    pub epsilon: f64,
    /// The probability that the certified threshold misses ε.
    #[arg(long, default_value_t = 0.1)]
    pub delta: f64,
    /// What is thresholded: confidence (the model's own, eval.confidence) | logistic (a
    /// calibrator on the response and answer probabilities and the steps written, fitted on half
    /// of the items; the other half certifies).
    #[arg(long, default_value = "confidence")]
    pub score: String,
    /// Write each item's confidence, score and correctness (the data certified on) as JSONL.
    #[arg(long, value_name = "FILE")]
    pub predictions: Option<PathBuf>,
}

/// One line of `--predictions`.
#[derive(Serialize)]
struct Scored<'a> {
    question: &'a str,
    gold: &'a str,
    answer: Option<&'a str>,
    correct: bool,
    confidence: f64,
    score: f64,
    /// `fit` (the calibrator's half) or `certify`.
    role: &'static str,
    answered: bool,
}

/// The calibration items: `--data` (a directory's dev.jsonl or a file), else the run's dev split
/// (its dataset directory's dev.jsonl, or its built-in suite's, generated as the run had it).
fn items(
    data: Option<&Path>,
    meta: &checkpoint::Meta,
    ckpt: &Path,
) -> Result<(Vec<EvalItem>, PathBuf)> {
    let no_dev = |d: &Path| {
        anyhow::anyhow!(
            "{}: has no {DEV}; give --data FILE.jsonl with labelled items the run never trained on",
            d.display()
        )
    };
    let file = match data {
        Some(d) if d.is_dir() => Some(d.join(DEV))
            .filter(|f| f.is_file())
            .ok_or_else(|| no_dev(d))?,
        Some(f) => f.to_path_buf(),
        None => match meta.data.as_ref() {
            Some(DataRecord { dir: Some(d), .. }) => Some(d.join(DEV))
                .filter(|f| f.is_file())
                .ok_or_else(|| no_dev(d))?,
            Some(DataRecord {
                suite: Some(suite), ..
            }) => {
                let source = DataSource::Suite(suite.parse().map_err(anyhow::Error::msg)?);
                let (ds, dir) = load_data(&source, &meta.config)?;
                let name = match dir {
                    Some(d) => d.join(DEV),
                    None => PathBuf::from(format!("the `{suite}` suite's dev split")),
                };
                if ds.dev.is_empty() {
                    bail!(
                        "{}: the run's data has no dev split; give --data DIR|FILE.jsonl",
                        ckpt.display()
                    );
                }
                return Ok((ds.dev, name));
            }
            _ => bail!(
                "{}: the checkpoint does not say what data the run used; give --data DIR|FILE.jsonl",
                ckpt.display()
            ),
        },
    };
    Ok((jsonl::load_items(&file)?, file))
}

pub fn run(args: &ConfigArgs, a: CalibrateArgs) -> Result<ExitCode> {
    if !SCORES.contains(&a.score.as_str()) {
        bail!("--score {}: expected one of {}", a.score, SCORES.join(", "));
    }
    if let Some(p) = &a.predictions {
        if p.exists() {
            bail!("{}: exists already; not overwriting", p.display());
        }
    }
    // ε and δ first, before anything is loaded.
    certify::check(a.epsilon, a.delta, usize::MAX).map_err(|e| anyhow::anyhow!("{e}"))?;
    let meta = checkpoint::load(&a.checkpoint)?.meta;
    let (items, file) = items(a.data.as_deref(), &meta, &a.checkpoint)?;
    let logistic = a.score == "logistic";
    // The logistic calibrator is fitted on the even items and certified on the odd ones: a
    // score fitted on the items it is certified on would void the guarantee.
    let certifying = if logistic {
        items.len() / 2
    } else {
        items.len()
    };
    certify::check(a.epsilon, a.delta, certifying).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e}{}",
            file.display(),
            if logistic {
                " (--score logistic certifies on half of the items)"
            } else {
                ""
            }
        )
    })?;
    let target = eval_model::load(args, Some(&a.checkpoint))?;
    let opts = EvalOpts::of(&target.config);
    eprintln!(
        "calibrating {} on {} items of {} …",
        a.checkpoint.display(),
        items.len(),
        file.display()
    );
    let report = evaluate::evaluate(
        &target.model,
        &items,
        &opts,
        &target.phase,
        target.step,
        &mut |_| {},
    );
    let preds: Vec<_> = report.predictions.iter().filter(|p| !p.unfit).collect();
    let unfit = report.predictions.len() - preds.len();
    if unfit > 0 {
        eprintln!("note: {unfit} items do not fit the model's context: left out");
    }
    let conf: Vec<f64> = preds.iter().map(|p| p.confidence).collect();
    let all_ok: Vec<bool> = preds.iter().map(|p| p.correct).collect();
    let made = if logistic {
        let features: Vec<_> = preds.iter().map(|p| eval_model::features(p)).collect();
        certify::certify_logistic(&features, &all_ok, a.epsilon, a.delta)
    } else {
        certify::certify(&conf, &all_ok, a.epsilon, a.delta, &a.score)
    };
    let mut cert = made.map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let t = fit_temperature(&conf, &all_ok);
    cert.temperature = Some(t);
    cert.data = Some(file.display().to_string());
    cert.made = Some(crate::timestamp::now());

    if let Some(p) = &a.predictions {
        let rows: Vec<Scored> = preds
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let s = eval_model::score(&cert, p);
                Scored {
                    question: &p.question,
                    gold: &p.gold,
                    answer: p.answer.as_deref(),
                    correct: p.correct,
                    confidence: p.confidence,
                    score: s,
                    // certify_logistic fits on the even items and certifies on the odd ones.
                    role: if logistic && i % 2 == 0 {
                        "fit"
                    } else {
                        "certify"
                    },
                    answered: cert.answers(s),
                }
            })
            .collect();
        jsonl::write_jsonl(p, &rows).with_context(|| format!("cannot write {}", p.display()))?;
    }

    let mut meta = meta;
    let replaced = meta.certificate.replace(cert.clone());
    checkpoint::rewrite_meta(&a.checkpoint, &meta)?;
    println!("{}", cert.describe());
    let scaled: Vec<f64> = conf.iter().map(|&c| temperature_scale(c, t)).collect();
    println!(
        "temperature scaling on the same items: T {t:.3}, ECE {:.3} → {:.3}, Brier {:.3} → {:.3} (the threshold is on the unscaled score)",
        ece(&conf, &all_ok),
        ece(&scaled, &all_ok),
        brier(&conf, &all_ok),
        brier(&scaled, &all_ok)
    );
    if let Some(old) = replaced {
        println!(
            "replaced the certificate made {}",
            old.made.as_deref().unwrap_or("earlier")
        );
    }
    println!(
        "wrote the certificate into {}; `hytune eval --checkpoint` reports abstention with it and every export carries it",
        a.checkpoint.display()
    );
    Ok(ExitCode::SUCCESS)
}
