//! Normalization: `LayerNorm` over the last dimension of rows or tokens, and
//! `BatchNorm2d` per channel of channel-major images `[C, N, H, W]` with running
//! statistics. Both expose their scale and shift as separate params so a
//! fine-tuning method can freeze the scale and train only the shift, and
//! BatchNorm can freeze its statistics (MobileTL's inner norms).

use crate::init::constant;
use crate::layer::{cached, describe_elementwise, join, Layer, Mode, Tensor};
use crate::param::{Param, ParamKind};
use crate::row_sums;
use pipe_sim::arch;
use rayon::prelude::*;

const EPS: f32 = 1e-5;

/// What normalization kept for backward: the normalized input and the inverse
/// standard deviation per normalized group.
struct Saved {
    xhat: Vec<f32>,
    rstd: Vec<f32>,
}

/// dx for y = xhat·g + b where xhat was normalized with batch statistics, for
/// up to GROUP planes (BatchNorm channels or LayerNorm rows) at once: per plane
/// rstd·(dxhat − mean(dxhat) − xhat·mean(dxhat·xhat)).
fn normalized_backward_group(dxhat: &mut [f32], xhat: &[f32], plane: usize, rstd: &[f32]) {
    let n = plane as f32;
    let (sum, dot) = row_sums::sums::<true>(group_rows(dxhat, plane), group_rows(xhat, plane));
    for (j, (d, x)) in dxhat.chunks_mut(plane).zip(xhat.chunks(plane)).enumerate() {
        let (mean, mean_dot) = (sum[j] / n, dot[j] / n);
        for (d, x) in d.iter_mut().zip(x) {
            *d = rstd[j] * (*d - mean - x * mean_dot);
        }
    }
}

/// BatchNorm channels or LayerNorm rows whose reductions run in one loop
/// (`row_sums`): the bits are those of one at a time (the unit tests compare
/// them).
const GROUP: usize = row_sums::ROWS;

/// Up to GROUP equal-length channel planes, padded to GROUP by repeating the
/// last one (its extra sums are computed and ignored), so the loops below
/// have a constant width the compiler unrolls into registers.
fn group_rows(planes: &[f32], plane: usize) -> [&[f32]; GROUP] {
    let count = planes.len() / plane;
    std::array::from_fn(|j| &planes[j.min(count - 1) * plane..][..plane])
}

/// Per row, (mean, biased variance), each sum left to right like
/// `Iterator::sum`.
fn group_moments(x: [&[f32]; GROUP]) -> [(f32, f32); GROUP] {
    let n = x[0].len() as f32;
    let (sum, _) = row_sums::sums::<false>(x, x);
    let mean = sum.map(|s| s / n);
    let sq = row_sums::squared_deviations(x, mean);
    std::array::from_fn(|j| (mean[j], sq[j] / n))
}

pub struct LayerNorm {
    pub dim: usize,
    pub weight: Param,
    pub bias: Param,
    saved: Option<Saved>,
}

impl LayerNorm {
    pub fn new(dim: usize) -> LayerNorm {
        LayerNorm {
            dim,
            weight: constant(&[dim], 1.0, ParamKind::NoDecay),
            bias: constant(&[dim], 0.0, ParamKind::NoDecay),
            saved: None,
        }
    }
}

impl Layer for LayerNorm {
    fn forward(&mut self, x: Tensor, mode: Mode) -> Tensor {
        let d = self.dim;
        let rows = x.len() / d;
        let mut xhat = x.data;
        let mut rstd = vec![0.0; rows];
        xhat.par_chunks_mut(GROUP * d)
            .zip(rstd.par_chunks_mut(GROUP))
            .for_each(|(rows, rs)| {
                let stats = group_moments(group_rows(rows, d));
                for ((row, r), (mean, var)) in rows.chunks_mut(d).zip(rs).zip(stats) {
                    *r = 1.0 / (var + EPS).sqrt();
                    row.iter_mut().for_each(|v| *v = (*v - mean) * *r);
                }
            });
        let (g, b) = (&self.weight.value.data, &self.bias.value.data);
        let mut y = xhat.clone();
        y.par_chunks_mut(d).for_each(|row| {
            for ((v, g), b) in row.iter_mut().zip(g).zip(b) {
                *v = *v * g + b;
            }
        });
        if mode == Mode::Train {
            self.saved = Some(Saved { xhat, rstd });
        }
        Tensor::from_vec(&x.shape, y)
    }

