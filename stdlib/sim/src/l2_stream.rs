//! The L2 line-address stream of a workload under the project's documented
//! tiling, and its replay through an LRU cache (`cache_lru`). It owns the
//! address layout and the loop order; it never prices an access (`nvm`).
//!
//! Tiling (a documented simple tiling, not a GPU's exact schedule): each layer is
//! computed in output-channel tiles whose weights fit in `tile_bytes` of on-chip
//! memory (a GPU's shared memory). Per tile: read that tile's weights, read the
//! whole input feature map, write that tile's share of the output. So the input
//! is read once per tile, and the L2 keeps it between tiles only when it fits.
//! Layers are laid out one after another; a layer whose input has exactly the
//! previous layer's output size reads that output (the chain of a sequential
//! network), any other input is a fresh region.

use crate::arch::{Arch, Op};
use crate::cache_lru::{Counts, Geometry, LruCache};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, OnceLock};

/// Past this many accesses the replay samples sets (see [`L2Stream::replay`]).
pub const MAX_SIMULATED_ACCESSES: f64 = 2_097_152.0;

/// Replays kept per process: a sweep prices the same stream on the same SRAM
/// baseline many times. Cleared when full; a replay is deterministic.
const MEMO_ENTRIES: usize = 4096;

type MemoKey = (u64, u64, usize);

fn memo() -> &'static Mutex<HashMap<MemoKey, Counts>> {
    static MEMO: OnceLock<Mutex<HashMap<MemoKey, Counts>>> = OnceLock::new();
    MEMO.get_or_init(|| Mutex::new(HashMap::new()))
}

/// `lines` cache lines starting at line `base`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Region {
    pub base: u64,
    pub lines: u64,
}

/// One layer's regions and how many output-channel tiles it is computed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LayerAccess {
    pub ifmap: Region,
    pub weights: Region,
    pub ofmap: Region,
    pub tiles: u64,
}

impl LayerAccess {
    fn reads(&self) -> u64 {
        self.weights.lines + self.tiles * self.ifmap.lines
    }
}

/// A workload's L2 accesses in program order.
#[derive(Debug, Clone, PartialEq)]
pub struct L2Stream {
    pub layers: Vec<LayerAccess>,
    pub line_bytes: f64,
}

fn lines_of(bytes: f64, line_bytes: f64) -> u64 {
    (bytes / line_bytes).ceil().max(0.0) as u64
}

impl L2Stream {
    /// The stream of `arch` for `batch` inputs (activations scale with it,
    /// weights are read once per tile per batch).
    pub fn of_arch(arch: &Arch, line_bytes: f64, batch: f64, tile_bytes: f64) -> L2Stream {
        let mut next = 0u64;
        let mut region = |lines: u64| {
            let r = Region { base: next, lines };
            next += lines;
            r
        };
        let mut previous_out: Option<Region> = None;
        let mut layers = Vec::with_capacity(arch.layers.len());
        for l in &arch.layers {
            let act = f64::from(l.act_bits) / 8.0 * batch;
            let (i, w, o) = operands(&l.op);
            let (i_lines, o_lines) = (lines_of(i * act, line_bytes), lines_of(o * act, line_bytes));
            let w_bytes = w * f64::from(l.weight_bits) / 8.0;
            let ifmap = match previous_out {
                Some(p) if p.lines == i_lines => p,
                _ => region(i_lines),
            };
            let weights = region(lines_of(w_bytes, line_bytes));
            let ofmap = region(o_lines);
            previous_out = Some(ofmap);
            layers.push(LayerAccess {
                ifmap,
                weights,
                ofmap,
                tiles: (w_bytes / tile_bytes).ceil().max(1.0) as u64,
            });
        }
        L2Stream { layers, line_bytes }
    }

    pub fn reads(&self) -> f64 {
        self.layers.iter().map(|l| l.reads() as f64).sum()
    }

    pub fn writes(&self) -> f64 {
        self.layers.iter().map(|l| l.ofmap.lines as f64).sum()
    }

    /// Replays the stream through an LRU cache of `capacity_bytes` with `ways`.
    /// Streams longer than [`MAX_SIMULATED_ACCESSES`] are set-sampled: only the
    /// sets whose index is a multiple of `k` (a power of two dividing the number
    /// of sets) are simulated, and the counts are scaled by `k`. Sets are
    /// independent under LRU, so this is exact for the sampled sets; the error is
    /// how far they differ from the average set.
    pub fn replay(&self, capacity_bytes: f64, ways: usize) -> Counts {
        let key = (self.fingerprint(), capacity_bytes.to_bits(), ways);
        let known = memo().lock().ok().and_then(|m| m.get(&key).copied());
        if let Some(counts) = known {
            return counts;
        }
        let counts = self.simulate(capacity_bytes, ways);
        if let Ok(mut m) = memo().lock() {
            if m.len() >= MEMO_ENTRIES {
                m.clear();
            }
            m.insert(key, counts);
        }
        counts
    }

