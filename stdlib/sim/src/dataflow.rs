//! How one layer maps onto a rows×cols systolic array under a dataflow, with
//! SCALE-Sim v3's stall-free compute-cycle count (PyPI `scalesim` 3.0.0,
//! `compute/systolic_compute_{os,ws,is}.py`). Every layer is first written as
//! SCALE-Sim's operand matrices: ifmap `M×K`, filter `K×N`, ofmap `M×N`, with
//! `M` output pixels (or rows), `K` the convolution window (or inner
//! dimension) and `N` filters (or output columns).
//!
//! | dataflow | spatial rows `Sr` | spatial cols `Sc` | temporal `T` | cycles per fold |
//! | --- | --- | --- | --- | --- |
//! | `os` | M | N | K | `T + R + C - 2` |
//! | `ws` | K | N | M | `2R + C + T - 2` |
//! | `is` | K | M | N | `2R + C + T - 2` |
//!
//! Folds are `ceil(Sr/R) * ceil(Sc/C)`; SCALE-Sim's demand matrices hold
//! `folds * cycles_per_fold` lines and its stall-free `total_cycles` is one less.
//! Pure arithmetic: no memory, energy or area here.

use crate::arch::Op;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dataflow {
    /// Output stationary.
    Os,
    /// Weight stationary.
    Ws,
    /// Input stationary.
    Is,
}

impl Dataflow {
    pub const NAMES: &'static [&'static str] = &["os", "ws", "is"];

    pub fn parse(name: &str) -> Option<Dataflow> {
        match name {
            "os" => Some(Dataflow::Os),
            "ws" => Some(Dataflow::Ws),
            "is" => Some(Dataflow::Is),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dataflow::Os => "os",
            Dataflow::Ws => "ws",
            Dataflow::Is => "is",
        }
    }
}

/// One matrix product in SCALE-Sim's terms, repeated `count` times (groups of a
/// grouped convolution, heads of an attention matmul).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gemm {
    /// Output pixels (convolution) or output rows.
    pub m: u64,
    /// Filters (convolution) or output columns.
    pub n: u64,
    /// Convolution window `kh*kw*in_ch/groups`, or the inner dimension.
    pub k: u64,
    pub count: u64,
}

impl Gemm {
    /// The products a layer runs on the array; `None` for elementwise work.
    pub fn of(op: &Op) -> Option<Gemm> {
        let g = match *op {
            Op::Conv2d {
                in_ch,
                out_ch,
                kernel,
                groups,
                out_hw,
                ..
            } => {
                let groups = groups.max(1);
                Gemm {
                    m: (out_hw[0] * out_hw[1]) as u64,
                    n: (out_ch / groups) as u64,
                    k: (kernel[0] * kernel[1] * (in_ch / groups)) as u64,
                    count: groups as u64,
                }
            }
            Op::Linear {
                in_features,
                out_features,
                tokens,
            } => Gemm {
                m: tokens as u64,
                n: out_features as u64,
                k: in_features as u64,
                count: 1,
            },
            Op::Matmul { m, k, n, count } => Gemm {
                m: m as u64,
                n: n as u64,
                k: k as u64,
                count: count as u64,
            },
            Op::Elementwise { .. } => return None,
        };
        (g.m > 0 && g.n > 0 && g.k > 0 && g.count > 0).then_some(g)
    }

    pub fn macs(&self) -> u64 {
        self.m * self.n * self.k * self.count
    }
}

/// The mapping of one `Gemm` onto the array, for one of its `count` repetitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    pub spatial_rows: u64,
    pub spatial_cols: u64,
    pub temporal: u64,
    pub row_folds: u64,
    pub col_folds: u64,
    pub cycles_per_fold: u64,
}

impl Mapping {
    pub fn new(g: &Gemm, dataflow: Dataflow, rows: u64, cols: u64) -> Mapping {
        let (sr, sc, t) = match dataflow {
            Dataflow::Os => (g.m, g.n, g.k),
            Dataflow::Ws => (g.k, g.n, g.m),
            Dataflow::Is => (g.k, g.m, g.n),
        };
        let cycles_per_fold = match dataflow {
            Dataflow::Os => t + rows + cols - 2,
            Dataflow::Ws | Dataflow::Is => 2 * rows + cols + t - 2,
        };
        Mapping {
            spatial_rows: sr,
            spatial_cols: sc,
            temporal: t,
            row_folds: sr.div_ceil(rows),
            col_folds: sc.div_ceil(cols),
            cycles_per_fold,
        }
    }

    pub fn folds(&self) -> u64 {
        self.row_folds * self.col_folds
    }

    /// SCALE-Sim's stall-free cycles for one repetition.
    pub fn compute_cycles(&self) -> u64 {
        self.folds() * self.cycles_per_fold - 1
    }

    /// SCALE-Sim's SRAM requests for one repetition: (ifmap reads, filter reads,
    /// ofmap writes). Stationary operands are read once; the moving ones once per
    /// fold across them; partial sums are written once per row fold under ws and is.
    pub fn sram_traffic(&self, g: &Gemm, dataflow: Dataflow) -> (u64, u64, u64) {
        let (mk, kn, mn) = (g.m * g.k, g.k * g.n, g.m * g.n);
        match dataflow {
            Dataflow::Os => (self.col_folds * mk, self.row_folds * kn, mn),
            Dataflow::Ws => (self.col_folds * mk, kn, self.row_folds * mn),
            Dataflow::Is => (mk, self.col_folds * kn, self.row_folds * mn),
        }
    }
}
