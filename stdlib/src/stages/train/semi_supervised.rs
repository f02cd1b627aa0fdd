//! `train.semi_supervised`, whole (signature and implementation): mean-teacher training of a `model.detector` on
//! sparsely labelled videos. Every epoch has the same number of steps,
//! (labelled + unlabelled frames) / batch size, whatever the mode, so the
//! supervised-only baseline (`pseudolabel: "none"`) gets the same optimisation
//! budget. Burn-in epochs train on labelled frames only; afterwards each batch
//! is half labelled frames and half pseudo-labelled frames (weighted by
//! `unsup_weight`; soft targets through the KL class term). The teacher is a
//! copy of the student at the end of burn-in that follows it by EMA after
//! every step; online modes relabel the unlabelled frames with the teacher at
//! the start of every epoch. The stage returns the student.

use crate::artifact::Artifact;
use crate::dataset::VideoSet;
use crate::metrics::{Metrics, Table};
use crate::model::{nn_error, Model};
use crate::params::{Augment, Optimisation};
use crate::run::detector::{check_fits, network_for, predict_per_frame, targets};
use crate::run::pseudolabel::{
    label_frames, quality, tune_confidence, Flows, Labeller, SsvodParams,
};
use crate::stage::StageDef;
use crate::stage::{Input, StageContext, StageError, StageInput, StageOutput};
use crate::stages::common::*;
use pipe_lang::catalog::ParamSig;
use pipe_lang::types::Type;
use pipe_lang::value::Value;
use pipe_nn::init::Rng8;
use pipe_nn::models::detector::{loss, LossConfig, Target};
use pipe_nn::optim::Optimizer;
use pipe_nn::train::TrainConfig;
use pipe_nn::{Mode, Network, Tensor};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pseudo {
    None,
    Given,
    Threshold,
    Ssvod,
}

/// Named figures: pseudo-label quality, or the last refresh's.
type Figures = BTreeMap<String, f64>;

/// Per-epoch record for the curve.
struct EpochRow {
    epoch: usize,
    loss: f32,
    pseudo_labels: usize,
    lr: f32,
}

pub fn semi_supervised(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let labeled_set = input.dataset("labeled")?.videos()?;
    let unlabeled_set = input.dataset("unlabeled")?.videos()?;
    let mut student = network_for(input.model("model")?, labeled_set)?;
    check_fits(unlabeled_set, &student.spec)?;
    let mode = match input.str("pseudolabel")? {
        "none" => Pseudo::None,
        "given" => Pseudo::Given,
        "threshold" => Pseudo::Threshold,
        "ssvod" => Pseudo::Ssvod,
        other => {
            return Err(StageError::Internal(format!(
                "unknown pseudolabel `{other}`"
            )))
        }
    };
    let labeled: Vec<usize> = (0..labeled_set.len())
        .filter(|&i| labeled_set.frames[i].labeled)
        .collect();
    if labeled.is_empty() {
        return Err(StageError::Invalid(
            "`labeled` has no frames with visible labels; pass a dataset whose `labeled_every` frames are labelled"
                .into(),
        ));
    }
    let unlabeled: Vec<usize> = (0..unlabeled_set.len())
        .filter(|&i| !unlabeled_set.frames[i].labeled)
        .collect();
    if unlabeled.is_empty() && mode != Pseudo::None {
        return Err(StageError::Invalid(
            "`unlabeled` has no unlabelled frames to pseudo-label; pass the videos (or a `pseudolabel.*` result) whose unlabelled frames should be used"
                .into(),
        ));
    }
    let cfg = config(input)?;
    let tune = tune_frames(input, &student)?;
    let ssvod = SsvodParams::from_input(input)?;
    let flows = (mode == Pseudo::Ssvod && ssvod.warp).then(|| Flows::estimate(unlabeled_set));
    let labeller = match mode {
        Pseudo::Ssvod => Some(Labeller::Ssvod {
            params: &ssvod,
            flows: flows.as_ref(),
        }),
        Pseudo::Threshold => Some(Labeller::Threshold {
            confidence: input.f64("confidence")? as f32,
        }),
        Pseudo::None | Pseudo::Given => None,
    };
    let run = Run {
        labeled_set,
        unlabeled_set,
        labeled,
        unlabeled,
        mode,
        labeller,
        tune,
        cfg,
        burn_in: input.usize("burn_in")?,
        ema: input.f64("ema")? as f32,
        unsup_weight: input.f64("unsup_weight")? as f32,
    };
    let (rows, last_quality) = run.train(&mut student, ctx)?;
    let metrics = metrics(&rows, last_quality);
    let trained = Model::from_network(&mut student)?;
    Ok(StageOutput::record([
        ("model", Artifact::Model(Arc::new(trained))),
        ("metrics", Artifact::Metrics(Arc::new(metrics.clone()))),
        ("curve", Artifact::Table(Arc::new(table(&rows)))),
    ])
    .with_metrics(&metrics.values))
}

