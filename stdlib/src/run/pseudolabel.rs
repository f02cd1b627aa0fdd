//! `pseudolabel.ssvod` and `pseudolabel.threshold`: pseudo-labels for the
//! unlabelled frames of a video set from a teacher detector, and their
//! precision and recall against the hidden truth. The labelling functions are
//! pure (predictions and flows in, labels out) so `train.semi_supervised`
//! refreshes pseudo-labels online through the same code.
//!
//! SSVOD (docs/papers.md section 4; the paper's exact definitions were not
//! published, so everything below is the project's design):
//! - candidates for frame t: the teacher's detections scoring at least
//!   `min_score` on t and on every frame within `window` frames of t in the
//!   same video, each neighbour's boxes warped into t by the estimated optical
//!   flow (chained frame to frame);
//! - cross-IoU of a candidate: the mean, over the other frames of the window,
//!   of its best IoU with that frame's (warped) candidates; kept when at least
//!   `iou`. Its group is itself plus each frame's best match at IoU >= `iou`;
//!   the pseudo box is the score-weighted mean of the group's boxes, scored by
//!   the group's summed score over the window length;
//! - cross-divergence: the mean pairwise Jensen-Shannon divergence (base 2,
//!   in [0, 1]) of the group's class distributions; the class label is kept
//!   when at most `divergence`, else the box trains objectness and regression
//!   only (stored as an empty soft distribution);
//! - the group's mean distribution becomes a hard one-hot label when its top
//!   probability is at least `confidence`, a soft label below;
//! - kept candidates are de-duplicated by non-maximum suppression at IoU 0.5.

use crate::artifact::Artifact;
use crate::dataset::{BoxLabel, Dataset, DatasetData, VideoSet};
use crate::detection::{Detection, Rect};
use crate::flow::{estimate, warp_box, Flow, FlowParams};
use crate::metrics::Metrics;
use crate::run::detector::{network_for, predict_per_frame};
use crate::stage::{StageContext, StageError, StageInput, StageOutput};
use pipe_nn::Network;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// IoU above which two kept pseudo boxes of a frame are one object (the
/// project's choice, the usual NMS threshold).
const DEDUP_IOU: f32 = 0.5;
/// IoU at which a pseudo box counts as finding a true box (PASCAL/COCO AP50).
const MATCH_IOU: f32 = 0.5;

/// Which targets SSVOD emits for selected class labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// Hard above `confidence`, soft below.
    Mixed,
    Hard,
    Soft,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SsvodParams {
    pub window: usize,
    pub iou: f32,
    pub divergence: f32,
    pub confidence: f32,
    pub min_score: f32,
    pub warp: bool,
    pub cross_divergence: bool,
    pub targets: TargetKind,
}

impl SsvodParams {
    /// The SSVOD parameters of a stage (`pseudolabel.ssvod` or the online
    /// `train.semi_supervised`).
    pub fn from_input(input: &StageInput) -> Result<SsvodParams, StageError> {
        let targets = match input.str("targets")? {
            "mixed" => TargetKind::Mixed,
            "hard" => TargetKind::Hard,
            "soft" => TargetKind::Soft,
            other => return Err(StageError::Internal(format!("unknown targets `{other}`"))),
        };
        Ok(SsvodParams {
            window: input.usize("window")?,
            iou: input.f64("iou")? as f32,
            divergence: input.f64("divergence")? as f32,
            confidence: input.f64("confidence")? as f32,
            min_score: input.f64("min_score")? as f32,
            warp: input.bool("warp")?,
            cross_divergence: input.bool("cross_divergence")?,
            targets,
        })
    }
}

/// How unlabelled frames get their pseudo-labels.
pub enum Labeller<'a> {
    /// Single-frame detections scoring at least `confidence`, hard labels.
    Threshold { confidence: f32 },
    Ssvod {
        params: &'a SsvodParams,
        /// `None` when warping is off.
        flows: Option<&'a Flows>,
    },
}

/// Optical flow between consecutive frames of each video, both directions.
pub struct Flows {
    /// `forward[i]`: frame i to frame i+1 (when in the same video).
    forward: Vec<Option<Flow>>,
    /// `backward[i]`: frame i+1 to frame i.
    backward: Vec<Option<Flow>>,
}

impl Flows {
    /// Estimates every consecutive pair's flow (in parallel).
    pub fn estimate(set: &VideoSet) -> Flows {
        let params = FlowParams::default();
        let pair = |i: usize, back: bool| -> Option<Flow> {
            let j = set.neighbour(i, 1)?;
            let (a, b) = if back { (j, i) } else { (i, j) };
            Some(estimate(
                set.frame(a),
                set.frame(b),
                set.channels,
                set.height,
                set.width,
                &params,
            ))
        };
        let n = set.len();
        Flows {
            forward: (0..n).into_par_iter().map(|i| pair(i, false)).collect(),
            backward: (0..n).into_par_iter().map(|i| pair(i, true)).collect(),
        }
    }

