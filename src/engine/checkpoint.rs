//! Checkpoint files: one file holding a JSON header (phase, step, config, RNG, cursors, mixing
//! state) and the model, optimizer and reference-model records. Written atomically.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::module::{Module, ParamGroup};
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};
use serde::{Deserialize, Serialize};

use super::cursor::Cursors;
use super::protocol::Phase;
use crate::config::Config;
use crate::method::certify::Certificate;
use crate::method::hacking::CanaryPoint;
use crate::method::mixing::MixState;
use crate::model::hf::BaseIdentity;
use crate::model::{GptShape, Lm};
use crate::rng::Rng;

const MAGIC: &[u8; 8] = b"HYTUNE01";

/// The data a run trains on: its directory (or built-in suite) and a fingerprint of its items.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataRecord {
    /// The dataset directory; `None` for a built-in suite generated from `[data]`.
    pub dir: Option<PathBuf>,
    /// The built-in suite, when there is no directory.
    pub suite: Option<String>,
    pub fingerprint: String,
}

impl DataRecord {
    pub fn describe(&self) -> String {
        match (&self.dir, &self.suite) {
            (Some(d), _) => d.display().to_string(),
            (None, Some(s)) => format!("the built-in suite `{s}`"),
            (None, None) => "unknown data".into(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Meta {
    pub phase: Phase,
    /// Steps of `phase` already done.
    pub step: usize,
    /// The phase is complete (a base checkpoint, or the end of post-training).
    pub complete: bool,
    pub shape: GptShape,
    pub config: Config,
    pub rng: Rng,
    pub cursors: Cursors,
    pub mix: Option<MixState>,
    /// The `best_key` of the dev evaluation best.hyt holds (absent in checkpoints written
    /// before `eval.best`: the next dev evaluation is then best).
    #[serde(default)]
    pub best: Option<(f64, f64)>,
    pub elapsed_seconds: f64,
    /// The post-training data (absent in checkpoints of earlier versions).
    #[serde(default)]
    pub data: Option<DataRecord>,
    /// The pretrained Hugging Face model the run started from (`None`: hytune's byte GPT).
    #[serde(default)]
    pub base_model: Option<BaseIdentity>,
    /// The abstention threshold `hytune calibrate` certified for this model (exports carry it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<Certificate>,
    /// The reward canary's item count, fixed by the run's first canary (`eval.canary_seconds`),
    /// so a resumed run's canary reads the same items (absent in earlier checkpoints and before
    /// the first canary: the resumed run sizes it afresh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_items: Option<usize>,
    /// The canary's points so far, which the onset rule compares the next one with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canary_history: Vec<CanaryPoint>,
}

/// A checkpoint read from disk; records are applied to a fresh model with [`Loaded::model`].
pub struct Loaded {
    pub meta: Meta,
    model: Vec<u8>,
    optimizer: Vec<u8>,
    reference: Vec<u8>,
    rl_optimizer: Vec<u8>,
}

/// The record of the model itself (not of the `Lm` wrapper), so byte-GPT checkpoints of
/// earlier versions still load.
///
/// A pretrained model with LoRA adapters records its adapters alone: its base is the model it
/// was loaded from (the header's `base_model`, checked by hash on load), so the checkpoint is
/// megabytes and a stop writes it at once. The byte GPT's base was trained by the run itself and
/// is recorded whole.
fn record_bytes(model: Lm) -> Result<Bytes> {
    let record = match model {
        Lm::Gpt(g) => g.into_record(),
        Lm::Hf(h) if h.has_adapters() => h.into_record_group(adapter_group()),
        Lm::Hf(h) => h.into_record(),
    };
    record.into_bytes().map_err(|e| anyhow::anyhow!("{e}"))
}

/// The adapters' parameters (`….lora.a`, `….lora.b`).
fn adapter_group() -> ParamGroup {
    ParamGroup::from_regex(r"(^|\.)lora\.(a|b)$").expect("a valid pattern")
}

fn describe_base(b: Option<&BaseIdentity>) -> String {
    match b {
        Some(b) => format!("{} ({}, hash {})", b.dir.display(), b.architecture, b.hash),
        None => "the built-in byte GPT".into(),
    }
}

/// Writes `path` via a temporary file, fsync and rename, so a crash never leaves half a file.
pub fn save(
    path: &Path,
    meta: &Meta,
    model: &Lm,
    optimizer: Option<&ModuleOptimizer>,
    reference: Option<&Lm>,
) -> Result<()> {
    save_with(path, meta, model, optimizer, reference, None)
}

/// [`save`] with the RL optimizer's state as a fifth section (`post.update = split`);
/// checkpoints without it read as before.
pub fn save_with(
    path: &Path,
    meta: &Meta,
    model: &Lm,
    optimizer: Option<&ModuleOptimizer>,
    reference: Option<&Lm>,
    rl_optimizer: Option<&ModuleOptimizer>,
) -> Result<()> {
    let header = serde_json::to_vec(meta)?;
    // The four parts serialized at once, one thread each: for a 135M model they are gigabytes,
    // and a stop must write them within a scheduler's grace period.
    let optim_bytes = |o: Option<&ModuleOptimizer>, what: &str| -> Result<Option<Bytes>> {
        o.map(|o| o.into_bytes().map_err(|e| anyhow::anyhow!("{what}: {e}")))
            .transpose()
    };
    let (model, reference, optimizer, rl_optimizer) = std::thread::scope(|s| {
        let m = s.spawn(|| record_bytes(model.clone()));
        let r = s.spawn(|| reference.map(|r| record_bytes(r.clone())).transpose());
        let o = s.spawn(|| optim_bytes(optimizer, "optimizer state"));
        let rl = optim_bytes(rl_optimizer, "RL optimizer state");
        fn join<T>(h: std::thread::ScopedJoinHandle<'_, Result<T>>) -> Result<T> {
            h.join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("checkpoint serialization panicked")))
        }
        (join(m), join(r), join(o), rl)
    });
    let (model, reference, optimizer, rl_optimizer) =
        (model?, reference?, optimizer?, rl_optimizer?);
    // Written from the serialized buffers as they are (a 135M model's state is gigabytes: no
    // copies on the way to the disk).
    let mut sections: Vec<&[u8]> = vec![
        &header,
        &model,
        optimizer.as_deref().unwrap_or_default(),
        reference.as_deref().unwrap_or_default(),
    ];
    if let Some(b) = rl_optimizer.as_deref() {
        sections.push(b);
    }
    let tmp = path.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(MAGIC)?;
        for s in &sections {
            f.write_all(&(s.len() as u64).to_le_bytes())?;
            f.write_all(s)?;
        }
        f.sync_all()?;
        fs::rename(&tmp, path)
    };
    if let Err(e) = write() {
        // A failed write (disk full, folder gone) leaves nothing behind; earlier checkpoints
        // are untouched.
        let _ = fs::remove_file(&tmp);
        bail!("cannot write checkpoint {}: {e}", path.display());
    }
    if let Some(dir) = path.parent().and_then(|d| File::open(d).ok()) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Replaces the header of the checkpoint at `path` with `meta`, keeping every other byte: via a
/// temporary file, fsync and rename, so the checkpoint is whole at every moment (the old one
/// until the rename, the new one after).
pub fn rewrite_meta(path: &Path, meta: &Meta) -> Result<()> {
    let name = path.display();
    let mut f = File::open(path).with_context(|| format!("{name}: cannot open checkpoint"))?;
    let mut head = [0u8; 16];
    f.read_exact(&mut head)
        .ok()
        .filter(|_| &head[..8] == MAGIC)
        .with_context(|| format!("{name}: not a hytune checkpoint"))?;
    let old = u64::from_le_bytes(head[8..].try_into().expect("8 bytes"));
    std::io::copy(&mut (&mut f).take(old), &mut std::io::sink())?;
    let header = serde_json::to_vec(meta)?;
    let tmp = path.with_extension("tmp");
    let mut write = || -> std::io::Result<()> {
        let mut out = File::create(&tmp)?;
        out.write_all(MAGIC)?;
        out.write_all(&(header.len() as u64).to_le_bytes())?;
        out.write_all(&header)?;
        std::io::copy(&mut f, &mut out)?;
        out.sync_all()?;
        fs::rename(&tmp, path)
    };
    if let Err(e) = write() {
        let _ = fs::remove_file(&tmp);
        bail!("cannot rewrite checkpoint {name}: {e}");
    }
    if let Some(dir) = path.parent().and_then(|d| File::open(d).ok()) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Reads a checkpoint, refusing anything that is not one (with the file's name in the error).
pub fn load(path: &Path) -> Result<Loaded> {
    let name = path.display();
    let mut f = File::open(path).with_context(|| format!("{name}: cannot open checkpoint"))?;
    let mut magic = [0u8; 8];
    if f.read_exact(&mut magic).is_err() || &magic != MAGIC {
        bail!("{name}: not a hytune checkpoint");
    }
    let mut sections = Vec::new();
    for _ in 0..4 {
        let mut len = [0u8; 8];
        f.read_exact(&mut len)
            .with_context(|| format!("{name}: truncated checkpoint"))?;
        let len = u64::from_le_bytes(len);
        if len > 1 << 34 {
            bail!("{name}: corrupt checkpoint (section of {len} bytes)");
        }
        let mut buf = vec![0u8; len as usize];
        f.read_exact(&mut buf)
            .with_context(|| format!("{name}: truncated checkpoint"))?;
        sections.push(buf);
    }
    // An optional fifth section: the RL optimizer. A file that ends here has none; one that
    // starts it must hold it whole.
    let mut rl_optimizer = Vec::new();
    let mut len = [0u8; 8];
    let mut got = 0;
    while got < 8 {
        match f.read(&mut len[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => bail!("{name}: cannot read checkpoint: {e}"),
        }
    }
    if got > 0 {
        if got < 8 {
            bail!("{name}: truncated checkpoint");
        }
        let len = u64::from_le_bytes(len);
        if len > 1 << 34 {
            bail!("{name}: corrupt checkpoint (section of {len} bytes)");
        }
        rl_optimizer = vec![0u8; len as usize];
        f.read_exact(&mut rl_optimizer)
            .with_context(|| format!("{name}: truncated checkpoint"))?;
    }
    let meta: Meta = serde_json::from_slice(&sections[0])
        .with_context(|| format!("{name}: corrupt checkpoint header"))?;
    meta.config
        .check()
        .map_err(|e| anyhow::anyhow!("{name}: corrupt checkpoint header: its config's {e}"))?;
    let reference = sections.pop().unwrap();
    let optimizer = sections.pop().unwrap();
    let model = sections.pop().unwrap();
    Ok(Loaded {
        meta,
        model,
        optimizer,
        reference,
        rl_optimizer,
    })
}

/// The record applied over `skeleton` (a model of the same kind and shape); `partial`: the
/// record holds some of its parameters (a LoRA run's adapters), the rest stay the skeleton's.
fn apply(bytes: &[u8], skeleton: Lm, partial: bool) -> Result<Lm> {
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .allow_partial(partial);
    if partial {
        // Partial, but whole: one tensor for each of the skeleton's adapter factors.
        let mut want = 0;
        crate::model::lora::Adaptable::for_each_linear(&skeleton, &mut |_, l| {
            want += 2 * l.lora.is_some() as usize
        });
        if record.len() != want {
            bail!(
                "holds {} tensors where the model's adapters are {want}",
                record.len()
            );
        }
    }
    let err = |e| anyhow::anyhow!("{e}");
    Ok(match skeleton {
        Lm::Gpt(g) => Lm::Gpt(g.try_load_record(record).map_err(err)?),
        Lm::Hf(h) => Lm::Hf(h.try_load_record(record).map_err(err)?),
    })
}

impl Loaded {
    /// The model, refusing a checkpoint of another shape than `expected`.
    pub fn model(&self, expected: &GptShape, device: &Device, path: &Path) -> Result<Lm> {
        self.check_shape(expected, path)?;
        self.model_over(expected.init(device), path)
    }

    /// The model's weights applied over `skeleton`, a fresh model of the same kind: a byte GPT
    /// of the checkpoint's shape, or the pretrained model it started from (see [`check_base`]).
    pub fn model_over(&self, skeleton: Lm, path: &Path) -> Result<Lm> {
        if self.meta.base_model.is_some() != matches!(skeleton, Lm::Hf(_)) {
            bail!(
                "{}: checkpoint is of {} but the run's model is {}",
                path.display(),
                describe_base(self.meta.base_model.as_ref()),
                if matches!(skeleton, Lm::Hf(_)) {
                    "a pretrained model"
                } else {
                    "the built-in byte GPT"
                }
            );
        }
        // A post-training checkpoint of a LoRA run holds adapters: the skeleton gets them first.
        let spec = self.meta.config.lora_spec();
        let lora = spec.rank > 0 && self.meta.phase == Phase::Post;
        let skeleton = if lora {
            skeleton.with_lora(&spec)
        } else {
            skeleton
        };
        let partial = lora && matches!(skeleton, Lm::Hf(_));
        let model = apply(&self.model, skeleton, partial)
            .with_context(|| format!("{}: corrupt model record", path.display()))?;
        // The base as the run stored it (`model.dtype`), so the model is the one trained.
        Ok(if lora {
            model.with_base_dtype(self.meta.config.base_dtype())
        } else {
            model
        })
    }

    /// The model on its own (for eval and export): a byte GPT of the recorded shape, or the
    /// recorded pretrained model's architecture and tokenizer, which must still be as they were.
    pub fn standalone_model(&self, path: &Path, device: &Device) -> Result<Lm> {
        match &self.meta.base_model {
            None => self.model(&self.meta.shape, device, path),
            Some(b) => {
                let (base, now) =
                    crate::model::pretrained::load(&b.dir, &self.meta.config.model, device)
                        .with_context(|| format!("{}: its base model", path.display()))?;
                self.check_base(Some(&now), path)?;
                self.model_over(Lm::Hf(base), path)
            }
        }
    }

    /// Refuses a checkpoint that started from another pretrained model than `base`.
    pub fn check_base(&self, base: Option<&BaseIdentity>, path: &Path) -> Result<()> {
        if self.meta.base_model.as_ref() != base {
            bail!(
                "{}: checkpoint started from {}, not from {}",
                path.display(),
                describe_base(self.meta.base_model.as_ref()),
                describe_base(base)
            );
        }
        Ok(())
    }

    pub fn check_shape(&self, expected: &GptShape, path: &Path) -> Result<()> {
        if &self.meta.shape != expected {
            let s = &self.meta.shape;
            bail!(
                "{}: checkpoint is of another model shape (d_model {}, n_layers {}, n_heads {}, max_len {}, mlp_ratio {}, positions {:?}, activation {}) than the config's (d_model {}, n_layers {}, n_heads {}, max_len {}, mlp_ratio {}, positions {:?}, activation {})",
                path.display(),
                s.d_model,
                s.n_layers,
                s.n_heads,
                s.max_len,
                s.mlp_ratio,
                s.positions,
                s.activation.name(),
                expected.d_model,
                expected.n_layers,
                expected.n_heads,
                expected.max_len,
                expected.mlp_ratio,
                expected.positions,
                expected.activation.name()
            );
        }
        Ok(())
    }

    /// The frozen reference model, applied over `skeleton` (a model without autodiff).
    pub fn reference(&self, skeleton: Lm) -> Result<Option<Lm>> {
        if self.reference.is_empty() {
            return Ok(None);
        }
        apply(&self.reference, skeleton, false).map(Some)
    }

    /// Bytes of the model, optimizer, reference and RL optimizer sections.
    pub fn section_sizes(&self) -> [usize; 4] {
        [
            self.model.len(),
            self.optimizer.len(),
            self.reference.len(),
            self.rl_optimizer.len(),
        ]
    }

    pub fn rl_optimizer_bytes(&self) -> Option<Bytes> {
        (!self.rl_optimizer.is_empty()).then(|| Bytes::from_bytes_vec(self.rl_optimizer.clone()))
    }

    pub fn optimizer_bytes(&self) -> Option<Bytes> {
        (!self.optimizer.is_empty()).then(|| Bytes::from_bytes_vec(self.optimizer.clone()))
    }
}

/// Periodic checkpoints of a run directory, oldest first.
pub fn periodic(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("ckpt-") && n.ends_with(".hyt"))
        })
        .collect();
    v.sort();
    v
}

/// Removes all but the newest `keep` periodic checkpoints.
pub fn prune(dir: &Path, keep: usize) {
    let all = periodic(dir);
    for p in &all[..all.len().saturating_sub(keep)] {
        let _ = fs::remove_file(p);
    }
}

pub fn periodic_name(phase: Phase, step: usize) -> String {
    // Post sorts after pretrain, and steps are zero-padded, so names sort by age.
    let order = match phase {
        Phase::Pretrain => 0,
        Phase::Post => 1,
    };
    format!("ckpt-{order}{}-{step:07}.hyt", phase.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_age_and_prune_keeps_newest() {
        let dir = crate::scratch::TempDir::new().unwrap();
        for (ph, s) in [
            (Phase::Post, 5),
            (Phase::Pretrain, 100),
            (Phase::Post, 20),
            (Phase::Post, 10),
        ] {
            std::fs::write(dir.path().join(periodic_name(ph, s)), b"x").unwrap();
        }
        std::fs::write(dir.path().join("best.hyt"), b"x").unwrap();
        prune(dir.path(), 2);
        let left: Vec<String> = periodic(dir.path())
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into())
            .collect();
        assert_eq!(
            left,
            vec![
                periodic_name(Phase::Post, 10),
                periodic_name(Phase::Post, 20)
            ]
        );
        assert!(dir.path().join("best.hyt").exists());
    }

    #[test]
    fn garbage_is_refused_with_the_file_name() {
        let dir = crate::scratch::TempDir::new().unwrap();
        let p = dir.path().join("x.hyt");
        std::fs::write(&p, b"hello").unwrap();
        let e = load(&p).err().unwrap().to_string();
        assert!(e.contains("x.hyt: not a hytune checkpoint"), "{e}");
        std::fs::write(&p, [&MAGIC[..], &[3, 0, 0, 0, 0, 0, 0, 0], b"{}"].concat()).unwrap();
        assert!(format!("{:#}", load(&p).err().unwrap()).contains("truncated"));
    }
}
