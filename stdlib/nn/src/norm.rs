//! Normalization: `LayerNorm` over the last dimension of rows or tokens, and
//! `BatchNorm2d` per channel of channel-major images `[C, N, H, W]` with running
//! statistics. Both expose their scale and shift as separate params so a
//! fine-tuning method can freeze the scale and train only the shift, and
//! BatchNorm can freeze its statistics (MobileTL's inner norms).

use crate::init::constant;
use crate::layer::{cached, describe_elementwise, join, Layer, Mode, Tensor};
use crate::param::{Param, ParamKind};
use pipe_sim::arch;
use rayon::prelude::*;

const EPS: f32 = 1e-5;

/// What normalization kept for backward: the normalized input and the inverse
/// standard deviation per normalized group.
struct Saved {
    xhat: Vec<f32>,
    rstd: Vec<f32>,
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

/// (mean, biased variance) of a slice.
fn moments(x: &[f32]) -> (f32, f32) {
    let n = x.len() as f32;
    let mean = x.iter().sum::<f32>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    (mean, var)
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
        xhat.par_chunks_mut(d)
            .zip(rstd.par_iter_mut())
            .for_each(|(row, r)| {
                let (mean, var) = moments(row);
                *r = 1.0 / (var + EPS).sqrt();
                row.iter_mut().for_each(|v| *v = (*v - mean) * *r);
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
        dx.par_chunks_mut(d)
            .zip(xhat.par_chunks(d))
            .zip(rstd.par_iter())
            .for_each(|((row, xh), &r)| {
                row.iter_mut().zip(g).for_each(|(v, g)| *v *= g);
                normalized_backward(row, xh, r);
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
        xhat.par_chunks_mut(plane)
            .zip(stats.par_iter_mut())
            .enumerate()
            .for_each(|(c, (ch, s))| {
                *s = if batch { moments(ch) } else { (rm[c], rv[c]) };
                let r = 1.0 / (s.1 + EPS).sqrt();
                ch.iter_mut().for_each(|v| *v = (*v - s.0) * r);
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
        let sums: Vec<(f32, f32)> = dy
            .data
            .par_chunks(plane)
            .enumerate()
            .map(|(c, dy)| {
                let dg = match xhat.get(c * plane..(c + 1) * plane) {
                    Some(xh) => dy.iter().zip(xh).map(|(d, x)| d * x).sum(),
                    None => 0.0,
                };
                (dg, dy.iter().sum())
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
        dx.par_chunks_mut(plane).enumerate().for_each(|(c, ch)| {
            ch.iter_mut().for_each(|v| *v *= g[c]);
            if frozen {
                ch.iter_mut().for_each(|v| *v *= rstd[c]);
            } else {
                normalized_backward(ch, &xhat[c * plane..(c + 1) * plane], rstd[c]);
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
