//! Where a run's domain data comes from: a dataset directory, or a built-in suite generated
//! once into the cache folder (where the base model is cached too).

use crate::data::codec::Codec;
use std::path::PathBuf;

use anyhow::{Context, Result};

use super::checkpoint::{DataRecord, Loaded};
use super::protocol::Phase;
use crate::config::Config;
use crate::data::suites::{GenSpec, Suite, generate};
use crate::data::{Dataset, jsonl};

/// Where the domain data comes from.
#[derive(Clone, Debug)]
pub enum DataSource {
    Dir(PathBuf),
    /// A built-in suite, generated (once) into the cache folder from `[data]`.
    Suite(Suite),
}

/// Loads the domain data of a job, generating a built-in suite into the cache on first use.
pub fn load_data(source: &DataSource, config: &Config) -> Result<(Dataset, Option<PathBuf>)> {
    match source {
        DataSource::Dir(dir) => Ok((jsonl::load_dataset(dir)?, Some(dir.clone()))),
        DataSource::Suite(suite) => {
            let d = &config.data;
            let spec = GenSpec {
                suite: *suite,
                size: d.size,
                eval_size: d.eval_size,
                labeled_fraction: d.labeled_fraction,
                dev_size: d.dev_size,
                seed: d.seed,
                factor: (d.factor_range[0], d.factor_range[1]),
            };
            let dir = crate::paths::suite_cache_dir(&spec);
            if let Some(dir) = &dir {
                if let Ok(ds) = jsonl::load_dataset(dir) {
                    return Ok((ds, Some(dir.clone())));
                }
            }
            let ds = generate(&spec);
            if let Some(dir) = &dir {
                jsonl::write_dataset(dir, &ds)
                    .with_context(|| format!("cannot write {}", dir.display()))?;
            }
            Ok((ds, dir))
        }
    }
}

/// A dataset without `dev.jsonl` gives up the last `fraction` of its labeled traces as the dev
/// split (at least one when it has two or more). Returns how many were held out.
pub fn hold_out_dev(ds: &mut crate::data::Dataset, fraction: f64) -> usize {
    if !ds.dev.is_empty() || fraction <= 0.0 || ds.labeled.len() < 2 {
        return 0;
    }
    let n = ((ds.labeled.len() as f64 * fraction).round() as usize).clamp(1, ds.labeled.len() - 1);
    let held = ds.labeled.split_off(ds.labeled.len() - n);
    ds.dev = held
        .into_iter()
        .map(|l| crate::data::EvalItem {
            difficulty: Some(l.steps.len() as u32),
            question: l.question,
            answer: l.answer,
            steps: Some(l.steps),
        })
        .collect();
    n
}

/// `mix.heldout_labels` (HyTuning only): the last that many labeled traces, taken out of RD to
/// be rolled out each step as a meter of the policy's solve rate on unseen questions. Refused
/// when it would leave RD no trace; other strategies keep every trace.
pub fn hold_out_meter(ds: &mut Dataset, config: &Config) -> Result<Vec<crate::data::Labeled>> {
    let k = config.mix.heldout_labels;
    if k == 0 || config.strategy() != crate::method::mixing::Strategy::Hytuning {
        return Ok(Vec::new());
    }
    let n = ds.labeled.len();
    if k >= n {
        anyhow::bail!(
            "mix.heldout_labels = {k} would leave RD none of the {n} labeled traces: hold out fewer (at most {})",
            n.saturating_sub(1)
        );
    }
    Ok(ds.labeled.split_off(n - k))
}

/// `data.too_long = fit`: the context a model trained from scratch needs for every item (a
/// multiple of 8), when the configured one is too short; `None` when it fits or the setting is
/// another. A model that is not from scratch cannot change its context: refused with the fix.
pub fn context_for(
    codec: &Codec,
    ds: &Dataset,
    config: &Config,
    from_scratch: bool,
) -> Result<Option<usize>> {
    if config.data.too_long != "fit" {
        return Ok(None);
    }
    let (max_len, max_new) = (config.model.max_len, config.post.max_new_tokens);
    let Some(needs) = crate::data::fit::misfits(codec, ds, max_len, max_new)
        .iter()
        .map(|m| m.needs)
        .max()
    else {
        return Ok(None);
    };
    if !from_scratch {
        anyhow::bail!(
            "the data needs a context of {needs} tokens but the model (a resumed run or a base) has {max_len}: data.too_long = fit only sizes a model trained from scratch; use --set data.too_long=\"skip\" or a base of that context"
        );
    }
    Ok(Some(needs.div_ceil(8) * 8))
}

