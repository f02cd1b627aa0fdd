//! `train.mae` and `train.supmae`, whole (signatures, the masking parameters
//! they share, implementation): reads the masking and optimisation parameters, pre-trains the `vit` encoder with the backend's
//! masked autoencoder and returns `{model, metrics, curve}`: the encoder (its
//! classifier untouched), the final losses and the training FLOPs spent next
//! to what supervised training on all tokens costs, and a per-epoch table.

use crate::artifact::Artifact;
use crate::metrics::{Metrics, Table};
use crate::model::{nn_error, Model};
use crate::params::Optimisation;
use crate::run::fits::check_fits;
use crate::stage::StageDef;
use crate::stage::{StageContext, StageError, StageInput, StageOutput};
use crate::stages::common::*;
use pipe_lang::catalog::ParamSig;
use pipe_nn::models::mae::{Mae, MaeConfig, MaeEpoch, MaeReport, Supervision};
use pipe_nn::train::Images;
use std::collections::BTreeMap;
use std::sync::Arc;

pub fn mae(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    run(input, ctx, None)
}

pub fn supmae(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let sup = Supervision {
        cls_weight: input.f64("cls_weight")? as f32,
        temperature: input.f64("temperature")? as f32,
    };
    run(input, ctx, Some(sup))
}

fn run(
    input: &StageInput,
    ctx: &StageContext,
    supervised: Option<Supervision>,
) -> Result<StageOutput, StageError> {
    let mut net = input.model("model")?.network()?;
    let data = input.dataset("data")?.images()?;
    check_fits(data, &net.spec)?;
    let tc = Optimisation::read(input)?;
    let cfg = MaeConfig {
        mask_ratio: input.f64("mask_ratio")? as f32,
        decoder_dim: input.usize("decoder_dim")?,
        decoder_depth: input.usize("decoder_depth")?,
        decoder_heads: input.usize("decoder_heads")?,
        norm_pix: input.bool("norm_pix")?,
        supervised,
    };
    let mut mae = Mae::new(&net, cfg, tc.seed).map_err(nn_error)?;
    let steps = tc.epochs * data.len().div_ceil(tc.batch_size.clamp(1, data.len()));
    ctx.progress.set_total(steps as u64, "batches");
    let images = Images {
        x: &data.x,
        y: &data.y,
        shape: [data.channels, data.height, data.width],
    };
    let report = mae.train(&mut net, images, &tc, |_| {
        ctx.progress.advance(1);
        ctx.check_cancelled()
    })?;
    let metrics = metrics(&report, data.len(), supervised.is_some());
    let trained = Model::from_network(&mut net)?;
    Ok(StageOutput::record([
        ("model", Artifact::Model(Arc::new(trained))),
        ("metrics", Artifact::Metrics(Arc::new(metrics.clone()))),
        ("curve", Artifact::Table(Arc::new(table(&report.curve)))),
    ])
    .with_metrics(&metrics.values))
}

fn metrics(report: &MaeReport, samples: usize, supervised: bool) -> Metrics {
    let last = report.curve.last();
    let full_epoch = report.full_token_flops_per_sample as f64 * samples as f64;
    let mut values = BTreeMap::from([
        (
            "rec_loss".to_string(),
            last.map_or(f64::NAN, |e| f64::from(e.rec_loss)),
        ),
        ("train_flops".to_string(), report.train_flops),
        (
            "flops_per_sample".to_string(),
            report.flops_per_sample as f64,
        ),
        (
            "full_token_flops_per_sample".to_string(),
            report.full_token_flops_per_sample as f64,
        ),
        (
            "equal_flops_supervised_epochs".to_string(),
            report.train_flops / full_epoch.max(1.0),
        ),
        ("epochs".to_string(), report.curve.len() as f64),
    ]);
    let series = |f: fn(&MaeEpoch) -> f32| report.curve.iter().map(|e| f64::from(f(e))).collect();
    let mut curves = BTreeMap::from([
        ("rec_loss".to_string(), series(|e| e.rec_loss)),
        ("lr".to_string(), series(|e| e.lr)),
    ]);
    if supervised {
        values.insert(
            "cls_loss".into(),
            last.map_or(f64::NAN, |e| f64::from(e.cls_loss)),
        );
        values.insert(
            "train_accuracy".into(),
            last.map_or(f64::NAN, |e| f64::from(e.accuracy)),
        );
        curves.insert("cls_loss".into(), series(|e| e.cls_loss));
        curves.insert("train_accuracy".into(), series(|e| e.accuracy));
    }
    Metrics { values, curves }
}

fn table(curve: &[MaeEpoch]) -> Table {
    Table::numeric(
        "pre-training curve",
        ["epoch", "rec_loss", "cls_loss", "accuracy", "lr"],
        curve.iter().map(|e| {
            [
                e.epoch as f64,
                f64::from(e.rec_loss),
                f64::from(e.cls_loss),
                f64::from(e.accuracy),
                f64::from(e.lr),
            ]
        }),
    )
}

/// The masked-autoencoder parameters SupMAE and MAE share (docs/papers.md section 10).
fn masking() -> Vec<ParamSig> {
    vec![
        model("model", "A `model.vit` encoder to pre-train."),
        dataset(
            "data",
            CLASSIFY,
            "Training images (labels used by SupMAE only).",
        ),
        float(
            "mask_ratio",
            0.75,
            0.0,
            0.99,
            "Fraction of patches masked per sample (the paper's 0.75).",
        ),
        int("decoder_dim", 64, 8, 4096, "Width of the light decoder.").default_note(
            "project default, not from the paper: the paper's decoder is 512 wide for ViT-B",
        ),
        int(
            "decoder_depth",
            1,
            1,
            32,
            "Decoder transformer blocks (the paper's recommended model uses 1).",
        ),
        int("decoder_heads", 4, 1, 64, "Decoder attention heads.").default_note(
            "project default, not from the paper: the paper's decoder has 16 heads at width 512",
        ),
        flag(
            "norm_pix",
            true,
            "Reconstruct per-patch normalised pixels (the paper's --norm_pix_loss).",
        ),
    ]
}

pub fn supmae_stage() -> StageDef {
    let mut params = masking();
    params.extend([
        float(
            "cls_weight",
            0.01,
            0.0,
            100.0,
            "Weight of the classification loss (the paper's cls_loss_ratio 0.01).",
        ),
        float(
            "temperature",
            10.0,
            1e-3,
            1e3,
            "Logits are divided by this before the cross-entropy (the paper's 10.0).",
        ),
    ]);
    def(
        sig(
            "train",
            "supmae",
            "SupMAE pre-training: per-sample random masking, the encoder sees the visible \
             patches only, a light decoder reconstructs the masked patches (MSE on masked \
             patches), plus `cls_weight` · CE(logits / `temperature`) from the ViT's own \
             classifier on its CLS token (the readout fine-tuning uses, kept after \
             pre-training). Curves: reconstruction loss, \
             classification loss and accuracy; metrics include the training FLOPs spent.",
            super::with(params, Optimisation::params(20, 1e-3, 64, 0.05)),
            trained(),
        ),
        Some(supmae),
    )
}

pub fn mae_stage() -> StageDef {
    def(
        sig(
            "train",
            "mae",
            "Plain MAE pre-training, the SupMAE baseline: the same masking, encoder and \
             decoder, reconstruction loss only. Metrics include the training FLOPs spent.",
            super::with(masking(), Optimisation::params(20, 1e-3, 64, 0.05)),
            trained(),
        ),
        Some(mae),
    )
}
