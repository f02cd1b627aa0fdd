//! `sim.*`: signatures of every hardware simulator stage, one function each.
//! Simulators are deterministic (no seed) and price a model's architecture
//! descriptor; every shipped constant is the project's documented default and
//! can be replaced from a CSV file.

use super::common::*;
use crate::stage::StageDef;
use pipe_lang::catalog::ParamSig;
use pipe_lang::types::Type;
use pipe_lang::units::Dim;

pub fn defs() -> Vec<StageDef> {
    vec![
        workload(),
        topology(),
        accelerator(),
        nvm_cache(),
        thermal(),
    ]
}

const KIB: f64 = 1024.0;
const MIB: f64 = 1024.0 * 1024.0;
const GHZ: f64 = 1e9;

/// `{metrics, layers}`: totals plus one row per layer.
fn per_layer() -> Type {
    record(&[("metrics", Type::Metrics), ("layers", Type::Table)])
}

fn workload() -> StageDef {
    def(
        sig(
            "sim",
            "workload",
            "A built-in reference workload with its real layer shapes, or the layers of a \
             SCALE-Sim topology CSV (`topology:`), as an (untrained) `Model` the simulators \
             can price.",
            vec![
                choice(
                    "name",
                    "mobilenet_v2",
                    pipe_sim::workload::BUILTIN,
                    "ResNet-50, MobileNetV2 1.0 (or its 0.75 / 0.5 / 0.35 widths) or ViT-B/16, all at 224×224.",
                ),
                override_path(
                    "topology",
                    "A SCALE-Sim topology CSV (conv or GEMM form) used instead of `name`; empty: the built-in `name`.",
                ),
            ],
            Type::Model,
        ),
        Some(crate::run::sim::workload),
    )
}

fn topology() -> StageDef {
    def(
        sig(
            "sim",
            "topology",
            "A workload from a SCALE-Sim topology CSV (conv rows: name, ifmap H/W, filter \
             H/W, channels, filters, stride; or GEMM rows: name, M, N, K), as a `Model` the \
             simulators can price.",
            vec![path("file", "SCALE-Sim topology CSV file.")],
            Type::Model,
        ),
        Some(crate::run::sim::topology),
    )
}

fn accelerator() -> StageDef {
    let mut s = sig(
            "sim",
            "accelerator",
            "QUIDAM-style accelerator: a rows×cols PE array with per-PE scratchpads and a \
             global buffer. Maps each layer (conv, depthwise, linear, attention matmuls) onto \
             the array: folds, compute cycles (equal to SCALE-Sim v3's stall-free cycles), \
             utilization, scratchpad / global buffer / DRAM accesses, energy, latency with the \
             DRAM bandwidth limit. Metrics: `compute_cycles`, `total_cycles`, `utilization`, \
             `latency_ms`, `energy_uj`, `area_mm2`, `perf_per_area`, `edp`. PPA per PE type \
             and width comes from the shipped table (derived from Horowitz's ISSCC 2014 45 nm \
             operation energies and areas, not QUIDAM's unpublished table) unless `ppa` names a CSV.",
            vec![
                model("model", "The workload: any model, quantized or not, or `sim.workload(...)`."),
                choice(
                    "pe",
                    "int8",
                    &["int16", "int8", "int4", "lightpe1", "lightpe2"],
                    "PE type: integer MAC of 16/8/4 bits, or LightPE with one shift / two shift-adds for power-of-two weights.",
                ),
                int(
                    "bits",
                    0,
                    0,
                    16,
                    "Activation bit width the PE is priced at (with `pe`, selects the PPA row); \
                     0: the PE type's own width (int16 16, int8 8, int4 4, LightPEs 8).",
                ),
                int("rows", 16, 1, 4096, "PE array rows."),
                int("cols", 16, 1, 4096, "PE array columns."),
                quantity("spad", Dim::Bytes, 512.0, 1.0, 16.0 * MIB, "Scratchpad per PE.")
                    .default_note("project default, not from the paper"),
                quantity("glb", Dim::Bytes, 128.0 * KIB, 1.0, 1024.0 * MIB, "Global buffer size.")
                    .default_note("project default, not from the paper"),
                quantity("freq", Dim::Freq, 1.0 * GHZ, 1e6, 10.0 * GHZ, "Clock frequency.")
                    .default_note("project default, not from the paper"),
                choice(
                    "dataflow",
                    "ws",
                    &["os", "ws", "is"],
                    "Output-, weight- or input-stationary mapping (SCALE-Sim's dataflows).",
                ),
                float("bandwidth", 16.0, 1e-3, 1e6, "DRAM bandwidth in GB/s.")
                    .default_note("project default, not from the paper: about one LPDDR4 channel"),
                override_path("ppa", "CSV of per-PE-type area, power and energy replacing the shipped table; empty: the shipped table.")
                    .default_note("the shipped table is derived from Horowitz ISSCC 2014 (45 nm) with the project's documented choices for shifters, accumulators, leakage and clock (stdlib/sim/data/ppa_default.csv); not QUIDAM's unpublished one"),
                override_path("config", "A SCALE-Sim `.cfg` file (CALC bandwidth mode, no sparsity, no custom layout): its ArrayHeight, ArrayWidth and Dataflow replace `rows`, `cols` and `dataflow`, and its three SRAMs together replace `glb`; empty: those parameters."),
                override_path("memory", "CSV of SRAM/DRAM access energy, area and leakage (columns kind, capacity_kib, access_pj_16b, area_um2_per_kib, leak_uw_per_kib) replacing the shipped model; empty: the shipped model.")
                    .default_note("the shipped model: Horowitz ISSCC 2014 SRAM and DRAM access energies, Eyeriss's register-file cost, a 45 nm 6T cell area; project choices for width scaling, leakage and register-file area (stdlib/sim/data/memory_default.csv)"),
            ],
            per_layer(),
    );
    // Version 1 priced with the project's own (unsourced) tables; its cached results differ.
    s.version = 2;
    def(s, Some(crate::run::sim::accelerator))
}

