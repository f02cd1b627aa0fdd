//! The Slurm executor: the controller side of `pipe run --executor slurm`.
//! Nodes the scheduler submits are held until it flushes a batch, then sent as
//! job arrays (one `sbatch --array` per group of nodes with the same `sbatch`
//! options, nodes packed into array tasks as `group` decides). A poller thread calls
//! `squeue` once per interval for every array, learns results from the cache
//! (workers write them there), resubmits nodes whose task ended without a
//! result (up to `--slurm-retries` times), and `scancel`s the tasks of
//! cancelled nodes. At start it adopts the tasks an earlier, killed controller
//! left queued or running (job-state files), so they are not submitted twice.
//! This module never decides what runs or in which order.

use super::commands::{self, SlurmError};
use super::config::SlurmConfig;
use super::group::{self, StageTimes};
use super::poll::{self, States};
use super::state::{self, ArrayDir};
use super::submit::{self, WorkerCommand};
use crate::cache::{Cache, Lookup};
use crate::executor::{Executor, Finished, Job};
use crate::key::Key;
use pipe_stdlib::stage::StageError;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the poller looks at cancel flags (squeue runs every `--slurm-poll`).
const TICK: Duration = Duration::from_millis(50);
/// `squeue` failing this many times in a row fails the nodes in flight.
const MAX_POLL_ERRORS: u32 = 10;
/// How long a cancel waits for Slurm to drop the cancelled tasks.
const CANCEL_WAIT: Duration = Duration::from_secs(20);
/// Lines of a failed task's log shown in the error.
const LOG_TAIL: usize = 15;

/// One array task: which job, which index, where its files are.
#[derive(Debug, Clone)]
struct Task {
    job_id: u64,
    index: u32,
    dir: Arc<ArrayDir>,
}

impl Task {
    fn id(&self) -> String {
        format!("{}_{}", self.job_id, self.index)
    }
}

/// A node handed to this executor.
struct Entry {
    job: Job,
    done: Sender<Finished>,
    /// Tasks submitted for it so far.
    attempts: u32,
    task: Option<Task>,
    started: Instant,
}

impl Entry {
    fn report(
        self,
        result: Result<Arc<pipe_stdlib::stage::StageOutput>, StageError>,
        seconds: f64,
    ) {
        // The scheduler listens until every submitted node has reported.
        let _ = self.done.send(Finished {
            node: self.job.node,
            result,
            seconds,
            warning: None,
        });
    }

    fn fail(self, message: String) {
        let seconds = self.started.elapsed().as_secs_f64();
        self.report(Err(StageError::Invalid(message)), seconds);
    }
}

struct Shared {
    config: SlurmConfig,
    worker: WorkerCommand,
    cache: Arc<Cache>,
    arrays: PathBuf,
    /// Submitted by the scheduler, waiting for `flush`.
    pending: Mutex<Vec<Entry>>,
    /// In a job array, waiting for a result.
    in_flight: Mutex<Vec<Entry>>,
    /// Tasks of earlier runs still queued or running, by the keys they run.
    adoptable: Mutex<HashMap<Key, Task>>,
    stop: AtomicBool,
    /// Node seconds per stage, for packing nodes into tasks; saved when the
    /// executor ends.
    times: Mutex<StageTimes>,
    times_file: PathBuf,
}

pub struct SlurmExecutor {
    shared: Arc<Shared>,
    poller: Mutex<Option<JoinHandle<()>>>,
    max_in_flight: usize,
}

