//! Actions and their keys: built once from `[keys]`; the help overlay and the help bar are
//! generated from this table, so they cannot drift from the bindings.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::config::Keys;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Pause,
    Checkpoint,
    Evaluate,
    Inspector,
    Editor,
    Freeze,
    LogY,
    SmoothMore,
    SmoothLess,
    Zoom,
    Focus,
    Help,
    Quit,
}

pub struct Binding {
    pub action: Action,
    pub key: String,
    pub help: &'static str,
    /// Shown in the one-line help bar.
    pub short: Option<&'static str>,
}

pub struct Keymap {
    pub bindings: Vec<Binding>,
}

impl Keymap {
    pub fn new(k: &Keys) -> Self {
        let b = |action, key: &String, help, short| Binding {
            action,
            key: key.clone(),
            help,
            short,
        };
        Self {
            bindings: vec![
                b(
                    Action::Pause,
                    &k.pause,
                    "pause / resume (at the next step boundary)",
                    Some("pause"),
                ),
                b(
                    Action::Checkpoint,
                    &k.checkpoint,
                    "write a checkpoint now",
                    Some("ckpt"),
                ),
                b(Action::Evaluate, &k.evaluate, "evaluate now", Some("eval")),
                b(
                    Action::Inspector,
                    &k.inspector,
                    "sample inspector (←/→ browse, r new sample)",
                    Some("inspect"),
                ),
                b(
                    Action::Editor,
                    &k.editor,
                    "hyperparameter editor",
                    Some("hyper"),
                ),
                b(
                    Action::Freeze,
                    &k.freeze,
                    "freeze the display (training goes on)",
                    Some("freeze"),
                ),
                b(Action::LogY, &k.log_y, "log scale of the loss chart", None),
                b(
                    Action::SmoothMore,
                    &k.smooth_more,
                    "more smoothing of the loss chart",
                    None,
                ),
                b(
                    Action::SmoothLess,
                    &k.smooth_less,
                    "less smoothing of the loss chart",
                    None,
                ),
                b(Action::Zoom, &k.zoom, "recent window / whole run", None),
                b(Action::Focus, &k.focus, "focus the next pane", None),
                b(Action::Help, &k.help, "this help", Some("help")),
                b(Action::Quit, &k.quit, "quit", Some("quit")),
            ],
        }
    }

    pub fn action(&self, key: &str) -> Option<Action> {
        self.bindings
            .iter()
            .find(|b| b.key == key)
            .map(|b| b.action)
    }

    pub fn key_of(&self, action: Action) -> &str {
        self.bindings
            .iter()
            .find(|b| b.action == action)
            .map(|b| b.key.as_str())
            .unwrap_or("?")
    }
}

/// The config-file name of a key press (`space`, `tab`, `q`, `S`, …); `None` for keys we ignore.
pub fn key_name(ev: &KeyEvent) -> Option<String> {
    if ev.modifiers.contains(KeyModifiers::CONTROL) {
        return match ev.code {
            KeyCode::Char('c') => Some("ctrl-c".into()),
            _ => None,
        };
    }
    Some(match ev.code {
        KeyCode::Char(' ') => "space".into(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Tab => "tab".into(),
        KeyCode::BackTab => "backtab".into(),
        KeyCode::Enter => "enter".into(),
        KeyCode::Esc => "esc".into(),
        KeyCode::Left => "left".into(),
        KeyCode::Right => "right".into(),
        KeyCode::Up => "up".into(),
        KeyCode::Down => "down".into(),
        KeyCode::Backspace => "backspace".into(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_follow_config() {
        let mut keys = crate::config::Config::default().keys;
        keys.pause = "p".into();
        let m = Keymap::new(&keys);
        assert_eq!(m.action("p"), Some(Action::Pause));
        assert_eq!(m.action("space"), None);
        assert_eq!(m.key_of(Action::Quit), "q");
        let ev = KeyEvent::new(KeyCode::Char(' '), KeyModifiers::NONE);
        assert_eq!(key_name(&ev).as_deref(), Some("space"));
        let ev = KeyEvent::new(KeyCode::Char('S'), KeyModifiers::SHIFT);
        assert_eq!(key_name(&ev).as_deref(), Some("S"));
    }
}
