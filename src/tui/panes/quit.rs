//! The quit popup: stop with a checkpoint, quit without, or cancel.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph};

use super::centered;

pub fn render(frame: &mut Frame, area: Rect) {
    let area = centered(area, 60, 30);
    frame.render_widget(Clear, area);
    let lines = vec![
        Line::from(" s  stop: write a checkpoint, then quit"),
        Line::from(" q  quit now, without a checkpoint"),
        Line::from(" esc  cancel, keep training"),
    ];
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Quit? ")),
        area,
    );
}
