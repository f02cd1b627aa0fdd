//! `pipe run FILE [NAME...] [--set name=value]... [--format json] [-j N] [--cache DIR]`:
//! runs what the named bindings need (all when none), prints a summary table (or
//! the JSON summary), writes `runs/<file stem>/<timestamp>/`. Exit 0 when every
//! node ran or was cached, 1 on failures or errors in the file, 2 on usage or
//! I/O problems, 130 when interrupted.

use pipe_interp::cache::Cache;
use pipe_interp::executor::{Executor, LocalExecutor};
use pipe_interp::frontend;
use pipe_interp::input_hash::InputHasher;
use pipe_interp::progress::{Bars, ProgressFactory, Quiet};
use pipe_interp::report;
use pipe_interp::run::{self, RunError, RunRequest};
use pipe_interp::schedule::RunControl;
use pipe_interp::slurm::config::SlurmConfig;
use pipe_interp::slurm::executor::SlurmExecutor;
use pipe_interp::slurm::submit::WorkerCommand;
use pipe_interp::stage_set::StageSet;
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
    /// Nodes run at once (default: one per core; at most 4 per core here, or
    /// the nodes queued or running at once with `--executor slurm`).
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
    pub slurm: crate::slurm_flags::SlurmFlags,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExecutorKind {
    Local,
    Slurm,
}

/// Threads per core `-j` may ask of the local executor. Stages are CPU-bound,
/// so more threads than cores only add memory and switches; a few per core
/// still let stages that wait on files overlap.
pub const MAX_JOBS_PER_CORE: usize = 4;

/// The local executor's thread count for `-j requested` (0: one per core) on a
/// machine with `cores` cores, and a warning when the request was lowered.
pub fn local_jobs(requested: usize, cores: usize) -> (usize, Option<String>) {
    let cap = cores.max(1).saturating_mul(MAX_JOBS_PER_CORE);
    if requested <= cap {
        return (requested, None);
    }
    let warning = format!(
        "-j {requested} is more than {MAX_JOBS_PER_CORE} threads per core ({cores} cores here); \
         running {cap} nodes at once"
    );
    (cap, Some(warning))
}

/// `-j` for a local executor on this machine, lowered by [`local_jobs`] with its
/// warning printed; `pipe run` and `pipe watch` both take it from here.
pub fn capped_local_jobs(requested: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (jobs, warning) = local_jobs(requested, cores);
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    jobs
}

/// The executor the flags ask for. With Slurm, `-j N` caps the nodes queued or
/// running at once (default: no cap); it starts no thread per node there, so
/// it is not lowered.
fn executor(args: &Args, cache: &Arc<Cache>) -> anyhow::Result<Box<dyn Executor>> {
    let jobs = args.jobs.unwrap_or(0);
    match args.executor {
        ExecutorKind::Local => {
            // Slurm workers write entries as directories, which the submitting
            // process finds; a local run packs its small results.
            cache.pack_small_entries();
            Ok(Box::new(
                LocalExecutor::new(capped_local_jobs(jobs)).map_err(anyhow::Error::msg)?,
            ))
        }
        ExecutorKind::Slurm => {
            let config = SlurmConfig::from_args(&args.slurm.to_args())?;
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

/// Exits 130 on Ctrl-C (and SIGTERM), for commands that write nothing: installed
/// explicitly, since a process started in the background inherits SIGINT ignored,
/// and hashing a large input can take long.
pub fn exit_on_ctrl_c() {
    let _ = ctrlc::set_handler(|| std::process::exit(130));
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
    let dir = frontend::cache_dir(&args.file, args.cache.as_deref());
    // Installed before loading: hashing a large input is where Ctrl-C often lands.
    let control = Arc::new(RunControl::default());
    cancel_on_ctrl_c(Arc::clone(&control));
    let inputs = InputHasher::new(&frontend::base_dir(&args.file), &dir)
        .interrupted_by(&control.interrupted);
    let loaded = match frontend::load_or_report(&args.file, stages, &args.sets, color, &inputs) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    if control.interrupted.load(Ordering::SeqCst) {
        eprintln!("interrupted");
        return Ok(ExitCode::from(130));
    }
    eprint!("{}", loaded.warnings);
    let cache = Arc::new(Cache::open(&dir)?);
    cache.lock_for_run()?;
    if let Err(e) = inputs.save(&cache) {
        eprintln!("warning: cannot store input digests in the cache: {e}");
    }
    let executor = executor(&args, &cache)?;
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
        Format::Json => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            report::write_summary_json(&mut out, &result.reports, result.ok())?;
            std::io::Write::flush(&mut out)?;
        }
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
        .filter(|r| r.status == pipe_interp::schedule::Status::Failed)
    {
        eprintln!(
            "error: `{}` ({}) failed: {}",
            r.name,
            r.stage,
            r.error.as_deref().unwrap_or("")
        );
    }
    let code = if result.interrupted {
        130
    } else if result.ok() {
        0
    } else {
        1
    };
    // The graph and the reports are plain memory the process is about to give
    // back whole; freeing them node by node was 5 % of a 100,000-node no-op rerun.
    // (The cache, whose drop releases the run lock, is dropped as usual.)
    std::mem::forget(outcome);
    std::mem::forget(loaded);
    Ok(ExitCode::from(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_capped_at_four_per_core_with_a_warning() {
        assert_eq!(local_jobs(0, 2), (0, None));
        assert_eq!(local_jobs(8, 2), (8, None));
        let (jobs, warning) = local_jobs(100_000, 2);
        assert_eq!(jobs, 8);
        let warning = warning.unwrap();
        assert!(
            warning.contains("-j 100000") && warning.contains("8 nodes"),
            "{warning}"
        );
        assert_eq!(local_jobs(5, 0).0, 4, "no core count reads as one core");
    }
}
