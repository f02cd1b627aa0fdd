//! `pipe runs gc FILE... [--keep N]`: removes all but the newest N run directories
//! of each file (`runs/<file stem>/<timestamp>/`). `pipe run` applies the same
//! retention after every run (`PIPE_KEEP_RUNS`, default 20). Only directory
//! names `pipe run` gives are removed; links are removed, never followed. Never
//! runs a stage and never touches the cache.

use pipe_interp::human::human_size;
use pipe_interp::report;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: RunsCommand,
}

#[derive(clap::Subcommand)]
pub enum RunsCommand {
    /// Remove all but the newest run directories of each file.
    Gc {
        /// The .pipe files whose `runs/<stem>/` to prune.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// How many run directories to keep per file (0 keeps all); default
        /// `PIPE_KEEP_RUNS`, else 20.
        #[arg(long, value_name = "N")]
        keep: Option<usize>,
    },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let RunsCommand::Gc { files, keep } = args.command;
    let keep = match keep.map_or_else(report::keep_runs_setting, Ok) {
        Ok(k) => k,
        Err(msg) => {
            eprintln!("error: {msg}");
            return Ok(ExitCode::from(2));
        }
    };
    for file in &files {
        let parent = runs_dir(file);
        let (removed, freed) = report::prune_runs(&parent, keep);
        println!(
            "{}: removed {removed} run directories, freed {}",
            parent.display(),
            human_size(freed)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `runs/<stem>/` beside `file`.
fn runs_dir(file: &Path) -> PathBuf {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pipeline".into());
    pipe_interp::frontend::base_dir(file)
        .join("runs")
        .join(stem)
}
