//! The default job's base model, shipped inside the binary so that `cargo run --release` starts
//! post-training at once. It was made by `hytune pretrain` from the default config with two
//! threads (`assets/bases/make.sh`). A second run of that command gave other weights
//! (2026-12-02), so it is not known to be regenerable bit for bit. Any other config pretrains
//! its own base as before.

/// The cache name of the default config's base (`Trainer::base_cache_name`).
pub const NAME: &str = "base-v7-rope-d128-l4-h4-c160-m4-general2000-b32-lr0.003-s42.hyt";

static BYTES: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/bases/base-v7-rope-d128-l4-h4-c160-m4-general2000-b32-lr0.003-s42.hyt"
));

/// The shipped base of that name, if there is one.
pub fn base(name: &str) -> Option<&'static [u8]> {
    (name == NAME && !BYTES.is_empty()).then_some(BYTES)
}
