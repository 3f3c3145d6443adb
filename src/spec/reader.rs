//! A small reader over toml's span-keeping document (`DeTable`): typed look-ups that record a
//! diagnostic for every problem and carry on, so one run reports the whole file instead of the first
//! mistake. Serde's derive stops at the first error and loses positions; this does neither.

use std::collections::HashSet;
use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diagnostic::{Diagnostic, FILE_KEY, LineIndex};
use super::suggest;

pub(super) type Span = Range<usize>;

/// A value and where it was written.
#[derive(Debug, Clone)]
pub(super) struct At<T> {
    pub value: T,
    pub span: Span,
}

/// The outcome of looking up one key: absent, present but already reported as wrong, or usable.
#[derive(Debug, Clone)]
pub(super) enum Field<T> {
    Absent,
    Invalid,
    Present(T),
}

impl<T> Field<T> {
    pub fn present(self) -> Option<T> {
        match self {
            Field::Present(v) => Some(v),
            Field::Absent | Field::Invalid => None,
        }
    }

    pub fn as_present(&self) -> Option<&T> {
        match self {
            Field::Present(v) => Some(v),
            Field::Absent | Field::Invalid => None,
        }
    }

    pub fn is_absent(&self) -> bool {
        matches!(self, Field::Absent)
    }

    pub fn is_invalid(&self) -> bool {
        matches!(self, Field::Invalid)
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Field<U> {
        match self {
            Field::Present(v) => Field::Present(f(v)),
            Field::Absent => Field::Absent,
            Field::Invalid => Field::Invalid,
        }
    }
}

/// A table of the document together with its position and key path (`""` for the root).
#[derive(Clone)]
pub(super) struct Table<'d, 'i> {
    pub map: &'d DeTable<'i>,
    pub span: Span,
    pub path: String,
}

impl<'d, 'i> Table<'d, 'i> {
    pub fn root(doc: &'d Spanned<DeTable<'i>>) -> Self {
        Table {
            map: doc.get_ref(),
            span: doc.span(),
            path: String::new(),
        }
    }

    /// The key path of `key` inside this table.
    pub fn key(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn get(&self, key: &str) -> Option<&'d Spanned<DeValue<'i>>> {
        self.map.get(key)
    }
}

/// How far a diagnostic can be trusted when the TOML itself is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// From the TOML parser.
    Syntax,
    /// About one value on its own (type, format, range, unknown key): true even in a damaged file.
    Local,
    /// Needs the whole file (missing keys, counts, cross-references): a syntax error can make these
    /// false alarms, so they wait until the syntax is fixed.
    Whole,
}

struct Pending {
    span: Span,
    key: String,
    message: String,
    scope: Scope,
}

pub(super) struct Reader {
    pending: Vec<Pending>,
    /// The parser recovered from syntax errors: the document may hold placeholder values.
    recovering: bool,
}

impl Reader {
    pub fn new(recovering: bool) -> Self {
        Reader {
            pending: Vec::new(),
            recovering,
        }
    }

    pub fn has_errors(&self) -> bool {
        !self.pending.is_empty()
    }

    pub fn syntax(&mut self, span: Span, message: impl Into<String>) {
        self.push(span, FILE_KEY.to_string(), message.into(), Scope::Syntax);
    }

    /// A problem with one value, judged on its own.
    pub fn error(&mut self, span: Span, key: impl Into<String>, message: impl Into<String>) {
        self.push(span, key.into(), message.into(), Scope::Local);
    }

    /// A problem that needs the whole file to judge: a missing key, a count, two values that
    /// contradict each other.
    pub fn conflict(&mut self, span: Span, key: impl Into<String>, message: impl Into<String>) {
        self.push(span, key.into(), message.into(), Scope::Whole);
    }

    /// A required key that is absent, reported at the table that should hold it.
    pub fn missing(&mut self, table: &Table, key: &str, message: impl Into<String>) {
        self.conflict(table.span.clone(), table.key(key), message);
    }

    fn push(&mut self, span: Span, key: String, message: String, scope: Scope) {
        self.pending.push(Pending {
            span,
            key,
            message,
            scope,
        });
    }

