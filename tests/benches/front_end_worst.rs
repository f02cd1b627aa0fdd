//! The front end's worst case (issue 25): parse + check + format of each
//! adversarial family (`pipe_tests::adversarial`) at 26 levels (7.9 s before the
//! fix), 40 levels, the most levels below the depth cap, and 10,000 levels, and
//! a ~500 KB file made of the deepest statement of each family repeated, as time
//! per byte next to the realistic program of `check_throughput`. Run with
//! `cargo bench -p pipe-tests --bench front_end_worst` (release profile). Not a
//! timed test: it reports, it does not fail on speed.

use pipe_tests::adversarial::{deepest_parsed, FAMILIES};
use pipe_tests::memory_loader::MemoryLoader;
use std::time::Instant;

// The same allocator as the `pipe` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What `pipe check` and `pipe fmt` do with one file in memory.
fn front_end(text: &str) {
    let _ = pipe_lang::format("worst.pipe", text);
    let loader = MemoryLoader::new([("worst.pipe", text)]);
    std::hint::black_box(pipe_lang::check(
        "worst.pipe",
        &loader,
        pipe_stdlib::Stdlib::get(),
    ));
}

/// Fastest of 5 runs, in milliseconds: on a shared machine the fastest run is
/// the one least disturbed by other processes.
fn best_ms(text: &str) -> f64 {
    (0..5)
        .map(|_| {
            let start = Instant::now();
            front_end(text);
            start.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    println!("| family | 26 levels ms | 40 levels ms | deepest parsed | ms | 10,000 levels ms | 500 KB of deepest, ms | ns/byte |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut worst = (0.0, "");
    for family in FAMILIES {
        let deep = deepest_parsed(family);
        let at = |n: usize| best_ms(&(family.build)(n));
        let line = format!("{}\n", (family.build)(deep));
        let file = line.repeat(500_000 / line.len() + 1);
        let file_ms = best_ms(&file);
        let ns_per_byte = file_ms * 1e6 / file.len() as f64;
        if ns_per_byte > worst.0 {
            worst = (ns_per_byte, family.name);
        }
        println!(
            "| {} | {:.2} | {:.2} | {deep} | {:.2} | {:.2} | {file_ms:.1} | {ns_per_byte:.0} |",
            family.name,
            at(26),
            at(40),
            at(deep),
            at(10_000),
        );
    }
    println!("\nworst: {} at {:.0} ns/byte", worst.1, worst.0);
}
