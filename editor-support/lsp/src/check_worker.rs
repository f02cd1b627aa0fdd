//! Checking off the request thread: the message loop hands a snapshot of the
//! open buffers to this worker and keeps answering requests from the last
//! analysis. The worker checks incrementally (`pipe_lang::check::Incremental`,
//! kept across jobs), so an edit re-checks only the statements it can change.
//! Each job carries a generation and a cancel flag; when several jobs for one
//! document are queued only the newest runs, a newer edit cancels a running
//! check between statements, and the loop drops a result whose generation is
//! no longer the newest. The
//! worker converts diagnostics too, so installing a result is cheap, and hands
//! each result's analysis to a thread that collects its occurrences, so the first
//! hover on it does not pay for them and the next check does not wait behind
//! them. It never touches the server's state and never publishes.

use crate::analysis::Analysis;
use crate::diagnostics;
use crate::documents::{Document, Documents};
use crate::uri;
use crossbeam_channel::{Receiver, Sender};
use lsp_types::{Diagnostic, Uri};
use pipe_lang::catalog::Catalog;
use pipe_lang::check::Incremental;
use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// One document to check, against a snapshot of every open buffer.
pub struct CheckJob {
    pub name: String,
    pub generation: u64,
    pub doc: Arc<Document>,
    pub documents: Documents,
    /// Set by the loop when a newer edit makes this job's result useless: the
    /// worker then stops between statements and reports nothing.
    pub cancelled: Arc<AtomicBool>,
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

/// Runs one job on this thread with the full check (the loop's own checks).
pub fn check(job: CheckJob, catalog: &dyn Catalog) -> Checked {
    let run = || Analysis::run(&job.name, job.doc.clone(), &job.documents, catalog);
    let outcome = panic::catch_unwind(AssertUnwindSafe(run)).map_err(drop);
    finish(job, outcome)
}

/// Runs one job on this thread, reusing what `memo` kept of the worker's
/// earlier checks; `None` when the job was cancelled while it ran.
fn check_reusing(job: CheckJob, catalog: &dyn Catalog, memo: &mut Incremental) -> Option<Checked> {
    let cancelled = || job.cancelled.load(Ordering::Relaxed);
    let run = || {
        Analysis::run_reusing(
            &job.name,
            job.doc.clone(),
            &job.documents,
            catalog,
            memo,
            &cancelled,
        )
    };
    let outcome = match panic::catch_unwind(AssertUnwindSafe(run)) {
        Ok(analysis) => Ok(analysis?),
        Err(_) => {
            // Whatever the panic left half-written is not reused.
            *memo = Incremental::new();
            Err(())
        }
    };
    Some(finish(job, outcome))
}

/// The diagnostics of a check, converted on this thread.
fn finish(job: CheckJob, outcome: Result<Analysis, ()>) -> Checked {
    let CheckJob {
        name,
        generation,
        doc,
        documents,
        ..
    } = job;
    let uri_of = |n: &str| -> Option<Uri> {
        match documents.get(n) {
            Some(d) => Some(d.uri.clone()),
            None => uri::uri_of(n),
        }
    };
    let (analysis, diags, external) = match outcome {
        Ok(analysis) => {
            let program = &analysis.program;
            let mut diags = diagnostics::for_document(&doc, &name, &program.diagnostics);
            diags.extend(diagnostics::import_summaries(&doc, program, &uri_of));
            let external = diagnostics::for_imports(program, &uri_of);
            (Some(Arc::new(analysis)), diags, external)
        }
        Err(()) => (None, vec![diagnostics::checker_crashed()], BTreeMap::new()),
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
    let mut memo = Incremental::new();
    let warmer = start_warmer();
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
        let Some(checked) = check_reusing(job, catalog, &mut memo) else {
            continue;
        };
        let warm = checked.analysis.clone();
        if done.send(checked).is_err() {
            return;
        }
        let Some(analysis) = warm else { continue };
        match &warmer {
            Some(warmer) => {
                let _ = warmer.send(analysis);
            }
            None => {
                queue.extend(jobs.try_iter().map(|job| (job.name.clone(), job)));
                if queue.is_empty() {
                    analysis.occurrences();
                }
            }
        }
    }
}

/// Starts the thread that collects the occurrences of each handed-over
/// analysis (the newest when several wait), so that the first hover on it does
/// not pay for them and the worker goes straight on to the next check. `None`
/// when the thread could not start (the worker then collects them itself when
/// idle).
fn start_warmer() -> Option<Sender<Arc<Analysis>>> {
    let (tx, rx) = crossbeam_channel::unbounded::<Arc<Analysis>>();
    std::thread::Builder::new()
        .name("pipe-lsp-occurrences".into())
        .spawn(move || {
            while let Ok(first) = rx.recv() {
                let newest = rx.try_iter().last().unwrap_or(first);
                newest.occurrences();
            }
        })
        .ok()?;
    Some(tx)
}
