//! The stage graph: what lowering produces and every later phase (scheduling,
//! caching, `explain`, `graph`, `watch`) reads. One `Node` per distinct stage call
//! (identical calls share a node), values that flow between bindings as `Lowered`.
//! Node ids are a topological order: a node is only created after its inputs.
//! This module holds data only; it never evaluates, hashes or runs anything.

use crate::error::UnknownBinding;
use crate::key::Key;
use pipe_lang::span::Span;
use pipe_lang::value::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Index into `Graph::nodes`.
pub type NodeId = usize;

/// A value after lowering: known now (`Plain`), or produced by a node when it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Lowered {
    Plain(Value),
    /// A node's whole output (`field: None`) or one named output of it.
    Output {
        node: NodeId,
        field: Option<String>,
    },
    Record(BTreeMap<String, Lowered>),
    List(Vec<Lowered>),
    Sweep(Vec<Point>),
}

/// One point of a sweep: its binder values, in binder order, and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub coords: Vec<(String, Value)>,
    pub value: Lowered,
}

impl Point {
    /// `pe=int8,rows=16`
    pub fn label(&self) -> String {
        coords_label(&self.coords)
    }
}

/// `pe=int8,rows=16` for a list of binder values.
pub fn coords_label(coords: &[(String, Value)]) -> String {
    coords
        .iter()
        .map(|(k, v)| format!("{k}={}", v.short()))
        .collect::<Vec<_>>()
        .join(",")
}

impl Lowered {
    /// Every node this value reads, in first-seen order, without duplicates.
    /// (A set, not a scan of `out`: a sweep binding reads one node per point,
    /// and the scan made a 100,000-point binding quadratic.)
    pub fn nodes(&self) -> Vec<NodeId> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut stack = vec![self];
        while let Some(v) = stack.pop() {
            match v {
                Lowered::Plain(_) => {}
                Lowered::Output { node, .. } => {
                    if seen.insert(*node) {
                        out.push(*node);
                    }
                }
                Lowered::Record(fields) => stack.extend(fields.values().rev()),
                Lowered::List(items) => stack.extend(items.iter().rev()),
                Lowered::Sweep(points) => stack.extend(points.iter().rev().map(|p| &p.value)),
            }
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct Node {
    /// `fp`, `q.calib`, `hw[pe=int8,rows=16]`: the first binding path that made it.
    pub name: String,
    /// Other binding paths that made an identical call (same key).
    pub aliases: Vec<String>,
    pub namespace: &'static str,
    pub stage: &'static str,
    pub version: u32,
    /// Every parameter of the signature, defaults filled in.
    pub args: BTreeMap<String, Lowered>,
    /// The nodes whose outputs it reads, without duplicates.
    pub inputs: Vec<NodeId>,
    /// The content key, or why none could be computed (an input file is missing).
    pub key: Result<Key, String>,
    /// The canonical arguments the key hashes (computed once, at lowering, so a
    /// run never re-reads `path` inputs), or why there are none.
    pub canonical: Result<crate::key::Canonical, String>,
    /// The file (as the loader named it) and span of the call, for diagnostics.
    pub file: String,
    pub span: Span,
    /// Whether an implementation exists.
    pub implemented: bool,
}

impl Node {
    pub fn stage_name(&self) -> String {
        format!("{}.{}", self.namespace, self.stage)
    }
}

/// A lowered program.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub nodes: Vec<Node>,
    /// The root module's bindings (params and lets), in source order.
    pub bindings: Vec<(String, Lowered)>,
    /// The directory of the root file; `path` arguments are relative to it.
    pub base_dir: PathBuf,
    /// Every input data file or directory read through a `path` argument.
    pub input_paths: Vec<PathBuf>,
}

impl Graph {
    pub fn binding(&self, name: &str) -> Option<&Lowered> {
        self.bindings
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// The nodes `roots` need, transitively, in topological (id) order.
    pub fn needed(&self, roots: &[NodeId]) -> Vec<NodeId> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack: Vec<NodeId> = roots.to_vec();
        while let Some(id) = stack.pop() {
            if std::mem::replace(&mut seen[id], true) {
                continue;
            }
            stack.extend(self.nodes[id].inputs.iter().copied().filter(|&i| !seen[i]));
        }
        (0..self.nodes.len()).filter(|&i| seen[i]).collect()
    }

    /// The nodes every root binding reads (all bindings when `names` is empty).
    pub fn roots(&self, names: &[String]) -> Result<Vec<NodeId>, UnknownBinding> {
        let mut roots = Vec::new();
        if names.is_empty() {
            for (_, v) in &self.bindings {
                roots.extend(v.nodes());
            }
            return Ok(roots);
        }
        for name in names {
            let value = self
                .binding(name)
                .ok_or_else(|| self.unknown_binding(name))?;
            roots.extend(value.nodes());
        }
        Ok(roots)
    }

    fn unknown_binding(&self, name: &str) -> UnknownBinding {
        let names = self.bindings.iter().map(|(n, _)| n.as_str());
        UnknownBinding {
            name: name.to_string(),
            suggestion: pipe_lang::suggest::closest(name, names).map(str::to_string),
        }
    }

    /// For every node, the nodes that read it.
    pub fn dependents(&self) -> Vec<Vec<NodeId>> {
        let mut out = vec![Vec::new(); self.nodes.len()];
        for (id, node) in self.nodes.iter().enumerate() {
            for &input in &node.inputs {
                out[input].push(id);
            }
        }
        out
    }
}