    /// Reports every key of `table` that is not in `allowed`: a typo must never silently drop a
    /// safety step.
    pub fn keys(&mut self, table: &Table, allowed: &[&str]) {
        for (key, _) in table.map.iter() {
            let name: &str = key.get_ref();
            if allowed.contains(&name) {
                continue;
            }
            let hint = match suggest::closest_key(name, allowed.iter().copied()) {
                Some(s) => format!(" (did you mean `{s}`?)"),
                None => String::new(),
            };
            let message = format!(
                "unknown key `{name}`{hint}; allowed here: {}",
                allowed.join(", ")
            );
            self.error(key.span(), table.key(name), message);
        }
    }

    /// Looks `key` up; reports a wrong type (`expected …, found …`) through `convert` returning None.
    fn typed<'d, 'i, T>(
        &mut self,
        table: &Table<'d, 'i>,
        key: &str,
        expected: &str,
        convert: impl FnOnce(&'d DeValue<'i>) -> Option<T>,
    ) -> Field<At<T>> {
        let Some(value) = table.get(key) else {
            return Field::Absent;
        };
        let span = value.span();
        // A parser that recovered from a syntax error fills the gap with an empty placeholder.
        if self.recovering && span.is_empty() {
            return Field::Invalid;
        }
        match convert(value.get_ref()) {
            Some(v) => Field::Present(At { value: v, span }),
            None => {
                let message = format!("expected {expected}, found {}", describe(value.get_ref()));
                self.error(span, table.key(key), message);
                Field::Invalid
            }
        }
    }

    pub fn string(&mut self, table: &Table, key: &str, expected: &str) -> Field<At<String>> {
        self.typed(table, key, expected, |v| v.as_str().map(str::to_string))
    }

    pub fn boolean(&mut self, table: &Table, key: &str, expected: &str) -> Field<At<bool>> {
        self.typed(table, key, expected, DeValue::as_bool)
    }

    pub fn integer(&mut self, table: &Table, key: &str, expected: &str) -> Field<At<i64>> {
        let field = self.typed(table, key, expected, |v| {
            v.as_integer().map(|i| (i.as_str().to_string(), i.radix()))
        });
        match field {
            Field::Present(At {
                value: (text, radix),
                span,
            }) => match i64::from_str_radix(&text, radix) {
                Ok(v) => Field::Present(At { value: v, span }),
                Err(_) => {
                    self.error(
                        span,
                        table.key(key),
                        format!("integer {text} is out of range"),
                    );
                    Field::Invalid
                }
            },
            Field::Absent => Field::Absent,
            Field::Invalid => Field::Invalid,
        }
    }

    /// A number written as an integer or a float (`30` or `2.5`).
    pub fn number(&mut self, table: &Table, key: &str, expected: &str) -> Field<At<f64>> {
        self.typed(table, key, expected, |v| match v {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .map(|n| n as f64),
            DeValue::Float(f) => f.as_str().replace('_', "").parse().ok(),
            _ => None,
        })
    }

    /// An array of strings, each with its own span; a non-string element is reported.
    pub fn strings(&mut self, table: &Table, key: &str, expected: &str) -> Field<Vec<At<String>>> {
        let path = table.key(key);
        let Field::Present(array) = self.typed(table, key, expected, DeValue::as_array) else {
            return if table.get(key).is_some() {
                Field::Invalid
            } else {
                Field::Absent
            };
        };
        let mut items = Vec::new();
        let mut all_strings = true;
        for (i, item) in array.value.iter().enumerate() {
            match item.get_ref().as_str() {
                Some(text) => items.push(At {
                    value: text.to_string(),
                    span: item.span(),
                }),
                None => {
                    all_strings = false;
                    let message = format!("expected a string, found {}", describe(item.get_ref()));
                    self.error(item.span(), format!("{path}[{i}]"), message);
                }
            }
        }
        if all_strings {
            Field::Present(items)
        } else {
            Field::Invalid
        }
    }

    pub fn table<'d, 'i>(
        &mut self,
        table: &Table<'d, 'i>,
        key: &str,
        expected: &str,
    ) -> Field<Table<'d, 'i>> {
        let path = table.key(key);
        self.typed(table, key, expected, DeValue::as_table)
            .map(|at| Table {
                map: at.value,
                span: at.span,
                path,
            })
    }

