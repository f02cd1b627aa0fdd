//! `train.supervised`, whole: its signature, its parameters (`Optimisation`
//! plus `augment` and `label_smoothing`) and its implementation, which runs the
//! backend's training loop on the dataset's images (reporting progress and
//! polling cancellation every batch) and returns `{model, metrics, curve}`.
//! Audio-visual event data trains through `run/ave.rs`, chosen by the dataset's
//! task. Never reads files.

use crate::artifact::Artifact;
use crate::model::Model;
use crate::params::{Augment, LabelSmoothing, Optimisation};
use crate::run::curve::{metrics, table};
use crate::run::fits::check_fits;
use crate::stage::{StageContext, StageDef, StageError, StageInput, StageOutput};
use crate::stages::common::*;
use crate::task_kinds;
use pipe_lang::types::Task;
use pipe_nn::train::train;
use std::sync::Arc;

/// What `train.supervised` learns from: labelled images, or audio-visual event
/// videos for `model.temporal_transformer`.
const SUPERVISED: &[Task] = &[task_kinds::CLASSIFY, task_kinds::AV_EVENT];

/// `train.supervised` runs one of two loops, chosen by the task of `data` (part
/// of the dataset's type, so the checker and the node key see the same choice):
/// audio-visual event videos train the temporal model (`run/ave.rs`), every
/// other accepted task trains on labelled images.
pub fn run(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    if input.dataset("data")?.task == task_kinds::AV_EVENT {
        crate::run::ave::train(input, ctx)
    } else {
        images(input, ctx)
    }
}

/// `train.supervised` on labelled images.
fn images(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let model = input.model("model")?;
    let mut net = model.network()?;
    let data = input.dataset("data")?.image_view()?;
    check_fits(data, &net.spec)?;
    let cfg = Optimisation::read_supervised(input)?;
    let steps = cfg.epochs
        * data
            .len()
            .div_ceil(cfg.batch_size.clamp(1, data.len().max(1)));
    ctx.progress.set_total(steps as u64, "batches");
    let curve = train(&mut net, &data, &cfg, |_| {
        ctx.progress.advance(1);
        ctx.check_cancelled()
    })?;
    let metrics = metrics(&curve);
    let trained = Model::from_network(&mut net)?;
    Ok(StageOutput::record([
        ("model", Artifact::Model(Arc::new(trained))),
        ("metrics", Artifact::Metrics(Arc::new(metrics.clone()))),
        ("curve", Artifact::Table(Arc::new(table(&curve)))),
    ])
    .with_metrics(&metrics.values))
}

pub fn stage() -> StageDef {
    def(
        sig(
            "train",
            "supervised",
            "Supervised training with cross-entropy: AdamW or SGD with momentum, cosine, \
             step or constant schedule, optional warm-up and gradient clipping. Curve: loss \
             and accuracy per epoch. Deterministic for a seed at a fixed thread count.",
            super::with(
                vec![
                    model("model", "The network to train (any `model.*`)."),
                    dataset(
                        "data",
                        SUPERVISED,
                        "Labelled training images (or audio-visual event videos for a `model.temporal_transformer`).",
                    ),
                    Augment::param(false, "Random crop (pad 2) and horizontal flip of training images."),
                    LabelSmoothing::param("Label smoothing of the cross-entropy targets."),
                ],
                Optimisation::params(10, 1e-3, 64, 0.01),
            ),
            trained(),
        ),
        Some(run),
    )
}
