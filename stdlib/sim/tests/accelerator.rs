//! The accelerator model: SCALE-Sim-exact compute cycles, the QUIDAM claims with
//! the shipped default tables, and clear errors for bad designs and tables.

use pipe_sim::accelerator::{simulate, Design, Report};
use pipe_sim::dataflow::Dataflow;
use pipe_sim::ppa::{MemoryModel, PpaTable};
use pipe_sim::workload::{builtin, topology_from_text};

fn design(pe: &str, bits: u32, rows: u64, dataflow: Dataflow) -> Design {
    Design {
        pe: pe.into(),
        bits,
        rows,
        cols: rows,
        spad_bytes: 64.0,
        glb_bytes: 128.0 * 1024.0,
        freq_hz: 1e9,
        dataflow,
        bandwidth: 16e9,
    }
}

fn run(arch: &pipe_sim::arch::Arch, d: &Design) -> Report {
    let ppa = PpaTable::default_table().unwrap();
    let mem = MemoryModel::default_model().unwrap();
    simulate(arch, d, &ppa, &mem).unwrap()
}

/// Cycles SCALE-Sim 3.0.0 reported (stall-free `total_cycles`, huge SRAMs) for a
/// 16×16 input, 3×3 filter, 4 channels, 10 filters, stride 1; produced by
/// `bench/sim/scalesim_crosscheck.py`, which CI reruns against the live package.
#[test]
fn compute_cycles_match_scalesim_reference_runs() {
    let topo = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n\
                c1, 16, 16, 3, 3, 4, 10, 1,\n";
    let arch = topology_from_text("t.csv", topo).unwrap();
    let cases = [
        (Dataflow::Os, 8, 8, 2499),
        (Dataflow::Os, 4, 16, 2645),
        (Dataflow::Ws, 8, 8, 2179),
        (Dataflow::Ws, 4, 16, 1961),
        (Dataflow::Is, 8, 8, 3999),
        (Dataflow::Is, 4, 16, 3743),
    ];
    for (df, rows, cols, scalesim) in cases {
        let mut d = design("int16", 16, rows, df);
        d.cols = cols;
        let r = run(&arch, &d);
        assert_eq!(r.totals.compute_cycles, scalesim, "{df:?} {rows}x{cols}");
    }
}

/// MAC energy and PE area follow the PE type and width; the QUIDAM claims over the
/// whole design space are in claims/tests/quidam.rs.
#[test]
fn narrower_and_shift_pes_spend_less_mac_energy_and_area() {
    let arch = builtin("resnet50").unwrap();
    let at = |pe: &str, bits: u32| run(&arch, &design(pe, bits, 16, Dataflow::Ws)).totals;
    let int16 = at("int16", 16);
    let int8 = at("int8", 8);
    let int4 = at("int4", 4);
    assert!(int4.mac_energy_uj < int8.mac_energy_uj && int8.mac_energy_uj < int16.mac_energy_uj);
    assert!(int4.area_mm2 < int8.area_mm2 && int8.area_mm2 < int16.area_mm2);
    // At equal (16-bit) activations a LightPE replaces the multiplier by shifters.
    for pe in ["lightpe1", "lightpe2"] {
        let light = at(pe, 16);
        assert!(light.mac_energy_uj < int16.mac_energy_uj, "{pe}");
        assert!(light.area_mm2 < int16.area_mm2, "{pe}");
        assert_eq!(light.compute_cycles, int16.compute_cycles, "{pe}");
    }
}

#[test]
fn a_glb_too_small_for_the_dram_cycle_counter_is_an_error() {
    let topo = "Layer, M, N, K,\nbig, 65536, 131072, 131072,\n";
    let arch = topology_from_text("t.csv", topo).unwrap();
    let mut d = design("int8", 8, 16, Dataflow::Ws);
    d.glb_bytes = 1.0;
    d.bandwidth = 1e-3;
    let ppa = PpaTable::default_table().unwrap();
    let mem = MemoryModel::default_model().unwrap();
    let err = simulate(&arch, &d, &ppa, &mem).unwrap_err().to_string();
    assert!(
        err.contains("layer `big`") && err.contains("DRAM cycles") && err.contains("enlarge"),
        "{err}"
    );
}

#[test]
fn totals_are_consistent_with_layers() {
    let arch = builtin("vit_b16").unwrap();
    let r = run(&arch, &design("int8", 8, 16, Dataflow::Os));
    let t = &r.totals;
    assert_eq!(t.macs, arch.macs());
    assert_eq!(
        t.compute_cycles,
        r.layers.iter().map(|l| l.compute_cycles).sum::<u64>()
    );
    assert!(t.total_cycles >= t.compute_cycles);
    assert!(
        t.utilization > 0.0 && t.utilization <= 1.0,
        "{}",
        t.utilization
    );
    let energy: f64 = r.layers.iter().map(|l| l.energy_pj).sum::<f64>() * 1e-6;
    assert!((energy - t.energy_uj).abs() < 1e-6 * t.energy_uj);
    assert!((t.edp - t.energy_uj * t.latency_ms).abs() < 1e-9 * t.edp);
}

