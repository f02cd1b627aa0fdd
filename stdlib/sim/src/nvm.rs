//! DeepNVM++-style last-level cache model: SRAM, STT-MRAM and SOT-MRAM caches
//! described by NVSim rows (latency, energy, leakage, area per capacity), the
//! workload's L2 accesses replayed through an LRU cache (`l2_stream`), and
//! energy / delay / EDP with iso-capacity and iso-area comparisons against SRAM.
//! Between table rows every figure follows the power law through its two
//! neighbours (linear in log-log), checked against NVSim in
//! `tests/nvm_nvsim_parity.rs`. The energy model is the project's design choice
//! (docs/papers.md section 8): `E = Nr·Er + (Nw + Nfill)·Ew + P_leak·T +
//! (Nmiss + Nwb)·E_dram`, `T = T_compute + (Nr·tr + (Nw + Nfill)·tw +
//! Nmiss·t_dram) / banks`, `EDP = E·T`. Reads files only through `CacheTable::read`.

use crate::arch::Arch;
use crate::cache_lru::Counts;
use crate::csv::CsvTable;
use crate::error::SimError;
use crate::l2_stream::L2Stream;

pub const TECHS: &[&str] = &["sram", "stt", "sot"];
pub const DEFAULT_NVM_CSV: &str = include_str!("../data/nvm_default.csv");
const MB: f64 = 1024.0 * 1024.0;

/// One NVSim characterisation of a cache (its cache summary: hit latency and
/// energy as `read_*`, write latency and energy, total leakage and area).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CacheRow {
    pub node_nm: f64,
    pub capacity_mb: f64,
    pub read_ns: f64,
    pub write_ns: f64,
    pub read_pj: f64,
    pub write_pj: f64,
    pub leak_mw: f64,
    pub area_mm2: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CacheTable {
    pub source: String,
    /// (tech, row), sorted by tech, node and capacity.
    pub rows: Vec<(String, CacheRow)>,
}

impl CacheTable {
    pub fn default_table() -> Result<CacheTable, SimError> {
        CacheTable::parse("built-in nvm_default.csv", DEFAULT_NVM_CSV)
    }

    pub fn read(path: &std::path::Path) -> Result<CacheTable, SimError> {
        CacheTable::from_csv(&CsvTable::read(path)?)
    }

    pub fn parse(source: &str, text: &str) -> Result<CacheTable, SimError> {
        CacheTable::from_csv(&CsvTable::parse(source, text)?)
    }

