//! Turning command-line paths into drill files: files as given, folders as the `*.toml` directly
//! inside them.

use std::path::{Path, PathBuf};

use super::diagnostic::{Diagnostic, SpecErrors};

/// Expands files and folders into drill files. A folder contributes every `*.toml` file directly
/// inside it (not hidden files, not subfolders), sorted by name; a folder with none is an error, as
/// is a path that does not exist. The same file named twice is listed once. All bad paths are
/// reported together; `SpecErrors::path` is the first.
pub fn drill_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, SpecErrors> {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut seen = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        let found = if path.is_dir() {
            folder(path)
        } else if path.is_file() {
            Ok(vec![path.clone()])
        } else {
            let why = match std::fs::metadata(path) {
                Err(e) => format!("cannot read the drill file: {e}"),
                Ok(_) => "not a file or folder".to_string(),
            };
            Err(Diagnostic::file(path, why))
        };
        match found {
            Ok(found) => {
                for file in found {
                    // Two spellings of one file (drills/x.toml, ./drills/x.toml) are one drill.
                    let identity = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
                    if !seen.contains(&identity) {
                        seen.push(identity);
                        files.push(file);
                    }
                }
            }
            Err(d) => problems.push(d),
        }
    }
    match problems.first() {
        None => Ok(files),
        Some(first) => Err(SpecErrors {
            path: first.path.clone(),
            diagnostics: problems,
        }),
    }
}

fn folder(dir: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Diagnostic::file(dir, format!("cannot list the folder: {e}")))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry =
            entry.map_err(|e| Diagnostic::file(dir, format!("cannot list the folder: {e}")))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        // Editors leave `.#x.toml` and similar behind; a hidden file is never a drill.
        if name.starts_with('.') || path.extension().is_none_or(|e| e != "toml") || !path.is_file()
        {
            continue;
        }
        files.push(path);
    }
    if files.is_empty() {
        return Err(Diagnostic::file(
            dir,
            "the folder holds no *.toml drill files",
        ));
    }
    files.sort();
    Ok(files)
}