    /// `rect` of frame `from` moved to frame `to` of the same video, one
    /// frame at a time.
    pub fn warp(&self, mut rect: Rect, from: usize, to: usize) -> Rect {
        if from < to {
            for flow in self.forward[from..to].iter().flatten() {
                rect = warp_box(&rect, flow);
            }
        } else {
            for flow in self.backward[to..from].iter().rev().flatten() {
                rect = warp_box(&rect, flow);
            }
        }
        rect
    }
}

/// Pseudo-labels for each of `frames`, from the teacher's detections on every
/// frame of `set` (`preds[i]` for frame `i`), best first.
pub fn label_frames(
    set: &VideoSet,
    preds: &[Vec<Detection>],
    frames: &[usize],
    labeller: &Labeller,
) -> Vec<Vec<BoxLabel>> {
    frames
        .par_iter()
        .map(|&t| match labeller {
            Labeller::Threshold { confidence } => threshold_frame(&preds[t], *confidence),
            Labeller::Ssvod { params, flows } => ssvod_frame(set, preds, t, params, *flows),
        })
        .collect()
}

fn threshold_frame(preds: &[Detection], confidence: f32) -> Vec<BoxLabel> {
    preds
        .iter()
        .filter(|d| d.score >= confidence)
        .map(|d| label(d.rect(), d.class, None))
        .collect()
}

fn label(r: Rect, class: u32, soft: Option<Vec<f32>>) -> BoxLabel {
    BoxLabel {
        x: r.x,
        y: r.y,
        w: r.w,
        h: r.h,
        class,
        crowd: false,
        soft,
    }
}

/// A teacher detection moved into the frame being labelled.
struct Candidate<'a> {
    rect: Rect,
    score: f32,
    probs: &'a [f32],
}

fn ssvod_frame(
    set: &VideoSet,
    preds: &[Vec<Detection>],
    t: usize,
    p: &SsvodParams,
    flows: Option<&Flows>,
) -> Vec<BoxLabel> {
    let w = p.window as isize;
    let window: Vec<Vec<Candidate>> = (-w..=w)
        .filter_map(|d| set.neighbour(t, d))
        .map(|f| {
            preds[f]
                .iter()
                .filter(|d| d.score >= p.min_score)
                .map(|d| Candidate {
                    rect: match flows {
                        Some(flows) if f != t => flows.warp(d.rect(), f, t),
                        _ => d.rect(),
                    },
                    score: d.score,
                    probs: &d.probs,
                })
                .collect()
        })
        .collect();
    let mut kept: Vec<(f32, BoxLabel)> = Vec::new();
    for (fi, cands) in window.iter().enumerate() {
        for c in cands {
            if let Some(l) = select(c, fi, &window, p) {
                kept.push(l);
            }
        }
    }
    kept.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut out: Vec<BoxLabel> = Vec::new();
    for (_, l) in kept {
        if out.iter().all(|o| o.rect().iou(&l.rect()) <= DEDUP_IOU) {
            out.push(l);
        }
    }
    out
}

/// Cross-IoU and cross-divergence selection of candidate `c` of window frame
/// `fi`: the pseudo-label and its temporal score, or `None` when rejected.
fn select(
    c: &Candidate,
    fi: usize,
    window: &[Vec<Candidate>],
    p: &SsvodParams,
) -> Option<(f32, BoxLabel)> {
    let mut group = vec![c];
    let mut iou_sum = 0.0;
    for (gi, other) in window.iter().enumerate() {
        if gi == fi {
            continue;
        }
        let best = other
            .iter()
            .map(|d| (c.rect.iou(&d.rect), d))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((iou, d)) = best {
            iou_sum += iou;
            if iou >= p.iou {
                group.push(d);
            }
        }
    }
    let others = window.len() - 1;
    let cross_iou = if others == 0 {
        1.0
    } else {
        iou_sum / others as f32
    };
    if cross_iou < p.iou {
        return None;
    }
    let total: f32 = group.iter().map(|g| g.score).sum();
    let fuse =
        |f: fn(&Rect) -> f32| group.iter().map(|g| g.score * f(&g.rect)).sum::<f32>() / total;
    let rect = Rect {
        x: fuse(|r| r.x),
        y: fuse(|r| r.y),
        w: fuse(|r| r.w),
        h: fuse(|r| r.h),
    };
    let dists: Vec<&[f32]> = group
        .iter()
        .map(|g| g.probs)
        .filter(|d| !d.is_empty())
        .collect();
    let mean = mean_distribution(&dists);
    let class = pipe_nn::loss::argmax(&mean) as u32;
    let selected = !p.cross_divergence || cross_divergence(&dists) <= p.divergence;
    let soft = match (selected, p.targets) {
        (false, _) => Some(Vec::new()),
        (true, TargetKind::Hard) => None,
        (true, TargetKind::Soft) => Some(mean.clone()),
        (true, TargetKind::Mixed) => {
            let top = mean.iter().fold(0.0f32, |m, &v| m.max(v));
            (top < p.confidence).then(|| mean.clone())
        }
    };
    Some((total / window.len() as f32, label(rect, class, soft)))
}

