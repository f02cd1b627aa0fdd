//! AVE-CLIP's multi-window temporal transformer (`Family::TemporalTransformer`)
//! for audio-visual event localization. The input of one video is
//! `[segments, audio_dim + visual_dim]` (audio then visual features of each
//! segment; `spec.input` holds `[segments, audio_dim, visual_dim]`), the output
//! `[segments, classes + 1]`: log-probabilities of the `classes` outputs (events
//! then background, AVE's 29) followed by the raw event/background logit.
//!
//! The paper's code is not public (docs/papers.md section 5); this is the project's
//! own design of what its abstract describes:
//! - `encoders`: an audio and a visual tower (LayerNorm, Linear, GELU, Linear), the towers
//!   `train.contrastive` aligns; their outputs and elementwise product (the
//!   cross-modal agreement) are concatenated.
//! - `temporal`: one branch per window length; each runs `layers` times
//!   self-attention within non-overlapping windows (time domain), a
//!   squeeze-excite gate per window (feature domain) and an MLP; the branches
//!   are fused by a linear layer over their concatenation.
//! - `head`: an event/background logit per segment and, with `refine`,
//!   event-guided refinement: the video's event-probability-weighted mean
//!   feature is projected and added to every segment before the class head. The
//!   joint output is log p(event)·p(class | event) and log p(background).
//!
//! Post-processing (removing isolated predictions between transitions) works
//! on predicted labels and lives in `postprocess`.

use super::{block, Builder};
use crate::activation::{Act, Activation};
use crate::attention::MultiHeadAttention;
use crate::layer::{arch_layer, cached, join, Layer, Mode, Tensor};
use crate::linear::Linear;
use crate::network::{Block, Network};
use crate::norm::LayerNorm;
use crate::param::Param;
use crate::sequential::{Residual, Sequential};
use crate::spec::ModelSpec;
use crate::NnError;
use pipe_sim::arch;

/// Validates the temporal family's settings against the spec's input.
pub fn validate(
    spec: &ModelSpec,
    windows: &[usize],
    dim: usize,
    heads: usize,
) -> Result<(), NnError> {
    let segments = spec.input[0];
    if windows.is_empty() {
        return Err(NnError::Config(
            "`windows` needs at least one window length".into(),
        ));
    }
    for &w in windows {
        if w == 0 || w > segments || !segments.is_multiple_of(w) {
            return Err(NnError::Config(format!(
                "window {w} must divide the {segments} segments per video (try a divisor of {segments})"
            )));
        }
    }
    if heads == 0 || !dim.is_multiple_of(heads) {
        return Err(NnError::Config(format!(
            "`dim` {dim} must be divisible by `heads` {heads}"
        )));
    }
    if spec.classes < 3 {
        return Err(NnError::Config(format!(
            "{} outputs; audio-visual events need at least two event classes plus background",
            spec.classes
        )));
    }
    Ok(())
}

/// The settings the builder reads.
pub(crate) struct Settings<'a> {
    pub windows: &'a [usize],
    pub dim: usize,
    pub heads: usize,
    pub layers: usize,
    pub refine: bool,
}

pub(crate) fn build(b: &mut Builder, s: &Settings) -> Vec<Block> {
    let [segments, da, dv] = b.spec.input;
    let dim = s.dim;
    let mut encoders = Sequential::new();
    encoders.push("towers", AvEncoders::new(da, dv, dim, b));
    let mut temporal = Sequential::new();
    temporal.push("fuse", Linear::new(3 * dim, dim, true, &mut b.rng));
    temporal.push("fuse_norm", LayerNorm::new(dim));
    temporal.push("fuse_drop", b.dropout());
    temporal.push("windows", MultiWindow::new(s, b));
    let mut head = Sequential::new();
    head.push("norm", LayerNorm::new(dim));
    head.push(
        "events",
        EventHead::new(segments, dim, b.spec.classes - 1, s.refine, b),
    );
    vec![
        block("encoders", encoders),
        block("temporal", temporal),
        block("head", head),
    ]
}

