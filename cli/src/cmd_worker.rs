//! `pipe worker` (hidden): the flags of one Slurm array task, started by
//! `pipe run --executor slurm`; `pipe_interp::slurm::worker` runs its nodes.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The .pipe file, as the controller named it.
    pub file: PathBuf,
    /// The shared cache directory.
    #[arg(long, value_name = "DIR")]
    pub cache: PathBuf,
    /// The task list: line i holds the keys array task i runs.
    #[arg(long, value_name = "FILE")]
    pub tasks: PathBuf,
    /// Which line to run (default: `$SLURM_ARRAY_TASK_ID`).
    #[arg(long, value_name = "N")]
    pub task: Option<usize>,
    /// The run's param overrides, as given to `pipe run`.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub sets: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let task = pipe_interp::slurm::worker::Args {
        file: args.file,
        cache: args.cache,
        tasks: args.tasks,
        task: args.task,
        sets: args.sets,
    };
    Ok(pipe_interp::slurm::worker::run_with(
        task,
        pipe_stdlib::Stdlib::get(),
    )?)
}
