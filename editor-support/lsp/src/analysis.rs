//! One checked open document: the `Program` the checker gave for it as the root
//! (imports included), the text it checked and the occurrences of its
//! identifiers. Rebuilt on the check worker after a change (incrementally:
//! `pipe_lang::check::Incremental`, which gives what the full check gives);
//! nothing here runs a stage. Occurrences are collected on the
//! first request that needs them, not on every keystroke: diagnostics, the one
//! thing every change must produce, do not use them.

use crate::documents::{Document, Documents};
use crate::loader::OverlayLoader;
use crate::occurrences::{self, Occurrence};
use pipe_lang::catalog::Catalog;
use pipe_lang::check::Incremental;
use pipe_lang::program::{Module, Program};
use std::sync::{Arc, OnceLock};

pub struct Analysis {
    pub program: Program,
    /// The document as it was checked: requests answered while a newer version
    /// is being checked convert positions against this text, not the newer one.
    pub doc: Arc<Document>,
    /// The root module's occurrences, sorted by position, once asked for.
    occurrences: OnceLock<Vec<Occurrence>>,
    /// The catalog's namespaces, which the occurrences resolve free names against.
    namespaces: Vec<&'static str>,
}

impl Analysis {
    /// Checks the open document `doc`, named `name`, with open buffers (the
    /// snapshot `documents`) shadowing the disk.
    pub fn run(
        name: &str,
        doc: Arc<Document>,
        documents: &Documents,
        catalog: &dyn Catalog,
    ) -> Analysis {
        let loader = OverlayLoader { documents };
        Analysis {
            program: pipe_lang::check(name, &loader, catalog),
            doc,
            occurrences: OnceLock::new(),
            namespaces: catalog.namespaces().to_vec(),
        }
    }

    /// `run`, reusing what `memo` kept of earlier checks; `None` when
    /// `cancelled` said the check is no longer wanted before it ended.
    pub fn run_reusing(
        name: &str,
        doc: Arc<Document>,
        documents: &Documents,
        catalog: &dyn Catalog,
        memo: &mut Incremental,
        cancelled: &dyn Fn() -> bool,
    ) -> Option<Analysis> {
        let loader = OverlayLoader { documents };
        Some(Analysis {
            program: memo.check(name, &loader, catalog, cancelled)?,
            doc,
            occurrences: OnceLock::new(),
            namespaces: catalog.namespaces().to_vec(),
        })
    }

    /// The root module's occurrences, sorted by position.
    pub fn occurrences(&self) -> &[Occurrence] {
        self.occurrences
            .get_or_init(|| occurrences::collect(&self.root().ast, &self.namespaces))
    }

    pub fn root(&self) -> &Module {
        self.program.root_module()
    }

    /// Whether the module `name` took part in this check (the root or an import).
    pub fn depends_on(&self, name: &str) -> bool {
        self.program.modules.iter().any(|m| m.name == name)
    }

    /// The module the root imports as `alias`.
    pub fn imported(&self, alias: &str) -> Option<&Module> {
        let id = *self.root().imports.get(alias)?;
        self.program.modules.get(id)
    }
}
