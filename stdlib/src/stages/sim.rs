//! `sim.*`: signatures of every hardware simulator stage, one function each.
//! Simulators are deterministic (no seed) and price a model's architecture
//! descriptor; every shipped constant is the project's documented default and
//! can be replaced from a CSV file.

use super::common::*;
use crate::stage::StageDef;
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
            "A built-in reference workload with its real layer shapes, as an (untrained) \
             `Model` the simulators can price.",
            vec![choice(
                "name",
                "mobilenet_v2",
                &["resnet50", "mobilenet_v2", "vit_b16"],
                "ResNet-50, MobileNetV2 1.0 or ViT-B/16, all at 224×224.",
            )],
            Type::Model,
        ),
        None,
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
        None,
    )
}

fn accelerator() -> StageDef {
    def(
        sig(
            "sim",
            "accelerator",
            "QUIDAM-style accelerator: a rows×cols PE array with per-PE scratchpads and a \
             global buffer. Maps each layer (conv, depthwise, linear, attention matmuls) onto \
             the array: folds, compute cycles (equal to SCALE-Sim v3's stall-free cycles), \
             utilization, scratchpad / global buffer / DRAM accesses, energy, latency with the \
             DRAM bandwidth limit. Metrics: `compute_cycles`, `total_cycles`, `utilization`, \
             `latency_ms`, `energy_uj`, `area_mm2`, `perf_per_area`, `edp`. PPA per PE type \
             and width comes from the shipped table (the project's own, not the paper's) \
             unless `ppa` names a CSV.",
            vec![
                model("model", "The workload: any model, quantized or not, or `sim.workload(...)`."),
                choice(
                    "pe",
                    "int8",
                    &["int16", "int8", "int4", "lightpe1", "lightpe2"],
                    "PE type: integer MAC of 16/8/4 bits, or LightPE with one shift / two shift-adds for power-of-two weights.",
                ),
                int("bits", 8, 2, 16, "Operand bit width the PE is priced at."),
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
                override_path("ppa", "CSV of per-PE-type area, power and energy replacing the shipped table; empty: the shipped table."),
            ],
            per_layer(),
        ),
        None,
    )
}

fn nvm_cache() -> StageDef {
    def(
        sig(
            "sim",
            "nvm_cache",
            "DeepNVM++-style last-level cache study: SRAM, STT-MRAM or SOT-MRAM at a \
             capacity and node; the workload's L2 reads and writes (derived from the model's \
             layers, or given) priced with per-technology latency, energy, leakage and area. \
             Metrics: energy, delay, EDP and area, and their ratios to SRAM under `mode`. \
             The shipped technology table is the project's own (not the paper's), \
             replaceable by an NVSim-like CSV.",
            vec![
                choice("tech", "stt", &["sram", "stt", "sot"], "Cache technology: SRAM, STT-MRAM or SOT-MRAM."),
                quantity("capacity", Dim::Bytes, 4.0 * MIB, KIB, 1024.0 * MIB, "Cache capacity (iso-capacity), or the SRAM capacity whose area is matched (iso-area).")
                    .default_note("project default, not from the paper"),
                quantity("node", Dim::Length, 22e-9, 5e-9, 180e-9, "Technology node.")
                    .default_note("project default, not from the paper: NVSim's sample configuration uses 22nm"),
                model("workload", "The model whose layers give the L2 traffic (or `sim.workload(...)`)."),
                int("reads", 0, 0, i64::MAX, "L2 reads per inference; 0 derives them from the workload."),
                int("writes", 0, 0, i64::MAX, "L2 writes per inference; 0 derives them from the workload."),
                choice(
                    "mode",
                    "iso_capacity",
                    &["iso_capacity", "iso_area"],
                    "Compare against SRAM of the same capacity, or give the NVM the largest capacity fitting SRAM's area.",
                ),
                override_path("table", "CSV of per-technology read/write latency and energy, leakage and area per capacity; empty: the shipped table."),
            ],
            Type::Metrics,
        ),
        None,
    )
}

fn thermal() -> StageDef {
    let out = record(&[("metrics", Type::Metrics), ("trace", Type::Table)]);
    def(
        sig(
            "sim",
            "thermal",
            "A phone SoC running continuous inference: lumped thermal RC model, a DVFS \
             governor that throttles at the trip temperature (with hysteresis), latency and \
             power per model width from work and frequency. Policies: `static_large`, \
             `static_small`, `dynamic_shift` (switch to a smaller weight-shared width before \
             the trip point, back when cool). Trace over time: temperature, frequency, \
             latency, width in use, accuracy. All constants are the project's own model; the \
             paper published none.",
            vec![
                model("models", "A `model.slimmable` network (its widths are the models to shift between) or any single model."),
                choice(
                    "policy",
                    "dynamic_shift",
                    &["static_large", "static_small", "dynamic_shift"],
                    "Always the largest width, always the smallest, or shift by temperature.",
                ),
                quantity("duration", Dim::Time, 600.0, 1e-3, 1e6, "Simulated time.")
                    .default_note("project default, not from the paper"),
                quantity("ambient", Dim::Temp, 25.0, -40.0, 60.0, "Ambient temperature.")
                    .default_note("project default, not from the paper"),
                quantity("trip", Dim::Temp, 70.0, 0.0, 150.0, "Trip temperature where the governor throttles.")
                    .default_note("project default, not from the paper"),
                quantity("hysteresis", Dim::Temp, 5.0, 0.0, 50.0, "The governor restores a frequency step this far below the trip point.")
                    .default_note("project default, not from the paper"),
                quantity("margin", Dim::Temp, 3.0, 0.0, 50.0, "`dynamic_shift` moves to a smaller width this far below the trip point.")
                    .default_note("project default, not from the paper"),
                float("resistance", 8.0, 1e-3, 1e4, "Thermal resistance to ambient, in K/W.")
                    .default_note("project default, not from the paper"),
                float("capacitance", 4.0, 1e-3, 1e4, "Thermal capacitance, in J/K.")
                    .default_note("project default, not from the paper"),
                quantity("fmax", Dim::Freq, 2.4 * GHZ, 1e6, 10.0 * GHZ, "Highest DVFS frequency.")
                    .default_note("project default, not from the paper"),
                quantity("fmin", Dim::Freq, 0.6 * GHZ, 1e6, 10.0 * GHZ, "Lowest DVFS frequency.")
                    .default_note("project default, not from the paper"),
                int("levels", 8, 2, 64, "DVFS frequency levels between fmin and fmax.")
                    .default_note("project default, not from the paper"),
                quantity("power", Dim::Power, 4.0, 1e-3, 100.0, "SoC power at fmax running the largest width.")
                    .default_note("project default, not from the paper"),
                quantity("step", Dim::Time, 0.1, 1e-4, 60.0, "Simulation time step.")
                    .default_note("project default, not from the paper"),
            ],
            out,
        ),
        None,
    )
}
