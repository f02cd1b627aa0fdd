//! `pipe graph FILE [--format dot|mermaid]`: prints the stage graph of every
//! binding as Graphviz DOT or a Mermaid flowchart (`pipe_interp::graph_text`).
//! Prints only; runs nothing.

use crate::cmd_run::exit_on_ctrl_c;
use pipe_interp::frontend::{self, cache_dir};
use pipe_interp::graph_text::{dot, mermaid};
use pipe_interp::input_hash::InputHasher;
use pipe_interp::stage_set::StageSet;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Dot,
    Mermaid,
}

#[derive(clap::Args)]
pub struct Args {
    /// The .pipe file.
    pub file: PathBuf,
    #[arg(long, value_enum, default_value = "dot")]
    pub format: Format,
    /// Override a param: `--set bits=3` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub sets: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    exit_on_ctrl_c();
    run_with(args, pipe_stdlib::Stdlib::get())
}

pub fn run_with(args: Args, stages: &dyn StageSet) -> anyhow::Result<ExitCode> {
    let color = std::io::stderr().is_terminal();
    let cache_dir = cache_dir(&args.file, None);
    let inputs = InputHasher::new(&frontend::base_dir(&args.file), &cache_dir);
    let loaded = match frontend::load_or_report(&args.file, stages, &args.sets, color, &inputs) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let text = match args.format {
        Format::Dot => dot(&loaded.graph),
        Format::Mermaid => mermaid(&loaded.graph),
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}
