//! Escaping for strings the drill does not control: names, set identifiers and descriptions from
//! drill files, record names, error messages and anything else that came back from the cloud.
//! Such a string may hold an escape sequence that recolours or rewrites an operator's terminal, a
//! line break that forges a line of output, or Markdown and HTML that break a report's tables or
//! inject markup into whatever renders it. Every place that prints one goes through here:
//! [`terminal`] for stdout/stderr, [`md_text`] for Markdown prose and table cells, [`md_code`] for
//! a Markdown code span.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Characters that change how text around them reads without being visible: C0 and C1 controls
/// (escape, line breaks, backspace, …), DEL, and the Unicode bidirectional overrides and isolates
/// that reorder what a terminal or browser shows.
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// Writes `c` as Rust writes it in a string literal: `\u{1b}`.
fn visible(out: &mut String, c: char) {
    let _ = write!(out, "\\u{{{:x}}}", c as u32);
}

/// `text` as a terminal may show it: every control character (escape, carriage return, line
/// break, …) and bidirectional override written out as `\u{1b}`, the rest unchanged. Borrowed
/// when there is nothing to escape, which is nearly always.
pub fn terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            visible(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `text` as literal Markdown text, safe in prose, a list item and a table cell: control
/// characters as in [`terminal`] (so a line break cannot end a table row or a list item), and
/// every character Markdown or HTML could act on inline (`\\`, `` ` ``, `*`, `_`, `~`, `[`, `]`,
/// `<`, `>`, `&`, `|`) backslash-escaped, as is a leading `#`, `-`, `+` or `=` that would make a
/// heading or a list of the line. It renders as itself; the raw text stays readable.
pub fn md_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    if text.starts_with(['#', '-', '+', '=']) {
        out.push('\\');
    }
    for c in text.chars() {
        match c {
            c if hidden(c) => visible(&mut out, c),
            '\\' | '`' | '*' | '_' | '~' | '[' | ']' | '<' | '>' | '&' | '|' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// `text` as a Markdown code span that is safe in a table cell: control characters as in
/// [`terminal`], `|` escaped (tables split cells before code spans are read, and GitHub-flavoured
/// Markdown turns `\|` back into `|` inside the span), and a backtick fence longer than any run
/// of backticks in the text, so the text cannot close the span early. HTML inside a code span is
/// shown, never interpreted.
pub fn md_code(text: &str) -> String {
    let mut body = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if hidden(c) => visible(&mut body, c),
            '|' => body.push_str("\\|"),
            c => body.push(c),
        }
    }
    let longest = body
        .split(|c| c != '`')
        .map(str::len)
        .max()
        .unwrap_or_default();
    let fence = "`".repeat(longest + 1);
    // A span that starts or ends with a backtick needs a space between it and the fence; one
    // space each side is stripped when the span is read.
    let pad = if body.starts_with('`') || body.ends_with('`') || body.is_empty() {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{body}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "\x1b[31mred|blue\nnext `tick` <b>";

    #[test]
    fn terminals_see_control_characters_written_out() {
        assert_eq!(
            terminal(HOSTILE),
            "\\u{1b}[31mred|blue\\u{a}next `tick` <b>"
        );
        assert_eq!(terminal("a\u{202e}b\r\u{7f}"), "a\\u{202e}b\\u{d}\\u{7f}");
        assert!(matches!(terminal("us-east-1 primary"), Cow::Borrowed(_)));
        assert_eq!(terminal("café ✓"), "café ✓");
    }

    #[test]
    fn markdown_text_cannot_end_a_row_or_open_markup() {
        let cell = md_text(HOSTILE);
        assert_eq!(cell, r"\u{1b}\[31mred\|blue\u{a}next \`tick\` \<b\>");
        assert!(!cell.contains('\n') && !cell.contains('\x1b'));
        // Every `|` is escaped: the cell stays one cell.
        assert_eq!(cell.matches('|').count(), cell.matches("\\|").count());
        assert_eq!(
            md_text("plain-name.example.com. (A)"),
            "plain-name.example.com. (A)"
        );
        assert_eq!(md_text("# not a heading"), r"\# not a heading");
        assert_eq!(md_text("a_b & <i>"), r"a\_b \& \<i\>");
    }

    #[test]
    fn code_spans_outlast_the_backticks_inside_them() {
        assert_eq!(md_code("api"), "`api`");
        assert_eq!(md_code("a`b"), "``a`b``");
        assert_eq!(md_code("``x"), "``` ``x ```");
        assert_eq!(md_code(""), "`  `");
        assert_eq!(
            md_code(HOSTILE),
            "``\\u{1b}[31mred\\|blue\\u{a}next `tick` <b>``"
        );
    }
}
