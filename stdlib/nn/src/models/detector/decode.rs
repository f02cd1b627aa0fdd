//! From the head's raw map `[5 + K, N, rows, cols]` to detections: each cell's
//! box (centre = cell centre + offset, size = exp(log size), in cell units),
//! score = objectness · top class probability, the full class distribution,
//! then score threshold, class-agnostic non-maximum suppression in score
//! order, and at most `max_detections` per image.

use super::boxes::{iou, Bbox};
use super::{BOX, CLASSES, OBJECTNESS};
use crate::error::NnError;
use crate::layer::{Mode, Tensor};
use crate::loss::argmax;
use crate::network::Network;
use crate::spec::{Family, ModelSpec};

/// Log sizes are clamped here before `exp`, so an untrained head cannot
/// produce infinite boxes (e^6 ≈ 400 cells).
pub(super) const MAX_LOG_SIZE: f32 = 6.0;

/// Inference settings a detector carries in its spec.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PostProcess {
    pub nms_iou: f32,
    pub score_threshold: f32,
    pub max_detections: usize,
}

impl PostProcess {
    /// The settings of a detector spec; `None` for other families.
    pub fn of(spec: &ModelSpec) -> Option<PostProcess> {
        match spec.family {
            Family::Detector {
                nms_iou,
                score_threshold,
                max_detections,
                ..
            } => Some(PostProcess {
                nms_iou,
                score_threshold,
                max_detections,
            }),
            _ => None,
        }
    }
}

/// One detection: corners in pixels, score, and the class distribution.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub bbox: Bbox,
    /// objectness · classes[class].
    pub score: f32,
    pub objectness: f32,
    /// The most probable class.
    pub class: usize,
    /// Softmax over all classes (sums to 1).
    pub classes: Vec<f32>,
}

/// Cell geometry of a head output for images `height × width`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Grid {
    pub n: usize,
    pub rows: usize,
    pub cols: usize,
    pub classes: usize,
    /// Cell size in pixels.
    pub sx: f32,
    pub sy: f32,
}

impl Grid {
    pub fn of(out: &Tensor, [height, width]: [usize; 2]) -> Grid {
        let (rows, cols) = (out.shape[2], out.shape[3]);
        Grid {
            n: out.shape[1],
            rows,
            cols,
            classes: out.shape[0] - CLASSES,
            sx: width as f32 / cols as f32,
            sy: height as f32 / rows as f32,
        }
    }

    pub fn cells(&self) -> usize {
        self.rows * self.cols
    }

    /// Index of channel `ch` of `cell` in image `b`.
    pub fn at(&self, ch: usize, b: usize, cell: usize) -> usize {
        (ch * self.n + b) * self.cells() + cell
    }

    /// Centre of `cell` in pixels.
    pub fn centre(&self, cell: usize) -> (f32, f32) {
        let (r, c) = (cell / self.cols, cell % self.cols);
        ((c as f32 + 0.5) * self.sx, (r as f32 + 0.5) * self.sy)
    }

    /// The box the four box channels `t` of `cell` encode.
    pub fn decode_box(&self, cell: usize, t: [f32; 4]) -> Bbox {
        let (cx0, cy0) = self.centre(cell);
        let cx = cx0 + t[0] * self.sx;
        let cy = cy0 + t[1] * self.sy;
        let w = t[2].clamp(-MAX_LOG_SIZE, MAX_LOG_SIZE).exp() * self.sx;
        let h = t[3].clamp(-MAX_LOG_SIZE, MAX_LOG_SIZE).exp() * self.sy;
        [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0]
    }

    pub fn box_channels(&self, out: &Tensor, b: usize, cell: usize) -> [f32; 4] {
        std::array::from_fn(|k| out.data[self.at(BOX + k, b, cell)])
    }
}

pub(super) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

pub(super) fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let exp: Vec<f32> = logits.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

