//! Data-parallel CPU steps (model::shards): the shards' summed gradients are the whole batch's,
//! and a decode split over threads gives each row what it gets alone.

mod common;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use hytune::data::Labeled;
use hytune::data::tokenizer::encode_prompt;
use hytune::engine::losses::{
    PolicyRow, rd_encode, rd_loss, rd_loss_part, rd_tokens, rlif_loss_part,
};
use hytune::model::generate::{SampleOpts, generate};
use hytune::model::shards::{Shards, split};
use hytune::model::{Lm, to_vec};
use hytune::rng::Rng;

fn model(device: &Device, seed: u64) -> Lm {
    device.seed(seed);
    common::small_gpt().init(device)
}

fn examples() -> Vec<Labeled> {
    (0..10)
        .map(|i| Labeled {
            question: format!("{} + {} * {}?", i, 3 * i + 1, "7".repeat(i % 4 + 1)),
            steps: (0..i % 3 + 1)
                .map(|k| format!("step {k}: {}", i * k))
                .collect(),
            answer: format!("{}", 17 * i),
        })
        .collect()
}

/// Largest |a − b| over every parameter's gradient, and the largest |a|.
struct Compare<'a> {
    a: &'a GradientsParams,
    b: &'a GradientsParams,
    max_diff: f32,
    max_abs: f32,
    params: usize,
}

impl ModuleVisitor for Compare<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let Some(a) = self.a.get::<D>(param.id) else {
            // A frozen parameter: no gradient either way.
            assert!(
                self.b.get::<D>(param.id).is_none(),
                "a gradient for a frozen parameter"
            );
            return;
        };
        let b: Tensor<D> = self.b.get(param.id).expect("sharded gradient");
        let (a, b) = (to_vec(a), to_vec(b));
        for (x, y) in a.iter().zip(&b) {
            self.max_diff = self.max_diff.max((x - y).abs());
            self.max_abs = self.max_abs.max(x.abs());
        }
        self.params += 1;
    }
}

fn assert_same(model: &Lm, whole: &GradientsParams, sharded: &GradientsParams) {
    let mut c = Compare {
        a: whole,
        b: sharded,
        max_diff: 0.0,
        max_abs: 0.0,
        params: 0,
    };
    model.visit(&mut c);
    assert!(c.params > 10 && c.max_abs > 1e-3, "{} params", c.params);
    assert!(
        c.max_diff <= 1e-5 * c.max_abs.max(1.0),
        "gradients differ by {} (largest {})",
        c.max_diff,
        c.max_abs
    );
}

#[test]
fn rd_shards_sum_to_the_whole_batch_gradient() {
    let device = Device::flex().autodiff();
    let model = model(&device, 11);
    let data = examples();
    let batch: Vec<&Labeled> = data.iter().collect();
    let (loss, _) = rd_loss(&model, &batch);
    let whole_value = loss.clone().into_scalar::<f32>();
    let whole = GradientsParams::from_grads(loss.backward(), &model);

    let toks = rd_encode(model.codec(), &batch);
    let denom = rd_tokens(&toks, model.max_len());
    // Unequal lengths in each part: 4, 3, 3 examples.
    let parts = split(toks.len(), 3);
    let shards = Shards::new(3);
    let (sharded, values) = shards.grads(&model, 3, |m, i| {
        let (l, _) = rd_loss_part(m, &toks[parts[i].clone()], denom);
        let v = l.clone().into_scalar::<f32>();
        Some((l, v))
    });
    assert_eq!(values.len(), 3);
    let sum: f32 = values.iter().sum();
    assert!((sum - whole_value).abs() < 1e-5, "{sum} vs {whole_value}");
    assert_same(&model, &whole, &sharded);
}

/// Micro-batches: more shards than threads (5 on 2), each lane summing its shards as they come,
/// on a model with LoRA adapters: the adapters' gradients are the whole batch's, the frozen
/// base has none, and the losses come back in shard order.
#[test]
fn micro_batches_on_fewer_threads_sum_to_the_whole_batch_gradient() {
    use hytune::model::lora::LoraSpec;
    let device = Device::flex().autodiff();
    let spec = LoraSpec {
        rank: 2,
        alpha: 4.0,
        targets: ["q", "v", "o", "up", "down"].map(String::from).to_vec(),
        rslora: false,
    };
    use hytune::model::lora::Adaptable;
    // Nonzero B, so every adapter factor gets a gradient.
    let model = model(&device, 14)
        .with_lora(&spec)
        .map_linears(&mut |_, mut l| {
            if let Some(a) = l.lora.as_mut() {
                a.b = Param::from_tensor(Tensor::random(
                    a.b.dims(),
                    burn::tensor::Distribution::Default,
                    &device,
                ));
            }
            l
        });
    let data = examples();
    let batch: Vec<&Labeled> = data.iter().collect();
    let (loss, _) = rd_loss(&model, &batch);
    let whole = GradientsParams::from_grads(loss.backward(), &model);
    // 2 layers of the small GPT × (qkv, o, up, down) × (A, B).
    assert_eq!(whole.len(), 2 * 4 * 2);

    let toks = rd_encode(model.codec(), &batch);
    let denom = rd_tokens(&toks, model.max_len());
    let shards = Shards::new(2);
    assert_eq!(shards.count_capped(toks.len(), 2), 5);
    let parts = split(toks.len(), 5);
    let (sharded, values) = shards.grads(&model, 5, |m, i| {
        let (l, _) = rd_loss_part(m, &toks[parts[i].clone()], denom);
        Some((l, i))
    });
    assert_eq!(values, [0, 1, 2, 3, 4]);
    assert_eq!(
        sharded.len(),
        whole.len(),
        "only the adapters have gradients"
    );
    assert_same(&model, &whole, &sharded);
}

