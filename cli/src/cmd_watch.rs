//! `pipe watch FILE [NAME...]`: keeps the named bindings up to date on every save
//! (`pipe_interp::watch`), printing each line it emits. Ctrl-C stops cleanly
//! (exit 0); a second Ctrl-C exits at once (130).

use crate::cmd_run::capped_local_jobs;
use pipe_interp::frontend::cache_dir;
use pipe_interp::watch::{watch, WatchOptions};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(clap::Args)]
pub struct Args {
    /// The .pipe file.
    pub file: PathBuf,
    /// Bindings to keep up to date; all when none is given.
    pub names: Vec<String>,
    /// Override a param: `--set bits=3` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub sets: Vec<String>,
    /// Nodes run at once (default: one per core).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
    /// Cache directory (default: `.pipe-cache/` beside the file).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
    let opts = WatchOptions {
        cache_dir: cache_dir(&args.file, args.cache.as_deref()),
        file: args.file,
        names: args.names,
        sets: args.sets,
        jobs: capped_local_jobs(args.jobs.unwrap_or(0)),
    };
    let emit = |line: &str| println!("{line}");
    match watch(&opts, pipe_stdlib::Stdlib::get(), &stop, &emit) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(msg) => {
            eprintln!("error: {msg}");
            Ok(ExitCode::from(2))
        }
    }
}
