//! `pipe check` front-end throughput on a generated 10,000-line file (params,
//! stage calls over several lines, sweeps, records, lists, member access): median
//! wall time of parse alone and of parse + check, printed as a table. Run with
//! `cargo bench -p pipe-tests --bench check_throughput` (release profile). Not a
//! timed test: it reports, it does not fail on speed. Uses the fixed test catalog
//! so the figure does not move when the stdlib grows.

use pipe_tests::memory_loader::MemoryLoader;
use pipe_tests::test_catalog::TestCatalog;
use std::time::{Duration, Instant};

const TARGET_LINES: usize = 10_000;
const RUNS: usize = 15;

/// A realistic program: each block is 10 lines and uses what the block before defined.
fn generate() -> String {
    let mut out = String::from("## Generated for the throughput benchmark.\nparam seed: int = 0\nlet digits = dataset.digits()\n");
    let mut i = 0;
    while out.lines().count() + 10 <= TARGET_LINES {
        out.push_str(&format!(
            "param bits{i}: int = {bits}\n\
             let parts{i} = dataset.split(digits, test: 20%, seed: seed)\n\
             let vit{i} = model.vit(input: digits, patch: 2, dim: 64,\n    depth: 4, heads: 4)\n\
             let fp{i} = train.supervised(model: vit{i}, data: parts{i}.train, epochs: 30,\n    lr: 1e-3, seed: seed)\n\
             let q{i} = quant.evolq(model: fp{i}.model, calib: parts{i}.train, bits: bits{i})\n\
             let hw{i} = for pe in [\"int16\", \"int8\"], rows in range(8, 33, 8) =>\n    sim.accelerator(model: q{i}.model, pe: pe, rows: rows, glb: 128KiB, freq: 1GHz)\n\
             let acc{i} = eval.classify(model: q{i}.model, data: parts{i}.test)\n",
            bits = 2 + i % 8,
        ));
        i += 1;
    }
    while out.lines().count() < TARGET_LINES {
        out.push_str("## padding\n");
    }
    out
}

/// (median, fastest) of `RUNS` runs; on a shared machine the fastest run is the
/// one least disturbed by other processes.
// The same allocator as the `pipe` binary, so the in-process rows measure what
// `pipe check` does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn time(mut f: impl FnMut()) -> (Duration, Duration) {
    let mut runs: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    runs.sort();
    (runs[runs.len() / 2], runs[0])
}

fn main() {
    let text = generate();
    let lines = text.lines().count();
    let loader = MemoryLoader::new([("bench.pipe", text.as_str())]);
    let catalog = TestCatalog::new();
    let program = pipe_lang::check("bench.pipe", &loader, &catalog);
    assert!(
        program.diagnostics.is_empty(),
        "the generated program must check clean: {:?}",
        program.diagnostics.first()
    );
    let parse = time(|| {
        std::hint::black_box(pipe_lang::parse("bench.pipe", &text));
    });
    let check = time(|| {
        std::hint::black_box(pipe_lang::check("bench.pipe", &loader, &catalog));
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("bench.pipe");
    std::fs::write(&file, &text).expect("writing the generated file");
    let bin = pipe_tests::pipe_bin();
    let process = time(|| {
        let out = std::process::Command::new(&bin)
            .arg("check")
            .arg(&file)
            .output()
            .expect("running pipe check");
        assert!(out.status.success(), "pipe check failed: {out:?}");
    });
    let mb = text.len() as f64 / 1e6;
    println!("| phase | lines | bytes | median ms ({RUNS} runs) | fastest ms | MB/s (median) |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (phase, (med, fast)) in [
        ("parse", parse),
        ("parse + check", check),
        ("`pipe check` process (real catalog)", process),
    ] {
        println!(
            "| {phase} | {lines} | {} | {:.2} | {:.2} | {:.1} |",
            text.len(),
            med.as_secs_f64() * 1e3,
            fast.as_secs_f64() * 1e3,
            mb / med.as_secs_f64()
        );
    }
    let verdict = if check.0 < Duration::from_millis(50) {
        "under"
    } else {
        "OVER"
    };
    println!("\ncheck of {lines} lines (median): {verdict} the 50 ms target");
}
