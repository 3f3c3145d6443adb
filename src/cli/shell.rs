//! `drill completions SHELL` and `drill man`: shell completions and the manual page, generated from
//! the same command-line definition the binary parses, so they never drift from it.

use std::io::Write;

use clap::CommandFactory;

use super::CliError;
use super::args::{Cli, CompletionsArgs, ManArgs};

pub fn completions(args: &CompletionsArgs) -> Result<i32, CliError> {
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cmd, "drill", &mut out);
    out.flush()
        .map_err(|e| CliError::Usage(format!("cannot write the completions: {e}")))?;
    Ok(0)
}

pub fn man(args: &ManArgs) -> Result<i32, CliError> {
    if let Some(dir) = &args.dir {
        clap_mangen::generate_to(Cli::command(), dir).map_err(|e| {
            CliError::Usage(format!(
                "cannot write the manual pages to {}: {e}",
                dir.display()
            ))
        })?;
        return Ok(0);
    }
    let page = clap_mangen::Man::new(Cli::command());
    let mut out = std::io::stdout().lock();
    page.render(&mut out)
        .and_then(|()| out.flush())
        .map_err(|e| CliError::Usage(format!("cannot write the manual page: {e}")))?;
    Ok(0)
}
