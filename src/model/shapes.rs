//! Shapes that GPU kernels can reuse. CubeCL (burn-wgpu) tunes and compiles kernels per shape
//! class, so a GRPO step whose lengths change every step keeps paying for new kernels. With
//! bucketing on, sequence lengths are padded up to powers of two (masked, so the numbers do
//! not change) and decoding attends over a bucketed view of its preallocated KV cache, so
//! after a warm-up no step sends a shape the backend has not seen. The registry counts the
//! distinct `[rows, new tokens, attended keys]` a process has sent through the model's forward
//! (the backward mirrors it), which `StepMetrics::shapes` reports.
//!
//! The rule is process-wide (`set_bucketing`): the trainer sets it from `run.shape_buckets`.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static BUCKETING: AtomicBool = AtomicBool::new(false);
static SEEN: Mutex<Option<HashSet<[usize; 3]>>> = Mutex::new(None);

/// The smallest bucket: short sequences all share it.
pub const MIN_BUCKET: usize = 16;

pub fn set_bucketing(on: bool) {
    BUCKETING.store(on, Ordering::Relaxed);
}

pub fn bucketing() -> bool {
    BUCKETING.load(Ordering::Relaxed)
}

/// `n` rounded up to a power of two (at least [`MIN_BUCKET`]), but never above `cap` and never
/// below `n`.
pub fn pow2_bucket(n: usize, cap: usize) -> usize {
    n.max(MIN_BUCKET).next_power_of_two().min(cap).max(n)
}

/// [`pow2_bucket`] when bucketing is on, else `n`.
pub fn bucket(n: usize, cap: usize) -> usize {
    if bucketing() { pow2_bucket(n, cap) } else { n }
}

/// Every bucket up to `cap` (what a warm-up visits).
pub fn buckets(cap: usize) -> Vec<usize> {
    let mut v = Vec::new();
    let mut n = MIN_BUCKET.min(cap.max(1));
    loop {
        let b = pow2_bucket(n, cap);
        if v.last() != Some(&b) {
            v.push(b);
        }
        if b >= cap {
            return v;
        }
        n = b + 1;
    }
}

/// Notes one forward's shape.
pub fn record(rows: usize, new: usize, keys: usize) {
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    seen.get_or_insert_with(HashSet::new)
        .insert([rows, new, keys]);
}

/// How many distinct shapes this process has sent so far.
pub fn distinct() -> usize {
    SEEN.lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map_or(0, HashSet::len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powers_of_two_capped_by_the_context() {
        assert_eq!(pow2_bucket(1, 160), 16);
        assert_eq!(pow2_bucket(16, 160), 16);
        assert_eq!(pow2_bucket(17, 160), 32);
        assert_eq!(pow2_bucket(97, 160), 128);
        assert_eq!(pow2_bucket(129, 160), 160);
        // Never below n, even past the cap (the caller's cap is what it can afford).
        assert_eq!(pow2_bucket(170, 160), 170);
        assert_eq!(buckets(160), [16, 32, 64, 128, 160]);
        assert_eq!(buckets(128), [16, 32, 64, 128]);
        assert_eq!(buckets(10), [10]);
    }

    #[test]
    fn the_registry_counts_each_shape_once() {
        let before = distinct();
        record(3, 1_000_003, 7);
        record(3, 1_000_003, 7);
        record(3, 1_000_004, 7);
        // Other tests may record at the same time: at least these two are new.
        assert!(distinct() >= before + 2);
    }
}
