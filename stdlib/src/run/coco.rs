//! COCO's box evaluator, step for step as pycocotools' `COCOeval` (iouType
//! `bbox`): per (image, category) greedy matching of score-sorted detections to
//! ground truth at ten IoU thresholds 0.50:0.05:0.95, crowd boxes matched by
//! intersection over the detection's area and never used up, area ranges
//! all/small/medium/large, maxDets 1/10/100, 101-point interpolated precision.
//! The twelve numbers are those of `COCOeval.summarize()`; per-class AP is the
//! mean of the class's precision at area `all`, maxDets 100 (as detectron2
//! reports it). A value pycocotools reports as -1 (nothing to score) is -1 here.
//! This module never reads files (`coco_json` does) and never runs a model.

use crate::dataset::VideoSet;
use crate::detection::Detection;
use std::collections::HashMap;

/// COCO's area ranges in pixels², in `areaRngLbl` order: all, small, medium, large.
const AREA_RANGES: [(f64, f64); 4] = [
    (0.0, 1e10),
    (0.0, 32.0 * 32.0),
    (32.0 * 32.0, 96.0 * 96.0),
    (96.0 * 96.0, 1e10),
];
/// `maxDets`; evaluation matches the largest, smaller ones cut that result.
const MAX_DETS: [usize; 3] = [1, 10, 100];
const IOU_THRESHOLDS: usize = 10;
const RECALL_POINTS: usize = 101;

/// One ground-truth annotation.
#[derive(Debug, Clone, PartialEq)]
pub struct GtBox {
    /// The annotation `id`; pycocotools treats a match to id 0 as no match.
    pub id: u64,
    pub image: u64,
    pub category: u64,
    /// `[x, y, w, h]` in pixels.
    pub bbox: [f64; 4],
    /// The annotation's `area` (decides its area range; not recomputed from `bbox`).
    pub area: f64,
    pub crowd: bool,
}

/// One scored detection, in results-file order.
#[derive(Debug, Clone, PartialEq)]
pub struct DtBox {
    pub image: u64,
    pub category: u64,
    pub bbox: [f64; 4],
    pub score: f64,
}

/// The ground truth an evaluation runs against.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CocoTruth {
    /// Image ids scored (`getImgIds()`), sorted ascending.
    pub images: Vec<u64>,
    /// `(category id, name)`, sorted by id (`getCatIds()`).
    pub categories: Vec<(u64, String)>,
    /// In file order.
    pub annotations: Vec<GtBox>,
}

/// `COCOeval.stats` by name, plus AP per category (in `categories` order).
#[derive(Debug, Clone, PartialEq)]
pub struct CocoMetrics {
    /// AP@[.50:.95], area all, maxDets 100.
    pub ap: f64,
    pub ap50: f64,
    pub ap75: f64,
    pub ap_small: f64,
    pub ap_medium: f64,
    pub ap_large: f64,
    pub ar1: f64,
    pub ar10: f64,
    pub ar100: f64,
    pub ar_small: f64,
    pub ar_medium: f64,
    pub ar_large: f64,
    /// `(category name, AP@[.50:.95])`; -1 for a category without ground truth.
    pub per_class: Vec<(String, f64)>,
}

