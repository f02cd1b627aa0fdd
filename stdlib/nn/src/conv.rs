//! `Conv2d` on channel-major images `[C, N, H, W]`: stride, zero padding and
//! groups. Three paths, one semantics (checked against a naive convolution):
//! 1×1 stride-1 convolutions are one matrix product on the input as is;
//! depthwise convolutions (one filter per channel) run as direct loops;
//! everything else is im2col + one matrix product per group, with col2im in
//! backward.

use crate::avx2;
use crate::init::{uniform, Rng8};
use crate::layer::{arch_layer, cached, join, Layer, Mode, Tensor};
use crate::matmul::{matmul, Threads, View};
use crate::param::{Param, ParamKind};
use crate::quant::FakeQuant;
use pipe_sim::arch;
use rayon::prelude::*;
use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    pub in_ch: usize,
    pub out_ch: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
    pub groups: usize,
}

impl ConvShape {
    /// Output side for an input side.
    pub fn out_side(&self, side: usize) -> usize {
        (side + 2 * self.padding).saturating_sub(self.kernel) / self.stride + 1
    }

    fn depthwise(&self) -> bool {
        self.groups == self.in_ch && self.out_ch == self.in_ch && self.groups > 1
    }

    fn pointwise(&self) -> bool {
        self.kernel == 1 && self.stride == 1 && self.padding == 0
    }

    /// Rows of one group's im2col matrix.
    fn group_k(&self) -> usize {
        self.in_ch / self.groups * self.kernel * self.kernel
    }
}

/// Input geometry of the batch a forward saw.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    n: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
}

enum Saved {
    /// The input itself (pointwise and depthwise paths).
    Input(Tensor),
    /// The im2col matrix `[C·k·k, N·Ho·Wo]`.
    Col(Vec<f32>),
}

pub struct Conv2d {
    pub shape: ConvShape,
    /// `[out, in/groups, k, k]`.
    pub weight: Param,
    pub bias: Option<Param>,
    /// Fake quantization of weights and inputs (straight-through backward).
    pub quant: Option<FakeQuant>,
    saved: Option<(Saved, Geometry)>,
}

impl Conv2d {
    /// A convolution; `shape` must have `groups` dividing both channel counts,
    /// `stride >= 1` and `kernel >= 1` (model builders guarantee it).
    pub fn new(shape: ConvShape, bias: bool, rng: &mut Rng8) -> Conv2d {
        let fan_in = shape.group_k().max(1);
        let bound = 1.0 / (fan_in as f32).sqrt();
        let wshape = [
            shape.out_ch,
            shape.in_ch / shape.groups,
            shape.kernel,
            shape.kernel,
        ];
        Conv2d {
            shape,
            weight: uniform(rng, &wshape, bound, ParamKind::Weight),
            bias: bias.then(|| uniform(rng, &[shape.out_ch], bound, ParamKind::NoDecay)),
            quant: None,
            saved: None,
        }
    }

    fn effective_weight(&self) -> Cow<'_, [f32]> {
        match &self.quant {
            Some(q) => Cow::Owned(q.weights(&self.weight.value.data, self.shape.out_ch)),
            None => Cow::Borrowed(&self.weight.value.data),
        }
    }
}

/// One output row's taps of kernel position (ki, kj) that land inside the
/// input: output indices `out..out + len` read input indices `inp`, `inp +
/// stride`, ... (within one image plane). Every spatial loop of this file
/// walks these runs, so the inner loops are bounds-check-free slice zips.
#[derive(Clone, Copy)]
struct Span {
    out: usize,
    inp: usize,
    len: usize,
}

fn spans(s: &ConvShape, g: Geometry, ki: usize, kj: usize) -> impl Iterator<Item = Span> {
    let col_offset = kj as isize - s.padding as isize;
    let (lo, hi) = valid_range(col_offset, s.stride, g.w, g.ow);
    let (stride, pad) = (s.stride, s.padding as isize);
    (0..g.oh).filter_map(move |oy| {
        let iy = (oy * stride + ki) as isize - pad;
        if iy < 0 || iy >= g.h as isize || hi == lo {
            return None;
        }
        let inp = (iy * g.w as isize + (lo * stride) as isize + col_offset) as usize;
        Some(Span {
            out: oy * g.ow + lo,
            inp,
            len: hi - lo,
        })
    })
}

/// Every kernel position's spans, index `ki·k + kj`: the same for every
/// channel and image, so each layer call computes them once.
fn tap_spans(s: &ConvShape, g: Geometry) -> Vec<Vec<Span>> {
    let k = s.kernel;
    (0..k * k)
        .map(|kk| spans(s, g, kk / k, kk % k).collect())
        .collect()
}

