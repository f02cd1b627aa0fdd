//! `MultiHeadAttention`: self-attention on tokens `[N, T, D]`: a fused qkv
//! projection, per-head softmax(QKᵀ/√d)·V, and an output projection. Heads of
//! one sample run in sequence and samples in parallel, so the result does not
//! depend on the thread count.

use crate::approx;
use crate::avx2;
use crate::init::Rng8;
use crate::layer::{arch_layer, cached, join, Layer, Mode, Tensor};
use crate::linear::Linear;
use crate::matmul::{matmul, Threads, View};
use crate::param::Param;
use pipe_sim::arch;
use rayon::prelude::*;

pub struct MultiHeadAttention {
    pub dim: usize,
    pub heads: usize,
    /// `dim -> 3·dim`: queries, keys, values side by side.
    pub qkv: Linear,
    pub proj: Linear,
    /// The qkv activations and the attention probabilities `[N, heads, T, T]`.
    saved: Option<(Tensor, Vec<f32>)>,
}

impl MultiHeadAttention {
    /// `dim` must be divisible by `heads` (the model builder checks it).
    pub fn new(dim: usize, heads: usize, rng: &mut Rng8) -> MultiHeadAttention {
        MultiHeadAttention {
            dim,
            heads,
            qkv: Linear::new(dim, 3 * dim, true, rng),
            proj: Linear::new(dim, dim, true, rng),
            saved: None,
        }
    }

    fn head_dim(&self) -> usize {
        self.dim / self.heads
    }
}

/// Softmax of each row of a `t × t` block of scores, scaled by `scale` first,
/// in place. `approx::exp` and lane sums keep every loop vectorized.
#[inline(always)]
fn softmax_rows(s: &mut [f32], t: usize, scale: f32) {
    for row in s.chunks_exact_mut(t) {
        let max = approx::max(row);
        row.iter_mut()
            .for_each(|v| *v = approx::exp((*v - max) * scale));
        let inv = 1.0 / approx::sum(row);
        row.iter_mut().for_each(|v| *v *= inv);
    }
}

impl Layer for MultiHeadAttention {
    fn forward(&mut self, x: Tensor, mode: Mode) -> Tensor {
        let (n, t, d, h, dh) = (
            x.shape[0],
            x.shape[1],
            self.dim,
            self.heads,
            self.head_dim(),
        );
        let qkv = self.qkv.forward(x, mode);
        let scale = 1.0 / (dh as f32).sqrt();
        let mut out = vec![0.0; n * t * d];
        let mut probs = vec![0.0; n * h * t * t];
        out.par_chunks_mut(t * d)
            .zip(probs.par_chunks_mut(h * t * t))
            .enumerate()
            .for_each(|(b, (o, p))| {
                let base = &qkv.data[b * t * 3 * d..][..t * 3 * d];
                for hi in 0..h {
                    let q = head(base, hi * dh, t, dh, 3 * d);
                    let k = head(base, d + hi * dh, t, dh, 3 * d);
                    let v = head(base, 2 * d + hi * dh, t, dh, 3 * d);
                    let s = &mut p[hi * t * t..][..t * t];
                    matmul(s, t, q, k.t(), false, Threads::One);
                    avx2::run(|| softmax_rows(s, t, scale));
                    matmul(
                        &mut o[hi * dh..],
                        d,
                        View::rows(s, t, t),
                        v,
                        false,
                        Threads::One,
                    );
                }
            });
        let y = self.proj.forward(Tensor::from_vec(&[n, t, d], out), mode);
        if mode == Mode::Train {
            self.saved = Some((qkv, probs));
        }
        y
    }

    fn backward(&mut self, dy: Tensor) -> Tensor {
        let (qkv, probs) = cached(&mut self.saved, "MultiHeadAttention");
        let dout = self.proj.backward(dy);
        let (n, t) = (dout.shape[0], dout.shape[1]);
        let (d, h, dh) = (self.dim, self.heads, self.head_dim());
        let scale = 1.0 / (dh as f32).sqrt();
        let mut dqkv = vec![0.0; n * t * 3 * d];
        dqkv.par_chunks_mut(t * 3 * d)
            .enumerate()
            .for_each(|(b, dbase)| {
                let base = &qkv.data[b * t * 3 * d..][..t * 3 * d];
                let dob = &dout.data[b * t * d..][..t * d];
                let mut ds = vec![0.0; t * t];
                for hi in 0..h {
                    let p = &probs[(b * h + hi) * t * t..][..t * t];
                    let pv = View::rows(p, t, t);
                    let q = head(base, hi * dh, t, dh, 3 * d);
                    let k = head(base, d + hi * dh, t, dh, 3 * d);
                    let v = head(base, 2 * d + hi * dh, t, dh, 3 * d);
                    let doh = head(dob, hi * dh, t, dh, d);
                    // dV = Pᵀ·dO and dP = dO·Vᵀ.
                    matmul(
                        &mut dbase[2 * d + hi * dh..],
                        3 * d,
                        pv.t(),
                        doh,
                        false,
                        Threads::One,
                    );
                    matmul(&mut ds, t, doh, v.t(), false, Threads::One);
                    // Softmax backward, with the score scale folded in.
                    for (drow, prow) in ds.chunks_exact_mut(t).zip(p.chunks_exact(t)) {
                        let dot = approx::dot(drow, prow);
                        for (dv, pv) in drow.iter_mut().zip(prow) {
                            *dv = scale * pv * (*dv - dot);
                        }
                    }
                    let dsv = View::rows(&ds, t, t);
                    matmul(&mut dbase[hi * dh..], 3 * d, dsv, k, false, Threads::One);
                    matmul(
                        &mut dbase[d + hi * dh..],
                        3 * d,
                        dsv.t(),
                        q,
                        false,
                        Threads::One,
                    );
                }
            });
        self.qkv.backward(Tensor::from_vec(&[n, t, 3 * d], dqkv))
    }

    fn visit(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param)) {
        self.qkv.visit(&join(prefix, "qkv"), f);
        self.proj.visit(&join(prefix, "proj"), f);
    }

    fn describe(&self, name: &str, input: &[usize], out: &mut Vec<arch::Layer>) -> Vec<usize> {
        let (t, dh) = (input[0], self.head_dim());
        self.qkv.describe(&join(name, "qkv"), input, out);
        out.push(arch_layer(
            &join(name, "scores"),
            arch::Op::Matmul {
                m: t,
                k: dh,
                n: t,
                count: self.heads,
            },
        ));
        out.push(arch_layer(
            &join(name, "softmax"),
            arch::Op::Elementwise {
                elements: self.heads * t * t,
            },
        ));
        out.push(arch_layer(
            &join(name, "context"),
            arch::Op::Matmul {
                m: t,
                k: t,
                n: dh,
                count: self.heads,
            },
        ));
        self.proj.describe(&join(name, "proj"), input, out)
    }

    fn for_each_layer(&mut self, f: &mut dyn FnMut(&mut dyn Layer)) {
        f(self);
        f(&mut self.qkv);
        f(&mut self.proj);
    }

    fn clear_cache(&mut self) {
        self.saved = None;
        self.qkv.clear_cache();
        self.proj.clear_cache();
    }

    crate::layer_casts!();
}

/// The `t × dh` view of one head's columns starting at `offset` in rows of `stride`.
fn head(data: &[f32], offset: usize, t: usize, dh: usize, stride: usize) -> View<'_> {
    View {
        data: &data[offset..],
        rows: t,
        cols: dh,
        rs: stride,
        cs: 1,
    }
}
