//! Claims of QUIDAM (docs/papers.md section 7): over its design space (PE type and bit
//! width, array size, scratchpad, global buffer, dataflow) design points spread by more
//! than 5x in performance per area and more than 35x in energy; LightPEs reach on-par
//! accuracy with up to 5.7x better perf/area and energy than the best INT16 design.
//!
//! Hardware setting: `sim.accelerator`'s model with the shipped, sourced tables
//! (`stdlib/sim/data/*.csv`, derivations in docs/simulators.md) on the real layer shapes
//! of ResNet-50 and ViT-B/16, which fill every array swept. The sweep is deterministic,
//! so it has no seeds. Accuracy setting: per held-out seed a small ViT trained on the
//! UCI digits, quantized for each PE type (`quant.omse`, `quant.pow2`), test accuracy.
//!
//! `PIPE_CLAIMS_DEV_SEEDS=1,2` runs the accuracy claim on development seeds instead.

// Claims are measured in release (`cargo test --release -p pipe-claims`, as CI runs
// them); in the dev profile of `cargo test --workspace` this file compiles to no test.
#![cfg(not(debug_assertions))]

use pipe_claims::{call, field, float, int, single, Spread, HELD_OUT_SEEDS};
use pipe_sim::accelerator::{simulate, Design, Totals};
use pipe_sim::arch::Arch;
use pipe_sim::dataflow::Dataflow;
use pipe_sim::ppa::{MemoryModel, PpaTable};
use pipe_sim::workload::builtin;
use pipe_stdlib::stage::Input;

/// (PE type, activation bits) as the shipped table has them.
const PES: [(&str, u32); 7] = [
    ("int16", 16),
    ("int8", 8),
    ("int4", 4),
    ("lightpe1", 16),
    ("lightpe1", 8),
    ("lightpe2", 16),
    ("lightpe2", 8),
];
const SIDES: [u64; 4] = [8, 16, 32, 64];
const GLB_KIB: [f64; 3] = [64.0, 256.0, 1024.0];
const SPAD_B: [f64; 3] = [32.0, 64.0, 256.0];
const DATAFLOWS: [Dataflow; 3] = [Dataflow::Os, Dataflow::Ws, Dataflow::Is];

struct Point {
    pe: &'static str,
    bits: u32,
    totals: Totals,
}

/// Every design point of the space on one workload.
fn sweep(arch: &Arch) -> Vec<Point> {
    let ppa = PpaTable::default_table().unwrap();
    let mem = MemoryModel::default_model().unwrap();
    let mut points = Vec::new();
    for (pe, bits) in PES {
        for side in SIDES {
            for glb in GLB_KIB {
                for spad in SPAD_B {
                    for dataflow in DATAFLOWS {
                        let design = Design {
                            pe: pe.into(),
                            bits,
                            rows: side,
                            cols: side,
                            spad_bytes: spad,
                            glb_bytes: glb * 1024.0,
                            freq_hz: 1e9,
                            dataflow,
                            bandwidth: 16e9,
                        };
                        let totals = simulate(arch, &design, &ppa, &mem).unwrap().totals;
                        points.push(Point { pe, bits, totals });
                    }
                }
            }
        }
    }
    points
}

fn max_by(points: &[Point], f: impl Fn(&Totals) -> f64) -> f64 {
    points.iter().map(|p| f(&p.totals)).fold(f64::MIN, f64::max)
}

fn min_by(points: &[Point], f: impl Fn(&Totals) -> f64) -> f64 {
    points.iter().map(|p| f(&p.totals)).fold(f64::MAX, f64::min)
}

