//! PRG traces of many (question, steps, answer) triples in one batched teacher-forced pass.

use crate::data::text::{answer_continuation, prefix_before_answer};
use crate::data::tokenizer::{encode, encode_prompt};
use crate::method::prg::{PrgScore, prg};
use crate::model::Gpt;
use crate::model::score::continuation_logprobs;

pub struct Traced {
    pub trace: Vec<f64>,
    pub score: PrgScore,
}

/// `p_k = conf(answer | q, s_1..s_k)` for k = 0..K of each triple, and its PRG.
pub fn prg_traces(
    model: &Gpt,
    items: &[(&str, &[String], &str)],
    eps: f64,
    chunk: usize,
) -> (Vec<Traced>, usize) {
    let mut prefixes = Vec::new();
    let mut conts = Vec::new();
    let mut owner = Vec::new();
    for (i, (q, steps, a)) in items.iter().enumerate() {
        let cont = encode(&answer_continuation(a));
        for k in 0..=steps.len() {
            let text = prefix_before_answer(q, &steps[..k]);
            // `encode_prompt` adds BOS; the prefix text already starts with the prompt line.
            prefixes.push(encode_prompt(&text));
            conts.push(cont.clone());
            owner.push(i);
        }
    }
    let pairs: Vec<(&[u32], &[u32])> = prefixes
        .iter()
        .zip(&conts)
        .map(|(p, c)| (p.as_slice(), c.as_slice()))
        .collect();
    let tokens = pairs.iter().map(|(p, c)| p.len() + c.len()).sum();
    let logps = continuation_logprobs(model, &pairs, chunk);
    let mut traces = vec![Vec::new(); items.len()];
    for (lp, &i) in logps.iter().zip(&owner) {
        traces[i].push(lp.exp());
    }
    let out = traces
        .into_iter()
        .map(|trace| Traced {
            score: prg(&trace, eps),
            trace,
        })
        .collect();
    (out, tokens)
}