impl CocoMetrics {
    /// The twelve numbers in `COCOeval.stats` order, with their metric names.
    pub fn stats(&self) -> [(&'static str, f64); 12] {
        [
            ("ap", self.ap),
            ("ap50", self.ap50),
            ("ap75", self.ap75),
            ("ap_small", self.ap_small),
            ("ap_medium", self.ap_medium),
            ("ap_large", self.ap_large),
            ("ar1", self.ar1),
            ("ar10", self.ar10),
            ("ar100", self.ar100),
            ("ar_small", self.ar_small),
            ("ar_medium", self.ar_medium),
            ("ar_large", self.ar_large),
        ]
    }
}

impl CocoTruth {
    /// The ground truth of the frames `scored` of a video set: image id = frame
    /// index, category id = class index, annotation ids from 1, area = w·h.
    pub fn from_videos(set: &VideoSet, scored: &[usize]) -> CocoTruth {
        let mut images: Vec<u64> = scored.iter().map(|&f| f as u64).collect();
        images.sort_unstable();
        images.dedup();
        let mut annotations = Vec::new();
        for &frame in &images {
            for b in &set.frames[frame as usize].boxes {
                let (w, h) = (f64::from(b.w), f64::from(b.h));
                annotations.push(GtBox {
                    id: annotations.len() as u64 + 1,
                    image: frame,
                    category: u64::from(b.class),
                    bbox: [f64::from(b.x), f64::from(b.y), w, h],
                    area: w * h,
                    crowd: b.crowd,
                });
            }
        }
        CocoTruth {
            images,
            categories: set
                .class_names
                .iter()
                .enumerate()
                .map(|(i, n)| (i as u64, n.clone()))
                .collect(),
            annotations,
        }
    }
}

/// Scores detections against `truth` (built by `CocoTruth::from_videos`, so
/// `frame` is the image id and `class` the category id). Detections on frames
/// that are not scored, or of unknown classes, are left out.
pub fn coco_ap(truth: &CocoTruth, detections: &[Detection]) -> CocoMetrics {
    let dts: Vec<DtBox> = detections
        .iter()
        .map(|d| DtBox {
            image: d.frame as u64,
            category: u64::from(d.class),
            bbox: [d.x, d.y, d.w, d.h].map(f64::from),
            score: f64::from(d.score),
        })
        .collect();
    evaluate(truth, &dts)
}

/// `COCOeval.evaluate(); accumulate(); summarize()` on boxes. Detections whose
/// image is not in `truth.images` or whose category is unknown are left out.
pub fn evaluate(truth: &CocoTruth, detections: &[DtBox]) -> CocoMetrics {
    let groups = Groups::new(truth, detections);
    let mut per_cat = Vec::with_capacity(truth.categories.len());
    for &(cat, _) in &truth.categories {
        let evals: Vec<[Option<ImageEval>; 4]> = truth
            .images
            .iter()
            .map(|&img| {
                let (gts, dts) = groups.get(img, cat);
                AREA_RANGES.map(|range| evaluate_image(&gts, &dts, range))
            })
            .collect();
        per_cat.push(accumulate(&evals));
    }
    summarize(truth, &per_cat)
}

/// Ground truth and detections per (image, category), each in file order.
struct Groups<'a> {
    gts: HashMap<(u64, u64), Vec<&'a GtBox>>,
    dts: HashMap<(u64, u64), Vec<&'a DtBox>>,
}

impl<'a> Groups<'a> {
    fn new(truth: &'a CocoTruth, detections: &'a [DtBox]) -> Self {
        let mut gts: HashMap<_, Vec<_>> = HashMap::new();
        for g in &truth.annotations {
            gts.entry((g.image, g.category)).or_default().push(g);
        }
        let mut dts: HashMap<_, Vec<_>> = HashMap::new();
        for d in detections {
            dts.entry((d.image, d.category)).or_default().push(d);
        }
        Groups { gts, dts }
    }

    fn get(&self, image: u64, cat: u64) -> (Vec<&'a GtBox>, Vec<&'a DtBox>) {
        let key = (image, cat);
        (
            self.gts.get(&key).cloned().unwrap_or_default(),
            self.dts.get(&key).cloned().unwrap_or_default(),
        )
    }
}

/// `evaluateImg` for one image, category and area range at maxDets 100.
struct ImageEval {
    /// Scores of the kept detections, highest first.
    dt_scores: Vec<f64>,
    /// `[threshold][detection]`: matched to a ground truth with a non-zero id.
    dt_matched: Vec<Vec<bool>>,
    /// `[threshold][detection]`: matched to an ignored box, or unmatched and
    /// outside the area range.
    dt_ignore: Vec<Vec<bool>>,
    gt_ignore: Vec<bool>,
}

/// `np.linspace(.5, 0.95, 10)`, computed as numpy does (start + i·step, last = stop).
fn iou_thresholds() -> [f64; IOU_THRESHOLDS] {
    let step = (0.95 - 0.5) / (IOU_THRESHOLDS - 1) as f64;
    let mut t: [f64; IOU_THRESHOLDS] = std::array::from_fn(|i| i as f64 * step + 0.5);
    t[IOU_THRESHOLDS - 1] = 0.95;
    t
}

/// `np.linspace(.0, 1.00, 101)`.
fn recall_thresholds() -> [f64; RECALL_POINTS] {
    let step = 1.0 / (RECALL_POINTS - 1) as f64;
    let mut r: [f64; RECALL_POINTS] = std::array::from_fn(|i| i as f64 * step);
    r[RECALL_POINTS - 1] = 1.0;
    r
}

