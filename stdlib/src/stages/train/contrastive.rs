//! `train.contrastive`, whole (signature and implementation): CLIP-style symmetric InfoNCE between two encoders with
//! a learnable temperature (`pipe_nn::clip`). Dispatches on the dataset's
//! payload: audio-visual segments train the audio tower of `a` against the
//! visual tower of `b` (both `model.temporal_transformer`; when `a` and `b` are
//! the same model its two towers are trained against each other), AVE-CLIP's
//! first stage. Region datasets (OVSeg) are handled in `run/ovseg.rs`.
//!
//! Pairs are the (audio, visual) features of one segment; a step takes
//! `batch_size` pairs, the rest of the batch being the negatives. Retrieval
//! accuracy is top-1 within fixed evaluation batches of `batch_size` pairs
//! (chance: 1/batch size), both ways, before and after training.

use crate::artifact::Artifact;
use crate::data::av::AvSegments;
use crate::dataset::DatasetData;
use crate::metrics::{Metrics, Table};
use crate::model::Model;
use crate::params::Optimisation;
use crate::run::ave::check_fits;
use crate::stage::StageDef;
use crate::stage::{StageContext, StageError, StageInput, StageOutput};
use crate::stages::common::*;
use crate::task_kinds;
use pipe_lang::types::{Task, Type};
use pipe_nn::clip::{clip_loss, retrieval_hits, LogitScale};
use pipe_nn::init::Rng8;
use pipe_nn::models::temporal::{towers, AvEncoders};
use pipe_nn::optim::{clip_factor, Optimizer};
use pipe_nn::{Layer, Mode, Network, Param, Tensor};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::collections::BTreeMap;
use std::sync::Arc;

pub fn run(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let data = input.dataset("data")?;
    match &data.data {
        DatasetData::AvSegments(set) => audio_visual(input, ctx, set),
        DatasetData::Regions(_) => crate::run::ovseg::contrastive(input, ctx),
        other => Err(StageError::Invalid(format!(
            "train.contrastive has no encoders for `{}` datasets; it pairs audio/visual segments (`dataset.av_events`, `dataset.ave`) or regions with nouns (`dataset.regions`)",
            other.kind()
        ))),
    }
}

/// The audio tower of one network and the visual tower of another (or the same).
struct Pair {
    a: Network,
    b: Option<Network>,
}

impl Pair {
    fn towers(&mut self) -> Result<(&mut AvEncoders, Option<&mut AvEncoders>), StageError> {
        let missing = |which: &str| {
            StageError::Invalid(format!(
                "`{which}` must be a `model.temporal_transformer` (its audio and visual towers are what this stage aligns)"
            ))
        };
        let a = towers(&mut self.a).ok_or_else(|| missing("a"))?;
        let b = match &mut self.b {
            Some(net) => Some(towers(net).ok_or_else(|| missing("b"))?),
            None => None,
        };
        Ok((a, b))
    }
}

/// Embeddings of audio rows through `a`'s tower and visual rows through `b`'s.
fn embed(
    pair: &mut Pair,
    audio: Tensor,
    visual: Tensor,
    mode: Mode,
) -> Result<(Tensor, Tensor), StageError> {
    let (a, b) = pair.towers()?;
    let ea = a.audio.forward(audio, mode);
    let ev = match b {
        Some(b) => b.visual.forward(visual, mode),
        None => a.visual.forward(visual, mode),
    };
    Ok((ea, ev))
}

/// Audio and visual rows of the segments `cells` (video·segments + segment).
fn rows(set: &AvSegments, cells: &[usize]) -> (Tensor, Tensor) {
    let (da, dv) = (set.audio_dim, set.visual_dim);
    let mut a = Vec::with_capacity(cells.len() * da);
    let mut v = Vec::with_capacity(cells.len() * dv);
    for &c in cells {
        a.extend_from_slice(&set.audio[c * da..(c + 1) * da]);
        v.extend_from_slice(&set.visual[c * dv..(c + 1) * dv]);
    }
    (
        Tensor::from_vec(&[cells.len(), da], a),
        Tensor::from_vec(&[cells.len(), dv], v),
    )
}

