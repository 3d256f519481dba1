//! Whether items fit the model's context. A trace that does not fit would be trained on cut
//! short, an eval item could not be answered, a rollout would be cut before its answer: each is
//! found before anything trains, listed by `data check`, and refused (or skipped) by training.

use super::codec::Codec;
use super::text::response;
use super::{Dataset, EvalItem, Labeled};

/// The default model's context (`model.max_len`) and rollout cap (`post.max_new_tokens`):
/// every generated suite item fits them.
pub const DEFAULT_MAX_LEN: usize = 160;
pub const DEFAULT_MAX_NEW: usize = 64;

/// Tokens of a question's prompt (BOS included).
pub fn prompt_tokens(codec: &Codec, question: &str) -> usize {
    codec.encode_question(question).len()
}

/// Tokens a labeled trace needs: prompt, steps, answer line and EOS.
pub fn trace_tokens(codec: &Codec, ex: &Labeled) -> usize {
    prompt_tokens(codec, &ex.question) + codec.encode(&response(&ex.steps, &ex.answer)).len() + 1
}

/// Tokens the gold response of an eval item needs after its prompt (its steps when known).
pub fn eval_response_tokens(codec: &Codec, item: &EvalItem) -> usize {
    let steps = item.steps.clone().unwrap_or_default();
    codec.encode(&response(&steps, &item.answer)).len() + 1
}

/// One item that does not fit: its file, its position among the file's records (0-based), the
/// context it needs and, for eval and dev items, the new tokens its gold response needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Misfit {
    pub file: &'static str,
    pub index: usize,
    pub needs: usize,
    pub needs_new: Option<usize>,
}

/// Every item of `ds` that does not fit a context of `max_len` tokens with `max_new` tokens of
/// generation: labeled traces longer than the context, eval and dev items whose gold response
/// cannot be generated, unlabeled questions that leave fewer than `max_new` tokens to a rollout.
pub fn misfits(codec: &Codec, ds: &Dataset, max_len: usize, max_new: usize) -> Vec<Misfit> {
    let mut out = Vec::new();
    for (i, ex) in ds.labeled.iter().enumerate() {
        let needs = trace_tokens(codec, ex);
        if needs > max_len {
            out.push(Misfit {
                file: super::jsonl::LABELED,
                index: i,
                needs,
                needs_new: None,
            });
        }
    }
    for (i, q) in ds.unlabeled.iter().enumerate() {
        let needs = prompt_tokens(codec, &q.question) + max_new;
        if needs > max_len {
            out.push(Misfit {
                file: super::jsonl::UNLABELED,
                index: i,
                needs,
                needs_new: None,
            });
        }
    }
    for (file, items) in [(super::jsonl::EVAL, &ds.eval), (super::jsonl::DEV, &ds.dev)] {
        for (i, it) in items.iter().enumerate() {
            if let Some(needs) = eval_misfit(codec, it, max_len, max_new) {
                out.push(Misfit {
                    file,
                    index: i,
                    needs,
                    needs_new: Some(eval_response_tokens(codec, it)),
                });
            }
        }
    }
    out
}

/// The context an eval item needs when it does not fit (`None` when it does). Its gold response
/// must fit both the generation cap and the context.
pub fn eval_misfit(
    codec: &Codec,
    item: &EvalItem,
    max_len: usize,
    max_new: usize,
) -> Option<usize> {
    let (p, r) = (
        prompt_tokens(codec, &item.question),
        eval_response_tokens(codec, item),
    );
    // A response longer than the cap needs a context that holds it whole (and a larger cap).
    (p + r > max_len || r > max_new).then_some(p + r.max(max_new))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Unlabeled;
    use crate::data::codec::BYTES;
    const B: &Codec = &BYTES;

    #[test]
    fn token_counts_and_misfits_by_hand() {
        // "Q: ab\n" = 6 bytes + BOS; "S: 1+1=2\nA: 2\n" = 9 + 5 bytes, + EOS.
        let ex = Labeled {
            question: "ab".into(),
            steps: vec!["1+1=2".into()],
            answer: "2".into(),
        };
        assert_eq!(prompt_tokens(B, "ab"), 7);
        assert_eq!(trace_tokens(B, &ex), 7 + 14 + 1);
        let item = EvalItem {
            question: "ab".into(),
            answer: "2".into(),
            steps: None,
            difficulty: None,
        };
        // "A: 2\n" + EOS.
        assert_eq!(eval_response_tokens(B, &item), 6);
        let ds = Dataset {
            labeled: vec![ex.clone(), ex],
            unlabeled: vec![Unlabeled {
                question: "abcdef".into(),
            }],
            eval: vec![item.clone()],
            dev: vec![],
        };
        // Context 22 fits the traces; the unlabeled prompt (11 tokens) leaves 11 < 12 new tokens.
        assert_eq!(
            misfits(B, &ds, 22, 12),
            vec![Misfit {
                file: "unlabeled.jsonl",
                index: 0,
                needs: 23,
                needs_new: None,
            }]
        );
        // Context 21: both traces (22) too; a cap of 5 is short of the eval answer's 6 tokens.
        let m = misfits(B, &ds, 21, 5);
        assert_eq!(m.iter().filter(|m| m.file == "labeled.jsonl").count(), 2);
        assert_eq!(
            m.last(),
            Some(&Misfit {
                file: "eval.jsonl",
                index: 0,
                needs: 13,
                needs_new: Some(6),
            })
        );
        assert_eq!(eval_misfit(B, &item, 13, 6), None);
        assert_eq!(eval_misfit(B, &item, 12, 6), Some(13));
    }
}
