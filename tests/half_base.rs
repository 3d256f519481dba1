//! A frozen base in half precision (`model.dtype = bf16 | f16`): the model computes exactly what
//! the f32 model computes with its projection weights rounded to that format (the kernel
//! widens them and multiplies in f32), forward and adapter gradients alike; the embeddings,
//! norms and head stay f32; and the rounding's own effect on the logits is the format's.

mod common;

use burn::module::Param;
use burn::optim::GradientsParams;
use burn::tensor::{DType, Device, Distribution, FloatDType, Int, Tensor, TensorData};
use hytune::data::Labeled;
use hytune::engine::losses::rd_loss;
use hytune::model::lora::{Adaptable, BaseDtype, LoraSpec};
use hytune::model::{Lm, to_vec};

fn adapted(device: &Device) -> Lm {
    device.seed(21);
    let spec = LoraSpec {
        rank: 2,
        alpha: 4.0,
        targets: ["q", "v", "o", "up", "down"].map(String::from).to_vec(),
        rslora: false,
    };
    // Nonzero B, so the adapters change the output and get gradients through every path.
    common::small_gpt()
        .init(device)
        .with_lora(&spec)
        .map_linears(&mut |_, mut l| {
            if let Some(a) = l.lora.as_mut() {
                a.b = Param::from_tensor(Tensor::random(a.b.dims(), Distribution::Default, device));
            }
            l
        })
}

/// The f32 model with each projection weight rounded to `d` and widened back.
fn rounded(model: Lm, d: FloatDType) -> Lm {
    model.map_linears(&mut |role, mut l| {
        if role.is_some() {
            l.weight = l.weight.map(|w| w.cast(d).cast(FloatDType::F32));
        }
        l
    })
}

