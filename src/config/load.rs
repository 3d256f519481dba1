//! Layering (defaults → file → `--set`) with one clear error per mistake, naming the key,
//! the file and its line.

use std::fmt;
use std::path::{Path, PathBuf};

use super::docs::{KEYS, SECTIONS};
use super::{Config, validate};

#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// The file the bad value came from; `None` for `--set` and defaults.
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{line}: ", file.display())?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            // Not from a file: a `--set` override, or the option named in the key.
            (None, _) if !self.key.starts_with("--") => write!(f, "--set: ")?,
            (None, _) => {}
        }
        if self.key.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "`{}`: {}", self.key, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// The effective config and the file it came from (if any).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub file: Option<PathBuf>,
}

/// `--config PATH`, then `./config.toml`, then the user config directory.
pub fn find_config_file(explicit: Option<&Path>) -> Result<Option<PathBuf>, ConfigError> {
    if let Some(p) = explicit {
        if !p.is_file() {
            return Err(ConfigError {
                file: Some(p.into()),
                line: None,
                key: String::new(),
                message: "no such file".into(),
            });
        }
        return Ok(Some(p.into()));
    }
    let local = PathBuf::from("config.toml");
    if local.is_file() {
        return Ok(Some(local));
    }
    Ok(crate::paths::user_config_file().filter(|p| p.is_file()))
}

/// Loads and validates: defaults, then the file, then each `section.key=value` of `sets`.
pub fn load(explicit: Option<&Path>, sets: &[String]) -> Result<Loaded, ConfigError> {
    let file = find_config_file(explicit)?;
    let mut table = Config::default().to_table();
    if let Some(path) = &file {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: Some(path.clone()),
            line: None,
            key: String::new(),
            message: format!("cannot read: {e}"),
        })?;
        merge_file(&mut table, &text, path)?;
    }
    let mut config = finish(table.clone(), &file, &text_of(&file))?;
    config = apply_sets(&config, sets)?;
    Ok(Loaded { config, file })
}

fn text_of(file: &Option<PathBuf>) -> String {
    file.as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default()
}

fn finish(table: toml::Table, file: &Option<PathBuf>, text: &str) -> Result<Config, ConfigError> {
    let config: Config = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError {
            file: file.clone(),
            line: None,
            key: String::new(),
            message: e.message().to_string(),
        })?;
    validate::check(&config).map_err(|(key, message)| ConfigError {
        file: file.clone(),
        line: file.as_ref().and_then(|_| line_of(text, &key)),
        key,
        message,
    })?;
    Ok(config)
}

fn parse_set(set: &str) -> Result<(String, toml::Value), ConfigError> {
    let err = |message: String| ConfigError {
        file: None,
        line: None,
        key: set.to_string(),
        message,
    };
    let (key, raw) = set
        .split_once('=')
        .ok_or_else(|| err("expected section.key=value".into()))?;
    Ok((key.trim().to_string(), parse_value(raw)))
}

/// A value in TOML syntax; a bare word is a string (`--set mix.strategy=rd` needs no quotes).
pub fn parse_value(raw: &str) -> toml::Value {
    let raw = raw.trim();
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

/// `section.key=value` overrides applied in order, then checked together like a file.
pub(super) fn apply_sets(config: &Config, sets: &[String]) -> Result<Config, ConfigError> {
    // Every override is typed as it comes, and the whole config checked once at the end, so
    // settings that depend on each other (`model.dtype` and `lora.rank`) go in any order.
    let mut table = config.to_table();
    for set in sets {
        let (key, value) = parse_set(set)?;
        insert(&mut table, &key, value)?;
    }
    finish(table, &None, "")
}

/// One override, checked like a file's value.
pub(super) fn apply_one(
    config: &Config,
    key: &str,
    value: toml::Value,
) -> Result<Config, ConfigError> {
    let mut table = config.to_table();
    insert(&mut table, key, value)?;
    finish(table, &None, "")
}

/// `key = value` into `table`, its name and type checked against the defaults'.
fn insert(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<(), ConfigError> {
    let err = |message: String| ConfigError {
        file: None,
        line: None,
        key: key.to_string(),
        message,
    };
    let (section, name) = key
        .split_once('.')
        .ok_or_else(|| err("expected section.key".into()))?;
    let default = lookup(section, name).map_err(err)?;
    let value = check_type(&default, value).map_err(err)?;
    table[section]
        .as_table_mut()
        .expect("section")
        .insert(name.to_string(), value);
    Ok(())
}

fn lookup(section: &str, key: &str) -> Result<toml::Value, String> {
    let defaults = Config::default().to_table();
    let Some(values) = defaults.get(section).and_then(|v| v.as_table()) else {
        let names: Vec<&str> = SECTIONS.iter().map(|s| s.0).collect();
        return Err(format!(
            "unknown section `{section}`{}",
            suggest(section, &names)
        ));
    };
    values.get(key).cloned().ok_or_else(|| {
        let names: Vec<&str> = KEYS
            .iter()
            .filter(|k| k.0 == section)
            .map(|k| k.1)
            .collect();
        format!("unknown key{}", suggest(key, &names))
    })
}

/// Accepts the default's type (an integer where a float is expected, too).
fn check_type(default: &toml::Value, value: toml::Value) -> Result<toml::Value, String> {
    use toml::Value::*;
    match (default, value) {
        (Float(_), Integer(i)) => Ok(Float(i as f64)),
        (Integer(_), Integer(i)) if i < 0 => {
            Err(format!("expected a non-negative integer, found {i}"))
        }
        (d, v) if std::mem::discriminant(d) == std::mem::discriminant(&v) => Ok(v),
        (d, v) => Err(format!(
            "expected {}, found {} `{v}`",
            d.type_str(),
            v.type_str()
        )),
    }
}

fn merge_file(table: &mut toml::Table, text: &str, path: &Path) -> Result<(), ConfigError> {
    let parsed: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let line = e.span().map(|s| text[..s.start].matches('\n').count() + 1);
        ConfigError {
            file: Some(path.into()),
            line,
            key: String::new(),
            message: e.message().trim().replace('\n', ": "),
        }
    })?;
    for (section, values) in parsed {
        let err = |key: String, message: String| ConfigError {
            file: Some(path.into()),
            line: line_of(text, &key),
            key,
            message,
        };
        let Some(values) = values.as_table() else {
            return Err(err(section.clone(), "expected a [section] table".into()));
        };
        if !table.contains_key(&section) {
            lookup(&section, "").map_err(|m| err(section.clone(), m))?;
        }
        for (key, value) in values {
            let full = format!("{section}.{key}");
            let default = lookup(&section, key).map_err(|m| err(full.clone(), m))?;
            let value = check_type(&default, value.clone()).map_err(|m| err(full.clone(), m))?;
            table[&section]
                .as_table_mut()
                .expect("section")
                .insert(key.clone(), value);
        }
    }
    Ok(())
}

