//! SCALE-Sim v3 parity (PyPI `scalesim` 3.0.0): reads SCALE-Sim `.cfg` files and
//! reproduces, per layer, the counts its COMPUTE_REPORT and DETAILED_ACCESS_REPORT
//! give: stall-free compute cycles, SRAM reads and writes per operand, and DRAM
//! reads and writes per operand.
//!
//! SRAM counts are closed forms of SCALE-Sim's fold loops. DRAM reads come from
//! replaying SCALE-Sim's request order (operand matrices, folds, systolic skew)
//! through its CALC-mode read buffer (`read_buffer_estimate_bw.py`): an address is
//! fetched from DRAM when it was not requested since the buffer last emptied, and the
//! buffer empties after every `50 * floor(bytes / 100)` fetches (its 50 sets of the
//! active half). The replay is linear in the layer's SRAM requests, so it is for
//! parity checks, not for design-space sweeps (`accelerator` has the fast model).
//! Never reads a file except through `ScaleSimConfig::read`.

use crate::arch::Op;
use crate::dataflow::{Dataflow, Gemm, Mapping};
use crate::error::SimError;

/// The most SRAM requests one layer may replay: bounds the replay's time and the
/// memory of its address set (at most one entry per request). The largest layer of
/// the benchmark (ResNet-50 layer4 3x3 conv, 32x32, os) needs 8.3 M.
pub const MAX_REPLAY_REQUESTS: u64 = 1 << 26;

/// The architecture part of a SCALE-Sim `.cfg` file that decides its counts.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleSimConfig {
    pub run_name: String,
    pub rows: u64,
    pub cols: u64,
    pub ifmap_kib: u64,
    pub filter_kib: u64,
    pub ofmap_kib: u64,
    pub dataflow: Dataflow,
}

/// One layer's counts, named as in SCALE-Sim's reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LayerCounts {
    pub compute_cycles: u64,
    pub ifmap_sram_reads: u64,
    pub filter_sram_reads: u64,
    pub ofmap_sram_writes: u64,
    pub ifmap_dram_reads: u64,
    pub filter_dram_reads: u64,
    pub ofmap_dram_writes: u64,
}

/// `key: value` (or `key = value`) lines under `[section]` headers; keys are
/// case-insensitive, as Python's configparser reads them.
struct Ini {
    source: String,
    entries: Vec<(String, String, String, usize)>,
}

impl Ini {
    fn parse(source: &str, text: &str) -> Result<Ini, SimError> {
        let mut section = String::new();
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.trim().to_ascii_lowercase();
                continue;
            }
            let Some(split) = line.find([':', '=']) else {
                return Err(SimError::table(
                    source,
                    format!(
                        "line {}: `{line}` is neither a `[section]` nor a `key: value` line",
                        i + 1
                    ),
                ));
            };
            let key = line[..split].trim().to_ascii_lowercase();
            let value = line[split + 1..].trim().to_string();
            entries.push((section.clone(), key, value, i + 1));
        }
        Ok(Ini {
            source: source.to_string(),
            entries,
        })
    }

    fn get(&self, section: &str, key: &str) -> Option<(&str, usize)> {
        let key = key.to_ascii_lowercase();
        self.entries
            .iter()
            .rev()
            .find(|(s, k, _, _)| s == section && *k == key)
            .map(|(_, _, v, line)| (v.as_str(), *line))
    }

    fn required(&self, section: &str, key: &str) -> Result<(&str, usize), SimError> {
        self.get(section, key).ok_or_else(|| {
            SimError::table(
                &self.source,
                format!("missing `{key}` in section `[{section}]`; SCALE-Sim needs it too"),
            )
        })
    }

    fn number(&self, section: &str, key: &str, min: u64) -> Result<u64, SimError> {
        let (value, line) = self.required(section, key)?;
        value
            .parse::<u64>()
            .ok()
            .filter(|&n| n >= min)
            .ok_or_else(|| {
                SimError::table(
                    &self.source,
                    format!(
                        "line {line}: `{key}` is `{value}`; it must be a whole number >= {min}"
                    ),
                )
            })
    }

    /// Errors when `key` is present and not `expected` (case-insensitive): a
    /// SCALE-Sim feature whose counts this module does not reproduce.
    fn unsupported(
        &self,
        section: &str,
        key: &str,
        expected: &str,
        why: &str,
    ) -> Result<(), SimError> {
        match self.get(section, key) {
            Some((value, line)) if !value.eq_ignore_ascii_case(expected) => Err(SimError::table(
                &self.source,
                format!("line {line}: `{key}: {value}` is not supported ({why}); set it to `{expected}`"),
            )),
            _ => Ok(()),
        }
    }
}

