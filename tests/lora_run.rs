//! LoRA post-training of a pretrained model through the binary: adapters on a frozen base,
//! checkpoints that hold only the adapters and resume exactly, the base with adapters off equal
//! to the model it started from, and the adapters exported for PEFT and llama.cpp and merged.

mod common;
use common::{hytune, ok};

use std::path::Path;

use burn::tensor::Device;
use hytune::engine::checkpoint;
use hytune::model::{Lm, int_tensor, to_vec};

fn post_lines(run: &Path) -> Vec<String> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["phase"] == "post").then(|| {
                format!(
                    "{} {} {} {}",
                    v["step"], v["loss_total"], v["alpha"], v["kl_ref"]
                )
            })
        })
        .collect()
}

#[test]
fn lora_on_a_pretrained_fixture_trains_adapters_resumes_and_exports_them() {
    let dir = hytune::scratch::TempDir::new_in(Path::new(env!("CARGO_TARGET_TMPDIR"))).unwrap();
    let cwd = dir.path();
    let cfg = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/configs/tiny.toml");
    let smol = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/hf/smollm2");
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
        "--set",
        "lora.rank=4",
        "--set",
        "lora.alpha=8",
        "--set",
        "post.lr=1e-2",
        "--set",
        "post.kl_beta=0.05",
    ]);
    let o = ok(hytune(&args, cwd));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("LoRA r4 ·"), "{err}");
    let run = cwd.join("R");
    let log = std::fs::read_to_string(run.join("events.log")).unwrap();
    assert!(log.contains("LoRA rank 4 alpha 8"), "{log}");
    // events.log lines start with an RFC 3339 time.
    let first = log.lines().next().unwrap();
    assert!(
        first.len() > 25 && first.as_bytes()[10] == b'T' && first[..24].ends_with('Z'),
        "{first}"
    );
    let full = post_lines(&run);
    assert_eq!(full.len(), 6, "{full:?}");

    // The checkpoint holds the adapters and their AdamW moments, not the base, and no reference
    // copy: 2 layers × (4 × (32 + 32) + 3 × (32 + 64)) × rank 4 = 4352 adapter parameters, 17 KB
    // in f32, against the base's 31,900 (127 KB).
    let ck_path = run.join("ckpt-1post-0000003.hyt");
    let [model, optimizer, reference, _] = checkpoint::load(&ck_path).unwrap().section_sizes();
    let adapters = 4352 * 4;
    assert!(
        model >= adapters && model < adapters + adapters / 2,
        "model record {model} bytes for {adapters} bytes of adapters"
    );
    assert!(
        optimizer < 3 * adapters,
        "optimizer state {optimizer} bytes"
    );
    assert_eq!(reference, 0, "LoRA's reference is the base, not a copy");

    // Resume from step 3 into a new folder: the same later steps, bit for bit.
    let mut a = vec![
        "train",
        "--resume",
        "R/ckpt-1post-0000003.hyt",
        "--out",
        "R2",
    ];
    a.extend(&common[..3]);
    ok(hytune(&a, cwd));
    assert_eq!(post_lines(&cwd.join("R2")), full[3..].to_vec());

    // The trained model: its base with adapters off is the model it started from, exactly.
    let device = Device::flex();
    let ck = checkpoint::load(&run.join("final.hyt")).unwrap();
    let trained = ck
        .standalone_model(&run.join("final.hyt"), &device)
        .unwrap();
    assert!(trained.has_adapters());
    let base = Lm::Hf(hytune::model::hf::load(Path::new(smol), 256, &device).unwrap());
    let tokens = trained
        .codec()
        .encode_prompt("Q: A patient weighs 23 kg?\n");
    let logits = |m: &Lm| to_vec(m.forward(int_tensor(&tokens, 1, tokens.len(), &device)));
    let (t, b) = (logits(&trained), logits(&base));
    assert_eq!(logits(&trained.clone().without_adapters()), b);
    assert!(
        t.iter().zip(&b).any(|(p, q)| (p - q).abs() > 1e-3),
        "the adapters changed the model"
    );

    // A certificate (on 48 held-out items: the eval file three times) travels with every export.
    let eval_text = std::fs::read_to_string(cwd.join("D/eval.jsonl")).unwrap();
    let lines: Vec<&str> = eval_text.lines().collect();
    let held: String = (0..48)
        .map(|i| format!("{}\n", lines[i % lines.len()]))
        .collect();
    std::fs::write(cwd.join("held.jsonl"), held).unwrap();
    let o = ok(hytune(
        &[
            "calibrate",
            "--checkpoint",
            "R/final.hyt",
            "--data",
            "held.jsonl",
            "--epsilon",
            "0.1",
        ],
        cwd,
    ));
    assert!(String::from_utf8_lossy(&o.stdout).contains("threshold "));
    let cert = checkpoint::load(&run.join("final.hyt"))
        .unwrap()
        .meta
        .certificate
        .expect("a certificate");
    assert_eq!((cert.n, cert.epsilon), (48, 0.1));

    // PEFT's folder: config and tensors in PEFT's names and shapes.
    ok(hytune(
        &[
            "export",
            "--checkpoint",
            "R/final.hyt",
            "--format",
            "peft",
            "--out",
            "P",
        ],
        cwd,
    ));
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cwd.join("P/adapter_config.json")).unwrap())
            .unwrap();
    assert_eq!(config["peft_type"], "LORA");
    assert_eq!(
        (config["r"].as_u64(), config["lora_alpha"].as_f64()),
        (Some(4), Some(8.0))
    );
    assert_eq!(config["target_modules"].as_array().unwrap().len(), 7);
    assert_eq!(config["hytune_certificate"]["epsilon"], 0.1);
    assert_eq!(config["hytune_certificate"]["n"], 48);
    let st = std::fs::read(cwd.join("P/adapter_model.safetensors")).unwrap();
    let n = u64::from_le_bytes(st[..8].try_into().unwrap()) as usize;
    let head: serde_json::Value = serde_json::from_slice(&st[8..8 + n]).unwrap();
    let q = &head["base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight"];
    assert_eq!(q["shape"], serde_json::json!([4, 32]), "{head}");
    let d = &head["base_model.model.model.layers.0.mlp.down_proj.lora_B.weight"];
    assert_eq!(d["shape"], serde_json::json!([32, 4]), "{head}");
    // 2 layers × 7 projections × (A, B), and the metadata.
    assert_eq!(head.as_object().unwrap().len(), 2 * 7 * 2 + 1);

    // The GGUF adapter in llama.cpp's names, with an Ollama Modelfile beside it.
    ok(hytune(
        &[
            "export",
            "--checkpoint",
            "R/final.hyt",
            "--format",
            "gguf-lora",
            "--out",
            "G/adapter.gguf",
        ],
        cwd,
    ));
    let g = hytune::model::gguf::GgufFile::open(&cwd.join("G/adapter.gguf")).unwrap();
    let meta = |k: &str| g.gguf.metadata.get(k).cloned();
    use hytune::model::gguf::reader::Value;
    assert_eq!(meta("general.type"), Some(Value::Str("adapter".into())));
    assert_eq!(meta("adapter.type"), Some(Value::Str("lora".into())));
    // GGUF numbers are f32; the JSON record is exact.
    assert!(
        matches!(meta("hytune.certificate.epsilon"), Some(Value::Float(x)) if (x - 0.1).abs() < 1e-6)
    );
    assert_eq!(meta("hytune.certificate.n"), Some(Value::Uint(48)));
    let Some(Value::Str(json)) = meta("hytune.certificate") else {
        panic!("no certificate in the GGUF adapter")
    };
    let back: hytune::method::certify::Certificate = serde_json::from_str(&json).unwrap();
    assert_eq!(back, cert);
    assert!(
        g.gguf
            .tensors
            .iter()
            .any(|t| t.name == "blk.0.attn_q.weight.lora_b"),
        "{:?}",
        g.gguf.tensors.iter().map(|t| &t.name).collect::<Vec<_>>()
    );
    let modelfile = std::fs::read_to_string(cwd.join("G/Modelfile")).unwrap();
    assert!(
        modelfile.contains("FROM ") && modelfile.contains("ADAPTER ./adapter.gguf"),
        "{modelfile}"
    );

    // The merged Hugging Face export: the adapters folded in, the same logits to 1e-4.
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
    let hf_config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cwd.join("E/config.json")).unwrap()).unwrap();
    assert_eq!(
        serde_json::from_value::<hytune::method::certify::Certificate>(
            hf_config["hytune_certificate"].clone()
        )
        .unwrap(),
        cert
    );
    let merged = Lm::Hf(hytune::model::hf::load(&cwd.join("E"), 256, &device).unwrap());
    let worst = t
        .iter()
        .zip(&logits(&merged))
        .map(|(p, q)| (p - q).abs())
        .fold(0f32, f32::max);
    assert!(worst < 1e-4, "merged logits differ by {worst}");

    // A full fine-tuning checkpoint has no adapters to export: one clear line.
    let o = hytune(
        &[
            "export",
            "--checkpoint",
            "R/final.hyt",
            "--format",
            "lora",
            "--out",
            "X",
        ],
        cwd,
    );
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.contains("--format lora") && e.contains("peft"), "{e}");
}

