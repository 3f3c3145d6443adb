//! `drill validate PATH...`: checks drill files and prints every problem at once.

use crate::spec;

use super::args::ValidateArgs;
use super::{CliError, exit};

pub fn validate(args: &ValidateArgs) -> Result<i32, CliError> {
    let files = spec::drill_files(&args.paths).map_err(|e| CliError::Invalid(e.to_string()))?;
    if files.is_empty() {
        return Err(CliError::Invalid(format!(
            "no drill files (*.toml) in {}",
            args.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut invalid = 0;
    for file in &files {
        match spec::load(file) {
            Ok(drill) => println!("{}: ok (drill {})", file.display(), drill.name),
            Err(errors) => {
                invalid += 1;
                eprintln!("{errors}");
            }
        }
    }
    if invalid > 0 {
        eprintln!("{invalid} of {} drill files are invalid", files.len());
        Ok(exit::USAGE)
    } else {
        Ok(exit::PASSED)
    }
}
