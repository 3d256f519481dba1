//! The command line: one parser, one dispatch. User mistakes come back as errors with their
//! file, line or key; `main` prints them on one line and exits non-zero.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

use crate::config;
pub use crate::config::args::{ConfigArgs, load_config, model_dir};
use crate::data::jsonl;
use crate::data::suites::{GenSpec, Suite, generate};
use crate::engine::competence::competence_map;
use crate::engine::{DataSource, Job, backend, checkpoint, evaluate};
use crate::model::generate::SampleOpts;
use crate::rng::Rng;

#[derive(Parser, Debug)]
#[command(
    name = "hytune",
    version,
    about = "Post-train small language models to be accurate and honest about their confidence.\n\nWith no command: open the live TUI and run the default job (base pretraining if needed, HyTuning post-training, evaluation)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Cmd>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Train: base pretraining when needed, then post-training with evaluation.
    Train(TrainArgs),
    /// Evaluate a checkpoint: accuracy, calibration, selective prediction, and abstention at
    /// its certified threshold when it has one.
    Eval(EvalArgs),
    /// Certify an abstention threshold for a checkpoint on labelled held-out items: the lowest
    /// confidence whose answers are wrong at most ε of the time with probability 1 − δ. Written
    /// into the checkpoint; exports carry it.
    Calibrate(crate::calibrate::CalibrateArgs),
    /// Generate or check datasets.
    #[command(subcommand)]
    Data(DataCmd),
    /// Run a grid of strategies × labeled fractions × seeds (× suites) from one shared base;
    /// writes results.csv, summary.md and plots. Rerun the same command to resume.
    Experiment(crate::experiment::ExperimentArgs),
    /// Training and generation throughput of the configured model and backend.
    Bench(crate::bench::BenchArgs),
    /// Write a post-trained pretrained model in the Hugging Face layout (safetensors, config,
    /// tokenizer) for transformers or vLLM.
    Export(ExportArgs),
    /// Print the effective configuration, commented.
    PrintConfig,
    /// Pretrain the base model of the effective config on the general corpus and write it
    /// (weights only, no optimizer state) to FILE; `assets/bases/make.sh` makes the shipped one.
    Pretrain(PretrainArgs),
}

