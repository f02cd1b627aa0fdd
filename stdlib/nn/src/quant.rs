//! `FakeQuant`: fake quantization hooks on `Linear` and `Conv2d`, and the
//! network-wide quantization state (`QuantState`, one `FakeQuant` per layer
//! name) that a quantized model saves beside its float weights.
//!
//! Weights: uniform per output channel (or per tensor), signed symmetric grid
//! `[-2^(b-1), 2^(b-1)-1]` or unsigned `[0, 2^b-1]` with zero points (FQ-ViT's
//! `q = clamp(round(x/s + z), lo, hi)`, `x̂ = (q - z)·s`), optional weight bias
//! correction, or LightNN power-of-two weights. Activations (the layer's input):
//! per tensor. Rounding is straight-through: the layers' backward passes use the
//! quantized weights and treat rounding as the identity.
//!
//! This module never calibrates: calibration methods (min-max, OMSE, evolutionary
//! search) live in `pipe-stdlib` and only set the scales here. Float weights are
//! never overwritten, so a saved state reloads to bit-identical outputs.

use crate::attention::MultiHeadAttention;
use crate::conv::Conv2d;
use crate::error::NnError;
use crate::layer::Layer;
use crate::linear::Linear;
use crate::network::Network;
use crate::param::Param;
use pipe_sim::arch;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// Weight bias correction's guard against a zero standard deviation (FQ-ViT's 1e-8).
const STD_EPS: f32 = 1e-8;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FakeQuant {
    /// 32 leaves weights in float (unless `pow2` is set).
    pub weight_bits: u32,
    /// 32 leaves activations in float.
    pub act_bits: u32,
    /// Signed symmetric weight grid; unsigned with zero points when false.
    #[serde(default = "signed_default")]
    pub weight_signed: bool,
    /// One scale per output channel, or one for the whole tensor; `None` uses
    /// each channel's own min-max.
    pub weight_scales: Option<Vec<f32>>,
    /// Zero points matching `weight_scales` (unsigned grids); `None` is zero.
    #[serde(default)]
    pub weight_zero_points: Option<Vec<f32>>,
    /// Fixed activation range `(lo, hi)`; `None` uses the batch's min-max.
    pub act_range: Option<(f32, f32)>,
    /// Signed symmetric activation grid; unsigned asymmetric when false.
    #[serde(default)]
    pub act_signed: bool,
    /// Rescales each quantized weight channel to the float channel's mean and std.
    #[serde(default)]
    pub bias_correction: bool,
    /// Power-of-two weights instead of the uniform grid.
    #[serde(default)]
    pub pow2: Option<Pow2>,
    /// While set, the layer runs in float and records its inputs (calibration).
    #[serde(skip)]
    pub observer: Option<Observer>,
}

fn signed_default() -> bool {
    true
}

/// LightNN power-of-two weights: `sign(w)·2^k` with `k` in `[-shift_bits, 0]`
/// (one shift), or the sum of two such terms (two shifts).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pow2 {
    pub shifts: u32,
    pub shift_bits: u32,
}

/// Records the inputs a layer sees, batch by batch, during a float calibration pass.
#[derive(Debug, Clone, Default)]
pub struct Observer(Arc<Mutex<Vec<Vec<f32>>>>);

impl Observer {
    pub fn record(&self, x: &[f32]) {
        let mut batches = self.0.lock().unwrap_or_else(|e| e.into_inner());
        batches.push(x.to_vec());
    }

