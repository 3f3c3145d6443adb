//! The optional `[lab]` table: how the embedded lab's world differs from its defaults when this
//! drill runs with `--lab` (time scale, the records' original TTL, faults to inject). It changes
//! nothing for runs against AWS. Fault strings are checked with the lab's own parser, so a typo is
//! reported here with its position instead of at run time.

use std::str::FromStr;

use serde::Serialize;

use super::reader::{Field, Reader, Table};

pub(super) const KEYS: &[&str] = &[
    "time_scale",
    "original_ttl",
    "faults",
    "names_per_selection",
];

/// How many names the lab seeds for each `*.suffix` pattern (or omitted `names`) of a
/// `[groups.select]`, when `[lab] names_per_selection` does not say.
pub const DEFAULT_NAMES_PER_SELECTION: u32 = 3;
/// The most `names_per_selection` may ask for: enough for a large estate, bounded so a typo cannot
/// make the lab build millions of records.
pub const MAX_NAMES_PER_SELECTION: u32 = 100_000;

/// The `[lab]` table, validated. Command-line `--fault` and `--time-scale` add to / override it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LabSettings {
    /// Modelled seconds per wall second.
    pub time_scale: Option<f64>,
    /// The TTL every seeded record starts with.
    pub original_ttl: Option<i64>,
    /// Faults, in the `--fault` syntax.
    pub faults: Vec<String>,
    /// Names seeded per `*.suffix` pattern of a `[groups.select]`; None means
    /// [`DEFAULT_NAMES_PER_SELECTION`].
    pub names_per_selection: Option<u32>,
}

impl LabSettings {
    pub fn names_per_selection(&self) -> u32 {
        self.names_per_selection
            .unwrap_or(DEFAULT_NAMES_PER_SELECTION)
    }
}

/// None when the table is present but wrong (the problems are in `r`).
pub(super) fn read(r: &mut Reader, root: &Table) -> Option<Option<LabSettings>> {
    let table = match r.table(root, "lab", "a table [lab]") {
        Field::Present(t) => t,
        Field::Absent => return Some(None),
        Field::Invalid => return None,
    };
    r.keys(&table, KEYS);
    let mut ok = true;
    let mut settings = LabSettings::default();
    match r.number(
        &table,
        "time_scale",
        "a number of modelled seconds per wall second",
    ) {
        Field::Present(s) if s.value > 0.0 && s.value <= 10_000.0 => {
            settings.time_scale = Some(s.value)
        }
        Field::Present(s) => {
            ok = false;
            r.error(
                s.span,
                table.key("time_scale"),
                format!(
                    "{} is out of range: the time scale must be above 0 and at most 10000",
                    s.value
                ),
            );
        }
        Field::Absent => {}
        Field::Invalid => ok = false,
    }
    match r.integer(&table, "original_ttl", "an integer number of seconds") {
        Field::Present(t) if (1..=super::drill::MAX_TTL).contains(&t.value) => {
            settings.original_ttl = Some(t.value)
        }
        Field::Present(t) => {
            ok = false;
            r.error(
                t.span,
                table.key("original_ttl"),
                format!(
                    "{} is out of range: 1 to {}",
                    t.value,
                    super::drill::MAX_TTL
                ),
            );
        }
        Field::Absent => {}
        Field::Invalid => ok = false,
    }
    match r.integer(
        &table,
        "names_per_selection",
        "an integer number of names, 1 to 100000",
    ) {
        Field::Present(n) if (1..=i64::from(MAX_NAMES_PER_SELECTION)).contains(&n.value) => {
            settings.names_per_selection = u32::try_from(n.value).ok()
        }
        Field::Present(n) => {
            ok = false;
            r.error(
                n.span,
                table.key("names_per_selection"),
                format!(
                    "{} is out of range: 1 to {MAX_NAMES_PER_SELECTION}",
                    n.value
                ),
            );
        }
        Field::Absent => {}
        Field::Invalid => ok = false,
    }
    match r.strings(
        &table,
        "faults",
        "an array of fault strings, e.g. [\"switchover-fails\"]",
    ) {
        Field::Present(faults) => {
            for (i, fault) in faults.into_iter().enumerate() {
                match crate::lab::Fault::from_str(&fault.value) {
                    Ok(_) => settings.faults.push(fault.value),
                    Err(e) => {
                        ok = false;
                        r.error(
                            fault.span,
                            format!("{}[{i}]", table.key("faults")),
                            e.to_string(),
                        );
                    }
                }
            }
        }
        Field::Absent => {}
        Field::Invalid => ok = false,
    }
    ok.then_some(Some(settings))
}