/// The input elements a span reads: `len` of them, `stride` apart.
#[inline(always)]
fn strided<T>(plane: &[T], span: Span, stride: usize) -> impl Iterator<Item = &T> {
    plane[span.inp..span.inp + (span.len - 1) * stride + 1]
        .iter()
        .step_by(stride)
}

#[inline(always)]
fn strided_mut<T>(plane: &mut [T], span: Span, stride: usize) -> impl Iterator<Item = &mut T> {
    plane[span.inp..span.inp + (span.len - 1) * stride + 1]
        .iter_mut()
        .step_by(stride)
}

/// `out[o] += a · plane[i]` over a span (depthwise forward).
#[inline(always)]
fn add_scaled_from(out: &mut [f32], plane: &[f32], span: Span, stride: usize, a: f32) {
    let dst = &mut out[span.out..span.out + span.len];
    if stride == 1 {
        let src = &plane[span.inp..span.inp + span.len];
        dst.iter_mut().zip(src).for_each(|(d, x)| *d += a * x);
    } else {
        dst.iter_mut()
            .zip(strided(plane, span, stride))
            .for_each(|(d, x)| *d += a * x);
    }
}

/// `plane[i] += a · src[o]` over a span (depthwise input gradient, col2im).
#[inline(always)]
fn add_scaled_into(plane: &mut [f32], src: &[f32], span: Span, stride: usize, a: f32) {
    let src = &src[span.out..span.out + span.len];
    if stride == 1 {
        let dst = &mut plane[span.inp..span.inp + span.len];
        dst.iter_mut().zip(src).for_each(|(d, x)| *d += a * x);
    } else {
        strided_mut(plane, span, stride)
            .zip(src)
            .for_each(|(d, x)| *d += a * x);
    }
}

/// `acc + Σ dy[o] · plane[i]` over a span, summed in tap order (depthwise
/// weight gradient: one running sum over all spans, so the rounding is that
/// of a plain loop over every tap).
#[inline(always)]
fn span_dot(acc: f32, dy: &[f32], plane: &[f32], span: Span, stride: usize) -> f32 {
    let dy = &dy[span.out..span.out + span.len];
    if stride == 1 {
        let x = &plane[span.inp..span.inp + span.len];
        dy.iter().zip(x).fold(acc, |s, (a, b)| s + a * b)
    } else {
        dy.iter()
            .zip(strided(plane, span, stride))
            .fold(acc, |s, (a, b)| s + a * b)
    }
}

fn im2col(s: &ConvShape, x: &[f32], g: Geometry) -> Vec<f32> {
    let (k, hw, ohw) = (s.kernel, g.h * g.w, g.oh * g.ow);
    let p = g.n * ohw;
    let taps = tap_spans(s, g);
    let mut col = vec![0.0; s.in_ch * k * k * p];
    col.par_chunks_mut(p).enumerate().for_each(|(r, row)| {
        avx2::run(|| {
            let (ci, kk) = (r / (k * k), r % (k * k));
            for n in 0..g.n {
                let plane = &x[(ci * g.n + n) * hw..][..hw];
                let out = &mut row[n * ohw..][..ohw];
                for &span in &taps[kk] {
                    let dst = &mut out[span.out..span.out + span.len];
                    dst.iter_mut()
                        .zip(strided(plane, span, s.stride))
                        .for_each(|(d, v)| *d = *v);
                }
            }
        })
    });
    col
}

fn col2im(s: &ConvShape, dcol: &[f32], g: Geometry) -> Vec<f32> {
    let (k, hw, ohw) = (s.kernel, g.h * g.w, g.oh * g.ow);
    let p = g.n * ohw;
    let taps = tap_spans(s, g);
    let mut dx = vec![0.0; s.in_ch * g.n * hw];
    dx.par_chunks_mut(g.n * hw)
        .enumerate()
        .for_each(|(ci, dplanes)| {
            avx2::run(|| {
                for (kk, tap) in taps.iter().enumerate() {
                    let row = &dcol[(ci * k * k + kk) * p..][..p];
                    for n in 0..g.n {
                        let plane = &mut dplanes[n * hw..][..hw];
                        let src = &row[n * ohw..][..ohw];
                        for &span in tap {
                            add_scaled_into(plane, src, span, s.stride, 1.0);
                        }
                    }
                }
            })
        });
    dx
}

