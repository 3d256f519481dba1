//! A pretrained model from disk, whatever its source: a Hugging Face directory or a GGUF file
//! (or a folder holding one GGUF file and no `config.json`). The one entry every caller uses.

use std::path::Path;

use anyhow::Result;
use burn::tensor::Device;

use super::gguf;
use super::hf::{self, BaseIdentity, HfLm};
use crate::data::codec::Codec;

/// The model at `path` with its identity, its context capped at `max_len`.
pub fn load(path: &Path, max_len: usize, device: &Device) -> Result<(HfLm, BaseIdentity)> {
    if let Some(file) = gguf::gguf_path(path) {
        return gguf::load(&file, max_len, device);
    }
    let m = hf::load(path, max_len, device)?;
    let id = hf::load::identity(path, m.config())?;
    Ok((m, id))
}

/// The tokenizer of the model at `path` alone (for measuring data without the weights).
pub fn read_codec(path: &Path) -> Result<Codec> {
    if let Some(file) = gguf::gguf_path(path) {
        let f = gguf::GgufFile::open(&file)?;
        let config = f.config()?;
        return f.codec(&config);
    }
    hf::load::read_codec(path)
}
