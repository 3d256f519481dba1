//! PRG traces of many (question, steps, answer) triples: each trace's context is read once and
//! its `K + 1` answer branches are scored against it (`model::branches`).

use crate::data::codec::Codec;
use crate::data::text::{answer_continuation, step_line};
use crate::method::prg::{PrgScore, prg};
use crate::model::Lm;
use crate::model::branches::{Branched, branch_logprobs};
use crate::model::score::continuation_logprobs;
use crate::model::shards::{Shards, split};

pub struct Traced {
    pub trace: Vec<f64>,
    pub score: PrgScore,
}

/// The answer line's opening, `"A: "`: branch tokens before the scored answer.
const ANSWER_OPENING: &str = "A: ";

/// The tokens of each triple: the context (prompt and all steps), where each prefix ends
/// (after the prompt and after each step), and the answer branch with the index of its first
/// scored token.
struct Tokens {
    contexts: Vec<Vec<u32>>,
    starts: Vec<Vec<usize>>,
    branches: Vec<(Vec<u32>, usize)>,
}

fn tokens(codec: &Codec, items: &[(&str, &[String], &str)]) -> Tokens {
    let mut contexts = Vec::with_capacity(items.len());
    let mut starts = Vec::with_capacity(items.len());
    for (q, steps, _) in items {
        let mut context = codec.encode_question(q);
        let mut s = vec![context.len()];
        for step in steps.iter() {
            context.extend(codec.encode(&step_line(step)));
            s.push(context.len());
        }
        contexts.push(context);
        starts.push(s);
    }
    let branches = items
        .iter()
        .map(|(_, _, a)| answer_branch(codec, a))
        .collect();
    Tokens {
        contexts,
        starts,
        branches,
    }
}

/// `"A: <answer>\n"` as one piece of text, and the index of the first token that reaches into
/// the answer: a subword that merges the space with the answer's first digits (`" 42"`) is
/// scored as part of the answer.
pub fn answer_branch(codec: &Codec, answer: &str) -> (Vec<u32>, usize) {
    let text = format!("{ANSWER_OPENING}{}", answer_continuation(answer));
    let (ids, offsets) = codec.encode_with_offsets(&text);
    let from = offsets
        .iter()
        .position(|&(_, end)| end > ANSWER_OPENING.len())
        .unwrap_or(ids.len());
    (ids, from)
}

/// `p_k = conf(answer | q, s_1..s_k)` for k = 0..K of each triple, and its PRG. Returns the
/// traces and the tokens the passes read.
pub fn prg_traces(
    model: &Lm,
    items: &[(&str, &[String], &str)],
    eps: f64,
    chunk: usize,
) -> (Vec<Traced>, usize) {
    // Split over the CPU threads (model::shards); the items are independent.
    let shards = Shards::for_device(&model.device());
    let parts = split(items.len(), shards.count(items.len()));
    let mut out = Vec::with_capacity(items.len());
    let mut tokens = 0;
    for (traced, t) in shards.run(parts.len(), |k| {
        prg_traces_together(model, &items[parts[k].clone()], eps, chunk)
    }) {
        out.extend(traced);
        tokens += t;
    }
    (out, tokens)
}

/// `prg_traces` of `items` in one thread.
fn prg_traces_together(
    model: &Lm,
    items: &[(&str, &[String], &str)],
    eps: f64,
    chunk: usize,
) -> (Vec<Traced>, usize) {
    let Tokens {
        contexts,
        starts,
        branches,
    } = tokens(model.codec(), items);
    // Items whose last branch would pass the context keep the whole-prefix form, which
    // truncates exactly as training does.
    let (mut fit, mut long, mut fitting) = (Vec::new(), Vec::new(), Vec::new());
    for (i, s) in starts.iter().enumerate() {
        let b = Branched {
            context: &contexts[i],
            starts: s.clone(),
            branch: &branches[i].0,
            scored_from: branches[i].1,
        };
        if b.reach() <= model.max_len() {
            fit.push(i);
            fitting.push(b);
        } else {
            long.push(i);
        }
    }
    let rows = (chunk / 4).max(1);
    let mut logps = vec![Vec::new(); items.len()];
    for (i, lp) in fit.iter().zip(branch_logprobs(model, &fitting, rows)) {
        logps[*i] = lp;
    }
    let mut tokens: usize = fit
        .iter()
        .map(|&i| contexts[i].len() + starts[i].len() * branches[i].0.len())
        .sum();
    if !long.is_empty() {
        let sub: Vec<(&str, &[String], &str)> = long.iter().map(|&i| items[i]).collect();
        let (lps, t) = whole_prefix_logprobs(model, &sub, chunk);
        tokens += t;
        for (i, lp) in long.iter().zip(lps) {
            logps[*i] = lp;
        }
    }
    let out = logps
        .into_iter()
        .map(|lp| {
            let trace: Vec<f64> = lp.into_iter().map(f64::exp).collect();
            Traced {
                score: prg(&trace, eps),
                trace,
            }
        })
        .collect();
    (out, tokens)
}

/// The same log-probabilities with one pass per prefix (`K + 1` passes per trace): prefix `k`
/// is the context through step `k` and the branch's opening, the continuation the rest.
pub fn whole_prefix_logprobs(
    model: &Lm,
    items: &[(&str, &[String], &str)],
    chunk: usize,
) -> (Vec<Vec<f64>>, usize) {
    let t = tokens(model.codec(), items);
    let mut prefixes = Vec::new();
    let mut conts = Vec::new();
    let mut owner = Vec::new();
    for i in 0..items.len() {
        let (branch, from) = &t.branches[i];
        for &start in &t.starts[i] {
            let mut p = t.contexts[i][..start].to_vec();
            p.extend_from_slice(&branch[..*from]);
            prefixes.push(p);
            conts.push(branch[*from..].to_vec());
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
    let mut out = vec![Vec::new(); items.len()];
    for (lp, &i) in logps.iter().zip(&owner) {
        out[i].push(*lp);
    }
    (out, tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::GptShape;

    #[test]
    fn shared_prefix_scores_equal_whole_prefix_scores() {
        let device = burn::tensor::Device::flex();
        device.seed(3);
        let shape = GptShape {
            vocab: crate::data::tokenizer::VOCAB_SIZE,
            d_model: 32,
            n_layers: 2,
            n_heads: 4,
            max_len: 64,
            mlp_ratio: 2,
            positions: crate::model::Positions::Rope,
            activation: crate::model::Activation::Gelu,
        };
        let model = shape.init(&device);
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let (a, b, c, d) = (
            s(&["17*3=51", "51/3=17"]),
            s(&[]),
            s(&["9*4=36"]),
            // Too long for the context: scored the whole-prefix way.
            s(&["12*3=36", "36/2=18", "18/3=6", "6*7=42"]),
        );
        let items: Vec<(&str, &[String], &str)> = vec![
            ("17 times 3, over 3?", &a, "17"),
            ("nothing?", &b, "0"),
            ("9*4=?", &c, "36"),
            ("a question long enough to overflow the context", &d, "42"),
        ];
        let (fast, _) = prg_traces(&model, &items, 1e-6, 8);
        let (slow, _) = whole_prefix_logprobs(&model, &items, 8);
        for (f, s) in fast.iter().zip(&slow) {
            assert_eq!(f.trace.len(), s.len());
            for (p, lp) in f.trace.iter().zip(s) {
                assert!((p.ln() - lp).abs() < 1e-4, "{} vs {lp}", p.ln());
            }
        }
        assert_eq!(fast[0].trace.len(), 3);
        assert_eq!(fast[1].trace.len(), 1);
    }
}
