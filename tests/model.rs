//! The model on real tensors: cached decoding equals the full forward pass, the tensor RLIF
//! loss equals the scalar formula, and wgpu agrees with the CPU backend.

mod common;

use burn::module::Module;
use burn::tensor::Device;
use hytune::data::tokenizer::encode_prompt;
use hytune::engine::losses::{PolicyRow, rlif_loss};
use hytune::method::grpo;
use hytune::model::generate::{SampleOpts, generate};
use hytune::model::score::Packed;
use hytune::model::{Activation, GptShape, Positions, int_tensor, to_vec};
use hytune::rng::Rng;

use common::small_gpt as shape;

#[test]
fn cached_decoding_matches_the_full_forward_pass() {
    for positions in [Positions::Rope, Positions::Learned] {
        cached_decoding_matches(GptShape {
            positions,
            ..shape()
        });
    }
    cached_decoding_matches(GptShape {
        activation: Activation::Relu2,
        ..shape()
    });
}

fn cached_decoding_matches(shape: GptShape) {
    let device = Device::flex();
    device.seed(1);
    let model = shape.init(&device);
    // Two prompts of different lengths: the shorter is left-padded in the cached decode.
    let prompts = vec![encode_prompt("Q: 2+3=?\n"), encode_prompt("Q: 12*4-7=?\n")];
    let g = generate(
        &model,
        &prompts,
        &SampleOpts {
            temperature: None,
            top_k: 0,
            max_new: 12,
        },
        &mut Rng::new(0),
    );
    for (p, out) in prompts.iter().zip(&g) {
        let seq: Vec<u32> = p.iter().chain(&out.tokens).copied().collect();
        let logits = model.forward(int_tensor(&seq, 1, seq.len(), &device));
        let logp = to_vec(burn::tensor::activation::log_softmax(logits, 2));
        let v = shape.vocab;
        for (j, (&tok, &lp)) in out.tokens.iter().zip(&out.logprobs).enumerate() {
            let pos = p.len() - 1 + j;
            let full = logp[pos * v + tok as usize];
            assert!(
                (full - lp).abs() < 1e-4,
                "{:?} {:?} token {j}: cached {lp} vs full {full}",
                shape.positions,
                shape.activation
            );
            // Greedy: the chosen token is the argmax of the full pass too.
            let row = &logp[pos * v..(pos + 1) * v];
            let best = (0..v).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
            assert_eq!(best as u32, tok);
        }
    }
}

#[test]
fn tensor_rlif_loss_equals_the_scalar_formula() {
    let device = Device::flex().autodiff();
    device.seed(2);
    let policy = shape().init(&device);
    device.seed(3);
    let reference = shape().init(&device.clone().inner());
    let prompts = [encode_prompt("Q: a\n"), encode_prompt("Q: bb\n")];
    let responses: [Vec<u32>; 2] = [vec![65, 66, 10], vec![67, 10]];
    // π_old: the policy's own log-probs shifted, so ratios differ from 1 (and some clip).
    let pairs: Vec<(&[u32], &[u32])> = prompts
        .iter()
        .zip(&responses)
        .map(|(p, r)| (p.as_slice(), r.as_slice()))
        .collect();
    let packed = Packed::new(&pairs, 64);
    let lp = to_vec(packed.token_logprobs(&policy.valid()));
    let rf = to_vec(packed.token_logprobs(&reference));
    let cols = packed.cols;
    let mut olds = Vec::new();
    let mut scalar = Vec::new();
    let shifts = [0.3f32, -0.4];
    let advs = [1.2, -0.7];
    for (i, (p, r)) in prompts.iter().zip(&responses).enumerate() {
        let toks: Vec<(f64, f64, f64)> = (0..r.len())
            .map(|j| {
                let k = i * cols + p.len() - 1 + j;
                (
                    lp[k] as f64,
                    (lp[k] + shifts[i] * (j as f32 - 0.5)) as f64,
                    rf[k] as f64,
                )
            })
            .collect();
        olds.push(toks.iter().map(|t| t.1 as f32).collect::<Vec<_>>());
        scalar.push((advs[i], toks));
    }
    let rows: Vec<PolicyRow> = (0..2)
        .map(|i| PolicyRow {
            prompt: &prompts[i],
            response: &responses[i],
            old_logprobs: &olds[i],
            advantage: advs[i],
        })
        .collect();
    let (loss, _, _) = rlif_loss(&policy, &reference, &rows, 0.2, 0.05);
    let got = loss.into_scalar::<f32>() as f64;
    let want = grpo::rlif_loss(&scalar, 0.2, 0.05);
    assert!((got - want).abs() < 1e-5, "tensor {got} vs scalar {want}");
}

#[test]
fn wgpu_forward_matches_cpu() {
    let Some(wgpu) = common::wgpu_device() else {
        return;
    };
    let cpu = Device::flex();
    cpu.seed(4);
    let model = shape().init(&cpu);
    let on_gpu = shape().init(&wgpu).load_record(model.clone().into_record());
    let tokens: Vec<u32> = encode_prompt("Q: 7*8-5=?\nS: 7*8=56\n");
    let a = to_vec(model.forward(int_tensor(&tokens, 1, tokens.len(), &cpu)));
    let b = to_vec(on_gpu.forward(int_tensor(&tokens, 1, tokens.len(), &wgpu)));
    let diff = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(diff < 1e-3, "max |cpu − wgpu| = {diff}");
}