    fn fingerprint(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.layers.hash(&mut h);
        self.line_bytes.to_bits().hash(&mut h);
        h.finish()
    }

    fn simulate(&self, capacity_bytes: f64, ways: usize) -> Counts {
        let geometry = Geometry::of_capacity(capacity_bytes, self.line_bytes, ways);
        let k = sampling_stride(self.reads() + self.writes(), geometry.sets);
        let mut cache = LruCache::new(geometry);
        let mut counts = Counts::default();
        let mut touch = |r: Region, write: bool| {
            for line in sampled(r, k, geometry.sets as u64) {
                counts.record(write, cache.access(line, write));
            }
        };
        for l in &self.layers {
            for t in 0..l.tiles {
                touch(slice(l.weights, t, l.tiles), false);
                touch(l.ifmap, false);
                touch(slice(l.ofmap, t, l.tiles), true);
            }
        }
        counts.scaled(k as f64)
    }
}

/// The `t`-th of `n` near-equal parts of a region.
fn slice(r: Region, t: u64, n: u64) -> Region {
    let start = r.lines * t / n;
    let end = r.lines * (t + 1) / n;
    Region {
        base: r.base + start,
        lines: end - start,
    }
}

/// The largest power of two `k` with `accesses / k <= MAX_SIMULATED_ACCESSES`,
/// capped so that `k` divides `sets` and at least 16 sets are simulated.
fn sampling_stride(accesses: f64, sets: usize) -> u64 {
    let mut k = 1u64;
    while accesses / k as f64 > MAX_SIMULATED_ACCESSES
        && (sets as u64).is_multiple_of(2 * k)
        && sets as u64 / (2 * k) >= 16
    {
        k *= 2;
    }
    k
}

/// The lines of `r` whose set index (line mod `sets`) is a multiple of `k`;
/// `k` divides `sets`, so that is the lines that are multiples of `k`.
fn sampled(r: Region, k: u64, sets: u64) -> impl Iterator<Item = u64> {
    debug_assert!(sets.is_multiple_of(k));
    let first = r.base.div_ceil(k) * k;
    (first..r.base + r.lines).step_by(k as usize)
}

/// (input, weight, output) element counts of one layer.
fn operands(op: &Op) -> (f64, f64, f64) {
    match *op {
        Op::Conv2d {
            in_ch,
            out_ch,
            in_hw,
            out_hw,
            ..
        } => (
            (in_ch * in_hw[0] * in_hw[1]) as f64,
            op.weights() as f64,
            (out_ch * out_hw[0] * out_hw[1]) as f64,
        ),
        Op::Linear {
            in_features,
            out_features,
            tokens,
        } => (
            (tokens * in_features) as f64,
            op.weights() as f64,
            (tokens * out_features) as f64,
        ),
        Op::Matmul { m, k, n, count } => (
            ((m * k + k * n) * count) as f64,
            0.0,
            (m * n * count) as f64,
        ),
        Op::Elementwise { elements } => (elements as f64, 0.0, elements as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::{sampled, sampling_stride, slice, Region};

    #[test]
    fn slices_cover_a_region_once() {
        let r = Region { base: 10, lines: 7 };
        let parts: Vec<Region> = (0..3).map(|t| slice(r, t, 3)).collect();
        assert_eq!(parts.iter().map(|p| p.lines).sum::<u64>(), 7);
        assert_eq!(parts[0].base, 10);
        assert_eq!(parts[2].base + parts[2].lines, 17);
    }

    #[test]
    fn sampling_keeps_multiples_of_the_stride() {
        let lines: Vec<u64> = sampled(Region { base: 5, lines: 10 }, 4, 64).collect();
        assert_eq!(lines, [8, 12]);
        assert_eq!(sampling_stride(1000.0, 1024), 1);
        let k = sampling_stride(64.0 * super::MAX_SIMULATED_ACCESSES, 1 << 16);
        assert_eq!(k, 64);
        assert_eq!(sampling_stride(1e12, 48), 2, "48 sets: 24 sampled, not 12");
    }
}