/// The audio and visual towers of a temporal model, for contrastive training;
/// `None` when `net` is another family.
pub fn towers(net: &mut Network) -> Option<&mut AvEncoders> {
    let enc = net.blocks.iter_mut().find(|b| b.name == "encoders")?;
    let (_, layer) = enc.body.layers.first_mut()?;
    layer.as_any_mut().downcast_mut::<AvEncoders>()
}

fn tower(input: usize, dim: usize, b: &mut Builder) -> Sequential {
    let mut t = Sequential::new();
    // Raw AVE features (VGGish, VGG-19) have very different scales.
    t.push("norm", LayerNorm::new(input));
    t.push("fc1", Linear::new(input, dim, true, &mut b.rng));
    t.push("act", Activation::new(Act::Gelu));
    t.push("fc2", Linear::new(dim, dim, true, &mut b.rng));
    t
}

/// Audio and visual towers over `[.., audio_dim + visual_dim]` rows, giving
/// `[.., 3·dim]`: audio embedding, visual embedding, their product.
pub struct AvEncoders {
    pub audio_dim: usize,
    pub visual_dim: usize,
    pub dim: usize,
    pub audio: Sequential,
    pub visual: Sequential,
    /// Both embeddings of the last train forward.
    saved: Option<(Tensor, Tensor)>,
}

impl AvEncoders {
    fn new(audio_dim: usize, visual_dim: usize, dim: usize, b: &mut Builder) -> AvEncoders {
        AvEncoders {
            audio_dim,
            visual_dim,
            dim,
            audio: tower(audio_dim, dim, b),
            visual: tower(visual_dim, dim, b),
            saved: None,
        }
    }

    /// Splits joint rows into audio rows `[R, audio_dim]` and visual rows.
    pub fn split(&self, x: &Tensor) -> (Tensor, Tensor) {
        let (da, dv) = (self.audio_dim, self.visual_dim);
        let rows = x.len() / (da + dv);
        let mut a = Vec::with_capacity(rows * da);
        let mut v = Vec::with_capacity(rows * dv);
        for row in x.data.chunks_exact(da + dv) {
            a.extend_from_slice(&row[..da]);
            v.extend_from_slice(&row[da..]);
        }
        (
            Tensor::from_vec(&[rows, da], a),
            Tensor::from_vec(&[rows, dv], v),
        )
    }
}

impl Layer for AvEncoders {
    fn forward(&mut self, x: Tensor, mode: Mode) -> Tensor {
        let mut shape = x.shape.clone();
        let (a, v) = self.split(&x);
        let ea = self.audio.forward(a, mode);
        let ev = self.visual.forward(v, mode);
        let d = self.dim;
        let mut out = Vec::with_capacity(ea.len() * 3);
        for (ra, rv) in ea.data.chunks_exact(d).zip(ev.data.chunks_exact(d)) {
            out.extend_from_slice(ra);
            out.extend_from_slice(rv);
            out.extend(ra.iter().zip(rv).map(|(p, q)| p * q));
        }
        if let Some(last) = shape.last_mut() {
            *last = 3 * d;
        }
        if mode == Mode::Train {
            self.saved = Some((ea, ev));
        }
        Tensor::from_vec(&shape, out)
    }

    fn backward(&mut self, dy: Tensor) -> Tensor {
        let (ea, ev) = cached(&mut self.saved, "AvEncoders");
        let d = self.dim;
        let mut ga = Tensor::zeros(&ea.shape);
        let mut gv = Tensor::zeros(&ev.shape);
        let rows = dy
            .data
            .chunks_exact(3 * d)
            .zip(ga.data.chunks_exact_mut(d).zip(gv.data.chunks_exact_mut(d)))
            .zip(ea.data.chunks_exact(d).zip(ev.data.chunks_exact(d)));
        for ((g, (ga, gv)), (ra, rv)) in rows {
            for j in 0..d {
                ga[j] = g[j] + g[2 * d + j] * rv[j];
                gv[j] = g[d + j] + g[2 * d + j] * ra[j];
            }
        }
        let da = self.audio.backward(ga);
        let dv = self.visual.backward(gv);
        let (wa, wv) = (self.audio_dim, self.visual_dim);
        let mut dx = Vec::with_capacity(da.len() + dv.len());
        for (ra, rv) in da.data.chunks_exact(wa).zip(dv.data.chunks_exact(wv)) {
            dx.extend_from_slice(ra);
            dx.extend_from_slice(rv);
        }
        let mut shape = dy.shape;
        if let Some(last) = shape.last_mut() {
            *last = wa + wv;
        }
        Tensor::from_vec(&shape, dx)
    }