/// Top-1 retrieval accuracy both ways over consecutive batches of `batch` cells.
fn retrieval(
    pair: &mut Pair,
    set: &AvSegments,
    cells: &[usize],
    batch: usize,
) -> Result<(f64, f64), StageError> {
    let (mut ab, mut ba, mut n) = (0usize, 0usize, 0usize);
    for chunk in cells.chunks_exact(batch) {
        let (audio, visual) = rows(set, chunk);
        let (ea, ev) = embed(pair, audio, visual, Mode::Eval)?;
        let (x, y) = retrieval_hits(&ea, &ev);
        ab += x;
        ba += y;
        n += chunk.len();
    }
    let n = n.max(1) as f64;
    Ok((ab as f64 / n, ba as f64 / n))
}

/// Calls `f` on every param this stage trains, in a fixed order.
fn visit_trained(
    pair: &mut Pair,
    scale: &mut LogitScale,
    f: &mut dyn FnMut(&mut Param),
) -> Result<(), StageError> {
    let (a, b) = pair.towers()?;
    a.audio.visit("", &mut |_, p| f(p));
    match b {
        Some(b) => b.visual.visit("", &mut |_, p| f(p)),
        None => a.visual.visit("", &mut |_, p| f(p)),
    }
    f(&mut scale.param);
    Ok(())
}

/// One optimisation step on a batch of cells; returns (loss, a→b hits, b→a hits).
fn step(
    pair: &mut Pair,
    set: &AvSegments,
    cells: &[usize],
    scale: &mut LogitScale,
) -> Result<(f32, usize, usize), StageError> {
    visit_trained(pair, scale, &mut |p| p.zero_grad())?;
    let (audio, visual) = rows(set, cells);
    let (ea, ev) = embed(pair, audio, visual, Mode::Train)?;
    let out = clip_loss(&ea, &ev, scale.log_scale());
    let (a, b) = pair.towers()?;
    a.audio.backward(out.grad_a);
    match b {
        Some(b) => b.visual.backward(out.grad_b),
        None => a.visual.backward(out.grad_b),
    };
    scale.param.accumulate(&[out.grad_log_scale]);
    Ok((out.loss, out.a_to_b_correct, out.b_to_a_correct))
}