/// The output columns `lo..hi` whose input column `o·stride + offset` lies in
/// `0..w`, so the inner loops need no bounds checks.
fn valid_range(offset: isize, stride: usize, w: usize, ow: usize) -> (usize, usize) {
    let s = stride as isize;
    let lo = if offset < 0 { (-offset + s - 1) / s } else { 0 };
    let hi = if (w as isize) > offset {
        (w as isize - offset + s - 1) / s
    } else {
        0
    };
    let hi = hi.clamp(0, ow as isize) as usize;
    (lo as usize, hi.max(lo as usize))
}

fn depthwise_forward(s: &ConvShape, x: &[f32], w: &[f32], g: Geometry) -> Vec<f32> {
    let (k, hw, ohw) = (s.kernel, g.h * g.w, g.oh * g.ow);
    let taps = tap_spans(s, g);
    let mut y = vec![0.0; s.out_ch * g.n * ohw];
    y.par_chunks_mut(g.n * ohw).enumerate().for_each(|(c, yc)| {
        avx2::run(|| {
            let wc = &w[c * k * k..][..k * k];
            for n in 0..g.n {
                let plane = &x[(c * g.n + n) * hw..][..hw];
                let out = &mut yc[n * ohw..][..ohw];
                for (&wv, tap) in wc.iter().zip(&taps) {
                    for &span in tap {
                        add_scaled_from(out, plane, span, s.stride, wv);
                    }
                }
            }
        })
    });
    y
}

/// Returns dx; adds dW into `dw` when given.
fn depthwise_backward(
    s: &ConvShape,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    g: Geometry,
    dw: Option<&mut [f32]>,
) -> Vec<f32> {
    let (k, hw, ohw) = (s.kernel, g.h * g.w, g.oh * g.ow);
    let taps = tap_spans(s, g);
    let mut dx = vec![0.0; s.in_ch * g.n * hw];
    dx.par_chunks_mut(g.n * hw)
        .enumerate()
        .for_each(|(c, dxc)| {
            avx2::run(|| {
                let wc = &w[c * k * k..][..k * k];
                for n in 0..g.n {
                    let dyp = &dy[(c * g.n + n) * ohw..][..ohw];
                    let dxp = &mut dxc[n * hw..][..hw];
                    for (&wv, tap) in wc.iter().zip(&taps) {
                        for &span in tap {
                            add_scaled_into(dxp, dyp, span, s.stride, wv);
                        }
                    }
                }
            })
        });
    if let Some(dw) = dw {
        depthwise_weight_grad(s, x, dy, g, &taps, dw);
    }
    dx
}

/// Adds the depthwise weight gradient into `dw`. Each tap's gradient of one
/// image is one running sum over its spans in row order (the rounding of a
/// plain loop over the taps); the taps' sums are independent, so they advance
/// in turn, one span each, and the CPU overlaps them instead of waiting on
/// every add of one long sum.
fn depthwise_weight_grad(
    s: &ConvShape,
    x: &[f32],
    dy: &[f32],
    g: Geometry,
    taps: &[Vec<Span>],
    dw: &mut [f32],
) {
    let (k, hw, ohw) = (s.kernel, g.h * g.w, g.oh * g.ow);
    let rounds = taps.iter().map(Vec::len).max().unwrap_or(0);
    dw.par_chunks_mut(k * k).enumerate().for_each(|(c, dwc)| {
        avx2::run(|| {
            let mut acc = vec![0.0f32; k * k];
            for n in 0..g.n {
                let plane = &x[(c * g.n + n) * hw..][..hw];
                let dyp = &dy[(c * g.n + n) * ohw..][..ohw];
                acc.fill(0.0);
                for round in 0..rounds {
                    for (a, tap) in acc.iter_mut().zip(taps) {
                        if let Some(&span) = tap.get(round) {
                            *a = span_dot(*a, dyp, plane, span, s.stride);
                        }
                    }
                }
                dwc.iter_mut().zip(&acc).for_each(|(d, a)| *d += a);
            }
        })
    });
}