    fn visit(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param)) {
        self.audio.visit(&join(prefix, "audio"), f);
        self.visual.visit(&join(prefix, "visual"), f);
    }

    fn describe(&self, name: &str, input: &[usize], out: &mut Vec<arch::Layer>) -> Vec<usize> {
        let t = input[0];
        self.audio
            .describe(&join(name, "audio"), &[t, self.audio_dim], out);
        self.visual
            .describe(&join(name, "visual"), &[t, self.visual_dim], out);
        out.push(arch_layer(
            &join(name, "agree"),
            arch::Op::Elementwise {
                elements: t * self.dim,
            },
        ));
        vec![t, 3 * self.dim]
    }

    fn for_each_layer(&mut self, f: &mut dyn FnMut(&mut dyn Layer)) {
        f(self);
        self.audio.for_each_layer(f);
        self.visual.for_each_layer(f);
    }

    fn clear_cache(&mut self) {
        self.saved = None;
        self.audio.clear_cache();
        self.visual.clear_cache();
    }

    crate::layer_casts!();
}

/// Self-attention within non-overlapping windows of `window` segments: tokens
/// `[N, T, D]` are viewed as `[N·T/window, window, D]`.
pub struct WindowAttention {
    pub window: usize,
    pub attn: MultiHeadAttention,
}

impl Layer for WindowAttention {
    fn forward(&mut self, x: Tensor, mode: Mode) -> Tensor {
        let shape = x.shape.clone();
        let d = x.cols();
        let groups = x.len() / (self.window * d);
        let y = self
            .attn
            .forward(x.reshaped(&[groups, self.window, d]), mode);
        y.reshaped(&shape)
    }

    fn backward(&mut self, dy: Tensor) -> Tensor {
        let shape = dy.shape.clone();
        let d = dy.cols();
        let groups = dy.len() / (self.window * d);
        self.attn
            .backward(dy.reshaped(&[groups, self.window, d]))
            .reshaped(&shape)
    }

    fn visit(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param)) {
        self.attn.visit(prefix, f);
    }

    fn describe(&self, name: &str, input: &[usize], out: &mut Vec<arch::Layer>) -> Vec<usize> {
        let d = input[input.len() - 1];
        for g in 0..input[0] / self.window {
            self.attn
                .describe(&join(name, &format!("w{g}")), &[self.window, d], out);
        }
        input.to_vec()
    }

    fn for_each_layer(&mut self, f: &mut dyn FnMut(&mut dyn Layer)) {
        f(self);
        self.attn.for_each_layer(f);
    }

    fn clear_cache(&mut self) {
        self.attn.clear_cache();
    }

    crate::layer_casts!();
}

/// Feature-domain attention: each window's tokens are scaled per feature by
/// sigmoid(W₂ gelu(W₁ mean(window))), a squeeze-excite gate over time windows.
pub struct FeatureGate {
    pub window: usize,
    pub gate: Sequential,
    /// The input and the gate values `[groups, D]`.
    saved: Option<(Tensor, Vec<f32>)>,
}

