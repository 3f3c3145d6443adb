//! What a rejected drill file reports: one `Diagnostic` per problem, `PATH:LINE:COL: key: message`,
//! and the byte-offset → line:col mapping behind those positions.

use std::fmt;
use std::path::{Path, PathBuf};

/// The key of a problem that belongs to the file as a whole (syntax, I/O) rather than to one key.
pub const FILE_KEY: &str = "<file>";

/// One problem in a drill file.
///
/// Displays as `PATH:LINE:COL: key.path: message`: line and column are 1-based and the column counts
/// characters, so editors and terminals can jump to it. The key path looks like
/// `groups[1].records[0].type` or `database.mode`; problems without a key use [`FILE_KEY`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: PathBuf,
    pub line: usize,
    pub col: usize,
    pub key: String,
    pub message: String,
}

impl Diagnostic {
    /// A problem with the file itself (unreadable, not a folder, …), placed at 1:1.
    pub fn file(path: &Path, message: impl Into<String>) -> Self {
        Diagnostic {
            path: path.to_path_buf(),
            line: 1,
            col: 1,
            key: FILE_KEY.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.path.display(),
            self.line,
            self.col,
            self.key,
            self.message
        )
    }
}

/// Every problem found in one file (or, from `drill_files`, in one list of paths), in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecErrors {
    pub path: PathBuf,
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecErrors {}

/// Maps byte offsets in a text to 1-based line and column (in characters).
pub(crate) struct LineIndex<'s> {
    text: &'s str,
    /// Byte offset where each line starts.
    starts: Vec<usize>,
}

impl<'s> LineIndex<'s> {
    pub(crate) fn new(text: &'s str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { text, starts }
    }

    /// The 1-based (line, column) of a byte offset. Offsets past the end or inside a character are
    /// clamped; an offset at the very end of a file that ends in a newline points at that newline, so
    /// "unexpected end of file" lands on the last real line.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        if offset == self.text.len() && offset > 0 && self.text.ends_with('\n') {
            offset -= 1;
        }
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&start| start <= offset) - 1;
        let mut start = self.starts[line];
        // A byte-order mark is invisible in every editor: do not count it as a column.
        if line == 0 && self.text.starts_with('\u{feff}') && offset >= 3 {
            start = 3;
        }
        let col = self.text[start..offset].chars().count() + 1;
        (line + 1, col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_one_based_lines_and_columns() {
        let idx = LineIndex::new("ab\ncd\n\nef");
        assert_eq!(idx.position(0), (1, 1));
        assert_eq!(idx.position(1), (1, 2));
        assert_eq!(idx.position(2), (1, 3), "the newline itself ends line 1");
        assert_eq!(idx.position(3), (2, 1));
        assert_eq!(idx.position(6), (3, 1));
        assert_eq!(idx.position(7), (4, 1));
        assert_eq!(idx.position(8), (4, 2));
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let text = "name = \"für\" x";
        let idx = LineIndex::new(text);
        let x = text.find('x').unwrap();
        assert_eq!(idx.position(x), (1, 14));
        // An offset inside the two-byte `ü` snaps back to the character's start.
        let u = text.find('ü').unwrap();
        assert_eq!(idx.position(u + 1), idx.position(u));
    }

    #[test]
    fn end_of_file_is_clamped_to_the_last_line() {
        let idx = LineIndex::new("a = 1\nb = [\n");
        assert_eq!(idx.position(12), (2, 6));
        assert_eq!(idx.position(500), (2, 6));
        assert_eq!(LineIndex::new("").position(0), (1, 1));
        assert_eq!(LineIndex::new("abc").position(3), (1, 4));
    }

    #[test]
    fn crlf_lines_and_byte_order_marks() {
        let idx = LineIndex::new("a\r\nb");
        assert_eq!(idx.position(3), (2, 1));
        let bom = "\u{feff}x = 1";
        assert_eq!(LineIndex::new(bom).position(bom.find('x').unwrap()), (1, 1));
        assert_eq!(LineIndex::new(bom).position(bom.find('1').unwrap()), (1, 5));
    }

    #[test]
    fn errors_display_one_diagnostic_per_line() {
        let d = |line, key: &str| Diagnostic {
            path: PathBuf::from("drills/x.toml"),
            line,
            col: 3,
            key: key.to_string(),
            message: "bad".to_string(),
        };
        let errors = SpecErrors {
            path: PathBuf::from("drills/x.toml"),
            diagnostics: vec![d(1, "name"), d(7, "groups[0].zone")],
        };
        assert_eq!(
            errors.to_string(),
            "drills/x.toml:1:3: name: bad\ndrills/x.toml:7:3: groups[0].zone: bad"
        );
    }
}