    fn backward(&mut self, dy: Tensor) -> Tensor {
        let Saved { xhat, rstd } = cached(&mut self.saved, "LayerNorm");
        let d = self.dim;
        if self.weight.trainable() {
            for (dy, xh) in dy.data.chunks_exact(d).zip(xhat.chunks_exact(d)) {
                for ((g, dy), xh) in self.weight.grad.iter_mut().zip(dy).zip(xh) {
                    *g += dy * xh;
                }
            }
        }
        if self.bias.trainable() {
            for row in dy.data.chunks_exact(d) {
                self.bias.accumulate(row);
            }
        }
        let g = &self.weight.value.data;
        let mut dx = dy.data;
        dx.par_chunks_mut(GROUP * d)
            .zip(xhat.par_chunks(GROUP * d))
            .zip(rstd.par_chunks(GROUP))
            .for_each(|((rows, xh), rs)| {
                for row in rows.chunks_mut(d) {
                    row.iter_mut().zip(g).for_each(|(v, g)| *v *= g);
                }
                normalized_backward_group(rows, xh, d, rs);
            });
        Tensor::from_vec(&dy.shape, dx)
    }

    fn visit(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param)) {
        f(&join(prefix, "weight"), &mut self.weight);
        f(&join(prefix, "bias"), &mut self.bias);
    }

    fn describe(&self, name: &str, input: &[usize], out: &mut Vec<arch::Layer>) -> Vec<usize> {
        describe_elementwise(name, input, out)
    }

    fn clear_cache(&mut self) {
        self.saved = None;
    }

    crate::layer_casts!();
}

pub struct BatchNorm2d {
    pub channels: usize,
    pub weight: Param,
    pub bias: Param,
    pub running_mean: Param,
    pub running_var: Param,
    /// PyTorch's default 0.1.
    pub momentum: f32,
    /// Normalize with the running statistics in training too, and never update
    /// them (MobileTL's frozen inner norms).
    pub freeze_stats: bool,
    saved: Option<Saved>,
}

impl BatchNorm2d {
    pub fn new(channels: usize) -> BatchNorm2d {
        BatchNorm2d {
            channels,
            weight: constant(&[channels], 1.0, ParamKind::NoDecay),
            bias: constant(&[channels], 0.0, ParamKind::NoDecay),
            running_mean: constant(&[channels], 0.0, ParamKind::Buffer),
            running_var: constant(&[channels], 1.0, ParamKind::Buffer),
            momentum: 0.1,
            freeze_stats: false,
            saved: None,
        }
    }

    fn batch_stats(&self, mode: Mode) -> bool {
        mode == Mode::Train && !self.freeze_stats
    }

    /// Frozen statistics and scale: only the shift can train, and backward
    /// keeps no activation (MobileTL's inner norms).
    pub fn shift_only(&self) -> bool {
        self.freeze_stats && !self.weight.trainable()
    }
}

impl Layer for BatchNorm2d {
    fn forward(&mut self, x: Tensor, mode: Mode) -> Tensor {
        let plane = x.len() / self.channels;
        let batch = self.batch_stats(mode);
        let mut xhat = x.data;
        let mut stats = vec![(0.0f32, 0.0f32); self.channels];
        let (rm, rv) = (&self.running_mean.value.data, &self.running_var.value.data);
        xhat.par_chunks_mut(GROUP * plane)
            .zip(stats.par_chunks_mut(GROUP))
            .enumerate()
            .for_each(|(gi, (chs, st))| {
                if batch {
                    let m = group_moments(group_rows(chs, plane));
                    st.copy_from_slice(&m[..st.len()]);
                } else {
                    for (j, s) in st.iter_mut().enumerate() {
                        *s = (rm[gi * GROUP + j], rv[gi * GROUP + j]);
                    }
                }
                for (ch, s) in chs.chunks_mut(plane).zip(st.iter()) {
                    let r = 1.0 / (s.1 + EPS).sqrt();
                    ch.iter_mut().for_each(|v| *v = (*v - s.0) * r);
                }
            });
        if batch {
            let unbias = plane as f32 / (plane.max(2) - 1) as f32;
            let m = self.momentum;
            for (c, &(mean, var)) in stats.iter().enumerate() {
                let rm = &mut self.running_mean.value.data[c];
                *rm = (1.0 - m) * *rm + m * mean;
                let rv = &mut self.running_var.value.data[c];
                *rv = (1.0 - m) * *rv + m * var * unbias;
            }
        }
        let (g, b) = (&self.weight.value.data, &self.bias.value.data);
        // With frozen statistics and a frozen scale backward needs no activation
        // (dx = dy·γ·rstd, dβ = Σdy): normalize in place and keep only rstd.
        let keep_xhat = mode == Mode::Train && !self.shift_only();
        let mut y = if keep_xhat {
            xhat.clone()
        } else {
            std::mem::take(&mut xhat)
        };
        y.par_chunks_mut(plane).enumerate().for_each(|(c, ch)| {
            ch.iter_mut().for_each(|v| *v = *v * g[c] + b[c]);
        });
        if mode == Mode::Train {
            let rstd = stats.iter().map(|s| 1.0 / (s.1 + EPS).sqrt()).collect();
            self.saved = Some(Saved { xhat, rstd });
        }
        Tensor::from_vec(&x.shape, y)
    }