impl Layer for Conv2d {
    fn forward(&mut self, mut x: Tensor, mode: Mode) -> Tensor {
        let s = self.shape;
        let (n, h, w) = (x.shape[1], x.shape[2], x.shape[3]);
        let g = Geometry {
            n,
            h,
            w,
            oh: s.out_side(h),
            ow: s.out_side(w),
        };
        if let Some(q) = &self.quant {
            q.activations(&mut x.data);
        }
        let weight = self.effective_weight();
        let p = n * g.oh * g.ow;
        let (mut y, saved) = if s.depthwise() {
            (depthwise_forward(&s, &x.data, &weight, g), Saved::Input(x))
        } else {
            let saved = if s.pointwise() {
                Saved::Input(x)
            } else {
                Saved::Col(im2col(&s, &x.data, g))
            };
            let col = match &saved {
                Saved::Input(t) => &t.data[..],
                Saved::Col(c) => &c[..],
            };
            let mut y = vec![0.0; s.out_ch * p];
            let (cout_g, kg) = (s.out_ch / s.groups, s.group_k());
            for grp in 0..s.groups {
                let wv = View::rows(&weight[grp * cout_g * kg..], cout_g, kg);
                let cv = View::rows(&col[grp * kg * p..], kg, p);
                matmul(&mut y[grp * cout_g * p..], p, wv, cv, false, Threads::Pool);
            }
            (y, saved)
        };
        drop(weight);
        if let Some(b) = &self.bias {
            y.par_chunks_mut(p)
                .zip(b.value.data.par_iter())
                .for_each(|(row, b)| {
                    row.iter_mut().for_each(|v| *v += b);
                });
        }
        if mode == Mode::Train {
            self.saved = Some((saved, g));
        }
        Tensor::from_vec(&[s.out_ch, n, g.oh, g.ow], y)
    }

    fn backward(&mut self, dy: Tensor) -> Tensor {
        let (saved, g) = cached(&mut self.saved, "Conv2d");
        let s = self.shape;
        let p = g.n * g.oh * g.ow;
        if let Some(b) = self.bias.as_mut().filter(|b| b.trainable()) {
            for (gb, row) in b.grad.iter_mut().zip(dy.data.chunks_exact(p)) {
                *gb += row.iter().sum::<f32>();
            }
        }
        let weight = match &self.quant {
            Some(q) => Cow::Owned(q.weights(&self.weight.value.data, s.out_ch)),
            None => Cow::Borrowed(&self.weight.value.data[..]),
        };
        let train_w = self.weight.trainable();
        let dx_shape = [s.in_ch, g.n, g.h, g.w];
        if s.depthwise() {
            let Saved::Input(x) = &saved else {
                unreachable!("depthwise saves its input")
            };
            let dw = train_w.then_some(&mut self.weight.grad[..]);
            let dx = depthwise_backward(&s, &x.data, &weight, &dy.data, g, dw);
            return Tensor::from_vec(&dx_shape, dx);
        }
        let col = match &saved {
            Saved::Input(t) => &t.data[..],
            Saved::Col(c) => &c[..],
        };
        let (cout_g, kg) = (s.out_ch / s.groups, s.group_k());
        let mut dcol = vec![0.0; s.groups * kg * p];
        for grp in 0..s.groups {
            let dyv = View::rows(&dy.data[grp * cout_g * p..], cout_g, p);
            if train_w {
                let cv = View::rows(&col[grp * kg * p..], kg, p);
                matmul(
                    &mut self.weight.grad[grp * cout_g * kg..],
                    kg,
                    dyv,
                    cv.t(),
                    true,
                    Threads::Pool,
                );
            }
            let wv = View::rows(&weight[grp * cout_g * kg..], cout_g, kg);
            matmul(
                &mut dcol[grp * kg * p..],
                p,
                wv.t(),
                dyv,
                false,
                Threads::Pool,
            );
        }
        if s.pointwise() {
            return Tensor::from_vec(&dx_shape, dcol);
        }
        Tensor::from_vec(&dx_shape, col2im(&s, &dcol, g))
    }

    fn visit(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param)) {
        f(&join(prefix, "weight"), &mut self.weight);
        if let Some(b) = &mut self.bias {
            f(&join(prefix, "bias"), b);
        }
    }

    fn describe(&self, name: &str, input: &[usize], out: &mut Vec<arch::Layer>) -> Vec<usize> {
        let s = self.shape;
        let (h, w) = (input[1], input[2]);
        let (oh, ow) = (s.out_side(h), s.out_side(w));
        let mut layer = arch_layer(
            name,
            arch::Op::Conv2d {
                in_ch: s.in_ch,
                out_ch: s.out_ch,
                kernel: [s.kernel, s.kernel],
                stride: s.stride,
                padding: s.padding,
                groups: s.groups,
                in_hw: [h, w],
                out_hw: [oh, ow],
            },
        );
        if let Some(q) = &self.quant {
            q.annotate(&mut layer);
        }
        out.push(layer);
        vec![s.out_ch, oh, ow]
    }

    fn clear_cache(&mut self) {
        self.saved = None;
    }

    crate::layer_casts!();
}
