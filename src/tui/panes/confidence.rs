//! Confidence: histograms of right and wrong answers of the latest eval, the rolling histogram
//! of rollout confidences, reliability per bin, ECE and accuracy.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::pane_block;
use crate::method::calibration::{BINS, histogram};
use crate::tui::app::{App, Pane};

const BLOCKS: [char; 9] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];

/// A horizontal bar of `value / max` over `width` cells, with eighth-cell precision.
pub fn bar(value: usize, max: usize, width: usize) -> String {
    if max == 0 || width == 0 {
        return " ".repeat(width);
    }
    let eighths = (value * width * 8 + max / 2) / max;
    let mut s: String = "█".repeat(eighths / 8);
    if eighths % 8 > 0 {
        s.push(BLOCKS[eighths % 8]);
    }
    format!("{s:<width$}")
}

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let d = app.view();
    let rolling = histogram(d.rolling_confidence.iter().copied());
    let (right, wrong, rel, title) = match d.evals.last() {
        Some(e) => {
            let c = &e.overall;
            (
                c.hist_right.clone(),
                c.hist_wrong.clone(),
                c.reliability.clone(),
                format!(
                    "Confidence · {}{} {} · acc {:.2} · ECE {:.3}",
                    e.split,
                    if e.phase == "post" { "" } else { "·pre" },
                    e.step,
                    c.accuracy,
                    c.ece
                ),
            )
        }
        None => (
            vec![0; BINS],
            vec![0; BINS],
            Vec::new(),
            "Confidence · (no eval yet)".to_string(),
        ),
    };
    let inner_w = area.width.saturating_sub(2) as usize;
    // bin label 7, three bars, accuracy 5
    let w = inner_w.saturating_sub(7 + 6 + 10 + 3) / 3;
    let max_eval = right.iter().chain(&wrong).copied().max().unwrap_or(0);
    let max_roll = rolling.iter().copied().max().unwrap_or(0);
    let mut lines = vec![Line::from(vec![
        Span::raw(format!("{:<7}", "conf")),
        Span::styled(
            format!("{:<w$} ", "right", w = w + 3),
            Style::default().fg(Color::Green),
        ),
        Span::styled(
            format!("{:<w$} ", "wrong", w = w + 3),
            Style::default().fg(Color::Red),
        ),
        Span::styled(
            format!("{:<w$} ", "rollouts", w = w + 3),
            Style::default().fg(Color::Magenta),
        ),
        Span::raw("acc"),
    ])];
    for i in (0..BINS).rev() {
        let acc = rel
            .get(i)
            .and_then(|b| b.accuracy)
            .map(|a| format!("{a:.2}"))
            .unwrap_or_else(|| "  -".into());
        lines.push(Line::from(vec![
            Span::styled(
                format!("{:.1}-{:.1} ", i as f64 / 10.0, (i + 1) as f64 / 10.0),
                Style::default().fg(Color::DarkGray),
            ),
            Span::styled(
                bar(right[i], max_eval, w),
                Style::default().fg(Color::Green),
            ),
            Span::raw(format!("{:>3} ", right[i])),
            Span::styled(bar(wrong[i], max_eval, w), Style::default().fg(Color::Red)),
            Span::raw(format!("{:>3} ", wrong[i])),
            Span::styled(
                bar(rolling[i], max_roll, w),
                Style::default().fg(Color::Magenta),
            ),
            Span::raw(format!("{:>3} ", rolling[i])),
            Span::raw(acc),
        ]));
    }
    frame.render_widget(
        Paragraph::new(lines).block(pane_block(&title, app, Pane::Confidence)),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_with_eighths() {
        assert_eq!(bar(4, 4, 3), "███");
        assert_eq!(bar(0, 4, 3), "   ");
        assert_eq!(bar(1, 2, 3), "█▌ ");
        assert_eq!(bar(1, 0, 2), "  ");
    }
}