    /// Every recorded batch, in the order the forward passes ran.
    pub fn batches(&self) -> Vec<Vec<f32>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// An observer never changes what a layer computes, so quantizers compare by
/// their grids alone.
impl PartialEq for Observer {
    fn eq(&self, _: &Observer) -> bool {
        true
    }
}

/// The integer range `[lo, hi]` of a `bits`-bit grid.
pub fn int_range(bits: u32, signed: bool) -> (f32, f32) {
    let bits = bits.clamp(1, 31);
    if signed {
        let half = (1u64 << (bits - 1)) as f32;
        (-half, half - 1.0)
    } else {
        (0.0, ((1u64 << bits) - 1) as f32)
    }
}

/// FQ-ViT's scale and zero point for the observed range `[min, max]`: symmetric
/// `s = max(|min|, max) / ((hi - lo) / 2)`, `z = 0` on a signed grid; else
/// `s = (max - min) / (hi - lo)`, `z = clamp(lo - round(min / s), lo, hi)`.
pub fn scale_zero(min: f32, max: f32, bits: u32, signed: bool) -> (f32, f32) {
    let (lo, hi) = int_range(bits, signed);
    if signed {
        let s = ((-min).max(max) / ((hi - lo) / 2.0)).max(f32::EPSILON);
        return (s, 0.0);
    }
    let s = ((max - min) / (hi - lo)).max(f32::EPSILON);
    (s, (lo - (min / s).round()).clamp(lo, hi))
}

/// One value on the grid `(s, z)` over `[lo, hi]`.
pub fn fake(x: f32, s: f32, z: f32, lo: f32, hi: f32) -> f32 {
    ((x / s + z).round().clamp(lo, hi) - z) * s
}

/// The nearest `±2^k`, `k` in `[-shift_bits, 0]` (by rounding `log2|x|`), or 0
/// when `|x|` is below half the smallest power (the project's choice: the
/// excerpt this follows has no zero).
pub fn pow2_term(x: f32, shift_bits: u32) -> f32 {
    let smallest = (-(shift_bits as f32)).exp2();
    if x.abs() < smallest / 2.0 || !x.is_finite() {
        return 0.0;
    }
    let k = x.abs().log2().round().clamp(-(shift_bits as f32), 0.0);
    x.signum() * k.exp2()
}

impl Pow2 {
    /// `w` as a sum of `shifts` powers of two, each fitted to what is left.
    pub fn quantize(&self, w: f32) -> f32 {
        let mut left = w;
        let mut sum = 0.0;
        for _ in 0..self.shifts.max(1) {
            let term = pow2_term(left, self.shift_bits);
            sum += term;
            left -= term;
        }
        sum
    }

    /// Storage bits per weight: per shift a sign and an exponent index over
    /// `shift_bits + 1` powers plus zero.
    pub fn bits(&self) -> u32 {
        let codes = self.shift_bits + 2;
        let exponent = u32::BITS - (codes - 1).leading_zeros();
        self.shifts.max(1) * (1 + exponent)
    }
}

/// Mean and standard deviation of a channel.
fn mean_std(x: &[f32]) -> (f32, f32) {
    let n = x.len().max(1) as f32;
    let mean = x.iter().sum::<f32>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n;
    (mean, var.sqrt())
}

/// `w' = (ŵ - μ̂)·σ/(σ̂ + ε) + μ` per channel (FQ-ViT's `bias_correction`).
fn correct_bias(float: &[f32], quant: &mut [f32]) {
    let (mu, sigma) = mean_std(float);
    let (mu_q, sigma_q) = mean_std(quant);
    let gain = sigma / (sigma_q + STD_EPS);
    quant.iter_mut().for_each(|v| *v = (*v - mu_q) * gain + mu);
}

impl FakeQuant {
    pub fn new(weight_bits: u32, act_bits: u32) -> FakeQuant {
        FakeQuant {
            weight_bits,
            act_bits,
            weight_signed: true,
            weight_scales: None,
            weight_zero_points: None,
            act_range: None,
            act_signed: false,
            bias_correction: false,
            pow2: None,
            observer: None,
        }
    }

