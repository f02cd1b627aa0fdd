//! The scheduler: decides what runs and in what order. Plans every needed node
//! (cached, to run, or failed before starting), then runs the rest in dependency
//! order with an explicit ready queue (no recursion, so 10,000-deep chains work),
//! handing nodes to an `Executor`. A failed node stops only its dependents; every
//! failure is reported. Cancellation (Ctrl-C, or `watch` seeing stale work) goes
//! through `RunControl`. This module never draws, prints or parses anything.

use crate::cache::{Cache, Lookup, Manifest, OutputKinds};
use crate::executor::{Executor, Finished, Job, StoreInfo};
use crate::graph::{Graph, NodeId};
use crate::key::Key;
use crate::progress::ProgressFactory;
use crate::stage_input;
use crate::stage_set::StageSet;
use pipe_stdlib::stage::{StageError, StageInput, StageOutput};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ran,
    Cached,
    Failed,
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ran => "ran",
            Status::Cached => "cached",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        }
    }
}

/// What happened to one node.
#[derive(Debug, Clone)]
pub struct NodeReport {
    pub id: NodeId,
    pub name: String,
    pub stage: String,
    pub key: Option<Key>,
    pub status: Status,
    /// How long the stage ran (for a cached node: how long it ran when cached).
    pub seconds: f64,
    pub metrics: BTreeMap<String, f64>,
    pub error: Option<String>,
    pub outputs: Option<OutputKinds>,
    /// Seconds since the run started, when the node ran here.
    pub started: Option<f64>,
    pub ended: Option<f64>,
}

/// Shared between a run and whoever may stop it (Ctrl-C handler, `watch`).
#[derive(Default)]
pub struct RunControl {
    /// Cancel everything (Ctrl-C).
    pub interrupted: AtomicBool,
    /// Start nothing new; let running nodes finish (`watch` saw a change).
    pub drain: AtomicBool,
    running: Mutex<HashMap<Key, Arc<AtomicBool>>>,
}

impl RunControl {
    /// Cancels everything (Ctrl-C): running nodes see their cancel flag at once,
    /// even one running on the scheduler's own thread.
    pub fn interrupt(&self) {
        self.interrupted.store(true, Ordering::SeqCst);
        self.cancel_all();
    }

    /// Drains the run and cancels the running nodes whose keys are not in `keep`
    /// (their inputs changed, so their results are no longer wanted).
    pub fn cancel_stale(&self, keep: &HashSet<Key>) -> usize {
        self.drain.store(true, Ordering::SeqCst);
        let Ok(running) = self.running.lock() else {
            return 0;
        };
        let mut n = 0;
        for (k, flag) in running.iter() {
            if !keep.contains(k) {
                flag.store(true, Ordering::SeqCst);
                n += 1;
            }
        }
        n
    }

    fn register(&self, key: Key, flag: Arc<AtomicBool>) {
        if let Ok(mut r) = self.running.lock() {
            r.insert(key, flag);
        }
    }

    fn unregister(&self, key: &Key) {
        if let Ok(mut r) = self.running.lock() {
            r.remove(key);
        }
    }

    fn cancel_all(&self) {
        if let Ok(r) = self.running.lock() {
            for flag in r.values() {
                flag.store(true, Ordering::SeqCst);
            }
        }
    }
}

/// Everything a run uses.
pub struct Scheduler<'a> {
    pub graph: &'a Graph,
    pub stages: &'a dyn StageSet,
    pub cache: &'a Arc<Cache>,
    pub executor: &'a dyn Executor,
    pub control: &'a RunControl,
    pub progress: &'a dyn ProgressFactory,
    /// Told about each node as soon as its status is known.
    pub observer: &'a dyn Fn(&NodeReport),
    /// Cache problems (damaged entries, failed writes); the run goes on.
    pub warn: &'a dyn Fn(String),
}

pub struct RunResult {
    /// One report per needed node, in topological order.
    pub reports: Vec<NodeReport>,
    /// Outputs of the nodes that ran in this run.
    pub outputs: HashMap<NodeId, Arc<StageOutput>>,
    pub interrupted: bool,
}

impl RunResult {
    pub fn ok(&self) -> bool {
        !self.interrupted
            && self
                .reports
                .iter()
                .all(|r| matches!(r.status, Status::Ran | Status::Cached))
    }
}

enum Plan {
    Done(NodeReport),
    Cached(Manifest),
    ToRun,
}