#[derive(Args, Debug)]
pub struct PretrainArgs {
    /// The base checkpoint to write (must not exist).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[arg(long, value_name = "CKPT")]
    pub checkpoint: PathBuf,
    /// A new (or empty) folder (`--format hf | peft`), or a new `.gguf` file (`--format gguf |
    /// gguf-lora`).
    #[arg(long, value_name = "DIR|FILE")]
    pub out: PathBuf,
    /// hf (safetensors, config and tokenizer for transformers or vLLM) | gguf (one file for
    /// llama.cpp or Ollama, with the tokenizer and chat template in its metadata); a LoRA run's
    /// adapters are merged into both. A LoRA run's adapters alone: peft (a folder for
    /// `PeftModel.from_pretrained`) | gguf-lora (a file for llama.cpp's --lora, with an Ollama
    /// Modelfile beside it).
    #[arg(long, default_value = "hf")]
    pub format: String,
    /// Weight dtype. hf: float32 | bfloat16 | float16 (default: the base model's); gguf: f32 |
    /// f16 | bf16 | q8_0 (default f16; norms stay F32).
    #[arg(long)]
    pub dtype: Option<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct TrainArgs {
    /// Plain progress on stderr instead of the TUI (automatic when stdout is not a terminal).
    #[arg(long)]
    pub headless: bool,
    /// Dataset directory (labeled.jsonl, unlabeled.jsonl, eval.jsonl).
    #[arg(long, conflicts_with = "suite")]
    pub data: Option<PathBuf>,
    /// Built-in suite to generate from [data]: dosage | arith.
    #[arg(long)]
    pub suite: Option<String>,
    /// Run folder (must not hold a run already).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue exactly from a checkpoint.
    #[arg(long, value_name = "CKPT")]
    pub resume: Option<PathBuf>,
    /// Base model checkpoint (default: base.hyt in the data directory, else pretrain).
    #[arg(long, value_name = "CKPT")]
    pub base: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A hytune checkpoint; without it, `--model DIR|FILE.gguf` is evaluated as it is (the
    /// pretrained model's baseline).
    #[arg(long, value_name = "CKPT")]
    pub checkpoint: Option<PathBuf>,
    /// A dataset directory (its eval.jsonl), or one file of labelled items (e.g. DIR/dev.jsonl).
    #[arg(long, value_name = "DIR|FILE")]
    pub data: PathBuf,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Write per-item predictions as JSONL.
    #[arg(long, value_name = "FILE")]
    pub predictions: Option<PathBuf>,
    /// Evaluate only the first N items (default: all of them).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Also sample N votes of each item at post.temperature, as RLIF rolls out an unlabeled
    /// question, and report per difficulty how often their majority is right, pass@N, and
    /// their answer and length-cap rates: where the model sits relative to its competence.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub votes: usize,
}

#[derive(Subcommand, Debug)]
pub enum DataCmd {
    /// Write labeled.jsonl, unlabeled.jsonl and eval.jsonl of a built-in suite.
    Gen {
        #[arg(long)]
        suite: String,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        labeled_fraction: Option<f64>,
        #[arg(long)]
        size: Option<usize>,
        #[arg(long)]
        eval_size: Option<usize>,
        /// Items of dev.jsonl (chooses checkpoints and defaults); 0: none.
        #[arg(long)]
        dev_size: Option<usize>,
        #[arg(long)]
        seed: Option<u64>,
        /// Replace files that exist.
        #[arg(long)]
        force: bool,
    },
    /// Validate a dataset directory: counts, or every error with its file and line, and every
    /// item that does not fit the configured context (model.max_len, post.max_new_tokens).
    Check { dir: PathBuf },
}

/// The effective config of a command line.
pub fn main_with(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        None => train(&cli.config, TrainArgs::default()),
        Some(Cmd::Train(t)) => train(&cli.config, t),
        Some(Cmd::Eval(e)) => eval(&cli.config, e),
        Some(Cmd::Calibrate(c)) => crate::calibrate::run(&cli.config, c),
        Some(Cmd::Data(d)) => data(&cli.config, d),
        Some(Cmd::Experiment(e)) => crate::experiment::run(&cli.config, e),
        Some(Cmd::Bench(b)) => crate::bench::run(&load_config(&cli.config)?, b),
        Some(Cmd::Export(e)) => export(e),
        Some(Cmd::Pretrain(p)) => pretrain(&cli.config, p),
        Some(Cmd::PrintConfig) => {
            print!("{}", config::render(&load_config(&cli.config)?));
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn pretrain(args: &ConfigArgs, p: PretrainArgs) -> Result<ExitCode> {
    if p.out.exists() {
        bail!("{}: exists already; not overwriting", p.out.display());
    }
    let run = p.out.with_extension("run");
    let t = TrainArgs {
        headless: true,
        out: Some(run.clone()),
        ..TrainArgs::default()
    };
    let mut job = make_job(args, &t, false)?;
    if job.config.model.source != "builtin" {
        bail!("--model: a pretrained model needs no base pretraining");
    }
    job.only_base = true;
    // Never a cached or shipped base: this command makes one.
    job.fresh_base = true;
    let code = crate::headless::run(job)?;
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }
    let src = run.join("base.hyt");
    let ck = checkpoint::load(&src)?;
    let model = ck.model(&ck.meta.shape, &backend::cpu().device, &src)?;
    // The wall time and the data folder's path would make two machines' files differ; the
    // weights do not (a base is not resumed, so neither is needed).
    let mut meta = ck.meta.clone();
    meta.elapsed_seconds = 0.0;
    meta.data = None;
    checkpoint::save(&p.out, &meta, &model, None, None)?;
    println!(
        "base model ({} steps) written to {} (its run: {})",
        ck.meta.step,
        p.out.display(),
        run.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn export(e: ExportArgs) -> Result<ExitCode> {
    const FORMATS: &[&str] = &["hf", "gguf", "peft", "gguf-lora"];
    if !FORMATS.contains(&e.format.as_str()) {
        bail!(
            "--format {}: expected one of {}",
            e.format,
            FORMATS.join(", ")
        );
    }
    let ck = checkpoint::load(&e.checkpoint)?;
    let Some(base) = ck.meta.base_model.clone() else {
        bail!(
            "{}: a checkpoint of the built-in byte GPT; export writes models that started from a Hugging Face directory (--model DIR)",
            e.checkpoint.display()
        );
    };
    let model = ck.standalone_model(&e.checkpoint, &backend::cpu().device)?;
    let crate::model::Lm::Hf(adapted) = model else {
        bail!("{}: holds no pretrained model", e.checkpoint.display());
    };
    let lora = &ck.meta.config.lora;
    use crate::model::adapter_export::{export_gguf_lora, export_peft};
    let cert = ck.meta.certificate.as_ref();
    match e.format.as_str() {
        "peft" => export_peft(&adapted, lora, &base.dir, &e.checkpoint, &e.out, cert)?,
        "gguf-lora" => export_gguf_lora(&adapted, lora, &e.checkpoint, &e.out, &base.dir, cert)?,
        _ => export_merged(&e, &base.dir, adapted, cert)?,
    }
    println!(
        "exported {} ({} step {}) to {}",
        e.checkpoint.display(),
        ck.meta.phase.name(),
        ck.meta.step,
        e.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// A whole model (`--format hf | gguf`): a LoRA run's adapters folded into its weights.
fn export_merged(
    e: &ExportArgs,
    base: &std::path::Path,
    model: crate::model::HfLm,
    cert: Option<&crate::method::certify::Certificate>,
) -> Result<()> {
    let h = model.merged();
    match e.format.as_str() {
        "gguf" => {
            crate::model::gguf::export(&h, base, &e.out, e.dtype.as_deref().unwrap_or("f16"), cert)?
        }
        _ => crate::model::hf::export::export(&h, base, &e.out, e.dtype.as_deref(), cert)?,
    }
    Ok(())
}

/// Builds the job of `hytune train` (and of plain `hytune`).
pub fn make_job(args: &ConfigArgs, t: &TrainArgs, interactive: bool) -> Result<Job> {
    let mut config = load_config(args)?;
    let mut recorded = None;
    if let Some(ck) = &t.resume {
        // The checkpoint's config wins (it holds mid-run changes); --set still applies on top.
        let loaded = checkpoint::load(ck)?;
        config = loaded.meta.config.with_sets(&args.sets)?;
        if let Some(dir) = &args.model {
            config.model.source = model_dir(dir)?;
        }
        recorded = loaded.meta.data;
    }
    let data = match (&t.data, &t.suite, recorded) {
        (Some(d), _, _) => DataSource::Dir(d.clone()),
        (None, Some(s), _) => DataSource::Suite(s.parse().map_err(anyhow::Error::msg)?),
        // A resume without --data continues on the data the checkpoint recorded.
        (None, None, Some(checkpoint::DataRecord { dir: Some(d), .. })) => DataSource::Dir(d),
        (None, None, Some(checkpoint::DataRecord { suite: Some(s), .. })) => {
            DataSource::Suite(s.parse().map_err(anyhow::Error::msg)?)
        }
        (None, None, _) => {
            DataSource::Suite(config.data.suite.parse().map_err(anyhow::Error::msg)?)
        }
    };
    if let DataSource::Dir(d) = &data {
        // Refuse bad data before a long run starts.
        jsonl::load_dataset(d)?;
    }
    if let Some(b) = &t.base
        && config.model.source == "builtin"
    {
        checkpoint::load(b)?.check_shape(&crate::model::GptShape::from_config(&config.model), b)?;
    }
    let run_dir = match (&t.out, &t.resume) {
        (Some(out), None) => {
            if out.join("metrics.jsonl").exists() {
                bail!(
                    "{}: holds a run already (choose another --out, or --resume one of its checkpoints)",
                    out.display()
                );
            }
            out.clone()
        }
        (Some(out), Some(_)) => out.clone(),
        (None, Some(ck)) => ck
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
        (None, None) => crate::paths::new_run_dir(&config.run.out_dir, &config.mix.strategy),
    };
    let backend = backend::select(&config.run.backend)?;
    Ok(Job {
        config,
        data,
        run_dir,
        resume: t.resume.clone(),
        base: t.base.clone(),
        interactive,
        only_base: false,
        fresh_base: false,
        eval_before: true,
        stop: Default::default(),
        backend,
    })
}

fn train(args: &ConfigArgs, t: TrainArgs) -> Result<ExitCode> {
    let headless = t.headless || !std::io::stdout().is_terminal();
    let job = make_job(args, &t, !headless)?;
    if headless {
        crate::headless::run(job)
    } else {
        crate::tui::run(job)
    }
}

fn eval(args: &ConfigArgs, e: EvalArgs) -> Result<ExitCode> {
    let target = crate::eval_model::load(args, e.checkpoint.as_deref())?;
    let mut eval_items = if e.data.is_file() {
        jsonl::load_items(&e.data)?
    } else {
        jsonl::load_eval(&e.data)?
    };
    if let Some(n) = e.limit {
        eval_items.truncate(n);
    }
    if let Some(p) = &e.predictions {
        if p.exists() {
            bail!("{}: exists already; not overwriting", p.display());
        }
    }
    let opts = evaluate::EvalOpts::of(&target.config);
    let mut report = evaluate::evaluate(
        &target.model,
        &eval_items,
        &opts,
        &target.phase,
        target.step,
        &mut |_| {},
    );
    let cert = target.certificate.as_ref();
    if let Some(c) = cert {
        let (scores, ok) = crate::eval_model::scores(c, &report.predictions);
        report.abstention = Some(crate::method::certify::apply(c, &scores, &ok));
    }
    if e.votes > 0 {
        let post = &target.config.post;
        let sample = SampleOpts {
            temperature: Some(post.temperature),
            top_k: post.top_k,
            max_new: post.max_new_tokens,
        };
        report.competence = competence_map(
            &target.model,
            &eval_items,
            e.votes,
            &sample,
            target.config.extract(),
            post.min_majority,
            target.config.eval.batch_size,
            &mut Rng::new(target.config.run.seed ^ 0x5075_E5),
            &mut |_| {},
        );
    }
    if let Some(p) = &e.predictions {
        jsonl::write_jsonl(p, &report.predictions)
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    if e.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", report.summary_line());
        let o = &report.overall;
        println!(
            "  selective: AURC {:.3}  E-AURC {:.3}  accuracy at 50% coverage {:.3}, at 80% {:.3}  coverage at confidence {} {:.3}",
            o.aurc,
            o.e_aurc,
            o.selective_accuracy_50,
            o.selective_accuracy_80,
            opts.confident_threshold,
            o.coverage
        );
        for (d, c) in &report.by_difficulty {
            println!(
                "  difficulty {d}: n {}  accuracy {:.3}  ECE {:.3}  Brier {:.3}  AURC {:.3}",
                c.n, c.accuracy, c.ece, c.brier, c.aurc
            );
        }
        if let (Some(c), Some(a)) = (cert, &report.abstention) {
            println!("{}", crate::eval_model::abstention_line(c, a));
        }
        if let Some(m) = &report.competence {
            for l in m.lines() {
                println!("{l}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn data(args: &ConfigArgs, cmd: DataCmd) -> Result<ExitCode> {
    match cmd {
        DataCmd::Gen {
            suite,
            out,
            labeled_fraction,
            size,
            eval_size,
            dev_size,
            seed,
            force,
        } => {
            let suite: Suite = suite.parse().map_err(anyhow::Error::msg)?;
            // The [data] section of the effective config (--config, --set), flags on top.
            let d = load_config(args)?.data;
            let labeled_fraction = labeled_fraction.unwrap_or(d.labeled_fraction);
            if !(labeled_fraction > 0.0 && labeled_fraction <= 1.0) {
                bail!("--labeled-fraction must be within (0, 1], got {labeled_fraction}");
            }
            let spec = GenSpec {
                suite,
                size: size.unwrap_or(d.size),
                eval_size: eval_size.unwrap_or(d.eval_size),
                dev_size: dev_size.unwrap_or(d.dev_size),
                labeled_fraction,
                seed: seed.unwrap_or(d.seed),
                factor: (d.factor_range[0], d.factor_range[1]),
            };
            for f in [jsonl::LABELED, jsonl::UNLABELED, jsonl::EVAL, jsonl::DEV] {
                if out.join(f).exists() && !force {
                    bail!(
                        "{}: exists already (use --force to replace)",
                        out.join(f).display()
                    );
                }
            }
            let ds = generate(&spec);
            jsonl::write_dataset(&out, &ds)
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!(
                "{}: {} labeled, {} unlabeled, {} eval, {} dev ({})",
                out.display(),
                ds.labeled.len(),
                ds.unlabeled.len(),
                ds.eval.len(),
                ds.dev.len(),
                suite.name()
            );
            Ok(ExitCode::SUCCESS)
        }
        DataCmd::Check { dir } => match jsonl::load_dataset(&dir) {
            Ok(ds) => {
                let config = load_config(args)?;
                let (max_len, max_new) = (config.model.max_len, config.post.max_new_tokens);
                let codec = match config.model.source.as_str() {
                    "builtin" => crate::data::codec::Codec::Bytes,
                    dir => crate::model::pretrained::read_codec(Path::new(dir), &config.model)?,
                };
                let bad = crate::data::fit::misfits(&codec, &ds, max_len, max_new);
                let mut lines = std::collections::HashMap::new();
                for m in &bad {
                    let numbers = lines
                        .entry(m.file)
                        .or_insert_with(|| jsonl::record_lines(&dir.join(m.file)));
                    let line = numbers.get(m.index).copied().unwrap_or(m.index + 1);
                    let what = match (m.file, m.needs_new) {
                        (jsonl::UNLABELED, _) => {
                            format!("question + {max_new} rollout tokens), context {max_len}")
                        }
                        (_, Some(new)) => format!(
                            "question + gold response of {new}), context {max_len}, generation cap {max_new}"
                        ),
                        _ => format!("trace), context {max_len}"),
                    };
                    println!(
                        "{}:{line}: needs {} tokens ({what}",
                        dir.join(m.file).display(),
                        m.needs
                    );
                }
                let totals = [
                    (jsonl::LABELED, ds.labeled.len()),
                    (jsonl::UNLABELED, ds.unlabeled.len()),
                    (jsonl::EVAL, ds.eval.len()),
                    (jsonl::DEV, ds.dev.len()),
                ];
                if bad.is_empty() {
                    println!(
                        "{}: ok — {} labeled, {} unlabeled, {} eval, {} dev; all fit model.max_len {max_len} (rollouts {max_new} tokens)",
                        dir.display(),
                        ds.labeled.len(),
                        ds.unlabeled.len(),
                        ds.eval.len(),
                        ds.dev.len()
                    );
                    return Ok(ExitCode::SUCCESS);
                }
                let per_file: Vec<String> = totals
                    .iter()
                    .map(|(f, n)| (f, n, bad.iter().filter(|m| m.file == *f).count()))
                    .filter(|(_, _, k)| *k > 0)
                    .map(|(f, n, k)| format!("{k} of {n} in {f}"))
                    .collect();
                let longest = bad.iter().map(|m| m.needs).max().unwrap_or(0);
                let longest_new = bad.iter().filter_map(|m| m.needs_new).max().unwrap_or(0);
                let mut fixes = Vec::new();
                if longest > max_len {
                    fixes.push(format!("--set model.max_len={longest}"));
                }
                if longest_new > max_new {
                    fixes.push(format!("--set post.max_new_tokens={longest_new}"));
                }
                eprintln!(
                    "{}: {} items do not fit model.max_len {max_len} with post.max_new_tokens {max_new}: {}; fix: {}",
                    dir.display(),
                    bad.len(),
                    per_file.join(", "),
                    if fixes.is_empty() {
                        "--set model.max_len=N".to_string()
                    } else {
                        fixes.join(" ")
                    }
                );
                Ok(ExitCode::from(1))
            }
            Err(e) => {
                eprintln!("{e}");
                eprintln!("{}: {} errors", dir.display(), e.0.len());
                Ok(ExitCode::from(1))
            }
        },
    }
}
