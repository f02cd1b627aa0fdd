//! `train.*`: signatures of every training stage, one function each. Each gives at
//! least `{model, metrics, curve}`: the trained model, final metrics and a
//! per-epoch table of losses and accuracies.

pub mod supervised;

use super::common::*;
use crate::params::Optimisation;
use crate::stage::StageDef;
use pipe_lang::catalog::ParamSig;
use pipe_lang::types::{Task, Type};

/// Datasets of paired samples for contrastive training.
const PAIRED: &[Task] = &[Task::AvEvent, Task::Segment];

pub fn defs() -> Vec<StageDef> {
    vec![
        supervised::stage(),
        supmae(),
        mae(),
        slimmable(),
        contrastive(),
        semi_supervised(),
    ]
}

fn with(mut params: Vec<ParamSig>, rest: Vec<ParamSig>) -> Vec<ParamSig> {
    params.extend(rest);
    params
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

fn supmae() -> StageDef {
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
            with(params, Optimisation::params(20, 1e-3, 64, 0.05)),
            trained(),
        ),
        Some(crate::run::pretrain::supmae),
    )
}

fn mae() -> StageDef {
    def(
        sig(
            "train",
            "mae",
            "Plain MAE pre-training, the SupMAE baseline: the same masking, encoder and \
             decoder, reconstruction loss only. Metrics include the training FLOPs spent.",
            with(masking(), Optimisation::params(20, 1e-3, 64, 0.05)),
            trained(),
        ),
        Some(crate::run::pretrain::mae),
    )
}

fn slimmable() -> StageDef {
    def(
        sig(
            "train",
            "slimmable",
            "Sandwich-rule training of a `model.slimmable` network: each step trains the \
             largest width on labels, then the smallest and `random_widths` random widths \
             with in-place distillation from the largest. Metrics: accuracy per width.",
            with(
                vec![
                    model("model", "A `model.slimmable` network."),
                    dataset("data", CLASSIFY, "Labelled training images."),
                    ParamSig::optional(
                        "test",
                        Type::Any,
                        pipe_lang::value::Value::List(Vec::new()),
                        "Labelled held-out images: each width's accuracy on them is saved with the \
                         model (and shown by `sim.thermal`). Left out: accuracy on `data`.",
                    ),
                    int(
                        "random_widths",
                        2,
                        0,
                        16,
                        "Random widths per step besides the largest and smallest.",
                    ),
                    flag(
                        "distill",
                        true,
                        "In-place distillation: smaller widths learn the largest width's outputs.",
                    ),
                    flag(
                        "augment",
                        false,
                        "Random crop (pad 2) and horizontal flip of training images.",
                    ),
                    float(
                        "label_smoothing",
                        0.0,
                        0.0,
                        1.0,
                        "Label smoothing of the largest width's cross-entropy targets.",
                    ),
                ],
                Optimisation::params(10, 1e-3, 64, 0.01),
            ),
            trained(),
        ),
        Some(crate::run::slimmable::train),
    )
}

fn contrastive() -> StageDef {
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
            with(
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
        Some(crate::run::contrastive::run),
    )
}

fn semi_supervised() -> StageDef {
    def(
        sig(
            "train",
            "semi_supervised",
            "Mean-teacher semi-supervised detection: a burn-in on the labelled frames, then \
             the student learns from labels and pseudo-labels (soft targets through a KL \
             term) while the teacher follows it by EMA. Pseudo-labels are refreshed online \
             with `pseudolabel`, or pass a dataset from `pseudolabel.*` as `unlabeled` with \
             `pseudolabel: \"given\"` to use it as is.",
            with(
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
                    flag("augment", true, "Random horizontal flips of training frames (and their boxes)."),
                    ParamSig::optional(
                        "tune",
                        Type::Any,
                        pipe_lang::value::Value::List(Vec::new()),
                        "For online `threshold`: videos whose labelled frames the training never sees; \
                         every refresh sets the score cut to the one of 0.05, 0.10, ..., 0.95 whose \
                         pseudo-labels of these frames have the highest F1. Left out: `confidence`.",
                    ),
                ],
                with(super::pseudolabel::ssvod_switches(), Optimisation::params(20, 1e-3, 16, 1e-4)),
            ),
            trained(),
        ),
        Some(crate::run::semi_supervised::semi_supervised),
    )
}
