//! `pipe run --executor slurm`: the same nodes, keys and results as a local run,
//! computed by Slurm job arrays over a shared cache directory. One file per
//! concept: `config` (what the `--slurm-*` flags say), `group` (nodes per array task),
//! `commands` (running sbatch, squeue, scancel), `submit` (one job array),
//! `poll` (one squeue per interval), `state` (job-state files for resume),
//! `executor` (the controller), `worker` (what an array task runs). See
//! docs/slurm.md.

pub(crate) mod commands;
pub mod config;
pub mod executor;
pub mod group;
pub(crate) mod poll;
pub(crate) mod state;
pub mod submit;
pub mod worker;

/// What the Slurm commands and job-state files can fail with; part of
/// `worker::WorkerError`.
pub use commands::SlurmError;
