//! Where a response's answer is (`eval.extract`): the `A:` line hytune's format asks for, or the
//! shapes other models write: the last number, the last `\boxed{…}`, the text after the last
//! `####`. Evaluation, rollouts, the canary and the confidence span all read the answer here.

use std::ops::Range;

/// What a generated response says: its steps (the lines before the answer's) and its answer.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedResponse {
    pub steps: Vec<String>,
    pub answer: Option<String>,
}

/// How an answer is read from a response.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Extract {
    /// The first line that starts with `A: ` (steps: the `S: ` lines before it).
    #[default]
    ALine,
    /// The last number (`-1,234.5`; thousands commas dropped).
    LastNumber,
    /// The contents of the last `\boxed{…}` (nested braces matched).
    Boxed,
    /// The rest of the line after the last `####` (GSM8K's convention).
    Hash,
}

impl Extract {
    pub const NAMES: &'static [&'static str] = &["a_line", "last_number", "boxed", "hash"];

    pub fn parse(s: &str) -> Option<Self> {
        Self::NAMES.iter().position(|n| *n == s).map(|i| {
            [
                Extract::ALine,
                Extract::LastNumber,
                Extract::Boxed,
                Extract::Hash,
            ][i]
        })
    }
}

/// Where the answer is in a response's text: the bytes of its value, and the end of what its
/// confidence covers (the end of the answer's line, its newline included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnswerAt {
    pub value: Range<usize>,
    pub end: usize,
}

/// The end of the line that holds byte `at`, its newline included.
fn line_end(text: &str, at: usize) -> usize {
    text[at..].find('\n').map_or(text.len(), |p| at + p + 1)
}

/// `from..to` without the whitespace at either edge.
fn trimmed(text: &str, from: usize, to: usize) -> Range<usize> {
    let s = &text[from..to];
    let lead = s.len() - s.trim_start().len();
    let trail = s.len() - s.trim_end().len();
    from + lead..(to - trail).max(from + lead)
}

/// Locates the answer; `None` when the response holds none in that shape. For `ALine`, an
/// empty `A:` line still gives a span (its confidence is defined) with an empty value.
pub fn locate(text: &str, how: Extract) -> Option<AnswerAt> {
    match how {
        Extract::ALine => {
            let mut line_start = 0;
            loop {
                let line = &text[line_start..];
                if line.starts_with("A: ") {
                    let from = line_start + 3;
                    let end = line_end(text, from);
                    let nl = text[from..end].trim_end_matches('\n').len() + from;
                    return (end > from).then(|| AnswerAt {
                        value: trimmed(text, from, nl),
                        end,
                    });
                }
                line_start += line.find('\n')? + 1;
            }
        }
        Extract::LastNumber => {
            let value = last_number(text)?;
            let end = line_end(text, value.end);
            Some(AnswerAt { value, end })
        }
        Extract::Boxed => {
            let start = text.rfind("\\boxed{")? + "\\boxed{".len();
            let mut depth = 1usize;
            let close = text[start..].char_indices().find_map(|(i, c)| {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                (depth == 0).then_some(start + i)
            })?;
            let value = trimmed(text, start, close);
            (!value.is_empty()).then(|| AnswerAt {
                value,
                end: line_end(text, close),
            })
        }
        Extract::Hash => {
            let start = text.rfind("####")? + 4;
            let end = line_end(text, start);
            let nl = text[start..end].trim_end_matches('\n').len() + start;
            let value = trimmed(text, start, nl);
            (!value.is_empty()).then_some(AnswerAt { value, end })
        }
    }
}

/// The byte range of the last number in `text`: an optional `-`, digits with optional
/// thousands commas, an optional decimal part.
fn last_number(text: &str) -> Option<Range<usize>> {
    let b = text.as_bytes();
    let mut found = None;
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let mut from = i;
        if from > 0 && b[from - 1] == b'-' {
            from -= 1;
        }
        let mut j = i;
        while j < b.len()
            && (b[j].is_ascii_digit()
                || (b[j] == b',' && digits3(b, j + 1))
                || (b[j] == b'.' && j + 1 < b.len() && b[j + 1].is_ascii_digit()))
        {
            j += 1;
        }
        found = Some(from..j);
        i = j.max(i + 1);
    }
    found
}

/// Three digits at `at`, not followed by a fourth: a thousands group.
fn digits3(b: &[u8], at: usize) -> bool {
    at + 3 <= b.len()
        && b[at..at + 3].iter().all(u8::is_ascii_digit)
        && b.get(at + 3).is_none_or(|c| !c.is_ascii_digit())
}

