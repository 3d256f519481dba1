//! The text format of DESIGN §1.1: `Q:`/`S:`/`A:` lines, answer extraction and comparison.

/// The prompt text (BOS is added by the tokenizer): `"Q: <question>\n"`.
pub fn prompt(question: &str) -> String {
    format!("Q: {question}\n")
}

/// One reasoning step's line: `"S: <step>\n"`.
pub fn step_line(step: &str) -> String {
    format!("S: {step}\n")
}

/// The response text (EOS is added by the tokenizer): steps then the answer line.
pub fn response(steps: &[String], answer: &str) -> String {
    let mut out = String::new();
    for s in steps {
        out.push_str(&step_line(s));
    }
    out.push_str("A: ");
    out.push_str(answer);
    out.push('\n');
    out
}

/// The text before the answer after the first `k` steps: what `conf(a | x)` conditions on (§1.3).
pub fn prefix_before_answer(question: &str, steps: &[String]) -> String {
    let mut out = prompt(question);
    for s in steps {
        out.push_str(&step_line(s));
    }
    out.push_str("A: ");
    out
}

/// The answer tokens that `conf` scores: the answer and its closing newline.
pub fn answer_continuation(answer: &str) -> String {
    format!("{answer}\n")
}

pub use super::extract::ParsedResponse;

/// The answer is the trimmed text of the first `A: ` line; steps are the `S: ` lines before it
/// (`eval.extract = a_line`; the other shapes: [`super::extract::parse_with`]).
pub fn parse_response(text: &str) -> ParsedResponse {
    super::extract::parse_with(text, super::extract::Extract::ALine)
}

/// Answers are equal when their trimmed strings are, or when both read as equal numbers
/// (a leading `$` and thousands commas allowed: `$1,250` equals `1250`).
pub fn answers_equal(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    if a == b {
        return true;
    }
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// A number as an answer writes it: `-3.5`, `1,250`, `$1,250.00`.
fn number(s: &str) -> Option<f64> {
    let s = s.strip_prefix('$').unwrap_or(s);
    if !s.contains(',') {
        return s.parse().ok();
    }
    let int = s.split('.').next().unwrap_or(s);
    let mut groups = int.trim_start_matches('-').split(',');
    let first = groups.next()?;
    let grouped = (1..=3).contains(&first.len())
        && groups.all(|g| g.len() == 3)
        && int
            .chars()
            .all(|c| c.is_ascii_digit() || c == ',' || c == '-');
    grouped.then(|| s.replace(',', "").parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_round_trips_through_the_parser() {
        let steps = vec!["12*5=60".to_string(), "60/3=20".to_string()];
        let r = response(&steps, "20");
        assert_eq!(r, "S: 12*5=60\nS: 60/3=20\nA: 20\n");
        assert_eq!(
            parse_response(&r),
            ParsedResponse {
                steps,
                answer: Some("20".into())
            }
        );
        assert_eq!(prefix_before_answer("q", &[]), "Q: q\nA: ");
    }

    #[test]
    fn answer_is_first_a_line_and_may_be_missing() {
        assert_eq!(
            parse_response("S: x\nA:  7 \nA: 8\n").answer.as_deref(),
            Some("7")
        );
        assert_eq!(parse_response("S: x\nS: y").answer, None);
        assert_eq!(parse_response("A: \n").answer, None);
        assert_eq!(parse_response("noise A: 3\n").answer, None);
    }

    #[test]
    fn answers_compare_as_strings_or_numbers() {
        assert!(answers_equal(" 20", "20 "));
        assert!(answers_equal("20.0", "20"));
        assert!(answers_equal("-3", "-3.00"));
        assert!(!answers_equal("20", "21"));
        assert!(!answers_equal("twenty", "20"));
        assert!(answers_equal("mg", "mg"));
        assert!(answers_equal("$1,250", "1250"));
        assert!(answers_equal("1,250.50", "1250.5"));
        assert!(answers_equal("-1,000", "-1000"));
        assert!(!answers_equal("1,25", "125"), "not a thousands group");
        assert!(!answers_equal("12,3456", "123456"));
    }
}
