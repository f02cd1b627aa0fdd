//! The weight-shared layers of a slimmable network (Joslim's `SlimConv2d`,
//! `SlimBN`, and a slim `Linear`): each owns the full-width parameters and, per
//! width, a plain layer of the sliced shape that runs the arithmetic. Forward at
//! the active width copies the leading output/input channels of the shared
//! weights into that width's layer (only when the shared weights may have
//! changed); backward adds the sliced gradient back into the shared one. Batch
//! norm shares its scale and shift but keeps running statistics per width.
//! These layers never choose a width themselves: `slim::set_width` does.

use crate::conv::{Conv2d, ConvShape};
use crate::init::Rng8;
use crate::layer::{join, Layer, Mode, Tensor};
use crate::linear::Linear;
use crate::norm::BatchNorm2d;
use crate::param::Param;
use pipe_sim::arch;
use rand::SeedableRng;

/// Active (input, output) channels of one layer at one width.
pub type Channels = (usize, usize);

/// Copies the first `dst_row` values of each of the first rows of `src`
/// (rows of `src_row` values) into `dst` (rows of `dst_row`).
fn copy_prefix(src: &[f32], src_row: usize, dst: &mut [f32], dst_row: usize) {
    for (d, s) in dst.chunks_exact_mut(dst_row).zip(src.chunks_exact(src_row)) {
        d.copy_from_slice(&s[..dst_row]);
    }
}

/// Adds the sliced gradient `src` (rows of `src_row`) into the leading part of
/// the full gradient `dst` (rows of `dst_row`).
fn add_prefix(src: &[f32], src_row: usize, dst: &mut [f32], dst_row: usize) {
    for (d, s) in dst.chunks_exact_mut(dst_row).zip(src.chunks_exact(src_row)) {
        d[..src_row].iter_mut().zip(s).for_each(|(a, b)| *a += b);
    }
}

/// Makes a width's copy of a shared param train exactly when the shared one does.
fn sync_trainable(shared: &Param, copy: &mut Param) {
    if copy.trainable() != shared.trainable() {
        copy.set_trainable(shared.trainable());
    }
}

/// Loads the slice of `shared` (rows of `shared_row`) into `copy` (rows of `row`).
fn load_slice(shared: &Param, shared_row: usize, copy: &mut Param, row: usize) {
    copy_prefix(&shared.value.data, shared_row, &mut copy.value.data, row);
    sync_trainable(shared, copy);
}

/// Adds `copy`'s gradient into `shared`'s and clears it.
fn store_grad(copy: &mut Param, row: usize, shared: &mut Param, shared_row: usize) {
    if shared.trainable() && copy.trainable() {
        add_prefix(&copy.grad, row, &mut shared.grad, shared_row);
        copy.zero_grad();
    }
}

/// Loads a width's weight and bias (`copy_*`, rows of `row`) from the shared
/// full-width ones (rows of `full_row`): the slicing every slim conv and linear
/// layer does before it runs.
fn load_weight_and_bias(
    (weight, bias): (&Param, Option<&Param>),
    full_row: usize,
    (copy_weight, copy_bias): (&mut Param, Option<&mut Param>),
    row: usize,
) {
    load_slice(weight, full_row, copy_weight, row);
    if let (Some(shared), Some(copy)) = (bias, copy_bias) {
        load_slice(shared, 1, copy, 1);
    }
}

/// Adds a width's weight and bias gradients into the shared ones: the inverse
/// of `load_weight_and_bias`, after every slim conv or linear backward.
fn store_weight_and_bias(
    (copy_weight, copy_bias): (&mut Param, Option<&mut Param>),
    row: usize,
    (weight, bias): (&mut Param, Option<&mut Param>),
    full_row: usize,
) {
    store_grad(copy_weight, row, weight, full_row);
    if let (Some(shared), Some(copy)) = (bias, copy_bias) {
        store_grad(copy, 1, shared, 1);
    }
}

/// Visits a slim layer's shared weight and optional bias.
fn visit_weight_and_bias(
    prefix: &str,
    weight: &mut Param,
    bias: Option<&mut Param>,
    f: &mut dyn FnMut(&str, &mut Param),
) {
    f(&join(prefix, "weight"), weight);
    if let Some(b) = bias {
        f(&join(prefix, "bias"), b);
    }
}

/// Moves a param out of a layer that is being replaced.
pub(crate) fn take(p: &mut Param) -> Param {
    std::mem::replace(p, Param::new(Tensor::zeros(&[0]), p.kind))
}

/// A throwaway generator: the per-width layers' own initial values are always
/// overwritten by the shared weights before they run.
fn scratch_rng() -> Rng8 {
    Rng8::seed_from_u64(0)
}

