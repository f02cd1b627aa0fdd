//! The NVM cache model with the shipped NVSim table: the DeepNVM++ orderings
//! that follow from it, the L2 traffic of a hand-computable workload through the
//! LRU replay, and bad tables giving errors naming file, row and problem.

use pipe_sim::arch::{Arch, Layer, Op};
use pipe_sim::l2_stream::L2Stream;
use pipe_sim::nvm::{compare, CacheTable, Mode, System, Traffic};
use pipe_sim::workload::builtin;

const LINE: f64 = 64.0;
const TILE: f64 = 48.0 * 1024.0;

fn system() -> System {
    System {
        flops_per_s: 10e12,
        banks: 16.0,
        dram_pj_per_line: 6400.0,
        dram_ns: 100.0,
        ways: 16,
    }
}

fn traffic() -> Traffic {
    Traffic::of_arch(&builtin("resnet50").unwrap(), LINE, 1.0, TILE)
}

#[test]
fn mram_leaks_far_less_and_is_smaller_than_sram_at_iso_capacity() {
    let table = CacheTable::default_table().unwrap();
    let traffic = traffic();
    for tech in ["stt", "sot"] {
        let c = compare(
            &table,
            tech,
            22.0,
            4.0,
            Mode::IsoCapacity,
            &traffic,
            &system(),
        )
        .unwrap();
        assert!(
            c.leak_reduction() > 3.0,
            "{tech} leakage only {}x below SRAM",
            c.leak_reduction()
        );
        assert!(
            c.area_reduction() > 1.5,
            "{tech} area reduction {}",
            c.area_reduction()
        );
    }
}

#[test]
fn iso_area_gives_more_capacity_than_sram() {
    let table = CacheTable::default_table().unwrap();
    let traffic = traffic();
    for tech in ["stt", "sot"] {
        let c = compare(&table, tech, 22.0, 4.0, Mode::IsoArea, &traffic, &system()).unwrap();
        assert!(
            c.capacity_gain() > 1.5,
            "{tech} capacity gain {}",
            c.capacity_gain()
        );
        assert!(c.result.cache.area_mm2 <= c.sram.cache.area_mm2 * (1.0 + 1e-9));
    }
}

/// Past the size that holds each layer's reused input, only compulsory misses
/// (every weight line once) remain: misses fall, then stay flat.
#[test]
fn a_larger_cache_misses_no_more_on_the_same_stream() {
    let traffic = traffic();
    let misses: Vec<f64> = [1.0, 4.0, 16.0, 64.0]
        .iter()
        .map(|&mb| traffic.on(mb, 16).misses)
        .collect();
    assert!(
        misses.windows(2).all(|w| w[1] <= w[0]) && misses[3] < 0.8 * misses[0],
        "misses by capacity {misses:?}"
    );
}

fn layer(op: Op) -> Layer {
    Layer {
        name: "l".into(),
        op,
        weight_bits: 8,
        act_bits: 8,
        pow2_shifts: None,
    }
}

/// One 8-bit linear layer: 1024 inputs, 4 outputs per token, 1 token; 4096 weight
/// bytes = 64 lines; with 1024-byte tiles, 4 tiles, each reading the 16-line input.
/// Reads: 64 + 4·16 = 128 lines; writes: 4 bytes = 1 line. A cache holding
/// everything misses the 64 weight lines and the input's 16 once: 80 misses.
/// A direct-mapped cache of 16 lines: each tile's 16 weight lines and the
/// 16 input lines map onto the same 16 sets and evict each other: all 128 miss.
fn one_linear_layer() -> L2Stream {
    let arch = Arch {
        name: "one".into(),
        input: vec![1024],
        layers: vec![layer(Op::Linear {
            in_features: 1024,
            out_features: 4,
            tokens: 1,
        })],
    };
    L2Stream::of_arch(&arch, LINE, 1.0, 1024.0)
}

#[test]
fn the_stream_of_a_hand_computable_layer() {
    let stream = one_linear_layer();
    assert_eq!((stream.reads(), stream.writes()), (128.0, 1.0));
    let big = stream.replay(64.0 * 1024.0, 4);
    assert_eq!((big.reads, big.read_misses, big.writes), (128.0, 80.0, 1.0));
    let tiny = stream.replay(16.0 * LINE, 1);
    assert_eq!(tiny.read_misses, 128.0);
}

#[test]
fn given_counts_replace_the_streams_but_keep_its_miss_rate() {
    let traffic = traffic();
    let own = traffic.on(4.0, 16);
    let given = traffic.clone().with_counts(1e6, 1e5).on(4.0, 16);
    assert_eq!((given.reads, given.writes), (1e6, 1e5));
    let rate = |m: f64, r: f64| m / r;
    assert!((rate(given.misses, given.reads) - rate(own.misses, own.reads)).abs() < 1e-12);
}

const HEADER: &str =
    "tech,node_nm,capacity_mb,read_ns,write_ns,read_pj,write_pj,leak_mw,area_mm2\n";

#[test]
fn user_table_overrides_and_bad_tables_are_explained() {
    let text = format!("{HEADER}sram,16,1,1,1,50,50,300,1.0\nsram,16,2,1,1,60,60,600,2.0\nstt,16,1,2,6,60,120,10,0.5\nstt,16,2,2,6,70,130,20,1.0\n");
    let table = CacheTable::parse("nvsim.csv", &text).unwrap();
    let traffic = traffic();
    let c = compare(
        &table,
        "stt",
        16.0,
        1.5,
        Mode::IsoCapacity,
        &traffic,
        &system(),
    )
    .unwrap();
    // Area doubles with capacity between the rows: the power law is linear here.
    assert!((c.result.cache.area_mm2 - 0.75).abs() < 1e-9);
    // Read energy 60 -> 70 pJ: at 1.5 MB the power law gives 60 * (7/6)^log2(1.5).
    let want = 60.0 * (70.0f64 / 60.0).powf(1.5f64.log2());
    assert!((c.result.cache.read_pj - want).abs() < 1e-9);
    let err = compare(
        &table,
        "sot",
        16.0,
        1.0,
        Mode::IsoCapacity,
        &traffic,
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
