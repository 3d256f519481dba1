//! Prints the logits a model gives for a prompt, as JSON, for cross-checks against other
//! implementations (`fixtures/check_export.py`):
//!
//!     cargo run --release --example logits -- DIR_OR_CHECKPOINT "Q: text\n"
//!
//! DIR_OR_CHECKPOINT is a Hugging Face model directory, a GGUF file or a hytune checkpoint.

use std::path::Path;

use burn::tensor::Device;
use hytune::engine::checkpoint;
use hytune::model::{Lm, int_tensor, to_vec};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [source, text] = args.as_slice() else {
        anyhow::bail!("usage: logits DIR_OR_CHECKPOINT TEXT");
    };
    let device = Device::flex();
    let path = Path::new(source);
    let gguf = path.extension().is_some_and(|e| e == "gguf");
    let model = if path.is_dir() || gguf {
        {
            let mut m = hytune::config::Config::default().model;
            (m.max_len, m.prompt) = (4096, "plain".into());
            Lm::Hf(hytune::model::pretrained::load(path, &m, &device)?.0)
        }
    } else {
        checkpoint::load(path)?.standalone_model(path, &device)?
    };
    let tokens = model.codec().encode_prompt(text);
    let logits = to_vec(model.forward(int_tensor(&tokens, 1, tokens.len(), &device)));
    let v = logits.len() / tokens.len();
    let rows: Vec<&[f32]> = logits.chunks(v).collect();
    println!("{}", serde_json::json!({"tokens": tokens, "logits": rows}));
    Ok(())
}
