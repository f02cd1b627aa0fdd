//! Checking off the request thread: the message loop hands a snapshot of the
//! open buffers to this worker and keeps answering requests from the last
//! analysis. Each job carries a generation; when several jobs for one document
//! are queued only the newest runs, and the loop drops a result whose
//! generation is no longer the newest (an edit arrived while it ran). The
//! worker converts diagnostics too, so installing a result is cheap, and once it
//! has handed a result over (and no newer job waits) it collects the analysis's
//! occurrences, so the first hover on it does not pay for them. It never touches
//! the server's state and never publishes.

use crate::analysis::Analysis;
use crate::diagnostics;
use crate::documents::{Document, Documents};
use crate::uri;
use crossbeam_channel::{Receiver, Sender};
use lsp_types::{Diagnostic, Uri};
use pipe_lang::catalog::Catalog;
use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

/// One document to check, against a snapshot of every open buffer.
pub struct CheckJob {
    pub name: String,
    pub generation: u64,
    pub doc: Arc<Document>,
    pub documents: Documents,
}

/// A finished check: the analysis (`None` when the checker panicked) and the
/// diagnostics to publish for the document and for the imported files.
pub struct Checked {
    pub name: String,
    pub generation: u64,
    pub doc: Arc<Document>,
    pub analysis: Option<Arc<Analysis>>,
    pub diagnostics: Vec<Diagnostic>,
    pub external: BTreeMap<String, Vec<Diagnostic>>,
}

/// Runs one job on this thread.
pub fn check(job: CheckJob, catalog: &dyn Catalog) -> Checked {
    let CheckJob {
        name,
        generation,
        doc,
        documents,
    } = job;
    let run = || Analysis::run(&name, doc.clone(), &documents, catalog);
    let uri_of = |n: &str| -> Option<Uri> {
        match documents.get(n) {
            Some(d) => Some(d.uri.clone()),
            None => uri::uri_of(n),
        }
    };
    let (analysis, diags, external) = match panic::catch_unwind(AssertUnwindSafe(run)) {
        Ok(analysis) => {
            let program = &analysis.program;
            let mut diags = diagnostics::for_document(&doc, &name, &program.diagnostics);
            diags.extend(diagnostics::import_summaries(&doc, program, &uri_of));
            let external = diagnostics::for_imports(program, &uri_of);
            (Some(Arc::new(analysis)), diags, external)
        }
        Err(_) => (None, vec![diagnostics::checker_crashed()], BTreeMap::new()),
    };
    Checked {
        name,
        generation,
        doc,
        analysis,
        diagnostics: diags,
        external,
    }
}

/// The worker's loop: until the job channel closes, checks the queued
/// documents one at a time, each at its newest queued version.
pub fn serve(jobs: Receiver<CheckJob>, done: Sender<Checked>, catalog: &dyn Catalog) {
    let mut queue: BTreeMap<String, CheckJob> = BTreeMap::new();
    loop {
        if queue.is_empty() {
            let Ok(job) = jobs.recv() else { return };
            queue.insert(job.name.clone(), job);
        }
        for job in jobs.try_iter() {
            queue.insert(job.name.clone(), job);
        }
        let Some((_, job)) = queue.pop_first() else {
            continue;
        };
        let checked = check(job, catalog);
        let warm = checked.analysis.clone();
        if done.send(checked).is_err() {
            return;
        }
        queue.extend(jobs.try_iter().map(|job| (job.name.clone(), job)));
        if let (Some(analysis), true) = (warm, queue.is_empty()) {
            analysis.occurrences();
        }
    }
}