    /// The scale and zero point of channel `c` holding `row`.
    fn channel_grid(&self, c: usize, row: &[f32]) -> (f32, f32) {
        let pick = |v: &Vec<f32>| v.get(c).or_else(|| v.first()).copied();
        match self.weight_scales.as_ref().and_then(pick) {
            Some(s) => {
                let z = self.weight_zero_points.as_ref().and_then(pick);
                (s, z.unwrap_or(0.0))
            }
            None => {
                let (min, max) = min_max(row);
                scale_zero(min, max, self.weight_bits, self.weight_signed)
            }
        }
    }

    /// The quantized copy of `w`, whose `out` rows are output channels.
    pub fn weights(&self, w: &[f32], out: usize) -> Vec<f32> {
        if self.observer.is_some() || out == 0 || !w.len().is_multiple_of(out) {
            return w.to_vec();
        }
        let mut q = match self.pow2 {
            Some(p) => w.iter().map(|&v| p.quantize(v)).collect(),
            None if self.weight_bits >= 32 => return w.to_vec(),
            None => self.uniform_weights(w, out),
        };
        if self.bias_correction {
            let per = w.len() / out;
            for (row, qrow) in w.chunks_exact(per).zip(q.chunks_exact_mut(per)) {
                correct_bias(row, qrow);
            }
        }
        q
    }

    fn uniform_weights(&self, w: &[f32], out: usize) -> Vec<f32> {
        let (lo, hi) = int_range(self.weight_bits, self.weight_signed);
        let per = w.len() / out;
        let mut q = Vec::with_capacity(w.len());
        for (c, row) in w.chunks_exact(per).enumerate() {
            let (s, z) = self.channel_grid(c, row);
            q.extend(row.iter().map(|&v| fake(v, s, z, lo, hi)));
        }
        q
    }

    /// Quantizes activations in place on the per-tensor grid of `act_range`
    /// (or the batch's min-max); records them instead while observing.
    pub fn activations(&self, x: &mut [f32]) {
        if let Some(obs) = &self.observer {
            obs.record(x);
            return;
        }
        if self.act_bits >= 32 || x.is_empty() {
            return;
        }
        let (min, max) = self.act_range.unwrap_or_else(|| min_max(x));
        if !(min.is_finite() && max.is_finite()) {
            return;
        }
        let (s, z) = scale_zero(min, max, self.act_bits, self.act_signed);
        let (lo, hi) = int_range(self.act_bits, self.act_signed);
        x.iter_mut().for_each(|v| *v = fake(*v, s, z, lo, hi));
    }

    /// Writes this quantizer's precision into the layer's descriptor entry.
    pub fn annotate(&self, layer: &mut arch::Layer) {
        layer.act_bits = self.act_bits;
        match self.pow2 {
            Some(p) => {
                layer.weight_bits = p.bits();
                layer.pow2_shifts = Some(p.shifts);
            }
            None => layer.weight_bits = self.weight_bits,
        }
    }
}

/// The smallest and largest value (0, 0 for an empty slice).
pub fn min_max(x: &[f32]) -> (f32, f32) {
    if x.is_empty() {
        return (0.0, 0.0);
    }
    x.iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        })
}

/// Every quantized layer's `FakeQuant`, by layer name (`block1.attn.attn.qkv`).
pub type QuantState = BTreeMap<String, FakeQuant>;

/// A layer that can carry a `FakeQuant`, as quantization passes see it.
pub struct Quantizable<'a> {
    /// `[out, ...]` float weights, output channels first (writable for `bake`).
    pub weight: &'a mut [f32],
    pub out_channels: usize,
    pub quant: &'a mut Option<FakeQuant>,
}

