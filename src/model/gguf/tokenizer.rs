//! The tokenizer a GGUF file carries (`tokenizer.ggml.*`), rebuilt as a `tokenizers` BPE:
//! GPT-2's byte-level BPE (`tokenizer.ggml.model = gpt2`) with the pre-tokenizer llama.cpp
//! names in `tokenizer.ggml.pre`, or SentencePiece's BPE (`llama`: Llama 2, TinyLlama,
//! Mistral) with merges recovered from the pieces' scores, as transformers' GGUF loader does. A
//! `tokenizer.json` next to the file is used instead when its vocabulary is the file's.

use std::path::Path;

use anyhow::{Result, bail};
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as Decoders;
use tokenizers::decoders::strip::Strip;
use tokenizers::models::bpe::BPE;
use tokenizers::normalizers::prepend::Prepend;
use tokenizers::normalizers::replace::Replace;
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
    let tokens = tokens(g)?;
    let (mut tok, bos_by_default) = match model {
        Some("gpt2") => (byte_level(g, &tokens)?, false),
        // llama.cpp adds BOS to a SentencePiece vocabulary whose file does not say otherwise.
        Some("llama") => (sentencepiece(g, &tokens)?, true),
        _ => bail!(
            "metadata `tokenizer.ggml.model` = {model:?}: only GPT-2 byte-level BPE (\"gpt2\") and SentencePiece BPE (\"llama\") are rebuilt from a GGUF file; put the model's tokenizer.json next to the file"
        ),
    };
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
        // User-defined tokens (type 4, like `<think>`) are matched whole in the text, as
        // llama.cpp and transformers do, but are text.
        let user: Vec<AddedToken> = tokens
            .iter()
            .zip(kinds)
            .filter(|(_, k)| k.as_u64() == Some(4))
            .map(|(t, _)| AddedToken::from(t.clone(), false).normalized(false))
            .collect();
        tok.add_tokens(user)
            .map_err(|e| anyhow::anyhow!("metadata `tokenizer.ggml.token_type`: {e}"))?;
    }
    // llama.cpp's `add_bos_token`: prompts start with the BOS token.
    let bos = g.get("tokenizer.ggml.bos_token_id").and_then(Value::as_u64);
    let add_bos = match g.get("tokenizer.ggml.add_bos_token") {
        Some(Value::Bool(b)) => *b,
        _ => bos_by_default,
    };
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

/// GPT-2's byte-level BPE: the file's merges, its pre-tokenizer (`tokenizer.ggml.pre`).
fn byte_level(g: &Gguf, tokens: &[String]) -> Result<Tokenizer> {
    let merges: Vec<(String, String)> = strings(g, "tokenizer.ggml.merges")?
        .into_iter()
        .enumerate()
        .map(|(i, m)| match m.split_once(' ') {
            Some((a, b)) => Ok((a.to_string(), b.to_string())),
            None => bail!("metadata `tokenizer.ggml.merges`: entry {i} `{m}` is not two tokens"),
        })
        .collect::<Result<_>>()?;
    let bpe = BPE::builder()
        .vocab_and_merges(vocab(tokens), merges)
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
    Ok(tok)
}