/// The labelled frames of the optional `tune` videos: empty list when left out.
fn tune_frames<'a>(
    input: &'a StageInput,
    student: &Network,
) -> Result<Option<(&'a VideoSet, Vec<usize>)>, StageError> {
    let set = match input.get("tune")? {
        Input::Artifact(Artifact::Dataset(d)) => d.videos()?,
        Input::Value(Value::List(items)) if items.is_empty() => return Ok(None),
        _ => {
            return Err(StageError::Invalid(
                "`tune` must be videos with labelled frames the training never sees (e.g. another `dataset.moving_shapes` seed), or left out".into(),
            ))
        }
    };
    check_fits(set, &student.spec)?;
    let frames: Vec<usize> = (0..set.len()).filter(|&i| set.frames[i].labeled).collect();
    if frames.is_empty() {
        return Err(StageError::Invalid(
            "`tune` has no labelled frames to tune the threshold on; pass videos whose `labeled_every` frames are labelled".into(),
        ));
    }
    Ok(Some((set, frames)))
}

/// `Optimisation` plus `augment` (this stage has no label smoothing).
fn config(input: &StageInput) -> Result<TrainConfig, StageError> {
    Ok(TrainConfig {
        augment: Augment::read(input)?,
        ..Optimisation::read(input)?
    })
}

struct Run<'a> {
    labeled_set: &'a VideoSet,
    unlabeled_set: &'a VideoSet,
    labeled: Vec<usize>,
    unlabeled: Vec<usize>,
    mode: Pseudo,
    labeller: Option<Labeller<'a>>,
    /// For online `threshold`: labelled frames the training never sees, on
    /// which every refresh tunes the score cut.
    tune: Option<(&'a VideoSet, Vec<usize>)>,
    cfg: TrainConfig,
    burn_in: usize,
    ema: f32,
    unsup_weight: f32,
}

