//! The front end (parse, check, format) costs time linear in its input on the
//! adversarial inputs of issue 25: nested unclosed calls, records, lists, sweeps,
//! parentheses and mixes of them, mismatched closers, and balanced nesting with
//! an error at the bottom. Each family is built at 20 and 40 levels, at the most
//! levels below the grammar's depth cap (128 nested constructs), and at 10,000 levels (refused by the iterative
//! pre-pass with E0113, without overflowing the stack). Time per byte is compared
//! within one run, with a generous factor: the bug this guards against doubled
//! the time with every level, so 40 levels took 2^20 times as long as 20.

use pipe_tests::adversarial::{deepest_parsed, FAMILIES};
use pipe_tests::memory_loader::MemoryLoader;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Everything `pipe check` and `pipe fmt` do with one file in memory.
fn front_end(text: &str) -> Vec<String> {
    let parsed = pipe_lang::parse("adv.pipe", text);
    let _ = pipe_lang::format("adv.pipe", text);
    let loader = MemoryLoader::new([("adv.pipe", text)]);
    let program = pipe_lang::check("adv.pipe", &loader, pipe_stdlib::Stdlib::get());
    parsed
        .diagnostics
        .iter()
        .chain(&program.diagnostics)
        .map(|d| d.code.to_string())
        .collect()
}

/// One run of `front_end` on another thread; a run longer than `limit` fails the
/// test at once instead of hanging it (the thread is left behind).
fn bounded_run(text: &str, limit: Duration) -> Vec<String> {
    let (tx, rx) = mpsc::channel();
    let owned = text.to_string();
    std::thread::spawn(move || {
        let _ = tx.send(front_end(&owned));
    });
    match rx.recv_timeout(limit) {
        Ok(codes) => codes,
        Err(e) => panic!(
            "front end on {} bytes: no answer within {limit:?} ({e})",
            text.len()
        ),
    }
}

/// Seconds per byte of one `front_end` run: the best of five batches, each
/// repeating the run for at least 5 ms so that timer resolution does not matter.
fn cost_per_byte(text: &str) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let start = Instant::now();
        let mut runs = 0u32;
        while runs == 0 || start.elapsed() < Duration::from_millis(5) {
            std::hint::black_box(front_end(std::hint::black_box(text)));
            runs += 1;
        }
        best = best.min(start.elapsed().as_secs_f64() / f64::from(runs));
    }
    best / text.len() as f64
}

/// Time per byte may grow by at most this factor from 20 levels to any deeper
/// input. Linear cost keeps it near 1; the loaded 2-core CI machine and the
/// fixed costs of small inputs account for the rest.
const SLACK: f64 = 8.0;

#[test]
fn cost_per_byte_stays_flat_as_nesting_grows() {
    let mut failures = Vec::new();
    for family in FAMILIES {
        let deep = deepest_parsed(family);
        let depths = [40, deep, 10_000];
        for n in depths {
            bounded_run(&(family.build)(n), Duration::from_secs(20));
        }
        let base = cost_per_byte(&(family.build)(20));
        for n in depths {
            let ratio = cost_per_byte(&(family.build)(n)) / base;
            eprintln!(
                "{:32} {n:>6} levels: {ratio:5.2}x the time per byte of 20",
                family.name
            );
            if ratio > SLACK {
                failures.push(format!("{} at {n} levels: {ratio:.1}x", family.name));
            }
        }
    }
    assert!(failures.is_empty(), "super-linear front end: {failures:#?}");
}

#[test]
fn every_family_is_diagnosed_at_every_depth() {
    for family in FAMILIES {
        for n in [20, 40, deepest_parsed(family)] {
            let codes = bounded_run(&(family.build)(n), Duration::from_secs(20));
            assert!(
                codes.iter().any(|c| c.starts_with("E01")),
                "{} at {n} levels: no syntax error in {codes:?}",
                family.name
            );
        }
    }
}

/// 10,000 levels is far past the depth cap: one E0113 at the statement, no
/// stack overflow anywhere (a test thread has a 2 MiB stack).
#[test]
fn ten_thousand_levels_are_refused_without_recursion() {
    for family in FAMILIES {
        let codes = bounded_run(&(family.build)(10_000), Duration::from_secs(20));
        assert!(
            codes.iter().any(|c| c == "E0113"),
            "{} at 10,000 levels: expected E0113 in {codes:?}",
            family.name
        );
    }
}
