//! Text ↔ tokens for a model: hytune's bytes, or a Hugging Face `tokenizer.json`. Everything
//! that finds text in tokens (the answer span, PRG's answer branch) goes through byte offsets,
//! so a subword that merges across `A: ` is still found.

use std::path::Path;

use anyhow::{Result, anyhow};

use super::tokenizer::{BOS, EOS, PAD, VOCAB_SIZE};

#[derive(Clone, Debug)]
pub enum Codec {
    Bytes,
    Hf(HfTokenizer),
}

#[derive(Clone, Debug)]
pub struct HfTokenizer {
    tok: tokenizers::Tokenizer,
    /// Ids that end a response; the first is appended to training responses.
    eos: Vec<u32>,
    /// The model's chat template, when it has one.
    template: Option<super::chat::ChatTemplate>,
    /// When set, questions are rendered through the template, after this system turn.
    chat: Option<String>,
}

/// The byte codec, for models without a tokenizer of their own.
pub static BYTES: Codec = Codec::Bytes;

impl HfTokenizer {
    /// Reads `dir/tokenizer.json`; `eos` are the model's end ids (from its configs), else the
    /// tokenizer's `eos_token` (`tokenizer_config.json`).
    pub fn read(dir: &Path, eos: &[u32]) -> Result<Self> {
        let path = dir.join("tokenizer.json");
        if !path.is_file() {
            anyhow::bail!("{}: missing (the model's tokenizer)", path.display());
        }
        let tok = tokenizers::Tokenizer::from_file(&path)
            .map_err(|e| anyhow!("{}: cannot read the tokenizer: {e}", path.display()))?;
        let mut eos = eos.to_vec();
        if eos.is_empty() {
            let cfg = dir.join("tokenizer_config.json");
            let named = std::fs::read_to_string(&cfg)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| match v.get("eos_token") {
                    Some(serde_json::Value::String(s)) => Some(s.clone()),
                    Some(o) => o
                        .get("content")
                        .and_then(|c| c.as_str())
                        .map(str::to_string),
                    None => None,
                });
            eos.extend(named.and_then(|n| tok.token_to_id(&n)));
        }
        if eos.is_empty() {
            anyhow::bail!(
                "{}: no end-of-text token (set `eos_token_id` in config.json or `eos_token` in tokenizer_config.json)",
                dir.display()
            );
        }
        Ok(Self {
            tok,
            eos,
            template: None,
            chat: None,
        })
    }

    /// A tokenizer built elsewhere (a GGUF file's vocabulary) with the model's end ids.
    pub fn from_parts(tok: tokenizers::Tokenizer, eos: Vec<u32>) -> Result<Self> {
        if eos.is_empty() {
            anyhow::bail!("no end-of-text token id");
        }
        Ok(Self {
            tok,
            eos,
            template: None,
            chat: None,
        })
    }

    /// The model's chat template `source` (checked to compile and to render a question);
    /// `bos` is the model's BOS id, for templates that name `bos_token`.
    pub fn set_template(&mut self, source: &str, bos: Option<u32>) -> Result<()> {
        let name = |id: Option<u32>| id.and_then(|i| self.tok.id_to_token(i)).unwrap_or_default();
        let t =
            super::chat::ChatTemplate::new(source, &name(bos), &name(self.eos.first().copied()))?;
        t.question(Some("system"), "question")?;
        self.template = Some(t);
        Ok(())
    }

    pub fn has_template(&self) -> bool {
        self.template.is_some()
    }

    /// Applies `model.prompt` (auto | chat | plain) and `model.system`; `origin` names the model.
    pub fn apply_prompt(&mut self, mode: &str, system: &str, origin: &Path) -> Result<()> {
        match (mode, self.has_template()) {
            ("plain", _) | ("auto", false) => Ok(()),
            (_, true) => {
                self.use_chat(system);
                Ok(())
            }
            (_, false) => anyhow::bail!(
                "model.prompt = \"chat\", but {} has no chat template (chat_template.jinja, tokenizer_config.json's `chat_template`, or a GGUF file's `tokenizer.chat_template`)",
                origin.display()
            ),
        }
    }

    /// Questions through the chat template from now on, after `system` (empty: no system turn).
    pub fn use_chat(&mut self, system: &str) {
        self.chat = Some(system.to_string());
    }

    pub fn tokenizer(&self) -> &tokenizers::Tokenizer {
        &self.tok
    }

    fn encode(&self, text: &str, special: bool) -> Vec<u32> {
        self.tok
            .encode(text, special)
            .map(|e| e.get_ids().to_vec())
            .unwrap_or_default()
    }
}

impl Codec {
    /// A question as the model is shown it: the chat template's user turn (and system turn)
    /// with the assistant's turn opened, or the plain `Q: …` line.
    pub fn encode_question(&self, question: &str) -> Vec<u32> {
        if let Codec::Hf(h) = self
            && let (Some(t), Some(system)) = (&h.template, &h.chat)
            && let Ok(text) = t.question(Some(system), question)
        {
            // The rendered text names its special tokens; no BOS of the tokenizer's own.
            return h.encode(&text, false);
        }
        self.encode_prompt(&super::text::prompt(question))
    }

