//! Cross-check against the real SCALE-Sim v3 (PyPI `scalesim`): the same layers,
//! arrays and dataflows run through `bench/sim/scalesim_cycles.py` and through
//! pipe-sim, compute cycles within 1%. CI installs scalesim (.ci/requirements.txt);
//! where it cannot be imported the test says so and stops, unless
//! `PIPE_REQUIRE_SCALESIM=1` makes that a failure.

use pipe_sim::accelerator::{simulate, Design};
use pipe_sim::dataflow::Dataflow;
use pipe_sim::ppa::{MemoryModel, PpaTable};
use pipe_sim::workload::topology_from_text;
use std::io::Write;
use std::process::{Command, Stdio};

const CONV_HEADER: &str =
    "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n";

/// (topology row, is GEMM form, rows, cols)
const LAYERS: &[(&str, bool, u64, u64)] = &[
    ("c1, 16, 16, 3, 3, 4, 10, 1", false, 8, 8),
    ("pw, 14, 14, 1, 1, 32, 64, 1", false, 8, 16),
    ("s2, 15, 15, 3, 3, 8, 16, 2", false, 16, 8),
    ("DP1, 12, 12, 3, 3, 8, 1, 1", false, 4, 4),
    ("fc, 64, 32, 48", true, 8, 16),
];

fn script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/sim/scalesim_cycles.py")
}

fn request() -> String {
    let mut points = Vec::new();
    for &(row, gemm, rows, cols) in LAYERS {
        for df in Dataflow::NAMES {
            let cells: Vec<serde_json::Value> = row
                .split(',')
                .enumerate()
                .map(|(i, c)| match (i, c.trim().parse::<u64>()) {
                    (0, _) | (_, Err(_)) => serde_json::json!(c.trim()),
                    (_, Ok(n)) => serde_json::json!(n),
                })
                .collect();
            let key = if gemm { "gemm" } else { "layer" };
            points
                .push(serde_json::json!({key: cells, "dataflow": df, "rows": rows, "cols": cols}));
        }
    }
    serde_json::json!({ "points": points }).to_string()
}

/// Runs the script; `None` when scalesim is not installed (exit code 3).
fn scalesim_cycles() -> Option<Vec<u64>> {
    let python = std::env::var("PIPE_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = Command::new(&python)
        .arg(script())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {python}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.code() == Some(3) {
        return None;
    }
    assert!(
        out.status.success(),
        "scalesim_cycles.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let points = v["points"].as_array().unwrap();
    Some(
        points
            .iter()
            .map(|p| p["cycles"].as_u64().unwrap())
            .collect(),
    )
}

#[test]
fn compute_cycles_agree_with_live_scalesim_within_one_percent() {
    let Some(reference) = scalesim_cycles() else {
        let required = std::env::var("PIPE_REQUIRE_SCALESIM").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "scalesim is required (PIPE_REQUIRE_SCALESIM=1) but not importable"
        );
        eprintln!("SKIPPED: scalesim is not importable here; `pip install scalesim==3.0.0` to run this cross-check");
        return;
    };
    let ppa = PpaTable::default_table().unwrap();
    let mem = MemoryModel::default_model().unwrap();
    let mut i = 0;
    for &(row, gemm, rows, cols) in LAYERS {
        let text = if gemm {
            format!("Layer, M, N, K,\n{row},\n")
        } else {
            format!("{CONV_HEADER}{row},\n")
        };
        let arch = topology_from_text("crosscheck.csv", &text).unwrap();
        for df in Dataflow::NAMES {
            let design = Design {
                pe: "int16".into(),
                bits: 16,
                rows,
                cols,
                spad_bytes: 64.0,
                glb_bytes: 1e6,
                freq_hz: 1e9,
                dataflow: Dataflow::parse(df).unwrap(),
                bandwidth: 1e12,
            };
            let ours = simulate(&arch, &design, &ppa, &mem)
                .unwrap()
                .totals
                .compute_cycles;
            let theirs = reference[i];
            let rel = (ours as f64 - theirs as f64).abs() / theirs as f64;
            assert!(
                rel <= 0.01,
                "{row} {df} {rows}x{cols}: pipe-sim {ours}, SCALE-Sim {theirs}"
            );
            i += 1;
        }
    }
}
