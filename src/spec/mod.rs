//! Drill files: parsing, validation with `file:line:col` diagnostics, and the validated model.
//!
//! A file is read once into toml's span-keeping document and walked by a small reader that records
//! every problem (syntax, unknown keys, types, missing keys, semantic rules) instead of stopping at
//! the first. Nothing outside this module sees an unvalidated drill: `load` returns a `Drill` or
//! every reason it is not one. The format is documented in `docs/drill-format.md`.

mod alarms;
mod checks;
mod diagnostic;
mod drill;
mod files;
mod groups;
mod lab;
pub mod model;
pub mod notify;
mod probes;
mod reader;
mod records;
pub mod regions;
mod resolve;
mod schedule;
pub mod scheduling;
mod select;
mod suggest;
mod traffic;

use std::path::Path;

use sha2::{Digest, Sha256};
use toml::de::DeTable;

pub use alarms::{AlarmRef, AlarmWatch};
pub use checks::RECORD_TYPES;
pub use diagnostic::{Diagnostic, FILE_KEY, SpecErrors};
pub use drill::{
    DEFAULT_INSYNC, DEFAULT_PROMOTION, DEFAULT_SOAK, DEFAULT_TTL, DEFAULT_VERIFY, MAX_TTL,
};
pub use files::{MAX_DRILL_FILE_BYTES, drill_files};
pub use lab::{DEFAULT_NAMES_PER_SELECTION, LabSettings, MAX_NAMES_PER_SELECTION};
pub use model::*;
pub use notify::Notify;
pub use resolve::resolve;
pub use schedule::parse_cron;
pub use select::{DEFAULT_PRIMARY_WEIGHT, DEFAULT_SECONDARY_WEIGHT};

/// Reads and validates a drill file: every command loads one through here. An unreadable file
/// (missing, not a regular file, over `MAX_DRILL_FILE_BYTES`) is one diagnostic; `Drill::sha256` is the
/// hash of the file's bytes.
pub fn load(path: &Path) -> Result<Drill, SpecErrors> {
    let fail = |d: Diagnostic| SpecErrors {
        path: path.to_path_buf(),
        diagnostics: vec![d],
    };
    let bytes = files::read(path).map_err(fail)?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        // Point at the first bad byte: everything before it is valid text.
        let valid = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
        let line = valid.matches('\n').count() + 1;
        let col = valid.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        fail(Diagnostic {
            line,
            col,
            ..Diagnostic::file(path, "the file is not valid UTF-8 (TOML files must be)")
        })
    })?;
    parse(path, text)
}

/// Validates drill text; `path` is used for diagnostics and recorded in the `Drill`.
pub fn parse(path: &Path, text: &str) -> Result<Drill, SpecErrors> {
    let sha256 = format!("{:x}", Sha256::digest(text.as_bytes()));
    let (doc, syntax) = DeTable::parse_recoverable(text);
    let mut r = reader::Reader::new(!syntax.is_empty());
    for e in &syntax {
        r.syntax(
            e.span().unwrap_or(0..0),
            format!("invalid TOML: {}", e.message()),
        );
    }
    let drill = drill::read(&mut r, &reader::Table::root(&doc), path, sha256);
    let diagnostics = r.finish(path, text);
    match drill {
        Some(drill) if diagnostics.is_empty() => Ok(drill),
        _ if !diagnostics.is_empty() => Err(SpecErrors {
            path: path.to_path_buf(),
            diagnostics,
        }),
        // Every rejection records its reason; reaching this is a bug, but say so rather than
        // accept the file or panic.
        _ => Err(SpecErrors {
            path: path.to_path_buf(),
            diagnostics: vec![Diagnostic::file(
                path,
                "internal error: the file was rejected without a reason; please report this",
            )],
        }),
    }
}