/// A response's steps and answer, read as `how` says. The answer is the value's text (thousands
/// commas dropped from a last number); the steps are the `S: ` lines before the answer's line
/// (`ALine`), or every non-empty line before it, an `S: ` prefix dropped (the other shapes).
pub fn parse_with(text: &str, how: Extract) -> ParsedResponse {
    let at = locate(text, how);
    let before = match &at {
        Some(a) => &text[..text[..a.value.start].rfind('\n').map_or(0, |p| p + 1)],
        None if how == Extract::ALine => text,
        None => "",
    };
    let steps = before
        .split('\n')
        .filter_map(|l| match how {
            Extract::ALine => l.strip_prefix("S: ").map(str::trim),
            _ => {
                let l = l.trim();
                (!l.is_empty()).then(|| l.strip_prefix("S: ").unwrap_or(l).trim())
            }
        })
        .map(str::to_string)
        .collect();
    let answer = at.and_then(|a| {
        let v = &text[a.value];
        let v = if how == Extract::LastNumber {
            v.replace(',', "")
        } else {
            v.to_string()
        };
        (!v.is_empty()).then_some(v)
    });
    ParsedResponse { steps, answer }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, how: Extract) -> Option<&str> {
        locate(text, how).map(|a| &text[a.value])
    }

    #[test]
    fn a_line_is_the_first_answer_line() {
        let t = "S: 2*3=6\nA:  6 \nA: 7\n";
        assert_eq!(
            locate(t, Extract::ALine),
            Some(AnswerAt {
                value: 13..14,
                end: 16
            })
        );
        assert_eq!(value("A: 12", Extract::ALine), Some("12"));
        assert_eq!(value("S: A: 3\n", Extract::ALine), None);
        // An empty answer line: a span, no value, no answer.
        assert_eq!(locate("A: \n", Extract::ALine).map(|a| a.end), Some(4));
        assert_eq!(parse_with("A: \n", Extract::ALine).answer, None);
    }

    #[test]
    fn last_number_reads_signs_commas_and_decimals() {
        let t = "Each dose is 1,250 mg.\nSo the answer is -3.5 mL, taken twice.";
        // "twice" has no digits: the last number is -3.5.
        assert_eq!(value(t, Extract::LastNumber), Some("-3.5"));
        assert_eq!(value("Total: 1,250 mg", Extract::LastNumber), Some("1,250"));
        assert_eq!(
            parse_with("Total: 1,250 mg", Extract::LastNumber).answer,
            Some("1250".into())
        );
        // A comma that does not start a group of three ends the number.
        assert_eq!(value("pick 3,14", Extract::LastNumber), Some("14"));
        assert_eq!(value("1,2345", Extract::LastNumber), Some("2345"));
        assert_eq!(value("the end.", Extract::LastNumber), None);
        // A full stop after the number is not a decimal point.
        assert_eq!(value("It is 45.", Extract::LastNumber), Some("45"));
    }

    #[test]
    fn boxed_matches_nested_braces_and_takes_the_last() {
        let t = "First \\boxed{1}, then \\boxed{\\frac{3}{4}} done\nnext";
        assert_eq!(value(t, Extract::Boxed), Some("\\frac{3}{4}"));
        let a = locate(t, Extract::Boxed).unwrap();
        assert_eq!(&t[..a.end], t.split_inclusive('\n').next().unwrap());
        assert_eq!(value("\\boxed{ 42 }", Extract::Boxed), Some("42"));
        assert_eq!(value("\\boxed{42", Extract::Boxed), None, "unclosed");
        assert_eq!(value("\\boxed{}", Extract::Boxed), None);
    }

    #[test]
    fn hash_takes_the_rest_of_the_last_hash_line() {
        let t = "60/3=20\n#### 20\n";
        assert_eq!(
            locate(t, Extract::Hash),
            Some(AnswerAt {
                value: 13..15,
                end: 16
            })
        );
        assert_eq!(value("#### 1 #### 2", Extract::Hash), Some("2"));
        assert_eq!(value("####\n", Extract::Hash), None);
    }

    #[test]
    fn steps_are_the_lines_before_the_answer() {
        let t = "S: 12*5=60\nS: 60/3=20\nA: 20\n";
        let p = parse_with(t, Extract::ALine);
        assert_eq!(p.steps, vec!["12*5=60", "60/3=20"]);
        assert_eq!(p, super::super::text::parse_response(t));
        let t = "12*5 = 60\n\n60/3 = 20\n#### 20";
        let p = parse_with(t, Extract::Hash);
        assert_eq!(p.steps, vec!["12*5 = 60", "60/3 = 20"]);
        assert_eq!(p.answer.as_deref(), Some("20"));
        // The answer's own line is not a step, whatever precedes the number on it.
        let p = parse_with("S: 12*5=60\nSo the dose is 60 mg", Extract::LastNumber);
        assert_eq!(p.steps, vec!["12*5=60"]);
        assert_eq!(p.answer.as_deref(), Some("60"));
        // No answer in that shape: no steps either (nothing to score PRG against).
        assert_eq!(parse_with("no number", Extract::LastNumber).steps.len(), 0);
    }

    #[test]
    fn names_round_trip() {
        for (i, n) in Extract::NAMES.iter().enumerate() {
            assert_eq!(Extract::parse(n).map(|e| e as usize), Some(i));
        }
        assert_eq!(Extract::parse("A:"), None);
    }
}
