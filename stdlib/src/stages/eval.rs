//! `eval.*`: signatures of every evaluation stage, one function each. Each gives
//! `Metrics`; the headline numbers are also the node's metrics.

use super::common::*;
use crate::stage::StageDef;
use pipe_lang::types::Type;

pub fn defs() -> Vec<StageDef> {
    vec![classify(), detect(), detect_files(), segment(), ave()]
}

fn classify() -> StageDef {
    def(
        sig(
            "eval",
            "classify",
            "Classification accuracy of a model on a dataset: `accuracy`, per-class \
             accuracy and the confusion matrix.",
            vec![
                model("model", "The network to evaluate."),
                dataset("data", CLASSIFY, "Labelled test images."),
                float(
                    "width",
                    1.0,
                    0.01,
                    1.0,
                    "For a `model.slimmable` network: the width to run (other models ignore it).",
                ),
            ],
            Type::Metrics,
        ),
        Some(crate::run::eval::classify),
    )
}

fn detect() -> StageDef {
    def(
        sig(
            "eval",
            "detect",
            "COCO's detection evaluator, exactly as pycocotools: `ap` (AP@[.50:.95]), \
             `ap50`, `ap75`, `ar100` and per-class AP; 101-point interpolation, area ranges, \
             maxDets, crowd handling, greedy matching in score order. On video datasets only \
             the frames whose labels were hidden from training are scored.",
            vec![
                model("model", "A `model.detector`."),
                dataset("data", DETECT, "Frames with ground-truth boxes."),
            ],
            Type::Metrics,
        ),
        Some(crate::run::detect_eval::detect),
    )
}

fn detect_files() -> StageDef {
    def(
        sig(
            "eval",
            "detect_files",
            "`eval.detect` on files: scores a COCO results JSON against a COCO ground-truth \
             JSON, so any detector's output can be compared.",
            vec![
                path(
                    "truth",
                    "COCO ground-truth JSON (`images`, `annotations`, `categories`).",
                ),
                path(
                    "detections",
                    "COCO results JSON: a list of {image_id, category_id, bbox, score}.",
                ),
            ],
            Type::Metrics,
        ),
        Some(crate::run::detect_eval::detect_files),
    )
}

fn segment() -> StageDef {
    def(
        sig(
            "eval",
            "segment",
            "Open-vocabulary region classification scored as segmentation: per-pixel labels \
             from the classified regions, mIoU over seen, unseen and all nouns (`miou`, \
             `miou_seen`, `miou_unseen`).",
            vec![
                model("model", "A `model.dual_encoder` (after any tuning)."),
                dataset("data", SEGMENT, "Images with region masks and nouns."),
            ],
            Type::Metrics,
        ),
        Some(crate::run::segment::segment),
    )
}

fn ave() -> StageDef {
    def(
        sig(
            "eval",
            "ave",
            "Segment-level accuracy over all test segments (argmax of the 29 outputs vs the \
             truth), as the AVE code's `compute_acc`.",
            vec![
                model("model", "A `model.temporal_transformer`."),
                dataset("data", AV_EVENT, "Audio-visual event videos."),
            ],
            Type::Metrics,
        ),
        Some(crate::run::ave::eval),
    )
}
