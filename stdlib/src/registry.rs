//! The catalog as one value: every `StageDef` of every family, looked up by
//! namespace and name. Implements the front end's `Catalog` trait.

use crate::stage::{RunFn, StageDef};
use crate::stages;
use pipe_lang::catalog::{Catalog, StageSig};
use std::sync::OnceLock;

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
}

impl Catalog for Stdlib {
    fn stage(&self, namespace: &str, name: &str) -> Option<&StageSig> {
        self.def(namespace, name).map(|d| &d.sig)
    }

    fn stages(&self, namespace: &str) -> Vec<&StageSig> {
        self.all().filter(|s| s.namespace == namespace).collect()
    }
}
