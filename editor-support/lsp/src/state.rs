//! The server's world: open documents, the latest analysis of each, which ones
//! must be checked again, and the diagnostics published for imported files that
//! are not open. A change to any file re-checks every open document that
//! imported it. Checking is lazy: a burst of edits is checked once, when the
//! message queue is empty or a request needs the result.

use crate::analysis::Analysis;
use crate::diagnostics;
use crate::documents::{Document, Documents};
use crate::line_index::LineIndex;
use crate::uri;
use lsp_types::{Location, PublishDiagnosticsParams, Uri};
use pipe_lang::catalog::Catalog;
use pipe_lang::program::Module;
use pipe_lang::span::Span;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, Sender};
use std::thread;

pub struct State<'c> {
    pub catalog: &'c dyn Catalog,
    pub documents: Documents,
    analyses: HashMap<String, Analysis>,
    dirty: BTreeSet<String>,
    /// Diagnostics of files that are not open, by file, then by the open document
    /// whose check reached them (two documents may import the same file).
    external: BTreeMap<String, BTreeMap<String, Vec<lsp_types::Diagnostic>>>,
    /// Replaced analyses go to a thread that frees them: dropping a large
    /// program's tree costs about a tenth of a re-check, and no reply needs to
    /// wait for it. `None` when the thread could not start (then drop here).
    retired: Option<Sender<Analysis>>,
}

/// Starts the thread that frees replaced analyses.
fn start_retirement() -> Option<Sender<Analysis>> {
    let (tx, rx) = mpsc::channel::<Analysis>();
    thread::Builder::new()
        .name("pipe-lsp-free".into())
        .spawn(move || rx.into_iter().for_each(drop))
        .ok()?;
    Some(tx)
}

impl<'c> State<'c> {
    pub fn new(catalog: &'c dyn Catalog) -> Self {
        State {
            catalog,
            documents: Documents::default(),
            analyses: HashMap::new(),
            dirty: BTreeSet::new(),
            external: BTreeMap::new(),
            retired: start_retirement(),
        }
    }

    pub fn open(&mut self, uri: Uri, version: i32, text: String) {
        let name = uri::name_of(&uri);
        self.documents
            .open(name.clone(), Document::new(uri, version, text));
        self.changed(&name);
    }

    pub fn change(&mut self, name: &str, version: i32, text: String) {
        if self.documents.replace(name, version, text) {
            self.changed(name);
        }
    }

    /// Forgets a closed document; returns the empty diagnostics that clear it and
    /// what changes for the imported files its check had reached.
    pub fn close(&mut self, name: &str) -> Vec<PublishDiagnosticsParams> {
        let Some(doc) = self.documents.close(name) else {
            return Vec::new();
        };
        self.analyses.remove(name);
        self.dirty.remove(name);
        self.changed(name);
        let mut out = vec![PublishDiagnosticsParams::new(doc.uri, Vec::new(), None)];
        out.extend(self.set_external(name, BTreeMap::new()));
        out
    }

    /// Files changed on disk: every open document may see different imports.
    pub fn disk_changed(&mut self) {
        self.dirty.extend(self.documents.names().cloned());
    }

    /// `name` (open or not) has new text: it and every open document that
    /// imported it must be checked again.
    fn changed(&mut self, name: &str) {
        if self.documents.get(name).is_some() {
            self.dirty.insert(name.to_string());
        }
        for (other, analysis) in &self.analyses {
            if analysis.depends_on(name) {
                self.dirty.insert(other.clone());
            }
        }
    }

