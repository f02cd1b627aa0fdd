//! Claims of DeepNVM++ (docs/papers.md section 8; arXiv 2012.04559, abstract):
//! against an SRAM last-level cache, STT- and SOT-MRAM caches reduce EDP by up to
//! 3.8x and 4.7x and area by 2.4x and 2.8x at iso-capacity; at iso-area they
//! reduce EDP by up to 2x and 2.3x and hold 2.3x and 3.3x the capacity.
//!
//! Setting: `sim.nvm_cache` with its defaults (22 nm NVSim table of
//! bench/nvsim/, 16-way LRU replay of the workload's tiled address stream, 64-byte
//! lines, 48 KiB weight tiles), workloads ResNet-50, MobileNetV2 and ViT-B/16 at
//! batch 1, SRAM capacities 4, 8 and 16 MB. "Up to" is the largest value over that grid.
//! The model is deterministic: no seeds (the held-out seeds do not apply).
//!
//! Each test's doc comment says how it was checked to fail with its mechanism off.

// Claims are measured in release (`cargo test --release -p pipe-claims`, as CI runs
// them); in the dev profile the file compiles to no test.
#![cfg(not(debug_assertions))]

use pipe_claims::{call, single};
use pipe_lang::units::Dim;
use pipe_lang::value::Value;
use pipe_stdlib::stage::Input;

/// How far a ratio may be from the paper's and still count as reproduced: the
/// node (22 nm here, 16 nm there), the cells and the system differ (docs/simulators.md).
const TOLERANCE: f64 = 0.25;

fn near(ours: f64, paper: f64, tolerance: f64) -> bool {
    (ours / paper - 1.0).abs() <= tolerance
}

const WORKLOADS: [&str; 3] = ["resnet50", "mobilenet_v2", "vit_b16"];
/// SRAM capacities: within the NVSim table (4-64 MB) for both modes (an MRAM of
/// a 16 MB SRAM's area holds about 40 MB).
const CAPACITIES_MB: [f64; 3] = [4.0, 8.0, 16.0];

fn text(s: &str) -> Input {
    Input::Value(Value::Str(s.to_string()))
}

/// One metric of `sim.nvm_cache` for `tech` against SRAM of `mb` MB.
fn metric(workload: &str, tech: &str, mb: f64, mode: &str, name: &str) -> f64 {
    let net = call("sim.workload", vec![("name", text(workload))]);
    let capacity = Input::Value(Value::Quantity {
        value: mb * 1024.0 * 1024.0,
        dim: Dim::Bytes,
    });
    let out = call(
        "sim.nvm_cache",
        vec![
            ("workload", single(&net)),
            ("tech", text(tech)),
            ("capacity", capacity),
            ("mode", text(mode)),
        ],
    );
    out.metrics[name]
}

/// The largest value of a metric over workloads and capacities.
fn up_to(tech: &str, mode: &str, name: &str) -> f64 {
    let mut best = f64::MIN;
    for w in WORKLOADS {
        for mb in CAPACITIES_MB {
            let v = metric(w, tech, mb, mode, name);
            println!("{tech} {mode} {w} {mb} MB: {name} {v:.3}");
            best = best.max(v);
        }
    }
    best
}

/// Area is set by the cells (the ratio hardly moves with capacity): 4 MB, ResNet-50.
/// Checked to fail: with the SOT rows of the table replaced by the STT rows the
/// two ratios are equal and the ordering assertion fails.
#[test]
fn iso_capacity_area_reduction_sot_above_stt() {
    let stt = metric("resnet50", "stt", 4.0, "iso_capacity", "area_reduction");
    let sot = metric("resnet50", "sot", 4.0, "iso_capacity", "area_reduction");
    println!("area reduction at 4 MB: STT {stt:.3}x (paper 2.4x), SOT {sot:.3}x (paper 2.8x)");
    assert!(sot > stt, "STT {stt}, SOT {sot}");
    assert!(
        near(stt, 2.4, TOLERANCE) && near(sot, 2.8, TOLERANCE),
        "STT {stt}, SOT {sot}"
    );
}

/// Checked to fail: as above, equal SOT and STT rows give equal capacities.
#[test]
fn iso_area_capacity_gain_sot_above_stt() {
    let stt = metric("resnet50", "stt", 4.0, "iso_area", "capacity_gain");
    let sot = metric("resnet50", "sot", 4.0, "iso_area", "capacity_gain");
    println!("iso-area capacity at 4 MB: STT {stt:.3}x (paper 2.3x), SOT {sot:.3}x (paper 3.3x)");
    assert!(sot > stt, "STT {stt}, SOT {sot}");
    assert!(
        near(stt, 2.3, TOLERANCE) && near(sot, 3.3, TOLERANCE),
        "STT {stt}, SOT {sot}"
    );
}

/// "Up to" depends on the largest capacity priced (16 MB here), so the
/// magnitude is checked loosely (within 50 %); the ordering is the claim.
/// Checked to fail: with the SOT rows replaced by the STT rows the ordering fails.
#[test]
fn iso_capacity_edp_reduction_up_to() {
    let stt = up_to("stt", "iso_capacity", "edp_reduction");
    let sot = up_to("sot", "iso_capacity", "edp_reduction");
    println!(
        "iso-capacity EDP reduction up to: STT {stt:.3}x (paper 3.8x), SOT {sot:.3}x (paper 4.7x)"
    );
    assert!(sot > stt, "STT {stt}, SOT {sot}");
    assert!(
        near(stt, 3.8, 0.5) && near(sot, 4.7, 0.5),
        "STT {stt}, SOT {sot}"
    );
}

/// The paper's iso-area gains (up to 2x STT, 2.3x SOT) are below its
/// iso-capacity ones: the larger MRAM leaks and reads like a larger array, and
/// on these workloads the extra capacity removes few misses (past 4 MB they are
/// compulsory: every weight line once).
/// Checked to fail: with the SOT rows replaced by the STT rows SOT's gain equals STT's.
#[test]
fn iso_area_edp_reduction_below_iso_capacity() {
    let mut gains = Vec::new();
    for (tech, paper) in [("stt", 2.0), ("sot", 2.3)] {
        let area = up_to(tech, "iso_area", "edp_reduction");
        let capacity = up_to(tech, "iso_capacity", "edp_reduction");
        println!("{tech} EDP reduction up to: iso-area {area:.3}x (paper {paper}x), iso-capacity {capacity:.3}x");
        assert!(
            area < capacity,
            "{tech}: iso-area {area}, iso-capacity {capacity}"
        );
        assert!(near(area, paper, TOLERANCE), "{tech}: iso-area {area}");
        gains.push(area);
    }
    assert!(gains[1] > gains[0], "SOT {} vs STT {}", gains[1], gains[0]);
}
