//! The stop flag: raised by a signal handler, a front end whose terminal went away, or a
//! caller, and read by the engine inside a step. On it the engine drops the step in progress
//! (its state goes back to the last finished step, so a resume is exact), skips evaluations
//! still to come, writes a checkpoint and stops: seconds, whatever the model, which is what a
//! scheduler's grace period (Slurm, Kubernetes: SIGTERM, then SIGKILL about 30 s later) allows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Clone, Debug, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn raise(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_raised(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// The flag itself, for loops that take a plain `&AtomicBool` (decoding).
    pub fn atomic(&self) -> &AtomicBool {
        &self.0
    }

    /// Raises the flag on SIGTERM, SIGHUP and SIGINT (the handler only stores a bool).
    pub fn on_signals(&self) -> std::io::Result<()> {
        for sig in [
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGHUP,
            signal_hook::consts::SIGINT,
        ] {
            signal_hook::flag::register(sig, self.0.clone())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_flag() {
        let a = StopFlag::new();
        let b = a.clone();
        assert!(!b.is_raised());
        a.raise();
        assert!(b.is_raised() && b.atomic().load(Ordering::SeqCst));
    }

    #[test]
    fn a_signal_raises_it() {
        let f = StopFlag::new();
        f.on_signals().unwrap();
        // SIGHUP is what a closed terminal sends; the handler is ours, so the process lives on.
        signal_hook::low_level::raise(signal_hook::consts::SIGHUP).unwrap();
        assert!(f.is_raised());
    }
}
