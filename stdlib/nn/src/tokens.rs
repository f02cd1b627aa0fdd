//! Token layers of vision transformers: `PatchEmbed` (non-overlapping patches
//! of `[N, C, H, W]` images, linearly projected to `[N, T, D]`), `ClsPosEmbed`
//! (a learned CLS token in front, learned position embeddings added) and
//! `TakeCls` (the CLS token's row `[N, D]`).

use crate::init::{normal, Rng8};
use crate::layer::{arch_layer, cached, join, Layer, Mode, Tensor};
use crate::linear::Linear;
use crate::param::{Param, ParamKind};
use pipe_sim::arch;

pub struct PatchEmbed {
    pub patch: usize,
    pub proj: Linear,
    saved: Option<[usize; 4]>,
}

impl PatchEmbed {
    pub fn new(channels: usize, patch: usize, dim: usize, rng: &mut Rng8) -> PatchEmbed {
        PatchEmbed {
            patch,
            proj: Linear::new(channels * patch * patch, dim, true, rng),
            saved: None,
        }
    }
}

/// Maps between image index and patch-row index: calls `f(image_i, patch_i)`
/// for every pixel; a patch row is ordered (channel, y, x) like a conv weight.
fn for_each_pixel(shape: [usize; 4], p: usize, mut f: impl FnMut(usize, usize)) {
    let [n, c, h, w] = shape;
    let (gh, gw) = (h / p, w / p);
    let row = c * p * p;
    for b in 0..n {
        for ty in 0..gh {
            for tx in 0..gw {
                let token = (b * gh + ty) * gw + tx;
                for ch in 0..c {
                    for py in 0..p {
                        for px in 0..p {
                            let img = ((b * c + ch) * h + ty * p + py) * w + tx * p + px;
                            f(img, token * row + (ch * p + py) * p + px);
                        }
                    }
                }
            }
        }
    }
}

impl Layer for PatchEmbed {
    fn forward(&mut self, x: Tensor, mode: Mode) -> Tensor {
        let shape = [x.shape[0], x.shape[1], x.shape[2], x.shape[3]];
        let p = self.patch;
        let tokens = (shape[2] / p) * (shape[3] / p);
        let row = shape[1] * p * p;
        let mut patches = vec![0.0; shape[0] * tokens * row];
        for_each_pixel(shape, p, |i, o| patches[o] = x.data[i]);
        if mode == Mode::Train {
            self.saved = Some(shape);
        }
        self.proj
            .forward(Tensor::from_vec(&[shape[0], tokens, row], patches), mode)
    }

    fn backward(&mut self, dy: Tensor) -> Tensor {
        let shape = cached(&mut self.saved, "PatchEmbed");
        let dpatches = self.proj.backward(dy);
        let mut dx = Tensor::zeros(&shape);
        for_each_pixel(shape, self.patch, |i, o| dx.data[i] = dpatches.data[o]);
        dx
    }

    fn visit(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param)) {
        self.proj.visit(&join(prefix, "proj"), f);
    }

    fn describe(&self, name: &str, input: &[usize], out: &mut Vec<arch::Layer>) -> Vec<usize> {
        let p = self.patch;
        let (gh, gw) = (input[1] / p, input[2] / p);
        let mut layer = arch_layer(
            name,
            arch::Op::Conv2d {
                in_ch: input[0],
                out_ch: self.proj.out_features,
                kernel: [p, p],
                stride: p,
                padding: 0,
                groups: 1,
                in_hw: [input[1], input[2]],
                out_hw: [gh, gw],
            },
        );
        if let Some(q) = &self.proj.quant {
            q.annotate(&mut layer);
        }
        out.push(layer);
        vec![gh * gw, self.proj.out_features]
    }

    fn for_each_layer(&mut self, f: &mut dyn FnMut(&mut dyn Layer)) {
        f(self);
        f(&mut self.proj);
    }

    fn clear_cache(&mut self) {
        self.saved = None;
        self.proj.clear_cache();
    }

    crate::layer_casts!();
}

pub struct ClsPosEmbed {
    pub cls: Param,
    /// `[T + 1, D]`.
    pub pos: Param,
}

impl ClsPosEmbed {
    /// For `tokens` patch tokens of width `dim` (std 0.02, as in ViT code bases).
    pub fn new(tokens: usize, dim: usize, rng: &mut Rng8) -> ClsPosEmbed {
        ClsPosEmbed {
            cls: normal(rng, &[dim], 0.02, ParamKind::NoDecay),
            pos: normal(rng, &[tokens + 1, dim], 0.02, ParamKind::NoDecay),
        }
    }
}

impl Layer for ClsPosEmbed {
    fn forward(&mut self, x: Tensor, _: Mode) -> Tensor {
        let (n, t, d) = (x.shape[0], x.shape[1], x.shape[2]);
        let mut y = Vec::with_capacity(n * (t + 1) * d);
        for sample in x.data.chunks_exact(t * d) {
            y.extend_from_slice(&self.cls.value.data);
            y.extend_from_slice(sample);
        }
        for sample in y.chunks_exact_mut((t + 1) * d) {
            sample
                .iter_mut()
                .zip(&self.pos.value.data)
                .for_each(|(v, p)| *v += p);
        }
        Tensor::from_vec(&[n, t + 1, d], y)
    }

    fn backward(&mut self, dy: Tensor) -> Tensor {
        let (n, t1, d) = (dy.shape[0], dy.shape[1], dy.shape[2]);
        let mut dx = Vec::with_capacity(n * (t1 - 1) * d);
        for sample in dy.data.chunks_exact(t1 * d) {
            self.pos.accumulate(sample);
            self.cls.accumulate(&sample[..d]);
            dx.extend_from_slice(&sample[d..]);
        }
        Tensor::from_vec(&[n, t1 - 1, d], dx)
    }

    fn visit(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param)) {
        f(&join(prefix, "cls"), &mut self.cls);
        f(&join(prefix, "pos"), &mut self.pos);
    }

    fn describe(&self, name: &str, input: &[usize], out: &mut Vec<arch::Layer>) -> Vec<usize> {
        let shape = vec![input[0] + 1, input[1]];
        out.push(arch_layer(
            name,
            arch::Op::Elementwise {
                elements: shape[0] * shape[1],
            },
        ));
        shape
    }

    crate::layer_casts!();
}

/// `[N, T, D]` to the first token's rows `[N, D]`.
#[derive(Default)]
pub struct TakeCls {
    saved: Option<Vec<usize>>,
}

impl Layer for TakeCls {
    fn forward(&mut self, x: Tensor, mode: Mode) -> Tensor {
        let (n, t, d) = (x.shape[0], x.shape[1], x.shape[2]);
        let y: Vec<f32> = x
            .data
            .chunks_exact(t * d)
            .flat_map(|s| s[..d].to_vec())
            .collect();
        if mode == Mode::Train {
            self.saved = Some(x.shape);
        }
        Tensor::from_vec(&[n, d], y)
    }

    fn backward(&mut self, dy: Tensor) -> Tensor {
        let shape = cached(&mut self.saved, "TakeCls");
        let (t, d) = (shape[1], shape[2]);
        let mut dx = Tensor::zeros(&shape);
        for (sample, row) in dx.data.chunks_exact_mut(t * d).zip(dy.data.chunks_exact(d)) {
            sample[..d].copy_from_slice(row);
        }
        dx
    }

    fn describe(&self, _: &str, input: &[usize], _: &mut Vec<arch::Layer>) -> Vec<usize> {
        vec![input[1]]
    }

    fn clear_cache(&mut self) {
        self.saved = None;
    }

    crate::layer_casts!();
}
