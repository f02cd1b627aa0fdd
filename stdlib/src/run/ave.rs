//! AVE-CLIP's temporal model as stages: `model.temporal_transformer` (builds
//! `Family::TemporalTransformer` for an audio-visual dataset), its supervised
//! training (`train.supervised` on an `av_event` dataset) and
//! `eval.ave`, the AVE code's segment-level `compute_acc` (argmax of the
//! outputs per segment vs the truth, over every segment of every video), after
//! the model's post-processing when the model has it on.
//!
//! The training loss is the project's own choice (the paper's is not
//! published): cross-entropy of the joint output (events weighted by the event
//! probability, plus background) and, weighted by `EVENT_WEIGHT`, binary
//! cross-entropy of the event/background logit. Never reads files.

use crate::artifact::Artifact;
use crate::data::av::AvSegments;
use crate::metrics::{Metrics, Table};
use crate::model::{nn_error, Model};
use crate::params::{Optimisation, Seed};
use crate::run::model::{model_output, sizes};
use crate::stage::{StageContext, StageError, StageInput, StageOutput};
use pipe_nn::loss::{argmax, cross_entropy};
use pipe_nn::models::temporal::postprocess;
use pipe_nn::train_loop::{run_epochs, BatchLoss};
use pipe_nn::{Family, Mode, ModelSpec, Network, Tensor};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Weight of the event/background cross-entropy beside the joint one
/// (project default, not from the paper).
const EVENT_WEIGHT: f32 = 1.0;
/// Videos per inference batch.
const EVAL_BATCH: usize = 128;

pub fn model(input: &StageInput, _: &StageContext) -> Result<StageOutput, StageError> {
    let set = input.dataset("input")?.av_segments()?;
    let spec = ModelSpec {
        family: Family::TemporalTransformer {
            windows: sizes(input, "windows")?,
            dim: input.usize("dim")?,
            heads: input.usize("heads")?,
            layers: input.usize("layers")?,
            refine: input.bool("refine")?,
            postprocess: input.bool("postprocess")?,
        },
        input: [set.segments, set.audio_dim, set.visual_dim],
        classes: set.classes(),
        dropout: input.f64("dropout")? as f32,
        seed: Seed::read(input)?,
    };
    let mut net = Network::build(&spec).map_err(nn_error)?;
    model_output(&mut net, &[])
}

/// The dataset must have the layout the model was built for.
pub fn check_fits(set: &AvSegments, spec: &ModelSpec) -> Result<bool, StageError> {
    let Family::TemporalTransformer { postprocess, .. } = spec.family else {
        return Err(StageError::Invalid(format!(
            "this stage needs a `model.temporal_transformer`, got a `{}` model",
            spec.name()
        )));
    };
    let have = [set.segments, set.audio_dim, set.visual_dim];
    if have != spec.input || set.classes() != spec.classes {
        return Err(StageError::Invalid(format!(
            "the model was built for {:?} (segments, audio, visual) with {} outputs but the dataset has {have:?} with {}; build the model with `input:` this dataset",
            spec.input,
            spec.classes,
            set.classes()
        )));
    }
    if set.labels.is_empty() {
        return Err(StageError::Invalid("the dataset has no videos".into()));
    }
    Ok(postprocess)
}

/// Loss and gradient of one batch's output `[B, T, classes + 1]`; returns
/// (loss, correct segments).
fn loss(out: &Tensor, labels: &[u32], background: u32, grad: &mut Tensor) -> (f32, usize) {
    let width = out.cols();
    let classes = width - 1;
    let cells = labels.len();
    let joint: Vec<f32> = out
        .data
        .chunks_exact(width)
        .flat_map(|r| r[..classes].iter().copied())
        .collect();
    let ce = cross_entropy(&Tensor::from_vec(&[cells, classes], joint), labels, 0.0);
    let mut bce = 0.0f32;
    let parts = grad
        .data
        .chunks_exact_mut(width)
        .zip(ce.grad.data.chunks_exact(classes))
        .zip(out.data.chunks_exact(width).zip(labels));
    for ((g, cg), (row, &y)) in parts {
        g[..classes].copy_from_slice(cg);
        let e = row[classes];
        let target = if y == background { 0.0 } else { 1.0 };
        let p = 1.0 / (1.0 + (-e).exp());
        bce += e.max(0.0) - e * target + (-e.abs()).exp().ln_1p();
        g[classes] = EVENT_WEIGHT * (p - target) / cells as f32;
    }
    (ce.loss + EVENT_WEIGHT * bce / cells as f32, ce.correct)
}

