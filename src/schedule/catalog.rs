//! The drills a scheduler runs: every drill file in its folders that has a `schedule`, each with
//! its fire times. Loading never stops at a bad file: an invalid file is set aside with every one
//! of its `PATH:LINE:COL` problems, so one typo cannot unschedule the other drills.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::spec::{self, Drill, SpecErrors};

use super::fires::Fires;

/// A drill that has a schedule.
#[derive(Debug, Clone)]
pub struct Scheduled {
    pub drill: Drill,
    pub fires: Fires,
}

impl Scheduled {
    /// The global cluster: at most one run at a time per target.
    pub fn target(&self) -> &str {
        &self.drill.database.global_cluster
    }
}

#[derive(Debug, Default)]
pub struct Catalog {
    /// By file.
    pub scheduled: BTreeMap<PathBuf, Scheduled>,
    /// Valid drills without a schedule (listed, never run).
    pub unscheduled: Vec<PathBuf>,
    /// Files (or folders) that could not be used, with why.
    pub rejected: Vec<SpecErrors>,
}

/// Loads every drill file under `paths` (files as given, folders' `*.toml`).
pub fn load(paths: &[PathBuf]) -> Catalog {
    let mut catalog = Catalog::default();
    let files = match spec::drill_files(paths) {
        Ok(files) => files,
        Err(errors) => {
            // Some paths are bad; still load the ones that are fine.
            catalog.rejected.push(errors);
            let good: Vec<PathBuf> = paths.iter().filter(|p| p.exists()).cloned().collect();
            spec::drill_files(&good).unwrap_or_default()
        }
    };
    let mut names: BTreeMap<String, PathBuf> = BTreeMap::new();
    for file in files {
        let drill = match spec::load(&file) {
            Ok(drill) => drill,
            Err(errors) => {
                catalog.rejected.push(errors);
                continue;
            }
        };
        // The name keys the scheduler's state, reports and claims: two files cannot share it.
        if let Some(first) = names.get(&drill.name) {
            catalog.rejected.push(SpecErrors {
                path: file.clone(),
                diagnostics: vec![spec::Diagnostic {
                    path: file.clone(),
                    line: 1,
                    col: 1,
                    key: "name".to_string(),
                    message: format!(
                        "drill name \"{}\" is already used by {}; each scheduled drill needs its own name",
                        drill.name,
                        first.display()
                    ),
                }],
            });
            continue;
        }
        names.insert(drill.name.clone(), file.clone());
        let Some(schedule) = &drill.schedule else {
            catalog.unscheduled.push(file);
            continue;
        };
        match Fires::new(schedule) {
            Ok(fires) => {
                catalog.scheduled.insert(file, Scheduled { drill, fires });
            }
            Err(message) => catalog.rejected.push(SpecErrors {
                path: file.clone(),
                diagnostics: vec![spec::Diagnostic::file(&file, message)],
            }),
        }
    }
    catalog
}
