//! The interpreter as a library, with an injected test stage table: caching,
//! `--set`, edits that must not rerun anything, version bumps, parallel overlap,
//! failure propagation, cancellation, deduplication, sweep names, deep chains.

mod run_support;

use pipe_interp::schedule::{RunControl, Status};
use run_support::{report, run_controlled, run_with, stages, statuses, write};

const CHAIN: &str = "\
param y: float = 1.0
param other: int = 3
let a = sim.source(value: 1.0)
let b = sim.add(a, y: y)
let c = sim.add(b, y: 2.0)
let d = sim.add(a, y: 10.0)
";

fn all(outcome: &pipe_interp::run::FileOutcome, status: Status) -> bool {
    outcome
        .outcome
        .result
        .reports
        .iter()
        .all(|r| r.status == status)
}

#[test]
fn second_run_is_all_cached() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "p.pipe", CHAIN);
    let table = stages(1);
    let first = run_with(&file, &table, &[], &[]);
    assert!(all(&first, Status::Ran), "{:?}", statuses(&first));
    assert_eq!(first.outcome.result.reports.len(), 4);
    assert_eq!(report(&first, "c").metrics["value"], 4.0);
    let second = run_with(&file, &table, &[], &[]);
    assert!(all(&second, Status::Cached), "{:?}", statuses(&second));
    assert_eq!(report(&second, "c").metrics["value"], 4.0);
}

#[test]
fn set_reruns_only_dependents() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "p.pipe", CHAIN);
    let table = stages(1);
    run_with(&file, &table, &[], &[]);
    let after = run_with(&file, &table, &["y=5"], &[]);
    let s = statuses(&after);
    assert_eq!(s["a"], Status::Cached);
    assert_eq!(s["d"], Status::Cached);
    assert_eq!(s["b"], Status::Ran);
    assert_eq!(s["c"], Status::Ran);
    assert_eq!(report(&after, "c").metrics["value"], 8.0);
    // An unrelated param changes nothing.
    let unrelated = run_with(&file, &table, &["y=5", "other=9"], &[]);
    assert!(
        all(&unrelated, Status::Cached),
        "{:?}",
        statuses(&unrelated)
    );
}

#[test]
fn comments_formatting_and_reordering_rerun_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "p.pipe", CHAIN);
    let table = stages(1);
    run_with(&file, &table, &[], &[]);
    let edited = "\
# a comment that was not there
param other: int = 3
param y: float = 1.0
let a = sim.source(value: 1)     # int for a float: same key
let d = sim.add(a,
                y: 10.0)
let b = sim.add(x: a, y: y)
let c = sim.add(b, y: 2.0)
";
    write(dir.path(), "p.pipe", edited);
    let again = run_with(&file, &table, &[], &[]);
    assert!(all(&again, Status::Cached), "{:?}", statuses(&again));
}

#[test]
fn renaming_a_binding_keeps_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "p.pipe", "let a = sim.source(value: 2.0)\n");
    let table = stages(1);
    let first = run_with(&file, &table, &[], &[]);
    write(
        dir.path(),
        "p.pipe",
        "let renamed = sim.source(value: 2.0)\n",
    );
    let second = run_with(&file, &table, &[], &[]);
    assert_eq!(report(&second, "renamed").status, Status::Cached);
    assert_eq!(report(&second, "renamed").key, report(&first, "a").key);
}

#[test]
fn version_bump_reruns_the_stage_and_its_dependents() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "p.pipe",
        "let a = sim.source(value: 1.0)\nlet b = sim.add(a)\nlet s = sim.source(value: 2.0)\n",
    );
    run_with(&file, &stages(1), &[], &[]);
    let bumped = run_with(&file, &stages(2), &[], &[]);
    let s = statuses(&bumped);
    assert_eq!(s["a"], Status::Cached);
    assert_eq!(s["s"], Status::Cached);
    assert_eq!(s["b"], Status::Ran);
}

#[test]
fn independent_nodes_overlap_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "p.pipe",
        "let a = sim.source(value: 1.0, ms: 400)\nlet b = sim.source(value: 2.0, ms: 400)\n",
    );
    let out = run_with(&file, &stages(1), &[], &[]);
    let (a, b) = (report(&out, "a"), report(&out, "b"));
    let (a0, a1) = (a.started.unwrap(), a.ended.unwrap());
    let (b0, b1) = (b.started.unwrap(), b.ended.unwrap());
    assert!(
        a0 < b1 && b0 < a1,
        "a ran {a0:.3}..{a1:.3}, b ran {b0:.3}..{b1:.3}: no overlap"
    );
}

#[test]
fn sweep_points_are_named_by_their_binders_and_run_in_parallel() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "p.pipe",
        "let base = sim.source(value: 1.0)\nlet hw = for y in [1.0, 2.0], ms in [300] => sim.add(base, y: y, ms: ms)\nlet total = sim.add(hw, y: 100.0)\n",
    );
    let out = run_with(&file, &stages(1), &[], &[]);
    let s = statuses(&out);
    assert!(s.contains_key("hw[y=1.0,ms=300]"), "{s:?}");
    assert!(s.contains_key("hw[y=2.0,ms=300]"), "{s:?}");
    // A sweep passed where one value is expected broadcasts, keeping the point names.
    assert_eq!(report(&out, "total[y=2.0,ms=300]").metrics["value"], 103.0);
    let (p, q) = (
        report(&out, "hw[y=1.0,ms=300]"),
        report(&out, "hw[y=2.0,ms=300]"),
    );
    assert!(p.started.unwrap() < q.ended.unwrap() && q.started.unwrap() < p.ended.unwrap());
}