impl FeatureGate {
    fn new(window: usize, dim: usize, b: &mut Builder) -> FeatureGate {
        let mut gate = Sequential::new();
        let hidden = (dim / 4).max(4);
        gate.push("fc1", Linear::new(dim, hidden, true, &mut b.rng));
        gate.push("act", Activation::new(Act::Gelu));
        gate.push("fc2", Linear::new(hidden, dim, true, &mut b.rng));
        FeatureGate {
            window,
            gate,
            saved: None,
        }
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl Layer for FeatureGate {
    fn forward(&mut self, x: Tensor, mode: Mode) -> Tensor {
        let (w, d) = (self.window, x.cols());
        let groups = x.len() / (w * d);
        let mut mean = vec![0.0; groups * d];
        for (g, m) in x.data.chunks_exact(w * d).zip(mean.chunks_exact_mut(d)) {
            for row in g.chunks_exact(d) {
                m.iter_mut().zip(row).for_each(|(a, b)| *a += b / w as f32);
            }
        }
        let logits = self
            .gate
            .forward(Tensor::from_vec(&[groups, d], mean), mode);
        let s: Vec<f32> = logits.data.iter().map(|&v| sigmoid(v)).collect();
        let mut y = x.clone();
        for (g, sg) in y.data.chunks_exact_mut(w * d).zip(s.chunks_exact(d)) {
            for row in g.chunks_exact_mut(d) {
                row.iter_mut().zip(sg).for_each(|(a, b)| *a *= b);
            }
        }
        if mode == Mode::Train {
            self.saved = Some((x, s));
        }
        y
    }

    fn backward(&mut self, dy: Tensor) -> Tensor {
        let (x, s) = cached(&mut self.saved, "FeatureGate");
        let (w, d) = (self.window, x.cols());
        let groups = x.len() / (w * d);
        let mut dx = dy.clone();
        let mut dlogit = vec![0.0; groups * d];
        let parts = dx
            .data
            .chunks_exact_mut(w * d)
            .zip(x.data.chunks_exact(w * d))
            .zip(s.chunks_exact(d).zip(dlogit.chunks_exact_mut(d)));
        for ((dg, xg), (sg, dl)) in parts {
            for (drow, xrow) in dg.chunks_exact_mut(d).zip(xg.chunks_exact(d)) {
                for j in 0..d {
                    dl[j] += drow[j] * xrow[j];
                    drow[j] *= sg[j];
                }
            }
            for j in 0..d {
                dl[j] *= sg[j] * (1.0 - sg[j]);
            }
        }
        let dmean = self.gate.backward(Tensor::from_vec(&[groups, d], dlogit));
        for (dg, dm) in dx
            .data
            .chunks_exact_mut(w * d)
            .zip(dmean.data.chunks_exact(d))
        {
            for drow in dg.chunks_exact_mut(d) {
                drow.iter_mut()
                    .zip(dm)
                    .for_each(|(a, b)| *a += b / w as f32);
            }
        }
        dx
    }

    fn visit(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param)) {
        self.gate.visit(prefix, f);
    }

    fn describe(&self, name: &str, input: &[usize], out: &mut Vec<arch::Layer>) -> Vec<usize> {
        let groups = input[0] / self.window;
        let d = input[input.len() - 1];
        self.gate.describe(name, &[groups, d], out);
        out.push(arch_layer(
            &join(name, "scale"),
            arch::Op::Elementwise {
                elements: input.iter().product(),
            },
        ));
        input.to_vec()
    }

    fn for_each_layer(&mut self, f: &mut dyn FnMut(&mut dyn Layer)) {
        f(self);
        self.gate.for_each_layer(f);
    }

    fn clear_cache(&mut self) {
        self.saved = None;
        self.gate.clear_cache();
    }

    crate::layer_casts!();
}

/// One window scale: `layers` × (window attention, feature gate, MLP), each
/// pre-norm and residual.
fn branch(window: usize, s: &Settings, b: &mut Builder) -> Sequential {
    let mut seq = Sequential::new();
    for l in 0..s.layers {
        let mut attn = Sequential::new();
        attn.push("norm", LayerNorm::new(s.dim));
        attn.push(
            "attn",
            WindowAttention {
                window,
                attn: MultiHeadAttention::new(s.dim, s.heads, &mut b.rng),
            },
        );
        seq.push(format!("l{l}_time"), Residual { body: attn });
        let mut gate = Sequential::new();
        gate.push("norm", LayerNorm::new(s.dim));
        gate.push("gate", FeatureGate::new(window, s.dim, b));
        seq.push(format!("l{l}_feature"), Residual { body: gate });
        let mut mlp = Sequential::new();
        mlp.push("norm", LayerNorm::new(s.dim));
        mlp.push("fc1", Linear::new(s.dim, 2 * s.dim, true, &mut b.rng));
        mlp.push("act", Activation::new(Act::Gelu));
        mlp.push("fc2", Linear::new(2 * s.dim, s.dim, true, &mut b.rng));
        mlp.push("drop", b.dropout());
        seq.push(format!("l{l}_mlp"), Residual { body: mlp });
    }
    seq
}

/// Unique names of the branches: `win{w}`, and `win{w}_{k}` for the k-th
/// repeat of a window length (a parameter-matched single-window model repeats
/// one length; saved weights need one name per tensor).
fn branch_names(windows: &[usize]) -> Vec<String> {
    windows
        .iter()
        .enumerate()
        .map(
            |(i, w)| match windows[..i].iter().filter(|&v| v == w).count() {
                0 => format!("win{w}"),
                k => format!("win{w}_{k}"),
            },
        )
        .collect()
}

/// The window scales side by side on the same tokens `[N, T, D]`, fused by a
/// linear layer over their concatenation.
pub struct MultiWindow {
    pub windows: Vec<usize>,
    pub branches: Vec<Sequential>,
    pub fuse: Linear,
    dim: usize,
}

impl MultiWindow {
    fn new(s: &Settings, b: &mut Builder) -> MultiWindow {
        let branches = s.windows.iter().map(|&w| branch(w, s, b)).collect();
        MultiWindow {
            windows: s.windows.to_vec(),
            branches,
            fuse: Linear::new(s.windows.len() * s.dim, s.dim, true, &mut b.rng),
            dim: s.dim,
        }
    }
}

impl Layer for MultiWindow {
    fn forward(&mut self, x: Tensor, mode: Mode) -> Tensor {
        let (d, k) = (self.dim, self.branches.len());
        let rows = x.len() / d;
        let mut cat = vec![0.0; rows * k * d];
        for (i, br) in self.branches.iter_mut().enumerate() {
            let y = br.forward(x.clone(), mode);
            for (dst, src) in cat.chunks_exact_mut(k * d).zip(y.data.chunks_exact(d)) {
                dst[i * d..(i + 1) * d].copy_from_slice(src);
            }
        }
        let mut shape = x.shape.clone();
        if let Some(last) = shape.last_mut() {
            *last = k * d;
        }
        self.fuse.forward(Tensor::from_vec(&shape, cat), mode)
    }

