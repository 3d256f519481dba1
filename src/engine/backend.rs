//! Picks the device: wgpu on a real GPU, else the CPU backend, saying why once. Never panics for
//! a missing adapter.

use burn::backend::wgpu::{RuntimeOptions, WgpuDevice, try_init_device, try_init_setup, wgpu};
use burn::tensor::Device;

/// The chosen device and how to describe it.
#[derive(Clone, Debug)]
pub struct Selected {
    pub device: Device,
    pub name: String,
    /// A line to show once (why this is not the requested or the fastest backend).
    pub notice: Option<String>,
}

/// What the wgpu probe found.
pub enum Probe {
    Gpu(WgpuDevice, String),
    Software(WgpuDevice, String),
    Missing(String),
}

/// Finds a wgpu adapter and registers it. A software adapter is reported as such.
/// With `--features wgpu-tuned`: CubeCL's persistent cache (autotune decisions, SPIR-V where
/// built) goes under the user cache directory, so a kernel tuned once for a shape bucket stays
/// tuned for every later process, run and experiment cell. A `cubecl.toml` or `burn.toml` that
/// names a path of its own wins. Must run before the first wgpu device exists.
#[cfg(feature = "wgpu-tuned")]
fn persistent_kernel_cache() {
    use burn::cubecl::config::cache::CacheConfig;
    use burn::cubecl::config::{CubeClRuntimeConfig, RuntimeConfig};
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Some(dir) = crate::paths::kernel_cache_dir() else {
            return;
        };
        let mut c = CubeClRuntimeConfig::from_current_dir().override_from_env();
        if matches!(c.environment.path, CacheConfig::Target) {
            c.environment.path = CacheConfig::Directory(dir);
        }
        let _ = CubeClRuntimeConfig::try_set(c);
    });
}

#[cfg(not(feature = "wgpu-tuned"))]
fn persistent_kernel_cache() {}

pub fn probe_wgpu() -> Probe {
    persistent_kernel_cache();
    let attempt = std::panic::catch_unwind(|| {
        let setup = try_init_setup::<burn::backend::wgpu::graphics::AutoGraphicsApi>(
            &WgpuDevice::default(),
            RuntimeOptions::default(),
        )
        .map_err(|e| e.to_string())?;
        let info = setup.adapter.get_info();
        let software = info.device_type == wgpu::DeviceType::Cpu;
        let label = format!("{} ({:?})", info.name, info.backend);
        let device =
            try_init_device(setup, RuntimeOptions::default()).map_err(|e| e.to_string())?;
        Ok::<_, String>((device, label, software))
    });
    match attempt {
        Ok(Ok((device, label, true))) => Probe::Software(device, label),
        Ok(Ok((device, label, false))) => Probe::Gpu(device, label),
        Ok(Err(e)) => Probe::Missing(e),
        Err(_) => Probe::Missing("the wgpu runtime failed to start".into()),
    }
}

/// What `auto` asks of wgpu itself before it starts Burn's wgpu runtime: whether an adapter is a
/// real GPU. Starting the runtime registers a device whose two service threads then wake every
/// 150 µs for the life of the process: on a 2-core machine without a GPU they doubled the
/// voluntary context switches of a CPU pretraining run (docs/speed.md).
enum Adapters {
    /// At least one adapter that is not a software driver.
    Gpu,
    /// Only software drivers: the first one's label.
    Software(String),
    Missing(String),
}

fn adapters() -> Adapters {
    let attempt = std::panic::catch_unwind(|| {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: wgpu::Backends::all(),
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let found = ready(instance.enumerate_adapters(wgpu::Backends::all()));
        found.iter().map(|a| a.get_info()).collect::<Vec<_>>()
    });
    let Ok(infos) = attempt else {
        return Adapters::Missing("the wgpu runtime failed to start".into());
    };
    if infos.iter().any(|i| i.device_type != wgpu::DeviceType::Cpu) {
        return Adapters::Gpu;
    }
    match infos.first() {
        Some(info) => Adapters::Software(format!("{} ({:?})", info.name, info.backend)),
        None => Adapters::Missing("no adapter found".into()),
    }
}

/// The output of a future that completes without waiting (wgpu's native adapter queries).
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

pub fn cpu() -> Selected {
    Selected {
        device: Device::flex(),
        name: "cpu (flex)".into(),
        notice: None,
    }
}

/// `auto`: wgpu on a real GPU, else the fastest CPU backend of this build. `wgpu`: any adapter,
/// software included; none → error.
pub fn select(requested: &str) -> anyhow::Result<Selected> {
    match requested {
        "cpu" => Ok(cpu()),
        "ndarray" => ndarray(),
        "tch" => tch(),
        "wgpu" => match probe_wgpu() {
            Probe::Gpu(d, label) => Ok(Selected {
                device: Device::from(d),
                name: format!("wgpu: {label}"),
                notice: None,
            }),
            Probe::Software(d, label) => Ok(Selected {
                device: Device::from(d),
                name: format!("wgpu: {label}"),
                notice: Some(format!(
                    "wgpu adapter {label} is a software driver: expect it to be far slower than --backend cpu"
                )),
            }),
            Probe::Missing(why) => anyhow::bail!("--backend wgpu: no wgpu adapter ({why})"),
        },
        _ => Ok(match adapters() {
            Adapters::Gpu => match probe_wgpu() {
                Probe::Gpu(d, label) => Selected {
                    device: Device::from(d),
                    name: format!("wgpu: {label}"),
                    notice: None,
                },
                Probe::Software(_, label) => cpu_instead_of_software(&label),
                Probe::Missing(why) => cpu_without_adapter(&why),
            },
            Adapters::Software(label) => cpu_instead_of_software(&label),
            Adapters::Missing(why) => cpu_without_adapter(&why),
        }),
    }
}

