//! hytune: post-training small language models to be accurate and honest about their
//! confidence (HyTuning: Reasoning Distillation + RL from Internal Feedback, mixed by
//! Progressive Reasoning Gain). See DESIGN.md in the project's shared notes and README.md.

pub mod bench;
pub mod calibrate;
pub mod cli;
pub mod config;
pub mod data;
pub mod engine;
pub mod eval_model;
pub mod experiment;
pub mod headless;
pub mod keyname;
pub mod malloc;
pub mod method;
pub mod model;
pub mod paths;
pub mod progress;
pub mod publish;
pub mod rng;
#[doc(hidden)]
pub mod scratch;
pub mod shipped;
pub mod timestamp;
pub mod tui;