/// `train.supervised` on audio-visual segments: whole videos per batch.
pub fn train(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let mut net = input.model("model")?.network()?;
    let set = input.dataset("data")?.av_segments()?;
    check_fits(set, &net.spec)?;
    let cfg = Optimisation::read(input)?;
    let n = set.videos();
    ctx.progress.set_total(
        (cfg.epochs * n.div_ceil(cfg.batch_size.clamp(1, n))) as u64,
        "batches",
    );
    let [t, da, dv] = net.spec.input;
    let sums = run_epochs(
        &mut net,
        n,
        &cfg,
        |net, batch, _| {
            let x = Tensor::from_vec(&[batch.len(), t, da + dv], set.joint(batch));
            let labels = set.labels_of(batch);
            net.zero_grad();
            let out = net.forward(x, Mode::Train);
            let mut grad = Tensor::zeros(&out.shape);
            let (loss, correct) = loss(&out, &labels, set.background(), &mut grad);
            net.backward(grad);
            Ok::<_, StageError>(BatchLoss { loss, correct })
        },
        |_| {
            ctx.progress.advance(1);
            ctx.check_cancelled()
        },
    )?;
    let rows: Vec<[f64; 4]> = sums
        .iter()
        .map(|s| {
            [
                s.epoch as f64,
                s.loss_sum / n as f64,
                s.correct as f64 / (n * t) as f64,
                f64::from(s.lr),
            ]
        })
        .collect();
    let metrics = train_metrics(&rows);
    let trained = Model::from_network(&mut net)?;
    Ok(StageOutput::record([
        ("model", Artifact::Model(Arc::new(trained))),
        ("metrics", Artifact::Metrics(Arc::new(metrics.clone()))),
        ("curve", Artifact::Table(Arc::new(curve_table(&rows)))),
    ])
    .with_metrics(&metrics.values))
}

fn train_metrics(rows: &[[f64; 4]]) -> Metrics {
    let series = |i: usize| rows.iter().map(|r| r[i]).collect();
    Metrics::from_epochs(
        rows.len(),
        vec![
            ("train_loss", series(1)),
            ("train_accuracy", series(2)),
            ("lr", series(3)),
        ],
        &["train_loss", "train_accuracy"],
    )
}

fn curve_table(rows: &[[f64; 4]]) -> Table {
    Table::numeric(
        "training curve",
        ["epoch", "loss", "accuracy", "lr"],
        rows.iter().copied(),
    )
}

/// Predicted label per segment (argmax of the `classes` joint outputs), before
/// post-processing.
pub fn predict(net: &mut Network, set: &AvSegments) -> Vec<u32> {
    let [t, da, dv] = net.spec.input;
    let classes = net.spec.classes;
    let videos: Vec<usize> = (0..set.videos()).collect();
    let mut out = Vec::with_capacity(set.labels.len());
    for batch in videos.chunks(EVAL_BATCH) {
        let x = Tensor::from_vec(&[batch.len(), t, da + dv], set.joint(batch));
        let y = net.forward(x, Mode::Eval);
        out.extend(
            y.data
                .chunks_exact(classes + 1)
                .map(|r| argmax(&r[..classes]) as u32),
        );
    }
    out
}

/// The AVE code's `compute_acc`: correct segments over all segments.
pub fn compute_acc(predicted: &[u32], truth: &[u32]) -> f64 {
    let correct = predicted.iter().zip(truth).filter(|(p, t)| p == t).count();
    correct as f64 / truth.len().max(1) as f64
}

pub fn eval(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let mut net = input.model("model")?.network()?;
    let set = input.dataset("data")?.av_segments()?;
    let post = check_fits(set, &net.spec)?;
    ctx.check_cancelled()?;
    let raw = predict(&mut net, set);
    let mut final_labels = raw.clone();
    if post {
        postprocess(&mut final_labels, set.segments);
    }
    let background = set.background();
    let events = set.labels.iter().filter(|&&l| l != background).count();
    let event_hits = final_labels
        .iter()
        .zip(&set.labels)
        .filter(|(p, t)| p == t && **t != background)
        .count();
    let values = BTreeMap::from([
        (
            "accuracy".to_string(),
            compute_acc(&final_labels, &set.labels),
        ),
        ("accuracy_raw".to_string(), compute_acc(&raw, &set.labels)),
        (
            "event_accuracy".to_string(),
            event_hits as f64 / events.max(1) as f64,
        ),
        ("segments".to_string(), set.labels.len() as f64),
    ]);
    let metrics = Metrics {
        values,
        curves: BTreeMap::new(),
    };
    Ok(
        StageOutput::single(Artifact::Metrics(Arc::new(metrics.clone())))
            .with_metrics(&metrics.values),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compute_acc_counts_every_segment() {
        assert_eq!(compute_acc(&[1, 2, 3, 3], &[1, 2, 0, 3]), 0.75);
    }

    #[test]
    fn loss_gradient_matches_central_differences() {
        let out = Tensor::from_vec(
            &[1, 2, 4],
            vec![-1.2, -0.7, -2.0, 0.3, -0.4, -1.9, -1.5, -0.8],
        );
        let labels = [1, 2];
        let mut grad = Tensor::zeros(&out.shape);
        loss(&out, &labels, 2, &mut grad);
        for i in 0..out.len() {
            let at = |d: f32| {
                let mut o = out.clone();
                o.data[i] += d;
                loss(&o, &labels, 2, &mut Tensor::zeros(&out.shape)).0
            };
            let numeric = (at(1e-3) - at(-1e-3)) / 2e-3;
            assert!(
                (numeric - grad.data[i]).abs() < 2e-3,
                "{i}: {numeric} vs {}",
                grad.data[i]
            );
        }
    }
}
