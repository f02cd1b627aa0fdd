//! Pre-characterized power/performance/area of the accelerator's parts: one row
//! per PE type and activation width (`PpaTable`) and an SRAM/DRAM access-energy
//! and area model (`MemoryModel`). Both ship as CSV files in `data/` (the
//! project's own defaults, their basis in the file header) and both can be
//! replaced by a user CSV with the same columns. Lookup only: no simulation.

use crate::csv::CsvTable;
use crate::error::SimError;

/// The PE types the accelerator knows.
pub const PE_TYPES: &[&str] = &["int16", "int8", "int4", "lightpe1", "lightpe2"];

pub const DEFAULT_PPA_CSV: &str = include_str!("../data/ppa_default.csv");
pub const DEFAULT_MEMORY_CSV: &str = include_str!("../data/memory_default.csv");

/// PPA of one PE type at one activation width.
#[derive(Debug, Clone, PartialEq)]
pub struct PeRow {
    pub pe: String,
    pub bits: u32,
    pub weight_bits: u32,
    pub mac_energy_pj: f64,
    pub mac_area_um2: f64,
    pub leak_uw: f64,
    pub max_freq_hz: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PpaTable {
    pub source: String,
    pub rows: Vec<PeRow>,
}

impl PpaTable {
    /// The shipped default table.
    pub fn default_table() -> Result<PpaTable, SimError> {
        PpaTable::parse("built-in ppa_default.csv", DEFAULT_PPA_CSV)
    }

    pub fn read(path: &std::path::Path) -> Result<PpaTable, SimError> {
        PpaTable::from_csv(&CsvTable::read(path)?)
    }

    pub fn parse(source: &str, text: &str) -> Result<PpaTable, SimError> {
        PpaTable::from_csv(&CsvTable::parse(source, text)?)
    }

    fn from_csv(t: &CsvTable) -> Result<PpaTable, SimError> {
        let [pe, bits, wbits, energy, area, leak, freq] = t.columns([
            "pe",
            "bits",
            "weight_bits",
            "mac_energy_pj",
            "mac_area_um2",
            "leak_uw",
            "max_freq_mhz",
        ])?;
        let mut rows: Vec<PeRow> = Vec::with_capacity(t.rows.len());
        for r in &t.rows {
            let name = t.text(r, pe)?.to_ascii_lowercase();
            if !PE_TYPES.contains(&name.as_str()) {
                return Err(t.row_error(
                    r,
                    format!(
                        "unknown PE type `{name}`; known types: {}",
                        PE_TYPES.join(", ")
                    ),
                ));
            }
            let row = PeRow {
                pe: name,
                bits: bit_width(t, r, bits)?,
                weight_bits: bit_width(t, r, wbits)?,
                mac_energy_pj: t.non_negative(r, energy)?,
                mac_area_um2: t.positive(r, area)?,
                leak_uw: t.non_negative(r, leak)?,
                max_freq_hz: t.positive(r, freq)? * 1e6,
            };
            if rows.iter().any(|o| o.pe == row.pe && o.bits == row.bits) {
                return Err(t.row_error(
                    r,
                    format!("duplicate row for pe={} bits={}", row.pe, row.bits),
                ));
            }
            rows.push(row);
        }
        Ok(PpaTable {
            source: t.source.clone(),
            rows,
        })
    }

    /// The row for a PE type and width, or an error listing what the table has.
    pub fn lookup(&self, pe: &str, bits: u32) -> Result<&PeRow, SimError> {
        self.rows
            .iter()
            .find(|r| r.pe == pe && r.bits == bits)
            .ok_or_else(|| {
                let have: Vec<String> = self.rows.iter().map(|r| format!("{}@{}", r.pe, r.bits)).collect();
                SimError::table(
                    &self.source,
                    format!(
                        "no row for pe `{pe}` at {bits} bits; the table has {}. Add a row or pick one of these",
                        have.join(", ")
                    ),
                )
            })
    }
}

fn bit_width(t: &CsvTable, r: &crate::csv::CsvRow, col: usize) -> Result<u32, SimError> {
    let n = t.count(r, col)?;
    u32::try_from(n).ok().filter(|&b| b <= 64).ok_or_else(|| {
        t.row_error(
            r,
            format!("column `{}` is {n}; bit widths are 1..=64", t.header[col]),
        )
    })
}

/// One SRAM characterization point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SramPoint {
    pub capacity_kib: f64,
    pub access_pj_16b: f64,
    pub area_um2_per_kib: f64,
    pub leak_uw_per_kib: f64,
}

