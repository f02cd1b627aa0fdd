//! Pooling on channel-major images `[C, N, H, W]`: max and average pooling
//! with a square window, and global average pooling to rows `[N, C]`.

use crate::layer::{arch_layer, cached, Layer, Mode, Tensor};
use pipe_sim::arch;
use rayon::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    Max,
    Avg,
}

/// Window pooling without padding; windows that would cross the border are
/// dropped (floor), like PyTorch's default.
pub struct Pool2d {
    pub kind: PoolKind,
    pub kernel: usize,
    pub stride: usize,
    /// Max: the flat input index of each output's winner. Avg: empty.
    saved: Option<(Vec<u32>, [usize; 4])>,
}

impl Pool2d {
    pub fn new(kind: PoolKind, kernel: usize, stride: usize) -> Pool2d {
        Pool2d {
            kind,
            kernel,
            stride,
            saved: None,
        }
    }

    fn out_side(&self, side: usize) -> usize {
        side.saturating_sub(self.kernel) / self.stride + 1
    }
}

impl Layer for Pool2d {
    fn forward(&mut self, x: Tensor, mode: Mode) -> Tensor {
        let [c, n, h, w] = [x.shape[0], x.shape[1], x.shape[2], x.shape[3]];
        let (oh, ow, k, s) = (self.out_side(h), self.out_side(w), self.kernel, self.stride);
        let mut y = vec![0.0; c * n * oh * ow];
        let mut arg = vec![
            0u32;
            if self.kind == PoolKind::Max {
                y.len()
            } else {
                0
            }
        ];
        let kind = self.kind;
        let planes = y.par_chunks_mut(oh * ow).enumerate();
        if kind == PoolKind::Max {
            planes
                .zip(arg.par_chunks_mut(oh * ow))
                .for_each(|((pi, out), arg)| {
                    let base = pi * h * w;
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let mut best = (f32::NEG_INFINITY, 0);
                            for ky in 0..k {
                                for kx in 0..k {
                                    let i = base + (oy * s + ky) * w + ox * s + kx;
                                    if x.data[i] > best.0 {
                                        best = (x.data[i], i);
                                    }
                                }
                            }
                            out[oy * ow + ox] = best.0;
                            arg[oy * ow + ox] = best.1 as u32;
                        }
                    }
                });
        } else {
            let inv = 1.0 / (k * k) as f32;
            planes.for_each(|(pi, out)| {
                let base = pi * h * w;
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut acc = 0.0;
                        for ky in 0..k {
                            let row = base + (oy * s + ky) * w + ox * s;
                            acc += x.data[row..row + k].iter().sum::<f32>();
                        }
                        out[oy * ow + ox] = acc * inv;
                    }
                }
            });
        }
        if mode == Mode::Train {
            self.saved = Some((arg, [c, n, h, w]));
        }
        Tensor::from_vec(&[c, n, oh, ow], y)
    }

    fn backward(&mut self, dy: Tensor) -> Tensor {
        let (arg, shape) = cached(&mut self.saved, "Pool2d");
        let mut dx = Tensor::zeros(&shape);
        if self.kind == PoolKind::Max {
            for (&i, &d) in arg.iter().zip(&dy.data) {
                dx.data[i as usize] += d;
            }
            return dx;
        }
        let [_, _, h, w] = shape;
        let (oh, ow, k, s) = (dy.shape[2], dy.shape[3], self.kernel, self.stride);
        let inv = 1.0 / (k * k) as f32;
        dx.data
            .par_chunks_mut(h * w)
            .zip(dy.data.par_chunks(oh * ow))
            .for_each(|(dxp, dyp)| {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let d = dyp[oy * ow + ox] * inv;
                        for ky in 0..k {
                            let row = (oy * s + ky) * w + ox * s;
                            dxp[row..row + k].iter_mut().for_each(|v| *v += d);
                        }
                    }
                }
            });
        dx
    }

    fn describe(&self, name: &str, input: &[usize], out: &mut Vec<arch::Layer>) -> Vec<usize> {
        let shape = vec![input[0], self.out_side(input[1]), self.out_side(input[2])];
        let elements = shape.iter().product();
        out.push(arch_layer(name, arch::Op::Elementwise { elements }));
        shape
    }

    fn clear_cache(&mut self) {
        self.saved = None;
    }

    crate::layer_casts!();
}

/// `[C, N, H, W]` to rows `[N, C]` of per-channel means.
#[derive(Default)]
pub struct GlobalAvgPool {
    saved: Option<[usize; 4]>,
}

impl GlobalAvgPool {
    pub fn new() -> GlobalAvgPool {
        GlobalAvgPool::default()
    }
}

impl Layer for GlobalAvgPool {
    fn forward(&mut self, x: Tensor, mode: Mode) -> Tensor {
        let [c, n, h, w] = [x.shape[0], x.shape[1], x.shape[2], x.shape[3]];
        let hw = h * w;
        let mut y = vec![0.0; n * c];
        for (pi, plane) in x.data.chunks_exact(hw).enumerate() {
            let (ch, b) = (pi / n, pi % n);
            y[b * c + ch] = plane.iter().sum::<f32>() / hw as f32;
        }
        if mode == Mode::Train {
            self.saved = Some([c, n, h, w]);
        }
        Tensor::from_vec(&[n, c], y)
    }

    fn backward(&mut self, dy: Tensor) -> Tensor {
        let shape = cached(&mut self.saved, "GlobalAvgPool");
        let [c, n, h, w] = shape;
        let hw = h * w;
        let mut dx = Tensor::zeros(&shape);
        for (pi, plane) in dx.data.chunks_exact_mut(hw).enumerate() {
            let (ch, b) = (pi / n, pi % n);
            plane.fill(dy.data[b * c + ch] / hw as f32);
        }
        dx
    }

    fn describe(&self, name: &str, input: &[usize], out: &mut Vec<arch::Layer>) -> Vec<usize> {
        out.push(arch_layer(
            name,
            arch::Op::Elementwise { elements: input[0] },
        ));
        vec![input[0]]
    }

    fn clear_cache(&mut self) {
        self.saved = None;
    }

    crate::layer_casts!();
}
