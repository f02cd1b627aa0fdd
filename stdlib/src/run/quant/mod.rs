//! Implementations of `quant.*` (post-training quantization): the calibration
//! baselines and power-of-two weights (`calibrate.rs`), the fitness losses
//! (`fitness.rs`) and the Evol-Q / CPT-V evolutionary search (`search.rs`).
//! This file holds what they share: the quantizer options every method reads,
//! calibration batches, accuracy and the stage output. Every method starts from
//! the input model's float weights (its own hooks, if any, are replaced) and
//! never overwrites them: the output `Model` carries the float weights plus
//! the hooks, so it reloads bit-identically and `sim.*` reads its bit widths.

mod calibrate;
pub mod fitness;
mod search;

pub use calibrate::{minmax, omse, percentile, pow2};
pub use search::{cptv, evolq};

use crate::artifact::Artifact;
use crate::dataset::ImageSet;
use crate::metrics::{Metrics, Table};
use crate::model::{nn_error, Model};
use crate::run::fits::check_fits;
use crate::stage::{Input, StageError, StageInput, StageOutput};
use pipe_nn::{Network, Tensor};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Calibration batch size of the baselines (the Evol-Q code's `calib_batchsize`).
const CALIB_BATCH: usize = 100;

/// The quantizer options every method shares.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    pub bits: u32,
    pub act_bits: u32,
    pub per_channel: bool,
    pub signed: bool,
    pub bias_correction: bool,
}

fn bits(input: &StageInput, name: &str) -> Result<u32, StageError> {
    u32::try_from(input.usize(name)?)
        .ok()
        .filter(|b| (2..=16).contains(b))
        .ok_or_else(|| StageError::Invalid(format!("`{name}` must lie in 2..=16")))
}

impl Options {
    pub fn read(input: &StageInput) -> Result<Options, StageError> {
        Ok(Options {
            bits: bits(input, "bits")?,
            act_bits: bits(input, "act_bits")?,
            per_channel: input.bool("per_channel")?,
            signed: input.bool("signed")?,
            bias_correction: input.bool("bias_correction")?,
        })
    }
}

/// A batch of sample-major images `[N, C, H, W]` and their labels.
pub(crate) struct Batch {
    pub x: Tensor,
    pub y: Vec<u32>,
}

/// `data` in batches of `size`, in order; the last one may be smaller.
pub(crate) fn batches(data: &ImageSet, size: usize) -> Vec<Batch> {
    let per = data.channels * data.height * data.width;
    let size = size.max(1);
    data.y
        .chunks(size)
        .enumerate()
        .map(|(i, y)| Batch {
            x: Tensor::from_vec(
                &[y.len(), data.channels, data.height, data.width],
                data.x[i * size * per..][..y.len() * per].to_vec(),
            ),
            y: y.to_vec(),
        })
        .collect()
}

/// The float network of `model` (any hooks it had removed) and the calibration
/// images, checked to fit it.
pub(crate) fn float_network(input: &StageInput) -> Result<(Network, &ImageSet), StageError> {
    let mut net = input.model("model")?.network()?;
    pipe_nn::quant::clear(&mut net);
    let calib = input.dataset("calib")?.images()?;
    check_fits(calib, &net.spec)?;
    Ok((net, calib))
}

/// An optional dataset parameter: `None` when left at its empty default.
pub(crate) fn optional_images<'a>(
    input: &'a StageInput,
    name: &str,
) -> Result<Option<&'a ImageSet>, StageError> {
    match input.get(name)? {
        Input::Value(_) => Ok(None),
        _ => Ok(Some(input.dataset(name)?.images()?)),
    }
}

/// Top-1 accuracy of `net` as it is (hooks included) on `data`.
pub(crate) fn accuracy(net: &mut Network, data: &ImageSet) -> f64 {
    let predicted = pipe_nn::train::classify(net, &data.x, CALIB_BATCH);
    let correct = predicted
        .iter()
        .zip(&data.y)
        .filter(|(p, t)| p == t)
        .count();
    correct as f64 / data.len().max(1) as f64
}

/// `{model, metrics}` or, with a curve, `{model, metrics, curve}`.
pub(crate) fn output(
    net: &mut Network,
    values: BTreeMap<String, f64>,
    curves: BTreeMap<String, Vec<f64>>,
    curve: Option<Table>,
) -> Result<StageOutput, StageError> {
    let model = Model::from_network(net)?;
    let metrics = Metrics { values, curves };
    let mut fields = vec![
        ("model", Artifact::Model(Arc::new(model))),
        ("metrics", Artifact::Metrics(Arc::new(metrics.clone()))),
    ];
    if let Some(table) = curve {
        fields.push(("curve", Artifact::Table(Arc::new(table))));
    }
    Ok(StageOutput::record(fields).with_metrics(&metrics.values))
}

/// Sets `state` on `net`; a mismatch is a backend error mapped onto the contract.
pub(crate) fn apply(
    net: &mut Network,
    state: &pipe_nn::quant::QuantState,
) -> Result<(), StageError> {
    pipe_nn::quant::apply(net, state).map_err(nn_error)
}
