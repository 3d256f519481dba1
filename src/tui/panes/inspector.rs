//! The sample inspector: the question, each step with the confidence after it and its gain,
//! the answer, right/wrong, confidence, PRG and self-certainty.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::centered;
use super::traces::gain_color;
use crate::engine::protocol::Sample;
use crate::tui::app::App;

pub fn lines(s: &Sample) -> Vec<Line<'static>> {
    let dim = Style::default().fg(Color::DarkGray);
    let mut v = vec![
        Line::from(vec![
            Span::styled("source  ", dim),
            Span::raw(s.source.clone()),
        ]),
        Line::from(vec![
            Span::styled("Q: ", Style::default().add_modifier(Modifier::BOLD)),
            Span::raw(s.question.clone()),
        ]),
    ];
    let p = |k: usize| {
        s.trace
            .get(k)
            .map(|p| format!("{p:.3}"))
            .unwrap_or_else(|| "  -  ".into())
    };
    v.push(Line::from(vec![Span::styled(
        format!("   conf before any step: {}", p(0)),
        dim,
    )]));
    for (k, step) in s.steps.iter().enumerate() {
        let mut l = vec![
            Span::raw(format!("S{}: {step:<24}", k + 1)),
            Span::styled(format!(" conf {}", p(k + 1)), dim),
        ];
        if let (Some(a), Some(b)) = (s.trace.get(k), s.trace.get(k + 1)) {
            let g = b - a;
            l.push(Span::styled(
                format!("  gain {g:+.3}"),
                Style::default().fg(gain_color(g)),
            ));
        }
        v.push(Line::from(l));
    }
    let verdict = match s.correct {
        Some(true) => Span::styled(
            "  right",
            Style::default()
                .fg(Color::Green)
                .add_modifier(Modifier::BOLD),
        ),
        Some(false) => Span::styled(
            "  wrong",
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
        // A gold trace is the answer key itself; a rollout on an unlabeled question has none.
        None if s.gold.is_some() => Span::raw(""),
        None => Span::styled("  (unlabeled: no gold answer)", dim),
    };
    v.push(Line::from(vec![
        Span::styled("A: ", Style::default().add_modifier(Modifier::BOLD)),
        Span::raw(
            s.answer
                .clone()
                .unwrap_or_else(|| "(none extracted)".into()),
        ),
        verdict,
        Span::styled(
            s.gold
                .as_ref()
                .map(|g| format!("  gold {g}"))
                .unwrap_or_default(),
            dim,
        ),
    ]));
    v.push(Line::from(""));
    let sc = if s.self_certainty.is_finite() {
        format!("{:.3}", s.self_certainty)
    } else {
        "-".into()
    };
    v.push(Line::from(format!(
        "confidence {:.3}   PRG {}   self-certainty {sc}",
        s.confidence,
        s.prg
            .map(|p| format!("{p:+.3}"))
            .unwrap_or_else(|| "-".into())
    )));
    v
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, index: usize) {
    let area = centered(area, 90, 80);
    frame.render_widget(Clear, area);
    let items = app.view().inspectables();
    let title = format!(
        " Inspector {}/{} · ←/→ browse · r new sample · esc close ",
        (index + 1).min(items.len()),
        items.len()
    );
    let body = match items.get(index) {
        Some(s) => lines(s),
        None => vec![Line::from(
            "nothing to inspect yet: press r for a fresh rollout, or wait for an evaluation",
        )],
    };
    frame.render_widget(
        Paragraph::new(body)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(title)),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_carry_confidence_and_gain() {
        let s = Sample {
            source: "eval".into(),
            question: "q".into(),
            steps: vec!["2*3=6".into()],
            answer: Some("6".into()),
            gold: Some("6".into()),
            correct: Some(true),
            confidence: 0.9,
            trace: vec![0.2, 0.9],
            prg: Some(0.7),
            self_certainty: 1.5,
        };
        let text: Vec<String> = lines(&s).iter().map(|l| l.to_string()).collect();
        assert!(
            text[3].contains("conf 0.900") && text[3].contains("gain +0.700"),
            "{text:?}"
        );
        assert!(text[4].contains("right"));
    }

    #[test]
    fn a_gold_trace_has_no_verdict_and_an_unlabeled_rollout_says_it_has_no_gold() {
        let mut s = Sample {
            source: "gold trace".into(),
            question: "q".into(),
            steps: vec!["9/3=3".into()],
            answer: Some("3".into()),
            gold: Some("3".into()),
            correct: None,
            confidence: 0.88,
            trace: vec![0.0, 0.88],
            prg: Some(0.43),
            self_certainty: f64::NAN,
        };
        let answer = |s: &Sample| lines(s)[4].to_string();
        assert_eq!(answer(&s), "A: 3  gold 3");
        s.gold = None;
        s.source = "rollout trace".into();
        assert_eq!(answer(&s), "A: 3  (unlabeled: no gold answer)");
    }
}
