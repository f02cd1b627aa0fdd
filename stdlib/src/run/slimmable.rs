//! Implementations of `model.slimmable` and `train.slimmable`: build a
//! weight-shared network from a base model and measure every width's latency
//! (batch 1 and 64, median of `repeats` runs) and FLOPs; train it with the
//! sandwich rule and record each width's accuracy. The measured profile is
//! saved in the model's spec, so it travels with the model (and is cached with
//! it, like any stage output; see docs/slimmable.md).

use crate::artifact::Artifact;
use crate::dataset::ImageSet;
use crate::metrics::{Metrics, Table};
use crate::model::{nn_error, Model};
use crate::params::Optimisation;
use crate::params::Seed;
use crate::run::fits::check_fits;
use crate::stage::{Input, StageContext, StageError, StageInput, StageOutput};
use pipe_lang::value::Value;
use pipe_nn::slim::sandwich::{self, SandwichConfig, SandwichEpoch};
use pipe_nn::slim::{self, latency, width_label, WidthProfile};
use pipe_nn::train::Images;
use pipe_nn::Network;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The `widths` list, ascending.
fn widths(input: &StageInput) -> Result<Vec<f64>, StageError> {
    let Value::List(items) = input.value("widths")? else {
        return Err(StageError::Internal("`widths` is not a list".into()));
    };
    let mut out = items
        .iter()
        .map(|v| {
            v.as_f64()
                .ok_or_else(|| StageError::Invalid(format!("`widths` must list numbers, got {v}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by(f64::total_cmp);
    Ok(out)
}

/// Per-width numbers as `w<width>.<name>` metrics (latencies in ms).
fn profile_metrics(profile: &[WidthProfile]) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    for p in profile {
        let w = width_label(p.width);
        m.insert(format!("w{w}.flops"), p.flops as f64);
        m.insert(format!("w{w}.macs"), p.macs as f64);
        m.insert(format!("w{w}.weights"), p.weights as f64);
        m.insert(format!("w{w}.latency_b1_ms"), p.latency_b1_ns as f64 / 1e6);
        m.insert(
            format!("w{w}.latency_b64_ms"),
            p.latency_b64_ns as f64 / 1e6,
        );
        if let Some(a) = p.accuracy {
            m.insert(format!("w{w}.accuracy"), f64::from(a));
        }
    }
    m
}

/// `model.slimmable(base, widths, repeats, seed)`.
pub fn model(input: &StageInput, _: &StageContext) -> Result<StageOutput, StageError> {
    let mut base = input.model("base")?.network()?;
    let mut net =
        slim::from_base(&mut base, widths(input)?, Seed::read(input)?).map_err(nn_error)?;
    let profile = latency::profile(&mut net, input.usize("repeats")?).map_err(nn_error)?;
    let mut metrics = profile_metrics(&profile);
    metrics.insert("params".into(), net.trainable_params() as f64);
    slim::set_profile(&mut net.spec, profile);
    let model = Model::from_network(&mut net)?;
    Ok(StageOutput::single(Artifact::Model(Arc::new(model))).with_metrics(&metrics))
}

/// The optional held-out dataset: an empty list when not given.
fn test_set(input: &StageInput) -> Result<Option<&ImageSet>, StageError> {
    match input.get("test")? {
        Input::Artifact(Artifact::Dataset(d)) => Ok(Some(d.images()?)),
        Input::Value(Value::List(items)) if items.is_empty() => Ok(None),
        _ => Err(StageError::Invalid(
            "`test` must be a labelled image dataset (e.g. `parts.test` of `dataset.split`), or left out".into(),
        )),
    }
}

/// `train.slimmable(model, data, test, random_widths, distill, ...)` →
/// `{model, metrics, curve}`.
pub fn train(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let mut net = input.model("model")?.network()?;
    if slim::widths(&net.spec).is_none() {
        return Err(StageError::Invalid(format!(
            "`train.slimmable` trains a `model.slimmable` network, not a `{}`; wrap it: `model.slimmable(base: ...)`",
            net.spec.name()
        )));
    }
    let data = input.dataset("data")?.images()?;
    check_fits(data, &net.spec)?;
    let test = test_set(input)?;
    if let Some(t) = test {
        check_fits(t, &net.spec)?;
    }
    let cfg = SandwichConfig {
        train: Optimisation::read_supervised(input)?,
        random_widths: input.usize("random_widths")?,
        distill: input.bool("distill")?,
    };
    let steps = cfg.train.epochs
        * data
            .len()
            .div_ceil(cfg.train.batch_size.clamp(1, data.len()));
    ctx.progress.set_total(steps as u64, "batches");
    let images = Images {
        x: &data.x,
        y: &data.y,
        shape: [data.channels, data.height, data.width],
    };
    let curve = sandwich::train(&mut net, images, &cfg, |_| {
        ctx.progress.advance(1);
        ctx.check_cancelled()
    })?;
    let train_acc = sandwich::accuracy_per_width(&mut net, &data.x, &data.y);
    let test_acc = test.map(|t| sandwich::accuracy_per_width(&mut net, &t.x, &t.y));
    let metrics = record_accuracy(&mut net, &curve, &train_acc, test_acc.as_deref());
    let trained = Model::from_network(&mut net)?;
    Ok(StageOutput::record([
        ("model", Artifact::Model(Arc::new(trained))),
        ("metrics", Artifact::Metrics(Arc::new(metrics.clone()))),
        ("curve", Artifact::Table(Arc::new(table(&curve)))),
    ])
    .with_metrics(&metrics.values))
}

/// Saves each width's accuracy (held-out when given, else training) in the
/// profile and returns the stage's metrics: per width `w<width>.train_accuracy`,
/// `w<width>.test_accuracy`, the profile's figures, and the curves.
fn record_accuracy(
    net: &mut Network,
    curve: &[SandwichEpoch],
    train_acc: &[f32],
    test_acc: Option<&[f32]>,
) -> Metrics {
    let ws = slim::widths(&net.spec)
        .map(<[f64]>::to_vec)
        .unwrap_or_default();
    let chosen = test_acc.unwrap_or(train_acc);
    let mut profile = slim::profile(&net.spec).to_vec();
    for (p, &a) in profile.iter_mut().zip(chosen) {
        p.accuracy = Some(a);
    }
    let mut values = profile_metrics(&profile);
    for (i, w) in ws.iter().enumerate() {
        let w = width_label(*w);
        values.insert(format!("w{w}.train_accuracy"), f64::from(train_acc[i]));
        if let Some(t) = test_acc {
            values.insert(format!("w{w}.test_accuracy"), f64::from(t[i]));
        }
    }
    if !profile.is_empty() {
        slim::set_profile(&mut net.spec, profile);
    }
    let last = curve.last();
    values.insert(
        "train_loss".into(),
        last.map_or(f64::NAN, |s| f64::from(s.loss)),
    );
    values.insert("epochs".into(), curve.len() as f64);
    let series = |f: fn(&SandwichEpoch) -> f32| curve.iter().map(|s| f64::from(f(s))).collect();
    let curves = BTreeMap::from([
        ("train_loss".to_string(), series(|s| s.loss)),
        (
            "train_accuracy_largest".to_string(),
            series(|s| s.accuracy_largest),
        ),
        (
            "train_accuracy_smallest".to_string(),
            series(|s| s.accuracy_smallest),
        ),
        ("lr".to_string(), series(|s| s.lr)),
    ]);
    Metrics { values, curves }
}

fn table(curve: &[SandwichEpoch]) -> Table {
    Table::numeric(
        "sandwich training curve",
        [
            "epoch",
            "loss",
            "accuracy_largest",
            "accuracy_smallest",
            "lr",
        ],
        curve.iter().map(|s| {
            [
                s.epoch as f64,
                f64::from(s.loss),
                f64::from(s.accuracy_largest),
                f64::from(s.accuracy_smallest),
                f64::from(s.lr),
            ]
        }),
    )
}
