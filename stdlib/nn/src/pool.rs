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
                    let plane = &x.data[pi * h * w..][..h * w];
                    if k == 2 && s == 2 {
                        max_pool_2x2(plane, pi * h * w, w, ow, out, arg);
                    } else {
                        max_pool(plane, pi * h * w, (w, ow), (k, s), out, arg);
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

/// Max pooling of one plane (`w` wide, output `ow` wide, window `k`, stride
/// `s`): each output takes the first largest input in row-major window order,
/// and `arg` its flat index in the whole tensor (`base` + index in the plane).
fn max_pool(
    plane: &[f32],
    base: usize,
    (w, ow): (usize, usize),
    (k, s): (usize, usize),
    out: &mut [f32],
    arg: &mut [u32],
) {
    for (o, (y, a)) in out.iter_mut().zip(arg.iter_mut()).enumerate() {
        let (oy, ox) = (o / ow, o % ow);
        let window = (0..k * k).map(|t| (oy * s + t / k) * w + ox * s + t % k);
        let best = first_max(window.map(|i| (plane[i], base + i)));
        (*y, *a) = (best.0, best.1 as u32);
    }
}

/// `max_pool` for the 2×2 window at stride 2 (every cnn stage), on two input
/// rows at a time without per-tap index arithmetic. Same winners, same order.
fn max_pool_2x2(plane: &[f32], base: usize, w: usize, ow: usize, out: &mut [f32], arg: &mut [u32]) {
    let rows = out.chunks_mut(ow).zip(arg.chunks_mut(ow)).enumerate();
    for (oy, (out, arg)) in rows {
        let top = 2 * oy * w;
        let (r0, r1) = (&plane[top..][..2 * ow], &plane[top + w..][..2 * ow]);
        let windows = r0.chunks_exact(2).zip(r1.chunks_exact(2));
        for (ox, ((y, a), (t, b))) in out.iter_mut().zip(arg.iter_mut()).zip(windows).enumerate() {
            let i = base + top + 2 * ox;
            let best = first_max([(t[0], i), (t[1], i + 1), (b[0], i + w), (b[1], i + w + 1)]);
            (*y, *a) = (best.0, best.1 as u32);
        }
    }
}

/// The first largest (value, index) of a window in its order, from
/// (−∞, 0): the one rule both max-pooling loops share.
#[inline]
fn first_max(window: impl IntoIterator<Item = (f32, usize)>) -> (f32, usize) {
    window
        .into_iter()
        .fold((f32::NEG_INFINITY, 0), |best, (v, i)| {
            if v > best.0 {
                (v, i)
            } else {
                best
            }
        })
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
