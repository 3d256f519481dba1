//! Losses over steps: RD, RLIF and total, EMA-smoothed, log-y optional, recent or whole run.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::widgets::{Chart, Dataset, GraphType};

use super::{bounds, pane_block, step_axes};
use crate::tui::app::{App, Pane};
use crate::tui::history::ema;

/// Smoothed (and, for log-y, log10 of the positive part of) a curve.
pub fn shape(points: &[(f64, f64)], smoothing: f64, log_y: bool) -> Vec<(f64, f64)> {
    let s = ema(points, smoothing);
    if log_y {
        s.into_iter()
            .filter(|p| p.1 > 0.0)
            .map(|(x, y)| (x, y.log10()))
            .collect()
    } else {
        s
    }
}

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let d = app.view();
    let series = [
        ("total", &d.loss_total, Color::White),
        ("rd", &d.loss_rd, Color::Cyan),
        ("rlif", &d.loss_rlif, Color::Magenta),
    ];
    let shaped: Vec<(&str, Vec<(f64, f64)>, Color)> = series
        .iter()
        .filter(|s| !s.1.is_empty())
        .map(|(n, s, c)| {
            (
                *n,
                shape(&s.points(app.whole_run), app.smoothing, app.log_y),
                *c,
            )
        })
        .collect();
    let all: Vec<&[(f64, f64)]> = shaped.iter().map(|s| s.1.as_slice()).collect();
    let (xb, yb) = bounds(&all);
    let datasets: Vec<Dataset> = shaped
        .iter()
        .map(|(n, p, c)| {
            Dataset::default()
                .name(*n)
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::default().fg(*c))
                .data(p)
        })
        .collect();
    let title = format!(
        "Losses{}{} · ema {:.1}",
        if app.log_y { " · log10" } else { "" },
        if app.whole_run {
            " · whole run"
        } else {
            " · recent"
        },
        app.smoothing
    );
    let (x_axis, y_axis) = step_axes(xb, yb, 3);
    let chart = Chart::new(datasets)
        .block(pane_block(&title, app, Pane::Losses))
        .x_axis(x_axis)
        .y_axis(y_axis);
    frame.render_widget(chart, area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_y_drops_non_positive_values() {
        let p = [(0.0, 10.0), (1.0, -1.0), (2.0, 100.0)];
        let s = shape(&p, 0.0, true);
        assert_eq!(s, vec![(0.0, 1.0), (2.0, 2.0)]);
    }
}
