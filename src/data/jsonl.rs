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
        let record = serde_json::from_str::<serde_json::Value>(line)
            .map_err(|e| clean_serde_message(&e))
            .and_then(native)
            .and_then(|v| serde_json::from_value::<T>(v).map_err(|e| clean_serde_message(&e)));
        match record {
            Ok(item) => match item.validate() {
                Ok(()) => items.push(item),
                Err(m) => errors.push(err(m)),
            },
            Err(m) => errors.push(err(m)),
        }
    }
    (items, errors)
}

/// The text of a TRL message list's last message of `role`.
fn last_of<'a>(
    messages: &'a serde_json::Value,
    role: &str,
    field: &str,
) -> Result<Option<&'a str>, String> {
    let list = messages
        .as_array()
        .ok_or_else(|| format!("field `{field}` is not a list of messages"))?;
    let mut found = None;
    for (i, m) in list.iter().enumerate() {
        let (r, c) = (m.get("role").and_then(|r| r.as_str()), m.get("content"));
        match (r, c.and_then(|c| c.as_str())) {
            (Some(r), Some(c)) if r == role => found = Some(c),
            (Some(_), Some(_)) => {}
            _ => {
                return Err(format!(
                    "field `{field}[{i}]` is not a message with string `role` and `content`"
                ));
            }
        }
    }
    Ok(found)
}

/// A record in TRL's shapes as hytune's own (`question`, `steps`, `answer`):
/// conversational `{"messages": [...]}` (the last user turn is the question, the assistant
/// turn its steps and `A: ` answer) and `{"prompt": …, "completion": …}` (each a string or a
/// message list). A record with `question` is taken as it is.
fn native(v: serde_json::Value) -> Result<serde_json::Value, String> {
    use serde_json::{Value, json};
    if v.get("question").is_some() || !v.is_object() {
        return Ok(v);
    }
    let text = |x: &Value, role: &str, field: &str| -> Result<Option<String>, String> {
        match x {
            Value::String(s) => Ok(Some(s.clone())),
            Value::Array(_) => Ok(last_of(x, role, field)?.map(str::to_string)),
            _ => Err(format!(
                "field `{field}` is neither a string nor a list of messages"
            )),
        }
    };
    let (question, reply, field) = if let Some(m) = v.get("messages") {
        (
            last_of(m, "user", "messages")?.map(str::to_string),
            last_of(m, "assistant", "messages")?.map(str::to_string),
            "messages",
        )
    } else if let Some(p) = v.get("prompt") {
        let reply = match v.get("completion") {
            Some(c) => text(c, "assistant", "completion")?,
            None => None,
        };
        (text(p, "user", "prompt")?, reply, "completion")
    } else {
        return Ok(v);
    };
    let question =
        question.ok_or_else(|| format!("field `{field}` has no user turn (the question)"))?;
    let mut out = json!({ "question": question.trim() });
    if let Some(r) = reply {
        let parsed = super::text::parse_response(&r);
        let Some(answer) = parsed.answer else {
            return Err(format!(
                "field `{field}`: the assistant's text has no `A: ` line (the answer is read from it)"
            ));
        };
        out["steps"] = json!(parsed.steps);
        out["answer"] = json!(answer);
    }
    for k in ["difficulty"] {
        if let Some(x) = v.get(k) {
            out[k] = x.clone();
        }
    }
    Ok(out)
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
    load_items(&dir.join(EVAL))
}

/// One file of held-out items (`question`, `answer`; `steps` and `difficulty` optional), or
/// every error found; an empty file is one.
pub fn load_items(path: &Path) -> Result<Vec<EvalItem>, DataErrors> {
    let mut errors = Vec::new();
    let path = path.to_path_buf();
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
    fn trl_shapes_map_to_questions_steps_and_answers() {
        let text = concat!(
            r#"{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"2 kg at 3 mg/kg?"},{"role":"assistant","content":"S: 2*3=6\nA: 6"}]}"#,
            "\n",
            r#"{"prompt":"5*5?","completion":"S: 5*5=25\nA: 25\n"}"#,
            "\n",
            r#"{"prompt":[{"role":"user","content":"7+1?"}],"completion":[{"role":"assistant","content":"A: 8"}]}"#,
            "\n",
            r#"{"prompt":"no answer","completion":"it is 4"}"#,
            "\n",
            r#"{"messages":[{"role":"assistant","content":"A: 1"}]}"#,
            "\n",
            r#"{"messages":[{"role":"user"}]}"#,
            "\n"
        );
        let (items, errors) = parse::<Labeled>(text, Path::new("t.jsonl"));
        let got: Vec<(&str, &[String], &str)> = items
            .iter()
            .map(|l| (l.question.as_str(), l.steps.as_slice(), l.answer.as_str()))
            .collect();
        assert_eq!(
            got[0],
            ("2 kg at 3 mg/kg?", &["2*3=6".to_string()][..], "6")
        );
        assert_eq!(got[1].2, "25");
        assert_eq!((got[2].0, got[2].2), ("7+1?", "8"));
        let msgs: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            [4, 5, 6],
            "{msgs:?}"
        );
        assert!(msgs[0].contains("no `A: ` line"), "{msgs:?}");
        assert!(msgs[1].contains("no user turn"), "{msgs:?}");
        assert!(msgs[2].contains("messages[0]"), "{msgs:?}");
        // Unlabeled: the question alone, from either shape.
        let (u, e) = parse::<Unlabeled>(
            "{\"prompt\":\"3*3?\"}\n{\"messages\":[{\"role\":\"user\",\"content\":\"4*4?\"}]}\n",
            Path::new("u.jsonl"),
        );
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(
            u.iter().map(|x| x.question.as_str()).collect::<Vec<_>>(),
            ["3*3?", "4*4?"]
        );
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
