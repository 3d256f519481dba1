//! Pretrained Hugging Face models: logits and greedy generations equal those of `transformers`
//! for each family (fixtures made by fixtures/make_hf_fixtures.py), with and without the KV
//! cache; the tokenizer encodes as the Python `tokenizers` library does; answer spans and PRG
//! branches are found on token boundaries when a subword straddles `A: `.

mod common;

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use hytune::data::codec::{Codec, covering};
use hytune::engine::answer_span::answer_span;
use hytune::engine::prg_scoring::answer_branch;
use hytune::model::hf::load;
use hytune::model::{Batch, Lm, cached_bias, int_tensor, to_vec};

const FAMILIES: &[&str] = &["llama", "smollm2", "qwen2", "qwen3"];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hf")
        .join(name)
}

fn expected(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixture(name).join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// The logits `transformers` gave for prompt `i`, row-major `[T, V]`.
fn expected_logits(exp: &serde_json::Value, i: usize) -> Vec<f32> {
    exp["logits"][i]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter())
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn argmax(z: &[f32]) -> u32 {
    (0..z.len()).max_by(|&a, &b| z[a].total_cmp(&z[b])).unwrap() as u32
}

/// Greedy continuation by full forward passes (no cache).
fn greedy_full(model: &Lm, prompt: &[u32], new: usize) -> Vec<u32> {
    let device = model.device();
    let mut seq = prompt.to_vec();
    for _ in 0..new {
        let logits = to_vec(model.forward(int_tensor(&seq, 1, seq.len(), &device)));
        let v = logits.len() / seq.len();
        seq.push(argmax(&logits[(seq.len() - 1) * v..]));
    }
    seq[prompt.len()..].to_vec()
}

/// Greedy continuation with the KV cache: the prompt once, then one token at a time.
fn greedy_cached(model: &Lm, prompt: &[u32], new: usize) -> Vec<u32> {
    let mut cache = model.new_cache(1);
    let mut batch = Batch {
        tokens: prompt.to_vec(),
        positions: (0..prompt.len() as u32).collect(),
        rows: 1,
        cols: prompt.len(),
    };
    let mut out = Vec::new();
    for _ in 0..new {
        let past = cache.len();
        let l = model.forward_cached(&batch, cached_bias(&[0], past, batch.cols), &mut cache);
        let [_, t, v] = l.dims();
        let last = to_vec(l.slice([0..1, t - 1..t, 0..v]));
        let next = argmax(&last);
        out.push(next);
        batch = Batch {
            tokens: vec![next],
            positions: vec![cache.len() as u32],
            rows: 1,
            cols: 1,
        };
    }
    out
}

#[test]
fn logits_and_greedy_match_transformers() {
    let device = Device::flex();
    for name in FAMILIES {
        let model = Lm::Hf(load(&fixture(name), 256, &device).unwrap());
        let exp = expected(name);
        let new = exp["max_new_tokens"].as_u64().unwrap() as usize;
        let mut worst = 0f32;
        for (i, prompt) in exp["prompts"].as_array().unwrap().iter().enumerate() {
            let prompt = ids(prompt);
            let got = to_vec(model.forward(int_tensor(&prompt, 1, prompt.len(), &device)));
            let want = expected_logits(&exp, i);
            assert_eq!(got.len(), want.len(), "{name}: logits shape");
            for (g, w) in got.iter().zip(&want) {
                worst = worst.max((g - w).abs());
            }
            // A prefill's last-position logits (what decoding reads) are the full forward's
            // last row.
            let v = got.len() / prompt.len();
            let mut cache = model.new_cache(1);
            let last = to_vec(model.forward_cached_last(
                &Batch {
                    tokens: prompt.clone(),
                    positions: (0..prompt.len() as u32).collect(),
                    rows: 1,
                    cols: prompt.len(),
                },
                cached_bias(&[0], 0, prompt.len()),
                &mut cache,
            ));
            assert_eq!(last.len(), v, "{name}: one position of logits");
            let off = last
                .iter()
                .zip(&got[(prompt.len() - 1) * v..])
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(off <= 1e-5, "{name}: last-position prefill off by {off}");
            let greedy = ids(&exp["greedy"][i]);
            assert_eq!(
                greedy_full(&model, &prompt, new),
                greedy,
                "{name}: greedy, prompt {i}"
            );
            assert_eq!(
                greedy_cached(&model, &prompt, new),
                greedy,
                "{name}: greedy with the KV cache, prompt {i}"
            );
        }
        println!("{name}: max |Δlogit| {worst:.2e}");
        assert!(worst <= 1e-4, "{name}: max |Δlogit| {worst}");
    }
}

#[test]
fn tokenizer_matches_python_tokenizers() {
    for name in FAMILIES {
        let codec = load::read_codec(&fixture(name)).unwrap();
        let text = std::fs::read_to_string(fixture(name).join("tokenizer_cases.json")).unwrap();
        let cases: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        for c in &cases {
            let t = c["text"].as_str().unwrap();
            assert_eq!(codec.encode(t), ids(&c["ids"]), "{name}: {t:?}");
            assert_eq!(
                codec.encode_prompt(t),
                ids(&c["ids_special"]),
                "{name}: {t:?} with specials"
            );
        }
    }
}

#[test]
fn answer_found_when_a_subword_straddles_the_answer_line() {
    // SmolLM2's GPT-2 split merges the space after "A:" with the digits: "A", ":", " 92", "\n".
    let codec = load::read_codec(&fixture("smollm2")).unwrap();
    let Codec::Hf(h) = &codec else { panic!() };
    let tokens = codec.encode("S: 23*4=92\nA: 92\n");
    let pieces: Vec<String> = tokens
        .iter()
        .map(|&t| h.tokenizer().id_to_token(t).unwrap())
        .collect();
    let n = pieces.len();
    assert_eq!(&pieces[n - 4..], ["A", ":", "Ġ92", "Ċ"], "{pieces:?}");
    // The span is the straddling token and the newline.
    let span = answer_span(&codec, &tokens, hytune::data::extract::Extract::ALine).unwrap();
    assert_eq!(span, n - 2..n);
    // PRG's branch scores from the same token.
    let (branch, from) = answer_branch(&codec, "92");
    assert_eq!(branch.len(), 4);
    assert_eq!(from, 2);
    assert_eq!(&branch[2..], &tokens[n - 2..]);
    // The byte-offset mapping itself: "A" ":" " 92" "\n" end at 1, 2, 5, 6; answer bytes 3..6.
    assert_eq!(covering(&[1, 2, 5, 6], 3, 6), Some(2..4));
    // A generated response that stops at the end token still finds its answer.
    let mut generated = tokens.clone();
    generated.push(codec.eos());
    generated.extend(codec.encode("A: 7\n"));
    assert_eq!(
        answer_span(&codec, &generated, hytune::data::extract::Extract::ALine),
        Some(n - 2..n)
    );
}

#[test]
fn missing_and_broken_files_are_named() {
    let device = Device::flex();
    let tmp = hytune::scratch::TempDir::new_in(Path::new(env!("CARGO_TARGET_TMPDIR"))).unwrap();
    let dir = tmp.path().join("m");
    std::fs::create_dir_all(&dir).unwrap();
    let err = |d: &Path| format!("{:#}", load(d, 64, &device).unwrap_err());
    assert!(err(&dir).contains("config.json"), "{}", err(&dir));
    for f in [
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "generation_config.json",
    ] {
        std::fs::copy(fixture("qwen2").join(f), dir.join(f)).unwrap();
    }
    assert!(err(&dir).contains("model.safetensors"), "{}", err(&dir));
    // A sharded index naming a shard that is not there.
    std::fs::copy(
        fixture("qwen2").join("model.safetensors.index.json"),
        dir.join("model.safetensors.index.json"),
    )
    .unwrap();
    assert!(
        err(&dir).contains("model-00001-of-00003.safetensors: missing"),
        "{}",
        err(&dir)
    );
    // Two of three shards: the missing tensors are counted and one is named.
    for k in [1, 2] {
        let f = format!("model-0000{k}-of-00003.safetensors");
        std::fs::copy(fixture("qwen2").join(&f), dir.join(&f)).unwrap();
    }
    std::fs::write(
        dir.join("model.safetensors.index.json"),
        std::fs::read_to_string(dir.join("model.safetensors.index.json"))
            .unwrap()
            .replace("model-00003-of-00003", "model-00002-of-00003"),
    )
    .unwrap();
    let e = err(&dir);
    assert!(
        e.contains("the weights lack") && e.contains("layers.1"),
        "{e}"
    );
    // Weights of another shape than the config's: one line with the count and the first.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    for e in std::fs::read_dir(fixture("smollm2")).unwrap().flatten() {
        std::fs::copy(e.path(), other.join(e.file_name())).unwrap();
    }
    let cfg = std::fs::read_to_string(other.join("config.json")).unwrap();
    std::fs::write(
        other.join("config.json"),
        cfg.replace("\"hidden_size\": 32", "\"hidden_size\": 64"),
    )
    .unwrap();
    let e = err(&other);
    assert!(
        e.contains("20 of its tensors do not fit config.json") && e.lines().count() == 1,
        "{e}"
    );
}

