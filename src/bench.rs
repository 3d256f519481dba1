//! `hytune bench`: training and generation throughput of the configured model and backend
//! (min / median over repeats after warm-up), and the time split of a full HyTuning step.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use burn::optim::AdamWConfig;
use burn::optim::grad_clipping::GradientClippingConfig;
use clap::Args;

use crate::config::Config;
use crate::data::jsonl;
use crate::data::suites::{GenSpec, Suite, generate};
use crate::engine::protocol::Event;
use crate::engine::{DataSource, Job, backend, spawn};
use crate::model::cached_bias;
use crate::model::score::Packed;
use crate::model::{Batch, GptShape, Lm, to_vec};

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Timed repeats after warm-up.
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Untimed warm-up repeats (kernel compilation, caches).
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Sequences decoded together.
    #[arg(long, default_value_t = 32)]
    pub gen_batch: usize,
    /// Also time full HyTuning steps (rollouts, PRG scoring, update).
    #[arg(long)]
    pub hytuning: bool,
    /// Rows of the training batch (random byte tokens, every position a target).
    #[arg(long, default_value_t = 32)]
    pub rows: usize,
    /// Tokens per row of the training batch (at most model.max_len − 1).
    #[arg(long, default_value_t = 64)]
    pub cols: usize,
    /// Print one JSON object on stdout (the figures `bench/compare` reads) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Worker threads of the CPU backend: `RAYON_NUM_THREADS`, else the cores available.
fn threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn stats(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2])
}

