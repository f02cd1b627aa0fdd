//! Polling: ONE `squeue` call per interval for every job array in flight (never
//! one call per job), listing each array task on its own line, and what a state
//! means for the executor. A task no longer listed has ended (Slurm forgets
//! finished jobs after `MinJobAge`); results are learned from the cache, not
//! from here. This module never submits or cancels anything.

use super::commands::{self, SlurmError};
use std::collections::{BTreeSet, HashMap};

/// (job id, array task index) -> Slurm state (`PENDING`, `RUNNING`, `FAILED`, ...).
pub type States = HashMap<(u64, u32), String>;

/// The state of every listed task of `job_ids`, in one `squeue` call.
pub fn states(job_ids: &BTreeSet<u64>) -> Result<States, SlurmError> {
    if job_ids.is_empty() {
        return Ok(States::new());
    }
    let ids: Vec<String> = job_ids.iter().map(u64::to_string).collect();
    let args = vec![
        "--noheader".to_string(),
        "--array".to_string(),
        "--states=all".to_string(),
        format!("--jobs={}", ids.join(",")),
        "--format=%i|%T".to_string(),
    ];
    match commands::run("squeue", &args) {
        Ok(out) => Ok(parse(&out)),
        // Every id asked for is gone from Slurm's memory: they all ended.
        Err(SlurmError::Failed { stderr, .. }) if stderr.contains("Invalid job id") => {
            Ok(States::new())
        }
        Err(e) => Err(e),
    }
}

fn parse(out: &str) -> States {
    let mut states = States::new();
    for line in out.lines() {
        let Some((id, state)) = line.trim().split_once('|') else {
            continue;
        };
        let Some((job, task)) = id.split_once('_') else {
            continue;
        };
        // `123_[4-9]` (not expanded) names no single task: skipped.
        if let (Ok(job), Ok(task)) = (job.parse(), task.parse()) {
            states.insert((job, task), state.trim().to_string());
        }
    }
    states
}

/// Whether a task in `state` may still produce a result.
pub fn is_alive(state: &str) -> bool {
    !matches!(
        state,
        "COMPLETED"
            | "FAILED"
            | "CANCELLED"
            | "TIMEOUT"
            | "OUT_OF_MEMORY"
            | "NODE_FAIL"
            | "PREEMPTED"
            | "BOOT_FAIL"
            | "DEADLINE"
            | "SPECIAL_EXIT"
            | "REVOKED"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_become_task_states() {
        let s = parse("12_0|COMPLETED\n12_1|RUNNING\n13_[2-9]|PENDING\nnoise\n");
        assert_eq!(s.len(), 2);
        assert_eq!(s[&(12, 1)], "RUNNING");
        assert!(is_alive(&s[&(12, 1)]) && !is_alive(&s[&(12, 0)]));
        assert!(is_alive("PENDING") && is_alive("COMPLETING") && !is_alive("OUT_OF_MEMORY"));
    }
}
