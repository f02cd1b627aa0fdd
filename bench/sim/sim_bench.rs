//! Benchmark of the accelerator simulator (docs/performance.md, "Simulators"):
//! 1. design points per second of `sim.accelerator`'s model on the whole
//!    MobileNetV2 (one thread);
//! 2. on a handful of real layers, the speed-up over SCALE-Sim v3 on identical
//!    points, both timed in this run, and their compute cycles side by side; also the
//!    time of `pipe_sim::scalesim::layer_counts`, the replay that reproduces SCALE-Sim's
//!    SRAM and DRAM counts exactly (linear in the layer's SRAM requests).
//!
//! Run: `cargo run --release -p pipe-sim --example sim_bench -- [--python PY] [--quick]`
//! (`--quick` uses smaller layers; without a Python that imports `scalesim`,
//! part 2 is skipped with a message).

use pipe_sim::accelerator::{simulate, Design};
use pipe_sim::arch::Arch;
use pipe_sim::dataflow::Dataflow;
use pipe_sim::ppa::{MemoryModel, PpaTable};
use pipe_sim::scalesim::{layer_counts, ScaleSimConfig};
use pipe_sim::workload::{builtin, topology_from_text};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

const CONV_HEADER: &str =
    "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n";

/// (name, topology row, GEMM form, array side)
const LAYERS: &[(&str, &str, bool, u64)] = &[
    (
        "mobilenet_v2 features.17.project",
        "pw, 7, 7, 1, 1, 960, 320, 1",
        false,
        32,
    ),
    (
        "mobilenet_v2 features.18 (1x1, 320->1280)",
        "pw, 7, 7, 1, 1, 320, 1280, 1",
        false,
        32,
    ),
    (
        "resnet50 layer4.x.conv2 (3x3, 512->512)",
        "c3, 9, 9, 3, 3, 512, 512, 1",
        false,
        32,
    ),
    (
        "vit_b16 blocks.x.proj (197x768 . 768x768)",
        "proj, 197, 768, 768",
        true,
        64,
    ),
];

const QUICK_LAYERS: &[(&str, &str, bool, u64)] = &[
    (
        "small 3x3 conv (16x16, 4->10)",
        "c1, 16, 16, 3, 3, 4, 10, 1",
        false,
        8,
    ),
    ("small GEMM (64x48 . 48x32)", "g, 64, 32, 48", true, 8),
];

fn design(pe: &str, bits: u32, rows: u64, cols: u64, dataflow: Dataflow, glb_kib: f64) -> Design {
    Design {
        pe: pe.into(),
        bits,
        rows,
        cols,
        spad_bytes: 64.0,
        glb_bytes: glb_kib * 1024.0,
        freq_hz: 1e9,
        dataflow,
        bandwidth: 16e9,
    }
}

fn design_points_per_second(arch: &Arch, ppa: &PpaTable, mem: &MemoryModel) -> (usize, f64) {
    let pes = [
        ("int16", 16),
        ("int8", 8),
        ("int4", 4),
        ("lightpe1", 8),
        ("lightpe2", 8),
    ];
    let sides = [4, 8, 16, 32, 64];
    let glbs = [64.0, 128.0, 256.0, 512.0];
    let mut points = Vec::new();
    for (pe, bits) in pes {
        for rows in sides {
            for cols in sides {
                for df in [Dataflow::Os, Dataflow::Ws, Dataflow::Is] {
                    for glb in glbs {
                        points.push(design(pe, bits, rows, cols, df, glb));
                    }
                }
            }
        }
    }
    let start = Instant::now();
    let mut checksum = 0.0;
    for d in &points {
        checksum += simulate(arch, d, ppa, mem)
            .map(|r| r.totals.energy_uj)
            .unwrap_or(0.0);
    }
    let seconds = start.elapsed().as_secs_f64();
    assert!(checksum > 0.0);
    (points.len(), points.len() as f64 / seconds)
}

/// Seconds per `simulate` call on one point, averaged over at least 0.2 s.
fn seconds_per_point(arch: &Arch, d: &Design, ppa: &PpaTable, mem: &MemoryModel) -> (u64, f64) {
    let cycles = simulate(arch, d, ppa, mem)
        .map(|r| r.totals.compute_cycles)
        .unwrap_or(0);
    let (mut n, start) = (0u64, Instant::now());
    while start.elapsed().as_secs_f64() < 0.2 {
        for _ in 0..1000 {
            std::hint::black_box(simulate(std::hint::black_box(arch), d, ppa, mem).ok());
        }
        n += 1000;
    }
    (cycles, start.elapsed().as_secs_f64() / n as f64)
}