    fn backward(&mut self, dy: Tensor) -> Tensor {
        let Saved { xhat, rstd } = cached(&mut self.saved, "BatchNorm2d");
        let plane = dy.len() / self.channels;
        let has_xhat = !xhat.is_empty();
        let sums: Vec<(f32, f32)> = dy
            .data
            .par_chunks(GROUP * plane)
            .enumerate()
            .flat_map_iter(|(gi, dys)| {
                let rows = dys.len() / plane;
                let dy_rows = group_rows(dys, plane);
                let (db, dg) = if has_xhat {
                    let xh = &xhat[gi * GROUP * plane..][..rows * plane];
                    row_sums::sums::<true>(dy_rows, group_rows(xh, plane))
                } else {
                    (row_sums::sums::<false>(dy_rows, dy_rows).0, [0.0; GROUP])
                };
                (0..rows).map(move |j| (dg[j], db[j]))
            })
            .collect();
        for (c, (dg, db)) in sums.into_iter().enumerate() {
            if self.weight.trainable() {
                self.weight.grad[c] += dg;
            }
            if self.bias.trainable() {
                self.bias.grad[c] += db;
            }
        }
        let g = &self.weight.value.data;
        let frozen = self.freeze_stats;
        let mut dx = dy.data;
        dx.par_chunks_mut(GROUP * plane)
            .enumerate()
            .for_each(|(gi, chs)| {
                let c0 = gi * GROUP;
                for (j, ch) in chs.chunks_mut(plane).enumerate() {
                    ch.iter_mut().for_each(|v| *v *= g[c0 + j]);
                    if frozen {
                        ch.iter_mut().for_each(|v| *v *= rstd[c0 + j]);
                    }
                }
                if !frozen {
                    let xh = &xhat[c0 * plane..][..chs.len()];
                    normalized_backward_group(chs, xh, plane, &rstd[c0..]);
                }
            });
        Tensor::from_vec(&dy.shape, dx)
    }