#[test]
fn rlif_shards_sum_to_the_whole_batch_gradient() {
    let device = Device::flex().autodiff();
    let policy = model(&device, 12);
    let reference = model(&device.clone().inner(), 13);
    let prompts: Vec<Vec<u32>> = (0..6)
        .map(|i| encode_prompt(&format!("Q: {}\n", "x".repeat(i + 1))))
        .collect();
    let responses: Vec<Vec<u32>> = (0..6)
        .map(|i| (0..i + 2).map(|j| 65 + j as u32).chain([10]).collect())
        .collect();
    let olds: Vec<Vec<f32>> = responses
        .iter()
        .enumerate()
        .map(|(i, r)| (0..r.len()).map(|j| -5.5 + 0.1 * (i + j) as f32).collect())
        .collect();
    let rows: Vec<PolicyRow> = (0..6)
        .map(|i| PolicyRow {
            prompt: &prompts[i],
            response: &responses[i],
            old_logprobs: &olds[i],
            advantage: [1.1, -0.4, 0.0, 0.7, -1.3, 0.2][i],
        })
        .collect();
    let whole = rlif_loss_part(&policy, &reference, &rows, 0.2, 0.05, rows.len());
    let whole_value = whole.loss.clone().into_scalar::<f32>();
    let whole_grads = GradientsParams::from_grads(whole.loss.backward(), &policy);

    let parts = split(rows.len(), 2);
    let (sharded, values) = Shards::new(2).grads(&policy, 2, |m, i| {
        let p = rlif_loss_part(
            m,
            &reference,
            &rows[parts[i].clone()],
            0.2,
            0.05,
            rows.len(),
        );
        let v = p.loss.clone().into_scalar::<f32>();
        Some((p.loss, (v, p.kl_sum, p.kl_tokens)))
    });
    let sum: f32 = values.iter().map(|v| v.0).sum();
    assert!((sum - whole_value).abs() < 1e-5, "{sum} vs {whole_value}");
    let kl: f64 = values.iter().map(|v| v.1).sum();
    let kl_tokens: f64 = values.iter().map(|v| v.2).sum();
    assert_eq!(kl_tokens, whole.kl_tokens);
    // The reference's log-probs come from batches of another shape: float order differs.
    assert!(
        (kl - whole.kl_sum).abs() < 1e-5 * whole.kl_sum.abs().max(1.0),
        "{kl} vs {}",
        whole.kl_sum
    );
    assert_same(&policy, &whole_grads, &sharded);
}

#[test]
fn a_shard_with_nothing_to_do_adds_nothing() {
    let device = Device::flex().autodiff();
    let model = model(&device, 14);
    let data = examples();
    let batch: Vec<&Labeled> = data[..3].iter().collect();
    let (loss, _) = rd_loss(&model, &batch);
    let whole = GradientsParams::from_grads(loss.backward(), &model);
    let toks = rd_encode(model.codec(), &batch);
    let denom = rd_tokens(&toks, model.max_len());
    let (sharded, values) = Shards::new(2).grads(&model, 2, |m, i| {
        (i == 1).then(|| (rd_loss_part(m, &toks, denom).0, i))
    });
    assert_eq!(values, vec![1]);
    assert_same(&model, &whole, &sharded);
}

#[test]
fn a_decode_split_over_threads_gives_each_row_what_it_gets_alone() {
    let device = Device::flex();
    let model = model(&device, 15);
    let prompts: Vec<Vec<u32>> = (0..9)
        .map(|i| encode_prompt(&format!("Q: {}*{}=?\n", i * 7, "3".repeat(i % 3 + 1))))
        .collect();
    let greedy = SampleOpts {
        temperature: None,
        top_k: 0,
        max_new: 10,
    };
    let together = generate(&model, &prompts, &greedy, &mut Rng::new(0));
    assert_eq!(together.len(), prompts.len());
    for (p, g) in prompts.iter().zip(&together) {
        let alone = generate(&model, std::slice::from_ref(p), &greedy, &mut Rng::new(0));
        assert_eq!(alone[0].tokens, g.tokens);
        for (a, b) in alone[0].logprobs.iter().zip(&g.logprobs) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }
    // Sampling: the same seed gives the same rows whatever the split.
    let opts = SampleOpts {
        temperature: Some(1.0),
        ..greedy
    };
    let a = generate(&model, &prompts, &opts, &mut Rng::new(4));
    let b = generate(&model, &prompts, &opts, &mut Rng::new(4));
    assert_eq!(a, b);
}