    fn backward(&mut self, dy: Tensor) -> Tensor {
        let shape = dy.shape.clone();
        let (d, k) = (self.dim, self.branches.len());
        let dcat = self.fuse.backward(dy);
        let rows = dcat.len() / (k * d);
        let mut dx = Tensor::zeros(&shape);
        for (i, br) in self.branches.iter_mut().enumerate() {
            let mut part = Vec::with_capacity(rows * d);
            for src in dcat.data.chunks_exact(k * d) {
                part.extend_from_slice(&src[i * d..(i + 1) * d]);
            }
            let g = br.backward(Tensor::from_vec(&shape, part));
            dx.data.iter_mut().zip(&g.data).for_each(|(a, b)| *a += b);
        }
        dx
    }

    fn visit(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param)) {
        let names = branch_names(&self.windows);
        for (name, br) in names.iter().zip(&mut self.branches) {
            br.visit(&join(prefix, name), f);
        }
        self.fuse.visit(&join(prefix, "fuse"), f);
    }

    fn describe(&self, name: &str, input: &[usize], out: &mut Vec<arch::Layer>) -> Vec<usize> {
        for (branch, br) in branch_names(&self.windows).iter().zip(&self.branches) {
            br.describe(&join(name, branch), input, out);
        }
        let mut cat = input.to_vec();
        if let Some(last) = cat.last_mut() {
            *last = self.branches.len() * self.dim;
        }
        self.fuse.describe(&join(name, "fuse"), &cat, out)
    }

    fn for_each_layer(&mut self, f: &mut dyn FnMut(&mut dyn Layer)) {
        f(self);
        for br in &mut self.branches {
            br.for_each_layer(f);
        }
        self.fuse.for_each_layer(f);
    }

    fn clear_cache(&mut self) {
        self.branches.iter_mut().for_each(|b| b.clear_cache());
        self.fuse.clear_cache();
    }

    crate::layer_casts!();
}