fn mean_distribution(dists: &[&[f32]]) -> Vec<f32> {
    let k = dists.first().map_or(0, |d| d.len());
    let mut mean = vec![0.0; k];
    for d in dists {
        for (m, v) in mean.iter_mut().zip(d.iter()) {
            *m += v / dists.len() as f32;
        }
    }
    mean
}

/// Mean pairwise Jensen-Shannon divergence (base 2); 0 for fewer than two.
pub fn cross_divergence(dists: &[&[f32]]) -> f32 {
    let mut sum = 0.0;
    let mut pairs = 0;
    for i in 0..dists.len() {
        for j in i + 1..dists.len() {
            sum += js_divergence(dists[i], dists[j]);
            pairs += 1;
        }
    }
    if pairs == 0 {
        0.0
    } else {
        sum / pairs as f32
    }
}

/// Jensen-Shannon divergence in bits (0 for equal, 1 for disjoint).
pub fn js_divergence(p: &[f32], q: &[f32]) -> f32 {
    let kl_to_mid = |a: &[f32], b: &[f32]| -> f32 {
        a.iter()
            .zip(b)
            .filter(|(&x, _)| x > 0.0)
            .map(|(&x, &y)| x * (2.0 * x / (x + y)).log2())
            .sum()
    };
    0.5 * kl_to_mid(p, q) + 0.5 * kl_to_mid(q, p)
}

