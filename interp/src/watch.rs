//! Watch mode (`pipe watch FILE [NAME...]`): on every save of the file, an imported file or an
//! input data file (notify, debounced ~100 ms), re-check and show diagnostics at
//! once, then rerun only what changed (keys decide). Nodes still running whose
//! keys are no longer wanted are cancelled; the next run starts when the old one
//! has drained. Ctrl-C stops cleanly (exit 0).
//!
//! Only events that can change content count (access and metadata events do not:
//! reading the files is itself an event), events under the cache and `runs/` are
//! its own writes, and a reload whose modules and keys equal the last one's is
//! dropped: no run, no run directory, no repeated diagnostics. It never watches
//! anything but the file, its imports and its `path` inputs.

use crate::cache::Cache;
use crate::executor::LocalExecutor;
use crate::frontend::{self, Loaded};
use crate::input_hash::InputHasher;
use crate::key::Key;
use crate::progress::Quiet;
use crate::report;
use crate::run::{self, RunError, RunRequest};
use crate::schedule::{NodeReport, RunControl, Status};
use crate::stage_set::StageSet;
use notify::event::{EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

/// Quiet time after the last file event before re-checking.
const DEBOUNCE: Duration = Duration::from_millis(100);

/// What a watch session needs.
pub struct WatchOptions {
    pub file: PathBuf,
    pub names: Vec<String>,
    pub sets: Vec<String>,
    pub cache_dir: PathBuf,
    pub jobs: usize,
}

/// Watches until `stop` is set. Every line of output goes through `emit`.
pub fn watch(
    opts: &WatchOptions,
    stages: &dyn StageSet,
    stop: &AtomicBool,
    emit: &(dyn Fn(&str) + Sync),
) -> Result<(), String> {
    crate::loader::read_source(&opts.file)
        .map_err(|reason| format!("{}: {reason}", opts.file.display()))?;
    let cache = Arc::new(Cache::open(&opts.cache_dir).map_err(|e| e.to_string())?);
    cache.lock_for_run().map_err(|e| e.to_string())?;
    // Stores like `pipe run`: small results packed (each run flushes its pack,
    // and the cache's index takes it in, so the next run finds them).
    cache.pack_small_entries();
    let executor = LocalExecutor::new(opts.jobs)?;
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        let Ok(ev) = ev else {
            return;
        };
        if changes_content(&ev) {
            let _ = tx.send(ev.paths);
        }
    })
    .map_err(|e| format!("cannot watch files: {e}"))?;
    let ignored = ignored_dirs(opts);
    let mut watched = Watched::default();
    std::thread::scope(|scope| {
        let mut current: Option<(Arc<RunControl>, std::thread::ScopedJoinHandle<()>)> = None;
        let mut generation = 0usize;
        let mut dirty = true;
        let mut last: Option<blake3::Hash> = None;
        while !stop.load(Ordering::SeqCst) {
            if dirty {
                dirty = false;
                let (loaded, fingerprint) = reload(opts, stages, &cache, stop, emit, &last);
                if let Some(l) = &loaded {
                    watched.update(&mut watcher, &frontend::watched_files(&l.program, &l.graph));
                } else {
                    watched.update(&mut watcher, std::slice::from_ref(&opts.file));
                }
                if last == Some(fingerprint) {
                    continue;
                }
                last = Some(fingerprint);
                if let Some((control, handle)) = current.take() {
                    let keep = loaded
                        .as_ref()
                        .map(|l| wanted_keys(l, &opts.names))
                        .unwrap_or_default();
                    let cancelled = control.cancel_stale(&keep);
                    if cancelled > 0 {
                        emit(&format!(
                            "inputs changed: cancelling {cancelled} running node(s)"
                        ));
                    }
                    let _ = handle.join();
                }
                if let Some(loaded) = loaded {
                    generation += 1;
                    let control = Arc::new(RunControl::default());
                    let ctl = Arc::clone(&control);
                    let (cache, executor) = (&cache, &executor);
                    let handle = scope.spawn(move || {
                        one_run(
                            opts, &loaded, stages, cache, executor, &ctl, emit, generation,
                        )
                    });
                    current = Some((control, handle));
                }
            }
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(paths) if watched.relevant(&paths, &ignored) => {
                    debounce(&rx);
                    dirty = true;
                }
                _ => {}
            }
        }
        if let Some((control, handle)) = current.take() {
            control.interrupt();
            let _ = handle.join();
        }
    });
    emit("stopped watching");
    Ok(())
}

/// Whether an event can change what a file holds: reads, opens and attribute
/// changes (atime, permissions) cannot.
fn changes_content(ev: &notify::Event) -> bool {
    !matches!(
        ev.kind,
        EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(_))
    )
}

/// Waits until no event has come for `DEBOUNCE`.
fn debounce(rx: &mpsc::Receiver<Vec<PathBuf>>) {
    while rx.recv_timeout(DEBOUNCE).is_ok() {}
}