impl Run<'_> {
    fn train(
        &self,
        student: &mut Network,
        ctx: &StageContext,
    ) -> Result<(Vec<EpochRow>, Option<Figures>), StageError> {
        let bs = self.cfg.batch_size.max(2);
        let steps_per_epoch = (self.labeled.len() + self.unlabeled.len()).div_ceil(bs);
        let schedule = self.cfg.lr_schedule(steps_per_epoch);
        ctx.progress
            .set_total((self.cfg.epochs * steps_per_epoch) as u64, "batches");
        let mut opt = Optimizer::new(self.cfg.optimizer, self.cfg.weight_decay);
        let mut rng = Rng8::seed_from_u64(self.cfg.seed);
        let classes = student.spec.classes;
        let sup: Vec<Vec<Target>> = self
            .labeled
            .iter()
            .map(|&f| targets(&self.labeled_set.frames[f].boxes, classes))
            .collect();
        let mut labeled_order = Cycle::new(self.labeled.len());
        let mut unlabeled_order = Cycle::new(self.unlabeled.len());
        let mut teacher: Option<Network> = None;
        let mut pseudo: Vec<Vec<Target>> = Vec::new();
        let mut last_quality = None;
        let mut rows = Vec::with_capacity(self.cfg.epochs);
        let mut step = 0;
        for epoch in 0..self.cfg.epochs {
            let semi = self.mode != Pseudo::None && epoch >= self.burn_in;
            if semi && teacher.is_none() {
                teacher = Some(copy(student)?);
                if self.mode == Pseudo::Given {
                    pseudo = self.given_targets(classes);
                }
            }
            if let (true, Some(t), Some(labeller)) = (semi, teacher.as_mut(), &self.labeller) {
                let (targets, q) = self.refresh(t, labeller, classes)?;
                pseudo = targets;
                last_quality = Some(q);
            }
            let (mut loss_sum, mut lr) = (0.0f64, 0.0);
            for _ in 0..steps_per_epoch {
                let n_sup = if semi { bs / 2 } else { bs };
                let mut frames = Vec::with_capacity(bs);
                let mut batch_targets = Vec::with_capacity(bs);
                let mut weights = Vec::with_capacity(bs);
                for i in labeled_order.take(n_sup, &mut rng) {
                    frames.push((self.labeled_set, self.labeled[i]));
                    batch_targets.push(sup[i].clone());
                    weights.push(1.0);
                }
                if semi {
                    for i in unlabeled_order.take(bs - n_sup, &mut rng) {
                        frames.push((self.unlabeled_set, self.unlabeled[i]));
                        batch_targets.push(pseudo[i].clone());
                        weights.push(self.unsup_weight);
                    }
                }
                lr = schedule.lr(step);
                let l = self.step(
                    student,
                    &mut opt,
                    &frames,
                    &mut batch_targets,
                    &weights,
                    lr,
                    &mut rng,
                );
                loss_sum += f64::from(l);
                if let Some(t) = teacher.as_mut() {
                    ema_update(t, student, self.ema);
                }
                step += 1;
                ctx.progress.advance(1);
                ctx.check_cancelled()?;
            }
            rows.push(EpochRow {
                epoch: epoch + 1,
                loss: (loss_sum / steps_per_epoch.max(1) as f64) as f32,
                pseudo_labels: if semi {
                    pseudo.iter().map(Vec::len).sum()
                } else {
                    0
                },
                lr,
            });
        }
        Ok((rows, last_quality))
    }

    /// One optimisation step on `frames` (flipped at random when augmenting).
    #[allow(clippy::too_many_arguments)]
    fn step(
        &self,
        net: &mut Network,
        opt: &mut Optimizer,
        frames: &[(&VideoSet, usize)],
        batch_targets: &mut [Vec<Target>],
        weights: &[f32],
        lr: f32,
        rng: &mut Rng8,
    ) -> f32 {
        let set = self.labeled_set;
        let (c, h, w) = (set.channels, set.height, set.width);
        let mut x = Vec::with_capacity(frames.len() * set.frame_len());
        for (&(s, f), t) in frames.iter().zip(batch_targets.iter_mut()) {
            let start = x.len();
            x.extend_from_slice(s.frame(f));
            if self.cfg.augment && rng.gen_bool(0.5) {
                flip(&mut x[start..], t, [c, h, w]);
            }
        }
        let batch = Tensor::from_vec(&[frames.len(), c, h, w], x);
        net.zero_grad();
        let out = net.forward(batch, Mode::Train);
        let l = loss(&out, [h, w], batch_targets, weights, &LossConfig::default());
        net.backward(l.grad);
        net.step(opt, lr, self.cfg.clip);
        l.total
    }

    /// Pseudo-labels of the unlabelled frames from the teacher, as targets,
    /// with their quality against the hidden truth.
    fn refresh(
        &self,
        teacher: &mut Network,
        labeller: &Labeller,
        classes: usize,
    ) -> Result<(Vec<Vec<Target>>, Figures), StageError> {
        let set = self.unlabeled_set;
        let all: Vec<usize> = (0..set.len()).collect();
        let preds = predict_per_frame(teacher, set, &all)?;
        let (labels, tuned) = match (labeller, &self.tune) {
            (Labeller::Threshold { .. }, Some((tune_set, frames))) => {
                let tune_preds = predict_per_frame(teacher, tune_set, frames)?;
                let (confidence, f1) = tune_confidence(tune_set, frames, &tune_preds);
                let tuned = Labeller::Threshold { confidence };
                let labels = label_frames(set, &preds, &self.unlabeled, &tuned);
                (labels, Some((confidence, f1)))
            }
            _ => (label_frames(set, &preds, &self.unlabeled, labeller), None),
        };
        let mut q = quality(set, &self.unlabeled, &labels);
        if let Some((confidence, f1)) = tuned {
            q.insert("tuned_confidence".into(), f64::from(confidence));
            q.insert("tune_f1".into(), f1);
        }
        let targets = labels
            .into_iter()
            .map(|boxes| targets(&boxes, classes))
            .collect();
        Ok((targets, q))
    }

    /// The labels a `pseudolabel.*` stage stored in the unlabelled frames.
    fn given_targets(&self, classes: usize) -> Vec<Vec<Target>> {
        self.unlabeled
            .iter()
            .map(|&f| targets(&self.unlabeled_set.frames[f].boxes, classes))
            .collect()
    }
}