fn workloads() -> [(&'static str, Arch); 2] {
    [
        ("resnet50", builtin("resnet50").unwrap()),
        ("vit_b16", builtin("vit_b16").unwrap()),
    ]
}

/// QUIDAM: > 5x perf/area and > 35x energy between design points. Measured per
/// workload over the 756 points: perf/area 94x (ResNet-50) and 161x (ViT-B/16),
/// reproduced; energy 11.3x and 26.7x, below 35x: not reproduced, asserted as measured.
/// Checked to fail with the mechanism off: one array (16x16) and one glb (256 KiB)
/// leave PE type x spad x dataflow, and the perf/area spread falls to 1.9x (ResNet-50);
/// a PE-blind table (every row the int16 row's energy, area, leakage) drops the energy
/// spread to 8.6x (ResNet-50), under the 10x asserted.
#[test]
fn design_points_spread_in_perf_per_area_and_energy() {
    for (name, arch) in workloads() {
        let points = sweep(&arch);
        let perf = max_by(&points, |t| t.perf_per_area) / min_by(&points, |t| t.perf_per_area);
        let energy = max_by(&points, |t| t.energy_uj) / min_by(&points, |t| t.energy_uj);
        eprintln!(
            "{name}: {} points, perf/area spread {perf:.1}x, energy spread {energy:.1}x",
            points.len()
        );
        assert!(perf > 5.0, "{name}: perf/area spread {perf}");
        assert!(energy > 10.0, "{name}: energy spread {energy}");
        assert!(
            energy < 35.0,
            "{name}: energy spread {energy} now reaches QUIDAM's 35x: update docs/claims.md"
        );
    }
}

/// (best perf/area, lowest energy) over one PE type at one activation width.
fn best(points: &[Point], pe: &str, bits: u32) -> (f64, f64) {
    let mine: Vec<&Point> = points
        .iter()
        .filter(|p| p.pe == pe && p.bits == bits)
        .collect();
    let perf = mine
        .iter()
        .map(|p| p.totals.perf_per_area)
        .fold(f64::MIN, f64::max);
    let energy = mine
        .iter()
        .map(|p| p.totals.energy_uj)
        .fold(f64::MAX, f64::min);
    (perf, energy)
}

/// QUIDAM: LightPEs up to 5.7x better perf/area and energy than the best INT16 design.
/// Compared at 8-bit activations (as QUIDAM's LightPEs) and at 16 bits (equal to
/// INT16's): measured 1.76-4.85x perf/area and 1.27-2.97x energy, the most for
/// LightPE-1 at 8 bits on ViT-B/16. Part of the gain is the narrower weights (4 or 8
/// bits against 16: less buffer and DRAM traffic): with a PE-blind table (LightPE rows
/// given the int16 row's energy, area and leakage) 1.32-2.45x and 1.21-2.44x remain.
/// Checked to fail with the mechanism off: a LightPE row identical to int16's
/// (16-bit weights too) makes the 16-bit ratios exactly 1.
#[test]
fn lightpes_beat_the_best_int16_design() {
    for (name, arch) in workloads() {
        let points = sweep(&arch);
        let (int16_perf, int16_energy) = best(&points, "int16", 16);
        for (pe, bits) in [
            ("lightpe1", 8),
            ("lightpe2", 8),
            ("lightpe1", 16),
            ("lightpe2", 16),
        ] {
            let (perf, energy) = best(&points, pe, bits);
            let (perf_gain, energy_gain) = (perf / int16_perf, int16_energy / energy);
            eprintln!(
                "{name} {pe}@{bits}: perf/area {perf_gain:.2}x, energy {energy_gain:.2}x the best int16"
            );
            assert!(
                perf_gain > 1.5 && energy_gain > 1.2,
                "{name} {pe}@{bits}: {perf_gain:.2}x, {energy_gain:.2}x"
            );
        }
    }
}

/// Test accuracy of the digits ViT quantized for each PE type, one seed.
fn accuracies(seed: i64) -> Vec<(&'static str, f64)> {
    let digits = call("dataset.digits", vec![]);
    let parts = call(
        "dataset.split",
        vec![
            ("data", single(&digits)),
            ("test", float(0.2)),
            ("seed", int(seed)),
        ],
    );
    let vit = call(
        "model.vit",
        vec![
            ("input", single(&digits)),
            ("patch", int(4)),
            ("dim", int(32)),
            ("depth", int(2)),
            ("heads", int(4)),
            ("seed", int(seed)),
        ],
    );
    let fp = call(
        "train.supervised",
        vec![
            ("model", single(&vit)),
            ("data", field(&parts, "train")),
            ("epochs", int(15)),
            ("lr", float(3e-3)),
            ("batch_size", int(64)),
            ("seed", int(seed)),
        ],
    );
    let calib = call(
        "dataset.sample",
        vec![
            ("data", field(&parts, "train")),
            ("n", int(256)),
            ("seed", int(seed)),
        ],
    );
    let quantize = |stage: &str, extra: Vec<(&'static str, Input)>| {
        let mut args = vec![("model", field(&fp, "model")), ("calib", single(&calib))];
        args.extend(extra);
        let q = call(stage, args);
        let scored = call(
            "eval.classify",
            vec![
                ("model", field(&q, "model")),
                ("data", field(&parts, "test")),
            ],
        );
        scored.metrics["accuracy"]
    };
    let bits = |w: i64, a: i64| vec![("bits", int(w)), ("act_bits", int(a))];
    let shifts = |k: i64| vec![("shifts", int(k)), ("act_bits", int(8))];
    vec![
        ("int16", quantize("quant.omse", bits(16, 16))),
        ("int8", quantize("quant.omse", bits(8, 8))),
        ("int4", quantize("quant.omse", bits(4, 4))),
        ("lightpe1", quantize("quant.pow2", shifts(1))),
        ("lightpe2", quantize("quant.pow2", shifts(2))),
    ]
}

/// QUIDAM: LightPEs reach on-par accuracy with INT16. On-par here (set before any
/// held-out run): LightPE-2 at most 2 accuracy points (7 of 359 test images) below
/// INT16 on the mean over seeds. Measured: INT16 0.9675, LightPE-2 0.9675 (gap 0.000
/// [-0.003, +0.003]), LightPE-1 0.9573. Checked to fail with the mechanism off:
/// `shift_bits: 1` (exponents 0 and -1 only) gives LightPE-2 0.100 on dev seed 1.
#[test]
fn lightpe_accuracy_is_on_par_with_int16() {
    let seeds: Vec<i64> = pipe_claims::seeds(&HELD_OUT_SEEDS)
        .into_iter()
        .map(|s| s as i64)
        .collect();
    let runs: Vec<Vec<(&str, f64)>> = seeds.iter().map(|&s| accuracies(s)).collect();
    let of = |pe: &str| -> Vec<f64> {
        runs.iter()
            .map(|r| r.iter().find(|(p, _)| *p == pe).unwrap().1)
            .collect()
    };
    for pe in ["int16", "int8", "int4", "lightpe1", "lightpe2"] {
        eprintln!("{pe}: accuracy {}", Spread::of(&of(pe)).unwrap());
    }
    let gap: Vec<f64> = of("int16")
        .iter()
        .zip(of("lightpe2"))
        .map(|(a, b)| a - b)
        .collect();
    let gap = Spread::of(&gap).unwrap();
    eprintln!("int16 - lightpe2: {gap}");
    assert!(gap.mean < 0.02, "lightpe2 is {gap} behind int16");
}
