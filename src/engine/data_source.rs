//! Where a run's domain data comes from: a dataset directory, or a built-in suite generated
//! once into the cache folder (where the base model is cached too).

use std::path::PathBuf;

use anyhow::{Context, Result};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Labeled;

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
