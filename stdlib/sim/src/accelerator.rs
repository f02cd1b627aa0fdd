//! QUIDAM-style accelerator model: a rows×cols array of PEs, each with a
//! scratchpad (spad), sharing a global buffer (glb) in front of DRAM. Each layer
//! of an `Arch` is mapped by `dataflow` (SCALE-Sim-exact compute cycles), its
//! buffer and DRAM traffic is counted, and energy, latency (compute overlapped
//! with a bandwidth-limited DRAM transfer) and area come from the PPA tables.
//! The model and its constants are the project's own (QUIDAM's were not
//! published); see `docs/simulators.md`. Never reads files: tables are passed in.

use crate::arch::{Arch, Op};
use crate::dataflow::{Dataflow, Gemm, Mapping};
use crate::error::SimError;
use crate::ppa::{MemoryModel, PeRow, PpaTable};

/// One design point.
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    pub pe: String,
    /// Activation width; selects the PPA row together with `pe`.
    pub bits: u32,
    pub rows: u64,
    pub cols: u64,
    /// Scratchpad bytes per PE.
    pub spad_bytes: f64,
    /// Global buffer bytes.
    pub glb_bytes: f64,
    /// Requested clock; capped at the PE type's `max_freq_mhz`.
    pub freq_hz: f64,
    pub dataflow: Dataflow,
    /// DRAM bandwidth in bytes per second.
    pub bandwidth: f64,
}

/// Per-layer results.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerStats {
    pub name: String,
    pub kind: &'static str,
    pub macs: u64,
    pub folds: u64,
    /// SCALE-Sim stall-free compute cycles (0 for elementwise layers).
    pub compute_cycles: u64,
    /// Cycles DRAM needs for this layer's traffic at the bandwidth limit.
    pub dram_cycles: u64,
    /// max(compute or elementwise cycles, DRAM cycles): transfers overlap compute.
    pub cycles: u64,
    pub utilization: f64,
    pub spad_accesses: u64,
    pub glb_accesses: u64,
    pub dram_bytes: u64,
    pub energy_pj: f64,
    pub latency_s: f64,
}

/// Whole-workload results; the metric names are those the stage reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Totals {
    pub macs: u64,
    pub compute_cycles: u64,
    pub total_cycles: u64,
    pub utilization: f64,
    pub latency_ms: f64,
    pub energy_uj: f64,
    pub area_mm2: f64,
    /// GOPS (2 ops per MAC) per mm2.
    pub perf_per_area: f64,
    /// energy_uj × latency_ms.
    pub edp: f64,
    pub freq_mhz: f64,
    pub mac_energy_uj: f64,
    pub spad_energy_uj: f64,
    pub glb_energy_uj: f64,
    pub dram_energy_uj: f64,
    pub leak_energy_uj: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub layers: Vec<LayerStats>,
    pub totals: Totals,
}

/// Per-access energies and widths resolved once per design point.
struct Costs<'a> {
    pe: &'a PeRow,
    freq_hz: f64,
    spad_pj_16b: f64,
    glb_pj_16b: f64,
    dram_pj_16b: f64,
    act_bits: f64,
    weight_bits: f64,
    leak_w: f64,
}

/// Energy split of one layer, in pJ.
#[derive(Debug, Clone, Copy, Default)]
struct Energy {
    mac: f64,
    spad: f64,
    glb: f64,
    dram: f64,
    leak: f64,
}

impl Energy {
    fn total(&self) -> f64 {
        self.mac + self.spad + self.glb + self.dram + self.leak
    }
}

impl Design {
    fn validate(&self) -> Result<(), SimError> {
        if self.rows == 0 || self.cols == 0 {
            return Err(SimError::Invalid(format!(
                "the PE array must be at least 1×1, got {}×{}",
                self.rows, self.cols
            )));
        }
        let word = f64::from(self.bits) / 8.0;
        if self.spad_bytes < 3.0 * word {
            return Err(SimError::Invalid(format!(
                "spad of {} B per PE cannot hold the three {}-bit words a PE needs (stationary \
                 operand, moving operand, partial sum); use at least {} B",
                self.spad_bytes,
                self.bits,
                (3.0 * word).ceil()
            )));
        }
        for (name, v) in [
            ("glb", self.glb_bytes),
            ("freq", self.freq_hz),
            ("bandwidth", self.bandwidth),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(SimError::Invalid(format!(
                    "`{name}` must be positive, got {v}"
                )));
            }
        }
        Ok(())
    }

    pub fn pes(&self) -> u64 {
        self.rows * self.cols
    }

    /// Chip area in mm2: PEs with their spads, plus the global buffer.
    pub fn area_mm2(&self, pe: &PeRow, mem: &MemoryModel) -> f64 {
        let per_pe = pe.mac_area_um2 + mem.sram_area_um2(self.spad_bytes);
        (self.pes() as f64 * per_pe + mem.sram_area_um2(self.glb_bytes)) * 1e-6
    }
}