#[test]
fn less_bandwidth_never_speeds_up_and_can_slow_down() {
    let arch = builtin("mobilenet_v2").unwrap();
    let fast = run(&arch, &design("int8", 8, 32, Dataflow::Ws)).totals;
    let mut d = design("int8", 8, 32, Dataflow::Ws);
    d.bandwidth = 0.5e9;
    let slow = run(&arch, &d).totals;
    assert_eq!(fast.compute_cycles, slow.compute_cycles);
    assert!(slow.total_cycles > fast.total_cycles);
}

#[test]
fn bad_designs_are_rejected_with_reasons() {
    let arch = builtin("mobilenet_v2").unwrap();
    let ppa = PpaTable::default_table().unwrap();
    let mem = MemoryModel::default_model().unwrap();
    let mut d = design("int8", 8, 16, Dataflow::Os);
    d.spad_bytes = 2.0;
    let err = simulate(&arch, &d, &ppa, &mem).unwrap_err().to_string();
    assert!(err.contains("spad") && err.contains("3 B"), "{err}");
    let d = design("int8", 4, 16, Dataflow::Os);
    let err = simulate(&arch, &d, &ppa, &mem).unwrap_err().to_string();
    assert!(
        err.contains("no row for pe `int8` at 4 bits") && err.contains("int4@4"),
        "{err}"
    );
    let mut d = design("int8", 8, 0, Dataflow::Os);
    d.cols = 4;
    assert!(simulate(&arch, &d, &ppa, &mem)
        .unwrap_err()
        .to_string()
        .contains("at least 1×1"));
}

const HEADER: &str = "pe,bits,weight_bits,mac_energy_pj,mac_area_um2,leak_uw,max_freq_mhz\n";

#[test]
fn bad_ppa_tables_name_file_row_and_problem() {
    let err = PpaTable::parse("my.csv", "pe,bits,mac_energy_pj\nint8,8,0.3\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("my.csv:")
            && err.contains("`weight_bits`")
            && err.contains("`max_freq_mhz`"),
        "{err}"
    );
    let err = PpaTable::parse("my.csv", &format!("{HEADER}int8,8,8,-0.3,1000,1,1000\n"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 2") && err.contains("`mac_energy_pj` is negative"),
        "{err}"
    );
    let err = PpaTable::parse("my.csv", &format!("{HEADER}int3,3,3,0.1,100,1,1000\n"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unknown PE type `int3`") && err.contains("lightpe2"),
        "{err}"
    );
    let err = PpaTable::parse("my.csv", &format!("{HEADER}int8,8,8,abc,1000,1,1000\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("`abc`, not a number"), "{err}");
    let twice = format!("{HEADER}int8,8,8,0.3,1000,1,1000\nint8,8,8,0.3,1000,1,1000\n");
    assert!(PpaTable::parse("my.csv", &twice)
        .unwrap_err()
        .to_string()
        .contains("line 3: duplicate"));
}

#[test]
fn user_ppa_table_changes_the_result() {
    let arch = builtin("mobilenet_v2").unwrap();
    let mem = MemoryModel::default_model().unwrap();
    let d = design("int8", 8, 16, Dataflow::Os);
    let cheap =
        PpaTable::parse("cheap.csv", &format!("{HEADER}int8,8,8,0.01,1000,1,1000\n")).unwrap();
    let costly =
        PpaTable::parse("costly.csv", &format!("{HEADER}int8,8,8,1.0,1000,1,1000\n")).unwrap();
    let a = simulate(&arch, &d, &cheap, &mem).unwrap().totals;
    let b = simulate(&arch, &d, &costly, &mem).unwrap().totals;
    assert!(b.mac_energy_uj > 50.0 * a.mac_energy_uj);
    assert_eq!(a.total_cycles, b.total_cycles);
}

#[test]
fn bad_memory_tables_are_rejected() {
    let h = "kind,capacity_kib,access_pj_16b,area_um2_per_kib,leak_uw_per_kib\n";
    let err = MemoryModel::parse("m.csv", &format!("{h}sram,1,1,100,1\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no `dram` row"), "{err}");
    let err = MemoryModel::parse("m.csv", &format!("{h}sram,1,-1,100,1\ndram,0,200,0,0\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2") && err.contains("negative"), "{err}");
    let err = MemoryModel::parse("m.csv", &format!("{h}flash,1,1,100,1\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown kind `flash`"), "{err}");
}
