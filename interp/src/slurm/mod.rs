//! `pipe run --executor slurm`: the same nodes, keys and results as a local run,
//! computed by Slurm job arrays over a shared cache directory. One file per
//! concept: `config` (the `--slurm-*` flags), `group` (nodes per array task),
//! `commands` (running sbatch, squeue, scancel), `submit` (one job array),
//! `poll` (one squeue per interval), `state` (job-state files for resume),
//! `executor` (the controller), `worker` (what an array task runs). See
//! docs/slurm.md.

pub(crate) mod commands;
pub(crate) mod config;
pub(crate) mod executor;
pub(crate) mod group;
pub(crate) mod poll;
pub(crate) mod state;
pub(crate) mod submit;
pub mod worker;
