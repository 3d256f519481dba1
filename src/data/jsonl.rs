//! JSONL loading with `file:line` in every error, and validation that goes beyond serde's
//! (empty strings are errors too).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Dataset, EvalItem, Labeled, Unlabeled};

pub const LABELED: &str = "labeled.jsonl";
pub const UNLABELED: &str = "unlabeled.jsonl";
pub const EVAL: &str = "eval.jsonl";
/// Optional: the split that chooses checkpoints and defaults (never `eval.jsonl`).
pub const DEV: &str = "dev.jsonl";

/// One bad line (or an unreadable file, with `line` 0).
#[derive(Debug, Clone, PartialEq)]
pub struct LineError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        }
    }
}

/// Every error found in a dataset directory.
#[derive(Debug, thiserror::Error)]
#[error("{}", render(.0))]
pub struct DataErrors(pub Vec<LineError>);

fn render(errors: &[LineError]) -> String {
    const SHOWN: usize = 20;
    let mut out: Vec<String> = errors.iter().take(SHOWN).map(|e| e.to_string()).collect();
    if errors.len() > SHOWN {
        out.push(format!("… and {} more errors", errors.len() - SHOWN));
    }
    out.join("\n")
}

/// Checks a record's strings after serde accepted its shape.
pub trait Validate {
    fn validate(&self) -> Result<(), String>;
}

fn non_empty(field: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        Err(format!("field `{field}` is empty"))
    } else if value.contains('\n') {
        Err(format!("field `{field}` contains a newline"))
    } else {
        Ok(())
    }
}

impl Validate for Labeled {
    fn validate(&self) -> Result<(), String> {
        non_empty("question", &self.question)?;
        for (i, s) in self.steps.iter().enumerate() {
            non_empty(&format!("steps[{i}]"), s)?;
        }
        non_empty("answer", &self.answer)
    }
}

impl Validate for Unlabeled {
    fn validate(&self) -> Result<(), String> {
        non_empty("question", &self.question)
    }
}

impl Validate for EvalItem {
    fn validate(&self) -> Result<(), String> {
        non_empty("question", &self.question)?;
        non_empty("answer", &self.answer)
    }
}

/// The 1-based line numbers of a JSONL file's records (its non-blank lines), in order.
pub fn record_lines(path: &Path) -> Vec<usize> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, _)| i + 1)
        .collect()
}

/// Parses JSONL text; blank lines are skipped. Collects every bad line.
pub fn parse<T: DeserializeOwned + Validate>(text: &str, file: &Path) -> (Vec<T>, Vec<LineError>) {
    let (mut items, mut errors) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let err = |message: String| LineError {
            file: file.to_path_buf(),
            line: i + 1,
            message,
        };
        match serde_json::from_str::<T>(line) {
            Ok(item) => match item.validate() {
                Ok(()) => items.push(item),
                Err(m) => errors.push(err(m)),
            },
            Err(e) => errors.push(err(clean_serde_message(&e))),
        }
    }
    (items, errors)
}

/// serde_json appends " at line 1 column N"; the line is ours to report, the column is noise.
fn clean_serde_message(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match msg.rfind(" at line ") {
        Some(pos) => msg[..pos].to_string(),
        None => msg,
    }
}

fn load_file<T: DeserializeOwned + Validate>(path: &Path, errors: &mut Vec<LineError>) -> Vec<T> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let (items, errs) = parse(&text, path);
            errors.extend(errs);
            items
        }
        Err(e) => {
            errors.push(LineError {
                file: path.into(),
                line: 0,
                message: format!("cannot read: {e}"),
            });
            Vec::new()
        }
    }
}