    /// An array of tables (`[[groups]]`); each element's key path is `key[i]`.
    pub fn tables<'d, 'i>(
        &mut self,
        table: &Table<'d, 'i>,
        key: &str,
        expected: &str,
    ) -> Field<At<Vec<Table<'d, 'i>>>> {
        let path = table.key(key);
        let Field::Present(array) = self.typed(table, key, expected, DeValue::as_array) else {
            return if table.get(key).is_some() {
                Field::Invalid
            } else {
                Field::Absent
            };
        };
        let mut items = Vec::new();
        let mut all_tables = true;
        for (i, item) in array.value.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            match item.get_ref().as_table() {
                Some(map) => items.push(Table {
                    map,
                    span: item.span(),
                    path: item_path,
                }),
                None => {
                    all_tables = false;
                    let message = format!("expected a table, found {}", describe(item.get_ref()));
                    self.error(item.span(), item_path, message);
                }
            }
        }
        if all_tables {
            Field::Present(At {
                value: items,
                span: array.span,
            })
        } else {
            Field::Invalid
        }
    }

    /// The diagnostics in file order. When the TOML had syntax errors, the parser's recovery may
    /// have dropped keys or put them in the wrong table, so only what cannot be a false alarm is
    /// kept: the syntax errors, and value-level problems (types, formats, unknown keys) on lines the
    /// damage cannot reach. Missing keys and cross-checks wait until the syntax is fixed.
    pub fn finish(self, path: &Path, text: &str) -> Vec<Diagnostic> {
        let lines = LineIndex::new(text);
        let syntax: Vec<(usize, &str)> = self
            .pending
            .iter()
            .filter(|p| p.scope == Scope::Syntax)
            .map(|p| (lines.position(p.span.start).0, p.message.as_str()))
            .collect();
        let syntax_lines: HashSet<usize> = syntax.iter().map(|(line, _)| *line).collect();
        // A broken table header or an unclosed bracket moves every later key into the wrong table;
        // after one of those, only what comes before the first syntax error can be trusted.
        let structural = syntax.iter().any(|(line, message)| {
            message.contains("unclosed")
                || text
                    .lines()
                    .nth(line - 1)
                    .is_some_and(|l| l.trim_start().starts_with('['))
        });
        let first_syntax_line = syntax_lines.iter().min().copied();
        let mut out: Vec<Diagnostic> = Vec::new();
        let mut pending = self.pending;
        pending.sort_by_key(|p| p.span.start);
        let mut reported_syntax_lines = HashSet::new();
        for p in pending {
            let (line, col) = lines.position(p.span.start);
            let keep = match (p.scope, first_syntax_line) {
                (Scope::Syntax, _) | (_, None) => true,
                (Scope::Whole, Some(_)) => false,
                (Scope::Local, Some(first)) if structural => line < first,
                (Scope::Local, Some(_)) => !syntax_lines.contains(&line),
            };
            // One mistake often trips the parser twice on a line (`ttl = = 60`): the first says it.
            let echo = p.scope == Scope::Syntax && !reported_syntax_lines.insert(line);
            if !keep || echo {
                continue;
            }
            let d = Diagnostic {
                path: path.to_path_buf(),
                line,
                col,
                key: p.key,
                message: p.message,
            };
            if !out.contains(&d) {
                out.push(d);
            }
        }
        // Stable: problems at the same position keep the order in which they were found.
        out.sort_by_key(|d| (d.line, d.col));
        out
    }
}

/// `the string "60"`, `the integer 60`, `a table`: what was written instead, for type errors.
fn describe(value: &DeValue) -> String {
    match value {
        DeValue::String(s) => {
            let shown: String = s.chars().take(40).collect();
            let ellipsis = if s.chars().count() > 40 { "…" } else { "" };
            format!("the string \"{}{ellipsis}\"", shown.escape_debug())
        }
        DeValue::Integer(i) => format!("the integer {i}"),
        DeValue::Float(f) => format!("the float {f}"),
        DeValue::Boolean(b) => format!("the boolean {b}"),
        DeValue::Datetime(d) => format!("the date-time {d}"),
        DeValue::Array(_) => "an array".to_string(),
        DeValue::Table(_) => "a table".to_string(),
    }
}
