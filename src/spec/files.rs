//! Turning command-line paths into drill files: files as given, folders as the `*.toml` directly
//! inside them; and reading one, which every command does through [`read`]: only a regular file of
//! at most [`MAX_DRILL_FILE_BYTES`] is read, so a named pipe cannot hang a command and a device
//! cannot fill its memory.

use std::fs::{File, Metadata};
use std::io::Read;
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
        } else {
            match std::fs::metadata(path) {
                Err(e) => Err(Diagnostic::file(
                    path,
                    format!("cannot read the drill file: {e}"),
                )),
                Ok(meta) => match unreadable(&meta) {
                    Some(why) => Err(Diagnostic::file(path, why)),
                    None => Ok(vec![path.clone()]),
                },
            }
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

/// The largest drill file any command reads. Drills are a few kilobytes; the bound is what a wrong
/// path (a log, a disk image) may cost.
pub const MAX_DRILL_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Why a file with this metadata cannot be a drill file, if it cannot.
fn unreadable(meta: &Metadata) -> Option<String> {
    if !meta.is_file() {
        return Some(format!(
            "not a regular file ({}); a drill file must be one",
            kind(meta)
        ));
    }
    (meta.len() > MAX_DRILL_FILE_BYTES).then(|| too_large(&format!("{} bytes", meta.len())))
}

fn too_large(size: &str) -> String {
    format!(
        "the file is {size}, more than a drill file may be ({MAX_DRILL_FILE_BYTES} bytes, 16 MiB)"
    )
}

fn kind(meta: &Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a named pipe"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a plain file"
    }
}

/// Reads a drill file's bytes, refusing anything but a regular file of at most
/// [`MAX_DRILL_FILE_BYTES`] before opening it, so a named pipe never blocks the open.
pub(super) fn read(path: &Path) -> Result<Vec<u8>, Diagnostic> {
    let fail = |why: String| Diagnostic::file(path, why);
    let io = |e: std::io::Error| fail(format!("cannot read the drill file: {e}"));
    if let Some(why) = unreadable(&std::fs::metadata(path).map_err(io)?) {
        return Err(fail(why));
    }
    let file = File::open(path).map_err(io)?;
    // Checked again on what was opened (the path may have been replaced in between), and the read
    // is bounded whatever the file does after.
    if let Some(why) = unreadable(&file.metadata().map_err(io)?) {
        return Err(fail(why));
    }
    let mut bytes = Vec::new();
    file.take(MAX_DRILL_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_DRILL_FILE_BYTES {
        return Err(fail(too_large(&format!(
            "more than {MAX_DRILL_FILE_BYTES} bytes"
        ))));
    }
    Ok(bytes)
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
