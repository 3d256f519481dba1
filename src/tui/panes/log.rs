//! Warnings, checkpoints, hyperparameter changes and errors, newest last. A line wider than the
//! pane wraps (its continuation indented) rather than being cut, so an error reads whole.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::pane_block;
use crate::tui::app::{App, LogKind, Pane};

/// The indent of a wrapped entry's continuation rows.
const INDENT: &str = "  ";

/// The last `rows` screen rows of `entries` wrapped at `width` characters, each with its
/// entry's index: a continuation row starts with [`INDENT`].
fn wrapped_tail(entries: &[&str], width: usize, rows: usize) -> Vec<(usize, String)> {
    let width = width.max(INDENT.len() + 1);
    let mut out: Vec<(usize, String)> = Vec::new();
    // Newest first, until the pane is full; then put back in order.
    for (i, text) in entries.iter().enumerate().rev() {
        if out.len() >= rows {
            break;
        }
        let chars: Vec<char> = text.chars().collect();
        let mut pieces = Vec::new();
        let mut at = 0;
        while at < chars.len() || pieces.is_empty() {
            let (indent, room) = if pieces.is_empty() {
                ("", width)
            } else {
                (INDENT, width - INDENT.len())
            };
            let (end, next) = break_at(&chars, at, room);
            let piece: String = chars[at..end].iter().collect();
            pieces.push(format!("{indent}{piece}"));
            at = next;
        }
        for p in pieces.into_iter().rev() {
            out.push((i, p));
        }
    }
    out.truncate(rows);
    out.reverse();
    out
}

/// Where the row that starts at `at` ends (exclusive) and the next one starts, for rows of
/// `room` characters: at the last space that fits (dropped), else after `room` characters.
fn break_at(chars: &[char], at: usize, room: usize) -> (usize, usize) {
    if chars.len() - at <= room {
        return (chars.len(), chars.len());
    }
    match chars[at..=at + room].iter().rposition(|&c| c == ' ') {
        Some(p) if p > 0 => (at + p, at + p + 1),
        _ => (at + room, at + room),
    }
}

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let d = app.view();
    let rows = area.height.saturating_sub(2) as usize;
    let width = area.width.saturating_sub(2) as usize;
    let texts: Vec<&str> = d.log.iter().map(|(_, t)| t.as_str()).collect();
    let lines: Vec<Line> = wrapped_tail(&texts, width, rows)
        .into_iter()
        .map(|(i, text)| {
            let color = match d.log[i].0 {
                LogKind::Info => Color::Gray,
                LogKind::Warning => Color::Yellow,
                LogKind::Error => Color::Red,
            };
            Line::from(Span::styled(text, Style::default().fg(color)))
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(pane_block("Log", app, Pane::Log)),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::wrapped_tail;

    #[test]
    fn long_entries_wrap_indented_and_the_newest_rows_are_kept() {
        // Width 10: "0123456789" fits; "abcdefghijklmnop" (16) is 10 + 2 + 4 → two rows.
        let e = ["0123456789", "abcdefghijklmnop", "xy"];
        let all = wrapped_tail(&e, 10, 10);
        assert_eq!(
            all,
            vec![
                (0, "0123456789".to_string()),
                (1, "abcdefghij".to_string()),
                (1, "  klmnop".to_string()),
                (2, "xy".to_string()),
            ]
        );
        // Three rows: the oldest row goes first; a wrapped entry may lose its head.
        assert_eq!(wrapped_tail(&e, 10, 3), all[1..].to_vec());
        assert_eq!(wrapped_tail(&e, 10, 2), all[2..].to_vec());
        // A continuation wider than a row wraps again: 8 characters a continuation row.
        let long = ["a".repeat(27)];
        let rows = wrapped_tail(&[long[0].as_str()], 10, 10);
        assert_eq!(rows.len(), 4, "{rows:?}"); // 10 + 8 + 8 + 1
        assert_eq!(rows[3].1, "  a");
        assert!(wrapped_tail(&e, 10, 0).is_empty());
        // Words are not split where a space fits: "certified 60.0% at ε 0.05" at width 12.
        let rows = wrapped_tail(&["certified 60.0% at ε 0.05"], 12, 10);
        let text: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
        assert_eq!(text, ["certified", "  60.0% at ε", "  0.05"]);
        // An empty entry is one empty row.
        assert_eq!(wrapped_tail(&[""], 10, 10), vec![(0, String::new())]);
    }
}
