//! PRG traces: p_0..p_K of the latest gold traces and rollouts, with per-step gains coloured.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::pane_block;
use crate::tui::app::{App, Pane};

pub fn gain_color(g: f64) -> Color {
    if g > 0.01 {
        Color::Green
    } else if g < -0.01 {
        Color::Red
    } else {
        Color::Gray
    }
}

/// `0.12 →+0.23→ 0.35 …` as spans, gains coloured.
pub fn trace_spans(trace: &[f64]) -> Vec<Span<'static>> {
    let mut v = Vec::new();
    for (k, p) in trace.iter().enumerate() {
        if k > 0 {
            let g = p - trace[k - 1];
            v.push(Span::styled(
                format!(" {g:+.2}→ "),
                Style::default().fg(gain_color(g)),
            ));
        }
        v.push(Span::raw(format!("{p:.2}")));
    }
    v
}

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let d = app.view();
    let mut lines = Vec::new();
    for t in &d.traces {
        let kind_color = if t.kind == "gold" {
            Color::Yellow
        } else {
            Color::Magenta
        };
        let mut l = vec![
            Span::styled(format!("{:<8}", t.kind), Style::default().fg(kind_color)),
            Span::styled(
                format!("PRG {:+.3} ", t.prg),
                Style::default().fg(gain_color(t.prg)),
            ),
        ];
        l.extend(trace_spans(&t.trace));
        l.push(Span::styled(
            format!("  A: {}", t.answer),
            Style::default().fg(Color::DarkGray),
        ));
        lines.push(Line::from(l));
    }
    if lines.is_empty() {
        lines.push(Line::from(Span::styled(
            "PRG traces appear with post-training steps",
            Style::default().fg(Color::DarkGray),
        )));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(frame_block(app)),
        area,
    );
}

fn frame_block(app: &App) -> ratatui::widgets::Block<'static> {
    pane_block("PRG traces · p₀→…→p_K", app, Pane::Traces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gains_are_coloured_by_sign() {
        let s = trace_spans(&[0.1, 0.5, 0.3]);
        assert_eq!(s.len(), 5);
        assert_eq!(s[1].content, " +0.40→ ");
        assert_eq!(s[1].style.fg, Some(Color::Green));
        assert_eq!(s[3].style.fg, Some(Color::Red));
    }
}
