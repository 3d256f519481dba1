//! Pretrained models in the Hugging Face layout: a directory with `config.json`, safetensors
//! weights (one file or shards with an index) and `tokenizer.json`. Nothing is fetched.

pub mod config;
pub mod decoder;
pub mod export;
pub mod load;

pub use config::{Family, HfConfig};
pub use decoder::HfLm;
pub use load::{BaseIdentity, load};
