//! Where the answer is in a generated response, and its confidence (DESIGN §1.3) read from the
//! log-probs generation already produced.

use crate::data::codec::{Codec, covering};

/// Token range of the answer and its closing newline: after the first `A: ` at a line start,
/// through the next `\n` (or to the end when the response was cut or ended first). Found in
/// the decoded text and mapped back to tokens, so a token that spans the edge (`" 42"` after
/// `A:`) belongs to the answer.
pub fn answer_span(codec: &Codec, tokens: &[u32]) -> Option<std::ops::Range<usize>> {
    let (text, ends) = codec.decode_with_ends(tokens);
    let (from, to) = answer_bytes(&text)?;
    covering(&ends, from, to)
}

/// Bytes of the answer and its newline in a response's text.
pub fn answer_bytes(text: &str) -> Option<(usize, usize)> {
    let mut line_start = 0;
    loop {
        let line = &text[line_start..];
        if line.starts_with("A: ") {
            let from = line_start + 3;
            let to = text[from..]
                .find('\n')
                .map(|p| from + p + 1)
                .unwrap_or(text.len());
            return (to > from).then_some((from, to));
        }
        line_start += line.find('\n')? + 1;
    }
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
        let s = answer_span(&BYTES, &t).unwrap();
        assert_eq!(crate::data::tokenizer::decode(&t[s.clone()]), "6\n");
        let lp = vec![-0.1f32; t.len()];
        assert!((span_confidence(&lp, s) - (-0.2f64).exp()).abs() < 1e-6);
        let mut cut = encode("A: 12");
        cut.push(EOS);
        assert_eq!(answer_span(&BYTES, &cut), Some(3..5));
        assert_eq!(
            answer_span(&BYTES, &encode("S: A: 3\n")),
            None,
            "only at a line start"
        );
        assert_eq!(
            answer_span(&BYTES, &encode("A: \n")).map(|r| r.len()),
            Some(1)
        );
        assert_eq!(answer_span(&BYTES, &encode("S: x\n")), None);
    }

    #[test]
    fn repetition() {
        assert_eq!(repetition_rate(&encode("abcdefgh")), 0.0);
        assert_eq!(repetition_rate(&encode("abababab")), 3.0 / 5.0);
    }
}
