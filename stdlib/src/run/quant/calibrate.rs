//! `quant.minmax`, `quant.percentile`, `quant.omse` and `quant.pow2`: one float
//! pass over the calibration set records every `Linear`/`Conv2d` input, then
//! each layer gets its weight grid (per output channel or per tensor) and its
//! activation range (per tensor) from the method's observer (docs/papers.md §1.3):
//! min-max; a percentile of the values; OMSE's shrink search (range `i` is
//! `(1 - 0.01·i)·[min, max]`, keep the least mean squared error; weights on the
//! weights themselves, activations on the last calibration batch). Never
//! changes the float weights.

use super::{accuracy, apply, batches, float_network, output, Options, CALIB_BATCH};
use crate::dataset::ImageSet;
use crate::stage::{StageContext, StageError, StageInput, StageOutput};
use pipe_nn::quant::{
    fake, for_each_quantizable, int_range, min_max, scale_zero, FakeQuant, Observer, Pow2,
    QuantState,
};
use pipe_nn::{Mode, Network};
use std::collections::BTreeMap;
use std::time::Instant;

/// OMSE's shrink step: 1% of the range per step (FQ-ViT's observer).
const SHRINK_STEP: f32 = 0.01;

/// How an observer turns observed values into a range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Method {
    MinMax,
    /// Clip at this quantile (and its mirror `1 - p` below).
    Percentile(f32),
    /// Shrink steps of the OMSE search.
    Omse(usize),
}

impl Method {
    /// The method named by an `init` parameter.
    pub fn named(name: &str) -> Result<Method, StageError> {
        match name {
            "minmax" => Ok(Method::MinMax),
            "percentile" => Ok(Method::Percentile(0.9999)),
            "omse" => Ok(Method::Omse(90)),
            other => Err(StageError::Internal(format!(
                "unknown calibration `{other}` passed the checker"
            ))),
        }
    }
}

pub fn minmax(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    baseline(input, ctx, Method::MinMax)
}

pub fn percentile(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    baseline(
        input,
        ctx,
        Method::Percentile(input.f64("percentile")? as f32),
    )
}

pub fn omse(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    baseline(input, ctx, Method::Omse(input.usize("steps")?))
}

fn baseline(
    input: &StageInput,
    ctx: &StageContext,
    method: Method,
) -> Result<StageOutput, StageError> {
    let start = Instant::now();
    let opts = Options::read(input)?;
    let (mut net, calib) = float_network(input)?;
    let fp = accuracy(&mut net, calib);
    ctx.check_cancelled()?;
    calibrate(&mut net, calib, method, &opts)?;
    let after = accuracy(&mut net, calib);
    let values = summary(fp, after, &opts, start);
    output(&mut net, values, BTreeMap::new(), None)
}

pub fn pow2(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let start = Instant::now();
    let (mut net, calib) = float_network(input)?;
    let fp = accuracy(&mut net, calib);
    ctx.check_cancelled()?;
    let p = Pow2 {
        shifts: u32::try_from(input.usize("shifts")?.clamp(1, 2)).unwrap_or(1),
        shift_bits: u32::try_from(input.usize("shift_bits")?.clamp(1, 15)).unwrap_or(7),
    };
    let opts = Options {
        bits: p.bits(),
        act_bits: super::bits(input, "act_bits")?,
        per_channel: true,
        signed: true,
        bias_correction: false,
    };
    let observed = observe(&mut net, calib);
    let mut state = QuantState::new();
    for_each_quantizable(&mut net, &mut |name, _| {
        let mut q = FakeQuant::new(opts.bits, opts.act_bits);
        q.pow2 = Some(p);
        q.act_range = observed
            .get(name)
            .map(|b| act_range(b, Method::MinMax, &opts));
        state.insert(name.to_string(), q);
    });
    apply(&mut net, &state)?;
    let after = accuracy(&mut net, calib);
    let mut values = summary(fp, after, &opts, start);
    values.insert("shifts".into(), f64::from(p.shifts));
    output(&mut net, values, BTreeMap::new(), None)
}

fn summary(fp: f64, after: f64, opts: &Options, start: Instant) -> BTreeMap<String, f64> {
    BTreeMap::from([
        ("accuracy_fp".to_string(), fp),
        ("accuracy".to_string(), after),
        ("bits".to_string(), f64::from(opts.bits)),
        ("act_bits".to_string(), f64::from(opts.act_bits)),
        ("seconds".to_string(), start.elapsed().as_secs_f64()),
    ])
}

/// Calibrates every layer of the float `net` with `method` and sets the hooks.
pub(crate) fn calibrate(
    net: &mut Network,
    calib: &ImageSet,
    method: Method,
    opts: &Options,
) -> Result<QuantState, StageError> {
    let observed = observe(net, calib);
    let mut state = QuantState::new();
    for_each_quantizable(net, &mut |name, layer| {
        let mut q = FakeQuant::new(opts.bits, opts.act_bits);
        q.weight_signed = opts.signed;
        q.bias_correction = opts.bias_correction;
        let (scales, zeros) = weight_grid(layer.weight, layer.out_channels, method, opts);
        q.weight_scales = Some(scales);
        q.weight_zero_points = (!opts.signed).then_some(zeros);
        q.act_range = observed.get(name).map(|b| act_range(b, method, opts));
        state.insert(name.to_string(), q);
    });
    apply(net, &state)?;
    Ok(state)
}

