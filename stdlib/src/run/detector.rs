//! `model.detector` and the detector's bridge to video datasets: building a
//! detector on a backbone's family (copying the backbone's trained weights
//! where names and shapes agree), running it on frames to get `Detection`s,
//! and turning frame labels into training targets. Training loops live in
//! `semi_supervised.rs`; this file never trains.

use crate::dataset::{BoxLabel, VideoSet};
use crate::detection::Detection;
use crate::model::{nn_error, Model};
use crate::params::Seed;
use crate::run::model::model_output;
use crate::stage::{StageContext, StageError, StageInput, StageOutput};
use pipe_nn::models::detector::{detect, Target};
use pipe_nn::{Family, ModelSpec, Network, Tensor};
use std::collections::HashMap;

/// Frames per inference batch.
const BATCH: usize = 64;

pub fn detector(input: &StageInput, _: &StageContext) -> Result<StageOutput, StageError> {
    let set = input.dataset("input")?.videos()?;
    let backbone = input.model("backbone")?;
    let backbone_spec = backbone.spec()?;
    let spec = ModelSpec {
        family: Family::Detector {
            backbone: Box::new(backbone_spec.family.clone()),
            head_dim: input.usize("head_dim")?,
            nms_iou: input.f64("nms_iou")? as f32,
            score_threshold: input.f64("score_threshold")? as f32,
            max_detections: input.usize("max_detections")?,
        },
        input: [set.channels, set.height, set.width],
        classes: set.classes(),
        dropout: backbone_spec.dropout,
        seed: Seed::read(input)?,
    };
    let mut net = Network::build(&spec).map_err(nn_error)?;
    let copied = if backbone_spec.input == spec.input {
        copy_matching(&mut backbone.network()?, &mut net)
    } else {
        0
    };
    model_output(&mut net, &[("backbone_tensors_copied", copied as f64)])
}

/// Copies every param and buffer of `from` into the same-named, same-shaped
/// one of `to` (a trained backbone into a fresh detector); returns how many.
fn copy_matching(from: &mut Network, to: &mut Network) -> usize {
    let mut saved: HashMap<String, Tensor> = HashMap::new();
    from.visit(&mut |name, p| {
        saved.insert(name.to_string(), p.value.clone());
    });
    let mut copied = 0;
    to.visit(&mut |name, p| {
        if let Some(t) = saved.get(name).filter(|t| t.shape == p.value.shape) {
            p.value.data.copy_from_slice(&t.data);
            copied += 1;
        }
    });
    copied
}

/// The detector network of `model`, checked against the frames it will see.
pub fn network_for(model: &Model, set: &VideoSet) -> Result<Network, StageError> {
    let net = model.network()?;
    if !matches!(net.spec.family, Family::Detector { .. }) {
        return Err(StageError::Invalid(format!(
            "`{}` is not a detector; build one with `model.detector(input: ..., backbone: ...)`",
            net.spec.name()
        )));
    }
    check_fits(set, &net.spec)?;
    Ok(net)
}

/// The frames must have the shape and classes the detector was built for.
pub fn check_fits(set: &VideoSet, spec: &ModelSpec) -> Result<(), StageError> {
    let shape = [set.channels, set.height, set.width];
    if shape != spec.input || set.classes() != spec.classes {
        return Err(StageError::Invalid(format!(
            "the detector was built for {:?} frames (C, H, W) and {} classes, the videos have {shape:?} and {}; build the detector with `input:` these videos",
            spec.input,
            spec.classes,
            set.classes()
        )));
    }
    Ok(())
}

/// Detections of `model` on `frames` of `set` (what `eval.detect` scores).
pub fn predict(
    model: &Model,
    set: &VideoSet,
    frames: &[usize],
) -> Result<Vec<Detection>, StageError> {
    let mut net = network_for(model, set)?;
    predict_with(&mut net, set, frames)
}

/// Detections of `net` on `frames` of `set`, frame by frame in order.
pub fn predict_with(
    net: &mut Network,
    set: &VideoSet,
    frames: &[usize],
) -> Result<Vec<Detection>, StageError> {
    Ok(predict_per_frame(net, set, frames)?
        .into_iter()
        .flatten()
        .collect())
}

/// Detections of `net` per frame of `frames` (the outer list follows `frames`).
pub fn predict_per_frame(
    net: &mut Network,
    set: &VideoSet,
    frames: &[usize],
) -> Result<Vec<Vec<Detection>>, StageError> {
    let mut out = Vec::with_capacity(frames.len());
    for chunk in frames.chunks(BATCH) {
        let x = gather(set, chunk);
        let preds = detect(net, &x, BATCH).map_err(nn_error)?;
        for (&frame, per_frame) in chunk.iter().zip(preds) {
            out.push(
                per_frame
                    .into_iter()
                    .map(|p| Detection {
                        frame,
                        x: p.bbox[0],
                        y: p.bbox[1],
                        w: p.bbox[2] - p.bbox[0],
                        h: p.bbox[3] - p.bbox[1],
                        score: p.score,
                        class: p.class as u32,
                        probs: p.classes,
                    })
                    .collect(),
            );
        }
    }
    Ok(out)
}

/// The pixels of `frames`, sample-major `[N, C, H, W]`.
pub fn gather(set: &VideoSet, frames: &[usize]) -> Vec<f32> {
    let mut x = Vec::with_capacity(frames.len() * set.frame_len());
    for &f in frames {
        x.extend_from_slice(set.frame(f));
    }
    x
}

/// Training targets of a frame's boxes. Crowd boxes are skipped; a soft
/// label trains towards its distribution, and an empty soft distribution
/// marks a pseudo-label whose class was not selected (box and objectness
/// only).
pub fn targets(boxes: &[BoxLabel], classes: usize) -> Vec<Target> {
    boxes
        .iter()
        .filter(|b| !b.crowd && b.w > 0.0 && b.h > 0.0)
        .map(|b| target(b, classes))
        .collect()
}

fn target(b: &BoxLabel, classes: usize) -> Target {
    let bbox = [b.x, b.y, b.x + b.w, b.y + b.h];
    match &b.soft {
        Some(dist) if dist.is_empty() => Target {
            bbox,
            classes: vec![0.0; classes],
            class_weight: 0.0,
        },
        Some(dist) if dist.len() == classes => Target {
            bbox,
            classes: dist.clone(),
            class_weight: 1.0,
        },
        _ => Target::hard(bbox, b.class as usize, classes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(soft: Option<Vec<f32>>, crowd: bool) -> BoxLabel {
        BoxLabel {
            x: 1.0,
            y: 2.0,
            w: 3.0,
            h: 4.0,
            class: 1,
            crowd,
            soft,
        }
    }

    #[test]
    fn labels_become_hard_soft_or_box_only_targets() {
        let boxes = vec![
            label(None, false),
            label(Some(vec![0.3, 0.7]), false),
            label(Some(vec![]), false),
            label(None, true),
        ];
        let t = targets(&boxes, 2);
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].bbox, [1.0, 2.0, 4.0, 6.0]);
        assert_eq!(t[0].classes, vec![0.0, 1.0]);
        assert_eq!(t[1].classes, vec![0.3, 0.7]);
        assert_eq!(t[2].class_weight, 0.0);
    }
}