/// A convolution whose widths share `weight[:out, :in]` (depthwise: `[:ch]`).
pub struct SlimConv2d {
    pub full: ConvShape,
    /// `[out, in/groups, k, k]` at full width.
    pub weight: Param,
    pub bias: Option<Param>,
    per_width: Vec<Conv2d>,
    stale: Vec<bool>,
    active: usize,
}

impl SlimConv2d {
    /// Shares a full-width convolution's params (groups 1 or depthwise);
    /// `channels` gives its active channels per width.
    pub fn new(
        full: ConvShape,
        weight: Param,
        bias: Option<Param>,
        channels: &[Channels],
    ) -> SlimConv2d {
        let depthwise = full.groups > 1;
        let mut rng = scratch_rng();
        let per_width = channels
            .iter()
            .map(|&(in_ch, out_ch)| {
                let shape = ConvShape {
                    in_ch,
                    out_ch,
                    groups: if depthwise { in_ch } else { 1 },
                    ..full
                };
                Conv2d::new(shape, bias.is_some(), &mut rng)
            })
            .collect();
        SlimConv2d {
            full,
            weight,
            bias,
            stale: vec![true; channels.len()],
            per_width,
            active: channels.len().saturating_sub(1),
        }
    }

    fn rows(&self) -> (usize, usize) {
        let k2 = self.full.kernel * self.full.kernel;
        let s = self.per_width[self.active].shape;
        (
            self.full.in_ch / self.full.groups * k2,
            s.in_ch / s.groups * k2,
        )
    }
}

impl Layer for SlimConv2d {
    fn forward(&mut self, x: Tensor, mode: Mode) -> Tensor {
        let (full_row, row) = self.rows();
        let conv = &mut self.per_width[self.active];
        if std::mem::take(&mut self.stale[self.active]) {
            load_weight_and_bias(
                (&self.weight, self.bias.as_ref()),
                full_row,
                (&mut conv.weight, conv.bias.as_mut()),
                row,
            );
        }
        conv.forward(x, mode)
    }

    fn backward(&mut self, dy: Tensor) -> Tensor {
        let (full_row, row) = self.rows();
        let conv = &mut self.per_width[self.active];
        let dx = conv.backward(dy);
        store_weight_and_bias(
            (&mut conv.weight, conv.bias.as_mut()),
            row,
            (&mut self.weight, self.bias.as_mut()),
            full_row,
        );
        dx
    }

    fn visit(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param)) {
        self.stale.fill(true);
        visit_weight_and_bias(prefix, &mut self.weight, self.bias.as_mut(), f);
    }

    fn describe(&self, name: &str, input: &[usize], out: &mut Vec<arch::Layer>) -> Vec<usize> {
        self.per_width[self.active].describe(name, input, out)
    }

    fn clear_cache(&mut self) {
        self.per_width.iter_mut().for_each(|c| c.clear_cache());
    }

    crate::layer_casts!();
}

/// A linear layer whose widths share `weight[:out, :in]`.
pub struct SlimLinear {
    pub in_features: usize,
    pub out_features: usize,
    /// `[out, in]` at full width.
    pub weight: Param,
    pub bias: Option<Param>,
    per_width: Vec<Linear>,
    stale: Vec<bool>,
    active: usize,
}

impl SlimLinear {
    /// Shares a full-width `[out, in]` weight and bias; `channels` gives the
    /// active features per width.
    pub fn new(weight: Param, bias: Option<Param>, channels: &[Channels]) -> SlimLinear {
        let mut rng = scratch_rng();
        let per_width = channels
            .iter()
            .map(|&(i, o)| Linear::new(i, o, bias.is_some(), &mut rng))
            .collect();
        SlimLinear {
            out_features: weight.value.shape[0],
            in_features: weight.value.shape[1],
            weight,
            bias,
            stale: vec![true; channels.len()],
            per_width,
            active: channels.len().saturating_sub(1),
        }
    }
}

impl Layer for SlimLinear {
    fn forward(&mut self, x: Tensor, mode: Mode) -> Tensor {
        let full_row = self.in_features;
        let fc = &mut self.per_width[self.active];
        if std::mem::take(&mut self.stale[self.active]) {
            load_weight_and_bias(
                (&self.weight, self.bias.as_ref()),
                full_row,
                (&mut fc.weight, fc.bias.as_mut()),
                fc.in_features,
            );
        }
        fc.forward(x, mode)
    }

    fn backward(&mut self, dy: Tensor) -> Tensor {
        let full_row = self.in_features;
        let fc = &mut self.per_width[self.active];
        let dx = fc.backward(dy);
        store_weight_and_bias(
            (&mut fc.weight, fc.bias.as_mut()),
            fc.in_features,
            (&mut self.weight, self.bias.as_mut()),
            full_row,
        );
        dx
    }

