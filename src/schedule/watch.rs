//! Noticing edited drill files: an inotify watch on every folder (or file's folder) the scheduler
//! reads, turned into [`Control::Changed`]. The kernel wakes us only when something changes there,
//! so an idle scheduler stays asleep. Elsewhere than Linux, SIGHUP is the way to reload.

use std::path::PathBuf;

use tokio::sync::mpsc;

use super::daemon::Control;

/// Starts watching; changes arrive on `tx` until the receiver is dropped.
#[cfg(target_os = "linux")]
pub fn spawn(paths: &[PathBuf], tx: mpsc::Sender<Control>) -> std::io::Result<()> {
    use futures::StreamExt;
    use inotify::{Inotify, WatchMask};

    let inotify = Inotify::init()?;
    let mask = WatchMask::CLOSE_WRITE
        | WatchMask::MOVED_TO
        | WatchMask::MOVED_FROM
        | WatchMask::CREATE
        | WatchMask::DELETE;
    let mut dirs: Vec<PathBuf> = Vec::new();
    for path in paths {
        let dir = if path.is_dir() {
            path.clone()
        } else {
            match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            }
        };
        if !dirs.contains(&dir) {
            inotify.watches().add(&dir, mask)?;
            tracing::debug!("watching {} for changed drill files", dir.display());
            dirs.push(dir);
        }
    }
    let mut events = inotify.into_event_stream(vec![0u8; 4096])?;
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            match event {
                Ok(event) => {
                    // Only drill files count; editors' swap and backup files do not.
                    let is_drill = event.name.as_ref().is_some_and(|n| {
                        let n = n.to_string_lossy();
                        n.ends_with(".toml") && !n.starts_with('.')
                    });
                    // A full channel already holds a change; one reload covers them all.
                    if is_drill
                        && let Err(mpsc::error::TrySendError::Closed(_)) =
                            tx.try_send(Control::Changed)
                    {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(
                        "stopped watching the drill files ({e}); send SIGHUP to reload them"
                    );
                    return;
                }
            }
        }
    });
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub fn spawn(_paths: &[PathBuf], _tx: mpsc::Sender<Control>) -> std::io::Result<()> {
    tracing::info!("drill files are not watched on this system; send SIGHUP to reload them");
    Ok(())
}
