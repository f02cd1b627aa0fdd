//! The `pipe` command: parses the command line and dispatches to one module per
//! subcommand (`pipe_interp::cmd_*`, `pipe_lsp` for `pipe lsp`), and chooses the
//! process's allocator. Exit codes: 0 success (warnings allowed), 1 errors in the
//! input or a failed run, 2 usage or I/O problems. It holds no logic of a
//! subcommand; the interpreter never sees the allocator or the language server.

mod lsp_cache_state;

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
    Check(pipe_interp::cmd_check::Args),
    /// Format files canonically (comments kept).
    Fmt(pipe_interp::cmd_fmt::Args),
    /// Show the stage catalog, or one stage's signature and docs.
    Doc(pipe_interp::cmd_doc::Args),
    /// Run the language server on stdin/stdout (for editors).
    Lsp,
    /// Run a pipeline: what the named bindings need, cached results reused.
    Run(pipe_interp::cmd_run::Args),
    /// Say whether a binding is cached, or why it would rerun.
    Explain(pipe_interp::cmd_explain::Args),
    /// Print the stage graph (DOT or Mermaid).
    Graph(pipe_interp::cmd_graph::Args),
    /// Rerun what changed on every save of the file, its imports or its inputs.
    Watch(pipe_interp::cmd_watch::Args),
    /// Inspect (`ls`) or prune (`gc`) the cache.
    Cache(pipe_interp::cmd_cache::Args),
    /// Prune old run directories (`runs/<file>/<time>/`).
    Runs(pipe_interp::cmd_runs::Args),
    /// Run one Slurm array task's nodes (started by `pipe run --executor slurm`).
    #[command(hide = true)]
    Worker(pipe_interp::slurm::worker::Args),
}

fn main() -> ExitCode {
    pipe_nn::allocator::keep_freed_pages();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => pipe_interp::cmd_check::run(args),
        Command::Fmt(args) => pipe_interp::cmd_fmt::run(args),
        Command::Doc(args) => pipe_interp::cmd_doc::run(args),
        Command::Lsp => pipe_lsp::run_stdio_with(Some(&lsp_cache_state::FromCache))
            .map(|()| ExitCode::SUCCESS)
            .map_err(anyhow::Error::from),
        Command::Run(args) => pipe_interp::cmd_run::run(args),
        Command::Explain(args) => pipe_interp::cmd_explain::run(args),
        Command::Graph(args) => pipe_interp::cmd_graph::run(args),
        Command::Watch(args) => pipe_interp::cmd_watch::run(args),
        Command::Cache(args) => pipe_interp::cmd_cache::run(args),
        Command::Runs(args) => pipe_interp::cmd_runs::run(args),
        Command::Worker(args) => pipe_interp::slurm::worker::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