impl SlurmExecutor {
    /// Checks that Slurm answers, adopts what earlier runs left queued or
    /// running, and starts the poller. `max_in_flight == 0`: no limit.
    pub fn start(
        config: SlurmConfig,
        worker: WorkerCommand,
        cache: Arc<Cache>,
        max_in_flight: usize,
    ) -> Result<SlurmExecutor, SlurmError> {
        commands::probe()?;
        let arrays = cache.dir().join("slurm").join("arrays");
        std::fs::create_dir_all(&arrays).map_err(|e| SlurmError::File {
            path: arrays.display().to_string(),
            reason: e.to_string(),
        })?;
        let adoptable = adopt(&arrays, &cache)?;
        let times_file = cache.dir().join("slurm").join("stage-seconds.json");
        let shared = Arc::new(Shared {
            times: Mutex::new(StageTimes::load(&times_file)),
            times_file,
            config,
            worker,
            cache,
            arrays,
            pending: Mutex::new(Vec::new()),
            in_flight: Mutex::new(Vec::new()),
            adoptable: Mutex::new(adoptable),
            stop: AtomicBool::new(false),
        });
        let for_poller = Arc::clone(&shared);
        let poller = std::thread::Builder::new()
            .name("pipe-slurm-poll".into())
            .spawn(move || for_poller.poll_loop())
            .map_err(|e| SlurmError::Spawn {
                command: "the squeue poller thread".into(),
                reason: e.to_string(),
            })?;
        Ok(SlurmExecutor {
            shared,
            poller: Mutex::new(Some(poller)),
            max_in_flight: if max_in_flight == 0 {
                usize::MAX
            } else {
                max_in_flight
            },
        })
    }
}

impl Drop for SlurmExecutor {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Ok(mut p) = self.poller.lock() {
            if let Some(handle) = p.take() {
                let _ = handle.join();
            }
        }
        // The times only guide the next run's packing: losing them is harmless.
        if let Ok(times) = self.shared.times.lock() {
            let _ = times.save(&self.shared.times_file);
        }
    }
}

impl Executor for SlurmExecutor {
    fn submit(&self, job: Job, done: Sender<Finished>) {
        let entry = Entry {
            job,
            done,
            attempts: 0,
            task: None,
            started: Instant::now(),
        };
        match self.shared.pending.lock() {
            Ok(mut p) => p.push(entry),
            Err(_) => entry.fail("the Slurm executor's queue is unusable".into()),
        }
    }

    fn parallelism(&self) -> usize {
        self.max_in_flight
    }

    fn needs_input(&self) -> bool {
        false
    }

    fn flush(&self) {
        let batch = match self.shared.pending.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(_) => return,
        };
        self.shared.send(batch);
    }
}

/// The tasks recorded by earlier runs that Slurm still runs or queues, by key.
/// Array directories with nothing alive whose keys all reached the cache are
/// removed (their logs are no longer needed).
fn adopt(arrays: &std::path::Path, cache: &Cache) -> Result<HashMap<Key, Task>, SlurmError> {
    let recorded = state::recorded(arrays);
    let ids: BTreeSet<u64> = recorded.iter().map(|r| r.job_id).collect();
    let states = poll::states(&ids)?;
    let mut adoptable = HashMap::new();
    for r in recorded {
        let dir = Arc::new(r.dir);
        let mut alive = false;
        for (index, keys) in r.tasks.iter().enumerate() {
            let index = index as u32;
            if !states
                .get(&(r.job_id, index))
                .is_some_and(|s| poll::is_alive(s))
            {
                continue;
            }
            alive = true;
            for key in keys {
                let task = Task {
                    job_id: r.job_id,
                    index,
                    dir: Arc::clone(&dir),
                };
                adoptable.insert(*key, task);
            }
        }
        let all_cached = r.tasks.iter().flatten().all(|k| cache.has_entry(k));
        if !alive && all_cached {
            let _ = std::fs::remove_dir_all(&dir.dir);
        }
    }
    Ok(adoptable)
}

impl Shared {
    /// Sends a batch: nodes an earlier run's live task already runs are adopted;
    /// the rest go out as job arrays, one per group with equal `sbatch` options.
    fn send(&self, batch: Vec<Entry>) {
        let mut groups: BTreeMap<Vec<String>, Vec<Entry>> = BTreeMap::new();
        for mut entry in batch {
            let adopted = self
                .adoptable
                .lock()
                .ok()
                .and_then(|mut a| a.remove(&entry.job.key));
            if let Some(task) = adopted {
                entry.attempts += 1;
                entry.task = Some(task);
                self.track(vec![entry]);
                continue;
            }
            let options = self.config.options_for(&entry.job.stage);
            groups.entry(options).or_default().push(entry);
        }
        for (options, entries) in groups {
            let sizes = self.task_sizes(&entries);
            let mut entries = entries;
            for array in sizes.chunks(self.config.array_max.max(1)) {
                let nodes: usize = array.iter().sum();
                let rest = entries.split_off(nodes.min(entries.len()));
                self.submit_array(&options, entries, array);
                entries = rest;
            }
        }
    }

