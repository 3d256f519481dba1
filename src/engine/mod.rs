//! The training engine: owns model, optimizer, data and RNG on its own thread, and talks only
//! through [`protocol::Command`] in and [`protocol::Event`] out. Knows nothing of terminals.

pub mod answer_span;
pub mod backend;
pub mod canary;
pub mod checkpoint;
mod commands;
pub mod competence;
pub mod cursor;
mod data_source;
pub mod evaluate;
pub mod losses;
mod milestones;
mod model_source;
mod phases;
mod post_step;
pub mod prg_scoring;
pub mod protocol;
mod rl_groups;
pub mod rollouts;
mod run_dir;
mod step_guard;
pub mod stop;
mod trainer;
mod warm_up;

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use crate::config::Config;
use protocol::{Command, Event};

pub use data_source::{DataSource, hold_out_dev, load_data};

/// Everything a run needs, decided before the engine starts.
#[derive(Clone, Debug)]
pub struct Job {
    pub config: Config,
    pub data: DataSource,
    pub run_dir: PathBuf,
    pub resume: Option<PathBuf>,
    pub base: Option<PathBuf>,
    /// Interactive runs pause (rather than stop) after repeated non-finite losses.
    pub interactive: bool,
    pub backend: backend::Selected,
    /// Stop once the base model exists (`hytune experiment` pretrains its shared base this way).
    pub only_base: bool,
    /// Pretrain the base even when a cached or shipped one exists (`hytune pretrain`).
    pub fresh_base: bool,
    /// Evaluate the starting model (eval and dev) before post-training. An experiment does it
    /// in the first cell of each dataset only: every cell of it starts from the same model.
    pub eval_before: bool,
    /// Raised to stop within seconds: the step in progress is dropped, a checkpoint written.
    pub stop: stop::StopFlag,
}

pub struct Handle {
    pub commands: Sender<Command>,
    pub events: Receiver<Event>,
    pub thread: JoinHandle<()>,
}

/// Starts the engine thread; it ends after `Finished` or `Failed`.
pub fn spawn(job: Job) -> Handle {
    let (cmd_tx, cmd_rx) = channel();
    let (ev_tx, ev_rx) = channel();
    let thread = std::thread::Builder::new()
        .name("hytune-engine".into())
        .spawn(move || trainer::run(job, cmd_rx, ev_tx))
        .expect("spawn engine thread");
    Handle {
        commands: cmd_tx,
        events: ev_rx,
        thread,
    }
}