/// Model files that lie are refused in one line naming the file and the key, before anything
/// trains: each fault hand-made in a copy of a fixture.
#[test]
fn model_files_that_lie_are_refused() {
    let device = Device::flex();
    let tmp = hytune::scratch::TempDir::new_in(Path::new(env!("CARGO_TARGET_TMPDIR"))).unwrap();
    let faults: &[(&str, &str, &str, &str)] = &[
        // (file, text replaced, replacement, what the error names)
        (
            "config.json",
            "\"num_hidden_layers\": 2",
            "\"num_hidden_layers\": 0",
            "num_hidden_layers",
        ),
        // Fewer layers than the weights hold: the unused layer is named.
        (
            "config.json",
            "\"num_hidden_layers\": 2",
            "\"num_hidden_layers\": 1",
            "model.layers.1",
        ),
        (
            "config.json",
            "\"rope_theta\": 100000.0",
            "\"rope_theta\": \"big\"",
            "rope_theta",
        ),
        (
            "config.json",
            "\"rms_norm_eps\": 1e-06",
            "\"rms_norm_eps\": -1",
            "rms_norm_eps",
        ),
        (
            "config.json",
            "\"eos_token_id\": 0",
            "\"eos_token_id\": 9999",
            "eos_token_id",
        ),
        (
            "config.json",
            "\"tie_word_embeddings\": true",
            "\"tie_word_embeddings\": \"yes\"",
            "tie_word_embeddings",
        ),
        (
            "config.json",
            "\"hidden_size\": 32",
            "\"hidden_size\": 32.5",
            "hidden_size",
        ),
    ];
    for (k, (file, from, to, named)) in faults.iter().enumerate() {
        let dir = tmp.path().join(format!("m{k}"));
        std::fs::create_dir_all(&dir).unwrap();
        for e in std::fs::read_dir(fixture("smollm2")).unwrap().flatten() {
            std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(text.contains(from), "{file} holds {from}");
        std::fs::write(dir.join(file), text.replace(from, to)).unwrap();
        let e = format!("{:#}", load(&dir, 64, &device).err().expect("refused"));
        assert!(
            e.contains(named) && e.contains(file) || e.contains(named) && e.contains("safetensors"),
            "{to}: {e}"
        );
        assert_eq!(e.lines().count(), 1, "{e}");
    }
    // An end id in generation_config.json beyond the vocabulary.
    let dir = tmp.path().join("gen");
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(fixture("smollm2")).unwrap().flatten() {
        std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
    }
    std::fs::write(
        dir.join("generation_config.json"),
        r#"{"eos_token_id": [0, 320]}"#,
    )
    .unwrap();
    let e = format!("{:#}", load(&dir, 64, &device).err().expect("refused"));
    assert!(
        e.contains("generation_config.json") && e.contains("320"),
        "{e}"
    );
}

#[test]
fn wgpu_matches_transformers_for_a_pretrained_model() {
    let Some(wgpu) = common::wgpu_device() else {
        return;
    };
    // Qwen3: GQA, q/k norm, head_dim ≠ hidden / heads; greedy with the KV cache too.
    let model = Lm::Hf(load(&fixture("qwen3"), 256, &wgpu).unwrap());
    let exp = expected("qwen3");
    let prompt = ids(&exp["prompts"][0]);
    let got = to_vec(model.forward(int_tensor(&prompt, 1, prompt.len(), &wgpu)));
    let want = expected_logits(&exp, 0);
    let worst = got
        .iter()
        .zip(&want)
        .map(|(g, w)| (g - w).abs())
        .fold(0f32, f32::max);
    assert!(worst < 1e-3, "max |wgpu − transformers| = {worst}");
    assert_eq!(greedy_cached(&model, &prompt, 12), ids(&exp["greedy"][0]));
}

/// The memory estimate's sizes from a config alone (what refuses a run before its weights
/// load) are the loaded model's: parameters, projections, dimensions and LoRA's adapter
/// parameters, for every family, from `config.json` and from the GGUF metadata.
#[test]
fn sizes_from_the_config_equal_the_loaded_models() {
    use hytune::model::lora::LoraSpec;
    use hytune::model::sizes::Sizes;
    let device = Device::flex();
    let spec = LoraSpec {
        rank: 4,
        alpha: 8.0,
        targets: ["q", "k", "v", "o", "gate", "up", "down"]
            .map(String::from)
            .to_vec(),
        rslora: false,
    };
    let gguf = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gguf");
    let mut sources: Vec<PathBuf> = FAMILIES.iter().map(|f| fixture(f)).collect();
    sources.extend(FAMILIES.iter().map(|f| gguf.join(format!("{f}.gguf"))));
    for source in sources {
        let config = hytune::config::Config::default().model;
        let (m, _) = hytune::model::pretrained::load(&source, &config, &device).unwrap();
        let loaded = Sizes::of(&Lm::Hf(m));
        let read = hytune::model::pretrained::read_config(&source).unwrap();
        let from_config = Sizes::of_config(&read, config.max_len);
        let (a, b) = (loaded.dims, from_config.dims);
        assert_eq!(
            (
                a.params,
                a.projections,
                a.layers,
                a.d_model,
                a.mlp,
                a.heads,
                a.kv_width,
                a.vocab
            ),
            (
                b.params,
                b.projections,
                b.layers,
                b.d_model,
                b.mlp,
                b.heads,
                b.kv_width,
                b.vocab
            ),
            "{}",
            source.display()
        );
        assert_eq!(loaded.max_len, from_config.max_len, "{}", source.display());
        assert_eq!(
            loaded.adapter_params(&spec),
            from_config.adapter_params(&spec),
            "{}",
            source.display()
        );
        assert!(loaded.adapter_params(&spec) > 0);
    }
}