/// `maskApi.c` `bbIou`: a crowd box divides by the detection's area alone.
fn box_iou(d: &[f64; 4], g: &[f64; 4], crowd: bool) -> f64 {
    let w = (d[2] + d[0]).min(g[2] + g[0]) - d[0].max(g[0]);
    if w <= 0.0 {
        return 0.0;
    }
    let h = (d[3] + d[1]).min(g[3] + g[1]) - d[1].max(g[1]);
    if h <= 0.0 {
        return 0.0;
    }
    let inter = w * h;
    let da = d[2] * d[3];
    let union = if crowd { da } else { da + g[2] * g[3] - inter };
    inter / union
}

fn outside(area: f64, (lo, hi): (f64, f64)) -> bool {
    area < lo || area > hi
}

fn evaluate_image(gts: &[&GtBox], dts: &[&DtBox], range: (f64, f64)) -> Option<ImageEval> {
    if gts.is_empty() && dts.is_empty() {
        return None;
    }
    // Ground truth: kept boxes first, ignored (crowd or out of range) after, stable.
    let ignored = |g: &GtBox| g.crowd || outside(g.area, range);
    let mut gts: Vec<&GtBox> = gts.to_vec();
    gts.sort_by_key(|g| ignored(g));
    let gt_ignore: Vec<bool> = gts.iter().map(|g| ignored(g)).collect();
    // Detections: highest score first, stable, at most maxDets.
    let mut dts: Vec<&DtBox> = dts.to_vec();
    dts.sort_by(|a, b| b.score.total_cmp(&a.score));
    dts.truncate(MAX_DETS[MAX_DETS.len() - 1]);
    let ious: Vec<Vec<f64>> = dts
        .iter()
        .map(|d| {
            gts.iter()
                .map(|g| box_iou(&d.bbox, &g.bbox, g.crowd))
                .collect()
        })
        .collect();
    let mut dt_matched = vec![vec![false; dts.len()]; IOU_THRESHOLDS];
    let mut dt_ignore = vec![vec![false; dts.len()]; IOU_THRESHOLDS];
    if !gts.is_empty() {
        for (t, threshold) in iou_thresholds().into_iter().enumerate() {
            let mut gt_used = vec![false; gts.len()];
            for (d, row) in ious.iter().enumerate() {
                let Some(m) = best_match(row, threshold, &gt_used, &gts, &gt_ignore) else {
                    continue;
                };
                dt_ignore[t][d] = gt_ignore[m];
                dt_matched[t][d] = gts[m].id != 0;
                gt_used[m] = true;
            }
        }
    }
    for (t, row) in dt_ignore.iter_mut().enumerate() {
        for (d, ig) in row.iter_mut().enumerate() {
            let area = dts[d].bbox[2] * dts[d].bbox[3];
            *ig = *ig || (!dt_matched[t][d] && outside(area, range));
        }
    }
    Some(ImageEval {
        dt_scores: dts.iter().map(|d| d.score).collect(),
        dt_matched,
        dt_ignore,
        gt_ignore,
    })
}

/// The ground truth one detection takes at one threshold: the best IoU not below
/// it among unused (or crowd) boxes, later boxes winning ties, and never an
/// ignored box once a kept one matched.
fn best_match(
    ious: &[f64],
    threshold: f64,
    gt_used: &[bool],
    gts: &[&GtBox],
    gt_ignore: &[bool],
) -> Option<usize> {
    let mut iou = threshold.min(1.0 - 1e-10);
    let mut m: Option<usize> = None;
    for (g, &value) in ious.iter().enumerate() {
        if gt_used[g] && !gts[g].crowd {
            continue;
        }
        if m.is_some_and(|m| !gt_ignore[m]) && gt_ignore[g] {
            break;
        }
        if value < iou {
            continue;
        }
        iou = value;
        m = Some(g);
    }
    m
}

/// One category's precision `[area][maxDets][threshold] -> 101 points` and recall
/// `[area][maxDets][threshold]`; `None` where pycocotools leaves -1.
struct CategoryCurves {
    precision: [[[Option<[f64; RECALL_POINTS]>; IOU_THRESHOLDS]; 3]; 4],
    recall: [[[Option<f64>; IOU_THRESHOLDS]; 3]; 4],
}

