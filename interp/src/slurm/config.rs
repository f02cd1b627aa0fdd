//! The `--slurm-*` flags of `pipe run` and what they become: the `sbatch`
//! options of each node (partition, CPUs, memory, time, extra options, per-stage
//! extra options), retries, how many nodes one array task runs, how often to
//! poll. The `.pipe` language has no place for resources, so they come from
//! here (see docs/slurm.md). This module only validates what the flags say; the
//! binary (pipe-cli) parses them.

use super::group::Grouping;
use std::time::Duration;

/// What the `--slurm-*` flags say, before validation (pipe-cli parses them).
#[derive(Debug, Clone)]
pub struct SlurmArgs {
    /// Slurm partition (`sbatch --partition`); default: the cluster's default.
    pub partition: Option<String>,
    /// CPUs per array task (`sbatch --cpus-per-task`).
    pub cpus: Option<u32>,
    /// Memory per array task (`sbatch --mem`, e.g. `4G`).
    pub mem: Option<String>,
    /// Time limit per array task (`sbatch --time`, e.g. `30:00`).
    pub time: Option<String>,
    /// An extra `sbatch` option for every task, as one word (`--gres=gpu:1`); repeatable.
    pub opts: Vec<String>,
    /// An extra `sbatch` option for the nodes of one stage: `STAGE:OPTION`
    /// (`train.supervised:--gres=gpu:1`); repeatable.
    pub stage_opts: Vec<String>,
    /// Times a task that ended without a result is resubmitted before its nodes fail.
    pub retries: u32,
    /// Nodes one array task runs, one after another. Default: packed so each
    /// task runs about a minute, by the times recorded for each stage in this
    /// cache or its cost class; nodes that may take long run alone.
    pub group: Option<u32>,
    /// Seconds between two `squeue` calls (one call covers every job).
    pub poll: f64,
    /// Most tasks in one job array (keep under the cluster's `MaxArraySize`).
    pub array_max: u32,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("--slurm-poll {0}: expected a number of seconds between 0.05 and 3600")]
    Poll(f64),
    #[error(
        "--slurm-stage-opt `{0}`: expected STAGE:OPTION, e.g. `train.supervised:--gres=gpu:1`"
    )]
    StageOpt(String),
    #[error("--slurm-opt `{0}`: expected an sbatch option starting with `-`, e.g. `--gres=gpu:1`")]
    Opt(String),
}

/// The validated settings of the Slurm executor.
#[derive(Debug, Clone)]
pub struct SlurmConfig {
    /// `sbatch` options every task gets.
    pub common: Vec<String>,
    /// Extra options per stage name (`namespace.name`).
    pub per_stage: Vec<(String, String)>,
    pub retries: u32,
    pub group: Grouping,
    pub poll: Duration,
    pub array_max: usize,
}

impl SlurmConfig {
    pub fn from_args(args: &SlurmArgs) -> Result<SlurmConfig, ConfigError> {
        if !(0.05..=3600.0).contains(&args.poll) {
            return Err(ConfigError::Poll(args.poll));
        }
        let mut common = Vec::new();
        if let Some(p) = &args.partition {
            common.push(format!("--partition={p}"));
        }
        if let Some(c) = args.cpus {
            common.push(format!("--cpus-per-task={c}"));
        }
        if let Some(m) = &args.mem {
            common.push(format!("--mem={m}"));
        }
        if let Some(t) = &args.time {
            common.push(format!("--time={t}"));
        }
        for opt in &args.opts {
            if !opt.starts_with('-') {
                return Err(ConfigError::Opt(opt.clone()));
            }
            common.push(opt.clone());
        }
        let mut per_stage = Vec::new();
        for s in &args.stage_opts {
            match s.split_once(':') {
                Some((stage, opt)) if !stage.is_empty() && opt.starts_with('-') => {
                    per_stage.push((stage.to_string(), opt.to_string()));
                }
                _ => return Err(ConfigError::StageOpt(s.clone())),
            }
        }
        Ok(SlurmConfig {
            common,
            per_stage,
            retries: args.retries,
            group: args
                .group
                .map_or(Grouping::Auto, |n| Grouping::Fixed(n as usize)),
            poll: Duration::from_secs_f64(args.poll),
            array_max: args.array_max as usize,
        })
    }

    /// The `sbatch` options of a node of `stage`: nodes with equal options share
    /// job arrays.
    pub fn options_for(&self, stage: &str) -> Vec<String> {
        let mut out = self.common.clone();
        out.extend(
            self.per_stage
                .iter()
                .filter(|(s, _)| s == stage)
                .map(|(_, o)| o.clone()),
        );
        out
    }
}
