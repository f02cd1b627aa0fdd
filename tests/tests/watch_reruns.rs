//! `pipe watch` as a real process counts its reruns: one save gives exactly one
//! rerun and one more run directory (its own reads, the cache and `runs/` do not
//! trigger any), also with `--cache` elsewhere and when `runs/` cannot be written;
//! an invalid save prints its diagnostics exactly once; a directory or a missing
//! file is refused at once. Every wait has a deadline and every child is killed.

use pipe_tests::pipe;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const FIRST: &str = "let d = dataset.digits()\nlet s = dataset.sample(d, n: 10, seed: 1)\n";
const SECOND: &str = "let d = dataset.digits()\nlet s = dataset.sample(d, n: 11, seed: 1)\n";

/// How long a watcher is observed after its last expected line: many times the
/// debounce, so a rerun loop (ten a second before the fix) cannot hide.
const QUIET: Duration = Duration::from_secs(3);

/// A watching child process, killed when dropped, with its stdout as lines.
struct Watcher {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Watcher {
    fn start(dir: &Path, extra: &[&str]) -> Watcher {
        let mut child = pipe()
            .current_dir(dir)
            .args(["watch", "p.pipe"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("pipe watch starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Watcher {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `needle`.
    fn wait_for(&mut self, needle: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
                let hit = line.contains(needle);
                self.seen.push(line);
                if hit {
                    return;
                }
            }
        }
        panic!(
            "no line with `{needle}` within {secs}s; saw:\n{}",
            self.seen.join("\n")
        );
    }

    /// Collects what comes during `QUIET`.
    fn settle(&mut self) {
        let deadline = Instant::now() + QUIET;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if let Ok(line) = self.lines.recv_timeout(left) {
                self.seen.push(line);
            }
        }
    }

    fn count(&self, needle: &str) -> usize {
        self.seen.iter().filter(|l| l.contains(needle)).count()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.pipe"), FIRST).unwrap();
    dir
}

fn run_dirs(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("runs/p")).map_or(0, |d| d.count())
}

/// Starts a watcher, waits for its first run, saves `SECOND` once and checks
/// that exactly one more run follows.
fn one_save_one_rerun(dir: &Path, extra: &[&str]) -> Watcher {
    let mut w = Watcher::start(dir, extra);
    w.wait_for("run 1:", 120);
    // A quiet start: its own first run must not wake it up.
    w.settle();
    assert_eq!(w.count("run 2:"), 0, "rerun without a save: {:?}", w.seen);
    std::fs::write(dir.join("p.pipe"), SECOND).unwrap();
    w.wait_for("run 2: 1 ran, 1 cached", 60);
    w.settle();
    assert_eq!(w.count("run 3:"), 0, "more than one rerun: {:?}", w.seen);
    w
}

#[test]
fn one_save_gives_exactly_one_rerun_and_one_more_run_directory() {
    let dir = project();
    let _w = one_save_one_rerun(dir.path(), &[]);
    assert_eq!(run_dirs(dir.path()), 2);
}

#[test]
fn one_save_gives_one_rerun_with_the_cache_elsewhere() {
    let dir = project();
    let cache = tempfile::tempdir().unwrap();
    let cache_arg = cache.path().join("c");
    let _w = one_save_one_rerun(dir.path(), &["--cache", cache_arg.to_str().unwrap()]);
    assert_eq!(run_dirs(dir.path()), 2);
    assert!(!dir.path().join(".pipe-cache").exists());
}

#[test]
fn one_save_gives_one_rerun_when_runs_cannot_be_written() {
    let dir = project();
    // A file where the run directories would go (as root, modes do not stop writes).
    std::fs::write(dir.path().join("runs"), b"not a directory").unwrap();
    let _w = one_save_one_rerun(dir.path(), &[]);
}

#[test]
fn an_invalid_save_prints_its_diagnostics_exactly_once() {
    let dir = project();
    let mut w = Watcher::start(dir.path(), &[]);
    w.wait_for("run 1:", 120);
    std::fs::write(dir.path().join("p.pipe"), "let d = dataset.digts()\n").unwrap();
    w.wait_for("fix the errors above", 60);
    w.settle();
    assert_eq!(w.count("fix the errors above"), 1, "{:?}", w.seen);
    assert_eq!(w.count("error[E0203]"), 1, "{:?}", w.seen);
    assert_eq!(w.count("run 2:"), 0, "{:?}", w.seen);
    assert_eq!(run_dirs(dir.path()), 1);
}

/// Runs `pipe watch TARGET` expecting it to exit by itself within 30 s.
fn watch_exits(dir: &Path, target: &str) -> (Option<i32>, String) {
    let mut child = pipe()
        .current_dir(dir)
        .args(["watch", target])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pipe watch starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            return (status.code(), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`pipe watch {target}` still waiting after 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn watching_a_directory_or_a_missing_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("d")).unwrap();
    let (code, err) = watch_exits(dir.path(), "d");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("d: is a directory"), "{err}");
    let (code, err) = watch_exits(dir.path(), "missing.pipe");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("missing.pipe: no such file"), "{err}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["d"], "nothing is created for a refused target");
}
