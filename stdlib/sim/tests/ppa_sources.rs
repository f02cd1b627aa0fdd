//! The shipped default tables are what their headers say they are: every PE row is
//! recomputed from Horowitz's ISSCC 2014 45 nm anchors with the documented derivation,
//! and every memory point from Horowitz and Eyeriss, so an edited number without a new
//! derivation fails here.

use pipe_sim::ppa::{MemoryModel, PpaTable};

/// The power law through two (width, value) anchors, evaluated at `bits`.
fn power_law(a: (f64, f64), b: (f64, f64), bits: f64) -> f64 {
    let p = (b.1 / a.1).ln() / (b.0 / a.0).ln();
    a.1 * (bits / a.0).powf(p)
}

// Horowitz, ISSCC 2014, Fig. 1.1.9: (bits, pJ) and (bits, um2).
fn mult_pj(b: f64) -> f64 {
    power_law((8.0, 0.2), (32.0, 3.1), b)
}
fn add_pj(b: f64) -> f64 {
    power_law((8.0, 0.03), (32.0, 0.1), b)
}
fn mult_um2(b: f64) -> f64 {
    power_law((8.0, 282.0), (32.0, 3495.0), b)
}
fn add_um2(b: f64) -> f64 {
    power_law((8.0, 36.0), (32.0, 137.0), b)
}

fn accumulator(act: f64, weight: f64) -> f64 {
    (act + weight + 8.0).min(32.0)
}

/// (energy pJ, area um2) of one PE type at activation width `b`.
fn derived(pe: &str, b: f64) -> (f64, f64) {
    let part = |mult: fn(f64) -> f64, add: fn(f64) -> f64| match pe {
        "int16" | "int8" | "int4" => mult(b) + add(accumulator(b, b)),
        "lightpe1" => 1.5 * add(b + 7.0) + add(accumulator(b, 8.0)),
        "lightpe2" => 2.0 * 1.5 * add(b + 7.0) + add(b + 8.0) + add(accumulator(b, 8.0)),
        other => panic!("no derivation for {other}"),
    };
    (part(mult_pj, add_pj), part(mult_um2, add_um2))
}

#[test]
fn every_pe_row_follows_the_horowitz_derivation() {
    let table = PpaTable::default_table().unwrap();
    assert_eq!(table.rows.len(), 7);
    for row in &table.rows {
        let (pj, um2) = derived(&row.pe, f64::from(row.bits));
        let at = format!("{}@{}", row.pe, row.bits);
        assert!(
            (row.mac_energy_pj - pj).abs() < 1e-4,
            "{at}: {} vs {pj}",
            row.mac_energy_pj
        );
        assert!(
            (row.mac_area_um2 - um2).abs() < 0.1,
            "{at}: {} vs {um2}",
            row.mac_area_um2
        );
        // Project default: 2 nW per um2 of datapath; one 1 GHz clock.
        assert!((row.leak_uw - 2e-3 * um2).abs() < 0.01, "{at} leakage");
        assert_eq!(row.max_freq_hz, 1e9, "{at} clock");
    }
}

#[test]
fn the_derivation_reproduces_the_horowitz_anchors() {
    assert!((mult_pj(8.0) - 0.2).abs() < 1e-12 && (mult_pj(32.0) - 3.1).abs() < 1e-12);
    assert!((add_um2(32.0) - 137.0).abs() < 1e-9 && (mult_um2(8.0) - 282.0).abs() < 1e-9);
}

#[test]
fn memory_points_are_horowitz_and_eyeriss() {
    let mem = MemoryModel::default_model().unwrap();
    let int16 = derived("int16", 16.0).0;
    let kib = 1024.0;
    // Eyeriss: a 0.5 KB register file access costs one MAC.
    assert!((mem.sram_access_pj_16b(0.5 * kib) - int16).abs() < 1e-4);
    // Horowitz: 64-bit cache reads of 10, 20, 100 pJ at 8 KB, 32 KB, 1 MB; a quarter per 16 bits.
    for (size, pj64) in [(8.0, 10.0), (32.0, 20.0), (1024.0, 100.0)] {
        assert!(
            (mem.sram_access_pj_16b(size * kib) - pj64 / 4.0).abs() < 1e-9,
            "{size} KiB"
        );
    }
    // Horowitz: DRAM 1.3-2.6 nJ per 64 bits; the midpoint, a quarter per 16 bits.
    assert!((mem.dram_pj_16b - (1300.0 + 2600.0) / 2.0 / 4.0).abs() < 1e-9);
    // Mistry et al. (IEDM 2007): 0.346 um2 6T cell at 70 % array efficiency.
    let density = 0.346 * 8192.0 / 0.7;
    assert!((mem.sram_area_um2(64.0 * kib) / 64.0 - density).abs() < 1.0);
}