/// Detections per image of a head output for images `height × width`.
pub fn decode(out: &Tensor, image_hw: [usize; 2], post: &PostProcess) -> Vec<Vec<Prediction>> {
    let grid = Grid::of(out, image_hw);
    let [height, width] = image_hw.map(|s| s as f32);
    (0..grid.n)
        .map(|b| {
            let mut preds: Vec<Prediction> = (0..grid.cells())
                .map(|cell| {
                    let objectness = sigmoid(out.data[grid.at(OBJECTNESS, b, cell)]);
                    let logits: Vec<f32> = (0..grid.classes)
                        .map(|k| out.data[grid.at(CLASSES + k, b, cell)])
                        .collect();
                    let classes = softmax(&logits);
                    let class = argmax(&classes);
                    let raw = grid.decode_box(cell, grid.box_channels(out, b, cell));
                    let bbox = [
                        raw[0].clamp(0.0, width),
                        raw[1].clamp(0.0, height),
                        raw[2].clamp(0.0, width),
                        raw[3].clamp(0.0, height),
                    ];
                    Prediction {
                        bbox,
                        score: objectness * classes[class],
                        objectness,
                        class,
                        classes,
                    }
                })
                .filter(|p| p.score >= post.score_threshold)
                .collect();
            preds.sort_by(|a, b| b.score.total_cmp(&a.score));
            nms(preds, post.nms_iou, post.max_detections)
        })
        .collect()
}

/// Greedy class-agnostic suppression of `sorted` (highest score first): a box
/// is dropped when its IoU with a kept box exceeds `iou_threshold`.
pub fn nms(sorted: Vec<Prediction>, iou_threshold: f32, max: usize) -> Vec<Prediction> {
    let mut kept: Vec<Prediction> = Vec::new();
    for p in sorted {
        if kept.len() >= max {
            break;
        }
        if kept.iter().all(|k| iou(&k.bbox, &p.bbox) <= iou_threshold) {
            kept.push(p);
        }
    }
    kept
}

/// Detections for images `[N, C, H, W]` (sample-major), `batch` at a time.
pub fn detect(net: &mut Network, x: &[f32], batch: usize) -> Result<Vec<Vec<Prediction>>, NnError> {
    let post = PostProcess::of(&net.spec).ok_or_else(|| {
        NnError::Config(format!(
            "`{}` is not a detector; build one with `model.detector`",
            net.spec.name()
        ))
    })?;
    let [c, h, w] = net.spec.input;
    let len = c * h * w;
    let mut all = Vec::with_capacity(x.len() / len.max(1));
    for chunk in x.chunks(batch.max(1) * len) {
        let n = chunk.len() / len;
        let out = net.forward(Tensor::from_vec(&[n, c, h, w], chunk.to_vec()), Mode::Eval);
        all.extend(decode(&out, [h, w], &post));
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prediction(bbox: Bbox, score: f32) -> Prediction {
        Prediction {
            bbox,
            score,
            objectness: score,
            class: 0,
            classes: vec![1.0],
        }
    }

    #[test]
    fn nms_drops_overlapping_lower_scores_and_caps_the_count() {
        let preds = vec![
            prediction([0.0, 0.0, 10.0, 10.0], 0.9),
            prediction([1.0, 0.0, 11.0, 10.0], 0.8),
            prediction([20.0, 20.0, 30.0, 30.0], 0.7),
            prediction([40.0, 40.0, 50.0, 50.0], 0.6),
        ];
        let kept = nms(preds.clone(), 0.5, 10);
        assert_eq!(
            kept.iter().map(|p| p.score).collect::<Vec<_>>(),
            [0.9, 0.7, 0.6]
        );
        assert_eq!(nms(preds, 0.5, 2).len(), 2);
    }

    #[test]
    fn a_cell_decodes_to_its_encoded_box() {
        // One image, 2×2 grid over 8×8 pixels, two classes.
        let mut out = Tensor::zeros(&[7, 1, 2, 2]);
        let grid = Grid::of(&out, [8, 8]);
        let cell = 3; // row 1, col 1: centre (6, 6)
        out.data[grid.at(OBJECTNESS, 0, cell)] = 10.0;
        out.data[grid.at(BOX, 0, cell)] = -0.25; // centre x 6 − 1 = 5
        out.data[grid.at(BOX + 2, 0, cell)] = 1.0f32.ln(); // width 4
        out.data[grid.at(BOX + 3, 0, cell)] = 0.5f32.ln(); // height 2
        out.data[grid.at(CLASSES + 1, 0, cell)] = 5.0;
        let post = PostProcess {
            nms_iou: 0.5,
            score_threshold: 0.5,
            max_detections: 10,
        };
        let dets = decode(&out, [8, 8], &post);
        assert_eq!(dets[0].len(), 1);
        let d = &dets[0][0];
        for (got, want) in d.bbox.iter().zip([3.0, 5.0, 7.0, 7.0]) {
            assert!((got - want).abs() < 1e-5, "{:?}", d.bbox);
        }
        assert_eq!(d.class, 1);
        assert!((d.classes.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }
}