fn audio_visual(
    input: &StageInput,
    ctx: &StageContext,
    set: &AvSegments,
) -> Result<StageOutput, StageError> {
    let (model_a, model_b) = (input.model("a")?, input.model("b")?);
    let same = model_a == model_b;
    let mut pair = Pair {
        a: model_a.network()?,
        b: if same { None } else { Some(model_b.network()?) },
    };
    check_fits(set, &pair.a.spec)?;
    if let Some(b) = &pair.b {
        check_fits(set, &b.spec)?;
    }
    let cfg = Optimisation::read(input)?;
    let mut scale = LogitScale::new((1.0 / input.f64("temperature")?).ln() as f32);
    scale.param.set_trainable(input.bool("learn_temperature")?);
    let cells_total = set.labels.len();
    let bs = cfg.batch_size.clamp(2, cells_total.max(2));
    if cells_total < 2 {
        return Err(StageError::Invalid(
            "contrastive training needs at least two segments".into(),
        ));
    }
    let mut rng = Rng8::seed_from_u64(cfg.seed);
    let mut held: Vec<usize> = (0..cells_total).collect();
    held.shuffle(&mut rng);
    let before = retrieval(&mut pair, set, &held, bs)?;
    let per_epoch = cells_total / bs;
    let schedule = cfg.lr_schedule(per_epoch);
    ctx.progress
        .set_total((cfg.epochs * per_epoch) as u64, "batches");
    let mut opt = Optimizer::new(cfg.optimizer, cfg.weight_decay);
    let mut order = held.clone();
    let mut table = Vec::with_capacity(cfg.epochs);
    let mut steps = 0;
    for epoch in 0..cfg.epochs {
        order.shuffle(&mut rng);
        let (mut loss_sum, mut hits, mut seen) = (0.0f64, 0usize, 0usize);
        for cells in order.chunks_exact(bs) {
            let (loss, ab, ba) = step(&mut pair, set, cells, &mut scale)?;
            let mut sq = 0.0f64;
            visit_trained(&mut pair, &mut scale, &mut |p| {
                sq += p.grad.iter().map(|g| f64::from(*g).powi(2)).sum::<f64>()
            })?;
            let factor = clip_factor(sq.sqrt() as f32, cfg.clip);
            let lr = schedule.lr(steps);
            opt.begin();
            let mut index = 0;
            visit_trained(&mut pair, &mut scale, &mut |p| {
                p.grad.iter_mut().for_each(|g| *g *= factor);
                opt.update(index, p, lr);
                index += 1;
            })?;
            scale.clamp();
            steps += 1;
            loss_sum += f64::from(loss);
            hits += ab + ba;
            seen += 2 * cells.len();
            ctx.progress.advance(1);
            ctx.check_cancelled()?;
        }
        table.push([
            (epoch + 1) as f64,
            loss_sum / per_epoch.max(1) as f64,
            hits as f64 / seen.max(1) as f64,
            f64::from(scale.log_scale().exp()).recip(),
        ]);
    }
    let after = retrieval(&mut pair, set, &held, bs)?;
    let values = BTreeMap::from([
        ("retrieval_a_to_b".to_string(), after.0),
        ("retrieval_b_to_a".to_string(), after.1),
        ("retrieval_a_to_b_before".to_string(), before.0),
        ("retrieval_b_to_a_before".to_string(), before.1),
        ("retrieval_chance".to_string(), 1.0 / bs as f64),
        (
            "temperature".to_string(),
            f64::from(scale.log_scale().exp()).recip(),
        ),
        (
            "train_loss".to_string(),
            table.last().map_or(f64::NAN, |r| r[1]),
        ),
        ("epochs".to_string(), cfg.epochs as f64),
    ]);
    let series = |i: usize| table.iter().map(|r| r[i]).collect();
    let metrics = Metrics {
        values,
        curves: BTreeMap::from([
            ("train_loss".to_string(), series(1)),
            ("train_retrieval".to_string(), series(2)),
            ("temperature".to_string(), series(3)),
        ]),
    };
    let curve = Table::numeric(
        "contrastive training curve",
        ["epoch", "loss", "retrieval", "temperature"],
        table.iter().copied(),
    );
    let a = Arc::new(Model::from_network(&mut pair.a)?);
    let b = match &mut pair.b {
        Some(net) => Arc::new(Model::from_network(net)?),
        None => a.clone(),
    };
    Ok(StageOutput::record([
        ("a", Artifact::Model(a)),
        ("b", Artifact::Model(b)),
        ("metrics", Artifact::Metrics(Arc::new(metrics.clone()))),
        ("curve", Artifact::Table(Arc::new(curve))),
    ])
    .with_metrics(&metrics.values))
}

/// Datasets of paired samples for contrastive training.
const PAIRED: &[Task] = &[task_kinds::AV_EVENT, task_kinds::SEGMENT];

pub fn stage() -> StageDef {
    let out = record(&[
        ("a", Type::Model),
        ("b", Type::Model),
        ("metrics", Type::Metrics),
        ("curve", Type::Table),
    ]);
    def(
        sig(
            "train",
            "contrastive",
            "CLIP-style symmetric InfoNCE between two encoders over paired samples (audio \
             vs visual segment features, or region crops vs nouns), with a learnable \
             temperature. `a` and `b` may be the same `model.dual_encoder`, whose two \
             towers are then trained against each other. Metrics: retrieval accuracy both \
             ways.",
            super::with(
                vec![
                    model("a", "The first encoder (audio, or image tower)."),
                    model("b", "The second encoder (visual, or text tower)."),
                    dataset("data", PAIRED, "Paired samples."),
                    float(
                        "temperature",
                        0.07,
                        1e-4,
                        100.0,
                        "Initial softmax temperature (CLIP's 0.07).",
                    ),
                    flag(
                        "learn_temperature",
                        true,
                        "Learn the temperature (as CLIP's logit scale).",
                    ),
                ],
                Optimisation::params(20, 1e-3, 64, 0.01),
            ),
            out,
        ),
        Some(run),
    )
}