/// `accumulate` for one category; `evals[image][area]`.
fn accumulate(evals: &[[Option<ImageEval>; 4]]) -> CategoryCurves {
    let mut curves = CategoryCurves {
        precision: [[[None; IOU_THRESHOLDS]; 3]; 4],
        recall: [[[None; IOU_THRESHOLDS]; 3]; 4],
    };
    let recall_thresholds = recall_thresholds();
    for a in 0..AREA_RANGES.len() {
        let images: Vec<&ImageEval> = evals.iter().filter_map(|e| e[a].as_ref()).collect();
        if images.is_empty() {
            continue;
        }
        let npig = images
            .iter()
            .flat_map(|e| &e.gt_ignore)
            .filter(|&&ig| !ig)
            .count();
        if npig == 0 {
            continue;
        }
        for (m, &max_det) in MAX_DETS.iter().enumerate() {
            for t in 0..IOU_THRESHOLDS {
                let (p, r) = curve(&images, max_det, t, npig as f64, &recall_thresholds);
                curves.precision[a][m][t] = Some(p);
                curves.recall[a][m][t] = Some(r);
            }
        }
    }
    curves
}

/// Interpolated precision at the recall thresholds, and the final recall, of the
/// top `max_det` detections per image pooled and sorted by score.
fn curve(
    images: &[&ImageEval],
    max_det: usize,
    t: usize,
    npig: f64,
    recall_thresholds: &[f64; RECALL_POINTS],
) -> ([f64; RECALL_POINTS], f64) {
    let mut pooled: Vec<(f64, bool, bool)> = Vec::new();
    for e in images {
        let n = e.dt_scores.len().min(max_det);
        for d in 0..n {
            pooled.push((e.dt_scores[d], e.dt_matched[t][d], e.dt_ignore[t][d]));
        }
    }
    pooled.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut tp, mut fp) = (0.0f64, 0.0f64);
    let mut rc = Vec::with_capacity(pooled.len());
    let mut pr = Vec::with_capacity(pooled.len());
    for &(_, matched, ignored) in &pooled {
        // An ignored detection is neither a hit nor a miss: the sums repeat.
        match (ignored, matched) {
            (true, _) => {}
            (false, true) => tp += 1.0,
            (false, false) => fp += 1.0,
        }
        rc.push(tp / npig);
        pr.push(tp / (fp + tp + f64::EPSILON));
    }
    let recall = rc.last().copied().unwrap_or(0.0);
    for i in (1..pr.len()).rev() {
        if pr[i] > pr[i - 1] {
            pr[i - 1] = pr[i];
        }
    }
    let mut q = [0.0; RECALL_POINTS];
    for (qi, &r) in q.iter_mut().zip(recall_thresholds) {
        let pi = rc.partition_point(|&v| v < r);
        let Some(&p) = pr.get(pi) else { break };
        *qi = p;
    }
    (q, recall)
}

/// Mean of the defined values, or -1 when there are none (`_summarize`).
fn mean_defined(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        -1.0
    } else {
        sum / n as f64
    }
}

fn summarize(truth: &CocoTruth, per_cat: &[CategoryCurves]) -> CocoMetrics {
    let all_t: Vec<usize> = (0..IOU_THRESHOLDS).collect();
    let ap = |ts: &[usize], a: usize, m: usize| {
        mean_defined(per_cat.iter().flat_map(|c| {
            ts.iter()
                .filter_map(move |&t| c.precision[a][m][t])
                .flatten()
        }))
    };
    let ar = |a: usize, m: usize| {
        mean_defined(
            per_cat
                .iter()
                .flat_map(|c| c.recall[a][m].iter().filter_map(|r| *r)),
        )
    };
    let top = MAX_DETS.len() - 1;
    CocoMetrics {
        ap: ap(&all_t, 0, top),
        ap50: ap(&[0], 0, top),
        ap75: ap(&[5], 0, top),
        ap_small: ap(&all_t, 1, top),
        ap_medium: ap(&all_t, 2, top),
        ap_large: ap(&all_t, 3, top),
        ar1: ar(0, 0),
        ar10: ar(0, 1),
        ar100: ar(0, top),
        ar_small: ar(1, top),
        ar_medium: ar(2, top),
        ar_large: ar(3, top),
        per_class: truth
            .categories
            .iter()
            .zip(per_cat)
            .map(|((_, name), c)| {
                let values = c.precision[0][top].iter().filter_map(|p| *p).flatten();
                (name.clone(), mean_defined(values))
            })
            .collect(),
    }
}