    /// Nodes per array task for `entries` (see `group`).
    fn task_sizes(&self, entries: &[Entry]) -> Vec<usize> {
        let estimates: Vec<Option<f64>> = match self.times.lock() {
            Ok(times) => entries
                .iter()
                .map(|e| times.estimate(&e.job.stage))
                .collect(),
            Err(_) => entries
                .iter()
                .map(|e| group::class_seconds(&e.job.stage))
                .collect(),
        };
        group::plan(&estimates, self.config.group)
    }

    /// One `sbatch --array` for `entries`, `sizes[i]` of them in task i.
    fn submit_array(&self, options: &[String], entries: Vec<Entry>, sizes: &[usize]) {
        let mut index_of = Vec::with_capacity(entries.len());
        for (task, &n) in sizes.iter().enumerate() {
            index_of.extend(std::iter::repeat_n(task as u32, n));
        }
        let mut tasks: Vec<Vec<Key>> = vec![Vec::new(); sizes.len()];
        for (entry, &task) in entries.iter().zip(&index_of) {
            tasks[task as usize].push(entry.job.key);
        }
        match submit::submit(&self.worker, &self.arrays, options, &tasks) {
            Ok(s) => {
                let dir = Arc::new(s.dir);
                let mut tracked = Vec::with_capacity(entries.len());
                for (mut entry, &index) in entries.into_iter().zip(&index_of) {
                    entry.attempts += 1;
                    entry.task = Some(Task {
                        job_id: s.job_id,
                        index,
                        dir: Arc::clone(&dir),
                    });
                    tracked.push(entry);
                }
                self.track(tracked);
            }
            Err(e) => {
                for entry in entries {
                    entry.fail(format!("could not submit to Slurm: {e}"));
                }
            }
        }
    }

    fn track(&self, entries: Vec<Entry>) {
        match self.in_flight.lock() {
            Ok(mut f) => f.extend(entries),
            Err(_) => {
                for e in entries {
                    e.fail("the Slurm executor's queue is unusable".into());
                }
            }
        }
    }

    fn take_in_flight(&self) -> Vec<Entry> {
        self.in_flight
            .lock()
            .map(|mut f| std::mem::take(&mut *f))
            .unwrap_or_default()
    }

    fn poll_loop(&self) {
        let mut last_poll = Instant::now();
        let mut errors = 0u32;
        while !self.stop.load(Ordering::SeqCst) {
            std::thread::sleep(TICK);
            self.cancel_requested();
            if last_poll.elapsed() < self.config.poll {
                continue;
            }
            last_poll = Instant::now();
            errors = self.poll_once(errors);
        }
    }

    /// One `squeue` for everything in flight, then each node's result.
    /// Returns the count of consecutive `squeue` failures.
    fn poll_once(&self, errors: u32) -> u32 {
        let entries = self.take_in_flight();
        if entries.is_empty() {
            return 0;
        }
        let ids: BTreeSet<u64> = entries
            .iter()
            .filter_map(|e| e.task.as_ref().map(|t| t.job_id))
            .collect();
        let states = match poll::states(&ids) {
            Ok(s) => s,
            Err(e) if errors + 1 >= MAX_POLL_ERRORS => {
                for entry in entries {
                    entry.fail(format!("lost track of its Slurm job: {e}"));
                }
                return 0;
            }
            Err(_) => {
                self.track(entries);
                return errors + 1;
            }
        };
        let mut waiting = Vec::new();
        let mut retry = Vec::new();
        for entry in entries {
            match self.outcome(entry, &states) {
                Some((entry, true)) => retry.push(entry),
                Some((entry, false)) => waiting.push(entry),
                None => {}
            }
        }
        self.track(waiting);
        if !retry.is_empty() {
            self.send(retry);
        }
        0
    }

