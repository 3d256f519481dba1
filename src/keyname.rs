//! Key names as written in config.toml (`space`, `tab`, `q`, `?`, …); the TUI maps terminal
//! key events onto the same names.

pub const NAMED: &[&str] = &[
    "space",
    "tab",
    "backtab",
    "enter",
    "esc",
    "left",
    "right",
    "up",
    "down",
    "backspace",
];

pub fn is_valid(name: &str) -> bool {
    NAMED.contains(&name) || (name.chars().count() == 1 && !name.chars().all(char::is_whitespace))
}

#[cfg(test)]
mod tests {
    #[test]
    fn names() {
        assert!(super::is_valid("space"));
        assert!(super::is_valid("?"));
        assert!(super::is_valid("S"));
        assert!(!super::is_valid("ctrl+q"));
        assert!(!super::is_valid(" "));
    }
}
