//! Datasets: the JSONL schema, the text format, the byte tokenizer, the built-in suites and
//! padded batches (DESIGN §1.1–1.2).

pub mod chat;
pub mod codec;
pub mod example;
pub mod extract;
pub mod fit;
pub mod jsonl;
pub mod suites;
pub mod text;
pub mod tokenizer;

pub use example::{Dataset, EvalItem, Labeled, Unlabeled};
