//! GGUF files (fixtures made by fixtures/make_gguf_fixtures.py from the Hugging Face fixtures):
//! every encoding dequantizes as the `gguf` package does; each family's GGUF file gives the
//! logits and greedy continuations `transformers` gave for the same weights, and its rebuilt
//! tokenizer encodes as the Python `tokenizers` library does; damaged files are refused in one
//! line naming the file and what was being read, and fuzzed headers never panic.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use hytune::model::gguf::dequant::dequantize;
use hytune::model::gguf::reader::Gguf;
use hytune::model::{Lm, int_tensor, pretrained, to_vec};
use hytune::rng::Rng;

const FAMILIES: &[&str] = &["llama", "smollm2", "qwen2", "qwen3"];

/// The model settings of the tests: questions as plain text, a context of `n`.
fn plain(n: usize) -> hytune::config::Model {
    let mut m = hytune::config::Config::default().model;
    m.max_len = n;
    m.prompt = "plain".into();
    m
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn gguf(name: &str) -> PathBuf {
    fixtures().join("gguf").join(format!("{name}.gguf"))
}

fn json(path: PathBuf) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn argmax(z: &[f32]) -> u32 {
    (0..z.len()).max_by(|&a, &b| z[a].total_cmp(&z[b])).unwrap() as u32
}

#[test]
fn every_encoding_dequantizes_as_the_gguf_package_does() {
    let bytes = std::fs::read(gguf("types")).unwrap();
    let g = Gguf::parse(&bytes).unwrap();
    let expected: Vec<f32> = std::fs::read(fixtures().join("gguf/types-expected.f32"))
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let names: Vec<&str> = g.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "t.F32", "t.F16", "t.BF16", "t.Q8_0", "t.Q4_0", "t.Q4_1", "t.Q5_0", "t.Q5_1", "t.Q4_K",
            "t.Q5_K", "t.Q6_K"
        ]
    );
    let mut at = 0;
    for t in &g.tensors {
        let got = dequantize(t.kind, &bytes[t.start..t.start + t.len]);
        assert_eq!(t.shape(), [2, 256], "{}", t.name);
        let want = &expected[at..at + got.len()];
        at += got.len();
        let worst = got
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst == 0.0, "{}: max |Δ| {worst}", t.name);
    }
    assert_eq!(at, expected.len());
}

#[test]
fn gguf_models_give_the_logits_and_greedy_tokens_of_transformers() {
    let device = Device::flex();
    for name in FAMILIES {
        let (m, id) = pretrained::load(&gguf(name), &plain(256), &device).unwrap();
        assert!(id.dir.ends_with(format!("{name}.gguf")), "{id:?}");
        let model = Lm::Hf(m);
        let exp = json(fixtures().join("hf").join(name).join("expected.json"));
        let new = exp["max_new_tokens"].as_u64().unwrap() as usize;
        let mut worst = 0f32;
        for (i, prompt) in exp["prompts"].as_array().unwrap().iter().enumerate() {
            let prompt = ids(prompt);
            let got = to_vec(model.forward(int_tensor(&prompt, 1, prompt.len(), &device)));
            let want: Vec<f32> = exp["logits"][i]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|r| r.as_array().unwrap().iter())
                .map(|x| x.as_f64().unwrap() as f32)
                .collect();
            assert_eq!(got.len(), want.len(), "{name}: logits shape");
            for (g, w) in got.iter().zip(&want) {
                worst = worst.max((g - w).abs());
            }
            let mut seq = prompt.clone();
            for _ in 0..new {
                let l = to_vec(model.forward(int_tensor(&seq, 1, seq.len(), &device)));
                let v = l.len() / seq.len();
                seq.push(argmax(&l[(seq.len() - 1) * v..]));
            }
            assert_eq!(
                seq[prompt.len()..],
                ids(&exp["greedy"][i]),
                "{name}: greedy {i}"
            );
        }
        println!("{name}.gguf: max |Δlogit| against transformers {worst:.2e}");
        assert!(worst <= 1e-4, "{name}: max |Δlogit| {worst}");
    }
}