/// Seconds of one exact SCALE-Sim count replay of the layer, with the SRAM sizes
/// `scalesim_cycles.py` gives SCALE-Sim.
fn replay_seconds(arch: &Arch, side: u64, dataflow: &str) -> f64 {
    let cfg = ScaleSimConfig {
        run_name: "bench".into(),
        rows: side,
        cols: side,
        ifmap_kib: 6144,
        filter_kib: 6144,
        ofmap_kib: 6144,
        dataflow: Dataflow::parse(dataflow).expect("dataflow"),
    };
    let start = Instant::now();
    for layer in &arch.layers {
        std::hint::black_box(layer_counts(&layer.op, &cfg).ok());
    }
    start.elapsed().as_secs_f64()
}

fn scalesim(python: &str, request: &str) -> Option<Vec<(u64, f64)>> {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/sim/scalesim_cycles.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(request.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v["points"]
        .as_array()?
        .iter()
        .map(|p| Some((p["cycles"].as_u64()?, p["seconds"].as_f64()?)))
        .collect()
}

fn request_for(row: &str, gemm: bool, side: u64) -> String {
    let cells: Vec<serde_json::Value> = row
        .split(',')
        .map(|c| c.trim())
        .map(|c| {
            c.parse::<u64>()
                .map(serde_json::Value::from)
                .unwrap_or_else(|_| c.into())
        })
        .collect();
    let key = if gemm { "gemm" } else { "layer" };
    let points: Vec<serde_json::Value> = Dataflow::NAMES
        .iter()
        .map(|df| serde_json::json!({key: cells, "dataflow": df, "rows": side, "cols": side}))
        .collect();
    serde_json::json!({ "points": points }).to_string()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let python = args
        .iter()
        .position(|a| a == "--python")
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| "python3".into());
    let layers = if args.iter().any(|a| a == "--quick") {
        QUICK_LAYERS
    } else {
        LAYERS
    };
    let ppa = PpaTable::default_table().expect("shipped PPA table");
    let mem = MemoryModel::default_model().expect("shipped memory model");

    let mbv2 = builtin("mobilenet_v2").expect("built-in workload");
    let (n, rate) = design_points_per_second(&mbv2, &ppa, &mem);
    println!(
        "## sim.accelerator on MobileNetV2 1.0 ({} layers, {:.1} M MACs), one thread",
        mbv2.layers.len(),
        mbv2.macs() as f64 / 1e6
    );
    println!(
        "{n} design points: {rate:.0} design points/s ({:.1} us per point), {:.2} M (layer, design) evaluations/s\n",
        1e6 / rate,
        rate * mbv2.layers.len() as f64 / 1e6
    );

    println!("## Speed-up over SCALE-Sim v3 on identical points (same run)\n");
    println!("| layer | array | dataflow | pipe-sim cycles | SCALE-Sim cycles | diff | pipe-sim time | SCALE-Sim time | speed-up | exact-count replay |");
    println!("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut speedups = Vec::new();
    for &(name, row, gemm, side) in layers {
        let text = if gemm {
            format!("Layer, M, N, K,\n{row},\n")
        } else {
            format!("{CONV_HEADER}{row},\n")
        };
        let arch = topology_from_text("bench.csv", &text).expect("benchmark layer");
        let Some(reference) = scalesim(&python, &request_for(row, gemm, side)) else {
            println!("\nSCALE-Sim could not run with `{python}` (pip install scalesim==3.0.0); speed-up skipped.");
            return;
        };
        for (df, (theirs, their_s)) in Dataflow::NAMES.iter().zip(reference) {
            let d = design(
                "int16",
                16,
                side,
                side,
                Dataflow::parse(df).expect("dataflow"),
                1024.0,
            );
            let (ours, our_s) = seconds_per_point(&arch, &d, &ppa, &mem);
            let diff = (ours as f64 - theirs as f64).abs() / theirs as f64 * 100.0;
            let speedup = their_s / our_s;
            speedups.push(speedup);
            let replay_s = replay_seconds(&arch, side, df);
            println!(
                "| {name} | {side}x{side} | {df} | {ours} | {theirs} | {diff:.2}% | {:.2} us | {their_s:.2} s | {speedup:.0}x | {:.1} ms |",
                our_s * 1e6,
                replay_s * 1e3
            );
        }
    }
    let geomean = (speedups.iter().map(|s| s.ln()).sum::<f64>() / speedups.len() as f64).exp();
    let min = speedups.iter().cloned().fold(f64::INFINITY, f64::min);
    println!(
        "\nspeed-up: geometric mean {geomean:.0}x, minimum {min:.0}x over {} points",
        speedups.len()
    );
}
