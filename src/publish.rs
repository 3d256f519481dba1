//! Files that other processes, perhaps on other machines sharing the folder (NFS), may read
//! at any moment: written under a name unique to this process, flushed to disk, then renamed
//! into place, so a reader sees the old file or the whole new one, never a part.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// This machine's name (`/proc/sys/kernel/hostname`, then `$HOSTNAME`), for claim files and
/// temporary names.
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// `path` with a suffix no other process uses: `.tmp-<host>-<pid>`.
pub fn unique_tmp(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}-{}", host(), std::process::id()));
    path.with_file_name(name)
}

/// Writes `bytes` to `path`: a unique temporary file, fsync, rename, then the folder's fsync.
/// A failure leaves the old file (if any) and no temporary behind.
pub fn publish(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = unique_tmp(path);
    let write = || -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Some(dir) = path.parent().and_then(|d| File::open(d).ok()) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// [`publish`] of a copy of `from`.
pub fn publish_copy(from: &Path, to: &Path) -> std::io::Result<()> {
    let tmp = unique_tmp(to);
    let copy = || -> std::io::Result<()> {
        std::fs::copy(from, &tmp)?;
        File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, to)
    };
    copy().inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_replaces_whole_and_leaves_no_temporary() {
        let dir = crate::scratch::TempDir::new().unwrap();
        let p = dir.path().join("results.csv");
        publish(&p, b"old").unwrap();
        publish(&p, b"new, longer").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new, longer");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "only the file itself");
        let t = unique_tmp(&p);
        let t = t.file_name().unwrap().to_string_lossy();
        assert!(t.starts_with("results.csv.tmp-") && t.ends_with(&std::process::id().to_string()));
        // Into a folder that does not exist: an error, nothing written.
        assert!(publish(&dir.path().join("no/such/file"), b"x").is_err());
        let copy = dir.path().join("copy.csv");
        publish_copy(&p, &copy).unwrap();
        assert_eq!(std::fs::read(&copy).unwrap(), b"new, longer");
    }
}
