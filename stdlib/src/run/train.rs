//! Implementation of `train.supervised`: reads the optimisation parameters,
//! runs the backend's training loop on the dataset's images (reporting progress
//! and polling cancellation every batch) and returns `{model, metrics, curve}`.

use crate::artifact::Artifact;
use crate::dataset::ImageView;
use crate::metrics::{Metrics, Table};
use crate::model::Model;
use crate::params::{Augment, LabelSmoothing, Optimisation};
use crate::stage::{StageContext, StageError, StageInput, StageOutput};
use pipe_lang::types::Task;
use pipe_nn::train::{train, EpochStats, TrainConfig};
use std::collections::BTreeMap;
use std::sync::Arc;

/// `train.supervised` runs one of two loops, chosen by the task of `data` (part
/// of the dataset's type, so the checker and the node key see the same choice):
/// audio-visual event videos train the temporal model (`run/ave.rs`), every
/// other accepted task trains on labelled images.
pub fn supervised(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    match input.dataset("data")?.task {
        Task::AvEvent => crate::run::ave::train(input, ctx),
        _ => images(input, ctx),
    }
}

/// `train.supervised` on labelled images.
fn images(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let model = input.model("model")?;
    let mut net = model.network()?;
    let data = input.dataset("data")?.image_view()?;
    check_fits(data, &net.spec)?;
    let cfg = config(input)?;
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

/// `Optimisation` plus the supervised switches `label_smoothing` and `augment`.
pub fn config(input: &StageInput) -> Result<TrainConfig, StageError> {
    Ok(TrainConfig {
        label_smoothing: LabelSmoothing::read(input)?,
        augment: Augment::read(input)?,
        ..Optimisation::read(input)?
    })
}

/// The dataset must have the shape and classes the model was built for.
pub fn check_fits<'a>(
    data: impl Into<ImageView<'a>>,
    spec: &pipe_nn::ModelSpec,
) -> Result<(), StageError> {
    let data = data.into();
    let shape = data.shape();
    if shape != spec.input {
        return Err(StageError::Invalid(format!(
            "the model was built for {:?} images (C, H, W) but the dataset has {shape:?}; build the model with `input:` this dataset",
            spec.input
        )));
    }
    if data.classes() != spec.classes {
        return Err(StageError::Invalid(format!(
            "the model has {} classes but the dataset has {}; build the model with `input:` this dataset",
            spec.classes,
            data.classes()
        )));
    }
    if data.is_empty() {
        return Err(StageError::Invalid("the dataset is empty".into()));
    }
    Ok(())
}

pub fn metrics(curve: &[EpochStats]) -> Metrics {
    let last = curve.last();
    let values = BTreeMap::from([
        (
            "train_loss".to_string(),
            last.map_or(f64::NAN, |s| f64::from(s.loss)),
        ),
        (
            "train_accuracy".to_string(),
            last.map_or(f64::NAN, |s| f64::from(s.accuracy)),
        ),
        ("epochs".to_string(), curve.len() as f64),
    ]);
    let series = |f: fn(&EpochStats) -> f32| curve.iter().map(|s| f64::from(f(s))).collect();
    let curves = BTreeMap::from([
        ("train_loss".to_string(), series(|s| s.loss)),
        ("train_accuracy".to_string(), series(|s| s.accuracy)),
        ("lr".to_string(), series(|s| s.lr)),
    ]);
    Metrics { values, curves }
}

pub fn table(curve: &[EpochStats]) -> Table {
    Table::numeric(
        "training curve",
        ["epoch", "loss", "accuracy", "lr"],
        curve.iter().map(|s| {
            [
                s.epoch as f64,
                f64::from(s.loss),
                f64::from(s.accuracy),
                f64::from(s.lr),
            ]
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::ImageSet;
    use pipe_nn::{Family, ModelSpec};

    fn images(channels: usize, side: usize, classes: usize) -> ImageSet {
        ImageSet {
            channels,
            height: side,
            width: side,
            class_names: (0..classes).map(|c| c.to_string()).collect(),
            x: vec![0.0; channels * side * side],
            y: vec![0],
        }
    }

    #[test]
    fn a_model_built_for_other_data_is_rejected_with_the_fix() {
        let spec = ModelSpec {
            family: Family::Mlp { hidden: vec![8] },
            input: [1, 8, 8],
            classes: 10,
            dropout: 0.0,
            seed: 0,
        };
        assert!(check_fits(&images(1, 8, 10), &spec).is_ok());
        let shape = check_fits(&images(1, 28, 10), &spec)
            .unwrap_err()
            .to_string();
        assert!(
            shape.contains("[1, 28, 28]") && shape.contains("input:"),
            "{shape}"
        );
        let classes = check_fits(&images(1, 8, 3), &spec).unwrap_err().to_string();
        assert!(
            classes.contains("10 classes") && classes.contains("3"),
            "{classes}"
        );
    }
}
