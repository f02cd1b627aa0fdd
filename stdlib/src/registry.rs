//! The catalog as one value: every `StageDef` of every family, looked up by
//! namespace and name. Implements the front end's `Catalog` trait.

use crate::stage::{
    Input, NoProgress, RunFn, StageContext, StageDef, StageError, StageInput, StageOutput,
};
use crate::stages;
use pipe_lang::catalog::{Catalog, StageSig, TaskKind};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::OnceLock;

/// The namespaces of the standard library's stages, in catalog order (the order
/// of `stages::all`, of `pipe doc` and of docs/catalog.md).
pub const NAMESPACES: &[&str] = &[
    "dataset",
    "model",
    "train",
    "finetune",
    "pseudolabel",
    "quant",
    "eval",
    "sim",
    "report",
];

pub struct Stdlib {
    defs: Vec<StageDef>,
}

impl Stdlib {
    /// The process-wide catalog, built once.
    pub fn get() -> &'static Stdlib {
        static CATALOG: OnceLock<Stdlib> = OnceLock::new();
        CATALOG.get_or_init(|| Stdlib {
            defs: stages::all(),
        })
    }

    pub fn def(&self, namespace: &str, name: &str) -> Option<&StageDef> {
        self.defs
            .iter()
            .find(|d| d.sig.namespace == namespace && d.sig.name == name)
    }

    pub fn implementation(&self, namespace: &str, name: &str) -> Option<RunFn> {
        self.def(namespace, name).and_then(|d| d.run)
    }

    pub fn all(&self) -> impl Iterator<Item = &StageSig> {
        self.defs.iter().map(|d| &d.sig)
    }

    /// Runs one stage from Rust, as a `.pipe` call `full(args)` would:
    /// parameters left out take their declared defaults, relative paths are
    /// resolved against `base_dir`. Nothing is cached and nothing is checked
    /// beyond the names: embedders and tests call stages with values the
    /// checker would have typed.
    pub fn call(
        &self,
        full: &str,
        args: Vec<(&str, Input)>,
        base_dir: &Path,
    ) -> Result<StageOutput, StageError> {
        let def = full
            .split_once('.')
            .and_then(|(ns, name)| self.def(ns, name))
            .ok_or_else(|| StageError::Invalid(format!("no stage `{full}`")))?;
        let mut input = StageInput::default();
        for p in &def.sig.params {
            if let Some(d) = &p.default {
                input
                    .args
                    .insert(p.name.to_string(), Input::Value(d.clone()));
            }
        }
        for (name, value) in args {
            if def.sig.param(name).is_none() {
                return Err(StageError::Invalid(format!(
                    "`{full}` has no parameter `{name}`"
                )));
            }
            input.args.insert(name.to_string(), value);
        }
        let run = def
            .run
            .ok_or_else(|| StageError::NotImplemented(full.to_string()))?;
        let cancel = AtomicBool::new(false);
        let ctx = StageContext {
            base_dir: base_dir.to_path_buf(),
            progress: &NoProgress,
            cancel: &cancel,
        };
        run(&input, &ctx)
    }
}

impl Catalog for Stdlib {
    fn namespaces(&self) -> &[&'static str] {
        NAMESPACES
    }

    fn task_kinds(&self) -> &[TaskKind] {
        crate::task_kinds::TASK_KINDS
    }

    fn stage(&self, namespace: &str, name: &str) -> Option<&StageSig> {
        self.def(namespace, name).map(|d| &d.sig)
    }

    fn stages(&self, namespace: &str) -> Vec<&StageSig> {
        self.all().filter(|s| s.namespace == namespace).collect()
    }
}