#[test]
fn the_rebuilt_tokenizer_encodes_as_python_tokenizers_does() {
    for name in FAMILIES {
        let codec = pretrained::read_codec(&gguf(name), &plain(256)).unwrap();
        let cases = json(
            fixtures()
                .join("hf")
                .join(name)
                .join("tokenizer_cases.json"),
        );
        for c in cases.as_array().unwrap() {
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

/// Llama 2's kind of vocabulary (`tokenizer.ggml.model = llama`: pieces and scores, no merges),
/// trained by the `sentencepiece` package: hytune's rebuilt tokenizer gives sentencepiece's ids
/// (with BOS where a prompt starts) and decodes back to the text. transformers' GGUF loader
/// differs only on the three texts that start with spaces (no dummy `▁` before them).
#[test]
fn a_sentencepiece_vocabulary_tokenizes_as_sentencepiece_does() {
    let device = Device::flex();
    let (model, _) = pretrained::load(&gguf("spm"), &plain(64), &device).unwrap();
    let codec = Lm::Hf(model).codec().clone();
    let cases = json(fixtures().join("gguf/spm-cases.json"));
    let mut transformers_differs = Vec::new();
    for c in cases.as_array().unwrap() {
        let t = c["text"].as_str().unwrap();
        assert_eq!(codec.encode(t), ids(&c["ids"]), "{t:?}");
        assert_eq!(
            codec.encode_prompt(t),
            ids(&c["ids_special"]),
            "{t:?} with BOS"
        );
        assert_eq!(
            codec.decode(&ids(&c["ids"])),
            c["decoded"].as_str().unwrap()
        );
        if c["ids"] != c["transformers"] {
            transformers_differs.push(t);
        }
    }
    assert_eq!(
        transformers_differs,
        [
            "  two  spaces and\n\nnewlines\n",
            " leading space",
            "   three"
        ]
    );
}

#[test]
fn a_tokenizer_json_beside_the_file_is_used_and_checked() {
    let tmp = hytune::scratch::TempDir::new_in(Path::new(env!("CARGO_TARGET_TMPDIR"))).unwrap();
    let file = tmp.path().join("m.gguf");
    std::fs::copy(gguf("llama"), &file).unwrap();
    std::fs::copy(
        fixtures().join("hf/llama/tokenizer.json"),
        tmp.path().join("tokenizer.json"),
    )
    .unwrap();
    let codec = pretrained::read_codec(&file, &plain(256)).unwrap();
    assert_eq!(
        codec.encode("Q: 12*7=?\n"),
        [50, 27, 222, 18, 19, 11, 24, 30, 265]
    );
    // Another model's tokenizer: refused, naming the token that differs.
    std::fs::copy(
        fixtures().join("hf/smollm2/tokenizer.json"),
        tmp.path().join("tokenizer.json"),
    )
    .unwrap();
    let e = format!(
        "{:#}",
        pretrained::read_codec(&file, &plain(256)).unwrap_err()
    );
    assert!(
        e.contains("tokenizer.json") && e.contains("is not the tokenizer's token"),
        "{e}"
    );
    // The folder of one GGUF file (no config.json) is the model too.
    std::fs::remove_file(tmp.path().join("tokenizer.json")).unwrap();
    assert!(pretrained::read_codec(tmp.path(), &plain(256)).is_ok());
}

/// A GGUF file built by hand: `kv` as (key, type id, value bytes), tensors as (name, dims,
/// type id, data).
fn build(
    version: u32,
    kv: &[(&str, u32, Vec<u8>)],
    tensors: &[(&str, &[u64], u32, Vec<u8>)],
) -> Vec<u8> {
    let s = |t: &str| {
        let mut v = (t.len() as u64).to_le_bytes().to_vec();
        v.extend(t.as_bytes());
        v
    };
    let mut b = b"GGUF".to_vec();
    b.extend(version.to_le_bytes());
    b.extend((tensors.len() as u64).to_le_bytes());
    b.extend((kv.len() as u64).to_le_bytes());
    for (k, ty, v) in kv {
        b.extend(s(k));
        b.extend(ty.to_le_bytes());
        b.extend(v);
    }
    let mut offset = 0u64;
    for (name, dims, ty, data) in tensors {
        b.extend(s(name));
        b.extend((dims.len() as u32).to_le_bytes());
        for d in *dims {
            b.extend(d.to_le_bytes());
        }
        b.extend(ty.to_le_bytes());
        b.extend(offset.to_le_bytes());
        offset += (data.len() as u64).div_ceil(32) * 32;
    }
    while b.len() % 32 != 0 {
        b.push(0);
    }
    for (_, _, _, data) in tensors {
        let mut d = data.clone();
        d.resize(data.len().div_ceil(32) * 32, 0);
        b.extend(d);
    }
    b
}

fn string(v: &str) -> Vec<u8> {
    let mut b = (v.len() as u64).to_le_bytes().to_vec();
    b.extend(v.as_bytes());
    b
}

#[test]
fn damaged_files_are_refused_in_one_line() {
    let device = Device::flex();
    let tmp = hytune::scratch::TempDir::new_in(Path::new(env!("CARGO_TARGET_TMPDIR"))).unwrap();
    let load_err = |bytes: &[u8], name: &str| {
        let p = tmp.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let e = format!(
            "{:#}",
            pretrained::load(&p, &plain(64), &device)
                .err()
                .expect("refused")
        );
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(e.contains(name), "names the file: {e}");
        e
    };
    let good = std::fs::read(gguf("llama")).unwrap();
    // Truncated in the tensor data, in the metadata, and right after the magic.
    let e = load_err(&good[..good.len() - 100], "cut-data.gguf");
    assert!(e.contains("truncated") && e.contains("tensor `"), "{e}");
    let e = load_err(&good[..300], "cut-meta.gguf");
    assert!(e.contains("truncated"), "{e}");
    let e = load_err(&good[..6], "cut-head.gguf");
    assert!(e.contains("the version"), "{e}");
    let mut bad = good.clone();
    bad[..4].copy_from_slice(b"GGML");
    assert!(load_err(&bad, "magic.gguf").contains("not a GGUF file"));
    let mut v1 = good.clone();
    v1[4..8].copy_from_slice(&1u32.to_le_bytes());
    assert!(load_err(&v1, "v1.gguf").contains("version 1"));
    // A type hytune does not read (Q2_K, 10) and an architecture it does not know.
    let arch = |a: &str| ("general.architecture", 8, string(a));
    let q2k = build(
        3,
        &[arch("llama")],
        &[("token_embd.weight", &[256, 2], 10, vec![0; 168])],
    );
    let e = load_err(&q2k, "q2k.gguf");
    assert!(e.contains("token_embd.weight") && e.contains("Q2_K"), "{e}");
    let f32s = |n: usize| vec![0u8; n * 4];
    let gpt2 = build(
        3,
        &[arch("gpt2")],
        &[("token_embd.weight", &[4, 2], 0, f32s(8))],
    );
    let e = load_err(&gpt2, "gpt2.gguf");
    assert!(
        e.contains("general.architecture") && e.contains("gpt2"),
        "{e}"
    );
    // Metadata of the wrong type, and a required key missing: the key is named.
    let mut kv = vec![
        arch("llama"),
        ("llama.attention.head_count", 8, string("two")),
    ];
    let e = load_err(&build(3, &kv, &[]), "type.gguf");
    assert!(
        e.contains("llama.attention.head_count") && e.contains("not a whole number"),
        "{e}"
    );
    kv[1] = ("llama.attention.head_count", 4, 2u32.to_le_bytes().to_vec());
    let e = load_err(&build(3, &kv, &[]), "missing.gguf");
    assert!(e.contains("is missing"), "{e}");
    // A tensor with no place in the decoder is named, not dropped.
    let renamed = {
        let mut b = good.clone();
        let at = b
            .windows(b"blk.0.attn_v.weight".len())
            .position(|w| w == b"blk.0.attn_v.weight")
            .unwrap();
        b[at..at + 19].copy_from_slice(b"blk.0.attn_z.weight");
        b
    };
    let e = load_err(&renamed, "extra.gguf");
    assert!(
        e.contains("blk.0.attn_z.weight") && e.contains("no place"),
        "{e}"
    );
}

#[test]
fn fuzzed_headers_never_panic() {
    let good = std::fs::read(gguf("smollm2")).unwrap();
    let head = Gguf::parse(&good)
        .unwrap()
        .tensors
        .iter()
        .map(|t| t.start)
        .min()
        .unwrap();
    let mut rng = Rng::new(11);
    let (mut ok, mut refused) = (0, 0);
    for i in 0..3000 {
        let mut b = good.clone();
        if i % 10 == 0 {
            b.truncate(rng.below(head));
        } else {
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(head);
                b[at] = rng.below(256) as u8;
            }
        }
        match Gguf::parse(&b) {
            Ok(_) => ok += 1,
            Err(e) => {
                assert_eq!(format!("{e:#}").lines().count(), 1);
                refused += 1;
            }
        }
    }
    println!("fuzzed headers: {ok} parsed, {refused} refused, none panicked");
    assert!(refused > 100);
}

/// Chat templates render byte for byte as transformers' `apply_chat_template(...,
/// add_generation_prompt=True)` (fixtures/make_chat_fixtures.py): SmolLM2's (from its GGUF
/// file) and Qwen2.5's, with and without a system turn.
#[test]
fn chat_templates_render_as_transformers_does() {
    use hytune::data::chat::ChatTemplate;
    for name in ["smollm2", "qwen2.5"] {
        let dir = fixtures().join("chat");
        let source = std::fs::read_to_string(dir.join(format!("{name}.jinja"))).unwrap();
        let t = ChatTemplate::new(&source, "", "<|im_end|>").unwrap();
        let cases = json(dir.join(format!("{name}.json")));
        for c in cases.as_array().unwrap() {
            let m: Vec<(&str, &str)> = c["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| (m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
                .collect();
            assert_eq!(
                t.render(&m).unwrap(),
                c["text"].as_str().unwrap(),
                "{name}: {m:?}"
            );
        }
    }
}

/// `model.prompt = chat` (or `auto` with a template) puts the question in the user turn after
/// the system turn; `chat` without a template is refused naming the model.
#[test]
fn questions_go_through_the_template() {
    let tmp = hytune::scratch::TempDir::new_in(Path::new(env!("CARGO_TARGET_TMPDIR"))).unwrap();
    let dir = tmp.path().join("m");
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(fixtures().join("hf/smollm2"))
        .unwrap()
        .flatten()
    {
        std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
    }
    let mut chat = plain(256);
    chat.prompt = "chat".into();
    let e = format!("{:#}", pretrained::read_codec(&dir, &chat).unwrap_err());
    assert!(e.contains("no chat template") && e.contains("m"), "{e}");
    let source = std::fs::read_to_string(fixtures().join("chat/smollm2.jinja")).unwrap();
    std::fs::write(dir.join("chat_template.jinja"), &source).unwrap();
    let codec = pretrained::read_codec(&dir, &chat).unwrap();
    let hytune::data::codec::Codec::Hf(h) = &codec else {
        panic!()
    };
    let text = h
        .tokenizer()
        .decode(&codec.encode_question("7*8?"), false)
        .unwrap();
    assert_eq!(
        text,
        format!(
            "<|im_start|>system\n{}<|im_end|>\n<|im_start|>user\n7*8?<|im_end|>\n<|im_start|>assistant\n",
            hytune::config::SYSTEM_INSTRUCTION
        )
    );
    // Plain stays plain; auto follows the template.
    let p = pretrained::read_codec(&dir, &plain(256)).unwrap();
    assert_eq!(p.encode_question("7*8?"), p.encode_prompt("Q: 7*8?\n"));
    chat.prompt = "auto".into();
    let a = pretrained::read_codec(&dir, &chat).unwrap();
    assert_eq!(a.encode_question("7*8?"), codec.encode_question("7*8?"));
}

/// `hytune export --format gguf`: written from a GGUF base and from Hugging Face directories,
/// read back, the F32 file gives the same logits and the Q8_0/F16 ones logits within their
/// rounding; the tokenizer and chat template travel in the metadata.
#[test]
fn exported_gguf_files_read_back() {
    use hytune::model::gguf::export;
    let device = Device::flex();
    let tmp = hytune::scratch::TempDir::new_in(Path::new(env!("CARGO_TARGET_TMPDIR"))).unwrap();
    let logits = |m: &Lm| {
        let prompt = [5u32, 9, 17, 33, 2, 64, 100];
        to_vec(m.forward(int_tensor(&prompt, 1, prompt.len(), &device)))
    };
    let worst = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max)
    };
    let bases = [
        gguf("llama"),
        gguf("qwen3"),
        fixtures().join("hf/smollm2"),
        fixtures().join("hf/qwen2"),
    ];
    for base in bases {
        let (m, _) = pretrained::load(&base, &plain(256), &device).unwrap();
        let before = logits(&Lm::Hf(m.clone()));
        for (format, tol) in [("f32", 0.0f32), ("f16", 2e-2), ("q8_0", 0.5)] {
            let out = tmp.path().join(format!(
                "{}-{format}.gguf",
                base.file_name().unwrap().to_string_lossy()
            ));
            export(&m, &base, &out, format, None).unwrap();
            let (again, _) = pretrained::load(&out, &plain(256), &device).unwrap();
            let d = worst(&before, &logits(&Lm::Hf(again)));
            println!("{} {format}: max |Δlogit| {d:.2e}", base.display());
            assert!(d <= tol, "{} {format}: {d}", base.display());
        }
        // The tokenizer came along: the same ids for the fixtures' strings.
        let out = tmp.path().join(format!(
            "{}-f32.gguf",
            base.file_name().unwrap().to_string_lossy()
        ));
        let (a, b) = (
            pretrained::read_codec(&base, &plain(256)).unwrap(),
            pretrained::read_codec(&out, &plain(256)).unwrap(),
        );
        for t in [
            "Q: 12*7=?\n",
            "  two  spaces and\n\nnewlines\n",
            "dosis über 5 µg 🙂",
        ] {
            assert_eq!(
                a.encode_prompt(t),
                b.encode_prompt(t),
                "{}: {t:?}",
                base.display()
            );
        }
        // Q8_0 tensor by tensor: every value within one quantization step of its block
        // (d = max|x| / 127) of the F32 file's.
        let q8 = tmp.path().join(format!(
            "{}-q8_0.gguf",
            base.file_name().unwrap().to_string_lossy()
        ));
        let (fb, qb) = (std::fs::read(&out).unwrap(), std::fs::read(&q8).unwrap());
        let (f, q) = (Gguf::parse(&fb).unwrap(), Gguf::parse(&qb).unwrap());
        assert_eq!(f.tensors.len(), q.tensors.len());
        for (tf, tq) in f.tensors.iter().zip(&q.tensors) {
            assert_eq!((&tf.name, tf.shape()), (&tq.name, tq.shape()));
            let a = dequantize(tf.kind, &fb[tf.start..tf.start + tf.len]);
            let b = dequantize(tq.kind, &qb[tq.start..tq.start + tq.len]);
            if tf.dims.len() == 1 {
                assert_eq!(a, b, "{}: norms stay F32", tf.name);
                continue;
            }
            for (x, y) in a.chunks(32).zip(b.chunks(32)) {
                let step = x.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
                let d = worst(x, y);
                assert!(d <= step * 1.01 + 1e-7, "{}: {d} > {step}", tf.name);
            }
        }
        // Never over an existing file.
        assert!(export(&m, &base, &out, "f32", None).is_err());
    }
}

/// `hytune export --format hf` of a model whose base is a GGUF file: config, tokenizer and chat
/// template from its metadata, so the folder loads as the file did (the same logits, ids and
/// prompts) and transformers can read it.
#[test]
fn a_gguf_base_exports_the_hugging_face_layout() {
    let device = Device::flex();
    let tmp = hytune::scratch::TempDir::new_in(Path::new(env!("CARGO_TARGET_TMPDIR"))).unwrap();
    let mut auto = plain(256);
    auto.prompt = "auto".into();
    for name in FAMILIES {
        let base = gguf(name);
        let (m, _) = pretrained::load(&base, &plain(256), &device).unwrap();
        let out = tmp.path().join(format!("{name}-hf"));
        hytune::model::hf::export::export(&m, &base, &out, None, None).unwrap();
        let config = json(out.join("config.json"));
        assert_eq!(config["torch_dtype"], "float32", "{name}: {config}");
        assert!(
            out.join("tokenizer.json").is_file() && out.join("generation_config.json").is_file()
        );
        let (again, _) = pretrained::load(&out, &plain(256), &device).unwrap();
        let prompt = [5u32, 9, 17, 33, 2, 64, 100];
        let l = |m: Lm| to_vec(m.forward(int_tensor(&prompt, 1, prompt.len(), &device)));
        assert_eq!(l(Lm::Hf(m)), l(Lm::Hf(again)), "{name}: logits");
        let (a, b) = (
            pretrained::read_codec(&base, &auto).unwrap(),
            pretrained::read_codec(&out, &auto).unwrap(),
        );
        for t in [
            "Q: 12*7=?\n",
            "  two  spaces and\n\nnewlines\n",
            "dosis über 5 µg 🙂",
        ] {
            assert_eq!(a.encode_prompt(t), b.encode_prompt(t), "{name}: {t:?}");
        }
        assert_eq!(
            a.encode_question("7*8?"),
            b.encode_question("7*8?"),
            "{name}: the question's prompt (chat template or plain)"
        );
    }
}
