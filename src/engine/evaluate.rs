//! Evaluation (DESIGN §1.7): greedy decoding, then confidence, PRG and self-certainty per item,
//! and the calibration summary overall and per difficulty.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use super::answer_span::{answer_span, span_confidence};
use super::prg_scoring::prg_traces;
use super::protocol::{EvalReport, Prediction};
use crate::data::EvalItem;
use crate::data::extract::{Extract, parse_with};
use crate::data::fit::eval_misfit;
use crate::data::text::answers_equal;
use crate::method::calibration::Calibration;
use crate::method::certify::{Certificate, certify};
use crate::method::self_certainty::mean_self_certainty;
use crate::model::Lm;
use crate::model::generate::{NEVER, SampleOpts, generate_until};
use crate::rng::Rng;

/// Which probability a prediction's confidence is (`eval.confidence`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confidence {
    Answer,
    Response,
}

impl Confidence {
    pub fn parse(s: &str) -> Self {
        if s == "answer" {
            Confidence::Answer
        } else {
            Confidence::Response
        }
    }
}

pub struct EvalOpts {
    pub max_new: usize,
    /// The confidence the figures use: the answer's (after the model's own steps) or the whole
    /// response's.
    pub confidence: Confidence,
    pub batch_size: usize,
    pub prg_eps: f64,
    pub confident_threshold: f64,
    /// Where a response's answer is read.
    pub extract: Extract,
}

impl EvalOpts {
    /// The options `config` asks for.
    pub fn of(config: &crate::config::Config) -> Self {
        EvalOpts {
            max_new: config.post.max_new_tokens,
            confidence: Confidence::parse(&config.eval.confidence),
            batch_size: config.eval.batch_size,
            prg_eps: config.mix.prg_eps,
            confident_threshold: config.eval.confident_threshold,
            extract: config.extract(),
        }
    }
}

/// Evaluates `items` with `model` (no autograd). Items without an answer count as wrong with
/// confidence 0: the model committed to nothing.
pub fn evaluate(
    model: &Lm,
    items: &[EvalItem],
    opts: &EvalOpts,
    phase: &str,
    step: usize,
    progress: &mut dyn FnMut(usize),
) -> EvalReport {
    evaluate_until(model, items, opts, phase, step, progress, &NEVER)
        .expect("an evaluation nobody stops ends")
}