    /// Text tokens, no special tokens.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        match self {
            Codec::Bytes => super::tokenizer::encode(text),
            Codec::Hf(h) => h.encode(text, false),
        }
    }

    /// A prompt as the model starts it: with BOS when the model uses one.
    pub fn encode_prompt(&self, text: &str) -> Vec<u32> {
        match self {
            Codec::Bytes => super::tokenizer::encode_prompt(text),
            Codec::Hf(h) => h.encode(text, true),
        }
    }

    /// The token appended after a training response.
    pub fn eos(&self) -> u32 {
        match self {
            Codec::Bytes => EOS,
            Codec::Hf(h) => h.eos[0],
        }
    }

    /// Whether generation stops at `t`.
    pub fn is_end(&self, t: u32) -> bool {
        match self {
            Codec::Bytes => t == EOS,
            Codec::Hf(h) => h.eos.contains(&t),
        }
    }

    /// A filler id for padded positions (masked, never scored).
    pub fn pad(&self) -> u32 {
        match self {
            Codec::Bytes => PAD,
            Codec::Hf(h) => h.eos[0],
        }
    }

    pub fn bos(&self) -> Option<u32> {
        match self {
            Codec::Bytes => Some(BOS),
            Codec::Hf(_) => None,
        }
    }

    pub fn vocab(&self) -> usize {
        match self {
            Codec::Bytes => VOCAB_SIZE,
            Codec::Hf(h) => h.tok.get_vocab_size(true),
        }
    }

    /// Tokens up to the first end token.
    fn until_end<'a>(&self, tokens: &'a [u32]) -> &'a [u32] {
        let end = tokens
            .iter()
            .position(|&t| self.is_end(t))
            .unwrap_or(tokens.len());
        &tokens[..end]
    }

    /// Text of the tokens up to the first end token (special tokens left out).
    pub fn decode(&self, tokens: &[u32]) -> String {
        let t = self.until_end(tokens);
        match self {
            Codec::Bytes => super::tokenizer::decode(t),
            Codec::Hf(h) => h.tok.decode(t, true).unwrap_or_default(),
        }
    }

    /// The text of the tokens up to the first end token, and the byte offset in it where each
    /// token ends (a token that completes no character yet ends where the previous one did).
    pub fn decode_with_ends(&self, tokens: &[u32]) -> (String, Vec<usize>) {
        let t = self.until_end(tokens);
        match self {
            Codec::Bytes => (super::tokenizer::decode(t), (1..=t.len()).collect()),
            Codec::Hf(h) => {
                let mut ends = Vec::with_capacity(t.len());
                let mut last = 0;
                for i in 1..=t.len() {
                    let s = h.tok.decode(&t[..i], true).unwrap_or_default();
                    // Half a character decodes to U+FFFD; it is counted once complete.
                    let n = if s.ends_with('\u{FFFD}') {
                        last
                    } else {
                        s.len()
                    };
                    last = n.max(last);
                    ends.push(last);
                }
                (h.tok.decode(t, true).unwrap_or_default(), ends)
            }
        }
    }

    /// Tokens of `text` and the byte range of `text` each covers.
    pub fn encode_with_offsets(&self, text: &str) -> (Vec<u32>, Vec<(usize, usize)>) {
        match self {
            Codec::Bytes => {
                let ids = super::tokenizer::encode(text);
                let offs = (0..ids.len()).map(|i| (i, i + 1)).collect();
                (ids, offs)
            }
            Codec::Hf(h) => match h.tok.encode(text, false) {
                Ok(e) => (e.get_ids().to_vec(), e.get_offsets().to_vec()),
                Err(_) => (Vec::new(), Vec::new()),
            },
        }
    }
}

/// The tokens that cover bytes `from..to` of a text, given where each token ends: from the
/// first token ending after `from` through the last one starting before `to`.
pub fn covering(ends: &[usize], from: usize, to: usize) -> Option<std::ops::Range<usize>> {
    let first = ends.iter().position(|&e| e > from)?;
    let last = (first..ends.len())
        .take_while(|&i| i == 0 || ends[i - 1] < to)
        .last()?;
    (to > from).then_some(first..last + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covering_takes_tokens_that_straddle_the_edges() {
        // "A", ":", " 42", "\n": bytes end at 1, 2, 5, 6. The answer "42\n" is bytes 3..6.
        assert_eq!(covering(&[1, 2, 5, 6], 3, 6), Some(2..4));
        // Bytes: one token per byte.
        assert_eq!(covering(&[1, 2, 3, 4, 5, 6], 3, 6), Some(3..6));
        assert_eq!(covering(&[1, 2], 2, 2), None);
        assert_eq!(covering(&[1, 2], 5, 6), None);
    }

    #[test]
    fn byte_codec_matches_the_byte_tokenizer() {
        let c = &BYTES;
        assert_eq!(c.encode_prompt("Q"), vec![BOS, 81]);
        let (text, ends) = c.decode_with_ends(&[65, 58, EOS, 66]);
        assert_eq!((text.as_str(), ends), ("A:", vec![1, 2]));
        assert!(c.is_end(EOS) && !c.is_end(PAD));
    }
}