pub fn run(config: &Config, args: BenchArgs) -> Result<ExitCode> {
    let selected = backend::select(&config.run.backend)?;
    if let Some(n) = &selected.notice {
        eprintln!("note: {n}");
    }
    let shape = GptShape::from_config(&config.model);
    let device = selected.device.clone().autodiff();
    device.seed(config.run.seed);
    let loading = Instant::now();
    let mut model = match config.model.source.as_str() {
        "builtin" => shape.init(&device),
        dir => Lm::Hf(
            crate::model::pretrained::load(std::path::Path::new(dir), &config.model, &device)?.0,
        ),
    };
    let load_s = loading.elapsed().as_secs_f64();
    // `--set lora.rank=R`: the training step updates adapters on a frozen base.
    let spec = config.lora_spec();
    model = model.with_lora(&spec).with_base_dtype(config.base_dtype());
    let (trainable, _) = model.trainable_share();
    let max_len = model.max_len();
    let vocab = model.vocab();
    let estimate = crate::model::memory::Estimate::new(
        model.dims(),
        crate::model::memory::RunDims {
            train_rows: args.rows,
            train_len: args.cols,
            decode_rows: args.gen_batch,
            max_len,
            shards: crate::model::shards::Shards::for_device(&device).count(args.rows),
            optimizers: 1,
            held_gradients: 0,
            reference: false,
            trainable: Some(trainable),
            checkpoints: false,
            chunked_logits: !selected.name.starts_with("wgpu"),
            base_bytes: if spec.rank > 0 {
                config.base_dtype().bytes()
            } else {
                4
            },
        },
    );
    if !args.json {
        println!(
            "backend {}  threads {}  model {}  ctx {}  params {}  trained {}  (loaded in {:.1} s)\n{}",
            selected.name,
            threads(),
            model.describe(),
            max_len,
            burn::module::Module::num_params(&model),
            trainable,
            load_s,
            estimate.describe()
        );
    }

    if args.cols == 0 || args.cols >= max_len || args.rows == 0 {
        anyhow::bail!(
            "--rows must be at least 1 and --cols between 1 and {} (model.max_len − 1)",
            max_len - 1
        );
    }
    // Training: one full step (forward, backward, gradient clipping, AdamW) on a fixed batch of
    // random tokens, the same shape and loss as the twin in bench/torch_twin.py.
    let mut rng = crate::rng::Rng::new(7);
    let seqs: Vec<Vec<u32>> = (0..args.rows)
        .map(|_| {
            (0..=args.cols)
                .map(|_| rng.range(0, vocab as i64 - 1) as u32)
                .collect()
        })
        .collect();
    let pairs: Vec<(&[u32], &[u32])> = seqs.iter().map(|s| (&s[..1], &s[1..])).collect();
    let packed = Packed::new(&pairs, max_len);
    // The training step's data-parallel split (engine::shards), as in `hytune train`.
    let shards = crate::model::shards::Shards::for_device(&device);
    let parts = crate::model::shards::split(args.rows, shards.count(args.rows));
    let shard_batches: Vec<Packed> = parts
        .iter()
        .map(|r| Packed::new(&pairs[r.clone()], max_len))
        .collect();
    let mut optim = AdamWConfig::new()
        .with_weight_decay(0.01)
        .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
        .init();
    let mut times = Vec::new();
    for i in 0..args.warmup + args.repeats {
        let t = Instant::now();
        let (grads, _) = shards.grads(&model, shard_batches.len(), |m, i| {
            let part = &shard_batches[i];
            let lp = part.token_logprobs(m) * part.mask_tensor(m);
            let loss = lp
                .sum()
                .neg()
                .div_scalar((packed.rows * packed.cols) as f32);
            let _ = loss.clone().into_scalar::<f32>();
            Some((loss, ()))
        });
        model = optim.step(1e-4, model, grads);
        device.sync().ok();
        if i >= args.warmup {
            times.push(t.elapsed().as_secs_f64());
        }
    }
    let tokens = packed.rows * packed.cols;
    let (train_min, train_med) = stats(times);
    if !args.json {
        println!(
            "train  batch {}×{} tokens: {:.1} ms/step min, {:.1} median → {:.0} tokens/s (median)",
            packed.rows,
            packed.cols,
            train_min * 1e3,
            train_med * 1e3,
            tokens as f64 / train_med
        );
    }

    // Generation with the KV cache: per-token time early and late in the sequence.
    let valid = burn::module::Module::valid(&model);
    let prompt = model
        .codec()
        .encode_prompt("Q: amoxicillin 12 mg/kg, patient 20 kg. Dose in mg?\n");
    if prompt.len() + 2 > max_len {
        anyhow::bail!(
            "model.max_len {max_len} leaves no room to decode after the bench prompt ({} tokens)",
            prompt.len()
        );
    }
    let new = max_len - prompt.len();
    let (mut early, mut late, mut total) = (Vec::new(), Vec::new(), Vec::new());
    // Split over threads as `generate` splits its batches (model::shards); the slowest shard's
    // step is the step.
    let decode_parts = crate::model::shards::split(args.gen_batch, shards.count(args.gen_batch));
    for i in 0..args.warmup + args.repeats {
        let shard_steps = shards.run(decode_parts.len(), |k| {
            decode_timed(&valid, &prompt, decode_parts[k].len(), new)
        });
        let per_token: Vec<f64> = (0..new)
            .map(|j| shard_steps.iter().map(|s| s[j]).fold(0.0, f64::max))
            .collect();
        if i >= args.warmup {
            let w = 16.min(new / 2);
            early.push(per_token[1..=w].iter().sum::<f64>() / w as f64);
            late.push(per_token[new - w..].iter().sum::<f64>() / w as f64);
            total.push(per_token.iter().sum::<f64>());
        }
    }
    let (_, e) = stats(early);
    let (_, l) = stats(late);
    let (tmin, tmed) = stats(total);
    let gen_tokens = (args.gen_batch * new) as f64;
    if args.json {
        let out = serde_json::json!({
            "impl": "hytune",
            "backend": selected.name,
            "threads": threads(),
            "model": model.describe(), "params": burn::module::Module::num_params(&model),
            "lora_rank": spec.rank, "trainable": trainable,
            "memory_estimate_bytes": estimate.total(),
            "d_model": shape.d_model, "n_layers": shape.n_layers, "n_heads": shape.n_heads,
            "max_len": max_len, "mlp_ratio": shape.mlp_ratio, "vocab": vocab,
            "positions": if shape.positions == crate::model::Positions::Rope { "rope" } else { "learned" },
            "activation": shape.activation.name(),
            "train_rows": packed.rows, "train_cols": packed.cols,
            "train_ms_min": train_min * 1e3, "train_ms_median": train_med * 1e3,
            "train_tok_s": tokens as f64 / train_med,
            "decode_rows": args.gen_batch, "decode_prompt": prompt.len(), "decode_new": new,
            "decode_tok_s": gen_tokens / tmed, "decode_tok_s_best": gen_tokens / tmin,
        });
        println!("{out}");
    } else {
        println!(
            "decode batch {} × {} new tokens (KV cache): {:.0} tokens/s (median; best {:.0}); per step {:.2} ms at tokens 1-16, {:.2} ms at the last 16 (×{:.2})",
            args.gen_batch,
            new,
            gen_tokens / tmed,
            gen_tokens / tmin,
            e * 1e3,
            l * 1e3,
            l / e
        );
    }

    if args.hytuning {
        hytuning_split(config, &selected, &args)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Seconds of each decode step (index 0: the prefill), feeding the argmax back regardless of EOS.
fn decode_timed(model: &Lm, prompt: &[u32], rows: usize, new: usize) -> Vec<f64> {
    let mut cache = model.new_cache(rows);
    let pads = vec![0; rows];
    let mut batch = Batch {
        tokens: prompt.repeat(rows),
        positions: (0..prompt.len() as u32)
            .cycle()
            .take(rows * prompt.len())
            .collect(),
        rows,
        cols: prompt.len(),
    };
    let mut out = Vec::with_capacity(new);
    for _ in 0..new {
        let t = Instant::now();
        let past = cache.len();
        let logits =
            model.forward_cached_last(&batch, cached_bias(&pads, past, batch.cols), &mut cache);
        let v = logits.dims()[2];
        let last = to_vec(logits);
        let next: Vec<u32> = (0..rows)
            .map(|r| {
                let z = &last[r * v..(r + 1) * v];
                (0..v).max_by(|&a, &b| z[a].total_cmp(&z[b])).unwrap() as u32
            })
            .collect();
        out.push(t.elapsed().as_secs_f64());
        let pos = cache.len() as u32;
        batch = Batch {
            tokens: next,
            positions: vec![pos; rows],
            rows,
            cols: 1,
        };
    }
    out
}

fn hytuning_split(config: &Config, selected: &backend::Selected, args: &BenchArgs) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("hytune-bench-{}", std::process::id()));
    let data_dir = dir.join("data");
    jsonl::write_dataset(
        &data_dir,
        &generate(&GenSpec {
            suite: Suite::Dosage,
            size: 400,
            eval_size: 8,
            dev_size: 0,
            labeled_fraction: 0.05,
            seed: 1,
            factor: crate::data::suites::skills::FACTOR_RANGE,
        }),
    )?;
    let mut config = config.clone();
    let n = args.warmup + args.repeats;
    for (k, v) in [
        ("pretrain.steps", 0i64),
        ("eval.every", 0),
        ("checkpoint.every", 0),
        ("eval.max_items", 8),
    ] {
        config = config.set(k, toml::Value::Integer(v))?;
    }
    config = config
        .set("post.steps", toml::Value::Integer(n as i64))?
        .set("mix.strategy", toml::Value::String("hytuning".into()))?;
    let job = Job {
        config: config.clone(),
        data: DataSource::Dir(data_dir),
        run_dir: dir.join("run"),
        resume: None,
        base: None,
        interactive: false,
        only_base: false,
        fresh_base: false,
        eval_before: true,
        stop: Default::default(),
        backend: selected.clone(),
    };
    let handle = spawn(job);
    let mut split = Vec::new();
    for e in handle.events.iter() {
        match e {
            Event::Step(m) if m.phase == "post" && m.step > args.warmup => split.push(m),
            Event::Finished(_) => break,
            Event::Failed(f) => anyhow::bail!("bench run failed: {f}"),
            _ => {}
        }
    }
    let _ = handle.thread.join();
    let _ = std::fs::remove_dir_all(&dir);
    let med = |f: &dyn Fn(&crate::engine::protocol::StepMetrics) -> f64| {
        stats(split.iter().map(|m| f(m)).collect()).1
    };
    let total = med(&|m| m.step_seconds);
    let p = &config.post;
    println!(
        "hytuning step ({} questions × G={}, ≤{} new tokens, {} labeled): {:.2} s median",
        p.questions, p.group_size, p.max_new_tokens, p.rd_batch, total
    );
    for (name, t, tps) in [
        (
            "rollouts",
            med(&|m| m.time_rollout),
            med(&|m| m.tok_s_rollout.unwrap_or(0.0)),
        ),
        (
            "PRG scoring",
            med(&|m| m.time_prg),
            med(&|m| m.tok_s_prg.unwrap_or(0.0)),
        ),
        ("update", med(&|m| m.time_update), med(&|m| m.tok_s_update)),
    ] {
        println!(
            "  {name:<12} {:>7.3} s  {:>5.1}%  {:>8.0} tokens/s",
            t,
            100.0 * t / total,
            tps
        );
    }
    Ok(())
}
