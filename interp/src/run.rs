//! One run of a lowered pipeline, shared by `pipe run` and `pipe watch`: pick the
//! nodes the named bindings need, refuse plainly when one has no implementation,
//! schedule them, remember node names in the cache's index, and write the run
//! directory. This module prints nothing; callers report.

use crate::cache::Cache;
use crate::error::RunFileError;
use crate::executor::Executor;
use crate::frontend::{render_all, Loaded};
use crate::graph::NodeId;
use crate::input_hash::InputHasher;
use crate::progress::ProgressFactory;
use crate::report::{self, Exported};
use crate::schedule::{NodeReport, RunControl, RunResult, Scheduler, Status};
use crate::stage_set::StageSet;
use pipe_lang::diagnostic::Diagnostic;
use pipe_stdlib::stage::Outputs;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The namespace of the stages that make the tables and plots a file asks for.
const REPORTS: &str = "report";

pub struct RunRequest<'a> {
    pub file: &'a Path,
    pub loaded: &'a Loaded,
    /// Bindings to run; empty: all.
    pub names: &'a [String],
    pub stages: &'a dyn StageSet,
    pub cache: &'a Arc<Cache>,
    pub executor: &'a dyn Executor,
    pub control: &'a RunControl,
    pub progress: &'a dyn ProgressFactory,
    pub observer: &'a dyn Fn(&NodeReport),
    pub warn: &'a dyn Fn(String),
    pub color: bool,
}

pub struct RunOutcome {
    pub result: RunResult,
    /// Where `summary.json` and `report.md` were written.
    pub run_dir: Option<PathBuf>,
    /// Why the run directory could not be written.
    pub run_dir_error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Exit 2: e.g. an unknown binding name.
    #[error("{0}")]
    Usage(String),
    /// Exit 1: rendered diagnostics (a needed stage is not implemented).
    #[error("{0}")]
    Invalid(String),
}

/// The nodes the request needs, in topological order.
pub fn needed(loaded: &Loaded, names: &[String]) -> Result<Vec<NodeId>, RunError> {
    let roots = loaded
        .graph
        .roots(names)
        .map_err(|e| RunError::Usage(e.to_string()))?;
    Ok(loaded.graph.needed(&roots))
}

pub fn run(req: &RunRequest) -> Result<RunOutcome, RunError> {
    let graph = &req.loaded.graph;
    let needed = needed(req.loaded, req.names)?;
    let missing: Vec<Diagnostic> = needed
        .iter()
        .map(|&id| &graph.nodes[id])
        .filter(|n| !n.implemented)
        .map(|n| {
            Diagnostic::error(
                pipe_lang::codes::NOT_IMPLEMENTED,
                &n.file,
                n.span,
                format!("stage `{}` is not implemented yet", n.stage_name()),
            )
            .with_label(n.span, format!("`{}` needs it", n.name))
            .with_help("run only the bindings that do not need it: `pipe run FILE NAME...`")
        })
        .collect();
    if !missing.is_empty() {
        return Err(RunError::Invalid(render_all(
            &req.loaded.program,
            &missing,
            req.color,
        )));
    }
    let scheduler = Scheduler {
        graph,
        stages: req.stages,
        cache: req.cache,
        executor: req.executor,
        control: req.control,
        progress: req.progress,
        observer: req.observer,
        warn: req.warn,
    };
    let why = rerun_reasons(req, &needed);
    let result = scheduler.run(&needed);
    if let Err(e) = req.cache.flush() {
        (req.warn)(format!("could not write the packed cache entries: {e}"));
    }
    remember_names(req, &result.reports);
    let exported = exports(req, &result);
    let stem = req
        .file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pipeline".into());
    let written = report::write_run_dir(
        &graph.base_dir,
        &stem,
        &req.file.display().to_string(),
        &result.reports,
        &node_context(graph, &result.reports, &why),
        result.ok(),
        &exported,
    );
    let (run_dir, run_dir_error) = match written {
        Ok(d) => (Some(d), None),
        Err(e) => (
            None,
            Some(format!("could not write the run directory: {e}")),
        ),
    };
    Ok(RunOutcome {
        result,
        run_dir,
        run_dir_error,
    })
}

/// Why each node without a cache entry will run, as `pipe explain` says it, read
/// before the run changes the cache. Nodes with an entry are not explained here:
/// a lookup verifies (and may discard) the entry, which is the scheduler's to do
/// and to report. Left out above [`REASONS_UP_TO`] nodes: the
/// HTML page does not draw such graphs, and a reason per sweep point costs a cache
/// lookup each.
fn rerun_reasons(req: &RunRequest, needed: &[NodeId]) -> HashMap<NodeId, String> {
    if needed.len() > REASONS_UP_TO {
        return HashMap::new();
    }
    let graph = &req.loaded.graph;
    needed
        .iter()
        .filter(|&&id| {
            graph.nodes[id]
                .key
                .as_ref()
                .is_ok_and(|key| !req.cache.has_entry_or_damage(key))
        })
        .filter_map(|&id| {
            let text = crate::explain::explain(graph, req.cache, id);
            let reasons: Vec<&str> = text
                .lines()
                .filter_map(|l| l.strip_prefix("  - "))
                .collect();
            (!reasons.is_empty()).then(|| (id, reasons.join("; ")))
        })
        .collect()
}

