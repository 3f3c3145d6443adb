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
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        fs::create_dir_all(&dir).map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        if !file.try_lock_exclusive().map_err(io)? {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Err(LockError::Busy {
                target: target.to_string(),
                holder: holder.trim().to_string(),
                path,
            });
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{who} (pid {})", std::process::id()).map_err(io)?;
        Ok(RunLock { file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
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
