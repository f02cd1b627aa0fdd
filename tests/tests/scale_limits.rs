//! Costs that must not grow faster than the input: `-j` far above the core
//! count is lowered (with a warning) instead of starting a thread per job, and
//! checking plus rendering diagnostics is linear in their number (10,000
//! unknown names, 10,000 unused lets). Time ratios are measured within one
//! test, against a generous factor, so a loaded machine does not fail them.

use pipe_lang::render::ProgramRenderer;
use pipe_tests::memory_loader::MemoryLoader;
use pipe_tests::pipe;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn output_within(mut command: Command, limit: Duration) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("`pipe` did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_cached_run_with_100000_jobs_finishes_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("w.pipe"),
        "let d = dataset.digits()\nlet s = dataset.sample(d, n: 10, seed: 1)\n",
    )
    .unwrap();
    let run = |jobs: &str| {
        let mut c = pipe();
        c.current_dir(dir.path())
            .args(["run", "w.pipe", "--format", "json", "-j", jobs]);
        output_within(c, Duration::from_secs(120))
    };
    assert!(run("2").status.success());
    let out = run("100000");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: -j 100000 is more than 4 threads per core"),
        "{stderr}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let nodes = summary["nodes"].as_array().unwrap();
    assert!(nodes.iter().all(|n| n["status"] == "cached"), "{summary}");
}

/// Seconds to check `source` and render every diagnostic (the fastest of
/// `runs`), and the number of diagnostics.
fn check_and_render(source: &str, runs: usize) -> (f64, usize) {
    let loader = MemoryLoader::new([("big.pipe", source)]);
    let catalog = pipe_stdlib::Stdlib::get();
    let mut best = f64::INFINITY;
    let mut count = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let program = pipe_lang::check("big.pipe", &loader, catalog);
        let text = ProgramRenderer::new(&program).render_all(&program.diagnostics, false);
        best = best.min(start.elapsed().as_secs_f64());
        count = program.diagnostics.len();
        assert!(text.lines().count() > count);
    }
    (best, count)
}

fn assert_linear(what: &str, line: impl Fn(usize) -> String) {
    let source = |n: usize| (0..n).map(&line).collect::<String>();
    // The small file is timed more often: its minimum is the noisier one on a
    // loaded machine.
    let (small, small_count) = check_and_render(&source(1_000), 9);
    let (large, large_count) = check_and_render(&source(10_000), 3);
    assert_eq!((small_count, large_count), (1_000, 10_000), "{what}");
    let ratio = large / small;
    eprintln!("{what}: 1k {small:.3} s, 10k {large:.3} s, ratio {ratio:.1}");
    // Linear gives 10 to 15; the quadratic code this replaced gave about 70.
    assert!(
        ratio < 40.0,
        "{what}: 10x the lines took {ratio:.1}x the time ({small:.3} s -> {large:.3} s)"
    );
}

#[test]
fn unknown_names_are_reported_in_linear_time() {
    assert_linear("unknown names", |i| format!("let v{i} = missing{i}\n"));
}

#[test]
fn unused_lets_are_reported_in_linear_time() {
    assert_linear("unused lets", |i| format!("let v{i} = {i}\n"));
}

#[test]
fn a_typo_far_into_a_large_file_still_gets_a_suggestion() {
    let mut source: String = (0..5_000)
        .map(|i| format!("let value_{i} = {i}\n"))
        .collect();
    source.push_str("let _last = value_4998x\n");
    let loader = MemoryLoader::new([("big.pipe", source.as_str())]);
    let program = pipe_lang::check("big.pipe", &loader, pipe_stdlib::Stdlib::get());
    let d = program
        .diagnostics
        .iter()
        .find(|d| d.code == "E0201")
        .expect("the unknown name");
    assert_eq!(d.help.as_deref(), Some("did you mean `value_4998`?"));
}