/// The joint event/background and multi-class head, with optional
/// event-guided temporal refinement. Input `[N, T, D]`, output
/// `[N, T, events + 2]` (see the module doc).
pub struct EventHead {
    pub segments: usize,
    pub dim: usize,
    pub events: usize,
    pub event: Linear,
    pub refine: Option<Linear>,
    pub class: Linear,
    saved: Option<HeadSaved>,
}

/// What the head's backward needs.
struct HeadSaved {
    h: Tensor,
    /// Event logits `[N·T]`.
    e: Vec<f32>,
    /// Event-weighted mean features `[N, D]` and weight sums `[N]`.
    context: Vec<f32>,
    weight: Vec<f32>,
    /// Class softmax `[N·T, events]`.
    probs: Vec<f32>,
}

impl EventHead {
    fn new(segments: usize, dim: usize, events: usize, refine: bool, b: &mut Builder) -> EventHead {
        EventHead {
            segments,
            dim,
            events,
            event: Linear::new(dim, 1, true, &mut b.rng),
            refine: refine.then(|| Linear::new(dim, dim, true, &mut b.rng)),
            class: Linear::new(dim, events, true, &mut b.rng),
            saved: None,
        }
    }
}

/// log σ(x), stable for large |x|.
fn log_sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        -(-x).exp().ln_1p()
    } else {
        x - x.exp().ln_1p()
    }
}

impl Layer for EventHead {
    fn forward(&mut self, h: Tensor, mode: Mode) -> Tensor {
        let (t, d, k) = (self.segments, self.dim, self.events);
        let cells = h.len() / d;
        let videos = cells / t;
        let e = self.event.forward(h.clone(), mode).data;
        let mut context = vec![0.0; videos * d];
        let mut weight = vec![0.0; videos];
        let mut refined = h.clone();
        if let Some(r) = &mut self.refine {
            for v in 0..videos {
                let c = &mut context[v * d..(v + 1) * d];
                for s in 0..t {
                    let p = sigmoid(e[v * t + s]);
                    weight[v] += p;
                    let row = &h.data[(v * t + s) * d..][..d];
                    c.iter_mut().zip(row).for_each(|(a, b)| *a += p * b);
                }
                weight[v] += 1e-6;
                c.iter_mut().for_each(|a| *a /= weight[v]);
            }
            let add = r.forward(Tensor::from_vec(&[videos, d], context.clone()), mode);
            for (i, row) in refined.data.chunks_exact_mut(d).enumerate() {
                let a = &add.data[(i / t) * d..][..d];
                row.iter_mut().zip(a).for_each(|(x, y)| *x += y);
            }
        }
        let z = self.class.forward(refined, mode);
        let mut out = Vec::with_capacity(cells * (k + 2));
        let mut probs = Vec::with_capacity(cells * k);
        for (row, &ei) in z.data.chunks_exact(k).zip(&e) {
            let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            let log_z = max + row.iter().map(|v| (v - max).exp()).sum::<f32>().ln();
            let lp = log_sigmoid(ei);
            out.extend(row.iter().map(|v| v - log_z + lp));
            out.push(log_sigmoid(-ei));
            out.push(ei);
            probs.extend(row.iter().map(|v| (v - log_z).exp()));
        }
        let mut shape = h.shape.clone();
        if let Some(last) = shape.last_mut() {
            *last = k + 2;
        }
        if mode == Mode::Train {
            self.saved = Some(HeadSaved {
                h,
                e,
                context,
                weight,
                probs,
            });
        }
        Tensor::from_vec(&shape, out)
    }