#[test]
fn a_failure_stops_only_its_dependents_and_every_failure_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "p.pipe",
        "let a = sim.source(value: 1.0)\nlet bad = sim.fail(a)\nlet after = sim.add(bad)\nlet later = sim.add(after)\nlet fine = sim.add(a, y: 7.0)\nlet bad2 = sim.fail(fine)\n",
    );
    let out = run_with(&file, &stages(1), &[], &[]);
    let s = statuses(&out);
    assert_eq!(s["a"], Status::Ran);
    assert_eq!(s["fine"], Status::Ran);
    assert_eq!(s["bad"], Status::Failed);
    assert_eq!(s["bad2"], Status::Failed);
    assert_eq!(s["after"], Status::Skipped);
    assert_eq!(s["later"], Status::Skipped);
    assert!(report(&out, "bad")
        .error
        .as_deref()
        .unwrap()
        .contains("always fails"));
    assert_eq!(
        report(&out, "later").error.as_deref(),
        Some("depends on failed `bad`")
    );
    assert!(!out.outcome.result.ok());
}

#[test]
fn identical_calls_share_one_node() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "p.pipe",
        "let a = sim.source(value: 3.0)\nlet b = sim.source(value: 3.0)\nlet c = sim.add(b)\n",
    );
    let out = run_with(&file, &stages(1), &[], &[]);
    let names: Vec<&str> = out
        .outcome
        .result
        .reports
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(names, ["a", "c"]);
}

#[test]
fn an_unimplemented_stage_fails_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "p.pipe",
        "let a = sim.source(value: 1.0)\nlet t = sim.todo(a)\n",
    );
    let sets: Vec<String> = Vec::new();
    let cache = dir.path().join(".pipe-cache");
    let req = pipe_interp::run::FileRun {
        file: &file,
        names: &[],
        sets: &sets,
        cache_dir: &cache,
        jobs: 2,
    };
    let err = match pipe_interp::run::run_file(&req, &stages(1), &RunControl::default()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("expected a refusal"),
    };
    assert!(
        err.contains("stage `sim.todo` is not implemented yet"),
        "{err}"
    );
    assert!(err.contains("p.pipe:2:9"), "{err}");
    // Only what is named runs: `a` alone is fine.
    let only_a = run_with(&file, &stages(1), &[], &["a"]);
    assert_eq!(statuses(&only_a).len(), 1);
}

#[test]
fn cancelling_stops_running_nodes_and_starts_nothing_new() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "p.pipe",
        "let slow = sim.source(value: 1.0, ms: 5000)\nlet next = sim.add(slow)\n",
    );
    let control = RunControl::default();
    let table = stages(1);
    let start = std::time::Instant::now();
    let out = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(200));
            control.interrupt();
        });
        run_controlled(&file, &table, &[], &[], &control)
    });
    assert!(
        start.elapsed().as_secs_f64() < 3.0,
        "cancel took {:?}",
        start.elapsed()
    );
    assert!(out.outcome.result.interrupted);
    assert_eq!(report(&out, "slow").status, Status::Failed);
    assert_eq!(report(&out, "slow").error.as_deref(), Some("cancelled"));
    assert_eq!(report(&out, "next").status, Status::Skipped);
    // Nothing half-done was cached: the next run runs `slow` again.
    let again = run_with(&file, &table, &[], &["next"]);
    assert_eq!(report(&again, "slow").status, Status::Ran);
}

fn chain(n: usize) -> String {
    let mut text = String::from("let n0 = sim.source(value: 0.0)\n");
    for i in 1..n {
        text.push_str(&format!("let n{i} = sim.add(n{})\n", i - 1));
    }
    text
}

#[test]
fn a_500_deep_chain_runs_then_is_cached() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "p.pipe", &chain(500));
    let table = stages(1);
    let first = run_with(&file, &table, &[], &[]);
    assert_eq!(report(&first, "n499").metrics["value"], 499.0);
    let second = run_with(&file, &table, &[], &["n499"]);
    assert!(all(&second, Status::Cached));
    assert_eq!(second.outcome.result.reports.len(), 500);
}

#[test]
fn a_10000_deep_chain_runs_without_recursion() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "p.pipe", &chain(10_000));
    // Run on a small stack: nothing may recurse on the chain's depth.
    let handle = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let out = run_with(&file, &stages(1), &[], &["n9999"]);
            (
                report(&out, "n9999").metrics["value"],
                out.outcome.result.reports.len(),
            )
        })
        .unwrap();
    let (value, nodes) = handle.join().unwrap();
    assert_eq!(value, 9999.0);
    assert_eq!(nodes, 10_000);
}