/// Draws indices from a reshuffled permutation of `0..n`, cycling.
struct Cycle {
    order: Vec<usize>,
    next: usize,
}

impl Cycle {
    fn new(n: usize) -> Cycle {
        Cycle {
            order: (0..n).collect(),
            next: n,
        }
    }

    fn take(&mut self, k: usize, rng: &mut Rng8) -> Vec<usize> {
        let mut out = Vec::with_capacity(k);
        if self.order.is_empty() {
            return out;
        }
        for _ in 0..k {
            if self.next >= self.order.len() {
                self.order.shuffle(rng);
                self.next = 0;
            }
            out.push(self.order[self.next]);
            self.next += 1;
        }
        out
    }
}

/// Mirrors a frame left-right, and its targets with it.
fn flip(frame: &mut [f32], targets: &mut [Target], [c, h, w]: [usize; 3]) {
    for row in frame.chunks_exact_mut(w).take(c * h) {
        row.reverse();
    }
    let width = w as f32;
    for t in targets {
        let [x1, y1, x2, y2] = t.bbox;
        t.bbox = [width - x2, y1, width - x1, y2];
    }
}

/// A separate network with the same spec and weights.
fn copy(net: &mut Network) -> Result<Network, StageError> {
    let weights = net.save_weights().map_err(nn_error)?;
    Network::load(&net.spec, &weights).map_err(nn_error)
}

/// teacher ← decay · teacher + (1 − decay) · student, params and buffers.
fn ema_update(teacher: &mut Network, student: &mut Network, decay: f32) {
    let mut values: Vec<Vec<f32>> = Vec::new();
    student.visit(&mut |_, p| values.push(p.value.data.clone()));
    let mut i = 0;
    teacher.visit(&mut |_, p| {
        for (t, s) in p.value.data.iter_mut().zip(&values[i]) {
            *t = decay * *t + (1.0 - decay) * s;
        }
        i += 1;
    });
}

fn metrics(rows: &[EpochRow], quality: Option<BTreeMap<String, f64>>) -> Metrics {
    let mut metrics = Metrics::from_epochs(
        rows.len(),
        vec![
            (
                "train_loss",
                rows.iter().map(|r| f64::from(r.loss)).collect(),
            ),
            (
                "pseudo_labels",
                rows.iter().map(|r| r.pseudo_labels as f64).collect(),
            ),
            ("lr", rows.iter().map(|r| f64::from(r.lr)).collect()),
        ],
        &["train_loss"],
    );
    for (k, v) in quality.into_iter().flatten() {
        metrics.values.insert(format!("pseudo_{k}"), v);
    }
    metrics
}

fn table(rows: &[EpochRow]) -> Table {
    Table::numeric(
        "semi-supervised training curve",
        ["epoch", "loss", "pseudo_labels", "lr"],
        rows.iter().map(|r| {
            [
                r.epoch as f64,
                f64::from(r.loss),
                r.pseudo_labels as f64,
                f64::from(r.lr),
            ]
        }),
    )
}