/// [`evaluate`], given up (`None`) once `stop` is set: between batches and inside decoding.
pub fn evaluate_until(
    model: &Lm,
    items: &[EvalItem],
    opts: &EvalOpts,
    phase: &str,
    step: usize,
    progress: &mut dyn FnMut(usize),
    stop: &AtomicBool,
) -> Option<EvalReport> {
    let greedy = SampleOpts {
        temperature: None,
        top_k: 0,
        max_new: opts.max_new,
    };
    let mut rng = Rng::new(0);
    let mut predictions = Vec::with_capacity(items.len());
    let max_len = model.max_len();
    let codec = model.codec();
    let (fit, unfit): (Vec<&EvalItem>, Vec<&EvalItem>) = items
        .iter()
        .partition(|it| eval_misfit(codec, it, max_len, opts.max_new).is_none());
    let fit: Vec<EvalItem> = fit.into_iter().cloned().collect();
    for chunk in fit.chunks(opts.batch_size.max(1)) {
        let prompts: Vec<Vec<u32>> = chunk
            .iter()
            .map(|it| codec.encode_question(&it.question))
            .collect();
        let generated = generate_until(model, &prompts, &greedy, &mut rng, stop);
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        let mut batch: Vec<Prediction> = chunk
            .iter()
            .zip(&generated)
            .map(|(item, g)| {
                let response = codec.decode(&g.tokens);
                let parsed = parse_with(&response, opts.extract);
                let (answer_confidence, response_confidence) =
                    match (&parsed.answer, answer_span(codec, &g.tokens, opts.extract)) {
                        (Some(_), Some(span)) => (
                            span_confidence(&g.logprobs, span.clone()),
                            span_confidence(&g.logprobs, 0..span.end),
                        ),
                        _ => (0.0, 0.0),
                    };
                let confidence = match opts.confidence {
                    Confidence::Answer => answer_confidence,
                    Confidence::Response => response_confidence,
                };
                Prediction {
                    question: item.question.clone(),
                    gold: item.answer.clone(),
                    correct: parsed
                        .answer
                        .as_deref()
                        .is_some_and(|a| answers_equal(a, &item.answer)),
                    answer: parsed.answer,
                    confidence,
                    answer_confidence,
                    response_confidence,
                    prg: None,
                    self_certainty: mean_self_certainty(&g.self_certainty),
                    steps: parsed.steps,
                    difficulty: item.difficulty,
                    trace: Vec::new(),
                    unfit: false,
                    response,
                }
            })
            .collect();
        let answered: Vec<usize> = (0..batch.len())
            .filter(|&i| batch[i].answer.is_some())
            .collect();
        let triples: Vec<(&str, &[String], &str)> = answered
            .iter()
            .map(|&i| {
                (
                    batch[i].question.as_str(),
                    batch[i].steps.as_slice(),
                    batch[i].answer.as_deref().unwrap(),
                )
            })
            .collect();
        let (traced, _) = prg_traces(model, &triples, opts.prg_eps, opts.batch_size * 4);
        for (&i, t) in answered.iter().zip(traced) {
            batch[i].prg = Some(t.score.prg);
            batch[i].trace = t.trace;
        }
        predictions.extend(batch);
        progress(predictions.len());
    }
    predictions.extend(unfit.into_iter().map(|item| Prediction {
        question: item.question.clone(),
        gold: item.answer.clone(),
        answer: None,
        correct: false,
        confidence: 0.0,
        answer_confidence: 0.0,
        response_confidence: 0.0,
        prg: None,
        self_certainty: 0.0,
        steps: Vec::new(),
        difficulty: item.difficulty,
        trace: Vec::new(),
        unfit: true,
        response: String::new(),
    }));
    progress(predictions.len());
    Some(summarize(
        predictions,
        opts.confident_threshold,
        phase,
        step,
    ))
}

pub fn summarize(
    predictions: Vec<Prediction>,
    threshold: f64,
    phase: &str,
    step: usize,
) -> EvalReport {
    let calib = |ps: &[&Prediction]| {
        let conf: Vec<f64> = ps.iter().map(|p| p.confidence).collect();
        let ok: Vec<bool> = ps.iter().map(|p| p.correct).collect();
        Calibration::of(&conf, &ok, threshold)
    };
    let all: Vec<&Prediction> = predictions.iter().filter(|p| !p.unfit).collect();
    let mut groups: BTreeMap<u32, Vec<&Prediction>> = BTreeMap::new();
    for p in all.iter().copied() {
        if let Some(d) = p.difficulty {
            groups.entry(d).or_default().push(p);
        }
    }
    EvalReport {
        split: "eval".into(),
        phase: phase.to_string(),
        step,
        overall: calib(&all),
        by_difficulty: groups.iter().map(|(d, ps)| (*d, calib(ps))).collect(),
        unfit: predictions.iter().filter(|p| p.unfit).count(),
        certificate: None,
        abstention: None,
        competence: None,
        predictions,
    }
}

/// The scored (fitting) items' confidences and correctness.
pub fn scored(predictions: &[Prediction]) -> (Vec<f64>, Vec<bool>) {
    predictions
        .iter()
        .filter(|p| !p.unfit)
        .map(|p| (p.confidence, p.correct))
        .unzip()
}

/// The threshold a dev evaluation certifies at ε, δ (`None` with fewer items than a
/// certificate needs).
pub fn certify_report(report: &EvalReport, epsilon: f64, delta: f64) -> Option<Certificate> {
    let (conf, ok) = scored(&report.predictions);
    certify(&conf, &ok, epsilon, delta, "confidence").ok()
}
