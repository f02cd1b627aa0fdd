//! The seam between the interpreter and the stages it runs: a `StageSet` gives the
//! signatures (for checking and lowering) and the implementations (for running).
//! The real one is the stdlib; tests inject their own (`test.sleep`, `test.add`)
//! to exercise scheduling, caching and versioning without real ML stages.
//! This module only looks stages up; it never runs one.

use pipe_lang::catalog::{Catalog, StageSig, TaskKind};
use pipe_stdlib::stage::RunFn;
use pipe_stdlib::Stdlib;

/// A catalog plus implementations.
pub trait StageSet: Catalog {
    /// The implementation of `namespace.name`, or `None` when not written yet.
    fn implementation(&self, namespace: &str, name: &str) -> Option<RunFn>;

    /// The front end's view of this set.
    fn as_catalog(&self) -> &dyn Catalog;
}

impl StageSet for Stdlib {
    fn implementation(&self, namespace: &str, name: &str) -> Option<RunFn> {
        Stdlib::implementation(self, namespace, name)
    }

    fn as_catalog(&self) -> &dyn Catalog {
        self
    }
}

/// A stage set built from a list of definitions (used by tests and benchmarks).
pub struct StageTable {
    defs: Vec<pipe_stdlib::stage::StageDef>,
}

impl StageTable {
    pub fn new(defs: Vec<pipe_stdlib::stage::StageDef>) -> Self {
        StageTable { defs }
    }

    fn def(&self, namespace: &str, name: &str) -> Option<&pipe_stdlib::stage::StageDef> {
        self.defs
            .iter()
            .find(|d| d.sig.namespace == namespace && d.sig.name == name)
    }
}

impl Catalog for StageTable {
    /// The standard library's namespaces: a table holds stdlib-shaped stages.
    fn namespaces(&self) -> &[&'static str] {
        pipe_stdlib::NAMESPACES
    }

    /// The standard library's task kinds, for the same reason.
    fn task_kinds(&self) -> &[TaskKind] {
        pipe_stdlib::task_kinds::TASK_KINDS
    }

    fn stage(&self, namespace: &str, name: &str) -> Option<&StageSig> {
        self.def(namespace, name).map(|d| &d.sig)
    }

    fn stages(&self, namespace: &str) -> Vec<&StageSig> {
        self.defs
            .iter()
            .filter(|d| d.sig.namespace == namespace)
            .map(|d| &d.sig)
            .collect()
    }
}

impl StageSet for StageTable {
    fn implementation(&self, namespace: &str, name: &str) -> Option<RunFn> {
        self.def(namespace, name).and_then(|d| d.run)
    }

    fn as_catalog(&self) -> &dyn Catalog {
        self
    }
}