/// Checks and lowers the file, with the fingerprint of what it found: the text of
/// every module and every node's key when it loads, the diagnostics when it does
/// not. Diagnostics are printed at once unless the fingerprint equals `last`.
fn reload(
    opts: &WatchOptions,
    stages: &dyn StageSet,
    cache: &Cache,
    stop: &AtomicBool,
    emit: &(dyn Fn(&str) + Sync),
    last: &Option<blake3::Hash>,
) -> (Option<Loaded>, blake3::Hash) {
    let base_dir = frontend::base_dir(&opts.file);
    let inputs = InputHasher::new(&base_dir, &opts.cache_dir).interrupted_by(stop);
    let loaded = frontend::load(&opts.file, stages, &opts.sets, false, &inputs);
    if let Err(e) = inputs.save(cache) {
        emit(&format!(
            "warning: cannot store input digests in the cache: {e}"
        ));
    }
    match loaded {
        Ok(l) => {
            let fingerprint = fingerprint_of(&l);
            if last.as_ref() != Some(&fingerprint) && !l.warnings.is_empty() {
                emit(l.warnings.trim_end());
            }
            (Some(l), fingerprint)
        }
        Err(e) => {
            let text = e.to_string();
            let fingerprint = blake3::hash(text.as_bytes());
            if last.as_ref() != Some(&fingerprint) {
                emit(text.trim_end());
                emit("fix the errors above; watching for changes");
            }
            (None, fingerprint)
        }
    }
}

fn fingerprint_of(loaded: &Loaded) -> blake3::Hash {
    let mut h = blake3::Hasher::new();
    for m in &loaded.program.modules {
        h.update(m.name.as_bytes());
        h.update(b"\0");
        h.update(m.text.as_bytes());
        h.update(b"\0");
    }
    for node in &loaded.graph.nodes {
        match &node.key {
            Ok(k) => h.update(k.hex().as_bytes()),
            Err(e) => h.update(e.as_bytes()),
        };
        h.update(b"\n");
    }
    h.finalize()
}

fn wanted_keys(loaded: &Loaded, names: &[String]) -> HashSet<Key> {
    let Ok(needed) = run::needed(loaded, names) else {
        return HashSet::new();
    };
    needed
        .iter()
        .filter_map(|&id| loaded.graph.nodes[id].key.as_ref().ok().copied())
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn one_run(
    opts: &WatchOptions,
    loaded: &Loaded,
    stages: &dyn StageSet,
    cache: &Arc<Cache>,
    executor: &LocalExecutor,
    control: &RunControl,
    emit: &(dyn Fn(&str) + Sync),
    generation: usize,
) {
    let observer = |r: &NodeReport| {
        if r.status != Status::Cached {
            emit(&report::line(r));
        }
    };
    let warn = |w: String| emit(&format!("warning: {w}"));
    let request = RunRequest {
        file: &opts.file,
        loaded,
        names: &opts.names,
        stages,
        cache,
        executor,
        control,
        progress: &Quiet,
        observer: &observer,
        warn: &warn,
        color: false,
    };
    match run::run(&request) {
        Ok(outcome) => {
            let r = &outcome.result.reports;
            let count = |s: Status| r.iter().filter(|x| x.status == s).count();
            emit(&format!(
                "run {generation}: {} ran, {} cached, {} failed, {} skipped{}",
                count(Status::Ran),
                count(Status::Cached),
                count(Status::Failed),
                count(Status::Skipped),
                if outcome.result.ok() { "" } else { " (not ok)" }
            ));
            if let Some(e) = &outcome.run_dir_error {
                emit(&format!("warning: {e}"));
            }
        }
        Err(RunError::Usage(msg)) => emit(&format!("error: {msg}")),
        Err(RunError::Invalid(rendered)) => emit(rendered.trim_end()),
    }
}

/// The cache and run directories: changes there are the watcher's own writes.
/// Canonical like the paths events carry, even before `runs/` exists.
fn ignored_dirs(opts: &WatchOptions) -> Vec<PathBuf> {
    let base = absolute(&frontend::base_dir(&opts.file));
    vec![absolute(&opts.cache_dir), base.join("runs")]
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p)
        .unwrap_or_else(|_| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()))
}

/// The files and directories being watched, as absolute paths.
#[derive(Default)]
struct Watched {
    files: HashSet<PathBuf>,
    dirs: HashSet<PathBuf>,
    /// Watched directories (the parents of files, and input directories).
    watching: HashSet<PathBuf>,
}

impl Watched {
    fn update(&mut self, watcher: &mut notify::RecommendedWatcher, paths: &[PathBuf]) {
        let mut files = HashSet::new();
        let mut dirs = HashSet::new();
        let mut want: HashSet<(PathBuf, bool)> = HashSet::new();
        for p in paths {
            let abs = absolute(p);
            if abs.is_dir() {
                want.insert((abs.clone(), true));
                dirs.insert(abs);
            } else {
                if let Some(parent) = abs.parent() {
                    want.insert((parent.to_path_buf(), false));
                }
                files.insert(abs);
            }
        }
        for (dir, recursive) in &want {
            if self.watching.insert(dir.clone()) {
                let mode = if *recursive {
                    RecursiveMode::Recursive
                } else {
                    RecursiveMode::NonRecursive
                };
                let _ = watcher.watch(dir, mode);
            }
        }
        self.files = files;
        self.dirs = dirs;
    }

    fn relevant(&self, paths: &[PathBuf], ignored: &[PathBuf]) -> bool {
        paths.iter().any(|p| {
            let p = absolute(p);
            if ignored.iter().any(|i| p.starts_with(i)) {
                return false;
            }
            self.files.contains(&p) || self.dirs.iter().any(|d| p.starts_with(d))
        })
    }
}
