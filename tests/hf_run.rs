//! HyTuning on a pretrained model through the binary: a few steps of a tiny SmolLM2-shaped
//! fixture with checkpoints, an exact resume, a resume onto another model refused, and an
//! export that loads back to the same logits.

mod common;
use common::{hytune, ok};

use std::path::Path;

use burn::tensor::Device;
use hytune::engine::checkpoint;
use hytune::model::{Lm, int_tensor, to_vec};

fn post_losses(run: &Path) -> Vec<(u64, String)> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["phase"] == "post").then(|| {
                (
                    v["step"].as_u64().unwrap(),
                    format!("{} {} {}", v["loss_total"], v["alpha"], v["kl_ref"]),
                )
            })
        })
        .collect()
}

#[test]
fn hytuning_on_a_pretrained_fixture_checkpoints_resumes_and_exports() {
    let dir = hytune::scratch::TempDir::new_in(Path::new(env!("CARGO_TARGET_TMPDIR"))).unwrap();
    let cwd = dir.path();
    let cfg = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/configs/tiny.toml");
    let smol = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/hf/smollm2");
    let qwen = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/hf/qwen2");
    ok(hytune(
        &[
            "data", "gen", "--config", cfg, "--suite", "dosage", "--out", "D", "--seed", "7",
        ],
        cwd,
    ));
    let common = ["--headless", "--backend", "cpu", "--config", cfg];
    let mut args = vec!["train", "--model", smol, "--data", "D", "--out", "R"];
    args.extend(common);
    args.extend([
        "--set",
        "model.max_len=256",
        "--set",
        "post.steps=6",
        "--set",
        "checkpoint.every=3",
        "--set",
        "eval.every=3",
        "--set",
        "mix.strategy=\"hytuning\"",
    ]);
    let o = ok(hytune(&args, cwd));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("LlamaForCausalLM") && err.contains("memory estimate"),
        "{err}"
    );
    let run = cwd.join("R");
    let full = post_losses(&run);
    assert_eq!(
        full.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        (1..=6).collect::<Vec<_>>()
    );
    assert!(
        !run.join("ckpt-0pretrain-0000004.hyt").exists(),
        "a pretrained model is not pretrained again"
    );

    // Resume from step 3 into a new folder: the same later steps.
    let mut a = vec![
        "train",
        "--resume",
        "R/ckpt-1post-0000003.hyt",
        "--out",
        "R2",
    ];
    a.extend(&common[..3]);
    ok(hytune(&a, cwd));
    let resumed = post_losses(&cwd.join("R2"));
    assert_eq!(resumed, full[3..].to_vec());

    // Onto another model: refused in one line that names both.
    let mut a = vec![
        "train",
        "--resume",
        "R/ckpt-1post-0000003.hyt",
        "--out",
        "R3",
        "--model",
        qwen,
    ];
    a.extend(&common[..3]);
    let o = hytune(&a, cwd);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.contains("smollm2") && e.contains("qwen2"), "{e}");

    // Export in f32, and load it back as a Hugging Face directory: the same logits.
    ok(hytune(
        &[
            "export",
            "--checkpoint",
            "R/final.hyt",
            "--out",
            "E",
            "--dtype",
            "float32",
        ],
        cwd,
    ));
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "generation_config.json",
    ] {
        assert!(cwd.join("E").join(f).is_file(), "{f}");
    }
    let device = Device::flex();
    let ck = checkpoint::load(&run.join("final.hyt")).unwrap();
    let trained = ck
        .standalone_model(&run.join("final.hyt"), &device)
        .unwrap();
    let exported = Lm::Hf(hytune::model::hf::load(&cwd.join("E"), 256, &device).unwrap());
    let base = Lm::Hf(hytune::model::hf::load(Path::new(smol), 256, &device).unwrap());
    let tokens = trained
        .codec()
        .encode_prompt("Q: A patient weighs 23 kg?\n");
    let logits = |m: &Lm| to_vec(m.forward(int_tensor(&tokens, 1, tokens.len(), &device)));
    let (t, x, b) = (logits(&trained), logits(&exported), logits(&base));
    assert_eq!(t, x, "the export holds the trained weights");
    assert!(
        t.iter().zip(&b).any(|(p, q)| (p - q).abs() > 1e-3),
        "training changed the model"
    );
    // By default in the base's dtype (bf16 for this fixture): about half the bytes; loads back.
    ok(hytune(
        &["export", "--checkpoint", "R/final.hyt", "--out", "E16"],
        cwd,
    ));
    let config = std::fs::read_to_string(cwd.join("E16/config.json")).unwrap();
    assert!(config.contains("\"dtype\": \"bfloat16\""), "{config}");
    let size = |d: &str| {
        std::fs::metadata(cwd.join(d).join("model.safetensors"))
            .unwrap()
            .len()
    };
    assert!(
        size("E16") * 10 < size("E") * 6,
        "{} vs {}",
        size("E16"),
        size("E")
    );
    let half = Lm::Hf(hytune::model::hf::load(&cwd.join("E16"), 256, &device).unwrap());
    let h = logits(&half);
    let worst = t
        .iter()
        .zip(&h)
        .map(|(p, q)| (p - q).abs())
        .fold(0f32, f32::max);
    assert!(worst < 0.5, "bf16 rounding moved a logit by {worst}");
    // Not over a folder that holds something.
    let o = hytune(
        &["export", "--checkpoint", "R/final.hyt", "--out", "E"],
        cwd,
    );
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.contains("not empty"), "{e}");
}
