//! Where the answer is in a generated response, and its confidence (DESIGN §1.3) read from the
//! log-probs generation already produced.

use crate::data::codec::{Codec, covering};
use crate::data::extract::{Extract, locate};

/// Token range of the answer and the rest of its line (its newline included), found as
/// `how` says in the decoded text and mapped back to tokens, so a token that spans the edge
/// (`" 42"` after `A:`) belongs to the answer. `None`: no answer in that shape.
pub fn answer_span(codec: &Codec, tokens: &[u32], how: Extract) -> Option<std::ops::Range<usize>> {
    let (text, ends) = codec.decode_with_ends(tokens);
    let at = locate(&text, how)?;
    covering(&ends, at.value.start, at.end)
}

/// `conf = Π p(token)` over the answer span.
pub fn span_confidence(logprobs: &[f32], span: std::ops::Range<usize>) -> f64 {
    logprobs[span].iter().map(|&l| l as f64).sum::<f64>().exp()
}

/// Share of tokens that close a 4-gram already seen in the same response.
pub fn repetition_rate(tokens: &[u32]) -> f64 {
    if tokens.len() < 5 {
        return 0.0;
    }
    let mut seen = std::collections::HashSet::new();
    let mut repeats = 0;
    for w in tokens.windows(4) {
        if !seen.insert(w) {
            repeats += 1;
        }
    }
    repeats as f64 / (tokens.len() - 3) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::codec::BYTES;
    use crate::data::tokenizer::{EOS, encode};

    #[test]
    fn span_covers_answer_and_newline() {
        let t = encode("S: 2*3=6\nA: 6\n");
        let s = answer_span(&BYTES, &t, Extract::ALine).unwrap();
        assert_eq!(crate::data::tokenizer::decode(&t[s.clone()]), "6\n");
        let lp = vec![-0.1f32; t.len()];
        assert!((span_confidence(&lp, s) - (-0.2f64).exp()).abs() < 1e-6);
        let mut cut = encode("A: 12");
        cut.push(EOS);
        assert_eq!(answer_span(&BYTES, &cut, Extract::ALine), Some(3..5));
        assert_eq!(
            answer_span(&BYTES, &encode("S: A: 3\n"), Extract::ALine),
            None,
            "only at a line start"
        );
        assert_eq!(
            answer_span(&BYTES, &encode("A: \n"), Extract::ALine).map(|r| r.len()),
            Some(1)
        );
        assert_eq!(answer_span(&BYTES, &encode("S: x\n"), Extract::ALine), None);
        // Another shape: the number after `####` through the end of the text.
        let t = encode("60/3=20\n#### 20");
        let s = answer_span(&BYTES, &t, Extract::Hash).unwrap();
        assert_eq!(crate::data::tokenizer::decode(&t[s]), "20");
        assert_eq!(answer_span(&BYTES, &t, Extract::ALine), None);
    }

    #[test]
    fn repetition() {
        assert_eq!(repetition_rate(&encode("abcdefgh")), 0.0);
        assert_eq!(repetition_rate(&encode("abababab")), 3.0 / 5.0);
    }
}
