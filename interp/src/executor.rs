//! The executor seam: the scheduler decides what runs, an `Executor` runs one
//! node somewhere and reports back on a channel. The local executor runs nodes on
//! a rayon pool of `-j N` threads; the Slurm executor (`crate::slurm`) sends them
//! to a cluster as job arrays. `pipe run --executor` picks one; nothing else in
//! the interpreter knows which is in use. Executors never decide order and never
//! look at the graph.

use crate::cache::{Cache, EntryInfo};
use crate::graph::NodeId;
use crate::key::Key;
use pipe_stdlib::stage::{Progress, RunFn, StageContext, StageError, StageInput, StageOutput};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Instant;

/// Stores a finished result (in the cache); returns a warning when it could not.
pub type AfterFn = Box<dyn FnOnce(&StageOutput, f64) -> Option<String> + Send>;

/// One node to run: the implementation, its input, and what it may use.
pub struct Job {
    pub node: NodeId,
    /// The node's key: how an executor outside this process names the node.
    pub key: Key,
    /// The node's name, for logs.
    pub name: String,
    /// `namespace.name` of its stage (an executor may pick resources by it).
    pub stage: String,
    pub run: RunFn,
    pub input: StageInput,
    pub base_dir: PathBuf,
    pub cancel: Arc<AtomicBool>,
    pub progress: Arc<dyn Progress + Send + Sync>,
    /// Runs on the worker after a success, before the result is reported.
    pub after: AfterFn,
}

/// What came back from a job.
pub struct Finished {
    pub node: NodeId,
    pub result: Result<Arc<StageOutput>, StageError>,
    pub seconds: f64,
    pub warning: Option<String>,
}

pub trait Executor: Sync {
    /// Starts `job`; its `Finished` is sent on `done` exactly once.
    fn submit(&self, job: Job, done: Sender<Finished>);
    /// How many jobs it runs at once; the scheduler keeps at most this many in flight.
    fn parallelism(&self) -> usize;
    /// Whether the scheduler may run a node on its own thread when it is the only
    /// one that can run (true for in-process executors).
    fn inline_when_alone(&self) -> bool {
        false
    }
    /// Whether `Job::input` must hold the inputs in memory. An executor that runs
    /// nodes elsewhere reads them from the cache there, so the scheduler need not
    /// load them.
    fn needs_input(&self) -> bool {
        true
    }
    /// Called after the scheduler submitted every node that is ready now, so an
    /// executor that batches (one Slurm job array per batch) can send the batch.
    fn flush(&self) {}
}

/// What a node is, for the manifest of its cache entry.
pub struct StoreInfo {
    pub key: Key,
    pub stage: String,
    pub version: u32,
    pub args: std::collections::BTreeMap<String, serde_json::Value>,
    pub inputs: Vec<Key>,
}

/// The `after` step of every executor: stores a result in the cache, atomically
/// (see `Cache::store`); a failed write is a warning, the result stands.
pub fn store_in_cache(cache: Arc<Cache>, what: StoreInfo) -> AfterFn {
    Box::new(move |output, seconds| {
        let info = EntryInfo {
            key: what.key,
            stage: what.stage,
            version: what.version,
            args: &what.args,
            inputs: what.inputs,
            seconds,
        };
        cache
            .store(&info, output)
            .err()
            .map(|e| format!("could not cache the result of {}: {e}", what.key.short()))
    })
}

/// Runs jobs on a rayon pool in this process.
pub struct LocalExecutor {
    pool: rayon::ThreadPool,
}

impl LocalExecutor {
    /// `threads == 0` means one per core.
    pub fn new(threads: usize) -> Result<Self, String> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("pipe-worker-{i}"))
            .build()
            .map_err(|e| format!("cannot start worker threads: {e}"))?;
        Ok(LocalExecutor { pool })
    }
}

impl Executor for LocalExecutor {
    fn submit(&self, job: Job, done: Sender<Finished>) {
        self.pool.spawn(move || {
            let finished = run_job(job);
            // The scheduler only stops listening after every job has reported.
            let _ = done.send(finished);
        });
    }

    fn parallelism(&self) -> usize {
        self.pool.current_num_threads()
    }

    fn inline_when_alone(&self) -> bool {
        true
    }
}

/// Runs a job here and now: the stage, then its `after` step. A panicking stage
/// is a failed node, not a crashed run.
pub fn run_job(job: Job) -> Finished {
    let start = Instant::now();
    let ctx = StageContext {
        base_dir: job.base_dir.clone(),
        progress: &*job.progress,
        cancel: &job.cancel,
    };
    let result =
        catch_unwind(AssertUnwindSafe(|| (job.run)(&job.input, &ctx))).unwrap_or_else(|panic| {
            Err(StageError::Internal(format!(
                "the stage panicked: {}",
                panic_message(&panic)
            )))
        });
    let seconds = start.elapsed().as_secs_f64();
    match result {
        Ok(output) => {
            let warning = (job.after)(&output, seconds);
            Finished {
                node: job.node,
                result: Ok(Arc::new(output)),
                seconds,
                warning,
            }
        }
        Err(e) => Finished {
            node: job.node,
            result: Err(e),
            seconds,
            warning: None,
        },
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "no message".into()
    }
}
