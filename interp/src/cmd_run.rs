//! `pipe run FILE [NAME...] [--set name=value]... [--format json] [-j N] [--cache DIR]`:
//! runs what the named bindings need (all when none), prints a summary table (or
//! the JSON summary), writes `runs/<file stem>/<timestamp>/`. Exit 0 when every
//! node ran or was cached, 1 on failures or errors in the file, 2 on usage or
//! I/O problems, 130 when interrupted.

use crate::cache::Cache;
use crate::executor::{Executor, LocalExecutor};
use crate::frontend;
use crate::progress::{Bars, ProgressFactory, Quiet};
use crate::report;
use crate::run::{self, RunError, RunRequest};
use crate::schedule::RunControl;
use crate::slurm::config::SlurmConfig;
use crate::slurm::executor::SlurmExecutor;
use crate::slurm::submit::WorkerCommand;
use crate::stage_set::StageSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    /// The .pipe file.
    pub file: PathBuf,
    /// Bindings to run (with what they need); all when none is given.
    pub names: Vec<String>,
    /// Override a param: `--set bits=3` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub sets: Vec<String>,
    /// Output format of the summary.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Nodes run at once (default: one per core).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
    /// Cache directory (default: `.pipe-cache/` beside the file).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Where nodes run: here (`local`), or as Slurm job arrays over the cache
    /// directory (`slurm`, see docs/slurm.md).
    #[arg(long, value_enum, default_value = "local")]
    pub executor: ExecutorKind,
    #[command(flatten)]
    pub slurm: crate::slurm::config::SlurmArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExecutorKind {
    Local,
    Slurm,
}

/// The executor the flags ask for. With Slurm, `-j N` caps the nodes queued or
/// running at once (default: no cap).
fn executor(args: &Args, cache: &Arc<Cache>) -> anyhow::Result<Box<dyn Executor>> {
    let jobs = args.jobs.unwrap_or(0);
    match args.executor {
        ExecutorKind::Local => {
            // Slurm workers write entries as directories, which the submitting
            // process finds; a local run packs its small results.
            cache.pack_small_entries();
            Ok(Box::new(
                LocalExecutor::new(jobs).map_err(anyhow::Error::msg)?,
            ))
        }
        ExecutorKind::Slurm => {
            let config = SlurmConfig::from_args(&args.slurm)?;
            let absolute = |p: &Path| std::path::absolute(p);
            let worker = WorkerCommand {
                exe: std::env::current_exe()?,
                file: absolute(&args.file)?,
                cache: absolute(cache.dir())?,
                sets: args.sets.clone(),
            };
            let slurm = SlurmExecutor::start(config, worker, Arc::clone(cache), jobs)
                .map_err(|e| anyhow::anyhow!("--executor slurm: {e}"))?;
            Ok(Box::new(slurm))
        }
    }
}

/// The cache directory for `file`: `--cache DIR`, or `.pipe-cache/` beside it.
pub fn cache_dir(file: &Path, flag: Option<&Path>) -> PathBuf {
    match flag {
        Some(d) => d.to_path_buf(),
        None => frontend::base_dir(file).join(".pipe-cache"),
    }
}

/// Sets `control.interrupted` on Ctrl-C (and SIGTERM); a second Ctrl-C exits at once.
pub fn cancel_on_ctrl_c(control: Arc<RunControl>) {
    let _ = ctrlc::set_handler(move || {
        if control.interrupted.load(Ordering::SeqCst) {
            std::process::exit(130);
        }
        control.interrupt();
    });
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    run_with(args, pipe_stdlib::Stdlib::get())
}

pub fn run_with(args: Args, stages: &dyn StageSet) -> anyhow::Result<ExitCode> {
    let color = std::io::stderr().is_terminal();
    let loaded = match frontend::load_or_report(&args.file, stages, &args.sets, color) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    eprint!("{}", loaded.warnings);
    let dir = cache_dir(&args.file, args.cache.as_deref());
    let cache = Arc::new(Cache::open(&dir)?);
    cache.lock_for_run()?;
    let executor = executor(&args, &cache)?;
    let control = Arc::new(RunControl::default());
    cancel_on_ctrl_c(Arc::clone(&control));
    let progress: Box<dyn ProgressFactory> = match args.format {
        Format::Json => Box::new(Quiet),
        Format::Table => Bars::for_stdout(),
    };
    let warn = |w: String| eprintln!("warning: {w}");
    let request = RunRequest {
        file: &args.file,
        loaded: &loaded,
        names: &args.names,
        stages,
        cache: &cache,
        executor: executor.as_ref(),
        control: &control,
        progress: progress.as_ref(),
        observer: &|_| {},
        warn: &warn,
        color,
    };
    let outcome = match run::run(&request) {
        Ok(o) => o,
        Err(RunError::Usage(msg)) => {
            eprintln!("error: {msg}");
            return Ok(ExitCode::from(2));
        }
        Err(RunError::Invalid(rendered)) => {
            eprint!("{rendered}");
            return Ok(ExitCode::from(1));
        }
    };
    let result = &outcome.result;
    match args.format {
        Format::Json => println!("{}", report::summary_json(&result.reports, result.ok())),
        Format::Table => {
            print!("{}", report::table(&result.reports));
            if let Some(d) = &outcome.run_dir {
                println!("report: {}", d.join("report.md").display());
            }
        }
    }
    if let Some(e) = &outcome.run_dir_error {
        eprintln!("warning: {e}");
    }
    for r in result
        .reports
        .iter()
        .filter(|r| r.status == crate::schedule::Status::Failed)
    {
        eprintln!(
            "error: `{}` ({}) failed: {}",
            r.name,
            r.stage,
            r.error.as_deref().unwrap_or("")
        );
    }
    Ok(ExitCode::from(if result.interrupted {
        130
    } else if result.ok() {
        0
    } else {
        1
    }))
}
