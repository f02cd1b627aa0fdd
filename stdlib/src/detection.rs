//! Detector output: one `Detection` per predicted box, the type every detector
//! produces (`model.detector`), every pseudo-labeller consumes and `eval.detect`
//! scores (`crate::run::coco::coco_ap`). Plain geometry only; this module never
//! runs a model or reads files.
//!
//! Contract:
//! - `frame` is the index of the frame in the `VideoSet` the detector ran on
//!   (for COCO results files: the position of the image in the ground truth's
//!   sorted image ids).
//! - `x, y, w, h` are in pixels of that frame, `(x, y)` the top-left corner,
//!   `w, h >= 0`, COCO's `bbox` layout.
//! - `class` indexes the dataset's `class_names`; `score` is the detection's
//!   confidence in [0, 1] (objectness × class probability for `model.detector`).
//! - `probs` is the full class distribution (sums to 1, one entry per class);
//!   empty when the detector gives only a class (e.g. a COCO results file).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    pub frame: usize,
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
    pub score: f32,
    pub class: u32,
    pub probs: Vec<f32>,
}

/// An axis-aligned box in pixels: top-left corner and size (COCO `bbox`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rect {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl Rect {
    pub fn area(&self) -> f32 {
        self.w.max(0.0) * self.h.max(0.0)
    }

    /// Intersection over union, 0 when the boxes do not overlap.
    pub fn iou(&self, other: &Rect) -> f32 {
        let w = (self.x + self.w).min(other.x + other.w) - self.x.max(other.x);
        let h = (self.y + self.h).min(other.y + other.h) - self.y.max(other.y);
        if w <= 0.0 || h <= 0.0 {
            return 0.0;
        }
        let inter = w * h;
        inter / (self.area() + other.area() - inter)
    }
}

impl Detection {
    pub fn rect(&self) -> Rect {
        Rect {
            x: self.x,
            y: self.y,
            w: self.w,
            h: self.h,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_half_overlapping_boxes() {
        let a = Rect {
            x: 0.0,
            y: 0.0,
            w: 2.0,
            h: 2.0,
        };
        let b = Rect {
            x: 1.0,
            y: 0.0,
            w: 2.0,
            h: 2.0,
        };
        assert!((a.iou(&b) - 2.0 / 6.0).abs() < 1e-6);
        let far = Rect {
            x: 5.0,
            y: 5.0,
            w: 1.0,
            h: 1.0,
        };
        assert_eq!(a.iou(&far), 0.0);
    }
}