/// SentencePiece's BPE (`tokenizer.ggml.model = llama`): merges recovered from the pieces'
/// scores, unknown text as byte pieces (`<0x41>`), spaces as `▁` with one before the text
/// unless `tokenizer.ggml.add_space_prefix` is false: sentencepiece's and llama.cpp's
/// tokenization. (transformers' GGUF loader adds no `▁` before text that starts with a space.)
fn sentencepiece(g: &Gguf, tokens: &[String]) -> Result<Tokenizer> {
    let scores: Vec<f64> = match g.get("tokenizer.ggml.scores").and_then(Value::as_array) {
        Some(a) if a.len() == tokens.len() => a
            .iter()
            .map(|v| {
                v.as_f64().ok_or_else(|| {
                    anyhow::anyhow!("metadata `tokenizer.ggml.scores`: an entry is not a number")
                })
            })
            .collect::<Result<_>>()?,
        Some(a) => bail!(
            "metadata `tokenizer.ggml.scores` has {} entries for {} tokens",
            a.len(),
            tokens.len()
        ),
        None => bail!("metadata `tokenizer.ggml.scores` is missing or not an array"),
    };
    let unk = g
        .get("tokenizer.ggml.unknown_token_id")
        .and_then(Value::as_u64)
        .unwrap_or(0) as usize;
    let unk = tokens.get(unk).ok_or_else(|| {
        anyhow::anyhow!("metadata `tokenizer.ggml.unknown_token_id` {unk} is not a token")
    })?;
    let bpe = BPE::builder()
        .vocab_and_merges(vocab(tokens), merges_from_scores(tokens, &scores))
        .unk_token(unk.clone())
        .fuse_unk(true)
        .byte_fallback(true)
        .build()
        .map_err(|e| anyhow::anyhow!("metadata `tokenizer.ggml.tokens`: {e}"))?;
    let mut tok = Tokenizer::new(bpe);
    let prefix = !matches!(
        g.get("tokenizer.ggml.add_space_prefix"),
        Some(Value::Bool(false))
    );
    // Llama 2's own tokenizer.json: a `▁` before the text (sentencepiece's dummy prefix, even
    // before a leading space, as llama.cpp does too), every space a `▁`, no pre-split.
    let spaces = Replace::new(" ", "\u{2581}").map_err(|e| anyhow::anyhow!("normalizer: {e}"))?;
    let normalizer: tokenizers::NormalizerWrapper = if prefix {
        tokenizers::normalizers::Sequence::new(vec![
            Prepend::new("\u{2581}".into()).into(),
            spaces.into(),
        ])
        .into()
    } else {
        spaces.into()
    };
    tok.with_normalizer(Some(normalizer))
        .map_err(|e| anyhow::anyhow!("normalizer: {e}"))?;
    let replace = Replace::new("\u{2581}", " ").map_err(|e| anyhow::anyhow!("decoder: {e}"))?;
    let mut decoders = vec![
        replace.into(),
        ByteFallback::new().into(),
        Fuse::new().into(),
    ];
    if prefix {
        decoders.push(Strip::new(' ', 1, 0).into());
    }
    tok.with_decoder(Some(Decoders::new(decoders)));
    Ok(tok)
}

/// Token → id, in the file's order.
fn vocab(tokens: &[String]) -> tokenizers::models::bpe::Vocab {
    tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i as u32))
        .collect()
}

/// The merges a SentencePiece vocabulary implies: every split of a piece into two pieces of
/// the vocabulary, best score first (then longer left, then longer right part; ties in vocabulary
/// order), as transformers' `generate_merges` orders them. Merging the best-scored pair first
/// is what SentencePiece and llama.cpp do.
pub fn merges_from_scores(tokens: &[String], scores: &[f64]) -> Vec<(String, String)> {
    let index: std::collections::HashMap<&str, usize> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_str(), i))
        .collect();
    let mut all: Vec<(usize, usize, f64)> = Vec::new();
    for (piece, &score) in tokens.iter().zip(scores) {
        let mut local: Vec<(usize, usize, f64)> = piece
            .char_indices()
            .skip(1)
            .filter_map(|(at, _)| {
                let (l, r) = piece.split_at(at);
                Some((*index.get(l)?, *index.get(r)?, score))
            })
            .collect();
        local.sort_by_key(|&(l, r, _)| (l, r));
        all.extend(local);
    }
    let len = |i: usize| tokens[i].chars().count();
    all.sort_by(|a, b| {
        b.2.total_cmp(&a.2)
            .then(len(b.0).cmp(&len(a.0)))
            .then(len(b.1).cmp(&len(a.1)))
    });
    all.into_iter()
        .map(|(l, r, _)| (tokens[l].clone(), tokens[r].clone()))
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_follow_the_merged_pieces_scores() {
        // By hand: `▁ab` (-0.2) splits as ▁|ab and ▁a|b (the longer left part first), then
        // `ab` (-0.5), `▁a` (-0.7), `ba` (-0.9); `<unk>` and single characters split into
        // nothing in the vocabulary.
        let t: Vec<String> = ["<unk>", "▁", "a", "b", "ab", "▁a", "▁ab", "ba"]
            .map(String::from)
            .to_vec();
        let s = [0.0, -1.0, -2.0, -3.0, -0.5, -0.7, -0.2, -0.9];
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            merges_from_scores(&t, &s),
            vec![
                pair("▁a", "b"),
                pair("▁", "ab"),
                pair("a", "b"),
                pair("▁", "a"),
                pair("b", "a")
            ]
        );
    }
}
