//! The local run lock: one exclusive file lock per global cluster in `<state-dir>/locks/`, held for
//! the whole run (and by `drill recover`), so two drills never act on the same target from this
//! host. The OS drops the lock when the process dies, even by SIGKILL, so a crash never leaves a
//! stale lock behind; the journal, not the lock, records what is left to undo.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fs4::fs_std::FileExt;

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("lock {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "global cluster {target} is locked by another drill on this host ({holder}); lock file {path}"
    )]
    Busy {
        target: String,
        holder: String,
        path: PathBuf,
    },
}

/// Held for as long as the value lives.
#[derive(Debug)]
pub struct RunLock {
    file: File,
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock for `target` without waiting; `who` is written into the file so a refused
    /// run can say which run holds it.
    pub fn acquire(state_dir: &Path, target: &str, who: &str) -> Result<Self, LockError> {
        let dir = state_dir.join("locks");
        let safe: String = target
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("{safe}.lock"));
        match try_lock_file(&path, &format!("{who} (pid {})", std::process::id())) {
            Ok(Tried::Held(file)) => Ok(RunLock { file, path }),
            Ok(Tried::Busy(holder)) => Err(LockError::Busy {
                target: target.to_string(),
                holder,
                path,
            }),
            Err(source) => Err(LockError::Io { path, source }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// What [`try_lock_file`] found.
#[derive(Debug)]
pub enum Tried {
    /// The lock is ours while the file stays open; it holds our `who`.
    Held(File),
    /// Someone holds it; what they wrote into the file.
    Busy(String),
}

/// Creates `path` (and its folder) if need be and takes an exclusive lock on it without waiting,
/// writing `who` into it; or reads who holds it. The OS drops the lock when the process ends.
pub fn try_lock_file(path: &Path, who: &str) -> std::io::Result<Tried> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    if !file.try_lock_exclusive()? {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        return Ok(Tried::Busy(holder.trim().to_string()));
    }
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    writeln!(file, "{who}")?;
    Ok(Tried::Held(file))
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = FileExt::unlock(&self.file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_run_on_the_same_target_is_refused_until_the_first_ends() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunLock::acquire(dir.path(), "app-global", "run A").unwrap();
        let err = RunLock::acquire(dir.path(), "app-global", "run B").unwrap_err();
        assert!(err.to_string().contains("run A"), "{err}");
        // Another target is independent.
        RunLock::acquire(dir.path(), "other-global", "run C").unwrap();
        drop(first);
        RunLock::acquire(dir.path(), "app-global", "run B").unwrap();
    }
}
