//! Where files live by default (`directories`): the user config file, runs and caches.

use std::path::{Path, PathBuf};

use directories::ProjectDirs;

use crate::data::suites::GenSpec;

fn dirs() -> Option<ProjectDirs> {
    ProjectDirs::from("", "", "hytune")
}

pub fn user_config_file() -> Option<PathBuf> {
    dirs().map(|d| d.config_dir().join("config.toml"))
}

/// Where the wgpu build with autotuning keeps CubeCL's tuning results between processes
/// (`<user cache dir>/hytune/cubecl`).
pub fn kernel_cache_dir() -> Option<PathBuf> {
    dirs().map(|d| d.cache_dir().join("cubecl"))
}

/// The user data directory (runs and generated suites); `./hytune-data` when there is none.
pub fn data_root() -> PathBuf {
    dirs()
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from("hytune-data"))
}

/// A generated built-in dataset is cached under a name made of its parameters, with its base model.
pub fn suite_cache_dir(spec: &GenSpec) -> Option<PathBuf> {
    // A factor range other than the default names itself (`-a2-12`); the default's name is
    // the one earlier versions cached.
    let factor = if spec.factor == crate::data::suites::skills::FACTOR_RANGE {
        String::new()
    } else {
        format!("-a{}-{}", spec.factor.0, spec.factor.1)
    };
    Some(data_root().join("suites").join(format!(
        "{}-v3-n{}-e{}-d{}-f{}-s{}{factor}",
        spec.suite.name(),
        spec.size,
        spec.eval_size,
        spec.dev_size,
        spec.labeled_fraction,
        spec.seed
    )))
}

/// A new run folder: `<root>/runs/<time>-<strategy>` (never an existing one).
pub fn new_run_dir(out_dir: &str, strategy: &str) -> PathBuf {
    let root = if out_dir.is_empty() {
        data_root().join("runs")
    } else {
        PathBuf::from(out_dir)
    };
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut n = 0;
    loop {
        let name = if n == 0 {
            format!("{secs}-{strategy}")
        } else {
            format!("{secs}-{strategy}-{n}")
        };
        let p = root.join(name);
        if !p.exists() {
            return p;
        }
        n += 1;
    }
}

/// `path` if it names a GGUF file, or the one GGUF file of a folder without `config.json`.
pub fn gguf_path(path: &Path) -> Option<PathBuf> {
    if path.is_file() {
        return path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
            .then(|| path.to_path_buf());
    }
    if path.is_dir() && !path.join("config.json").exists() {
        let mut found = std::fs::read_dir(path)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
            });
        let one = found.next()?;
        return found.next().is_none().then_some(one);
    }
    None
}