    fn backward(&mut self, dy: Tensor) -> Tensor {
        let saved = cached(&mut self.saved, "EventHead");
        let (t, d, k) = (self.segments, self.dim, self.events);
        let cells = saved.h.len() / d;
        let mut dz = vec![0.0; cells * k];
        let mut de = vec![0.0; cells];
        for i in 0..cells {
            let g = &dy.data[i * (k + 2)..][..k + 2];
            let p = &saved.probs[i * k..][..k];
            let sum: f32 = g[..k].iter().sum();
            for j in 0..k {
                dz[i * k + j] = g[j] - p[j] * sum;
            }
            let s = sigmoid(saved.e[i]);
            de[i] = sum * (1.0 - s) - g[k] * s + g[k + 1];
        }
        let mut dh = self.class.backward(Tensor::from_vec(&[cells, k], dz));
        if let Some(r) = &mut self.refine {
            let videos = cells / t;
            let mut dadd = vec![0.0; videos * d];
            for (i, row) in dh.data.chunks_exact(d).enumerate() {
                let a = &mut dadd[(i / t) * d..][..d];
                a.iter_mut().zip(row).for_each(|(x, y)| *x += y);
            }
            let dc = r.backward(Tensor::from_vec(&[videos, d], dadd));
            for (i, (dei, &ei)) in de.iter_mut().zip(&saved.e).enumerate() {
                let v = i / t;
                let (c, dcv) = (&saved.context[v * d..][..d], &dc.data[v * d..][..d]);
                let w = saved.weight[v];
                let p = sigmoid(ei);
                let hrow = &saved.h.data[i * d..][..d];
                let dp: f32 = (0..d).map(|j| (hrow[j] - c[j]) * dcv[j]).sum::<f32>() / w;
                *dei += dp * p * (1.0 - p);
                let drow = &mut dh.data[i * d..][..d];
                drow.iter_mut().zip(dcv).for_each(|(x, y)| *x += p * y / w);
            }
        }
        let dev = self.event.backward(Tensor::from_vec(&[cells, 1], de));
        dh.data.iter_mut().zip(&dev.data).for_each(|(a, b)| *a += b);
        dh.reshaped(&saved.h.shape)
    }

    fn visit(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param)) {
        self.event.visit(&join(prefix, "event"), f);
        if let Some(r) = &mut self.refine {
            r.visit(&join(prefix, "refine"), f);
        }
        self.class.visit(&join(prefix, "class"), f);
    }

    fn describe(&self, name: &str, input: &[usize], out: &mut Vec<arch::Layer>) -> Vec<usize> {
        self.event.describe(&join(name, "event"), input, out);
        if let Some(r) = &self.refine {
            r.describe(&join(name, "refine"), &[1, self.dim], out);
        }
        self.class.describe(&join(name, "class"), input, out);
        vec![input[0], self.events + 2]
    }

    fn for_each_layer(&mut self, f: &mut dyn FnMut(&mut dyn Layer)) {
        f(self);
        self.event.for_each_layer(f);
        if let Some(r) = &mut self.refine {
            r.for_each_layer(f);
        }
        self.class.for_each_layer(f);
    }

    fn clear_cache(&mut self) {
        self.saved = None;
        self.event.clear_cache();
        if let Some(r) = &mut self.refine {
            r.clear_cache();
        }
        self.class.clear_cache();
    }

    crate::layer_casts!();
}