/// Runs the float network over `calib` and returns each layer's inputs, by
/// layer name, batch by batch.
fn observe(net: &mut Network, calib: &ImageSet) -> BTreeMap<String, Vec<Vec<f32>>> {
    let mut observers = BTreeMap::new();
    for_each_quantizable(net, &mut |name, layer| {
        let obs = Observer::default();
        let mut q = FakeQuant::new(32, 32);
        q.observer = Some(obs.clone());
        *layer.quant = Some(q);
        observers.insert(name.to_string(), obs);
    });
    for batch in batches(calib, CALIB_BATCH) {
        net.forward(batch.x, Mode::Eval);
    }
    pipe_nn::quant::clear(net);
    observers
        .into_iter()
        .map(|(name, obs)| (name, obs.batches()))
        .collect()
}

/// Per-channel (or one per-tensor) scales and zero points for weights `w`.
pub(crate) fn weight_grid(
    w: &[f32],
    out: usize,
    method: Method,
    opts: &Options,
) -> (Vec<f32>, Vec<f32>) {
    let groups = if opts.per_channel { out.max(1) } else { 1 };
    let per = w.len() / groups;
    if per == 0 {
        return (vec![1.0], vec![0.0]);
    }
    w.chunks_exact(per)
        .map(|row| grid(row, row, method, opts.bits, opts.signed))
        .unzip()
}

/// The activation range for observed batches (per tensor, unsigned grid).
fn act_range(batches: &[Vec<f32>], method: Method, opts: &Options) -> (f32, f32) {
    let all: Vec<f32> = batches.iter().flatten().copied().collect();
    let last = batches.last().map_or(&[][..], |b| &b[..]);
    let (s, z) = grid(&all, last, method, opts.act_bits, false);
    let (lo, hi) = int_range(opts.act_bits, false);
    ((lo - z) * s, (hi - z) * s)
}

/// The `(scale, zero point)` the method picks for `values`; OMSE measures its
/// error on `probe` (the last batch for activations, the values for weights).
fn grid(values: &[f32], probe: &[f32], method: Method, bits: u32, signed: bool) -> (f32, f32) {
    match method {
        Method::MinMax => {
            let (min, max) = min_max(values);
            scale_zero(min, max, bits, signed)
        }
        Method::Percentile(p) => {
            let (min, max) = percentiles(values, p);
            scale_zero(min, max, bits, signed)
        }
        Method::Omse(steps) => omse_grid(values, probe, steps, bits, signed),
    }
}

/// The `1 - p` and `p` quantiles (nearest rank).
fn percentiles(values: &[f32], p: f32) -> (f32, f32) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f32::total_cmp);
    let last = (sorted.len() - 1) as f32;
    let at = |q: f32| sorted[((last * q).round() as usize).min(sorted.len() - 1)];
    (at(1.0 - p), at(p))
}

/// OMSE: of the ranges `(1 - 0.01·i)·[min, max]`, `i < steps` (at most 100, so
/// the range never flips), the grid with the least mean squared error on `probe`.
fn omse_grid(values: &[f32], probe: &[f32], steps: usize, bits: u32, signed: bool) -> (f32, f32) {
    let (min, max) = min_max(values);
    let (lo, hi) = int_range(bits, signed);
    let mut best = (f32::INFINITY, scale_zero(min, max, bits, signed));
    for i in 0..steps.clamp(1, 100) {
        let f = 1.0 - SHRINK_STEP * i as f32;
        let (s, z) = scale_zero(min * f, max * f, bits, signed);
        let err = probe
            .iter()
            .map(|&x| f64::from(x - fake(x, s, z, lo, hi)).powi(2))
            .sum::<f64>()
            / probe.len().max(1) as f64;
        if (err as f32) < best.0 {
            best = (err as f32, (s, z));
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(bits: u32, per_channel: bool, signed: bool) -> Options {
        Options {
            bits,
            act_bits: 8,
            per_channel,
            signed,
            bias_correction: false,
        }
    }

    #[test]
    fn per_channel_grids_follow_each_channel_and_per_tensor_shares_one() {
        let w = [0.1, -0.2, 0.05, 4.0, -1.0, 2.0];
        let (s, _) = weight_grid(&w, 2, Method::MinMax, &opts(4, true, true));
        assert_eq!(s.len(), 2);
        assert!((s[0] - 0.2 / 7.5).abs() < 1e-7 && (s[1] - 4.0 / 7.5).abs() < 1e-6);
        let (t, _) = weight_grid(&w, 2, Method::MinMax, &opts(4, false, true));
        assert_eq!(t, vec![4.0 / 7.5]);
    }

    #[test]
    fn omse_never_loses_to_minmax_on_its_probe() {
        let x: Vec<f32> = (0..500)
            .map(|i| ((i * 37 % 101) as f32 / 50.0 - 1.0).powi(3))
            .collect();
        let err = |(s, z): (f32, f32)| -> f32 {
            x.iter()
                .map(|&v| (v - fake(v, s, z, -8.0, 7.0)).powi(2))
                .sum()
        };
        let (min, max) = min_max(&x);
        let mm = scale_zero(min, max, 4, true);
        let om = omse_grid(&x, &x, 90, 4, true);
        assert!(err(om) <= err(mm), "{} > {}", err(om), err(mm));
        assert!(om.0 < mm.0, "heavy-tailed values shrink the range");
    }

    #[test]
    fn percentile_clips_outliers() {
        let mut x: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        x.push(100.0);
        let (lo, hi) = percentiles(&x, 0.99);
        assert!(lo < 0.02 && hi < 1.0, "{lo} {hi}");
    }
}
