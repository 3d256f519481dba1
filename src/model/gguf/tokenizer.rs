//! The tokenizer a GGUF file carries (`tokenizer.ggml.*`), rebuilt as a `tokenizers` BPE:
//! GPT-2's byte-level BPE (`tokenizer.ggml.model = gpt2`) with the pre-tokenizer llama.cpp
//! names in `tokenizer.ggml.pre`. A `tokenizer.json` next to the file is used instead when its
//! vocabulary is the file's.

use std::path::Path;

use anyhow::{Result, bail};
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, Tokenizer};

use super::reader::{Gguf, Value};

fn strings(g: &Gguf, key: &str) -> Result<Vec<String>> {
    match g.get(key).and_then(Value::as_array) {
        Some(a) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| anyhow::anyhow!("metadata `{key}`: an entry is not a string"))
            })
            .collect(),
        None => bail!("metadata `{key}` is missing or not an array"),
    }
}

/// The file's vocabulary (`tokenizer.ggml.tokens`).
pub fn tokens(g: &Gguf) -> Result<Vec<String>> {
    strings(g, "tokenizer.ggml.tokens")
}

/// A tokenizer from the file's metadata.
pub fn from_metadata(g: &Gguf) -> Result<Tokenizer> {
    let model = g.get("tokenizer.ggml.model").and_then(Value::as_str);
    if model != Some("gpt2") {
        bail!(
            "metadata `tokenizer.ggml.model` = {model:?}: only GPT-2 byte-level BPE (\"gpt2\") is rebuilt from a GGUF file; put the model's tokenizer.json next to the file"
        );
    }
    let tokens = tokens(g)?;
    let merges: Vec<(String, String)> = strings(g, "tokenizer.ggml.merges")?
        .into_iter()
        .enumerate()
        .map(|(i, m)| match m.split_once(' ') {
            Some((a, b)) => Ok((a.to_string(), b.to_string())),
            None => bail!("metadata `tokenizer.ggml.merges`: entry {i} `{m}` is not two tokens"),
        })
        .collect::<Result<_>>()?;
    let vocab: tokenizers::models::bpe::Vocab = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i as u32))
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| anyhow::anyhow!("metadata `tokenizer.ggml.merges`: {e}"))?;
    let mut tok = Tokenizer::new(bpe);
    let pre = g
        .get("tokenizer.ggml.pre")
        .and_then(Value::as_str)
        .unwrap_or("default");
    let byte_level = ByteLevel::new(false, true, true);
    let pre_tokenizer = match pre {
        // SmolLM's: every digit alone, then GPT-2's split.
        "smollm" => Sequence::new(vec![Digits::new(true).into(), byte_level.into()]),
        "gpt2" | "default" => Sequence::new(vec![byte_level.into()]),
        // Qwen2's (and Llama 3's) split, then bytes: the regex is the split's.
        "qwen2" => {
            let split = tokenizers::pre_tokenizers::split::Split::new(
                tokenizers::pre_tokenizers::split::SplitPattern::Regex(QWEN2_SPLIT.into()),
                tokenizers::SplitDelimiterBehavior::Isolated,
                false,
            )
            .map_err(|e| anyhow::anyhow!("the qwen2 split: {e}"))?;
            Sequence::new(vec![
                split.into(),
                ByteLevel::new(false, true, false).into(),
            ])
        }
        other => bail!(
            "metadata `tokenizer.ggml.pre` = \"{other}\": this pre-tokenizer is not rebuilt (gpt2, smollm are); put the model's tokenizer.json next to the file"
        ),
    };
    tok.with_pre_tokenizer(Some(pre_tokenizer));
    tok.with_decoder(Some(ByteLevel::default()));
    // Control tokens (type 3) are special: never split, left out of decoded text.
    if let Some(kinds) = g.get("tokenizer.ggml.token_type").and_then(Value::as_array) {
        let special: Vec<AddedToken> = tokens
            .iter()
            .zip(kinds)
            .filter(|(_, k)| k.as_u64() == Some(3))
            .map(|(t, _)| AddedToken::from(t.clone(), true))
            .collect();
        tok.add_special_tokens(special)
            .map_err(|e| anyhow::anyhow!("metadata `tokenizer.ggml.token_type`: {e}"))?;
    }
    // llama.cpp's `add_bos_token`: prompts start with the BOS token.
    let bos = g.get("tokenizer.ggml.bos_token_id").and_then(Value::as_u64);
    let add_bos = matches!(
        g.get("tokenizer.ggml.add_bos_token"),
        Some(Value::Bool(true))
    );
    if let (true, Some(id)) = (add_bos, bos) {
        let name = tokens
            .get(id as usize)
            .ok_or_else(|| {
                anyhow::anyhow!("metadata `tokenizer.ggml.bos_token_id` {id} is not a token")
            })?
            .clone();
        let post = tokenizers::processors::template::TemplateProcessing::builder()
            .try_single(format!("{name} $A"))
            .and_then(|b| {
                b.special_tokens(vec![(name.clone(), id as u32)])
                    .build()
                    .map_err(|e| e.to_string())
            })
            .map_err(|e| anyhow::anyhow!("the BOS template: {e}"))?;
        tok.with_post_processor(Some(post));
    }
    Ok(tok)
}

/// The split of llama.cpp's `qwen2` pre-tokenizer (Qwen2's `tokenizer.json`).
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^
\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[
]*|\s*[
]+|\s+(?!\S)|\s+";

/// `tokenizer.json` beside `file` when there is one (checked token by token against the
/// file's vocabulary), else the tokenizer rebuilt from the metadata.
pub fn for_file(file: &Path, g: &Gguf) -> Result<Tokenizer> {
    let beside = file.with_file_name("tokenizer.json");
    if !beside.is_file() {
        return from_metadata(g);
    }
    let tok = Tokenizer::from_file(&beside)
        .map_err(|e| anyhow::anyhow!("{}: cannot read the tokenizer: {e}", beside.display()))?;
    let ours = tokens(g)?;
    let kinds = g.get("tokenizer.ggml.token_type").and_then(Value::as_array);
    // Unused slots (type 5) pad the vocabulary to the embedding's rows: no token to compare.
    let unused = |i: usize| kinds.and_then(|k| k.get(i)).and_then(Value::as_u64) == Some(5);
    for (i, t) in ours.iter().enumerate() {
        if !unused(i) && tok.token_to_id(t) != Some(i as u32) {
            bail!(
                "{}: token {i} of {} (`{t}`) is not the tokenizer's token {i}: this tokenizer is not the file's",
                beside.display(),
                file.display()
            );
        }
    }
    Ok(tok)
}
