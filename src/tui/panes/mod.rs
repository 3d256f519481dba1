//! One pane per file, each `render(frame, area, app)`; data shaping beside it, tested.

pub mod confidence;
pub mod editor;
pub mod evals;
pub mod help;
pub mod inspector;
pub mod log;
pub mod losses;
pub mod mixing;
pub mod quit;
pub mod status;
pub mod traces;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Axis, Block, BorderType};

use super::app::{App, Pane};

/// A pane's frame, highlighted when focused.
pub fn pane_block(title: &str, app: &App, pane: Pane) -> Block<'static> {
    let focused = app.focus == pane;
    Block::bordered()
        .title(format!(" {title} "))
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(if focused {
            Style::default().fg(Color::Yellow)
        } else {
            Style::default().fg(Color::DarkGray)
        })
        .title_style(Style::default().add_modifier(Modifier::BOLD))
}

/// The two axes of a chart over steps: step labels on x, `decimals`-digit labels on y.
pub fn step_axes(xb: [f64; 2], yb: [f64; 2], decimals: usize) -> (Axis<'static>, Axis<'static>) {
    let style = Style::default().fg(Color::DarkGray);
    let x = Axis::default()
        .bounds(xb)
        .labels([format!("{:.0}", xb[0]), format!("{:.0}", xb[1])])
        .style(style);
    let y = Axis::default()
        .bounds(yb)
        .labels([
            format!("{:.decimals$}", yb[0]),
            format!("{:.decimals$}", yb[1]),
        ])
        .style(style);
    (x, y)
}

/// A rectangle of `percent_x`×`percent_y` centered in `area`.
pub fn centered(area: Rect, percent_x: u16, percent_y: u16) -> Rect {
    let [_, v, _] = Layout::vertical([
        Constraint::Percentage((100 - percent_y) / 2),
        Constraint::Percentage(percent_y),
        Constraint::Percentage((100 - percent_y) / 2),
    ])
    .areas(area);
    let [_, h, _] = Layout::horizontal([
        Constraint::Percentage((100 - percent_x) / 2),
        Constraint::Percentage(percent_x),
        Constraint::Percentage((100 - percent_x) / 2),
    ])
    .areas(v);
    h
}

/// Axis bounds covering `points` with a little margin (a flat curve gets a unit-wide range).
pub fn bounds(points: &[&[(f64, f64)]]) -> ([f64; 2], [f64; 2]) {
    let all = points.iter().flat_map(|p| p.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        return ([0.0, 1.0], [0.0, 1.0]);
    }
    if x1 - x0 < 1.0 {
        x1 = x0 + 1.0;
    }
    let pad = ((y1 - y0) * 0.05).max(1e-3);
    ([x0, x1], [y0 - pad, y1 + pad])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_cover_points() {
        let a = [(1.0, 2.0), (5.0, 4.0)];
        let b = [(3.0, -1.0)];
        let (x, y) = bounds(&[&a, &b]);
        assert_eq!(x, [1.0, 5.0]);
        assert!(y[0] < -1.0 && y[1] > 4.0);
        assert_eq!(bounds(&[]), ([0.0, 1.0], [0.0, 1.0]));
    }
}
