//! A pretrained model from disk, whatever its source: a Hugging Face directory or a GGUF file
//! (or a folder holding one GGUF file and no `config.json`). The one entry every caller uses.

use std::path::Path;

use anyhow::Result;
use burn::tensor::Device;

use super::gguf;
use super::hf::{self, BaseIdentity, HfLm};
use crate::config::Model;
use crate::data::codec::Codec;

/// The model at `path` with its identity, as `model` says: its context capped at
/// `model.max_len`, questions shown as `model.prompt` and `model.system` say.
pub fn load(path: &Path, model: &Model, device: &Device) -> Result<(HfLm, BaseIdentity)> {
    let prompt = (model.prompt.as_str(), model.system.as_str());
    // A half-precision base (`model.dtype`, LoRA only) is made half as it loads.
    let half = super::lora::BaseDtype::parse(&model.dtype).and_then(|d| d.half());
    if let Some(file) = gguf::gguf_path(path) {
        return gguf::load(&file, model.max_len, prompt, half, device);
    }
    let m = hf::load::load_with(path, model.max_len, prompt, half, device)?;
    let id = hf::load::identity(path, m.config())?;
    Ok((m, id))
}

/// The config of the model at `path` alone (`config.json`, or a GGUF file's metadata).
pub fn read_config(path: &Path) -> Result<hf::HfConfig> {
    if let Some(file) = gguf::gguf_path(path) {
        return gguf::GgufFile::open(&file)?.config();
    }
    hf::HfConfig::read(path)
}

/// The tokenizer of the model at `path` alone (for measuring data without the weights).
pub fn read_codec(path: &Path, model: &Model) -> Result<Codec> {
    let prompt = (model.prompt.as_str(), model.system.as_str());
    if let Some(file) = gguf::gguf_path(path) {
        let f = gguf::GgufFile::open(&file)?;
        let config = f.config()?;
        return f.codec(&config, prompt);
    }
    hf::load::read_codec_with(path, prompt)
}
