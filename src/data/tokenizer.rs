//! Bytes are tokens (0..=255), plus BOS, EOS and PAD.

pub const BOS: u32 = 256;
pub const EOS: u32 = 257;
pub const PAD: u32 = 258;
pub const VOCAB_SIZE: usize = 259;

pub fn encode(text: &str) -> Vec<u32> {
    text.bytes().map(u32::from).collect()
}

/// `BOS + prompt` tokens.
pub fn encode_prompt(prompt: &str) -> Vec<u32> {
    std::iter::once(BOS).chain(encode(prompt)).collect()
}

/// Text of byte tokens up to the first special token (lossy on broken UTF-8).
pub fn decode(tokens: &[u32]) -> String {
    let bytes: Vec<u8> = tokens
        .iter()
        .take_while(|&&t| t < 256)
        .map(|&t| t as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode() {
        assert_eq!(encode_prompt("Q: 1\n"), vec![BOS, 81, 58, 32, 49, 10]);
        assert_eq!(decode(&[65, 66, EOS, 67]), "AB");
    }
}