    fn from_csv(t: &CsvTable) -> Result<CacheTable, SimError> {
        let cols = t.columns([
            "tech",
            "node_nm",
            "capacity_mb",
            "read_ns",
            "write_ns",
            "read_pj",
            "write_pj",
            "leak_mw",
            "area_mm2",
        ])?;
        let mut rows = Vec::with_capacity(t.rows.len());
        for r in &t.rows {
            let tech = t.text(r, cols[0])?.to_ascii_lowercase();
            if !TECHS.contains(&tech.as_str()) {
                return Err(t.row_error(
                    r,
                    format!(
                        "unknown technology `{tech}`; use one of {}",
                        TECHS.join(", ")
                    ),
                ));
            }
            let row = CacheRow {
                node_nm: t.positive(r, cols[1])?,
                capacity_mb: t.positive(r, cols[2])?,
                read_ns: t.non_negative(r, cols[3])?,
                write_ns: t.non_negative(r, cols[4])?,
                read_pj: t.non_negative(r, cols[5])?,
                write_pj: t.non_negative(r, cols[6])?,
                leak_mw: t.non_negative(r, cols[7])?,
                area_mm2: t.positive(r, cols[8])?,
            };
            rows.push((tech, row));
        }
        rows.sort_by(|a, b| {
            (a.0.as_str(), a.1.node_nm, a.1.capacity_mb)
                .partial_cmp(&(b.0.as_str(), b.1.node_nm, b.1.capacity_mb))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        Ok(CacheTable {
            source: t.source.clone(),
            rows,
        })
    }

    fn points(&self, tech: &str, node_nm: f64) -> Result<Vec<CacheRow>, SimError> {
        let points: Vec<CacheRow> = self
            .rows
            .iter()
            .filter(|(t, r)| t == tech && (r.node_nm - node_nm).abs() < 1e-6)
            .map(|(_, r)| *r)
            .collect();
        if points.is_empty() {
            let have: Vec<String> = self
                .rows
                .iter()
                .map(|(t, r)| format!("{t}@{}nm", r.node_nm))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            return Err(SimError::table(
                &self.source,
                format!(
                    "no rows for `{tech}` at {node_nm} nm; the table has {}. Give a table for this node (NVSim output) with `table:`",
                    have.join(", ")
                ),
            ));
        }
        Ok(points)
    }

    /// The cache of `capacity_mb` for a technology and node: each figure follows
    /// the power law through the two nearest rows (extrapolated along the end
    /// segments); linearly where a figure is zero and has no logarithm.
    pub fn at(&self, tech: &str, node_nm: f64, capacity_mb: f64) -> Result<CacheRow, SimError> {
        let points = self.points(tech, node_nm)?;
        Ok(interpolate(&points, capacity_mb))
    }

    /// The largest capacity of `tech` whose area does not exceed `area_mm2`.
    pub fn capacity_for_area(
        &self,
        tech: &str,
        node_nm: f64,
        area_mm2: f64,
    ) -> Result<f64, SimError> {
        let points = self.points(tech, node_nm)?;
        let area = |c: f64| interpolate(&points, c).area_mm2;
        let (mut lo, mut hi) = (0.0, points[points.len() - 1].capacity_mb.max(1.0));
        let mut doublings = 0;
        while area(hi) <= area_mm2 && doublings < 60 {
            lo = hi;
            hi *= 2.0;
            doublings += 1;
        }
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if area(mid) <= area_mm2 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        if lo <= 0.0 {
            return Err(SimError::Invalid(format!(
                "no `{tech}` cache fits in {area_mm2:.4} mm2 (its fixed area is larger)"
            )));
        }
        Ok(lo)
    }
}

fn interpolate(points: &[CacheRow], capacity_mb: f64) -> CacheRow {
    if points.len() == 1 {
        let p = points[0];
        let s = capacity_mb / p.capacity_mb;
        // One row only: area and leakage scale with capacity, per-access costs stay.
        return CacheRow {
            capacity_mb,
            leak_mw: p.leak_mw * s,
            area_mm2: p.area_mm2 * s,
            ..p
        };
    }
    let i = points
        .windows(2)
        .position(|w| capacity_mb <= w[1].capacity_mb)
        .unwrap_or(points.len() - 2);
    let (a, b) = (points[i], points[i + 1]);
    let between = |x: f64, y: f64| power_law(a.capacity_mb, x, b.capacity_mb, y, capacity_mb);
    CacheRow {
        node_nm: a.node_nm,
        capacity_mb,
        read_ns: between(a.read_ns, b.read_ns),
        write_ns: between(a.write_ns, b.write_ns),
        read_pj: between(a.read_pj, b.read_pj),
        write_pj: between(a.write_pj, b.write_pj),
        leak_mw: between(a.leak_mw, b.leak_mw),
        area_mm2: between(a.area_mm2, b.area_mm2).max(1e-9),
    }
}

/// The value at `c` of `y = k·c^e` through `(c0, y0)` and `(c1, y1)`; the line
/// through them where a value is not positive.
fn power_law(c0: f64, y0: f64, c1: f64, y1: f64, c: f64) -> f64 {
    if y0 > 0.0 && y1 > 0.0 && c0 > 0.0 && c1 > c0 && c > 0.0 {
        let e = (y1 / y0).ln() / (c1 / c0).ln();
        return y0 * (c / c0).powf(e);
    }
    let f = (c - c0) / (c1 - c0).max(f64::MIN_POSITIVE);
    (y0 + (y1 - y0) * f).max(0.0)
}

/// A workload's L2 accesses: its address stream, replayed per cache, and
/// optionally measured read/write counts (e.g. a GPU profiler's) that replace
/// the stream's counts while the stream still gives the miss and write-back rates.
#[derive(Debug, Clone, PartialEq)]
pub struct Traffic {
    pub stream: L2Stream,
    pub given: Option<(f64, f64)>,
    pub flops: f64,
}

/// The accesses one cache sees: the replayed (or given) counts and the misses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accesses {
    pub reads: f64,
    pub writes: f64,
    /// Reads that missed: each fetches a line from DRAM and fills it (an array write).
    pub misses: f64,
    /// Dirty lines evicted to DRAM.
    pub writebacks: f64,
}

impl Traffic {
    /// The workload's stream under the project's tiling (`l2_stream`).
    pub fn of_arch(arch: &Arch, line_bytes: f64, batch: f64, tile_bytes: f64) -> Traffic {
        Traffic {
            stream: L2Stream::of_arch(arch, line_bytes, batch, tile_bytes),
            given: None,
            flops: arch.flops() as f64 * batch,
        }
    }

    /// Measured read and write counts (lines) replace the stream's.
    pub fn with_counts(self, reads: f64, writes: f64) -> Traffic {
        Traffic {
            given: Some((reads, writes)),
            ..self
        }
    }

