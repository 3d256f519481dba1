//! What `fixtures/compare_gguf_transformers.py` compares with transformers' GGUF loader: for a
//! model (a GGUF file or a Hugging Face directory) and a JSON file `{"prompts": [...],
//! "strings": [...], "new": N}`, prints as JSON the token ids of every string (no special
//! tokens), and for every prompt its ids, its logits `[T, V]` and N greedy tokens.
//!
//!     cargo run --release --example gguf_check -- MODEL CASES.json > hytune.json

use std::path::Path;

use burn::tensor::Device;
use hytune::model::{Lm, int_tensor, to_vec};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, cases] = args.as_slice() else {
        anyhow::bail!("usage: gguf_check MODEL CASES.json");
    };
    let cases: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(cases)?)?;
    let device = Device::flex();
    let mut m = hytune::config::Config::default().model;
    (m.max_len, m.prompt) = (4096, "plain".into());
    let lm = Lm::Hf(hytune::model::pretrained::load(Path::new(model), &m, &device)?.0);
    let codec = lm.codec().clone();
    let strings: Vec<Vec<u32>> = cases["strings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| codec.encode(s.as_str().unwrap()))
        .collect();
    let new = cases["new"].as_u64().unwrap_or(32) as usize;
    let mut prompts = Vec::new();
    for p in cases["prompts"].as_array().unwrap() {
        let ids = codec.encode(p.as_str().unwrap());
        let logits = to_vec(lm.forward(int_tensor(&ids, 1, ids.len(), &device)));
        let v = logits.len() / ids.len();
        let mut seq = ids.clone();
        for _ in 0..new {
            let l = to_vec(lm.forward(int_tensor(&seq, 1, seq.len(), &device)));
            let last = &l[(seq.len() - 1) * v..];
            let next = (0..v).max_by(|&a, &b| last[a].total_cmp(&last[b])).unwrap() as u32;
            seq.push(next);
        }
        let rows: Vec<&[f32]> = logits.chunks(v).collect();
        prompts.push(serde_json::json!({"ids": ids, "logits": rows, "greedy": seq[ids.len()..]}));
    }
    println!(
        "{}",
        serde_json::json!({"strings": strings, "prompts": prompts})
    );
    Ok(())
}
