//! `pipe fmt`.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Files to fmt.
    pub files: Vec<std::path::PathBuf>,
}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`pipe fmt` is not implemented yet")
}