/// Precision and recall of pseudo-labels against the hidden truth of their
/// frames: a pseudo box finds the best-overlapping unmatched true box at IoU
/// >= 0.5 (in the labels' order, best first); `precision`/`recall` also need
/// > the class (argmax) to agree and the class label to be kept,
/// > `box_precision`/`box_recall` count boxes only.
pub fn quality(
    set: &VideoSet,
    frames: &[usize],
    labels: &[Vec<BoxLabel>],
) -> BTreeMap<String, f64> {
    let (mut n_labels, mut n_truth, mut box_tp, mut class_tp) = (0usize, 0usize, 0usize, 0usize);
    let (mut soft, mut unclassed) = (0usize, 0usize);
    for (&f, frame_labels) in frames.iter().zip(labels) {
        let truth: Vec<&BoxLabel> = set.frames[f].boxes.iter().filter(|b| !b.crowd).collect();
        let mut used = vec![false; truth.len()];
        n_truth += truth.len();
        n_labels += frame_labels.len();
        for l in frame_labels {
            let known = l.soft.as_ref().is_none_or(|d| !d.is_empty());
            soft += usize::from(l.soft.as_ref().is_some_and(|d| !d.is_empty()));
            unclassed += usize::from(!known);
            let best = truth
                .iter()
                .enumerate()
                .filter(|(i, _)| !used[*i])
                .map(|(i, g)| (i, g.rect().iou(&l.rect())))
                .filter(|(_, iou)| *iou >= MATCH_IOU)
                .max_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((i, _)) = best {
                used[i] = true;
                box_tp += 1;
                class_tp += usize::from(known && truth[i].class == l.class);
            }
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    BTreeMap::from([
        ("precision".to_string(), ratio(class_tp, n_labels)),
        ("recall".to_string(), ratio(class_tp, n_truth)),
        ("box_precision".to_string(), ratio(box_tp, n_labels)),
        ("box_recall".to_string(), ratio(box_tp, n_truth)),
        ("labels".to_string(), n_labels as f64),
        ("truth_boxes".to_string(), n_truth as f64),
        ("frames".to_string(), frames.len() as f64),
        ("soft_fraction".to_string(), ratio(soft, n_labels)),
        (
            "class_dropped_fraction".to_string(),
            ratio(unclassed, n_labels),
        ),
    ])
}

/// The score cuts `tune_confidence` tries: 0.05, 0.10, ..., 0.95.
pub const CONFIDENCE_GRID: [f32; 19] = [
    0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.40, 0.45, 0.50, 0.55, 0.60, 0.65, 0.70, 0.75, 0.80,
    0.85, 0.90, 0.95,
];

/// The threshold baseline's score cut, tuned on labelled frames the training
/// never sees: the cut of [`CONFIDENCE_GRID`] whose single-frame labels of
/// `frames` (`preds[i]` the teacher's detections on `frames[i]`) have the
/// highest F1 against their truth (IoU >= 0.5 and the right class), the
/// higher cut on a tie. A fixed cut (Unbiased Teacher's 0.7) keeps almost none
/// of a young teacher's detections, which makes the baseline a straw man.
pub fn tune_confidence(set: &VideoSet, frames: &[usize], preds: &[Vec<Detection>]) -> (f32, f64) {
    let f1 = |c: f32| {
        let labels: Vec<Vec<BoxLabel>> = preds.iter().map(|p| threshold_frame(p, c)).collect();
        let q = quality(set, frames, &labels);
        let (p, r) = (q["precision"], q["recall"]);
        if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        }
    };
    CONFIDENCE_GRID.iter().map(|&c| (c, f1(c))).fold(
        (CONFIDENCE_GRID[0], f64::NEG_INFINITY),
        |best, (c, f)| {
            if f >= best.1 {
                (c, f)
            } else {
                best
            }
        },
    )
}

/// Frames whose labels training may not see.
pub fn unlabeled_frames(set: &VideoSet) -> Vec<usize> {
    (0..set.len()).filter(|&i| !set.frames[i].labeled).collect()
}

/// Pseudo-labels for the unlabelled frames of `set` from the teacher `net`.
pub fn pseudo_labels(
    net: &mut Network,
    set: &VideoSet,
    labeller: &Labeller,
) -> Result<(Vec<usize>, Vec<Vec<BoxLabel>>), StageError> {
    let frames = unlabeled_frames(set);
    let all: Vec<usize> = (0..set.len()).collect();
    let preds = predict_per_frame(net, set, &all)?;
    let labels = label_frames(set, &preds, &frames, labeller);
    Ok((frames, labels))
}

/// A copy of `set` whose unlabelled frames hold `labels` instead of their truth.
pub fn with_labels(set: &VideoSet, frames: &[usize], labels: Vec<Vec<BoxLabel>>) -> VideoSet {
    let mut out = set.clone();
    for (&f, l) in frames.iter().zip(labels) {
        out.frames[f].boxes = l;
    }
    out
}

pub fn ssvod(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let params = SsvodParams::from_input(input)?;
    let set = input.dataset("videos")?.videos()?;
    let start = Instant::now();
    let flows = params.warp.then(|| Flows::estimate(set));
    let flow_seconds = start.elapsed().as_secs_f64();
    let labeller = Labeller::Ssvod {
        params: &params,
        flows: flows.as_ref(),
    };
    run(input, ctx, "ssvod", &labeller, (start, flow_seconds))
}

pub fn threshold(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let confidence = input.f64("confidence")? as f32;
    let labeller = Labeller::Threshold { confidence };
    run(input, ctx, "threshold", &labeller, (Instant::now(), 0.0))
}

/// The shared body of both stages: teacher predictions, labels, quality
/// against the hidden truth, timing (from `started`, with the flow's share),
/// and the pseudo-labelled dataset.
fn run(
    input: &StageInput,
    ctx: &StageContext,
    method: &str,
    labeller: &Labeller,
    (started, flow_seconds): (Instant, f64),
) -> Result<StageOutput, StageError> {
    let data = input.dataset("videos")?;
    let set = data.videos()?;
    let mut net = network_for(input.model("teacher")?, set)?;
    ctx.check_cancelled()?;
    let (frames, labels) = pseudo_labels(&mut net, set, labeller)?;
    let seconds = started.elapsed().as_secs_f64();
    let mut values = quality(set, &frames, &labels);
    let per_frame = |s: f64| s / frames.len().max(1) as f64;
    values.insert("ms_per_frame".to_string(), 1e3 * per_frame(seconds));
    values.insert(
        "flow_ms_per_frame".to_string(),
        1e3 * per_frame(flow_seconds),
    );
    let metrics = Metrics {
        values,
        curves: BTreeMap::new(),
    };
    let out = Dataset {
        name: data.derived_name(&format!("pseudolabel.{method}")),
        task: data.task,
        data: DatasetData::Videos(with_labels(set, &frames, labels)),
    };
    Ok(StageOutput::record([
        ("data", Artifact::Dataset(Arc::new(out))),
        ("metrics", Artifact::Metrics(Arc::new(metrics.clone()))),
    ])
    .with_metrics(&metrics.values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn js_divergence_is_zero_for_equal_and_one_for_disjoint() {
        assert!(js_divergence(&[0.2, 0.8], &[0.2, 0.8]).abs() < 1e-6);
        assert!((js_divergence(&[1.0, 0.0], &[0.0, 1.0]) - 1.0).abs() < 1e-6);
        let mid = js_divergence(&[0.9, 0.1], &[0.5, 0.5]);
        assert!(mid > 0.0 && mid < 1.0);
        assert_eq!(cross_divergence(&[&[0.5, 0.5]]), 0.0);
    }
}