/// Calls `f` with the name and hook of every `Linear` and `Conv2d`, in forward order.
/// Names come from the weight's param name, so they match the safetensors file.
pub fn for_each_quantizable(net: &mut Network, f: &mut dyn FnMut(&str, Quantizable<'_>)) {
    let names = weight_names(net);
    for block in &mut net.blocks {
        block.body.for_each_layer(&mut |layer| {
            let any = layer.as_any_mut();
            let hook = if let Some(l) = any.downcast_mut::<Linear>() {
                Some((&mut l.weight, l.out_features, &mut l.quant))
            } else if let Some(c) = any.downcast_mut::<Conv2d>() {
                Some((&mut c.weight, c.shape.out_ch, &mut c.quant))
            } else {
                None
            };
            let Some((weight, out_channels, quant)) = hook else {
                return;
            };
            let Some(name) = names.get(&(&*weight as *const Param as usize)) else {
                return;
            };
            f(
                name,
                Quantizable {
                    weight: &mut weight.value.data,
                    out_channels,
                    quant,
                },
            );
        });
    }
}

/// Per block (by index) the layer names of its attention projections (`qkv`,
/// `proj` of every `MultiHeadAttention` inside), for blocks that have any.
pub fn attention_projections(net: &mut Network) -> Vec<(usize, Vec<String>)> {
    let names = weight_names(net);
    let mut out = Vec::new();
    for (i, block) in net.blocks.iter_mut().enumerate() {
        let mut found = Vec::new();
        block.body.for_each_layer(&mut |layer| {
            if let Some(a) = layer.as_any_mut().downcast_mut::<MultiHeadAttention>() {
                for w in [&a.qkv.weight, &a.proj.weight] {
                    found.extend(names.get(&(w as *const Param as usize)).cloned());
                }
            }
        });
        if !found.is_empty() {
            out.push((i, found));
        }
    }
    out
}

/// Layer names by the address of their weight param.
fn weight_names(net: &mut Network) -> HashMap<usize, String> {
    let mut names = HashMap::new();
    net.visit(&mut |name, p| {
        if let Some(layer) = name.strip_suffix(".weight") {
            names.insert(p as *const Param as usize, layer.to_string());
        }
    });
    names
}

/// The current quantization state (layers without a hook are left out).
pub fn state(net: &mut Network) -> QuantState {
    let mut out = QuantState::new();
    for_each_quantizable(net, &mut |name, layer| {
        if let Some(q) = layer.quant {
            let mut q = q.clone();
            q.observer = None;
            out.insert(name.to_string(), q);
        }
    });
    out
}

/// Sets the hooks named in `state` (others stay as they are). A name the
/// network does not have is an error naming it.
pub fn apply(net: &mut Network, state: &QuantState) -> Result<(), NnError> {
    let mut seen = 0;
    for_each_quantizable(net, &mut |name, layer| {
        if let Some(q) = state.get(name) {
            *layer.quant = Some(q.clone());
            seen += 1;
        }
    });
    if seen == state.len() {
        return Ok(());
    }
    let mut known = Vec::new();
    for_each_quantizable(net, &mut |name, _| known.push(name.to_string()));
    let missing: Vec<&String> = state.keys().filter(|k| !known.contains(k)).collect();
    Err(NnError::Weights(format!(
        "the quantization state names layers {missing:?} that the network does not have; the model was quantized from another configuration"
    )))
}

/// Removes every hook: the float network.
pub fn clear(net: &mut Network) {
    for_each_quantizable(net, &mut |_, layer| *layer.quant = None);
}

/// Writes each hooked layer's quantized weights (what its forward pass uses)
/// over the float ones and removes the hooks, for a file other tools load as a
/// float model. Returns the distinct weight and activation bit widths, each as
/// `8` or `4,8` (`32` is float), or `None` for a float network.
pub fn bake(net: &mut Network) -> Option<(String, String)> {
    let (mut weight_bits, mut act_bits) = (Vec::new(), Vec::new());
    for_each_quantizable(net, &mut |_, layer| {
        let Some(q) = layer.quant.take() else {
            return;
        };
        let quantized = q.weights(layer.weight, layer.out_channels);
        layer.weight.copy_from_slice(&quantized);
        weight_bits.push(if q.pow2.is_some() { 0 } else { q.weight_bits });
        act_bits.push(q.act_bits);
    });
    if weight_bits.is_empty() {
        return None;
    }
    Some((distinct_list(weight_bits), distinct_list(act_bits)))
}

/// `[8, 4, 8]` as `4,8`; 0 (power-of-two weights) as `pow2`.
fn distinct_list(mut bits: Vec<u32>) -> String {
    bits.sort_unstable();
    bits.dedup();
    let names: Vec<String> = bits
        .iter()
        .map(|&b| if b == 0 { "pow2".into() } else { b.to_string() })
        .collect();
    names.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distinct(row: &[f32]) -> usize {
        let mut levels: Vec<i64> = row.iter().map(|v| (v * 1e5).round() as i64).collect();
        levels.sort_unstable();
        levels.dedup();
        levels.len()
    }

    #[test]
    fn four_bit_weights_take_at_most_sixteen_values_per_channel() {
        let w: Vec<f32> = (0..64).map(|i| (i as f32 * 0.7).sin()).collect();
        let q = FakeQuant::new(4, 32).weights(&w, 2);
        for (row, qrow) in w.chunks(32).zip(q.chunks(32)) {
            assert!(distinct(qrow) <= 16, "{} levels", distinct(qrow));
            let (min, max) = min_max(row);
            let (s, _) = scale_zero(min, max, 4, true);
            for (a, b) in row.iter().zip(qrow) {
                assert!((a - b).abs() <= s / 2.0 + 1e-6 || b.abs() >= 7.0 * s - 1e-6);
            }
        }
    }

    #[test]
    fn activations_snap_to_the_grid_of_their_range() {
        let mut x = vec![0.0, 0.1, 0.5, 0.93, 1.0];
        FakeQuant::new(32, 2).activations(&mut x);
        for v in &x {
            let k = v * 3.0;
            assert!((k - k.round()).abs() < 1e-5, "{v} is off the grid");
        }
    }

    #[test]
    fn grid_values_round_trip_exactly_signed_and_unsigned() {
        for (signed, min, max) in [(true, -0.7f32, 0.4f32), (false, -0.3, 1.1)] {
            let (s, z) = scale_zero(min, max, 4, signed);
            let (lo, hi) = int_range(4, signed);
            assert_eq!((lo, hi), if signed { (-8.0, 7.0) } else { (0.0, 15.0) });
            for q in lo as i32..=hi as i32 {
                let x = (q as f32 - z) * s;
                assert_eq!(fake(x, s, z, lo, hi), x, "q {q} signed {signed}");
            }
            // Outside the range values clamp to the ends.
            assert_eq!(fake(1e3, s, z, lo, hi), (hi - z) * s);
            assert_eq!(fake(-1e3, s, z, lo, hi), (lo - z) * s);
        }
    }

    #[test]
    fn unsigned_weights_use_zero_points_and_sixteen_levels() {
        let w: Vec<f32> = (0..32).map(|i| i as f32 / 31.0 - 0.2).collect();
        let mut q = FakeQuant::new(4, 32);
        q.weight_signed = false;
        let (s, z) = scale_zero(-0.2, 0.8, 4, false);
        q.weight_scales = Some(vec![s]);
        q.weight_zero_points = Some(vec![z]);
        let out = q.weights(&w, 1);
        assert_eq!(distinct(&out), 16);
        for (a, b) in w.iter().zip(&out) {
            assert!((a - b).abs() <= s / 2.0 + 1e-6, "{a} -> {b}");
        }
    }

    #[test]
    fn bias_correction_matches_float_channel_mean_and_std() {
        let w: Vec<f32> = (0..40)
            .map(|i| ((i * 7 % 11) as f32 - 3.0) / 10.0)
            .collect();
        let mut q = FakeQuant::new(3, 32);
        q.bias_correction = true;
        let out = q.weights(&w, 2);
        for (row, qrow) in w.chunks(20).zip(out.chunks(20)) {
            let ((m, s), (mq, sq)) = (mean_std(row), mean_std(qrow));
            assert!(
                (m - mq).abs() < 1e-5 && (s - sq).abs() < 1e-5,
                "{m} {s} vs {mq} {sq}"
            );
        }
    }

    #[test]
    fn pow2_weights_are_one_or_two_powers_of_two() {
        let is_pow2 = |v: f32| v == 0.0 || (v.abs().log2().fract() == 0.0 && v.abs() <= 1.0);
        for v in [0.3f32, -0.07, 0.9, 1.7, -0.0001, 0.011] {
            let one = Pow2 {
                shifts: 1,
                shift_bits: 7,
            }
            .quantize(v);
            assert!(is_pow2(one), "{v} -> {one}");
            let two = Pow2 {
                shifts: 2,
                shift_bits: 7,
            }
            .quantize(v);
            let rest = two - one;
            assert!(is_pow2(rest), "{v} -> {two} = {one} + {rest}");
            assert!((v - two).abs() <= (v - one).abs() + 1e-7);
        }
        assert_eq!(pow2_term(0.3, 7), 0.25);
        assert_eq!(pow2_term(-3.0, 7), -1.0);
        assert_eq!(pow2_term(1e-4, 7), 0.0);
    }

    #[test]
    fn pow2_storage_bits() {
        let one = Pow2 {
            shifts: 1,
            shift_bits: 7,
        };
        assert_eq!(one.bits(), 5);
        assert_eq!(Pow2 { shifts: 2, ..one }.bits(), 10);
        assert_eq!(
            Pow2 {
                shift_bits: 6,
                ..one
            }
            .bits(),
            4
        );
    }

    /// A small ViT (attention projections are nested `Linear`s) and a CNN.
    fn nets() -> Vec<Network> {
        let families = [
            crate::spec::Family::Vit {
                patch: 2,
                dim: 8,
                depth: 1,
                heads: 2,
                mlp_ratio: 2.0,
            },
            crate::spec::Family::Cnn {
                channels: vec![4, 6],
                kernel: 3,
                hidden: 8,
            },
        ];
        families
            .into_iter()
            .map(|family| {
                let spec = crate::spec::ModelSpec {
                    family,
                    input: [1, 8, 8],
                    classes: 3,
                    dropout: 0.0,
                    seed: 5,
                };
                Network::build(&spec).expect("builds")
            })
            .collect()
    }

    #[test]
    fn a_baked_network_computes_what_the_hooked_one_did() {
        let x: Vec<f32> = (0..2 * 64).map(|i| ((i * 13 % 17) as f32) / 17.0).collect();
        for mut net in nets() {
            let mut hooked = 0;
            for_each_quantizable(&mut net, &mut |_, layer| {
                *layer.quant = Some(FakeQuant::new(3, 32));
                hooked += 1;
            });
            let input = || crate::layer::Tensor::from_vec(&[2, 1, 8, 8], x.clone());
            let with_hooks = net.forward(input(), crate::layer::Mode::Eval).data;
            let bits = bake(&mut net);
            assert_eq!(bits, Some(("3".to_string(), "32".to_string())));
            assert!(state(&mut net).is_empty(), "hooks removed");
            let baked = net.forward(input(), crate::layer::Mode::Eval).data;
            assert_eq!(baked, with_hooks, "{hooked} layers baked");
            let mut levels = 0;
            for_each_quantizable(&mut net, &mut |_, layer| {
                let per = layer.weight.len() / layer.out_channels;
                levels = levels.max(distinct(&layer.weight[..per]));
            });
            assert!(
                levels <= 8,
                "3-bit weights take at most 8 values, got {levels}"
            );
        }
    }

    #[test]
    fn a_float_network_bakes_to_itself() {
        let mut net = nets().remove(1);
        let before = net.save_weights().expect("weights");
        assert_eq!(bake(&mut net), None);
        assert_eq!(net.save_weights().expect("weights"), before);
    }
}
