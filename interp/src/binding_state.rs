//! The cache state of a saved file's bindings (what `pipe lsp` shows on hover
//! and in inlay hints): for each binding that runs stages, whether its nodes are
//! cached or why they would rerun, in the words of `pipe explain` (whose
//! `explain` it calls). It loads the file as `pipe explain` does and reads the
//! cache beside it; it never runs a stage, never creates a cache and never saves
//! digests. It knows nothing of the language server: the `pipe` binary adapts
//! these plain values to the server's provider trait.

use crate::cache::{now_secs, Cache, Lookup};
use crate::explain::{explain, human_duration};
use crate::frontend;
use crate::graph::{Graph, NodeId};
use crate::input_hash::InputHasher;
use crate::stage_set::StageSet;
use std::collections::BTreeMap;
use std::path::Path;

/// One binding's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingState {
    /// One short line: `cached (key 1a2b3c4d5e6f, 3s ago)`,
    /// `will rerun: argument `lr` changed: 0.1 -> 0.2`.
    pub summary: String,
    /// The full explanation (what `pipe explain FILE NAME` prints).
    pub detail: String,
}

/// The states of a file's bindings by name; bindings that run no stage are absent.
pub type FileStates = BTreeMap<String, BindingState>;

/// The states of `file`'s bindings against its default cache.
pub fn states_of(file: &Path, stages: &dyn StageSet) -> Result<FileStates, String> {
    let cache_dir = crate::frontend::cache_dir(file, None);
    let cache = Cache::open_existing(&cache_dir)
        .map_err(|_| format!("no cache at {} yet: nothing has run", cache_dir.display()))?;
    let inputs = InputHasher::new(&frontend::base_dir(file), &cache_dir);
    let loaded = frontend::load(file, stages, &[], false, &inputs).map_err(|e| match e {
        frontend::FrontendError::Usage(msg) => msg,
        frontend::FrontendError::Invalid(_) => "the saved file has errors".to_string(),
    })?;
    cache.lock_for_run().map_err(|e| e.to_string())?;
    let graph = &loaded.graph;
    let mut out = FileStates::new();
    for (name, value) in &graph.bindings {
        let nodes = value.nodes();
        if !nodes.is_empty() {
            out.insert(name.clone(), binding_state(graph, &cache, &nodes));
        }
    }
    Ok(out)
}

/// The summary of a binding's nodes and `pipe explain`'s text for each.
fn binding_state(graph: &Graph, cache: &Cache, nodes: &[NodeId]) -> BindingState {
    let mut detail = String::new();
    let mut hits = Vec::new();
    let mut first_reason = None;
    for &id in nodes {
        let text = explain(graph, cache, id);
        match node_state(graph, cache, id, &text) {
            NodeState::Cached(summary) => hits.push(summary),
            NodeState::Reruns(reason) => {
                first_reason.get_or_insert(reason);
            }
        }
        detail.push_str(&text);
    }
    let of = |n: usize| match nodes.len() {
        1 => String::new(),
        total => format!(" ({n} of {total} calls)"),
    };
    let summary = match first_reason {
        None if hits.len() == 1 => hits.remove(0),
        None => format!("cached ({} calls)", hits.len()),
        Some(reason) => format!("{reason}{}", of(nodes.len() - hits.len())),
    };
    BindingState { summary, detail }
}

enum NodeState {
    /// `cached (key 1a2b3c4d5e6f, 3s ago)`.
    Cached(String),
    /// `will rerun: <the first reason pipe explain gives>` or `cannot run: ...`.
    Reruns(String),
}

/// The state of one node; `explained` is what `pipe explain` said about it.
fn node_state(graph: &Graph, cache: &Cache, id: NodeId, explained: &str) -> NodeState {
    let key = match &graph.nodes[id].key {
        Ok(key) => *key,
        Err(msg) => return NodeState::Reruns(format!("cannot run: {msg}")),
    };
    if let Lookup::Hit(manifest) = cache.lookup(&key) {
        let age = human_duration(now_secs().saturating_sub(manifest.created));
        return NodeState::Cached(format!("cached (key {}, {age} ago)", key.short()));
    }
    // One reason per `  - ` line of the explanation; the first is the summary.
    let reason = explained
        .lines()
        .find_map(|l| l.strip_prefix("  - "))
        .unwrap_or("not cached");
    NodeState::Reruns(format!("will rerun: {reason}"))
}