/// Applies `data.too_long` to the training items that do not fit the context (eval and dev items
/// are kept and reported as unfit by the evaluation). `refuse`: one error with the counts, the
/// longest need and the fixes. `skip`: the items are dropped; returns how many labeled and
/// unlabeled ones, for the log and the TUI.
pub fn fit_to_context(
    codec: &Codec,
    ds: &mut Dataset,
    config: &Config,
    dir: Option<&std::path::Path>,
) -> Result<(usize, usize)> {
    use crate::data::fit::misfits;
    let (max_len, max_new) = (config.model.max_len, config.post.max_new_tokens);
    let bad: Vec<_> = misfits(codec, ds, max_len, max_new)
        .into_iter()
        .filter(|m| m.file == jsonl::LABELED || m.file == jsonl::UNLABELED)
        .collect();
    if bad.is_empty() {
        return Ok((0, 0));
    }
    let count = |f: &str| bad.iter().filter(|m| m.file == f).count();
    let (labeled, unlabeled) = (count(jsonl::LABELED), count(jsonl::UNLABELED));
    if config.data.too_long == "skip" {
        let drop = |f: &str| -> std::collections::HashSet<usize> {
            bad.iter()
                .filter(|m| m.file == f)
                .map(|m| m.index)
                .collect()
        };
        let (dl, du) = (drop(jsonl::LABELED), drop(jsonl::UNLABELED));
        fn keep<T>(v: &mut Vec<T>, drop: &std::collections::HashSet<usize>) {
            *v = std::mem::take(v)
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !drop.contains(i))
                .map(|(_, x)| x)
                .collect();
        }
        keep(&mut ds.labeled, &dl);
        keep(&mut ds.unlabeled, &du);
        if ds.labeled.is_empty() {
            anyhow::bail!(
                "no labeled trace fits model.max_len {max_len}; the longest needs {} (--set model.max_len=N)",
                bad.iter().map(|m| m.needs).max().unwrap_or(0)
            );
        }
        return Ok((labeled, unlabeled));
    }
    let longest = bad.iter().map(|m| m.needs).max().unwrap_or(0);
    anyhow::bail!(
        "{labeled} of {} labeled traces and {unlabeled} of {} unlabeled questions (a question plus post.max_new_tokens {max_new}) do not fit model.max_len {max_len}; the longest needs {longest}. Fix: --set model.max_len={longest}, or --set data.too_long=\"skip\" to leave them out{}",
        ds.labeled.len(),
        ds.unlabeled.len(),
        dir.map(|d| format!(" (hytune data check {} lists them)", d.display()))
            .unwrap_or_default()
    )
}

/// What a run trains on, as its checkpoints record it.
pub fn record(source: &DataSource, data: &Dataset) -> DataRecord {
    let (dir, suite) = match source {
        DataSource::Dir(d) => (
            Some(std::fs::canonicalize(d).unwrap_or_else(|_| d.clone())),
            None,
        ),
        DataSource::Suite(s) => (None, Some(s.name().to_string())),
    };
    DataRecord {
        dir,
        suite,
        fingerprint: data.fingerprint(),
    }
}

/// A resume continues on the data its checkpoint was trained on (a base checkpoint, which
/// post-training has not seen data with, may go on to any).
pub fn check_same_data(path: &std::path::Path, ck: &Loaded, ours: &DataRecord) -> Result<()> {
    let base_only = ck.meta.phase == Phase::Pretrain && ck.meta.complete;
    if let Some(rec) = ck.meta.data.as_ref().filter(|_| !base_only)
        && rec.fingerprint != ours.fingerprint
    {
        anyhow::bail!(
            "{}: trained on {} (data fingerprint {}), but this run's data, {}, differs ({}); resume with the same data{}",
            path.display(),
            rec.describe(),
            rec.fingerprint,
            ours.describe(),
            ours.fingerprint,
            rec.dir
                .as_ref()
                .map(|d| format!(" (--data {})", d.display()))
                .unwrap_or_default()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Labeled;

    #[test]
    fn meter_takes_the_last_labeled_traces_for_hytuning_only() {
        let mk = |n: usize| crate::data::Dataset {
            labeled: (0..n)
                .map(|i| crate::data::Labeled {
                    question: format!("q{i}"),
                    steps: vec![],
                    answer: i.to_string(),
                })
                .collect(),
            ..Default::default()
        };
        let mut c = Config::default();
        c.mix.heldout_labels = 2;
        let mut ds = mk(5);
        let held = hold_out_meter(&mut ds, &c).unwrap();
        let q =
            |v: &[crate::data::Labeled]| v.iter().map(|l| l.question.clone()).collect::<Vec<_>>();
        assert_eq!(q(&held), ["q3", "q4"]);
        assert_eq!(q(&ds.labeled), ["q0", "q1", "q2"]);
        // RD keeps every trace.
        c.mix.strategy = "rd".into();
        let mut ds = mk(5);
        assert!(hold_out_meter(&mut ds, &c).unwrap().is_empty());
        assert_eq!(ds.labeled.len(), 5);
        // Nothing left for RD: refused, naming the key.
        c.mix.strategy = "hytuning".into();
        c.mix.heldout_labels = 5;
        let e = hold_out_meter(&mut mk(5), &c).unwrap_err().to_string();
        assert!(
            e.contains("mix.heldout_labels = 5") && e.contains("at most 4"),
            "{e}"
        );
    }

    #[test]
    fn dev_is_held_out_of_labeled_only_without_dev_file() {
        let ex = |i: usize| Labeled {
            question: format!("q{i}"),
            steps: vec!["1+1=2".into()],
            answer: "2".into(),
        };
        let mut ds = Dataset {
            labeled: (0..20).map(ex).collect(),
            ..Dataset::default()
        };
        assert_eq!(hold_out_dev(&mut ds, 0.1), 2);
        assert_eq!(ds.labeled.len(), 18);
        assert_eq!(ds.dev[0].question, "q18");
        assert_eq!(ds.dev[1].difficulty, Some(1));
        // A dev split exists now: nothing more is taken.
        assert_eq!(hold_out_dev(&mut ds, 0.5), 0);
        let mut tiny = Dataset {
            labeled: vec![ex(0)],
            ..Dataset::default()
        };
        assert_eq!(
            hold_out_dev(&mut tiny, 0.5),
            0,
            "the anchor is never emptied"
        );
        let mut few = Dataset {
            labeled: (0..3).map(ex).collect(),
            ..Dataset::default()
        };
        assert_eq!(hold_out_dev(&mut few, 0.01), 1);
    }
}
