//! What the front end knows about stages: their namespaces, task kinds and
//! signatures, through the `Catalog` trait. `pipe-stdlib` implements it; the front
//! end never links an implementation and names no namespace or task kind itself, so
//! adding either is a change to the catalog only.

use crate::types::{Task, Type};
use crate::value::Value;

/// Builtins folded before anything runs.
pub const BUILTINS: &[&str] = &["range", "linspace", "logspace"];

#[derive(Debug, Clone, PartialEq)]
pub struct ParamSig {
    pub name: &'static str,
    pub ty: Type,
    /// `None`: the argument is required.
    pub default: Option<Value>,
    /// Inclusive numeric bounds (in base units for quantities), checked before running.
    pub range: Option<(f64, f64)>,
    /// Allowed strings for an enumerated `str` parameter (empty: any string).
    pub choices: &'static [&'static str],
    /// For a `Dataset` parameter: the tasks accepted (empty: any task).
    pub tasks: &'static [Task],
    /// A path to an input file or directory, relative to the `.pipe` file; its
    /// content is part of the node key and `pipe watch` watches it.
    pub path: bool,
    /// Where the default is the project's own choice rather than the paper's
    /// published constant: says so, shown by `pipe doc`.
    pub default_note: Option<&'static str>,
    pub doc: &'static str,
}

impl ParamSig {
    pub fn required(name: &'static str, ty: Type, doc: &'static str) -> Self {
        ParamSig {
            name,
            ty,
            default: None,
            range: None,
            choices: &[],
            tasks: &[],
            path: false,
            default_note: None,
            doc,
        }
    }

    pub fn optional(name: &'static str, ty: Type, default: Value, doc: &'static str) -> Self {
        ParamSig {
            default: Some(default),
            ..ParamSig::required(name, ty, doc)
        }
    }

    pub fn range(mut self, lo: f64, hi: f64) -> Self {
        self.range = Some((lo, hi));
        self
    }

    pub fn choices(mut self, choices: &'static [&'static str]) -> Self {
        self.choices = choices;
        self
    }

    pub fn tasks(mut self, tasks: &'static [Task]) -> Self {
        self.tasks = tasks;
        self
    }

    pub fn path(mut self) -> Self {
        self.path = true;
        self
    }

    pub fn default_note(mut self, note: &'static str) -> Self {
        self.default_note = Some(note);
        self
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StageSig {
    pub namespace: &'static str,
    pub name: &'static str,
    /// Bumped whenever the implementation's results change; part of every node key.
    pub version: u32,
    pub doc: &'static str,
    pub params: Vec<ParamSig>,
    /// One artifact, or a `Type::Record` of named outputs.
    pub output: Type,
    /// When the output `Dataset` has the task of this parameter's dataset
    /// (`dataset.split(d)` keeps `d`'s task).
    pub output_task_from: Option<&'static str>,
    /// Whether a runnable implementation exists yet; `pipe run` says so plainly when not.
    pub implemented: bool,
}

impl StageSig {
    pub fn full_name(&self) -> String {
        format!("{}.{}", self.namespace, self.name)
    }

    pub fn param(&self, name: &str) -> Option<&ParamSig> {
        self.params.iter().find(|p| p.name == name)
    }
}

/// A task kind a catalog declares: the `Task` its dataset stages produce and its
/// parameters accept, and what such a dataset holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskKind {
    pub task: Task,
    pub doc: &'static str,
}

/// The stage catalog as the checker, the LSP and `pipe doc` see it.
pub trait Catalog: Sync {
    /// The namespaces stage functions live in, in catalog order. A user binding
    /// may not shadow one.
    fn namespaces(&self) -> &[&'static str];
    /// The task kinds its datasets have, in catalog order. Every `Task` a
    /// signature names is one of them.
    fn task_kinds(&self) -> &[TaskKind];
    /// The declared kind named `name`.
    fn task_kind(&self, name: &str) -> Option<&TaskKind> {
        self.task_kinds().iter().find(|k| k.task.name() == name)
    }
    fn stage(&self, namespace: &str, name: &str) -> Option<&StageSig>;
    /// All stages of a namespace, in catalog order.
    fn stages(&self, namespace: &str) -> Vec<&StageSig>;
}
