//! The model `hytune eval` and `hytune calibrate` run: a checkpoint (with its own config and
//! certificate), or `--model DIR|FILE.gguf` as it is; and the score a certificate thresholds.

use std::path::Path;

use anyhow::{Result, bail};

use crate::config::Config;
use crate::config::args::{ConfigArgs, load_config};
use crate::engine::backend;
use crate::engine::checkpoint::{self, Meta};
use crate::engine::protocol::Prediction;
use crate::method::certify::{Applied, Certificate};
use crate::method::recalibrate::Features;
use crate::model::Lm;

pub struct Target {
    pub model: Lm,
    /// The checkpoint's config with the command line's `--set`s (or the effective config).
    pub config: Config,
    pub phase: String,
    pub step: usize,
    /// The checkpoint's header (`None` for `--model` as it is).
    pub meta: Option<Meta>,
    pub certificate: Option<Certificate>,
}

/// Loads the checkpoint, or the configured pretrained model, on the backend the config asks for
/// (a checkpoint's own unless `--backend` or `--set run.backend=…` says otherwise).
pub fn load(args: &ConfigArgs, path: Option<&Path>) -> Result<Target> {
    let ck = path.map(checkpoint::load).transpose()?;
    let config = match &ck {
        Some(ck) => ck.meta.config.with_sets(&args.sets)?,
        None => {
            let c = load_config(args)?;
            if c.model.source == "builtin" {
                bail!(
                    "give --checkpoint CKPT, or --model DIR|FILE.gguf to use a pretrained model as it is"
                );
            }
            c
        }
    };
    let mut requested = load_config(args)?.run.backend;
    if args.backend.is_none() && args.sets.iter().all(|s| !s.starts_with("run.backend")) {
        requested = config.run.backend.clone();
    }
    let selected = backend::select(&requested)?;
    if let Some(n) = &selected.notice {
        eprintln!("note: {n}");
    }
    Ok(match (ck, path) {
        (Some(ck), Some(path)) => Target {
            model: ck.standalone_model(path, &selected.device)?,
            phase: ck.meta.phase.name().to_string(),
            step: ck.meta.step,
            certificate: ck.meta.certificate.clone(),
            meta: Some(ck.meta),
            config,
        },
        _ => {
            let source = Path::new(&config.model.source);
            let (m, _) = crate::model::pretrained::load(source, &config.model, &selected.device)?;
            Target {
                model: Lm::Hf(m),
                config,
                phase: "base".into(),
                step: 0,
                meta: None,
                certificate: None,
            }
        }
    })
}

/// What the logistic calibrator sees of a prediction.
pub fn features(p: &Prediction) -> Features {
    Features {
        response: p.response_confidence,
        answer: p.answer_confidence,
        steps: p.steps.len(),
    }
}

/// The score a certificate thresholds: the model's confidence, or its calibrator's output.
pub fn score(cert: &Certificate, p: &Prediction) -> f64 {
    cert.score(p.confidence, &features(p))
}

/// The scored (fitting) predictions' scores under `cert` and whether they are right.
pub fn scores(cert: &Certificate, predictions: &[Prediction]) -> (Vec<f64>, Vec<bool>) {
    predictions
        .iter()
        .filter(|p| !p.unfit)
        .map(|p| (score(cert, p), p.correct))
        .unzip()
}

/// `abstention: answered 412 of 1000 (41.2%), abstained 588; error among the answered 3.4%
/// (certified ≤ 5.0%): held`.
pub fn abstention_line(cert: &Certificate, a: &Applied) -> String {
    format!(
        "abstention at the certified threshold: answered {} of {} ({:.1}%), abstained {}; error among the answered {} (certified ≤ {:.1}%): {}",
        a.answered,
        a.n,
        100.0 * a.coverage,
        a.abstained,
        a.risk
            .map(|r| format!("{:.1}%", 100.0 * r))
            .unwrap_or_else(|| "none answered".into()),
        100.0 * cert.epsilon,
        if a.held { "held" } else { "NOT held" }
    )
}
