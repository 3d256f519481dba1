//! Where the answer is in a generated response, and its confidence (DESIGN §1.3) read from the
//! log-probs generation already produced.

use crate::data::tokenizer::EOS;

/// Token range of the answer and its closing newline: after the first `A: ` at a line start,
/// through the next `\n` (or to the end when the response was cut or ended first).
pub fn answer_span(tokens: &[u32]) -> Option<std::ops::Range<usize>> {
    let end = tokens
        .iter()
        .position(|&t| t == EOS)
        .unwrap_or(tokens.len());
    let t = &tokens[..end];
    let mut line_start = 0;
    while line_start + 3 <= t.len() {
        if t[line_start..line_start + 3] == [b'A' as u32, b':' as u32, b' ' as u32] {
            let from = line_start + 3;
            let to = t[from..]
                .iter()
                .position(|&x| x == b'\n' as u32)
                .map(|p| from + p + 1)
                .unwrap_or(t.len());
            return (to > from).then_some(from..to);
        }
        match t[line_start..].iter().position(|&x| x == b'\n' as u32) {
            Some(p) => line_start += p + 1,
            None => break,
        }
    }
    None
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
    use crate::data::tokenizer::encode;

    #[test]
    fn span_covers_answer_and_newline() {
        let t = encode("S: 2*3=6\nA: 6\n");
        let s = answer_span(&t).unwrap();
        assert_eq!(crate::data::tokenizer::decode(&t[s.clone()]), "6\n");
        let lp = vec![-0.1f32; t.len()];
        assert!((span_confidence(&lp, s) - (-0.2f64).exp()).abs() < 1e-6);
        let mut cut = encode("A: 12");
        cut.push(EOS);
        assert_eq!(answer_span(&cut), Some(3..5));
        assert_eq!(
            answer_span(&encode("S: A: 3\n")),
            None,
            "only at a line start"
        );
        assert_eq!(answer_span(&encode("A: \n")).map(|r| r.len()), Some(1));
        assert_eq!(answer_span(&encode("S: x\n")), None);
    }

    #[test]
    fn repetition() {
        assert_eq!(repetition_rate(&encode("abcdefgh")), 0.0);
        assert_eq!(repetition_rate(&encode("abababab")), 3.0 / 5.0);
    }
}
