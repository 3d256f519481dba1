//! Self-certainty (INTUITOR): how far a next-token distribution is from uniform,
//! `KL(U ‖ p) = logsumexp(z) − mean(z) − log|V|`.

pub fn logsumexp(z: &[f32]) -> f64 {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    max + z.iter().map(|&v| (v as f64 - max).exp()).sum::<f64>().ln()
}

/// Self-certainty of one position from its logits (at temperature 1).
pub fn token_self_certainty(logits: &[f32]) -> f64 {
    let mean = logits.iter().map(|&v| v as f64).sum::<f64>() / logits.len() as f64;
    logsumexp(logits) - mean - (logits.len() as f64).ln()
}

/// A response's reward: the mean over its tokens.
pub fn mean_self_certainty(per_token: &[f64]) -> f64 {
    if per_token.is_empty() {
        0.0
    } else {
        per_token.iter().sum::<f64>() / per_token.len() as f64
    }
}

/// `KL(U ‖ p)` computed the long way, from probabilities; the identity's other side.
pub fn kl_uniform_to(probs: &[f64]) -> f64 {
    let u = 1.0 / probs.len() as f64;
    probs.iter().map(|&p| u * (u / p).ln()).sum()
}

/// Token entropy `−Σ p log p` from logits.
pub fn entropy(logits: &[f32]) -> f64 {
    let lse = logsumexp(logits);
    logits
        .iter()
        .map(|&z| {
            let lp = z as f64 - lse;
            -lp.exp() * lp
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_logits_by_hand() {
        // p = (1/4, 1/4, 1/2): lse = ln 4, mean z = ln2/3, log V = ln 3.
        let z = [0.0f32, 0.0, 2f32.ln()];
        let sc = token_self_certainty(&z);
        assert!((sc - 0.056633).abs() < 1e-5, "{sc}");
        assert!((sc - kl_uniform_to(&[0.25, 0.25, 0.5])).abs() < 1e-6);
        // Uniform logits are exactly uncertain, whatever their level.
        assert!(token_self_certainty(&[3.0; 5]).abs() < 1e-9);
        // A peaked distribution approaches log V.
        let peaked = [50.0f32, 0.0, 0.0, 0.0];
        assert!((token_self_certainty(&peaked) - (50.0 / 4.0 * 3.0 - 4f64.ln())).abs() < 1e-3);
        assert!((entropy(&z) - 1.039721).abs() < 1e-5);
        assert_eq!(mean_self_certainty(&[0.2, 0.4]), 0.30000000000000004);
    }
}