/// Simulates `arch` on `design`.
pub fn simulate(
    arch: &Arch,
    design: &Design,
    ppa: &PpaTable,
    mem: &MemoryModel,
) -> Result<Report, SimError> {
    design.validate()?;
    let pe = ppa.lookup(&design.pe, design.bits)?;
    let sram_leak_uw = design.pes() as f64 * mem.sram_leak_uw(design.spad_bytes)
        + mem.sram_leak_uw(design.glb_bytes);
    let costs = Costs {
        pe,
        freq_hz: design.freq_hz.min(pe.max_freq_hz),
        spad_pj_16b: mem.sram_access_pj_16b(design.spad_bytes),
        glb_pj_16b: mem.sram_access_pj_16b(design.glb_bytes),
        dram_pj_16b: mem.dram_pj_16b,
        act_bits: f64::from(pe.bits),
        weight_bits: f64::from(pe.weight_bits),
        leak_w: (design.pes() as f64 * pe.leak_uw + sram_leak_uw) * 1e-6,
    };
    let mut layers = Vec::with_capacity(arch.layers.len());
    let mut split = Energy::default();
    for layer in &arch.layers {
        let (stats, energy) = simulate_layer(&layer.name, &layer.op, design, &costs)?;
        split.mac += energy.mac;
        split.spad += energy.spad;
        split.glb += energy.glb;
        split.dram += energy.dram;
        split.leak += energy.leak;
        layers.push(stats);
    }
    if layers
        .iter()
        .try_fold(0u64, |sum, l| sum.checked_add(l.cycles))
        .is_none()
    {
        return Err(SimError::Invalid(format!(
            "`{}` needs more cycles in all than a 64-bit counter holds; enlarge `glb` or `bandwidth`",
            arch.name
        )));
    }
    let area_mm2 = design.area_mm2(pe, mem);
    let totals = totals(&layers, design, &costs, split, area_mm2);
    Ok(Report { layers, totals })
}

fn totals(
    layers: &[LayerStats],
    design: &Design,
    costs: &Costs,
    split: Energy,
    area_mm2: f64,
) -> Totals {
    let macs: u64 = layers.iter().map(|l| l.macs).sum();
    let compute_cycles: u64 = layers.iter().map(|l| l.compute_cycles).sum();
    let total_cycles: u64 = layers.iter().map(|l| l.cycles).sum();
    let latency_s = total_cycles as f64 / costs.freq_hz;
    let energy_uj = split.total() * 1e-6;
    let utilization = if compute_cycles == 0 {
        0.0
    } else {
        macs as f64 / (design.pes() as f64 * compute_cycles as f64)
    };
    let gops = if latency_s > 0.0 {
        2.0 * macs as f64 / latency_s / 1e9
    } else {
        0.0
    };
    Totals {
        macs,
        compute_cycles,
        total_cycles,
        utilization,
        latency_ms: latency_s * 1e3,
        energy_uj,
        area_mm2,
        perf_per_area: gops / area_mm2,
        edp: energy_uj * latency_s * 1e3,
        freq_mhz: costs.freq_hz / 1e6,
        mac_energy_uj: split.mac * 1e-6,
        spad_energy_uj: split.spad * 1e-6,
        glb_energy_uj: split.glb * 1e-6,
        dram_energy_uj: split.dram * 1e-6,
        leak_energy_uj: split.leak * 1e-6,
    }
}

/// Unique input, weight (second operand) and output elements of a layer.
fn operand_elements(op: &Op) -> (u64, u64, u64) {
    match *op {
        Op::Conv2d {
            in_ch,
            out_ch,
            in_hw,
            out_hw,
            ..
        } => (
            (in_ch * in_hw[0] * in_hw[1]) as u64,
            op.weights(),
            (out_ch * out_hw[0] * out_hw[1]) as u64,
        ),
        Op::Linear {
            in_features,
            out_features,
            tokens,
        } => (
            (tokens * in_features) as u64,
            op.weights(),
            (tokens * out_features) as u64,
        ),
        Op::Matmul { m, k, n, count } => (
            (m * k * count) as u64,
            (k * n * count) as u64,
            (m * n * count) as u64,
        ),
        Op::Elementwise { elements } => (elements as u64, 0, elements as u64),
    }
}

