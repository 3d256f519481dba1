//! glibc's allocator, set for a training loop. By default glibc maps every block above 128 KiB
//! (its threshold grows only as such blocks are freed) and returns freed memory at the top of
//! the heap at once, so each step's activations cost fresh mappings and page faults. Raising
//! the mapping and trimming thresholds keeps that memory for the next step: the train step of
//! the default model took 375 → 305 ms on one thread and 169 → 144 ms on two (docs/speed.md).
//! A `GLIBC_TUNABLES` that sets anything of `glibc.malloc` is left to rule instead.

/// Applies the settings (once, at start-up, before the threads start).
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("glibc.malloc")) {
            return;
        }
        use std::ffi::c_int;
        unsafe extern "C" {
            fn mallopt(param: c_int, value: c_int) -> c_int;
        }
        const M_TRIM_THRESHOLD: c_int = -1;
        const M_TOP_PAD: c_int = -2;
        const M_MMAP_THRESHOLD: c_int = -3;
        // SAFETY: mallopt only changes allocator parameters; called before other threads exist.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 32 << 20);
            mallopt(M_TRIM_THRESHOLD, 256 << 20);
            mallopt(M_TOP_PAD, 64 << 20);
        }
    }
}