impl Scheduler<'_> {
    /// Runs `needed` (a topologically ordered, dependency-closed set of node ids).
    pub fn run(&self, needed: &[NodeId]) -> RunResult {
        let t0 = Instant::now();
        let mut plans: HashMap<NodeId, Plan> = HashMap::with_capacity(needed.len());
        for (&id, found) in needed.iter().zip(self.lookups(needed)) {
            let plan = self.plan(id, &plans, found);
            if let Plan::Done(r) = &plan {
                (self.observer)(r);
            }
            if let Plan::Cached(m) = &plan {
                (self.observer)(&self.cached_report(id, m));
            }
            plans.insert(id, plan);
        }
        let mut exec = Execution {
            s: self,
            plans,
            t0,
            outputs: HashMap::new(),
            loaded: HashMap::new(),
            reports: HashMap::new(),
        };
        let interrupted = exec.execute(needed);
        let mut reports = Vec::with_capacity(needed.len());
        for &id in needed {
            let report = match exec.plans.remove(&id) {
                Some(Plan::Done(r)) => r,
                Some(Plan::Cached(m)) => {
                    self.cached_report_from(id, m.seconds, m.metrics, m.outputs)
                }
                _ => exec
                    .reports
                    .remove(&id)
                    .unwrap_or_else(|| self.skipped(id, "the run was cancelled".into())),
            };
            reports.push(report);
        }
        RunResult {
            reports,
            outputs: exec.outputs,
            interrupted,
        }
    }

    /// Every needed node's cache lookup (`None` for a node without a key), done
    /// in parallel: on a no-op rerun of a large sweep, inflating and parsing the
    /// packed manifests is most of the work.
    fn lookups(&self, needed: &[NodeId]) -> Vec<Option<Lookup>> {
        use rayon::prelude::*;
        let cache: &Cache = self.cache;
        let nodes = &self.graph.nodes;
        needed
            .par_iter()
            .map(|&id| nodes[id].key.as_ref().ok().map(|k| cache.lookup(k)))
            .collect()
    }

    fn plan(&self, id: NodeId, plans: &HashMap<NodeId, Plan>, found: Option<Lookup>) -> Plan {
        let node = &self.graph.nodes[id];
        for &input in &node.inputs {
            if let Some(Plan::Done(r)) = plans.get(&input) {
                return Plan::Done(self.skipped(id, root_cause(r)));
            }
        }
        let key = match &node.key {
            Ok(k) => *k,
            Err(msg) => return Plan::Done(self.failed(id, msg.clone(), 0.0)),
        };
        match found.unwrap_or(Lookup::Miss) {
            Lookup::Hit(m) => return Plan::Cached(m),
            Lookup::Miss => {}
            Lookup::Corrupt(reason) => (self.warn)(format!(
                "cache entry {} of `{}` was damaged ({reason}); discarded, recomputing",
                key.short(),
                node.name
            )),
        }
        if !node.implemented {
            let msg = format!("stage `{}` is not implemented yet", node.stage_name());
            return Plan::Done(self.failed(id, msg, 0.0));
        }
        Plan::ToRun
    }

    fn base_report(&self, id: NodeId, status: Status) -> NodeReport {
        let node = &self.graph.nodes[id];
        NodeReport {
            id,
            name: node.name.clone(),
            stage: node.stage_name(),
            key: node.key.as_ref().ok().copied(),
            status,
            seconds: 0.0,
            metrics: BTreeMap::new(),
            error: None,
            outputs: None,
            started: None,
            ended: None,
        }
    }

    fn cached_report(&self, id: NodeId, m: &Manifest) -> NodeReport {
        self.cached_report_from(id, m.seconds, m.metrics.clone(), m.outputs.clone())
    }

    /// The report of a cached node from its manifest's parts: the final
    /// reports take the metrics out of the manifests instead of copying them
    /// (at 100,000 points the copies were 100 MB).
    fn cached_report_from(
        &self,
        id: NodeId,
        seconds: f64,
        metrics: BTreeMap<String, f64>,
        outputs: OutputKinds,
    ) -> NodeReport {
        NodeReport {
            seconds,
            metrics,
            outputs: Some(outputs),
            ..self.base_report(id, Status::Cached)
        }
    }

    fn failed(&self, id: NodeId, error: String, seconds: f64) -> NodeReport {
        NodeReport {
            error: Some(error),
            seconds,
            ..self.base_report(id, Status::Failed)
        }
    }

    fn skipped(&self, id: NodeId, because: String) -> NodeReport {
        NodeReport {
            error: Some(because),
            ..self.base_report(id, Status::Skipped)
        }
    }
}

/// "depends on failed `x`", naming the node that actually failed.
fn root_cause(input: &NodeReport) -> String {
    match input.status {
        Status::Skipped => input.error.clone().unwrap_or_default(),
        _ => format!("depends on failed `{}`", input.name),
    }
}

