//! How many nodes each array task runs. `--slurm-group N` fixes it; without
//! the flag, nodes are packed so that each task runs for about
//! `TARGET_TASK_SECONDS`: a Slurm task costs around a second (or more) of
//! scheduling, so a task of millisecond nodes is nearly all overhead, while
//! packing nodes that take minutes would serialise work the cluster could run
//! side by side. A node's time is estimated from the times recorded for its
//! stage by earlier Slurm runs in this cache (`<cache>/slurm/stage-seconds.json`),
//! else from its stage's cost class; a node with no estimate runs alone.
//! This module decides sizes only; it never submits anything.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The run time one array task aims at when nodes are packed.
pub const TARGET_TASK_SECONDS: f64 = 60.0;
/// Seconds assumed for a node of a cheap stage before any time is recorded.
pub const CHEAP_SECONDS: f64 = 0.1;
/// Stages (or whole namespaces, `ns.*`) whose nodes take well under a second:
/// the closed-form simulators except the time-stepped `sim.thermal`, reports,
/// model constructors and subsets of a loaded dataset. Every other stage
/// (training, fine-tuning, quantization, evaluation, loaders, `sim.thermal`)
/// runs one node per task until a time has been recorded for it.
const CHEAP_STAGES: &[&str] = &[
    "sim.workload",
    "sim.topology",
    "sim.accelerator",
    "sim.nvm_cache",
    "report.*",
    "model.*",
    "dataset.split",
    "dataset.sample",
    "dataset.labeled",
];
/// Recorded nodes per stage beyond which older times count for less (the
/// mean follows a stage whose cost changed).
const MAX_WEIGHT: f64 = 1000.0;

/// How nodes are packed into tasks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Grouping {
    /// `--slurm-group N`: N nodes per task.
    Fixed(usize),
    /// By estimated time, about `TARGET_TASK_SECONDS` per task.
    Auto,
}

/// The seconds a node of `stage` is assumed to take from its cost class, or
/// `None` when it may take long.
pub fn class_seconds(stage: &str) -> Option<f64> {
    let namespace = stage.split('.').next().unwrap_or(stage);
    CHEAP_STAGES
        .iter()
        .any(|c| *c == stage || c.strip_suffix(".*") == Some(namespace))
        .then_some(CHEAP_SECONDS)
}

/// The number of nodes of each task, in order, for nodes with these estimated
/// seconds (`None`: unknown, run alone). Sums to `estimates.len()`.
pub fn plan(estimates: &[Option<f64>], grouping: Grouping) -> Vec<usize> {
    let per_task = match grouping {
        Grouping::Fixed(n) => return estimates.chunks(n.max(1)).map(<[_]>::len).collect(),
        Grouping::Auto => TARGET_TASK_SECONDS,
    };
    let mut sizes = Vec::new();
    let (mut nodes, mut seconds) = (0usize, 0.0f64);
    for estimate in estimates {
        let Some(e) = estimate.filter(|e| e.is_finite() && *e >= 0.0) else {
            if nodes > 0 {
                sizes.push(nodes);
            }
            sizes.push(1);
            (nodes, seconds) = (0, 0.0);
            continue;
        };
        // The tolerance keeps 600 nodes of 0.1 s at 60 s despite rounding.
        if nodes > 0 && seconds + e > per_task * (1.0 + 1e-9) {
            sizes.push(nodes);
            (nodes, seconds) = (0, 0.0);
        }
        nodes += 1;
        seconds += e;
    }
    if nodes > 0 {
        sizes.push(nodes);
    }
    sizes
}

/// Mean node seconds per stage, as measured by the workers of Slurm runs.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageTimes {
    stages: BTreeMap<String, Recorded>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Recorded {
    /// Nodes counted (capped at `MAX_WEIGHT`).
    weight: f64,
    mean_seconds: f64,
}

