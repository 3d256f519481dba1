//! RLIF rollouts: G samples per question in one KV-cached decode, each with its answer,
//! confidence and self-certainty.

use std::sync::atomic::AtomicBool;

use crate::data::extract::{Extract, parse_with};
use crate::data::text::ParsedResponse;
use crate::method::self_certainty::mean_self_certainty;
use crate::model::Lm;
use crate::model::generate::{Generated, SampleOpts, generate_until};
use crate::rng::Rng;

use super::answer_span::{answer_span, span_confidence};

pub struct Rollout {
    pub group: usize,
    pub question: String,
    pub prompt: Vec<u32>,
    pub generated: Generated,
    pub parsed: ParsedResponse,
    /// `conf(own answer | own steps)`; `None` when no answer was extracted.
    pub confidence: Option<f64>,
    /// `Π p(token)` over the whole response through its answer line; `None` without an answer.
    pub response_confidence: Option<f64>,
    /// Mean self-certainty of its tokens (the `self_certainty` reward).
    pub self_certainty: f64,
    /// It ended with an end token before the length cap.
    pub ended: bool,
}

/// `group_size` rollouts of each question, all decoded together, their answers read as
/// `extract` says; cut short once `stop` is set (the caller then drops them).
pub fn rollouts(
    model: &Lm,
    questions: &[&str],
    group_size: usize,
    opts: &SampleOpts,
    extract: Extract,
    rng: &mut Rng,
    stop: &AtomicBool,
) -> Vec<Rollout> {
    let codec = model.codec();
    let prompts: Vec<Vec<u32>> = questions
        .iter()
        .flat_map(|q| std::iter::repeat_n(codec.encode_question(q), group_size))
        .collect();
    let generated = generate_until(model, &prompts, opts, rng, stop);
    generated
        .into_iter()
        .zip(prompts)
        .enumerate()
        .map(|(i, (g, p))| {
            let parsed = parse_with(&codec.decode(&g.tokens), extract);
            let span = parsed
                .answer
                .as_ref()
                .and_then(|_| answer_span(codec, &g.tokens, extract));
            let confidence = span.clone().map(|s| span_confidence(&g.logprobs, s));
            let response_confidence = span.map(|s| span_confidence(&g.logprobs, 0..s.end));
            let ended = g.tokens.last().is_some_and(|&t| codec.is_end(t));
            Rollout {
                group: i / group_size,
                question: questions[i / group_size].to_string(),
                prompt: p,
                self_certainty: mean_self_certainty(&g.self_certainty),
                ended,
                generated: g,
                parsed,
                confidence,
                response_confidence,
            }
        })
        .collect()
}