/// The state of the running phase.
struct Execution<'s, 'a> {
    s: &'s Scheduler<'a>,
    plans: HashMap<NodeId, Plan>,
    t0: Instant,
    outputs: HashMap<NodeId, Arc<StageOutput>>,
    /// Outputs of cached nodes loaded as inputs, loaded once.
    loaded: HashMap<NodeId, Arc<StageOutput>>,
    reports: HashMap<NodeId, NodeReport>,
}

impl Execution<'_, '_> {
    /// Runs every `ToRun` node; returns whether the run was interrupted.
    fn execute(&mut self, needed: &[NodeId]) -> bool {
        let graph = self.s.graph;
        let to_run: HashSet<NodeId> = needed
            .iter()
            .copied()
            .filter(|id| matches!(self.plans.get(id), Some(Plan::ToRun)))
            .collect();
        let mut waiting: HashMap<NodeId, usize> = HashMap::with_capacity(to_run.len());
        let mut dependents: HashMap<NodeId, Vec<NodeId>> = HashMap::new();
        for &id in &to_run {
            let pending: Vec<NodeId> = graph.nodes[id]
                .inputs
                .iter()
                .copied()
                .filter(|i| to_run.contains(i))
                .collect();
            for &i in &pending {
                dependents.entry(i).or_default().push(id);
            }
            waiting.insert(id, pending.len());
        }
        let mut ready: VecDeque<NodeId> = needed
            .iter()
            .copied()
            .filter(|id| waiting.get(id) == Some(&0))
            .collect();
        let (tx, rx) = mpsc::channel::<Finished>();
        let mut running = 0usize;
        let limit = self.s.executor_threads();
        let control = self.s.control;
        let mut interrupted = false;
        loop {
            if control.interrupted.load(Ordering::SeqCst) && !interrupted {
                interrupted = true;
                control.cancel_all();
            }
            let starting = !interrupted && !control.drain.load(Ordering::SeqCst);
            // A lone ready node with nothing else running (a chain) runs right here:
            // handing it to a worker thread only adds two thread wake-ups per node.
            if starting && running == 0 && ready.len() == 1 && self.s.executor.inline_when_alone() {
                let Some(id) = ready.pop_front() else { break };
                match self.job(id) {
                    Ok(job) => {
                        let done = crate::executor::run_job(job);
                        self.finish(done, &dependents, &mut waiting, &mut ready);
                    }
                    Err(msg) => {
                        let report = self.s.failed(id, msg, 0.0);
                        self.fail(id, report, &dependents);
                    }
                }
                continue;
            }
            let mut submitted = false;
            while starting && running < limit {
                let Some(id) = ready.pop_front() else { break };
                match self.job(id) {
                    Ok(job) => {
                        running += 1;
                        submitted = true;
                        self.s.executor.submit(job, tx.clone());
                    }
                    Err(msg) => {
                        let report = self.s.failed(id, msg, 0.0);
                        self.fail(id, report, &dependents);
                    }
                }
            }
            if submitted {
                self.s.executor.flush();
            }
            if running == 0 && (ready.is_empty() || !starting) {
                break;
            }
            let Ok(done) = rx.recv_timeout(Duration::from_millis(50)) else {
                continue;
            };
            running -= 1;
            self.finish(done, &dependents, &mut waiting, &mut ready);
        }
        interrupted
    }

    fn job(&mut self, id: NodeId) -> Result<Job, String> {
        let s = self.s;
        let node = &s.graph.nodes[id];
        if s.stages.stage(node.namespace, node.stage).is_none() {
            return Err(format!(
                "stage `{}` is not in the catalog",
                node.stage_name()
            ));
        }
        let run = s
            .stages
            .implementation(node.namespace, node.stage)
            .ok_or_else(|| format!("stage `{}` is not implemented yet", node.stage_name()))?;
        let input = if s.executor.needs_input() {
            self.input_of(id)?
        } else {
            StageInput::default()
        };
        let key = node.key.clone()?;
        let canonical = node.canonical.as_ref().map_err(Clone::clone)?.args();
        let inputs: Vec<Key> = node
            .inputs
            .iter()
            .filter_map(|&i| s.graph.nodes[i].key.as_ref().ok().copied())
            .collect();
        let cancel = Arc::new(AtomicBool::new(false));
        s.control.register(key, Arc::clone(&cancel));
        let started = self.t0.elapsed().as_secs_f64();
        self.reports.insert(
            id,
            NodeReport {
                started: Some(started),
                ..s.base_report(id, Status::Ran)
            },
        );
        Ok(Job {
            node: id,
            key,
            name: node.name.clone(),
            stage: node.stage_name(),
            run,
            input,
            base_dir: s.graph.base_dir.clone(),
            cancel,
            progress: s.progress.for_node(&node.name),
            after: crate::executor::store_in_cache(
                Arc::clone(s.cache),
                StoreInfo {
                    key,
                    stage: node.stage_name(),
                    version: node.version,
                    args: canonical,
                    inputs,
                },
            ),
        })
    }

