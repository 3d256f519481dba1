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
