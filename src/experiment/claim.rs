//! Who runs a cell: a claim file in the cell's folder, created with O_EXCL (atomic on local
//! disks and NFS), naming its owner's host, pid and process start. A live owner's claim is
//! respected: the other process moves on. A dead owner's claim (same host: the pid is gone, a
//! zombie, or a newer process; another host: no heartbeat for `STALE`) is taken over, so a
//! killed shard's rerun resumes the cell. The owner touches the claim every few seconds.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

pub const CLAIM: &str = "claim.json";
/// A claim from another machine without a heartbeat for this long belongs to a dead process.
pub const STALE: Duration = Duration::from_secs(120);
const HEARTBEAT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub host: String,
    pub pid: u32,
    /// The process's start (field 22 of /proc/<pid>/stat), which tells a reused pid apart.
    pub start: u64,
}

impl Owner {
    pub fn me() -> Self {
        let pid = std::process::id();
        Owner {
            host: crate::publish::host(),
            pid,
            start: process_start(pid).unwrap_or(0),
        }
    }

    pub fn describe(&self) -> String {
        format!("{} pid {}", self.host, self.pid)
    }
}

/// When process `pid` started (clock ticks since boot), `None` when it is gone or a zombie.
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is the state (field 3); the start time is field 22.
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// Whether the claim's owner may still be working on the cell.
fn alive(owner: &Owner, claim: &Path) -> bool {
    if owner.host == crate::publish::host() {
        return process_start(owner.pid).is_some_and(|s| owner.start == 0 || s == owner.start);
    }
    let age = std::fs::metadata(claim)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok());
    age.is_none_or(|a| a < STALE)
}

/// A held claim: touched in the background while it lives, removed on [`Claim::release`].
pub struct Claim {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    beat: Option<std::thread::JoinHandle<()>>,
}

pub enum Taken {
    Mine(Claim),
    /// Another live process runs the cell (`None`: its claim is still being written).
    Busy(Option<Owner>),
}

fn read_owner(path: &Path) -> Option<Owner> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// Claims the cell folder `dir` (created if needed) for this process.
pub fn take(dir: &Path) -> Result<Taken> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(CLAIM);
    let me = Owner::me();
    for _ in 0..3 {
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                f.write_all(serde_json::to_string(&me)?.as_bytes())
                    .and_then(|_| f.sync_all())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                return Ok(Taken::Mine(Claim::hold(path)));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
        }
        let Some(owner) = read_owner(&path) else {
            // Created an instant ago and not yet written, or unreadable: not ours to take.
            return Ok(Taken::Busy(None));
        };
        if owner == me {
            // Left by this very process (a cell retried after a stop): ours.
            return Ok(Taken::Mine(Claim::hold(path)));
        }
        if alive(&owner, &path) {
            return Ok(Taken::Busy(Some(owner)));
        }
        // A dead owner's claim: move it aside (only one taker's rename succeeds), check it is
        // the one judged dead, and try again to create ours.
        let aside = crate::publish::unique_tmp(&dir.join("claim.dead"));
        if std::fs::rename(&path, &aside).is_ok() {
            if read_owner(&aside).as_ref() != Some(&owner) {
                // Someone else took over in between: put theirs back (unless a newer one exists).
                let _ = std::fs::hard_link(&aside, &path);
                let _ = std::fs::remove_file(&aside);
                return Ok(Taken::Busy(read_owner(&path)));
            }
            let _ = std::fs::remove_file(&aside);
        }
    }
    Ok(Taken::Busy(read_owner(&path)))
}

impl Claim {
    fn hold(path: PathBuf) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (path.clone(), stop.clone());
        let beat = std::thread::Builder::new()
            .name("hytune-claim".into())
            .spawn(move || {
                let mut slept = Duration::ZERO;
                while !s.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(200));
                    slept += Duration::from_millis(200);
                    if slept >= HEARTBEAT {
                        slept = Duration::ZERO;
                        if let Ok(f) = File::options().write(true).open(&p) {
                            let _ = f.set_modified(SystemTime::now());
                        }
                    }
                }
            })
            .ok();
        Claim { path, stop, beat }
    }

    /// Gives the cell up (after its done marker, or on a stop): the claim file goes.
    pub fn release(mut self) {
        self.end();
        let _ = std::fs::remove_file(&self.path);
    }

    fn end(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(b) = self.beat.take() {
            let _ = b.join();
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_taker_and_dead_owners_taken_over() {
        let dir = crate::scratch::TempDir::new().unwrap();
        let cell = dir.path().join("cell");
        let Taken::Mine(c) = take(&cell).unwrap() else {
            panic!("a fresh cell is free")
        };
        // This process again (a retry): still ours.
        assert!(matches!(take(&cell).unwrap(), Taken::Mine(_)));
        // A live process of this host (pid 1 always runs) holds it: busy.
        let init = Owner {
            host: crate::publish::host(),
            pid: 1,
            start: process_start(1).unwrap_or(0),
        };
        std::fs::write(cell.join(CLAIM), serde_json::to_string(&init).unwrap()).unwrap();
        match take(&cell).unwrap() {
            Taken::Busy(Some(o)) => assert_eq!(o.pid, 1),
            _ => panic!("pid 1 is alive"),
        }
        // pid 1 with another start time: a reused pid, so the owner is dead.
        let reused = Owner {
            start: init.start + 1,
            ..init.clone()
        };
        std::fs::write(cell.join(CLAIM), serde_json::to_string(&reused).unwrap()).unwrap();
        assert!(matches!(take(&cell).unwrap(), Taken::Mine(_)));
        // Another machine's claim: alive while its heartbeat is fresh.
        let far = Owner {
            host: "elsewhere-node-7".into(),
            pid: 4242,
            start: 9,
        };
        std::fs::write(cell.join(CLAIM), serde_json::to_string(&far).unwrap()).unwrap();
        assert!(matches!(take(&cell).unwrap(), Taken::Busy(Some(_))));
        let old = SystemTime::now() - STALE - Duration::from_secs(1);
        File::options()
            .write(true)
            .open(cell.join(CLAIM))
            .unwrap()
            .set_modified(old)
            .unwrap();
        let Taken::Mine(c2) = take(&cell).unwrap() else {
            panic!("a stale claim is taken over")
        };
        assert_eq!(read_owner(&cell.join(CLAIM)), Some(Owner::me()));
        c2.release();
        assert!(!cell.join(CLAIM).exists());
        drop(c);
        // No leftovers beside the claim.
        let names: Vec<_> = std::fs::read_dir(&cell).unwrap().flatten().collect();
        assert!(names.is_empty(), "{names:?}");
    }
}
