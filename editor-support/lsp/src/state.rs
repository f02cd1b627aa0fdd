//! The server's world: open documents, the latest analysis of each, which ones
//! must be checked again, the generation of the newest check asked for each,
//! the diagnostics published for imported files that are not open, and the
//! cache state of each open file's bindings. A change to any file re-checks
//! every open document that imported it. Checks run on the worker
//! (`check_worker`); this module makes their jobs and installs their results,
//! dropping a result that a newer edit made stale.

use crate::analysis::Analysis;
use crate::cache_state::FileStates;
use crate::check_worker::{self, CheckJob, Checked};
use crate::documents::{Document, Documents};
use crate::line_index::LineIndex;
use crate::uri;
use lsp_types::{Location, PublishDiagnosticsParams, Uri};
use pipe_lang::catalog::Catalog;
use pipe_lang::program::Module;
use pipe_lang::span::Span;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::thread;

pub struct State<'c> {
    pub catalog: &'c dyn Catalog,
    pub documents: Documents,
    analyses: HashMap<String, Arc<Analysis>>,
    /// Changed and not yet handed to a check.
    dirty: BTreeSet<String>,
    /// The generation of the newest check asked for each document; a result
    /// with another generation is stale.
    generations: HashMap<String, u64>,
    /// Handed to a check whose result has not been installed yet.
    checking: BTreeSet<String>,
    /// The cancel flag of the newest job of each document: a newer edit sets
    /// it, so the worker stops a check whose result would be dropped anyway.
    cancels: HashMap<String, Arc<AtomicBool>>,
    next_generation: u64,
    /// The cache state of each open document's bindings as last saved, or why
    /// there is none.
    pub cache_states: HashMap<String, Result<FileStates, String>>,
    /// Diagnostics of files that are not open, by file, then by the open document
    /// whose check reached them (two documents may import the same file).
    external: BTreeMap<String, BTreeMap<String, Vec<lsp_types::Diagnostic>>>,
    /// Replaced analyses go to a thread that frees them: dropping a large
    /// program's tree costs about a tenth of a re-check, and no reply needs to
    /// wait for it. `None` when the thread could not start (then drop here).
    retired: Option<Sender<Arc<Analysis>>>,
}