fn nvm_cache() -> StageDef {
    def(
        sig(
            "sim",
            "nvm_cache",
            "DeepNVM++-style last-level cache study: SRAM, STT-MRAM or SOT-MRAM at a \
             capacity and node; the workload's L2 accesses (its tiled layers' address stream \
             replayed through a set-associative LRU cache, or given counts) priced with \
             per-technology latency, energy, leakage and area from NVSim. \
             Metrics: energy, delay, EDP and area, and their ratios to SRAM under `mode`. \
             The shipped table is NVSim's output for NVSim's SRAM and STT-MRAM sample cells \
             and the project's own SOT-MRAM cell (bench/nvsim/), replaceable by your NVSim CSV.",
            vec![
                choice("tech", "stt", &["sram", "stt", "sot"], "Cache technology: SRAM, STT-MRAM or SOT-MRAM."),
                quantity("capacity", Dim::Bytes, 4.0 * MIB, KIB, 1024.0 * MIB, "Cache capacity (iso-capacity), or the SRAM capacity whose area is matched (iso-area).")
                    .default_note("project default, not from the paper"),
                quantity("node", Dim::Length, 22e-9, 5e-9, 180e-9, "Technology node.")
                    .default_note("NVSim's sample cache configuration (22 nm, NVSim's smallest node); DeepNVM++ used 16 nm"),
                model("workload", "The model whose layers give the L2 traffic (or `sim.workload(...)`)."),
                choice(
                    "mode",
                    "iso_capacity",
                    &["iso_capacity", "iso_area"],
                    "Compare against SRAM of the same capacity, or give the NVM the largest capacity fitting SRAM's area.",
                ),
                int("reads", 0, 0, i64::MAX, "L2 reads per inference (lines); 0 takes them from the workload's address stream, which still gives the miss rate."),
                int("writes", 0, 0, i64::MAX, "L2 writes per inference (lines); 0 takes them from the workload's address stream, which still gives the write-back rate."),
                override_path("table", "CSV of per-technology read/write latency and energy, leakage and area per capacity (columns tech, node_nm, capacity_mb, read_ns, write_ns, read_pj, write_pj, leak_mw, area_mm2, as NVSim's cache summary reports them); empty: the shipped table.")
                    .default_note("the shipped 22 nm table is NVSim's output (bench/nvsim/run_nvsim.sh): NVSim's SRAM and STT-MRAM sample cells, the project's own SOT-MRAM cell; DeepNVM++'s cells were not published"),
                int("batch", 1, 1, 1_000_000, "Inputs per inference batch: activations scale with it, weights are read once per batch."),
                quantity("line", Dim::Bytes, 64.0, 1.0, 4096.0, "Cache line size; reads and writes are counted in lines.")
                    .default_note("NVSim's sample cache configuration (512-bit word)"),
                int("ways", 16, 1, 1024, "Associativity of the LRU cache the address stream is replayed through.")
                    .default_note("NVSim's sample cache configuration (16 ways)"),
                quantity("tile", Dim::Bytes, 48.0 * KIB, 64.0, 1024.0 * MIB, "On-chip memory holding one output-channel tile's weights: each layer reads its input once per tile.")
                    .default_note("project default: 48 KiB, a GPU thread block's shared memory (Pascal)"),
                int("banks", 16, 1, 4096, "Cache banks serving accesses in parallel.")
                    .default_note("project default, not from the paper"),
                float("throughput", 10.0, 1e-6, 1e6, "Compute throughput in TFLOP/s; sets the time the workload computes.")
                    .default_note("project default, not from the paper: a mid-range GPU"),
                quantity("dram_energy", Dim::Energy, 6.4e-9, 0.0, 1e-3, "DRAM energy per line fetched on a miss.")
                    .default_note("project default: Timeloop pat's 200 units per 16-bit access at 1 pJ per unit, 64-byte lines"),
                quantity("dram_latency", Dim::Time, 100e-9, 0.0, 1e-3, "DRAM latency per miss.")
                    .default_note("project default, not from the paper"),
            ],
            Type::Metrics,
        ),
        Some(crate::run::sim::nvm_cache),
    )
}