/// SRAM points sorted by capacity, and DRAM access energy.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryModel {
    pub source: String,
    pub sram: Vec<SramPoint>,
    pub dram_pj_16b: f64,
}

impl MemoryModel {
    pub fn default_model() -> Result<MemoryModel, SimError> {
        MemoryModel::parse("built-in memory_default.csv", DEFAULT_MEMORY_CSV)
    }

    pub fn read(path: &std::path::Path) -> Result<MemoryModel, SimError> {
        MemoryModel::from_csv(&CsvTable::read(path)?)
    }

    pub fn parse(source: &str, text: &str) -> Result<MemoryModel, SimError> {
        MemoryModel::from_csv(&CsvTable::parse(source, text)?)
    }

    fn from_csv(t: &CsvTable) -> Result<MemoryModel, SimError> {
        let [kind, cap, energy, area, leak] = t.columns([
            "kind",
            "capacity_kib",
            "access_pj_16b",
            "area_um2_per_kib",
            "leak_uw_per_kib",
        ])?;
        let mut sram = Vec::new();
        let mut dram = None;
        for r in &t.rows {
            match t.text(r, kind)?.to_ascii_lowercase().as_str() {
                "sram" => sram.push(SramPoint {
                    capacity_kib: t.positive(r, cap)?,
                    access_pj_16b: t.non_negative(r, energy)?,
                    area_um2_per_kib: t.non_negative(r, area)?,
                    leak_uw_per_kib: t.non_negative(r, leak)?,
                }),
                "dram" => dram = Some(t.non_negative(r, energy)?),
                other => {
                    return Err(
                        t.row_error(r, format!("unknown kind `{other}`; use `sram` or `dram`"))
                    );
                }
            }
        }
        if sram.is_empty() {
            return Err(SimError::table(
                &t.source,
                "no `sram` rows: at least one SRAM point is needed",
            ));
        }
        let dram_pj_16b = dram.ok_or_else(|| {
            SimError::table(&t.source, "no `dram` row: the DRAM access energy is needed")
        })?;
        sram.sort_by(|a, b| a.capacity_kib.total_cmp(&b.capacity_kib));
        Ok(MemoryModel {
            source: t.source.clone(),
            sram,
            dram_pj_16b,
        })
    }

    /// Energy of one 16-bit access to an SRAM of `bytes`: linear between points,
    /// clamped below the first, extrapolated along the last segment above the last.
    pub fn sram_access_pj_16b(&self, bytes: f64) -> f64 {
        interpolate(&self.sram, bytes / 1024.0, |p| p.access_pj_16b, true).max(0.0)
    }

    /// Area of an SRAM of `bytes`, in um2 (per-KiB density clamped outside the points).
    pub fn sram_area_um2(&self, bytes: f64) -> f64 {
        let kib = bytes / 1024.0;
        kib * interpolate(&self.sram, kib, |p| p.area_um2_per_kib, false)
    }

    /// Leakage of an SRAM of `bytes`, in uW.
    pub fn sram_leak_uw(&self, bytes: f64) -> f64 {
        let kib = bytes / 1024.0;
        kib * interpolate(&self.sram, kib, |p| p.leak_uw_per_kib, false)
    }
}

fn interpolate(
    points: &[SramPoint],
    kib: f64,
    f: impl Fn(&SramPoint) -> f64,
    extrapolate: bool,
) -> f64 {
    let (first, last) = match (points.first(), points.last()) {
        (Some(a), Some(b)) => (a, b),
        _ => return 0.0,
    };
    if points.len() == 1 || kib <= first.capacity_kib {
        return f(first);
    }
    let segment = points
        .windows(2)
        .find(|w| kib <= w[1].capacity_kib)
        .or_else(|| {
            if extrapolate {
                points.windows(2).last()
            } else {
                None
            }
        });
    match segment {
        Some(w) => {
            let (a, b) = (&w[0], &w[1]);
            let span = b.capacity_kib - a.capacity_kib;
            if span <= 0.0 {
                return f(b);
            }
            f(a) + (f(b) - f(a)) * (kib - a.capacity_kib) / span
        }
        None => f(last),
    }
}
