//! `pipe explain FILE NAME`: prints, for each node NAME stands for, whether it is
//! cached and, when not, why it would rerun (`pipe_interp::explain`). Reads the
//! cache; never runs or writes anything but discarding a damaged entry.

use crate::cmd_run::exit_on_ctrl_c;
use pipe_interp::cache::Cache;
use pipe_interp::explain::{explain, nodes_named};
use pipe_interp::frontend::{self, cache_dir};
use pipe_interp::input_hash::InputHasher;
use pipe_interp::stage_set::StageSet;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The .pipe file.
    pub file: PathBuf,
    /// A binding or node name (`acc`, `hw[pe=int8,rows=16]`).
    pub name: String,
    /// Override a param: `--set bits=3` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub sets: Vec<String>,
    /// Cache directory (default: `.pipe-cache/` beside the file).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    exit_on_ctrl_c();
    run_with(args, pipe_stdlib::Stdlib::get())
}

pub fn run_with(args: Args, stages: &dyn StageSet) -> anyhow::Result<ExitCode> {
    let color = std::io::stderr().is_terminal();
    let cache_dir = cache_dir(&args.file, args.cache.as_deref());
    let inputs = InputHasher::new(&frontend::base_dir(&args.file), &cache_dir);
    let loaded = match frontend::load_or_report(&args.file, stages, &args.sets, color, &inputs) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let graph = &loaded.graph;
    let ids = match nodes_named(graph, &args.name) {
        Ok(ids) => ids,
        Err(msg) => {
            eprintln!("error: {msg}");
            return Ok(ExitCode::from(2));
        }
    };
    let cache = Cache::open(&cache_dir)?;
    cache.lock_for_run()?;
    for id in ids {
        print!("{}", explain(graph, &cache, id));
    }
    Ok(ExitCode::SUCCESS)
}