/// `model.dtype = "bf16"`: the run stores its frozen base's projections in bf16 and says so,
/// resumes bit for bit (the checkpoint holds adapters; the base is reloaded and rounded the
/// same way), and the model `eval` and `export` load is the one trained.
#[test]
fn a_bf16_base_trains_resumes_and_reloads_as_trained() {
    use burn::tensor::DType;
    use hytune::model::lora::Adaptable;
    let dir = hytune::scratch::TempDir::new_in(Path::new(env!("CARGO_TARGET_TMPDIR"))).unwrap();
    let cwd = dir.path();
    let cfg = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/configs/tiny.toml");
    let smol = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/hf/smollm2");
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
        "post.steps=4",
        "--set",
        "checkpoint.every=2",
        "--set",
        "lora.rank=4",
        "--set",
        "post.lr=1e-2",
        "--set",
        "model.dtype=\"bf16\"",
    ]);
    ok(hytune(&args, cwd));
    let run = cwd.join("R");
    let log = std::fs::read_to_string(run.join("events.log")).unwrap();
    assert!(log.contains("base stored as bf16"), "{log}");
    let full = post_lines(&run);
    assert_eq!(full.len(), 4, "{full:?}");
    let mut a = vec![
        "train",
        "--resume",
        "R/ckpt-1post-0000002.hyt",
        "--out",
        "R2",
    ];
    a.extend(&common[..3]);
    ok(hytune(&a, cwd));
    assert_eq!(post_lines(&cwd.join("R2")), full[2..].to_vec());

    let device = Device::flex();
    let ck = checkpoint::load(&run.join("final.hyt")).unwrap();
    let trained = ck
        .standalone_model(&run.join("final.hyt"), &device)
        .unwrap();
    let mut dtypes = Vec::new();
    trained.for_each_linear(&mut |role, l| {
        if role.is_some() {
            dtypes.push(l.weight_dtype())
        }
    });
    assert!(
        !dtypes.is_empty() && dtypes.iter().all(|d| *d == DType::BF16),
        "{dtypes:?}"
    );
    // The merged export's weights are f32 again.
    let o = ok(hytune(
        &[
            "export",
            "--checkpoint",
            "R/final.hyt",
            "--format",
            "hf",
            "--out",
            "M",
        ],
        cwd,
    ));
    assert!(o.status.success());
    assert!(cwd.join("M/model.safetensors").is_file());
}