/// Starts the thread that frees replaced analyses.
fn start_retirement() -> Option<Sender<Arc<Analysis>>> {
    let (tx, rx) = mpsc::channel::<Arc<Analysis>>();
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
            generations: HashMap::new(),
            checking: BTreeSet::new(),
            cancels: HashMap::new(),
            next_generation: 0,
            cache_states: HashMap::new(),
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
        let old = self.analyses.remove(name);
        self.retire(old);
        self.dirty.remove(name);
        self.checking.remove(name);
        self.generations.remove(name);
        if let Some(flag) = self.cancels.remove(name) {
            flag.store(true, Ordering::Relaxed);
        }
        self.cache_states.remove(name);
        self.changed(name);
        let mut out = vec![PublishDiagnosticsParams::new(
            doc.uri.clone(),
            Vec::new(),
            None,
        )];
        out.extend(self.set_external(name, BTreeMap::new()));
        out
    }

    /// Files changed on disk: every open document may see different imports.
    pub fn disk_changed(&mut self) {
        self.dirty.extend(self.documents.names().cloned());
        self.cancel_dirty();
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
        self.cancel_dirty();
    }

    /// Stops the running checks of the documents that must be checked again.
    fn cancel_dirty(&mut self) {
        for name in &self.dirty {
            if let Some(flag) = self.cancels.remove(name) {
                flag.store(true, Ordering::Relaxed);
            }
        }
    }

    pub fn has_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// Whether `name`'s analysis may be older than its text or its imports.
    pub fn is_stale(&self, name: &str) -> bool {
        self.dirty.contains(name) || self.checking.contains(name)
    }

    /// A check job for every changed document, each with a new generation.
    pub fn take_jobs(&mut self) -> Vec<CheckJob> {
        let names: Vec<String> = std::mem::take(&mut self.dirty).into_iter().collect();
        names.into_iter().filter_map(|n| self.job(n)).collect()
    }

    fn job(&mut self, name: String) -> Option<CheckJob> {
        let doc = self.documents.shared(&name)?;
        self.next_generation += 1;
        self.generations.insert(name.clone(), self.next_generation);
        self.checking.insert(name.clone());
        let cancelled = Arc::new(AtomicBool::new(false));
        if let Some(older) = self.cancels.insert(name.clone(), cancelled.clone()) {
            older.store(true, Ordering::Relaxed);
        }
        Some(CheckJob {
            name,
            generation: self.next_generation,
            doc,
            documents: self.documents.clone(),
            cancelled,
        })
    }

    /// Installs a finished check unless a newer one was asked for since; returns
    /// what to publish (nothing for a stale result).
    pub fn install(&mut self, checked: Checked) -> Vec<PublishDiagnosticsParams> {
        let current = self.generations.get(&checked.name) == Some(&checked.generation);
        if !current || self.documents.get(&checked.name).is_none() {
            self.retire(checked.analysis);
            return Vec::new();
        }
        let name = checked.name;
        self.checking.remove(&name);
        let old = match checked.analysis {
            Some(analysis) => self.analyses.insert(name.clone(), analysis),
            None => self.analyses.remove(&name),
        };
        self.retire(old);
        let doc = &checked.doc;
        let own =
            PublishDiagnosticsParams::new(doc.uri.clone(), checked.diagnostics, Some(doc.version));
        let mut out = vec![own];
        out.extend(self.set_external(&name, checked.external));
        out
    }

    /// Checks `name` on this thread if its analysis is missing or stale, for the
    /// few requests that must see the newest text (rename, references); returns
    /// what to publish.
    pub fn refresh(&mut self, name: &str) -> Vec<PublishDiagnosticsParams> {
        let missing = !self.analyses.contains_key(name);
        if !missing && !self.is_stale(name) {
            return Vec::new();
        }
        self.dirty.remove(name);
        let Some(job) = self.job(name.to_string()) else {
            return Vec::new();
        };
        let checked = check_worker::check(job, self.catalog);
        self.install(checked)
    }

    /// Checks `name` on this thread only when it has no analysis at all (just
    /// opened, its first check still running): a request needs something to
    /// answer from.
    pub fn ensure(&mut self, name: &str) -> Vec<PublishDiagnosticsParams> {
        if self.analyses.contains_key(name) {
            return Vec::new();
        }
        self.refresh(name)
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

    fn retire(&self, old: Option<Arc<Analysis>>) {
        if let (Some(old), Some(tx)) = (old, &self.retired) {
            // A closed channel hands the value back; it is then dropped here.
            let _ = tx.send(old);
        }
    }

    /// Every open document with a missing or stale analysis checked on this
    /// thread; returns what to publish.
    pub fn refresh_all(&mut self) -> Vec<PublishDiagnosticsParams> {
        let names: Vec<String> = self.documents.names().cloned().collect();
        names.iter().flat_map(|n| self.refresh(n)).collect()
    }

    /// The newest text of the document and its last analysis, which may be of
    /// an older text (for requests that read the newest text themselves).
    pub fn get(&self, name: &str) -> Option<(&Document, &Analysis)> {
        Some((self.documents.get(name)?, &**self.analyses.get(name)?))
    }

    /// The last analysis with the text it checked: positions stay consistent
    /// while a newer version is being checked.
    pub fn checked(&self, name: &str) -> Option<(&Document, &Analysis)> {
        let analysis = self.analyses.get(name)?;
        Some((&*analysis.doc, &**analysis))
    }

    pub fn analyses(&self) -> impl Iterator<Item = (&String, &Analysis)> {
        self.analyses.iter().map(|(name, a)| (name, &**a))
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