impl ScaleSimConfig {
    pub fn read(path: &std::path::Path) -> Result<ScaleSimConfig, SimError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| SimError::table(&name, format!("cannot read the file: {e}")))?;
        ScaleSimConfig::parse(&name, &text)
    }

    /// Parses a SCALE-Sim `.cfg`; `source` names the file in every error.
    pub fn parse(source: &str, text: &str) -> Result<ScaleSimConfig, SimError> {
        let ini = Ini::parse(source, text)?;
        let arch = "architecture_presets";
        let (df, line) = ini.required(arch, "Dataflow")?;
        let dataflow = Dataflow::parse(&df.to_ascii_lowercase()).ok_or_else(|| {
            SimError::table(
                source,
                format!("line {line}: `Dataflow: {df}` is not one of os, ws, is"),
            )
        })?;
        ini.unsupported(
            "run_presets",
            "InterfaceBandwidth",
            "CALC",
            "USER mode uses SCALE-Sim's bandwidth-limited read buffer, which is not replicated",
        )?;
        ini.unsupported(
            "sparsity",
            "SparsitySupport",
            "false",
            "sparse mappings are not modelled",
        )?;
        for key in ["IfmapCustomLayout", "FilterCustomLayout"] {
            ini.unsupported(
                "layout",
                key,
                "False",
                "custom SRAM layouts are not modelled",
            )?;
        }
        Ok(ScaleSimConfig {
            run_name: ini
                .get("general", "run_name")
                .map_or_else(String::new, |(v, _)| v.to_string()),
            rows: ini.number(arch, "ArrayHeight", 1)?,
            cols: ini.number(arch, "ArrayWidth", 1)?,
            ifmap_kib: ini.number(arch, "IfmapSramSzkB", 1)?,
            filter_kib: ini.number(arch, "FilterSramSzkB", 1)?,
            ofmap_kib: ini.number(arch, "OfmapSramSzkB", 1)?,
            dataflow,
        })
    }
}

/// A layer as SCALE-Sim's operand matrices see it: an unpadded convolution
/// (a GEMM is the 1×K filter over an M×K image), repeated `count` times.
#[derive(Debug, Clone, Copy)]
struct Conv {
    in_w: u64,
    channels: u64,
    filter_w: u64,
    stride: u64,
    out_w: u64,
    gemm: Gemm,
}

impl Conv {
    fn of(op: &Op) -> Option<Conv> {
        let gemm = Gemm::of(op)?;
        let conv = match *op {
            Op::Conv2d {
                in_ch,
                kernel,
                stride,
                padding,
                groups,
                in_hw,
                out_hw,
                ..
            } => Conv {
                in_w: (in_hw[1] + 2 * padding) as u64,
                channels: (in_ch / groups.max(1)) as u64,
                filter_w: kernel[1] as u64,
                stride: stride as u64,
                out_w: out_hw[1] as u64,
                gemm,
            },
            _ => Conv {
                in_w: gemm.k,
                channels: 1,
                filter_w: gemm.k,
                stride: 1,
                out_w: 1,
                gemm,
            },
        };
        Some(conv)
    }

    /// SCALE-Sim's ifmap address of operand element (output pixel `m`, window position `k`).
    fn ifmap(&self, m: u64, k: u64) -> u64 {
        let (oy, ox) = (m / self.out_w, m % self.out_w);
        let row = self.filter_w * self.channels;
        let (fy, rem) = (k / row, k % row);
        let (fx, c) = (rem / self.channels, rem % self.channels);
        ((oy * self.stride + fy) * self.in_w + ox * self.stride + fx) * self.channels + c
    }

    fn filter(&self, k: u64, n: u64) -> u64 {
        n * self.gemm.k + k
    }
}

/// SCALE-Sim's CALC-mode read buffer: counts DRAM fetches.
struct ReadBuffer {
    /// Fetches after which the buffer empties; `None` when a set holds no element
    /// (a buffer under 100 bytes), so SCALE-Sim never completes a set.
    epoch: Option<u64>,
    stamp: std::collections::HashMap<u64, u64>,
    epoch_id: u64,
    in_epoch: u64,
    fetches: u64,
}

impl ReadBuffer {
    fn new(kib: u64) -> ReadBuffer {
        let items_per_set = kib * 1024 / 100;
        ReadBuffer {
            epoch: (items_per_set > 0).then_some(50 * items_per_set),
            stamp: std::collections::HashMap::new(),
            epoch_id: 0,
            in_epoch: 0,
            fetches: 0,
        }
    }

