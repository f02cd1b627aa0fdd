//! SCALE-Sim v3 parity without Python: every `.cfg` in bench/sim/scalesim_ref/ is read
//! directly, every layer of its two topologies is counted by `pipe_sim::scalesim`, and
//! the counts are compared with the COMPUTE_REPORT and DETAILED_ACCESS_REPORT files that
//! SCALE-Sim 3.0.0 wrote for them (`python3 bench/sim/scalesim_reference.py` regenerates
//! them): compute cycles and SRAM counts exactly, DRAM reads and writes within 1 %.

use pipe_sim::csv::CsvTable;
use pipe_sim::scalesim::{layer_counts, LayerCounts, ScaleSimConfig};
use pipe_sim::workload::topology;
use std::path::{Path, PathBuf};

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/sim/scalesim_ref")
}

fn configs() -> Vec<PathBuf> {
    let mut cfgs: Vec<PathBuf> = std::fs::read_dir(reference_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cfg"))
        .collect();
    cfgs.sort();
    cfgs
}

/// One column of a SCALE-Sim report, one value per layer.
fn column(table: &CsvTable, name: &str) -> Vec<f64> {
    let [col] = table.columns([name]).unwrap();
    table
        .rows
        .iter()
        .map(|r| table.number(r, col).unwrap())
        .collect()
}

fn reported(stem: &str) -> Vec<LayerCounts> {
    let read = |report: &str| {
        CsvTable::read(&reference_dir().join(format!("{stem}__{report}.csv"))).unwrap()
    };
    let compute = read("COMPUTE_REPORT");
    let access = read("DETAILED_ACCESS_REPORT");
    let cycles = column(&compute, "total cycles");
    let stalls = column(&compute, "stall cycles");
    let cols: Vec<Vec<f64>> = [
        "sram ifmap reads",
        "sram filter reads",
        "sram ofmap writes",
        "dram ifmap reads",
        "dram filter reads",
        "dram ofmap writes",
    ]
    .iter()
    .map(|c| column(&access, c))
    .collect();
    (0..cycles.len())
        .map(|i| LayerCounts {
            compute_cycles: (cycles[i] - stalls[i]) as u64,
            ifmap_sram_reads: cols[0][i] as u64,
            filter_sram_reads: cols[1][i] as u64,
            ofmap_sram_writes: cols[2][i] as u64,
            ifmap_dram_reads: cols[3][i] as u64,
            filter_dram_reads: cols[4][i] as u64,
            ofmap_dram_writes: cols[5][i] as u64,
        })
        .collect()
}

fn relative(ours: u64, theirs: u64) -> f64 {
    (ours as f64 - theirs as f64).abs() / (theirs as f64).max(1.0)
}

#[test]
fn counts_match_committed_scalesim_reports() {
    let mut compared = 0;
    // Worst relative difference of DRAM reads and of DRAM writes.
    let (mut worst_reads, mut worst_writes) = (0.0f64, 0.0f64);
    for cfg_path in configs() {
        let cfg = ScaleSimConfig::read(&cfg_path).unwrap();
        let cfg_stem = cfg_path.file_stem().unwrap().to_string_lossy().to_string();
        for topo in ["conv_layers", "gemm_layers"] {
            let arch = topology(&reference_dir().join(format!("{topo}.csv"))).unwrap();
            let theirs = reported(&format!("{cfg_stem}__{topo}"));
            assert_eq!(arch.layers.len(), theirs.len(), "{cfg_stem} {topo}");
            for (layer, want) in arch.layers.iter().zip(&theirs) {
                let got = layer_counts(&layer.op, &cfg).unwrap().unwrap();
                let at = format!("{cfg_stem} {topo} {}", layer.name);
                assert_eq!(got.compute_cycles, want.compute_cycles, "{at}");
                assert_eq!(got.ifmap_sram_reads, want.ifmap_sram_reads, "{at}");
                assert_eq!(got.filter_sram_reads, want.filter_sram_reads, "{at}");
                assert_eq!(got.ofmap_sram_writes, want.ofmap_sram_writes, "{at}");
                for (what, ours, theirs) in [
                    (
                        "ifmap DRAM reads",
                        got.ifmap_dram_reads,
                        want.ifmap_dram_reads,
                    ),
                    (
                        "filter DRAM reads",
                        got.filter_dram_reads,
                        want.filter_dram_reads,
                    ),
                    (
                        "ofmap DRAM writes",
                        got.ofmap_dram_writes,
                        want.ofmap_dram_writes,
                    ),
                ] {
                    let rel = relative(ours, theirs);
                    if what.ends_with("reads") {
                        worst_reads = worst_reads.max(rel);
                    } else {
                        worst_writes = worst_writes.max(rel);
                    }
                    assert!(
                        rel <= 0.01,
                        "{at}: {what}: pipe-sim {ours}, SCALE-Sim {theirs}"
                    );
                }
                compared += 1;
            }
        }
    }
    // 9 configs (3 dataflows x 3 arrays/buffers) x 7 layers.
    assert_eq!(compared, 63);
    eprintln!(
        "worst difference over {compared} layer runs: DRAM reads {:.3} %, DRAM writes {:.3} %",
        100.0 * worst_reads,
        100.0 * worst_writes
    );
}

#[test]
fn small_buffers_refetch_and_large_ones_fetch_each_element_once() {
    // The same layer under the 64 kB and 2 kB configs: a whole operand fits the large
    // buffer, so DRAM reads equal the unique elements; the small one refetches.
    let arch = topology(&reference_dir().join("conv_layers.csv")).unwrap();
    let pw = &arch.layers[1].op;
    let large = ScaleSimConfig::read(&reference_dir().join("os_8x8_64k.cfg")).unwrap();
    let small = ScaleSimConfig::read(&reference_dir().join("os_16x8_2k.cfg")).unwrap();
    let l = layer_counts(pw, &large).unwrap().unwrap();
    let s = layer_counts(pw, &small).unwrap().unwrap();
    assert_eq!(l.ifmap_dram_reads, 14 * 14 * 32);
    assert_eq!(l.filter_dram_reads, 32 * 64);
    assert!(s.ifmap_dram_reads > 4 * l.ifmap_dram_reads, "{s:?}");
}

const CFG: &str =
    "[general]\nrun_name = t\n[architecture_presets]\nArrayHeight: 8\nArrayWidth: 8\n\
IfmapSramSzkB: 64\nFilterSramSzkB: 64\nOfmapSramSzkB: 64\nDataflow: ws\n\
[run_presets]\nInterfaceBandwidth: CALC\n";

fn cfg_error(text: &str) -> String {
    ScaleSimConfig::parse("my.cfg", text)
        .unwrap_err()
        .to_string()
}

#[test]
fn bad_cfg_files_name_file_line_and_fix() {
    let ok = ScaleSimConfig::parse("my.cfg", CFG).unwrap();
    assert_eq!((ok.rows, ok.cols, ok.filter_kib), (8, 8, 64));
    let err = cfg_error(&CFG.replace("ArrayWidth: 8\n", ""));
    assert!(
        err.starts_with("my.cfg:") && err.contains("`ArrayWidth`"),
        "{err}"
    );
    let err = cfg_error(&CFG.replace("ArrayHeight: 8", "ArrayHeight: 0"));
    assert!(err.contains("line 4") && err.contains(">= 1"), "{err}");
    let err = cfg_error(&CFG.replace("Dataflow: ws", "Dataflow: rs"));
    assert!(
        err.contains("`Dataflow: rs`") && err.contains("os, ws, is"),
        "{err}"
    );
    let err = cfg_error(&CFG.replace("CALC", "USER"));
    assert!(
        err.contains("not supported") && err.contains("`CALC`"),
        "{err}"
    );
    let err = cfg_error(&format!("{CFG}[sparsity]\nSparsitySupport: true\n"));
    assert!(
        err.contains("SparsitySupport: true") && err.contains("`false`"),
        "{err}"
    );
    let err = cfg_error(&format!("{CFG}just words\n"));
    assert!(
        err.contains("line 12") && err.contains("key: value"),
        "{err}"
    );
    let err = ScaleSimConfig::read(Path::new("no/such.cfg"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no/such.cfg") && err.contains("cannot read"),
        "{err}"
    );
}

#[test]
fn a_layer_too_large_to_replay_is_an_error_not_a_long_run() {
    let arch = pipe_sim::workload::topology_from_text(
        "big.csv",
        "Layer, M, N, K,\nbig, 4096, 4096, 4096,\n",
    )
    .unwrap();
    let cfg = ScaleSimConfig::parse("my.cfg", CFG).unwrap();
    let err = layer_counts(&arch.layers[0].op, &cfg)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("SRAM requests") && err.contains("larger array"),
        "{err}"
    );
}