    pub fn has_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// Checks `name` again if it changed; returns its new diagnostics and those of
    /// the imported files that are not open, to publish.
    pub fn refresh(&mut self, name: &str) -> Vec<PublishDiagnosticsParams> {
        if !self.dirty.remove(name) {
            return Vec::new();
        }
        let Some(doc) = self.documents.get(name) else {
            return Vec::new();
        };
        let run = || Analysis::run(name, &self.documents, self.catalog);
        let uri_of = |n: &str| self.uri_of(n);
        let (diags, external) = match panic::catch_unwind(AssertUnwindSafe(run)) {
            Ok(analysis) => {
                let program = &analysis.program;
                let mut diags = diagnostics::for_document(doc, name, &program.diagnostics);
                diags.extend(diagnostics::import_summaries(doc, program, &uri_of));
                let external = diagnostics::for_imports(program, &uri_of);
                let old = self.analyses.insert(name.to_string(), analysis);
                self.retire(old);
                (diags, external)
            }
            Err(_) => {
                let old = self.analyses.remove(name);
                self.retire(old);
                (vec![diagnostics::checker_crashed()], BTreeMap::new())
            }
        };
        let own = PublishDiagnosticsParams::new(doc.uri.clone(), diags, Some(doc.version));
        let mut out = vec![own];
        out.extend(self.set_external(name, external));
        out
    }

    /// Records what the check of `root` found in imported files; returns the
    /// merged diagnostics of each file whose list changed and that is not open
    /// (an open file publishes its own).
    fn set_external(
        &mut self,
        root: &str,
        found: BTreeMap<String, Vec<lsp_types::Diagnostic>>,
    ) -> Vec<PublishDiagnosticsParams> {
        let mut touched = BTreeSet::new();
        for (file, by_root) in &mut self.external {
            if by_root.remove(root).is_some() {
                touched.insert(file.clone());
            }
        }
        for (file, diags) in found {
            touched.insert(file.clone());
            self.external
                .entry(file)
                .or_default()
                .insert(root.to_string(), diags);
        }
        self.external.retain(|_, by_root| !by_root.is_empty());
        touched
            .into_iter()
            .filter(|file| self.documents.get(file).is_none())
            .filter_map(|file| {
                let uri = uri::uri_of(&file)?;
                Some(PublishDiagnosticsParams::new(uri, self.merged(&file), None))
            })
            .collect()
    }

    /// The diagnostics of a file that is not open, from every check that reached it.
    fn merged(&self, file: &str) -> Vec<lsp_types::Diagnostic> {
        let mut out: Vec<lsp_types::Diagnostic> = Vec::new();
        for diag in self
            .external
            .get(file)
            .into_iter()
            .flat_map(|m| m.values().flatten())
        {
            if !out.contains(diag) {
                out.push(diag.clone());
            }
        }
        out
    }

    fn retire(&self, old: Option<Analysis>) {
        if let (Some(old), Some(tx)) = (old, &self.retired) {
            // A closed channel hands the value back; it is then dropped here.
            let _ = tx.send(old);
        }
    }

    /// Checks every changed document; returns what to publish.
    pub fn refresh_all(&mut self) -> Vec<PublishDiagnosticsParams> {
        let names: Vec<String> = self.dirty.iter().cloned().collect();
        names.iter().flat_map(|n| self.refresh(n)).collect()
    }

    /// The document and its current analysis (call `refresh` first).
    pub fn get(&self, name: &str) -> Option<(&Document, &Analysis)> {
        Some((self.documents.get(name)?, self.analyses.get(name)?))
    }

    pub fn analyses(&self) -> impl Iterator<Item = (&String, &Analysis)> {
        self.analyses.iter()
    }

    /// Where `span` of `module` is, for the client: an open document's own URI,
    /// else the file's.
    pub fn location(&self, module: &Module, span: Span) -> Option<Location> {
        let index = LineIndex::new(&module.text);
        let uri = self.uri_of(&module.name)?;
        Some(Location::new(uri, index.range(&module.text, span)))
    }

    pub fn uri_of(&self, name: &str) -> Option<Uri> {
        match self.documents.get(name) {
            Some(doc) => Some(doc.uri.clone()),
            None => uri::uri_of(name),
        }
    }
}
