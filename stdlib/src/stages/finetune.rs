//! `finetune.*`: signatures of every fine-tuning stage, one function each. Each
//! gives `{model, metrics, curve}`; the metrics of the memory-efficient methods
//! include `backward_bytes`, `peak_bytes`, `backward_flops` and `accuracy`.

use super::common::*;
use crate::params::Optimisation;
use crate::stage::StageDef;
use pipe_lang::catalog::ParamSig;

pub fn defs() -> Vec<StageDef> {
    vec![full(), bias_only(), top_blocks(), mobiletl(), mask_prompt()]
}

/// A pre-trained model, a target dataset, and the shared optimisation parameters.
fn transfer(extra: Vec<ParamSig>) -> Vec<ParamSig> {
    let mut params = vec![
        model(
            "model",
            "The pre-trained network; its classifier is replaced when the classes differ.",
        ),
        dataset("data", CLASSIFY, "Labelled images of the target task."),
        ParamSig::optional(
            "test",
            pipe_lang::types::Type::Any,
            pipe_lang::value::Value::List(Vec::new()),
            "Held-out labelled images of the target task (e.g. `parts.test`): the metric \
             `accuracy` is measured on them. Left out: on `data`.",
        ),
    ];
    params.extend(extra);
    params.extend(Optimisation::params(10, 1e-3, 64, 0.0));
    params
}

fn blocks() -> ParamSig {
    int(
        "blocks",
        2,
        1,
        1000,
        "How many of the top (closest to the output) blocks train; the rest stay frozen.",
    )
    .default_note("project default, not from the paper")
}

/// `finetune.full` also takes region images, for a `model.dual_encoder`.
const CLASSIFY_OR_REGIONS: &[pipe_lang::types::Task] =
    &[crate::task_kinds::CLASSIFY, crate::task_kinds::SEGMENT];

fn full() -> StageDef {
    let mut params = transfer(vec![]);
    params[1] = dataset(
        "data",
        CLASSIFY_OR_REGIONS,
        "Labelled images of the target task; for a `model.dual_encoder`, region images \
         (`dataset.regions`): its image tower trains on masked crops, the text tower stays locked.",
    );
    def(
        sig(
            "finetune",
            "full",
            "Fine-tunes every weight (the baseline). Metrics include the measured bytes \
             held for backward, peak memory of a step, backward FLOPs and accuracy.",
            params,
            trained(),
        ),
        Some(crate::run::finetune::full),
    )
}

fn bias_only() -> StageDef {
    def(
        sig(
            "finetune",
            "bias_only",
            "TinyTL-style baseline: only biases (and norm shifts) and the classifier train; \
             weights stay frozen, so no activations are kept for weight gradients.",
            transfer(vec![]),
            trained(),
        ),
        Some(crate::run::finetune::bias_only),
    )
}

fn top_blocks() -> StageDef {
    def(
        sig(
            "finetune",
            "top_blocks",
            "Vanilla fine-tuning of the top `blocks` blocks and the classifier (FT-BLKs), \
             everything below frozen.",
            transfer(vec![blocks()]),
            trained(),
        ),
        Some(crate::run::finetune::top_blocks),
    )
}

fn mobiletl() -> StageDef {
    def(
        sig(
            "finetune",
            "mobiletl",
            "MobileTL on the top `blocks` inverted residual blocks: the two inner norms \
             train only their shift (scale and statistics frozen), the last norm of a block \
             trains fully, convolution weights train, and ReLU6 / Hard-Swish backward uses a \
             1-bit packed mask instead of the stored activation. Metrics: measured \
             `backward_bytes` per block and in total, `peak_bytes`, `backward_flops`, \
             `accuracy`.",
            transfer(vec![
                blocks(),
                choice(
                    "hswish_mask",
                    "sign",
                    &["sign", "step"],
                    "1-bit surrogate for the Hard-Swish derivative: `sign` = 1[x > -1.5] (the sign of h'), `step` = 1[x > 0].",
                )
                .default_note("project default, not from the paper: the paper's exact surrogate is not published"),
            ]),
            trained(),
        ),
        Some(crate::run::finetune::mobiletl),
    )
}

fn mask_prompt() -> StageDef {
    let mut params = vec![
        model("model", "A `model.dual_encoder`; both towers stay frozen."),
        dataset("data", SEGMENT, "Regions with masks and nouns."),
        int("depth", 3, 1, 64, "Layers whose masked-out patch tokens are replaced by prompts (the paper's MASK_PROMPT_DEPTH 3)."),
        choice(
            "init",
            "normal",
            &["normal", "zeros", "uniform"],
            "Prompt initialisation: normal(std 0.02) as the paper's training code, zeros, or uniform.",
        ),
    ];
    params.extend(Optimisation::params(5, 0.05, 32, 0.0));
    def(
        sig(
            "finetune",
            "mask_prompt",
            "OVSeg mask prompt tuning: a learnable `mask_embedding` (depth × grid² × width); \
             patch tokens outside the region mask are replaced by the prompts at depth 0 \
             (before CLS and positions) and after blocks 1..depth-1 (patch tokens only). \
             Only `mask_embedding` trains. Metrics: region accuracy before and after.",
            params,
            trained(),
        ),
        Some(crate::run::ovseg::mask_prompt),
    )
}