/// AVE-CLIP's post-processing (project's own rule; the paper's is not
/// published): within each video of `segments` predictions, a segment whose two
/// neighbours agree with each other but not with it is an isolated prediction
/// between transitions and takes the neighbours' label. Decided on the
/// unmodified sequence, so one pass never cascades.
pub fn postprocess(labels: &mut [u32], segments: usize) {
    if segments < 3 {
        return;
    }
    for video in labels.chunks_exact_mut(segments) {
        let orig = video.to_vec();
        for s in 1..segments - 1 {
            if orig[s - 1] == orig[s + 1] && orig[s] != orig[s - 1] {
                video[s] = orig[s - 1];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postprocess_removes_isolated_labels_only() {
        let mut p = vec![3, 3, 1, 3, 3, 0, 0, 2, 2, 2];
        postprocess(&mut p, 10);
        assert_eq!(p, vec![3, 3, 3, 3, 3, 0, 0, 2, 2, 2]);
        let mut q = vec![0, 1, 0, 1];
        postprocess(&mut q, 4);
        assert_eq!(q, vec![0, 0, 1, 1]);
    }

    use crate::spec::Family;

    fn spec(windows: Vec<usize>, refine: bool) -> ModelSpec {
        ModelSpec {
            family: Family::TemporalTransformer {
                windows,
                dim: 8,
                heads: 2,
                layers: 1,
                refine,
                postprocess: true,
            },
            input: [4, 3, 5],
            classes: 4,
            dropout: 0.0,
            seed: 5,
        }
    }

    fn input() -> Tensor {
        let data = (0..2 * 4 * 8).map(|i| (i as f32 * 0.37).sin()).collect();
        Tensor::from_vec(&[2, 4, 8], data)
    }

    fn weighted(net: &mut Network, x: &Tensor, r: &[f32]) -> f64 {
        let y = net.forward(x.clone(), Mode::Eval);
        y.data
            .iter()
            .zip(r)
            .map(|(a, b)| f64::from(*a) * f64::from(*b))
            .sum()
    }

    /// Every param's gradient (a few coordinates each) matches central differences.
    #[test]
    fn parameter_gradients_match_central_differences() {
        let mut net = Network::build(&spec(vec![1, 2, 4], true)).unwrap();
        let x = input();
        let y = net.forward(x.clone(), Mode::Train);
        assert_eq!(y.shape, vec![2, 4, 5]);
        let r: Vec<f32> = (0..y.len())
            .map(|i| ((i * 7 % 11) as f32 - 5.0) / 5.0)
            .collect();
        net.zero_grad();
        net.backward(Tensor::from_vec(&y.shape, r.clone()));
        let mut grads = Vec::new();
        net.visit(&mut |name, p| {
            if p.trainable() {
                grads.push((name.to_string(), p.grad.clone()));
            }
        });
        let eps = 1e-2f32;
        for (name, grad) in &grads {
            for i in [0, grad.len() / 2, grad.len() - 1] {
                let nudge = |net: &mut Network, delta: f32| {
                    net.visit(&mut |n, p| {
                        if n == name {
                            p.value.data[i] += delta;
                        }
                    })
                };
                nudge(&mut net, eps);
                let plus = weighted(&mut net, &x, &r);
                nudge(&mut net, -2.0 * eps);
                let minus = weighted(&mut net, &x, &r);
                nudge(&mut net, eps);
                let numeric = (plus - minus) / (2.0 * f64::from(eps));
                let a = f64::from(grad[i]);
                let tol = 3e-2 * numeric.abs().max(a.abs()) + 3e-3;
                assert!((a - numeric).abs() <= tol, "{name}[{i}]: {a} vs {numeric}");
            }
        }
    }

    #[test]
    fn saved_weights_reload_to_identical_outputs() {
        let mut net = Network::build(&spec(vec![2, 4], false)).unwrap();
        let want = net.forward(input(), Mode::Eval);
        let bytes = net.save_weights().unwrap();
        let mut other = spec(vec![2, 4], false);
        other.seed = 99;
        let mut back = Network::load(&other, &bytes).unwrap();
        assert_eq!(back.forward(input(), Mode::Eval).data, want.data);
        assert!(towers(&mut back).is_some());
    }

    /// A parameter-matched single-window model repeats one window length; its
    /// branches need distinct names to save and reload (before: safetensors
    /// panicked on the duplicate names). Same parameter count as two lengths.
    #[test]
    fn repeated_windows_save_reload_and_match_the_parameters() {
        let mut net = Network::build(&spec(vec![2, 2], false)).unwrap();
        let mut mixed = Network::build(&spec(vec![2, 4], false)).unwrap();
        assert_eq!(net.trainable_params(), mixed.trainable_params());
        let want = net.forward(input(), Mode::Eval);
        let bytes = net.save_weights().unwrap();
        let mut other = spec(vec![2, 2], false);
        other.seed = 99;
        let mut back = Network::load(&other, &bytes).unwrap();
        assert_eq!(back.forward(input(), Mode::Eval).data, want.data);
    }

    #[test]
    fn windows_that_do_not_divide_the_segments_are_refused() {
        let err = Network::build(&spec(vec![3], true))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("window 3 must divide the 4 segments"), "{err}");
    }

    #[test]
    fn log_sigmoid_is_stable_and_normalises_the_joint_output() {
        for x in [-50.0f32, -1.0, 0.0, 2.0, 50.0] {
            let total = log_sigmoid(x).exp() + log_sigmoid(-x).exp();
            assert!((total - 1.0).abs() < 1e-5, "{x}");
        }
    }
}
