//! `train.*`: signatures of every training stage, one function each. Each gives at
//! least `{model, metrics, curve}`: the trained model, final metrics and a
//! per-epoch table of losses and accuracies.

pub mod contrastive;
pub mod pretrain;
pub mod semi_supervised;
pub mod supervised;

use super::common::*;
use crate::params::{Augment, LabelSmoothing, Optimisation};
use crate::stage::StageDef;
use pipe_lang::catalog::ParamSig;
use pipe_lang::types::Type;

pub fn defs() -> Vec<StageDef> {
    vec![
        supervised::stage(),
        pretrain::supmae_stage(),
        pretrain::mae_stage(),
        slimmable(),
        contrastive::stage(),
        semi_supervised::stage(),
    ]
}

fn with(mut params: Vec<ParamSig>, rest: Vec<ParamSig>) -> Vec<ParamSig> {
    params.extend(rest);
    params
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
                    Augment::param(false, "Random crop (pad 2) and horizontal flip of training images."),
                    LabelSmoothing::param("Label smoothing of the largest width's cross-entropy targets."),
                ],
                Optimisation::params(10, 1e-3, 64, 0.01),
            ),
            trained(),
        ),
        Some(crate::run::slimmable::train),
    )
}
