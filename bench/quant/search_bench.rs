//! Benchmark of the Evol-Q and CPT-V searches (docs/quantization.md,
//! "Search speed"): for the two ViTs of the accuracy tables (digits: patch 2,
//! dim 32, depth 4; MNIST: patch 4, dim 64, depth 4), one pass of each search at
//! 4-bit weights over 256 calibration images, reporting fitness evaluations per
//! second, the search time and the whole stage's wall time (OMSE start and the
//! full-precision outputs included). Untrained weights: the cost of a fitness
//! evaluation does not depend on what the network learned.
//!
//! Run: `cargo run --release -p pipe-stdlib --example quant_search_bench`

use pipe_lang::value::Value;
use pipe_stdlib::stage::{Input, Outputs, StageOutput};
use pipe_stdlib::Stdlib;
use std::path::Path;
use std::time::Instant;

fn int(v: i64) -> Input {
    Input::Value(Value::Int(v))
}

fn text(v: &str) -> Input {
    Input::Value(Value::Str(v.into()))
}

fn run(stage: &str, args: Vec<(&str, Input)>, base: &Path) -> StageOutput {
    Stdlib::get()
        .call(stage, args, base)
        .unwrap_or_else(|e| panic!("{stage}: {e}"))
}

fn single(out: StageOutput) -> Input {
    match out.outputs {
        Outputs::Single(a) => Input::Artifact(a),
        Outputs::Record(_) => panic!("expected one artifact"),
    }
}

fn main() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let cases = [
        ("digits", "dataset.digits", vec![], 2, 32),
        (
            "mnist",
            "dataset.mnist",
            vec![
                ("images", text("mnist10k-images-idx3-ubyte.gz")),
                ("labels", text("mnist10k-labels-idx1-ubyte.gz")),
            ],
            4,
            64,
        ),
    ];
    println!("| data | search | evaluations | evals/s | search s | stage s |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (name, loader, args, patch, dim) in cases {
        let images = single(run(loader, args, &data));
        let calib = single(run(
            "dataset.sample",
            vec![("data", images.clone()), ("n", int(256))],
            &data,
        ));
        let vit = single(run(
            "model.vit",
            vec![
                ("input", images),
                ("patch", int(patch)),
                ("dim", int(dim)),
                ("depth", int(4)),
                ("heads", int(4)),
            ],
            &data,
        ));
        for stage in ["quant.evolq", "quant.cptv"] {
            let start = Instant::now();
            let out = run(
                stage,
                vec![
                    ("model", vit.clone()),
                    ("calib", calib.clone()),
                    ("bits", int(4)),
                    ("passes", int(1)),
                ],
                &data,
            );
            let m = &out.metrics;
            println!(
                "| {name} | {stage} | {} | {:.2} | {:.2} | {:.2} |",
                m["evaluations"],
                m["evals_per_second"],
                m["search_seconds"],
                start.elapsed().as_secs_f64()
            );
        }
    }
}
