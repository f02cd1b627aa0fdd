//! The NVM cache model with the shipped default table: the DeepNVM++ qualitative
//! claims hold, and bad tables give errors naming file, row and problem.

use pipe_sim::nvm::{compare, CacheTable, Mode, System, Traffic};
use pipe_sim::workload::builtin;

fn system() -> System {
    System {
        flops_per_s: 10e12,
        banks: 16.0,
        dram_pj_per_line: 6400.0,
        dram_ns: 100.0,
    }
}

fn traffic() -> Traffic {
    Traffic::of_arch(&builtin("resnet50").unwrap(), 64.0, 8.0)
}

#[test]
fn mram_leaks_far_less_and_is_smaller_than_sram_at_iso_capacity() {
    let table = CacheTable::default_table().unwrap();
    for tech in ["stt", "sot"] {
        let c = compare(
            &table,
            tech,
            22.0,
            4.0,
            Mode::IsoCapacity,
            &traffic(),
            &system(),
        )
        .unwrap();
        assert!(
            c.leak_reduction() > 10.0,
            "{tech} leakage only {}x below SRAM",
            c.leak_reduction()
        );
        assert!(
            c.area_reduction() > 1.5,
            "{tech} area reduction {}",
            c.area_reduction()
        );
        assert!(
            c.edp_reduction() > 1.0,
            "{tech} EDP reduction {}",
            c.edp_reduction()
        );
    }
}

#[test]
fn iso_area_gives_more_capacity_than_sram() {
    let table = CacheTable::default_table().unwrap();
    for tech in ["stt", "sot"] {
        let c = compare(
            &table,
            tech,
            22.0,
            4.0,
            Mode::IsoArea,
            &traffic(),
            &system(),
        )
        .unwrap();
        assert!(
            c.capacity_gain() > 1.5,
            "{tech} capacity gain {}",
            c.capacity_gain()
        );
        assert!(c.result.cache.area_mm2 <= c.sram.cache.area_mm2 * (1.0 + 1e-9));
        assert!(
            c.edp_reduction() > 1.0,
            "{tech} iso-area EDP reduction {}",
            c.edp_reduction()
        );
    }
}

#[test]
fn nvm_edp_gains_grow_with_capacity() {
    let table = CacheTable::default_table().unwrap();
    for tech in ["stt", "sot"] {
        let gains: Vec<f64> = [1.0, 4.0, 16.0, 64.0]
            .iter()
            .map(|&mb| {
                compare(
                    &table,
                    tech,
                    22.0,
                    mb,
                    Mode::IsoCapacity,
                    &traffic(),
                    &system(),
                )
                .unwrap()
                .edp_reduction()
            })
            .collect();
        assert!(
            gains.windows(2).all(|w| w[1] > w[0]),
            "{tech} EDP gains {gains:?}"
        );
    }
}

#[test]
fn given_counts_replace_the_workload() {
    let table = CacheTable::default_table().unwrap();
    let few = Traffic::given(1e6, 1e5, 1e6, 1e9);
    let many = Traffic::given(1e8, 1e7, 1e6, 1e9);
    let a = compare(&table, "stt", 22.0, 4.0, Mode::IsoCapacity, &few, &system()).unwrap();
    let b = compare(
        &table,
        "stt",
        22.0,
        4.0,
        Mode::IsoCapacity,
        &many,
        &system(),
    )
    .unwrap();
    assert_eq!(a.result.reads, 1e6);
    assert!(b.result.dynamic_uj > 50.0 * a.result.dynamic_uj);
}

const HEADER: &str =
    "tech,node_nm,capacity_mb,read_ns,write_ns,read_pj,write_pj,leak_mw,area_mm2\n";

#[test]
fn user_table_overrides_and_bad_tables_are_explained() {
    let text = format!("{HEADER}sram,16,1,1,1,50,50,300,1.0\nsram,16,2,1,1,60,60,600,2.0\nstt,16,1,2,6,60,120,10,0.5\nstt,16,2,2,6,70,130,20,1.0\n");
    let table = CacheTable::parse("nvsim.csv", &text).unwrap();
    let c = compare(
        &table,
        "stt",
        16.0,
        1.5,
        Mode::IsoCapacity,
        &traffic(),
        &system(),
    )
    .unwrap();
    assert!((c.result.cache.area_mm2 - 0.75).abs() < 1e-9);
    let err = compare(
        &table,
        "sot",
        16.0,
        1.0,
        Mode::IsoCapacity,
        &traffic(),
        &system(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("nvsim.csv") && err.contains("no rows for `sot` at 16 nm"),
        "{err}"
    );
    let err = CacheTable::parse("n.csv", "tech,capacity_mb\nsram,1\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("missing column") && err.contains("`leak_mw`"),
        "{err}"
    );
    let err = CacheTable::parse("n.csv", &format!("{HEADER}sram,22,1,1,1,-5,50,300,1\n"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 2") && err.contains("`read_pj` is negative"),
        "{err}"
    );
    let err = CacheTable::parse("n.csv", &format!("{HEADER}reram,22,1,1,1,5,50,300,1\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown technology `reram`"), "{err}");
}