impl StageTimes {
    /// The times saved at `path`; none when it is missing or unreadable (the
    /// file is a hint: a damaged one only costs the cost-class estimates).
    pub fn load(path: &Path) -> StageTimes {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn save(&self, path: &Path) -> Result<(), super::commands::SlurmError> {
        let bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        super::state::write_atomic(path, &bytes)
    }

    pub fn record(&mut self, stage: &str, seconds: f64) {
        if !(seconds.is_finite() && seconds >= 0.0) {
            return;
        }
        let r = self.stages.entry(stage.to_string()).or_insert(Recorded {
            weight: 0.0,
            mean_seconds: 0.0,
        });
        let weight = (r.weight + 1.0).min(MAX_WEIGHT);
        r.mean_seconds += (seconds - r.mean_seconds) / weight;
        r.weight = weight;
    }

    /// The recorded mean for `stage`, else its cost class.
    pub fn estimate(&self, stage: &str) -> Option<f64> {
        self.stages
            .get(stage)
            .map(|r| r.mean_seconds)
            .or_else(|| class_seconds(stage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_group_cuts_every_n_nodes() {
        assert_eq!(plan(&[None; 7], Grouping::Fixed(3)), [3, 3, 1]);
        assert_eq!(plan(&[Some(0.1); 4], Grouping::Fixed(1)), [1, 1, 1, 1]);
        assert_eq!(plan(&[], Grouping::Fixed(5)), Vec::<usize>::new());
    }

    #[test]
    fn a_cold_sweep_of_1000_cheap_nodes_fits_in_two_tasks() {
        let stage = "sim.accelerator";
        let times = StageTimes::default();
        let estimates = vec![times.estimate(stage); 1000];
        assert_eq!(plan(&estimates, Grouping::Auto), [600, 400]);
    }

    #[test]
    fn nodes_of_unknown_cost_run_alone_between_packed_ones() {
        let times = StageTimes::default();
        assert_eq!(times.estimate("train.supervised"), None);
        assert_eq!(times.estimate("sim.thermal"), None);
        assert_eq!(times.estimate("report.table"), Some(CHEAP_SECONDS));
        let estimates = [Some(0.1), Some(0.1), None, Some(0.1), None, None];
        assert_eq!(plan(&estimates, Grouping::Auto), [2, 1, 1, 1, 1]);
    }

    #[test]
    fn recorded_times_set_the_group_size() {
        let mut times = StageTimes::default();
        for s in [0.9, 1.1, 1.0] {
            times.record("sim.thermal", s);
        }
        let mean = times.estimate("sim.thermal").unwrap();
        assert!((mean - 1.0).abs() < 1e-9, "{mean}");
        let sizes = plan(&vec![Some(mean); 200], Grouping::Auto);
        assert_eq!(sizes, [60, 60, 60, 20]);
        // A recorded time overrides the class: a slow accelerator model runs alone.
        times.record("sim.accelerator", 120.0);
        assert_eq!(
            plan(&[times.estimate("sim.accelerator"); 3], Grouping::Auto),
            [1, 1, 1]
        );
    }

    #[test]
    fn recorded_times_survive_a_save_and_a_damaged_file_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stage-seconds.json");
        let mut times = StageTimes::default();
        times.record("eval.classify", 2.5);
        times.save(&path).unwrap();
        assert_eq!(StageTimes::load(&path), times);
        std::fs::write(&path, b"{ not json").unwrap();
        assert_eq!(StageTimes::load(&path), StageTimes::default());
        assert_eq!(
            StageTimes::load(&dir.path().join("missing")),
            StageTimes::default()
        );
    }

    #[test]
    fn the_mean_follows_a_stage_whose_cost_changed() {
        let mut times = StageTimes::default();
        for _ in 0..5000 {
            times.record("model.cnn", 0.01);
        }
        for _ in 0..5000 {
            times.record("model.cnn", 1.0);
        }
        let mean = times.estimate("model.cnn").unwrap();
        assert!(mean > 0.9, "{mean}");
        times.record("model.cnn", f64::NAN);
        assert!(times.estimate("model.cnn").unwrap().is_finite());
    }
}
