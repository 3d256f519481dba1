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

/// Hands the heap's free pages back to the system (`malloc_trim`): after a large one-off free,
/// such as a loaded f32 base replaced by its bf16 copy (`model.dtype`), which the thresholds
/// above would otherwise keep as holes in the heap for the rest of the run.
pub fn release() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim only returns free memory to the system; it is thread-safe.
        unsafe {
            malloc_trim(0);
        }
    }
}
