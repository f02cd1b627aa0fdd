//! `pseudolabel.*`: signatures of the pseudo-labelling stages, one function each.
//! Each gives `{data, metrics}`: a pseudo-labelled detection dataset and the
//! pseudo-labels' precision and recall against the hidden truth.

use super::common::*;
use crate::stage::StageDef;
use pipe_lang::catalog::ParamSig;
use pipe_lang::types::Type;

pub fn defs() -> Vec<StageDef> {
    vec![ssvod(), threshold()]
}

fn output() -> Type {
    record(&[("data", Type::Dataset(None)), ("metrics", Type::Metrics)])
}

fn teacher_and_videos() -> Vec<ParamSig> {
    vec![
        model("teacher", "A trained `model.detector`."),
        dataset(
            "videos",
            VIDEO,
            "Videos whose unlabelled frames get pseudo-labels.",
        ),
    ]
}

fn confidence() -> ParamSig {
    float(
        "confidence",
        0.7,
        0.0,
        1.0,
        "Hard (one-hot) targets above this class confidence, soft below.",
    )
    .default_note("project default, not from the paper: Unbiased Teacher's box threshold 0.7")
}

fn min_score() -> ParamSig {
    float(
        "min_score",
        0.3,
        0.0,
        1.0,
        "Teacher detections scoring below this are not candidates (on the frame or its neighbours).",
    )
    .default_note("project default, not from the paper (not published)")
}

/// SSVOD's candidate floor and ablation switches, shared with the online
/// pseudo-labels of `train.semi_supervised`.
pub(super) fn ssvod_switches() -> Vec<ParamSig> {
    vec![
        min_score(),
        flag("warp", true, "Warp neighbours' boxes by optical flow (off for the ablation)."),
        flag("cross_divergence", true, "Select class labels by cross-divergence (off for the ablation)."),
        choice(
            "targets",
            "mixed",
            &["mixed", "hard", "soft"],
            "Hard above `confidence` and soft below (`mixed`), or all hard, or all soft (ablations).",
        ),
    ]
}

fn ssvod() -> StageDef {
    let mut params = teacher_and_videos();
    params.extend([
        int("window", 2, 0, 64, "Neighbouring frames on each side whose predictions are warped in.")
            .default_note("project default, not from the paper (not published)"),
        float("iou", 0.5, 0.0, 1.0, "Cross-IoU (mean over neighbours of the best IoU with a warped box) needed to keep a box.")
            .default_note("project default, not from the paper (not published)"),
        float("divergence", 0.3, 0.0, 1.0, "Largest cross-divergence (mean pairwise Jensen-Shannon) of the matched class distributions to keep a class label.")
            .default_note("project default, not from the paper (not published)"),
        confidence(),
    ]);
    params.extend(ssvod_switches());
    def(
        keeps_task(
            sig(
                "pseudolabel",
                "ssvod",
                "SSVOD pseudo-labels: teacher predictions on unlabelled frames; each \
                 neighbour's boxes are flow-warped into the frame; cross-IoU over the window \
                 selects boxes, cross-divergence selects class labels; hard targets above \
                 `confidence`, soft (averaged) below. The exact definitions and thresholds \
                 are the project's design where the paper is silent.",
                params,
                output(),
            ),
            "videos",
        ),
        Some(crate::run::pseudolabel::ssvod),
    )
}

fn threshold() -> StageDef {
    let mut params = teacher_and_videos();
    params.push(confidence());
    def(
        keeps_task(
            sig(
                "pseudolabel",
                "threshold",
                "Single-frame baseline: the teacher's detections above `confidence` become \
                 hard pseudo-labels.",
                params,
                output(),
            ),
            "videos",
        ),
        Some(crate::run::pseudolabel::threshold),
    )
}