/// Nodes whose rerun reasons the run directory's HTML page shows.
const REASONS_UP_TO: usize = 2 * crate::report_html::MAX_DRAWN_NODES;

/// Each report's inputs (as indices among the reports) and rerun reason.
fn node_context(
    graph: &crate::graph::Graph,
    reports: &[NodeReport],
    why: &HashMap<NodeId, String>,
) -> Vec<report::NodeContext> {
    let index: HashMap<NodeId, usize> =
        reports.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    reports
        .iter()
        .map(|r| report::NodeContext {
            inputs: graph.nodes[r.id]
                .inputs
                .iter()
                .filter_map(|id| index.get(id).copied())
                .collect(),
            why: why.get(&r.id).cloned().unwrap_or_default(),
        })
        .collect()
}

/// Points each node name (and alias) at the key it had in this run.
fn remember_names(req: &RunRequest, reports: &[NodeReport]) {
    let graph = &req.loaded.graph;
    let mut names = Vec::new();
    for r in reports
        .iter()
        .filter(|r| matches!(r.status, Status::Ran | Status::Cached))
    {
        let Some(key) = r.key else { continue };
        let node = &graph.nodes[r.id];
        for name in std::iter::once(&node.name).chain(&node.aliases) {
            names.push((name.clone(), key, r.stage.clone()));
        }
    }
    req.cache.record_names(&names);
}

/// The tables and plots to write: those of the nodes that ran in this run, and
/// of every `report.*` node (what the file asks to see), cached or not; and every
/// file a node hands the user (`model.export`), cached or not, since the run
/// directory is where the user finds it. A cached node's detail table is already
/// in the cache; copying it every run made a no-op rerun of a large sweep write a
/// file per point.
fn exports(req: &RunRequest, result: &RunResult) -> Vec<Exported> {
    let mut named = Vec::new();
    for r in &result.reports {
        let kinds: Vec<&String> = match &r.outputs {
            Some(crate::cache::OutputKinds::Single(k)) => vec![k],
            Some(crate::cache::OutputKinds::Record(f)) => f.values().collect(),
            None => continue,
        };
        let always =
            req.loaded.graph.nodes[r.id].namespace == REPORTS || kinds.iter().any(|k| *k == "file");
        if r.status != Status::Ran && !always {
            continue;
        }
        if !kinds
            .iter()
            .any(|k| ["table", "plot", "file"].contains(&k.as_str()))
        {
            continue;
        }
        let output = match (r.status, result.outputs.get(&r.id), r.key) {
            (Status::Ran, Some(o), _) => Some(Arc::clone(o)),
            (Status::Cached, _, Some(key)) => match req.cache.lookup(&key) {
                crate::cache::Lookup::Hit(m) => req.cache.load(&key, &m).ok().map(Arc::new),
                _ => None,
            },
            _ => None,
        };
        let Some(output) = output else { continue };
        match &output.outputs {
            Outputs::Single(a) => named.push((r.name.clone(), a.clone())),
            Outputs::Record(fields) => {
                for (field, a) in fields {
                    named.push((format!("{}.{field}", r.name), a.clone()));
                }
            }
        }
    }
    let names: Vec<String> = named.iter().map(|(n, _)| n.clone()).collect();
    report::unique_stems(&names)
        .into_iter()
        .zip(named)
        .map(|(stem, (_, artifact))| Exported { stem, artifact })
        .collect()
}

/// A whole run of one file without printing (library users, tests, `watch`).
pub struct FileRun<'a> {
    pub file: &'a Path,
    pub names: &'a [String],
    pub sets: &'a [String],
    pub cache_dir: &'a Path,
    /// Worker threads; 0: one per core.
    pub jobs: usize,
}

/// The outcome of `run_file` plus the cache warnings it raised.
pub struct FileOutcome {
    pub outcome: RunOutcome,
    pub warnings: Vec<String>,
}

/// Loads, checks, lowers and runs `req.file`; diagnostics in the error come
/// back rendered.
pub fn run_file(
    req: &FileRun,
    stages: &dyn StageSet,
    control: &RunControl,
) -> Result<FileOutcome, RunFileError> {
    let base_dir = crate::frontend::base_dir(req.file);
    let inputs = InputHasher::new(&base_dir, req.cache_dir).interrupted_by(&control.interrupted);
    let loaded = crate::frontend::load(req.file, stages, req.sets, false, &inputs)?;
    let cache = Arc::new(Cache::open(req.cache_dir)?);
    cache.lock_for_run()?;
    cache.pack_small_entries();
    let executor = crate::executor::LocalExecutor::new(req.jobs).map_err(RunFileError::Executor)?;
    let warnings = std::sync::Mutex::new(Vec::new());
    let warn = |w: String| {
        if let Ok(mut ws) = warnings.lock() {
            ws.push(w);
        }
    };
    if let Err(e) = inputs.save(&cache) {
        warn(format!("cannot store input digests in the cache: {e}"));
    }
    let request = RunRequest {
        file: req.file,
        loaded: &loaded,
        names: req.names,
        stages,
        cache: &cache,
        executor: &executor,
        control,
        progress: &crate::progress::Quiet,
        observer: &|_| {},
        warn: &warn,
        color: false,
    };
    let outcome = run(&request)?;
    Ok(FileOutcome {
        outcome,
        warnings: warnings.into_inner().unwrap_or_default(),
    })
}