    /// The accesses a cache of `capacity_mb` with `ways` sees.
    pub fn on(&self, capacity_mb: f64, ways: usize) -> Accesses {
        let c = self.stream.replay(capacity_mb * MB, ways);
        let Some((reads, writes)) = self.given else {
            return accesses(c);
        };
        let rate = |n: f64, d: f64| if d > 0.0 { n / d } else { 0.0 };
        Accesses {
            reads,
            writes,
            misses: reads * rate(c.read_misses, c.reads),
            writebacks: writes * rate(c.writebacks, c.writes),
        }
    }
}

fn accesses(c: Counts) -> Accesses {
    Accesses {
        reads: c.reads,
        writes: c.writes,
        misses: c.read_misses,
        writebacks: c.writebacks,
    }
}

/// The rest of the system around the cache (all project defaults, stage params).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct System {
    /// Compute throughput in FLOP/s (sets the base time).
    pub flops_per_s: f64,
    /// Independent cache banks serving accesses in parallel.
    pub banks: f64,
    /// DRAM energy per line fetched on a miss, pJ.
    pub dram_pj_per_line: f64,
    /// DRAM latency per miss, ns.
    pub dram_ns: f64,
    /// Cache associativity (ways per set) of the replayed LRU cache.
    pub ways: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CacheResult {
    pub tech: String,
    pub cache: CacheRow,
    pub reads: f64,
    pub writes: f64,
    pub misses: f64,
    pub writebacks: f64,
    pub dynamic_uj: f64,
    pub leak_uj: f64,
    pub dram_uj: f64,
    pub energy_uj: f64,
    pub delay_ms: f64,
    /// energy_uj × delay_ms.
    pub edp: f64,
}

/// Energy, delay and EDP of `traffic` on one cache.
pub fn evaluate(tech: &str, cache: CacheRow, traffic: &Traffic, sys: &System) -> CacheResult {
    let a = traffic.on(cache.capacity_mb, sys.ways);
    let array_writes = a.writes + a.misses;
    let access_ns =
        a.reads * cache.read_ns + array_writes * cache.write_ns + a.misses * sys.dram_ns;
    let delay_s = traffic.flops / sys.flops_per_s + access_ns * 1e-9 / sys.banks;
    let dynamic_uj = (a.reads * cache.read_pj + array_writes * cache.write_pj) * 1e-6;
    let leak_uj = cache.leak_mw * 1e-3 * delay_s * 1e6;
    let dram_uj = (a.misses + a.writebacks) * sys.dram_pj_per_line * 1e-6;
    let energy_uj = dynamic_uj + leak_uj + dram_uj;
    CacheResult {
        tech: tech.to_string(),
        cache,
        reads: a.reads,
        writes: a.writes,
        misses: a.misses,
        writebacks: a.writebacks,
        dynamic_uj,
        leak_uj,
        dram_uj,
        energy_uj,
        delay_ms: delay_s * 1e3,
        edp: energy_uj * delay_s * 1e3,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The same capacity as the SRAM baseline.
    IsoCapacity,
    /// The largest capacity that fits the SRAM baseline's area.
    IsoArea,
}

impl Mode {
    pub const NAMES: &'static [&'static str] = &["iso_capacity", "iso_area"];

    pub fn parse(name: &str) -> Option<Mode> {
        match name {
            "iso_capacity" => Some(Mode::IsoCapacity),
            "iso_area" => Some(Mode::IsoArea),
            _ => None,
        }
    }
}

/// A technology against the SRAM baseline of `capacity_mb`.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub result: CacheResult,
    pub sram: CacheResult,
}

impl Comparison {
    /// SRAM EDP / this EDP: above 1 means this technology is better.
    pub fn edp_reduction(&self) -> f64 {
        self.sram.edp / self.result.edp
    }

    pub fn area_reduction(&self) -> f64 {
        self.sram.cache.area_mm2 / self.result.cache.area_mm2
    }

    pub fn capacity_gain(&self) -> f64 {
        self.result.cache.capacity_mb / self.sram.cache.capacity_mb
    }

    pub fn leak_reduction(&self) -> f64 {
        self.sram.cache.leak_mw / self.result.cache.leak_mw.max(f64::MIN_POSITIVE)
    }
}

/// Evaluates `tech` and the SRAM baseline of `capacity_mb` under `mode`.
pub fn compare(
    table: &CacheTable,
    tech: &str,
    node_nm: f64,
    capacity_mb: f64,
    mode: Mode,
    traffic: &Traffic,
    sys: &System,
) -> Result<Comparison, SimError> {
    if !(capacity_mb.is_finite() && capacity_mb > 0.0) {
        return Err(SimError::Invalid(format!(
            "cache capacity must be positive, got {capacity_mb} MB"
        )));
    }
    let sram_row = table.at("sram", node_nm, capacity_mb)?;
    let capacity = match mode {
        Mode::IsoCapacity => capacity_mb,
        Mode::IsoArea => table.capacity_for_area(tech, node_nm, sram_row.area_mm2)?,
    };
    let row = table.at(tech, node_nm, capacity)?;
    Ok(Comparison {
        result: evaluate(tech, row, traffic, sys),
        sram: evaluate("sram", sram_row, traffic, sys),
    })
}