fn tokens(device: &Device) -> Tensor<2, Int> {
    let ids: Vec<i64> = (0..3 * 20).map(|i| (i * 7 + 3) % 90 + 32).collect();
    Tensor::from_data(TensorData::new(ids, [3, 20]), device)
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn examples() -> Vec<Labeled> {
    (0..6)
        .map(|i| Labeled {
            question: format!("{} * {}?", i + 11, i + 2),
            steps: vec![format!("{}*{}={}", i + 11, i + 2, (i + 11) * (i + 2))],
            answer: format!("{}", (i + 11) * (i + 2)),
        })
        .collect()
}

/// The adapters' gradients of the RD loss, in parameter order.
fn adapter_grads(model: &Lm) -> Vec<Vec<f32>> {
    let data = examples();
    let batch: Vec<&Labeled> = data.iter().collect();
    let (loss, _) = rd_loss(model, &batch);
    let grads = GradientsParams::from_grads(loss.backward(), model);
    let mut out = Vec::new();
    model.for_each_linear(&mut |_, l| {
        if let Some(a) = &l.lora {
            for p in [&a.a, &a.b] {
                out.push(to_vec(grads.get::<2>(p.id).expect("an adapter gradient")));
            }
        }
        assert!(
            grads.get::<2>(l.weight.id).is_none(),
            "the base has no gradient"
        );
    });
    out
}

#[test]
fn a_half_base_computes_the_rounded_f32_model() {
    let device = Device::flex().autodiff();
    for (dtype, d) in [
        (BaseDtype::Bf16, FloatDType::BF16),
        (BaseDtype::F16, FloatDType::F16),
    ] {
        let f32_model = adapted(&device);
        let half = f32_model.clone().with_base_dtype(dtype);
        let mut stored = Vec::new();
        half.for_each_linear(&mut |role, l| stored.push((role.is_some(), l.weight_dtype())));
        assert!(
            stored.iter().all(|(proj, t)| !proj || *t == DType::from(d)),
            "{dtype:?}: every projection stored in half precision: {stored:?}"
        );
        let round = rounded(f32_model.clone(), d);
        let (h, r, f) = (
            to_vec(half.forward(tokens(&device))),
            to_vec(round.forward(tokens(&device))),
            to_vec(f32_model.forward(tokens(&device))),
        );
        let scale = f.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        // The same arithmetic on the same widened weights, up to the order of f32 sums.
        assert!(
            max_diff(&h, &r) <= 1e-5 * scale.max(1.0),
            "{dtype:?}: half base {} from the rounded f32 model",
            max_diff(&h, &r)
        );
        // The rounding itself moves the logits, by about the format's unit roundoff (bf16
        // 2^-8, f16 2^-11) relative to their size, not more.
        let moved = max_diff(&h, &f) / scale;
        let unit = if d == FloatDType::BF16 {
            2f32.powi(-8)
        } else {
            2f32.powi(-11)
        };
        assert!(
            moved > 0.0 && moved < 4.0 * unit,
            "{dtype:?}: moved {moved}"
        );
        // Adapter gradients: the rounded model's, with none for the base.
        let (gh, gr) = (adapter_grads(&half), adapter_grads(&round));
        assert_eq!(gh.len(), gr.len());
        for (a, b) in gh.iter().zip(&gr) {
            let s = b.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!(max_diff(a, b) <= 1e-4 * s.max(1e-3), "{dtype:?}: gradient");
        }
    }
}

/// Merging a half base's adapters (the `hf` and `gguf` exports) gives f32 weights: the widened
/// base plus the adapter's product.
#[test]
fn merging_a_half_base_gives_f32_weights() {
    let device = Device::flex();
    let half = adapted(&device).with_base_dtype(BaseDtype::Bf16);
    let merged = half.clone().merged();
    merged.for_each_linear(&mut |_, l| assert_eq!(l.weight_dtype(), DType::F32));
    let (a, b) = (
        to_vec(half.forward(tokens(&device))),
        to_vec(merged.forward(tokens(&device))),
    );
    assert!(max_diff(&a, &b) < 1e-4, "{}", max_diff(&a, &b));
}

/// f32 leaves the model as it is.
#[test]
fn f32_is_the_model_as_loaded() {
    let device = Device::flex();
    let m = adapted(&device);
    let same = m.clone().with_base_dtype(BaseDtype::F32);
    assert_eq!(
        to_vec(m.forward(tokens(&device))),
        to_vec(same.forward(tokens(&device)))
    );
}

/// A pretrained base with `model.dtype = "bf16"` is made half as it loads (never whole in f32):
/// the same model as the f32 load cast afterwards, from a Hugging Face directory and from a GGUF
/// file, its projections bf16 and its embeddings and norms f32.
#[test]
fn a_pretrained_base_loads_straight_to_bf16() {
    let device = Device::flex();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for source in [
        root.join("tests/fixtures/hf/qwen2"),
        root.join("tests/fixtures/gguf/smollm2.gguf"),
    ] {
        let mut cfg = hytune::config::Config::default().model;
        let (f32_model, _) = hytune::model::pretrained::load(&source, &cfg, &device).unwrap();
        cfg.dtype = "bf16".into();
        let (half, _) = hytune::model::pretrained::load(&source, &cfg, &device).unwrap();
        let (half, cast) = (
            Lm::Hf(half),
            Lm::Hf(f32_model).with_base_dtype(BaseDtype::Bf16),
        );
        let mut kinds = Vec::new();
        half.for_each_linear(&mut |role, l| kinds.push((role.is_some(), l.weight_dtype())));
        assert!(
            kinds
                .iter()
                .all(|(p, d)| *d == if *p { DType::BF16 } else { DType::F32 }),
            "{}: {kinds:?}",
            source.display()
        );
        let ids: Vec<i64> = (0..2 * 12).map(|i| (i * 11 + 5) % 200 + 3).collect();
        let t = || Tensor::<2, Int>::from_data(TensorData::new(ids.clone(), [2, 12]), &device);
        let (a, b) = (to_vec(half.forward(t())), to_vec(cast.forward(t())));
        assert!(
            max_diff(&a, &b) <= 1e-6,
            "{}: {}",
            source.display(),
            max_diff(&a, &b)
        );
    }
}