    /// The in-memory input of a node, its input nodes' outputs loaded once.
    fn input_of(&mut self, id: NodeId) -> Result<StageInput, String> {
        let s = self.s;
        let node = &s.graph.nodes[id];
        for &i in &node.inputs {
            self.ensure_loaded(i)?;
        }
        let outputs = &self.outputs;
        let loaded = &self.loaded;
        stage_input::build(node, &|i| {
            outputs
                .get(&i)
                .or_else(|| loaded.get(&i))
                .cloned()
                .ok_or_else(|| {
                    format!("the output of `{}` is not available", s.graph.nodes[i].name)
                })
        })
        .map_err(|e| e.to_string())
    }

    /// Loads the output of a cached input node once.
    fn ensure_loaded(&mut self, id: NodeId) -> Result<(), String> {
        if self.outputs.contains_key(&id) || self.loaded.contains_key(&id) {
            return Ok(());
        }
        let node = &self.s.graph.nodes[id];
        let (Some(Plan::Cached(m)), Ok(key)) = (self.plans.get(&id), &node.key) else {
            return Err(format!("the output of `{}` is not available", node.name));
        };
        let output = self.s.cache.load(key, m).map_err(|reason| {
            format!(
                "the cached output of `{}` became unreadable ({reason}); run again to recompute it",
                node.name
            )
        })?;
        self.loaded.insert(id, Arc::new(output));
        Ok(())
    }

    fn finish(
        &mut self,
        done: Finished,
        dependents: &HashMap<NodeId, Vec<NodeId>>,
        waiting: &mut HashMap<NodeId, usize>,
        ready: &mut VecDeque<NodeId>,
    ) {
        let s = self.s;
        let id = done.node;
        if let Ok(key) = &s.graph.nodes[id].key {
            s.control.unregister(key);
        }
        if let Some(w) = done.warning {
            (s.warn)(w);
        }
        let ended = self.t0.elapsed().as_secs_f64();
        let mut report = self
            .reports
            .remove(&id)
            .unwrap_or_else(|| s.base_report(id, Status::Ran));
        report.ended = Some(ended);
        report.seconds = done.seconds;
        match done.result {
            Ok(output) => {
                report.metrics = output.metrics.clone();
                report.outputs = Some(kinds(&output));
                self.outputs.insert(id, output);
                (s.observer)(&report);
                self.reports.insert(id, report);
                for &d in dependents.get(&id).map(Vec::as_slice).unwrap_or_default() {
                    if let Some(w) = waiting.get_mut(&d) {
                        *w -= 1;
                        if *w == 0 {
                            ready.push_back(d);
                        }
                    }
                }
            }
            Err(e) => {
                report.status = Status::Failed;
                report.error = Some(match e {
                    StageError::Cancelled => "cancelled".to_string(),
                    other => other.to_string(),
                });
                self.fail(id, report, dependents);
            }
        }
    }

    /// Records a failure and skips every node that depends on it (explicit stack).
    fn fail(&mut self, id: NodeId, report: NodeReport, dependents: &HashMap<NodeId, Vec<NodeId>>) {
        let s = self.s;
        (s.observer)(&report);
        let because = format!("depends on failed `{}`", report.name);
        self.reports.insert(id, report);
        self.plans.remove(&id);
        let mut stack: Vec<NodeId> = dependents.get(&id).cloned().unwrap_or_default();
        while let Some(d) = stack.pop() {
            if self.reports.contains_key(&d) {
                continue;
            }
            let r = s.skipped(d, because.clone());
            (s.observer)(&r);
            self.reports.insert(d, r);
            self.plans.remove(&d);
            stack.extend(dependents.get(&d).cloned().unwrap_or_default());
        }
    }
}

impl Scheduler<'_> {
    fn executor_threads(&self) -> usize {
        self.executor.parallelism().max(1)
    }
}

fn kinds(output: &StageOutput) -> OutputKinds {
    match &output.outputs {
        pipe_stdlib::stage::Outputs::Single(a) => OutputKinds::Single(a.kind().to_string()),
        pipe_stdlib::stage::Outputs::Record(f) => OutputKinds::Record(
            f.iter()
                .map(|(k, a)| (k.clone(), a.kind().to_string()))
                .collect(),
        ),
    }
}
