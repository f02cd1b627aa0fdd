//! Implementation of `finetune.full`, `finetune.bias_only`,
//! `finetune.top_blocks` and `finetune.mobiletl`: transfers the pre-trained
//! weights to a network for the target data (new classifier when the classes
//! differ), configures the method, measures one training step (bytes held for
//! backward per block and in total, peak bytes, backward FLOPs) and trains.
//! `accuracy` is on `test` when given, else on `data`.
//! Measuring needs the counting allocator the `pipe` binary installs; without
//! it the memory metrics are NaN rather than guessed.

use crate::artifact::Artifact;
use crate::dataset::ImageSet;
use crate::metrics::Metrics;
use crate::model::{nn_error, Model};
use crate::params::Optimisation;
use crate::run::curve::{metrics as curve_metrics, table as curve_table};
use crate::stage::{Input, StageContext, StageError, StageInput, StageOutput};
use pipe_lang::value::Value;
use pipe_nn::activation::HardSwishMask;
use pipe_nn::finetune::{backward_flops, configure, transfer, Method};
use pipe_nn::memory::{measure_step, MeasureError, StepMemory};
use pipe_nn::optim::Optimizer;
use pipe_nn::train::{classify, train, Images, TrainConfig};
use pipe_nn::{ModelSpec, Network, Tensor};
use std::sync::Arc;

/// Samples per inference batch when scoring the fine-tuned model.
const EVAL_BATCH: usize = 256;

pub fn full(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    // Families with their own fine-tuning path dispatch here on the model's
    // spec family before the generic path below.
    if input.model("model")?.is_dual_encoder() {
        return crate::run::ovseg::full(input, ctx);
    }
    run(input, ctx, Method::Full)
}

pub fn bias_only(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    run(input, ctx, Method::BiasOnly)
}

pub fn top_blocks(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    run(input, ctx, Method::TopBlocks(input.usize("blocks")?))
}

pub fn mobiletl(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let hswish = match input.str("hswish_mask")? {
        "sign" => HardSwishMask::Sign,
        "step" => HardSwishMask::Step,
        other => {
            return Err(StageError::Invalid(format!(
                "`hswish_mask: \"{other}\"` is not a surrogate; use \"sign\" or \"step\""
            )))
        }
    };
    let blocks = input.usize("blocks")?;
    run(input, ctx, Method::MobileTl { blocks, hswish })
}

fn run(input: &StageInput, ctx: &StageContext, method: Method) -> Result<StageOutput, StageError> {
    let data = input.dataset("data")?.images()?;
    if data.is_empty() {
        return Err(StageError::Invalid("the target dataset is empty".into()));
    }
    let test = test_set(input, data)?;
    let mut net = target_network(input, data)?;
    configure(&mut net, method).map_err(nn_error)?;
    let cfg = Optimisation::read(input)?;
    let memory = measure(&mut net, data, &cfg)?;
    let flops_per_sample = backward_flops(&mut net);
    let steps = cfg.epochs * data.len().div_ceil(cfg.batch_size.clamp(1, data.len()));
    ctx.progress.set_total(steps as u64, "batches");
    let images = Images {
        x: &data.x,
        y: &data.y,
        shape: [data.channels, data.height, data.width],
    };
    let curve = train(&mut net, &images, &cfg, |_| {
        ctx.progress.advance(1);
        ctx.check_cancelled()
    })?;
    let mut metrics = curve_metrics(&curve);
    let scored = test.unwrap_or(data);
    let predicted = classify(&mut net, &scored.x, EVAL_BATCH);
    let correct = predicted
        .iter()
        .zip(&scored.y)
        .filter(|(p, y)| p == y)
        .count();
    let values = &mut metrics.values;
    values.insert(
        "accuracy".into(),
        correct as f64 / scored.len().max(1) as f64,
    );
    values.insert("trainable_params".into(), net.trainable_params() as f64);
    let batch = cfg.batch_size.min(data.len());
    values.insert(
        "backward_flops".into(),
        (flops_per_sample * batch as u64) as f64,
    );
    values.insert("backward_flops_per_sample".into(), flops_per_sample as f64);
    insert_memory(&mut metrics, memory.as_ref());
    let trained = Model::from_network(&mut net)?;
    Ok(StageOutput::record([
        ("model", Artifact::Model(Arc::new(trained))),
        ("metrics", Artifact::Metrics(Arc::new(metrics.clone()))),
        ("curve", Artifact::Table(Arc::new(curve_table(&curve)))),
    ])
    .with_metrics(&metrics.values))
}

/// The optional held-out set, which must match `data`'s image shape and classes.
fn test_set<'a>(
    input: &'a StageInput,
    data: &ImageSet,
) -> Result<Option<&'a ImageSet>, StageError> {
    let test = match input.get("test")? {
        Input::Artifact(Artifact::Dataset(d)) => d.images()?,
        Input::Value(Value::List(items)) if items.is_empty() => return Ok(None),
        _ => {
            return Err(StageError::Invalid(
                "`test` must be a labelled image dataset (e.g. `parts.test` of `dataset.split`), or left out".into(),
            ))
        }
    };
    let shape = |d: &ImageSet| [d.channels, d.height, d.width];
    if shape(test) != shape(data) || test.class_names != data.class_names {
        return Err(StageError::Invalid(format!(
            "`test` has {:?} images of {} classes but `data` has {:?} images of {}; split one dataset with `dataset.split`",
            shape(test),
            test.classes(),
            shape(data),
            data.classes()
        )));
    }
    Ok(Some(test))
}

/// The pre-trained network rebuilt for the target images and classes.
fn target_network(input: &StageInput, data: &ImageSet) -> Result<Network, StageError> {
    let mut source = input.model("model")?.network()?;
    let target = ModelSpec {
        input: [data.channels, data.height, data.width],
        classes: data.classes(),
        ..source.spec.clone()
    };
    transfer(&mut source, &target).map_err(nn_error)
}

/// One measured step on the first batch; `None` without a counting allocator.
fn measure(
    net: &mut Network,
    data: &ImageSet,
    cfg: &TrainConfig,
) -> Result<Option<StepMemory>, StageError> {
    let n = cfg.batch_size.clamp(1, data.len());
    let len = data.channels * data.height * data.width;
    let x = Tensor::from_vec(
        &[n, data.channels, data.height, data.width],
        data.x[..n * len].to_vec(),
    );
    let mut opt = Optimizer::new(cfg.optimizer, cfg.weight_decay);
    match measure_step(net, x, &data.y[..n], &mut opt, cfg.lr) {
        Ok(m) => Ok(Some(m)),
        Err(MeasureError::NotCounting) => Ok(None),
        Err(e) => Err(StageError::Internal(e.to_string())),
    }
}

/// `backward_bytes`, `peak_bytes` and `backward_bytes.<block>` for every block
/// that keeps something; NaN when memory could not be measured.
fn insert_memory(metrics: &mut Metrics, memory: Option<&StepMemory>) {
    let values = &mut metrics.values;
    let Some(m) = memory else {
        values.insert("backward_bytes".into(), f64::NAN);
        values.insert("peak_bytes".into(), f64::NAN);
        return;
    };
    values.insert("backward_bytes".into(), m.backward_bytes as f64);
    values.insert("peak_bytes".into(), m.peak_bytes as f64);
    for b in m.blocks.iter().filter(|b| b.bytes > 0) {
        values.insert(format!("backward_bytes.{}", b.name), b.bytes as f64);
    }
}