/// Loads `labeled.jsonl`, `unlabeled.jsonl`, `eval.jsonl` and, when present, `dev.jsonl` from
/// `dir`, or every error found.
pub fn load_dataset(dir: &Path) -> Result<Dataset, DataErrors> {
    let mut errors = Vec::new();
    if !dir.is_dir() {
        errors.push(LineError {
            file: dir.into(),
            line: 0,
            message: "not a dataset directory".into(),
        });
        return Err(DataErrors(errors));
    }
    let ds = Dataset {
        labeled: load_file(&dir.join(LABELED), &mut errors),
        unlabeled: load_file(&dir.join(UNLABELED), &mut errors),
        eval: load_file(&dir.join(EVAL), &mut errors),
        dev: if dir.join(DEV).exists() {
            load_file(&dir.join(DEV), &mut errors)
        } else {
            Vec::new()
        },
    };
    // Unlabeled questions may be absent (RD only); the anchor and the eval set may not.
    for (name, empty) in [(LABELED, ds.labeled.is_empty()), (EVAL, ds.eval.is_empty())] {
        if empty && !errors.iter().any(|e| e.file == dir.join(name)) {
            errors.push(LineError {
                file: dir.join(name),
                line: 0,
                message: "file holds no records".into(),
            });
        }
    }
    if errors.is_empty() {
        Ok(ds)
    } else {
        Err(DataErrors(errors))
    }
}

/// Only `eval.jsonl` of a dataset directory (what `hytune eval` needs).
pub fn load_eval(dir: &Path) -> Result<Vec<EvalItem>, DataErrors> {
    let mut errors = Vec::new();
    let path = dir.join(EVAL);
    let items = load_file(&path, &mut errors);
    if items.is_empty() && errors.is_empty() {
        errors.push(LineError {
            file: path,
            line: 0,
            message: "file holds no records".into(),
        });
    }
    if errors.is_empty() {
        Ok(items)
    } else {
        Err(DataErrors(errors))
    }
}

pub fn write_jsonl<T: Serialize>(path: &Path, items: &[T]) -> std::io::Result<()> {
    let mut out = String::new();
    for item in items {
        out.push_str(&serde_json::to_string(item).expect("plain records serialize"));
        out.push('\n');
    }
    std::fs::write(path, out)
}

pub fn write_dataset(dir: &Path, ds: &Dataset) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    write_jsonl(&dir.join(LABELED), &ds.labeled)?;
    write_jsonl(&dir.join(UNLABELED), &ds.unlabeled)?;
    write_jsonl(&dir.join(EVAL), &ds.eval)?;
    if !ds.dev.is_empty() {
        write_jsonl(&dir.join(DEV), &ds.dev)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_line_is_named() {
        let text = "{\"question\":\"q\",\"steps\":[\"a\"],\"answer\":\"1\"}\n\n\
                    {\"question\":\"q\",\"answer\":\"1\"}\n\
                    not json\n\
                    {\"question\":\"\",\"steps\":[],\"answer\":\"1\"}\n\
                    {\"question\":\"q\",\"steps\":[\"a\"],\"answer\":7}\n\
                    {\"question\":\"q\",\"steps\":[],\"answer\":\"2\",\"extra\":1}\n";
        let (items, errors) = parse::<Labeled>(text, Path::new("l.jsonl"));
        assert_eq!(
            items.len(),
            2,
            "the first and the last (unknown field ignored) are good"
        );
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6]);
        assert!(
            errors[0].message.contains("missing field `steps`"),
            "{}",
            errors[0].message
        );
        assert!(errors[2].message.contains("`question` is empty"));
        assert!(errors[3].message.contains("invalid type"));
        assert_eq!(errors[0].to_string(), "l.jsonl:3: missing field `steps`");
    }

    #[test]
    fn missing_directory_and_files_are_errors() {
        let dir = crate::scratch::TempDir::new().unwrap();
        let err = load_dataset(&dir.path().join("nope")).unwrap_err();
        assert!(err.to_string().contains("not a dataset directory"));
        let err = load_dataset(dir.path()).unwrap_err();
        assert_eq!(err.0.len(), 3);
        assert!(err.to_string().contains("labeled.jsonl: cannot read"));
    }
}
