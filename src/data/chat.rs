//! Chat templates: a model's `chat_template` (Jinja) rendered as transformers'
//! `apply_chat_template(messages, tokenize=False, add_generation_prompt=True)` renders it
//! (trim_blocks, lstrip_blocks, Python's string methods, `raise_exception`), so an instruct
//! model sees its questions the way it was trained to. The question goes into the user turn
//! (after an optional system turn); the model's steps and answer are the assistant turn.

use anyhow::{Result, anyhow};
use minijinja::{Environment, Error, ErrorKind, context};
use serde::Serialize;

#[derive(Clone, Debug)]
pub struct ChatTemplate {
    source: String,
    bos: String,
    eos: String,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'a str,
    content: &'a str,
}

impl ChatTemplate {
    /// `source` checked to compile; `bos`/`eos` are the tokens templates may name
    /// (`bos_token`, `eos_token`).
    pub fn new(source: &str, bos: &str, eos: &str) -> Result<Self> {
        let t = Self {
            source: source.to_string(),
            bos: bos.to_string(),
            eos: eos.to_string(),
        };
        t.environment()
            .map_err(|e| anyhow!("the chat template does not compile: {e}"))?;
        Ok(t)
    }

    fn environment(&self) -> std::result::Result<Environment<'static>, Error> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |msg: String| -> std::result::Result<String, Error> {
                Err(Error::new(ErrorKind::InvalidOperation, msg))
            },
        );
        env.add_template_owned("chat", self.source.clone())?;
        Ok(env)
    }

    /// The text of `messages` (role, content) followed by the assistant's turn opening.
    pub fn render(&self, messages: &[(&str, &str)]) -> Result<String> {
        let env = self
            .environment()
            .map_err(|e| anyhow!("chat template: {e}"))?;
        let messages: Vec<Message> = messages
            .iter()
            .map(|&(role, content)| Message { role, content })
            .collect();
        env.get_template("chat")
            .and_then(|t| {
                t.render(context! {
                    messages => messages,
                    add_generation_prompt => true,
                    bos_token => self.bos,
                    eos_token => self.eos,
                })
            })
            .map_err(|e| anyhow!("chat template: {e}"))
    }

    /// A question as the user turn, after `system` when given.
    pub fn question(&self, system: Option<&str>, question: &str) -> Result<String> {
        let mut m = Vec::new();
        if let Some(s) = system.filter(|s| !s.is_empty()) {
            m.push(("system", s));
        }
        m.push(("user", question));
        self.render(&m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chatml_by_hand() {
        let t = ChatTemplate::new(
            "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'].strip() + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
            "",
            "<|im_end|>",
        )
        .unwrap();
        assert_eq!(
            t.question(Some("Be brief."), " 2+2? ").unwrap(),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"
        );
        // raise_exception is an error, not a panic.
        let bad = ChatTemplate::new("{{ raise_exception('no system role') }}", "", "").unwrap();
        assert!(format!("{:#}", bad.question(None, "q").unwrap_err()).contains("no system role"));
        assert!(ChatTemplate::new("{% for %}", "", "").is_err());
    }
}