    fn visit(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param)) {
        self.stale.fill(true);
        visit_weight_and_bias(prefix, &mut self.weight, self.bias.as_mut(), f);
    }

    fn describe(&self, name: &str, input: &[usize], out: &mut Vec<arch::Layer>) -> Vec<usize> {
        self.per_width[self.active].describe(name, input, out)
    }

    fn clear_cache(&mut self) {
        self.per_width.iter_mut().for_each(|l| l.clear_cache());
    }

    crate::layer_casts!();
}

/// Batch norm whose widths share scale and shift `[:ch]` but keep their own
/// running statistics, saved as `running_mean@<width>` / `running_var@<width>`.
pub struct SlimBatchNorm {
    pub weight: Param,
    pub bias: Param,
    per_width: Vec<BatchNorm2d>,
    /// Width labels for the per-width statistics' names.
    labels: Vec<String>,
    stale: Vec<bool>,
    active: usize,
}

impl SlimBatchNorm {
    /// `channels[i]` is the active channel count at width `labels[i]`; every
    /// width's statistics start from the leading channels of `bn`'s, whose scale
    /// and shift become the shared ones.
    pub fn new(bn: &mut BatchNorm2d, channels: &[usize], labels: Vec<String>) -> SlimBatchNorm {
        let per_width = channels
            .iter()
            .map(|&c| {
                let mut w = BatchNorm2d::new(c);
                w.momentum = bn.momentum;
                copy_prefix(
                    &bn.running_mean.value.data,
                    1,
                    &mut w.running_mean.value.data,
                    1,
                );
                copy_prefix(
                    &bn.running_var.value.data,
                    1,
                    &mut w.running_var.value.data,
                    1,
                );
                w
            })
            .collect();
        SlimBatchNorm {
            weight: take(&mut bn.weight),
            bias: take(&mut bn.bias),
            stale: vec![true; channels.len()],
            per_width,
            labels,
            active: channels.len().saturating_sub(1),
        }
    }
}

impl Layer for SlimBatchNorm {
    fn forward(&mut self, x: Tensor, mode: Mode) -> Tensor {
        let bn = &mut self.per_width[self.active];
        if self.stale[self.active] {
            load_slice(&self.weight, 1, &mut bn.weight, 1);
            load_slice(&self.bias, 1, &mut bn.bias, 1);
            self.stale[self.active] = false;
        }
        bn.forward(x, mode)
    }

    fn backward(&mut self, dy: Tensor) -> Tensor {
        let bn = &mut self.per_width[self.active];
        let dx = bn.backward(dy);
        store_grad(&mut bn.weight, 1, &mut self.weight, 1);
        store_grad(&mut bn.bias, 1, &mut self.bias, 1);
        dx
    }

    fn visit(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param)) {
        self.stale.fill(true);
        f(&join(prefix, "weight"), &mut self.weight);
        f(&join(prefix, "bias"), &mut self.bias);
        for (bn, label) in self.per_width.iter_mut().zip(&self.labels) {
            f(
                &join(prefix, &format!("running_mean@{label}")),
                &mut bn.running_mean,
            );
            f(
                &join(prefix, &format!("running_var@{label}")),
                &mut bn.running_var,
            );
        }
    }

    fn describe(&self, name: &str, input: &[usize], out: &mut Vec<arch::Layer>) -> Vec<usize> {
        self.per_width[self.active].describe(name, input, out)
    }

    fn clear_cache(&mut self) {
        self.per_width.iter_mut().for_each(|l| l.clear_cache());
    }

    crate::layer_casts!();
}

/// Selects width `index` on any slim layer; other layers are left alone.
pub(crate) fn select(layer: &mut dyn Layer, index: usize) {
    let any = layer.as_any_mut();
    if let Some(l) = any.downcast_mut::<SlimConv2d>() {
        l.active = index;
    } else if let Some(l) = any.downcast_mut::<SlimLinear>() {
        l.active = index;
    } else if let Some(l) = any.downcast_mut::<SlimBatchNorm>() {
        l.active = index;
    }
}

/// The batch norm that runs at the active width: a slim one's own
/// statistics, or a plain batch norm; `None` for any other layer.
pub(crate) fn active_batch_norm(layer: &mut dyn Layer) -> Option<&mut BatchNorm2d> {
    let any = layer.as_any_mut();
    if any.is::<SlimBatchNorm>() {
        let slim = any.downcast_mut::<SlimBatchNorm>()?;
        return slim.per_width.get_mut(slim.active);
    }
    any.downcast_mut::<BatchNorm2d>()
}