fn thermal() -> StageDef {
    let out = record(&[("metrics", Type::Metrics), ("trace", Type::Table)]);
    let mut s = sig(
        "sim",
        "thermal",
        "A phone SoC running continuous inference: lumped thermal RC model, the phone's \
         trip-point governor (each trip caps the clock; released with hysteresis), latency \
         and power per model width from its work, activity and operating point \
         (P = c_eff·V²·f). The default phone is the Exynos 5433's A57 cluster: operating \
         points and trip points from mainline Linux's device tree, thermal resistance derived \
         from a published sustained-power measurement, the other constants the project's \
         labelled choices (sources in `stdlib/sim/data/thermal_exynos5433.csv` and \
         docs/simulators.md). Policies: `static_large`, `static_small`, `dynamic_shift` \
         (from the observed temperature, its observed heating rate, the frequency and the \
         first trip point only: switch to a smaller weight-shared width before the trip \
         point, back when cool). Trace over time: temperature, frequency, latency, power, \
         width in use, accuracy.",
        vec![
            ParamSig::required(
                "models",
                Type::Any,
                "A `model.slimmable` network (every width, with its measured latency and accuracy), \
                 a list `[large, ..., small]` of models, or one other model whose `small_width` \
                 channel slice is the small model.",
            ),
            choice(
                "policy",
                "dynamic_shift",
                &["static_large", "static_small", "dynamic_shift"],
                "Always the largest width, always the smallest, or shift by temperature.",
            ),
            quantity("duration", Dim::Time, 600.0, 1e-3, 1e6, "Simulated time.")
                .default_note("project default, not from the paper"),
            quantity("ambient", Dim::Temp, 25.0, -40.0, 60.0, "Ambient temperature.")
                .default_note("project default: a room; the shipped table's resistance assumes 25 degC"),
            override_path("soc", "CSV `kind,key,value` of the phone: `opp` rows (MHz, microvolts), `trip` rows (degC, frequency cap in MHz) and `constant` rows (hysteresis_c, resistance_k_per_w, capacitance_j_per_k, c_eff_nf, base_share, idle_w, flops_per_cycle, and optionally board_resistance_k_per_w with board_capacitance_j_per_k for a second, board node); empty: the shipped Exynos 5433 table. `stdlib/sim/data/thermal_bcm2837.csv` is a Raspberry Pi 3B fitted to a published heating curve (set `ambient` to its idle temperature).")
                .default_note("the Exynos 5433 table; sources in its comments"),
            quantity("margin", Dim::Temp, 3.0, 0.0, 50.0, "`dynamic_shift` moves one width smaller when the temperature it predicts `horizon` ahead (from the heating rate it observed) is this far below the first trip point, or the clock is throttled.")
                .default_note("project default, not from the paper"),
            float("fps", 30.0, 1e-3, 1e5, "Inference requests per second; a model busy for `latency·fps` of the time.")
                .default_note("project default, not from the paper"),
            quantity("band", Dim::Temp, 4.0, 0.0, 100.0, "`dynamic_shift` moves one width larger when its prediction is this far below its switch-down point.")
                .default_note("project default, not from the paper"),
            quantity("horizon", Dim::Time, 20.0, 0.0, 3600.0, "How far ahead `dynamic_shift` extrapolates the heating rate it observed (it never sees the thermal model's constants).")
                .default_note("project default, not from the paper"),
            float("small_width", 0.5, 0.01, 1.0, "With a single model that is not slimmable: the width of its channel slice used as the small model.")
                .default_note("project default, not from the paper"),
            float_list("accuracy", &[], "Accuracy of each model (largest first), shown in the trace; empty: none, or a slimmable model's saved accuracy per width."),
            choice("latency", "batch64", &["batch64", "batch1"], "Which measured latency of a slimmable model sets each width's time per inference: `batch64` (its batch-64 median over 64, the compute per sample) or `batch1` (its batch-1 median: the latency of one request on its own).")
                .default_note("the compute per sample"),
            float("load", 0.0, 0.0, 1.0, "When above 0: sets `fps` so that the largest model is busy this fraction of the time at the top frequency, which makes a study with measured latencies independent of the measuring machine's speed.")
                .default_note("0: use `fps`"),
            quantity("sample", Dim::Time, 1.0, 1e-4, 3600.0, "Trace sampling interval."),
            quantity("step", Dim::Time, 0.1, 1e-4, 60.0, "Simulation time step.")
                .default_note("project default, not from the paper"),
        ],
        out,
    );
    // Version 1 simulated an invented phone (one trip, f³ power); its cached results differ.
    s.version = 2;
    def(s, Some(crate::run::sim::thermal))
}