fn cpu_instead_of_software(label: &str) -> Selected {
    cpu_because(|cpu| {
        format!(
            "only a software GPU adapter ({label}); using the CPU backend, {cpu}, which is faster here"
        )
    })
}

fn cpu_without_adapter(why: &str) -> Selected {
    cpu_because(|cpu| format!("no GPU adapter ({why}); using the CPU backend, {cpu}"))
}

/// The fastest CPU backend, with the notice `why(its name)`.
fn cpu_because(why: impl FnOnce(&str) -> String) -> Selected {
    let c = fastest_cpu();
    Selected {
        notice: Some(why(&c.name)),
        ..c
    }
}

/// The fastest CPU backend: flex, split over the cores by `model::shards`. A HyTuning step took
/// 0.70 s on it against 1.29 s on libtorch (2 threads, same binary, docs/speed.md), so libtorch
/// runs only when asked for (`--backend tch`).
fn fastest_cpu() -> Selected {
    cpu()
}

/// LibTorch on the CPU, through an installed PyTorch (`--features tch`, docs/speed.md).
#[cfg(feature = "tch")]
#[allow(deprecated)] // burn marks burn-tch deprecated; it is optional here, for comparisons.
fn tch() -> anyhow::Result<Selected> {
    Ok(Selected {
        device: Device::libtorch(),
        name: "cpu (libtorch)".into(),
        notice: None,
    })
}

#[cfg(not(feature = "tch"))]
fn tch() -> anyhow::Result<Selected> {
    anyhow::bail!("run.backend = \"tch\" needs a build with `--features tch` (and PyTorch 2.9.0)")
}

#[cfg(feature = "ndarray")]
#[allow(deprecated)] // ndarray is kept only to compare against flex in `hytune bench`.
fn ndarray() -> anyhow::Result<Selected> {
    Ok(Selected {
        device: Device::ndarray(),
        name: "cpu (ndarray)".into(),
        notice: None,
    })
}

#[cfg(not(feature = "ndarray"))]
fn ndarray() -> anyhow::Result<Selected> {
    anyhow::bail!("run.backend = \"ndarray\" needs a build with `--features ndarray`")
}

/// The backends this build has, as `BURN_DEVICE` names them.
fn built_backends() -> Vec<&'static str> {
    let mut names = vec!["flex", "wgpu"];
    if cfg!(feature = "tch") {
        names.push("tch");
    }
    if cfg!(feature = "ndarray") {
        names.push("ndarray");
    }
    names
}

/// What `BURN_DEVICE` should be set to, given its value now: `flex` when unset, nothing when it
/// names a backend of this build, an error naming the variable otherwise (Burn would panic).
///
/// Burn materializes a resumed optimizer's state on its default device and moves it to the
/// parameters' device at the next step. Unset, that default is wgpu, whose start-up probes every
/// graphics API: seconds of work, a GPU context on a GPU machine whatever `--backend` says, and
/// Wayland's "XDG_RUNTIME_DIR is invalid" lines on a headless one. Flex is in every build.
pub fn default_device_env(now: Option<&str>) -> anyhow::Result<Option<&'static str>> {
    let Some(v) = now else {
        return Ok(Some("flex"));
    };
    let built = built_backends();
    if built.contains(&v.trim().to_lowercase().as_str()) {
        return Ok(None);
    }
    anyhow::bail!(
        "BURN_DEVICE={v:?}: not a backend of this build ({}); unset it, or name one of those",
        built.join(", ")
    )
}

/// Pins Burn's default device for this process ([`default_device_env`]). Call it first in
/// `main`, before any thread exists: setting the environment is only sound then.
pub fn pin_default_device() -> anyhow::Result<()> {
    let now = std::env::var("BURN_DEVICE").ok();
    if let Some(v) = default_device_env(now.as_deref())? {
        // SAFETY: called from `main` before any other thread starts, so nothing reads the
        // environment concurrently.
        unsafe { std::env::set_var("BURN_DEVICE", v) };
    }
    Ok(())
}

#[cfg(test)]
mod default_device_tests {
    use super::default_device_env;

    #[test]
    fn unset_pins_flex_a_built_backend_is_kept_anything_else_is_refused() {
        assert_eq!(default_device_env(None).unwrap(), Some("flex"));
        assert_eq!(default_device_env(Some("wgpu")).unwrap(), None);
        assert_eq!(default_device_env(Some("Flex")).unwrap(), None);
        let e = default_device_env(Some("cuda")).unwrap_err().to_string();
        assert!(e.contains("BURN_DEVICE=\"cuda\""), "{e}");
        assert!(e.contains("flex, wgpu"), "{e}");
    }
}