    fn request(&mut self, addr: u64) {
        if self.stamp.insert(addr, self.epoch_id) == Some(self.epoch_id) {
            return;
        }
        self.fetches += 1;
        self.in_epoch += 1;
        if Some(self.in_epoch) == self.epoch {
            self.epoch_id += 1;
            self.in_epoch = 0;
        }
    }
}

/// Visits a `t_len × j_len` block in systolic-skew order: element `(t, j)` is
/// requested in cycle `t + j`, and within a cycle by ascending `j`.
fn skewed(t_len: u64, j_len: u64, mut visit: impl FnMut(u64, u64)) {
    for d in 0..t_len + j_len - 1 {
        let first = d.saturating_sub(t_len - 1);
        for j in first..=d.min(j_len - 1) {
            visit(d - j, j);
        }
    }
}

fn chunk(fold: u64, size: u64, total: u64) -> (u64, u64) {
    let start = fold * size;
    (start, (start + size).min(total) - start)
}

/// DRAM reads of (ifmap, filter) for one repetition.
fn dram_reads(c: &Conv, cfg: &ScaleSimConfig, map: &Mapping) -> (u64, u64) {
    let g = &c.gemm;
    let (r, cl) = (cfg.rows, cfg.cols);
    let mut ifmap = ReadBuffer::new(cfg.ifmap_kib);
    let mut filter = ReadBuffer::new(cfg.filter_kib);
    for fc in 0..map.col_folds {
        for fr in 0..map.row_folds {
            match cfg.dataflow {
                Dataflow::Os => {
                    let (m0, mj) = chunk(fr, r, g.m);
                    skewed(g.k, mj, |k, j| ifmap.request(c.ifmap(m0 + j, k)));
                    let (n0, nj) = chunk(fc, cl, g.n);
                    skewed(g.k, nj, |k, j| filter.request(c.filter(k, n0 + j)));
                }
                Dataflow::Ws => {
                    let (k0, kj) = chunk(fr, r, g.k);
                    skewed(g.m, kj, |m, j| ifmap.request(c.ifmap(m, k0 + j)));
                }
                Dataflow::Is => {
                    let (k0, kj) = chunk(fr, r, g.k);
                    let (m0, mj) = chunk(fc, cl, g.m);
                    // Loaded as a block, top row last.
                    for k in (k0..k0 + kj).rev() {
                        for m in m0..m0 + mj {
                            ifmap.request(c.ifmap(m, k));
                        }
                    }
                    skewed(g.n, kj, |n, j| filter.request(c.filter(k0 + j, n)));
                }
            }
        }
    }
    if cfg.dataflow == Dataflow::Ws {
        // Every filter element is requested exactly once (one fold each).
        return (ifmap.fetches, g.k * g.n);
    }
    (ifmap.fetches, filter.fetches)
}

/// SCALE-Sim's counts for one layer under `cfg`; `None` for elementwise layers,
/// which SCALE-Sim does not run.
pub fn layer_counts(op: &Op, cfg: &ScaleSimConfig) -> Result<Option<LayerCounts>, SimError> {
    let Some(conv) = Conv::of(op) else {
        return Ok(None);
    };
    let g = conv.gemm;
    let map = Mapping::new(&g, cfg.dataflow, cfg.rows, cfg.cols);
    let (ifmap_reads, filter_reads, ofmap_writes) = map.sram_traffic(&g, cfg.dataflow);
    let requests = ifmap_reads.saturating_add(filter_reads);
    if requests > MAX_REPLAY_REQUESTS {
        return Err(SimError::Invalid(format!(
            "replaying SCALE-Sim's DRAM traffic needs {requests} SRAM requests for this layer, \
             more than the {MAX_REPLAY_REQUESTS} allowed; use a larger array or a smaller layer"
        )));
    }
    // SCALE-Sim 3.0.0 adds `rows + cols` per fold to the OS ofmap writes it reports
    // (systolic_compute_os.py writes `shape[0] + shape[1]` where the fold's writes were
    // already counted); reproduced so the counts match its report.
    let reported_writes = match cfg.dataflow {
        Dataflow::Os => ofmap_writes + map.folds() * (cfg.rows + cfg.cols),
        Dataflow::Ws | Dataflow::Is => ofmap_writes,
    };
    let (ifmap_dram, filter_dram) = dram_reads(&conv, cfg, &map);
    let n = g.count;
    Ok(Some(LayerCounts {
        compute_cycles: map.compute_cycles() * n,
        ifmap_sram_reads: ifmap_reads * n,
        filter_sram_reads: filter_reads * n,
        ofmap_sram_writes: reported_writes * n,
        ifmap_dram_reads: ifmap_dram * n,
        filter_dram_reads: filter_dram * n,
        ofmap_dram_writes: ofmap_writes * n,
    }))
}
