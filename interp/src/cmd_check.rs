//! `pipe check`.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Files to check.
    pub files: Vec<std::path::PathBuf>,
}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`pipe check` is not implemented yet")
}