    /// Reports a node that has a result or failed for good; otherwise gives it
    /// back with whether to resubmit it.
    fn outcome(&self, entry: Entry, states: &States) -> Option<(Entry, bool)> {
        let Some(task) = entry.task.clone() else {
            return Some((entry, true));
        };
        let key = entry.job.key;
        if let Lookup::Hit(m) = self.cache.lookup(&key) {
            if let Ok(mut times) = self.times.lock() {
                times.record(&entry.job.stage, m.seconds);
            }
            match self.cache.load(&key, &m) {
                Ok(output) => entry.report(Ok(Arc::new(output)), m.seconds),
                Err(reason) => entry.fail(format!(
                    "the worker's result for {} is unreadable ({reason}); log: {}",
                    key.short(),
                    task.dir.log(task.index).display()
                )),
            }
            return None;
        }
        if let Ok(error) = std::fs::read_to_string(task.dir.error_file(&key)) {
            entry.fail(format!(
                "{} (Slurm task {}; log: {})",
                error.trim(),
                task.id(),
                task.dir.log(task.index).display()
            ));
            return None;
        }
        let slurm_state = states.get(&(task.job_id, task.index));
        if slurm_state.is_some_and(|s| poll::is_alive(s)) {
            return Some((entry, false));
        }
        if entry.attempts <= self.config.retries {
            return Some((entry, true));
        }
        let log = task.dir.log(task.index);
        let how = slurm_state.map_or("is no longer listed by squeue".to_string(), |s| {
            format!("ended {s}")
        });
        let attempts = entry.attempts;
        entry.fail(format!(
            "Slurm task {} {how} without a result, after {attempts} attempts; log: {}\n{}",
            task.id(),
            log.display(),
            state::tail(&log, LOG_TAIL)
        ));
        None
    }

    /// Cancels the nodes whose cancel flag is set: `scancel` (one call) of each
    /// task none of whose other nodes is still wanted, then waits until Slurm no
    /// longer runs them.
    fn cancel_requested(&self) {
        let Ok(mut f) = self.in_flight.lock() else {
            return;
        };
        if !f.iter().any(|e| e.job.cancel.load(Ordering::SeqCst)) {
            return;
        }
        let (cancelled, kept): (Vec<Entry>, Vec<Entry>) = std::mem::take(&mut *f)
            .into_iter()
            .partition(|e| e.job.cancel.load(Ordering::SeqCst));
        *f = kept;
        let still_wanted: BTreeSet<String> = f
            .iter()
            .filter_map(|e| e.task.as_ref().map(Task::id))
            .collect();
        drop(f);
        let tasks: BTreeMap<String, u64> = cancelled
            .iter()
            .filter_map(|e| e.task.as_ref())
            .filter(|t| !still_wanted.contains(&t.id()))
            .map(|t| (t.id(), t.job_id))
            .collect();
        let message = self.scancel(&tasks).err();
        for entry in cancelled {
            match &message {
                Some(m) => entry.fail(format!("cancelled, but `scancel` failed: {m}")),
                None => {
                    let seconds = entry.started.elapsed().as_secs_f64();
                    entry.report(Err(StageError::Cancelled), seconds);
                }
            }
        }
    }

    fn scancel(&self, tasks: &BTreeMap<String, u64>) -> Result<(), SlurmError> {
        if tasks.is_empty() {
            return Ok(());
        }
        commands::run("scancel", &tasks.keys().cloned().collect::<Vec<_>>())?;
        let ids: BTreeSet<u64> = tasks.values().copied().collect();
        let start = Instant::now();
        while start.elapsed() < CANCEL_WAIT {
            let states = poll::states(&ids)?;
            let alive = states.iter().any(|((job, index), s)| {
                poll::is_alive(s) && tasks.contains_key(&format!("{job}_{index}"))
            });
            if !alive {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Ok(())
    }
}
