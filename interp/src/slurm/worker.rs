//! `pipe worker` (hidden): what one Slurm array task runs. Loads the same file
//! with the same `--set`s, finds each node of its line of the task list by key,
//! reads the node's inputs from the shared cache, runs the stage and stores the
//! result in the cache: the same `run_job` and `store_in_cache` as a local run,
//! so writes are atomic and two workers finishing one key leave one valid entry.
//! A node whose stage fails leaves `error-<key>.txt` beside the task list, so
//! the controller reports it instead of retrying a deterministic failure. A
//! node already in the cache is not run again.

use super::commands::SlurmError;
use super::state::{self, ArrayDir};
use crate::cache::{Cache, CacheError, Lookup};
use crate::executor::{run_job, store_in_cache, Job, StoreInfo};
use crate::graph::{Graph, NodeId};
use crate::key::Key;
use crate::stage_set::StageSet;
use pipe_stdlib::stage::{NoProgress, StageOutput};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// What one array task is told (the hidden `pipe worker` flags, parsed by pipe-cli).
pub struct Args {
    /// The .pipe file, as the controller named it.
    pub file: PathBuf,
    /// The shared cache directory.
    pub cache: PathBuf,
    /// The task list: line i holds the keys array task i runs.
    pub tasks: PathBuf,
    /// Which line to run (default: `$SLURM_ARRAY_TASK_ID`).
    pub task: Option<usize>,
    /// The run's param overrides, as given to `pipe run`.
    pub sets: Vec<String>,
}

/// Why a worker could not start on its nodes (a node's own failure is recorded
/// beside the task list instead, and the exit code is 1).
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("no array task: pass `--task N` or run under Slurm (SLURM_ARRAY_TASK_ID)")]
    NoTask,
    #[error(transparent)]
    Tasks(#[from] SlurmError),
    #[error(transparent)]
    Cache(#[from] CacheError),
}

pub fn run_with(args: Args, stages: &dyn StageSet) -> Result<ExitCode, WorkerError> {
    let index = match args.task {
        Some(i) => i,
        None => std::env::var("SLURM_ARRAY_TASK_ID")
            .ok()
            .and_then(|v| v.parse().ok())
            .ok_or(WorkerError::NoTask)?,
    };
    let keys = state::read_task(&args.tasks, index)?;
    let dir = ArrayDir::of_tasks_file(&args.tasks);
    let base_dir = crate::frontend::base_dir(&args.file);
    let inputs = crate::input_hash::InputHasher::new(&base_dir, &args.cache);
    let loaded = match crate::frontend::load(&args.file, stages, &args.sets, false, &inputs) {
        Ok(l) => l,
        Err(e) => {
            let msg = format!("the worker could not load `{}`: {e}", args.file.display());
            eprintln!("{msg}");
            for key in &keys {
                leave_error(&dir, key, &msg);
            }
            return Ok(ExitCode::from(1));
        }
    };
    let cache = Arc::new(Cache::open(&args.cache)?);
    cache.lock_for_run()?;
    let by_key: HashMap<Key, NodeId> = loaded
        .graph
        .nodes
        .iter()
        .enumerate()
        .filter_map(|(id, n)| n.key.as_ref().ok().map(|k| (*k, id)))
        .collect();
    let mut failed = false;
    for key in &keys {
        let node = Worker {
            graph: &loaded.graph,
            stages,
            cache: &cache,
        };
        match node.run(key, &by_key) {
            Ok(line) => println!("{line}"),
            Err(msg) => {
                failed = true;
                eprintln!("failed {}: {msg}", key.short());
                leave_error(&dir, key, &msg);
            }
        }
    }
    Ok(ExitCode::from(u8::from(failed)))
}

fn leave_error(dir: &ArrayDir, key: &Key, msg: &str) {
    if let Err(e) = state::write_atomic(&dir.error_file(key), msg.as_bytes()) {
        eprintln!("could not record the error of {}: {e}", key.short());
    }
}

struct Worker<'a> {
    graph: &'a Graph,
    stages: &'a dyn StageSet,
    cache: &'a Arc<Cache>,
}

impl Worker<'_> {
    /// Runs one node into the cache; the log line says what happened.
    fn run(&self, key: &Key, by_key: &HashMap<Key, NodeId>) -> Result<String, String> {
        let id = *by_key.get(key).ok_or_else(|| {
            format!(
                "no node of the file has key {} (the file or one of its inputs changed \
                 after the run submitted it; run `pipe run` again)",
                key.short()
            )
        })?;
        let node = &self.graph.nodes[id];
        if self.cache.has_entry(key) {
            if let Lookup::Hit(_) = self.cache.lookup(key) {
                return Ok(format!("cached {} {}", key.short(), node.name));
            }
        }
        if self.stages.stage(node.namespace, node.stage).is_none() {
            return Err(format!(
                "stage `{}` is not in the catalog",
                node.stage_name()
            ));
        }
        let run = self
            .stages
            .implementation(node.namespace, node.stage)
            .ok_or_else(|| format!("stage `{}` is not implemented yet", node.stage_name()))?;
        let mut outputs: HashMap<NodeId, Arc<StageOutput>> = HashMap::new();
        for &i in &node.inputs {
            outputs.insert(i, self.cached_output(i)?);
        }
        let input = crate::stage_input::build(node, &|i| {
            outputs.get(&i).cloned().ok_or_else(|| {
                format!(
                    "the output of `{}` is not available",
                    self.graph.nodes[i].name
                )
            })
        })
        .map_err(|e| e.to_string())?;
        let inputs: Vec<Key> = node
            .inputs
            .iter()
            .filter_map(|&i| self.graph.nodes[i].key.as_ref().ok().copied())
            .collect();
        let job = Job {
            node: id,
            key: *key,
            name: node.name.clone(),
            stage: node.stage_name(),
            run,
            input,
            base_dir: self.graph.base_dir.clone(),
            cancel: Arc::new(AtomicBool::new(false)),
            progress: Arc::new(NoProgress),
            after: store_in_cache(
                Arc::clone(self.cache),
                StoreInfo {
                    key: *key,
                    stage: node.stage_name(),
                    version: node.version,
                    args: node.canonical.as_ref().map_err(Clone::clone)?.args(),
                    inputs,
                },
            ),
        };
        let done = run_job(job);
        if let Some(w) = done.warning {
            return Err(w);
        }
        done.result.map_err(|e| e.to_string())?;
        Ok(format!(
            "ran {} {} in {:.3}s",
            key.short(),
            node.name,
            done.seconds
        ))
    }

    /// An input node's output, read (and verified) from the shared cache.
    fn cached_output(&self, id: NodeId) -> Result<Arc<StageOutput>, String> {
        let node = &self.graph.nodes[id];
        let key = node.key.clone()?;
        let missing = || {
            format!(
                "input `{}` ({}) is not in the cache",
                node.name,
                key.short()
            )
        };
        match self.cache.lookup(&key) {
            Lookup::Hit(m) => self
                .cache
                .load(&key, &m)
                .map(Arc::new)
                .map_err(|r| format!("input `{}` in the cache is unreadable: {r}", node.name)),
            Lookup::Miss => Err(missing()),
            Lookup::Corrupt(reason) => Err(format!("{} ({reason})", missing())),
        }
    }
}
