//! The `pipe` command: parses the command line, dispatches to one module per
//! subcommand (`cmd_*`: its flags, its output and its exit code, over the typed
//! APIs of pipe-interp; `pipe_lsp` for `pipe lsp`), and chooses the process's
//! allocator and signal handlers. Exit codes: 0 success (warnings allowed), 1
//! errors in the input or a failed run, 2 usage or I/O problems, 130 interrupted.
//! The interpreter never sees the command line, the allocator or the language
//! server.

mod cmd_cache;
mod cmd_check;
mod cmd_doc;
mod cmd_explain;
mod cmd_fmt;
mod cmd_graph;
mod cmd_run;
mod cmd_runs;
mod cmd_watch;
mod cmd_worker;
mod lsp_cache_state;
mod slurm_flags;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

// The front end allocates many small tree nodes and types; mimalloc makes
// `pipe check` on a 10,000-line file about a third faster than glibc's malloc
// (see docs/performance.md, "Front end"). The `Counting` wrapper lets the
// fine-tuning stages measure the bytes a training step holds (one thread-local
// flag read per allocation outside a measurement).
#[global_allocator]
static ALLOCATOR: pipe_nn::memory::Counting<mimalloc::MiMalloc> =
    pipe_nn::memory::Counting(mimalloc::MiMalloc);

#[derive(Parser)]
#[command(
    name = "pipe",
    version,
    about = "Declarative pipelines for efficient-ML research"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check files for errors without running anything.
    Check(cmd_check::Args),
    /// Format files canonically (comments kept).
    Fmt(cmd_fmt::Args),
    /// Show the stage catalog, or one stage's signature and docs.
    Doc(cmd_doc::Args),
    /// Run the language server on stdin/stdout (for editors).
    Lsp,
    /// Run a pipeline: what the named bindings need, cached results reused.
    Run(cmd_run::Args),
    /// Say whether a binding is cached, or why it would rerun.
    Explain(cmd_explain::Args),
    /// Print the stage graph (DOT or Mermaid).
    Graph(cmd_graph::Args),
    /// Rerun what changed on every save of the file, its imports or its inputs.
    Watch(cmd_watch::Args),
    /// Inspect (`ls`) or prune (`gc`) the cache.
    Cache(cmd_cache::Args),
    /// Prune old run directories (`runs/<file>/<time>/`).
    Runs(cmd_runs::Args),
    /// Run one Slurm array task's nodes (started by `pipe run --executor slurm`).
    #[command(hide = true)]
    Worker(cmd_worker::Args),
}

fn main() -> ExitCode {
    pipe_nn::allocator::keep_freed_pages();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => cmd_check::run(args),
        Command::Fmt(args) => cmd_fmt::run(args),
        Command::Doc(args) => cmd_doc::run(args),
        Command::Lsp => pipe_lsp::run_stdio_with(Some(&lsp_cache_state::FromCache))
            .map(|()| ExitCode::SUCCESS)
            .map_err(anyhow::Error::from),
        Command::Run(args) => cmd_run::run(args),
        Command::Explain(args) => cmd_explain::run(args),
        Command::Graph(args) => cmd_graph::run(args),
        Command::Watch(args) => cmd_watch::run(args),
        Command::Cache(args) => cmd_cache::run(args),
        Command::Runs(args) => cmd_runs::run(args),
        Command::Worker(args) => cmd_worker::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
