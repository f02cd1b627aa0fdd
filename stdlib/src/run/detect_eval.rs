//! Implementations of `eval.detect` (a detector on the hidden-label frames of a
//! video dataset) and `eval.detect_files` (a COCO results file against a COCO
//! ground-truth file). Both score with `run::coco`; this module only gathers
//! the boxes and names the numbers.

use crate::artifact::Artifact;
use crate::data::coco_json::{read_results, GroundTruthFile};
use crate::dataset::VideoSet;
use crate::metrics::Metrics;
use crate::run::coco::{coco_ap, evaluate, CocoMetrics, CocoTruth};
use crate::stage::{StageContext, StageError, StageInput, StageOutput};
use std::collections::BTreeMap;
use std::sync::Arc;

pub fn detect(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let model = input.model("model")?;
    let set = input.dataset("data")?.videos()?;
    let scored = scored_frames(set);
    ctx.check_cancelled()?;
    let detections = crate::run::detector::predict(model, set, &scored)?;
    let coco = coco_ap(&CocoTruth::from_videos(set, &scored), &detections);
    let mut values = metric_values(&coco);
    values.insert("frames".into(), scored.len() as f64);
    values.insert("detections".into(), detections.len() as f64);
    Ok(output(values))
}

/// The frames whose labels training did not see; every frame when all are
/// labelled (a held-out test set).
fn scored_frames(set: &VideoSet) -> Vec<usize> {
    let hidden: Vec<usize> = (0..set.len()).filter(|&i| !set.frames[i].labeled).collect();
    if hidden.is_empty() {
        (0..set.len()).collect()
    } else {
        hidden
    }
}

pub fn detect_files(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let truth_file = GroundTruthFile::read(&ctx.resolve(input.str("truth")?))?;
    let truth = truth_file.truth();
    ctx.check_cancelled()?;
    let (detections, unknown) = read_results(&ctx.resolve(input.str("detections")?), &truth)?;
    let coco = evaluate(&truth, &detections);
    let mut values = metric_values(&coco);
    values.insert("images".into(), truth.images.len() as f64);
    values.insert("detections".into(), detections.len() as f64);
    values.insert("detections_unknown_category".into(), unknown as f64);
    Ok(output(values))
}

/// The twelve `COCOeval.stats` under their names, and `ap.<class>` for every
/// class that has ground truth.
pub fn metric_values(coco: &CocoMetrics) -> BTreeMap<String, f64> {
    let mut values: BTreeMap<String, f64> = coco
        .stats()
        .iter()
        .map(|(name, v)| (name.to_string(), *v))
        .collect();
    for (name, ap) in &coco.per_class {
        if *ap >= 0.0 {
            values.insert(format!("ap.{name}"), *ap);
        }
    }
    values
}

fn output(values: BTreeMap<String, f64>) -> StageOutput {
    let metrics = Metrics {
        values,
        curves: BTreeMap::new(),
    };
    StageOutput::single(Artifact::Metrics(Arc::new(metrics.clone()))).with_metrics(&metrics.values)
}
