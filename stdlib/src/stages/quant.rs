//! `quant.*`: signatures of every post-training quantization stage, one function
//! each. The output `Model` records its bit widths and scales, so `sim.*` prices
//! it correctly and a cached quantized model reloads exactly.

use super::common::*;
use crate::params::Seed;
use crate::stage::StageDef;
use pipe_lang::catalog::ParamSig;
use pipe_lang::types::Type;
use pipe_lang::value::Value;

pub fn defs() -> Vec<StageDef> {
    vec![minmax(), percentile(), omse(), pow2(), evolq(), cptv()]
}

/// `{model, metrics}`: the quantized model and accuracy/time figures.
fn quantized() -> Type {
    record(&[("model", Type::Model), ("metrics", Type::Metrics)])
}

/// The model, calibration set and bit widths every method takes.
fn base(weight_bits: i64) -> Vec<ParamSig> {
    vec![
        model("model", "The full-precision network to quantize."),
        dataset(
            "calib",
            CLASSIFY,
            "Calibration images (e.g. `dataset.sample(train, n: 256)`).",
        ),
        int("bits", weight_bits, 2, 16, "Weight bit width."),
        int(
            "act_bits",
            8,
            2,
            16,
            "Activation bit width (the paper's scripts use 8).",
        ),
        flag(
            "per_channel",
            true,
            "Per-output-channel weight scales (per-tensor when false).",
        ),
        flag(
            "signed",
            true,
            "Signed weight range [-2^(b-1), 2^(b-1)-1]; unsigned [0, 2^b-1] when false.",
        ),
        flag(
            "bias_correction",
            false,
            "Rescale quantized weights per channel to the full-precision mean and std.",
        ),
    ]
}

fn minmax() -> StageDef {
    def(
        sig(
            "quant",
            "minmax",
            "Min-max calibration: uniform fake quantization with scales from the observed \
             minimum and maximum of weights and activations.",
            base(8),
            quantized(),
        ),
        Some(crate::run::quant::minmax),
    )
}

fn percentile() -> StageDef {
    let mut params = base(8);
    params.push(
        float(
            "percentile",
            0.9999,
            0.5,
            1.0,
            "Activation range clips at this percentile of the observed values.",
        )
        .default_note("project default, not from the paper"),
    );
    def(
        sig(
            "quant",
            "percentile",
            "Percentile calibration: activation ranges clip outliers at a percentile.",
            params,
            quantized(),
        ),
        Some(crate::run::quant::percentile),
    )
}

fn omse() -> StageDef {
    let mut params = base(8);
    params.push(int(
        "steps",
        90,
        1,
        100,
        "Shrink steps: range i shrinks min and max by 1% per step, keeping the one with least MSE (the code's 90).",
    ));
    def(
        sig(
            "quant",
            "omse",
            "OMSE calibration: searches shrunken ranges for the one that minimises the mean \
             squared quantization error on the last calibration batch (FQ-ViT's observer).",
            params,
            quantized(),
        ),
        Some(crate::run::quant::omse),
    )
}

fn pow2() -> StageDef {
    def(
        sig(
            "quant",
            "pow2",
            "LightNN-style power-of-two weights for QUIDAM's LightPEs: each weight becomes \
             sign(w)·2^k (one shift) or a sum of two such terms (two shifts).",
            vec![
                model("model", "The full-precision network to quantize."),
                dataset("calib", CLASSIFY, "Calibration images for the activation ranges."),
                int("shifts", 1, 1, 2, "Shifts per weight: 1 (LightNN-1) or 2 (LightNN-2)."),
                int("shift_bits", 7, 1, 15, "Exponents k lie in [-shift_bits, 0].")
                    .default_note("project default, not from the paper: 7, from an unattributed LightNN code excerpt"),
                int("act_bits", 8, 2, 16, "Activation bit width."),
            ],
            quantized(),
        ),
        Some(crate::run::quant::pow2),
    )
}

/// The evolutionary search parameters Evol-Q and CPT-V share (docs/papers.md section 1.2).
/// Positional order follows docs/catalog.md: `(model, calib, bits, population, samples,
/// cycles, passes, loss, temperature, seed)`, then the quantizer options.
fn search(bits: i64) -> Vec<ParamSig> {
    let mut options = base(bits);
    let mut params: Vec<ParamSig> = options.drain(..3).collect();
    params.extend([
        int("population", 15, 2, 10_000, "Population size (the code's 15)."),
        int("samples", 10, 1, 10_000, "Tournament size, drawn with replacement (the code's 10)."),
        int("cycles", 3, 1, 100_000, "Evolution cycles per block per pass (the code's 3)."),
        int("passes", 10, 1, 10_000, "Passes over all blocks, last block first (the code's 10)."),
        choice(
            "loss",
            "infonce",
            &["infonce", "mse", "kl", "cosine"],
            "Fitness: infoNCE between quantized and full-precision outputs, other batch items as negatives; or MSE, KL, cosine.",
        ),
        float("temperature", 3.0, 1e-3, 1e3, "infoNCE temperature (the code's 3.0)."),
        Seed::param(),
        int("batch_size", 100, 1, 65_536, "Calibration batch size; infoNCE negatives come from the batch (the code's 100)."),
        choice(
            "init",
            "omse",
            &["omse", "minmax", "percentile"],
            "Calibration of the starting point, weights and activations (the code's `evolq` mode: OMSE).",
        ),
        float(
            "radius",
            0.0,
            0.0,
            1.0,
            "Mutation radius r; 0: the code's rule (1e-4 at 8 bits, 1e-3 otherwise).",
        ),
        ParamSig::optional(
            "val",
            // The catalog has no optional dataset type: absent is the empty
            // list, as for `finetune.*(test:)`.
            Type::Any,
            Value::List(Vec::new()),
            "Validation images for the code's checkpoint selection: after each block's search the \
             model is scored on them, kept always in pass 0 and later only when top-1 improves, \
             and the best kept one is returned. Absent (the default): no selection, the search's \
             last state is returned.",
        ),
    ]);
    params.extend(options);
    params
}

/// `{model, metrics, curve}`: the curve is the best fitness per block and pass.
fn searched() -> Type {
    trained()
}

fn evolq() -> StageDef {
    def(
        sig(
            "quant",
            "evolq",
            "Evol-Q: block-wise (last block first) steady-state evolutionary search over the \
             per-channel weight scales of the attention projections (qkv, proj). A child is \
             |parent + U(-r, r)| with r = 1e-3 below 8 bits and 1e-4 at 8; the worst member is \
             dropped. Fitness compares the quantized model's final outputs with the \
             full-precision ones over the calibration set. Deterministic for a seed.",
            search(4),
            searched(),
        ),
        Some(crate::run::quant::evolq),
    )
}

fn cptv() -> StageDef {
    let mut s = sig(
        "quant",
        "cptv",
        "CPT-V: block-wise evolutionary search of a global contrastive loss: whichever block \
         is searched, the fitness is the infoNCE of the whole quantized model's final outputs \
         against the full-precision ones (other batch images as negatives). The same search and \
         fitness as quant.evolq (one code base), so equal arguments give the same model.",
        search(4),
        searched(),
    );
    // Version 1 scored a block by its own output features; its cached results differ.
    s.version = 2;
    def(s, Some(crate::run::quant::cptv))
}
