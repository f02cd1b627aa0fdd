//! `pipe doc`.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Files to doc.
    pub files: Vec<std::path::PathBuf>,
}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`pipe doc` is not implemented yet")
}