/// The line of `section.key` (or of `[section]`) in a TOML text.
fn line_of(text: &str, full_key: &str) -> Option<usize> {
    let (section, key) = full_key.split_once('.').unwrap_or((full_key, ""));
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            current = name.trim().to_string();
            if key.is_empty() && current == section {
                return Some(i + 1);
            }
        } else if current == section && !key.is_empty() {
            if let Some((k, _)) = t.split_once('=') {
                if k.trim() == key {
                    return Some(i + 1);
                }
            }
        }
    }
    None
}

fn suggest(word: &str, names: &[&str]) -> String {
    names
        .iter()
        .map(|n| (levenshtein(word, n), n))
        .filter(|(d, n)| *d <= 3.max(n.len() / 3))
        .min()
        .map(|(_, n)| format!(" (did you mean `{n}`?)"))
        .unwrap_or_default()
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + (ca != *cb) as usize)
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Config, String> {
        let dir = crate::scratch::TempDir::new().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text).unwrap();
        load(Some(&path), &[])
            .map(|l| l.config)
            .map_err(|e| e.to_string().replace(&path.display().to_string(), "FILE"))
    }

    #[test]
    fn file_values_override_defaults() {
        let c = load_text("[model]\nd_model = 64\n[mix]\nstrategy = \"rd\"\n").unwrap();
        assert_eq!(c.model.d_model, 64);
        assert_eq!(c.mix.strategy, "rd");
        assert_eq!(c.post, Config::default().post);
    }

    #[test]
    fn each_mistake_gets_one_line_naming_key_file_and_line() {
        assert_eq!(
            load_text("[model]\n\nd_modl = 64\n").unwrap_err(),
            "FILE:3: `model.d_modl`: unknown key (did you mean `d_model`?)"
        );
        assert_eq!(
            load_text("[modle]\nx = 1\n").unwrap_err(),
            "FILE:1: `modle`: unknown section `modle` (did you mean `model`?)"
        );
        assert_eq!(
            load_text("[model]\nd_model = \"big\"\n").unwrap_err(),
            "FILE:2: `model.d_model`: expected integer, found string `\"big\"`"
        );
        assert_eq!(
            load_text("[post]\nlr = -1.0\n").unwrap_err(),
            "FILE:2: `post.lr`: must be > 0, got -1"
        );
        assert_eq!(
            load_text("[model]\nn_heads = 3\n").unwrap_err(),
            "FILE:2: `model.n_heads`: must divide model.d_model (128)"
        );
        assert_eq!(
            load_text("[mix]\nstrategy = \"magic\"\n").unwrap_err(),
            "FILE:2: `mix.strategy`: expected one of rd, rlif, fixed, schedule, hytuning, got `magic`"
        );
        assert!(load_text("[model\n").unwrap_err().starts_with("FILE:1: "));
        assert_eq!(
            load_text("[model]\nn_layers = -2\n").unwrap_err(),
            "FILE:2: `model.n_layers`: expected a non-negative integer, found -2"
        );
    }

    #[test]
    fn set_overrides_are_typed_and_checked() {
        let base = Config::default();
        let c = base.set("post.lr", toml::Value::Integer(1)).unwrap();
        assert_eq!(c.post.lr, 1.0);
        let l = load(None, &["mix.strategy=rd".into(), "model.d_model=64".into()]);
        if find_config_file(None).unwrap().is_none() {
            let c = l.unwrap().config;
            assert_eq!((c.mix.strategy.as_str(), c.model.d_model), ("rd", 64));
        }
        let e = base
            .set("post.temprature", toml::Value::Float(1.0))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "--set: `post.temprature`: unknown key (did you mean `temperature`?)"
        );
        assert!(parse_set("nokey").is_err());
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let e = load(Some(Path::new("/nonexistent/c.toml")), &[]).unwrap_err();
        assert_eq!(e.to_string(), "/nonexistent/c.toml: no such file");
    }
}