pub fn stage() -> StageDef {
    def(
        sig(
            "train",
            "semi_supervised",
            "Mean-teacher semi-supervised detection: a burn-in on the labelled frames, then \
             the student learns from labels and pseudo-labels (soft targets through a KL \
             term) while the teacher follows it by EMA. Pseudo-labels are refreshed online \
             with `pseudolabel`, or pass a dataset from `pseudolabel.*` as `unlabeled` with \
             `pseudolabel: \"given\"` to use it as is.",
            super::with(
                vec![
                    model("model", "A `model.detector`."),
                    dataset("labeled", DETECT, "Frames with visible labels."),
                    dataset("unlabeled", DETECT, "Frames without visible labels, or a pseudo-labelled dataset."),
                    choice(
                        "pseudolabel",
                        "ssvod",
                        &["ssvod", "threshold", "given", "none"],
                        "Online pseudo-labels (`ssvod` or `threshold`), `given` (use the labels in `unlabeled`), or `none` (supervised only).",
                    ),
                    float("ema", 0.9996, 0.0, 1.0, "Teacher EMA decay.")
                        .default_note("project default, not from the paper: Unbiased Teacher's 0.9996"),
                    int("burn_in", 2, 0, 100_000, "Supervised-only epochs before pseudo-labels are used.")
                        .default_note("project default, not from the paper"),
                    float("unsup_weight", 4.0, 0.0, 100.0, "Weight of the pseudo-label loss.")
                        .default_note("project default, not from the paper: Unbiased Teacher's λ_u = 4.0"),
                    int("window", 2, 0, 64, "For online `ssvod`: neighbouring frames on each side.")
                        .default_note("project default, not from the paper (not published)"),
                    float("iou", 0.5, 0.0, 1.0, "For online `ssvod`: cross-IoU needed to keep a box.")
                        .default_note("project default, not from the paper (not published)"),
                    float("divergence", 0.3, 0.0, 1.0, "For online `ssvod`: largest cross-divergence (JS) to keep a class label.")
                        .default_note("project default, not from the paper (not published)"),
                    float("confidence", 0.7, 0.0, 1.0, "Hard (one-hot) targets above this confidence, soft below; for online `threshold`, the detection score cut.")
                        .default_note("project default, not from the paper: Unbiased Teacher's box threshold 0.7"),
                    Augment::param(true, "Random horizontal flips of training frames (and their boxes)."),
                    ParamSig::optional(
                        "tune",
                        Type::Any,
                        pipe_lang::value::Value::List(Vec::new()),
                        "For online `threshold`: videos whose labelled frames the training never sees; \
                         every refresh sets the score cut to the one of 0.05, 0.10, ..., 0.95 whose \
                         pseudo-labels of these frames have the highest F1. Left out: `confidence`.",
                    ),
                ],
                super::with(crate::stages::pseudolabel::ssvod_switches(), Optimisation::params(20, 1e-3, 16, 1e-4)),
            ),
            trained(),
        ),
        Some(semi_supervised),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flipping_mirrors_pixels_and_boxes() {
        let mut frame = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut t = vec![Target::hard([0.0, 0.0, 1.0, 2.0], 0, 2)];
        flip(&mut frame, &mut t, [1, 2, 3]);
        assert_eq!(frame, vec![3.0, 2.0, 1.0, 6.0, 5.0, 4.0]);
        assert_eq!(t[0].bbox, [2.0, 0.0, 3.0, 2.0]);
    }

    #[test]
    fn cycling_visits_every_index_once_per_pass() {
        let mut rng = Rng8::seed_from_u64(3);
        let mut c = Cycle::new(5);
        let mut first: Vec<usize> = c.take(5, &mut rng);
        first.sort();
        assert_eq!(first, vec![0, 1, 2, 3, 4]);
        assert!(Cycle::new(0).take(3, &mut rng).is_empty());
    }
}