    fn visit(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param)) {
        f(&join(prefix, "weight"), &mut self.weight);
        f(&join(prefix, "bias"), &mut self.bias);
        f(&join(prefix, "running_mean"), &mut self.running_mean);
        f(&join(prefix, "running_var"), &mut self.running_var);
    }

    fn describe(&self, name: &str, input: &[usize], out: &mut Vec<arch::Layer>) -> Vec<usize> {
        describe_elementwise(name, input, out)
    }

    fn clear_cache(&mut self) {
        self.saved = None;
    }

    crate::layer_casts!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: f32) -> Vec<f32> {
        (0..len)
            .map(|i| (i as f32 * seed).sin() * 3.0 + 0.5)
            .collect()
    }

    /// (mean, biased variance) of a slice.
    fn moments(x: &[f32]) -> (f32, f32) {
        let n = x.len() as f32;
        let mean = x.iter().sum::<f32>() / n;
        let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
        (mean, var)
    }

    /// dx for y = xhat·g + b where xhat was normalized with batch statistics over
    /// `dxhat.len()` values: rstd·(dxhat − mean(dxhat) − xhat·mean(dxhat·xhat)).
    fn normalized_backward(dxhat: &mut [f32], xhat: &[f32], rstd: f32) {
        let n = dxhat.len() as f32;
        let mean = dxhat.iter().sum::<f32>() / n;
        let mean_dot = dxhat.iter().zip(xhat).map(|(d, x)| d * x).sum::<f32>() / n;
        for (d, x) in dxhat.iter_mut().zip(xhat) {
            *d = rstd * (*d - mean - x * mean_dot);
        }
    }

    /// BatchNorm one channel at a time with plain left-to-right sums: the
    /// arithmetic the grouped loops must reproduce bit for bit.
    fn reference(bn: &BatchNorm2d, x: &[f32], dy: &[f32], plane: usize) -> [Vec<f32>; 4] {
        let (g, b) = (&bn.weight.value.data, &bn.bias.value.data);
        let (mut y, mut dx, mut dg, mut db) = (vec![], vec![], vec![], vec![]);
        for c in 0..bn.channels {
            let ch = &x[c * plane..][..plane];
            let (mean, var) = if bn.freeze_stats {
                (bn.running_mean.value.data[c], bn.running_var.value.data[c])
            } else {
                moments(ch)
            };
            let r = 1.0 / (var + EPS).sqrt();
            let xhat: Vec<f32> = ch.iter().map(|v| (v - mean) * r).collect();
            y.extend(xhat.iter().map(|v| v * g[c] + b[c]));
            let dyc = &dy[c * plane..][..plane];
            dg.push(dyc.iter().zip(&xhat).map(|(d, x)| d * x).sum());
            db.push(dyc.iter().sum());
            let mut d: Vec<f32> = dyc.iter().map(|v| v * g[c]).collect();
            if bn.freeze_stats {
                d.iter_mut().for_each(|v| *v *= r);
            } else {
                normalized_backward(&mut d, &xhat, r);
            }
            dx.extend(d);
        }
        [y, dx, dg, db]
    }

    #[test]
    fn grouped_batchnorm_matches_one_channel_at_a_time_bit_for_bit() {
        let (channels, shape) = (11, [11, 3, 5, 7]);
        let plane = 3 * 5 * 7;
        for frozen in [false, true] {
            let mut bn = BatchNorm2d::new(channels);
            bn.weight.value.data = values(channels, 0.7);
            bn.bias.value.data = values(channels, 1.3);
            bn.running_mean.value.data = values(channels, 0.2);
            bn.running_var.value.data = values(channels, 0.4).iter().map(|v| v.abs()).collect();
            bn.freeze_stats = frozen;
            let x = values(channels * plane, 0.013);
            let dy = values(channels * plane, 0.029);
            let want = reference(&bn, &x, &dy, plane);
            let y = bn.forward(Tensor::from_vec(&shape, x.clone()), Mode::Train);
            let dx = bn.backward(Tensor::from_vec(&shape, dy.clone()));
            assert!(y.data == want[0], "forward, frozen: {frozen}");
            assert!(dx.data == want[1], "input gradient, frozen: {frozen}");
            assert!(
                bn.weight.grad == want[2],
                "scale gradient, frozen: {frozen}"
            );
            assert!(bn.bias.grad == want[3], "shift gradient, frozen: {frozen}");
        }
    }

    #[test]
    fn grouped_layernorm_matches_one_row_at_a_time_bit_for_bit() {
        let (rows, d) = (13, 24);
        let mut ln = LayerNorm::new(d);
        ln.weight.value.data = values(d, 0.7);
        ln.bias.value.data = values(d, 1.3);
        let x = values(rows * d, 0.013);
        let dy = values(rows * d, 0.029);
        let (g, b) = (ln.weight.value.data.clone(), ln.bias.value.data.clone());
        let (mut want_y, mut want_dx) = (vec![], vec![]);
        for (row, dyr) in x.chunks(d).zip(dy.chunks(d)) {
            let (mean, var) = moments(row);
            let r = 1.0 / (var + EPS).sqrt();
            let xhat: Vec<f32> = row.iter().map(|v| (v - mean) * r).collect();
            want_y.extend(xhat.iter().zip(&g).zip(&b).map(|((v, g), b)| v * g + b));
            let mut dxr: Vec<f32> = dyr.iter().zip(&g).map(|(v, g)| v * g).collect();
            normalized_backward(&mut dxr, &xhat, r);
            want_dx.extend(dxr);
        }
        let y = ln.forward(Tensor::from_vec(&[rows, d], x), Mode::Train);
        let dx = ln.backward(Tensor::from_vec(&[rows, d], dy));
        assert!(y.data == want_y, "forward");
        assert!(dx.data == want_dx, "input gradient");
    }
}