/// DRAM bytes for one layer: every operand once when the working set fits the
/// glb; otherwise the smaller of input and weights is tiled into half the glb
/// and the larger is streamed once per tile.
fn dram_bytes(op: &Op, design: &Design, costs: &Costs) -> f64 {
    let (i, w, o) = operand_elements(op);
    let w_bits = if matches!(op, Op::Matmul { .. }) {
        costs.act_bits
    } else {
        costs.weight_bits
    };
    let (i, w, o) = (
        i as f64 * costs.act_bits / 8.0,
        w as f64 * w_bits / 8.0,
        o as f64 * costs.act_bits / 8.0,
    );
    if i + w + o <= design.glb_bytes {
        return i + w + o;
    }
    let (small, large) = if i <= w { (i, w) } else { (w, i) };
    let tiles = (small / (design.glb_bytes / 2.0)).ceil().max(1.0);
    small + large * tiles + o
}

/// DRAM cycles of a layer, or an error when they do not fit a cycle counter: a glb
/// so small against the layer that every tile streams the other operand again.
fn dram_cycles(
    name: &str,
    dram_bytes: f64,
    design: &Design,
    freq_hz: f64,
) -> Result<u64, SimError> {
    let cycles = (dram_bytes / (design.bandwidth / freq_hz)).ceil();
    // 2^53: exact in f64, and thousands of such layers still sum within a u64.
    // NaN (a zero bandwidth slipped through) fails the comparison too.
    let fits = cycles <= 9_007_199_254_740_992.0;
    if !fits {
        return Err(SimError::Invalid(format!(
            "layer `{name}` needs {cycles:e} DRAM cycles with a glb of {} B at {} B/s; \
             enlarge `glb` or `bandwidth`",
            design.glb_bytes, design.bandwidth
        )));
    }
    Ok(cycles as u64)
}

fn simulate_layer(
    name: &str,
    op: &Op,
    design: &Design,
    costs: &Costs,
) -> Result<(LayerStats, Energy), SimError> {
    let dram = dram_bytes(op, design, costs);
    let dram_cycles = dram_cycles(name, dram, design, costs.freq_hz)?;
    let mut energy = Energy {
        dram: dram * 8.0 / 16.0 * costs.dram_pj_16b,
        ..Energy::default()
    };
    // DRAM transfers also fill (or drain) the global buffer.
    let fill_glb = dram * 8.0 / 16.0 * costs.glb_pj_16b;
    let act_scale = costs.act_bits / 16.0;
    let (kind, macs, folds, compute_cycles, busy_cycles, spad, glb) = match Gemm::of(op) {
        Some(g) => {
            let map = Mapping::new(&g, design.dataflow, design.rows, design.cols);
            let cycles = map.compute_cycles() * g.count;
            let (ir, fr, ow) = map.sram_traffic(&g, design.dataflow);
            let w_scale = if matches!(op, Op::Matmul { .. }) {
                act_scale
            } else {
                costs.weight_bits / 16.0
            };
            energy.glb = g.count as f64
                * (ir as f64 * act_scale + fr as f64 * w_scale + ow as f64 * act_scale)
                * costs.glb_pj_16b;
            // Each MAC reads its stationary operand and updates a partial sum in the spad.
            let spad = 2 * g.macs();
            energy.spad = spad as f64 * act_scale * costs.spad_pj_16b;
            energy.mac = g.macs() as f64 * costs.pe.mac_energy_pj;
            let glb = g.count * (ir + fr + ow);
            (
                op_kind(op),
                g.macs(),
                map.folds() * g.count,
                cycles,
                cycles,
                spad,
                glb,
            )
        }
        None => {
            // Elementwise work runs on a `cols`-lane vector unit at the array's edge,
            // reading and writing each element in the glb.
            let (elements, _, _) = operand_elements(op);
            let cycles = elements.div_ceil(design.cols);
            energy.glb = 2.0 * elements as f64 * act_scale * costs.glb_pj_16b;
            ("elementwise", 0, 0, 0, cycles, 0, 2 * elements)
        }
    };
    energy.glb += fill_glb;
    let cycles = busy_cycles.max(dram_cycles);
    let latency_s = cycles as f64 / costs.freq_hz;
    energy.leak = costs.leak_w * latency_s * 1e12;
    let utilization = if compute_cycles == 0 {
        0.0
    } else {
        macs as f64 / (design.pes() as f64 * compute_cycles as f64)
    };
    let stats = LayerStats {
        name: name.to_string(),
        kind,
        macs,
        folds,
        compute_cycles,
        dram_cycles,
        cycles,
        utilization,
        spad_accesses: spad,
        glb_accesses: glb,
        dram_bytes: dram.round() as u64,
        energy_pj: energy.total(),
        latency_s,
    };
    Ok((stats, energy))
}

fn op_kind(op: &Op) -> &'static str {
    match op {
        Op::Conv2d { groups, in_ch, .. } if *groups > 1 && *groups == *in_ch => "depthwise",
        Op::Conv2d { .. } => "conv",
        Op::Linear { .. } => "linear",
        Op::Matmul { .. } => "matmul",
        Op::Elementwise { .. } => "elementwise",
    }
}
