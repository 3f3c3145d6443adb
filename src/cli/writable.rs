//! Checks that a report can be written where the operator asked, before anything is changed: a
//! drill whose report cannot be written would end without its evidence, and `drill run` used to
//! find out only after the drill (and exit 0). Each check writes and removes a probe file, because
//! permission bits do not tell the whole story (read-only mounts, ACLs, quotas).

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use super::CliError;

/// `drill run --report PATH`: PATH must not be a folder, and its parent must be an existing folder
/// this process can create files in. Nothing is created or left behind.
pub fn report_file(path: &Path) -> Result<(), CliError> {
    let refuse = |why: String| {
        Err(CliError::Usage(format!(
            "--report {}: {why}; nothing was changed",
            path.display()
        )))
    };
    if path.as_os_str().to_string_lossy().ends_with('/') || path.is_dir() {
        return refuse("is a folder, not a file".to_string());
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    match std::fs::metadata(&parent) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return refuse(format!(
                "the folder {} does not exist (create it first)",
                parent.display()
            ));
        }
        Err(e) => return refuse(format!("cannot use the folder {}: {e}", parent.display())),
        Ok(m) if !m.is_dir() => {
            return refuse(format!("{} is not a folder", parent.display()));
        }
        Ok(_) => {}
    }
    probe(&parent).or_else(|e| refuse(format!("cannot write in {}: {e}", parent.display())))
}

/// `drill schedule --reports DIR`: DIR is created if missing (and the log says so), and must be a
/// folder this process can create files in.
pub fn reports_dir(dir: &Path) -> Result<(), CliError> {
    let refuse = |why: String| {
        Err(CliError::Usage(format!(
            "--reports {}: {why}; no drill was scheduled",
            dir.display()
        )))
    };
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => return refuse("is not a folder".to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Err(e) = std::fs::create_dir_all(dir) {
                return refuse(format!("does not exist and cannot be created: {e}"));
            }
            tracing::info!("created the reports folder {}", dir.display());
        }
        Err(e) => return refuse(format!("cannot use it: {e}")),
    }
    probe(dir).or_else(|e| refuse(format!("cannot write in it: {e}")))
}

/// Creates and removes a file in `dir`.
fn probe(dir: &Path) -> std::io::Result<()> {
    let name = format!(".drill-write-check-{}", std::process::id());
    let path = dir.join(name);
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(r: Result<(), CliError>) -> String {
        match r {
            Err(CliError::Usage(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_report_file_needs_an_existing_writable_folder_and_is_not_one() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("r.json");
        report_file(&ok).unwrap();
        assert!(!ok.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let missing = dir.path().join("no/r.json");
        assert!(message(report_file(&missing)).contains("does not exist"));
        assert!(!dir.path().join("no").exists());
        assert!(message(report_file(dir.path())).contains("is a folder"));
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        assert!(message(report_file(&file.join("r.json"))).contains("is not a folder"));
    }

    #[test]
    fn a_reports_folder_is_created_when_missing() {
        let dir = tempfile::tempdir().unwrap();
        let reports = dir.path().join("a/b");
        reports_dir(&reports).unwrap();
        assert!(reports.is_dir());
        assert_eq!(std::fs::read_dir(&reports).unwrap().count(), 0);
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        assert!(message(reports_dir(&file)).contains("is not a folder"));
    }
}
