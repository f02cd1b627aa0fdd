//! The detector's training loss on the raw head map and its gradient:
//! sigmoid focal loss on objectness over every cell (RetinaNet, γ = 2,
//! α = 0.25), and on positive cells a soft-target cross-entropy on the class
//! logits (its gradient is that of KL(target ‖ prediction); the reported class
//! term is that KL), L1 on the box channels and generalized IoU on the decoded
//! box. Every term is summed over the batch and divided by the number of
//! positive cells; each image's terms are scaled by its weight (the
//! unsupervised weight of pseudo-labelled images).
//!
//! Assignment (the project's own choice, FCOS-like centre sampling): a box's
//! positives are the cell holding its centre and the cells whose centres lie
//! inside the box within `centre_radius` cells of its centre; a cell claimed by
//! several boxes takes the smallest.

use super::boxes::{giou_loss, Bbox};
use super::decode::{sigmoid, softmax, Grid, MAX_LOG_SIZE};
use super::{BOX, CLASSES, OBJECTNESS};
use crate::tensor::Tensor;

/// A training target: a box and its class distribution.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub bbox: Bbox,
    /// Distribution over classes (one-hot for a hard label).
    pub classes: Vec<f32>,
    /// Scale of the class term; 0 trains the box and objectness only (a
    /// pseudo-label whose class was not selected).
    pub class_weight: f32,
}

impl Target {
    /// A hard label: one-hot `class` of `classes`.
    pub fn hard(bbox: Bbox, class: usize, classes: usize) -> Target {
        let mut dist = vec![0.0; classes];
        if let Some(p) = dist.get_mut(class) {
            *p = 1.0;
        }
        Target {
            bbox,
            classes: dist,
            class_weight: 1.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossConfig {
    /// Focusing exponent (RetinaNet's 2; 0 gives α-weighted BCE).
    pub focal_gamma: f32,
    /// Weight of positives (RetinaNet's 0.25); negatives get 1 − α.
    pub focal_alpha: f32,
    pub class_weight: f32,
    pub l1_weight: f32,
    pub giou_weight: f32,
    /// Centre-sampling radius in cells.
    pub centre_radius: f32,
}

impl Default for LossConfig {
    /// RetinaNet's focal constants; the term weights and radius are the
    /// project's own defaults (FCOS uses radius 1.5 on multi-level maps).
    fn default() -> Self {
        LossConfig {
            focal_gamma: 2.0,
            focal_alpha: 0.25,
            class_weight: 1.0,
            l1_weight: 1.0,
            giou_weight: 2.0,
            centre_radius: 1.0,
        }
    }
}

/// Loss terms (already weighted and normalised) and the gradient of `total`
/// with respect to the head map.
#[derive(Debug, Clone)]
pub struct DetLoss {
    pub total: f32,
    pub objectness: f32,
    pub class: f32,
    pub l1: f32,
    pub giou: f32,
    pub positives: usize,
    pub grad: Tensor,
}

/// The loss of head map `out` for images `height × width` against
/// `targets[b]` for each image `b`, with per-image `weights`.
pub fn loss(
    out: &Tensor,
    image_hw: [usize; 2],
    targets: &[Vec<Target>],
    weights: &[f32],
    cfg: &LossConfig,
) -> DetLoss {
    let grid = Grid::of(out, image_hw);
    let assigned: Vec<Vec<Option<usize>>> = (0..grid.n)
        .map(|b| assign(&grid, &targets[b], cfg.centre_radius))
        .collect();
    let positives: usize = assigned.iter().flatten().filter(|a| a.is_some()).count();
    let norm = 1.0 / positives.max(1) as f32;
    let mut acc = DetLoss {
        total: 0.0,
        objectness: 0.0,
        class: 0.0,
        l1: 0.0,
        giou: 0.0,
        positives,
        grad: Tensor::zeros(&out.shape),
    };
    for b in 0..grid.n {
        let w = weights.get(b).copied().unwrap_or(1.0) * norm;
        for (cell, owner) in assigned[b].iter().enumerate() {
            let target = owner.map(|t| &targets[b][t]);
            objectness(out, &grid, b, cell, target.is_some(), w, cfg, &mut acc);
            if let Some(t) = target {
                class(out, &grid, b, cell, t, w * cfg.class_weight, &mut acc);
                regression(out, &grid, b, cell, &t.bbox, w, cfg, &mut acc);
            }
        }
    }
    acc.total = acc.objectness + acc.class + acc.l1 + acc.giou;
    acc
}

/// Per cell of image `b`, the index of the target it learns, if any.
fn assign(grid: &Grid, targets: &[Target], radius: f32) -> Vec<Option<usize>> {
    let mut owner: Vec<Option<(usize, f32)>> = vec![None; grid.cells()];
    for (i, t) in targets.iter().enumerate() {
        let [x1, y1, x2, y2] = t.bbox;
        let (bx, by) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0);
        let area = (x2 - x1) * (y2 - y1);
        let home_col = ((bx / grid.sx) as usize).min(grid.cols - 1);
        let home_row = ((by / grid.sy) as usize).min(grid.rows - 1);
        for (cell, slot) in owner.iter_mut().enumerate() {
            let (cx, cy) = grid.centre(cell);
            let home = cell == home_row * grid.cols + home_col;
            let near = (cx - bx).abs() <= radius * grid.sx && (cy - by).abs() <= radius * grid.sy;
            let inside = cx > x1 && cx < x2 && cy > y1 && cy < y2;
            if !(home || near && inside) {
                continue;
            }
            if slot.is_none_or(|(_, a)| area < a) {
                *slot = Some((i, area));
            }
        }
    }
    owner.into_iter().map(|o| o.map(|(i, _)| i)).collect()
}

/// Sigmoid focal loss of one cell's objectness logit.
#[allow(clippy::too_many_arguments)]
fn objectness(
    out: &Tensor,
    grid: &Grid,
    b: usize,
    cell: usize,
    positive: bool,
    w: f32,
    cfg: &LossConfig,
    acc: &mut DetLoss,
) {
    let i = grid.at(OBJECTNESS, b, cell);
    let x = out.data[i];
    // q = probability of the true outcome; s = dq/dx sign.
    let (s, alpha) = if positive {
        (1.0, cfg.focal_alpha)
    } else {
        (-1.0, 1.0 - cfg.focal_alpha)
    };
    let q = sigmoid(s * x);
    let log_q = -softplus(-s * x);
    let gamma = cfg.focal_gamma;
    let one_minus = 1.0 - q;
    acc.objectness -= w * alpha * one_minus.powf(gamma) * log_q;
    let d = s * alpha * (gamma * q * one_minus.powf(gamma) * log_q - one_minus.powf(gamma + 1.0));
    acc.grad.data[i] += w * d;
}

fn softplus(x: f32) -> f32 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// Soft-target cross-entropy of one positive cell's class logits.
fn class(out: &Tensor, grid: &Grid, b: usize, cell: usize, t: &Target, w: f32, acc: &mut DetLoss) {
    let w = w * t.class_weight;
    if w == 0.0 || t.classes.len() != grid.classes {
        return;
    }
    let logits: Vec<f32> = (0..grid.classes)
        .map(|k| out.data[grid.at(CLASSES + k, b, cell)])
        .collect();
    let q = softmax(&logits);
    for (k, (&p, &qk)) in t.classes.iter().zip(&q).enumerate() {
        if p > 0.0 {
            acc.class += w * p * (p.ln() - qk.max(1e-12).ln());
        }
        acc.grad.data[grid.at(CLASSES + k, b, cell)] += w * (qk - p);
    }
}

/// L1 on the box channels and GIoU on the decoded box of one positive cell.
#[allow(clippy::too_many_arguments)]
fn regression(
    out: &Tensor,
    grid: &Grid,
    b: usize,
    cell: usize,
    target: &Bbox,
    w: f32,
    cfg: &LossConfig,
    acc: &mut DetLoss,
) {
    let t = grid.box_channels(out, b, cell);
    let (cx, cy) = grid.centre(cell);
    let [x1, y1, x2, y2] = *target;
    let want = [
        ((x1 + x2) / 2.0 - cx) / grid.sx,
        ((y1 + y2) / 2.0 - cy) / grid.sy,
        ((x2 - x1).max(1e-2) / grid.sx).ln(),
        ((y2 - y1).max(1e-2) / grid.sy).ln(),
    ];
    let mut grad = [0.0f32; 4];
    for k in 0..4 {
        let diff = t[k] - want[k];
        acc.l1 += w * cfg.l1_weight * diff.abs();
        grad[k] += w * cfg.l1_weight * diff.signum();
    }
    let pred = grid.decode_box(cell, t);
    let (g, dbox) = giou_loss(&pred, target);
    acc.giou += w * cfg.giou_weight * g;
    let scale = w * cfg.giou_weight;
    let (pw, ph) = (pred[2] - pred[0], pred[3] - pred[1]);
    grad[0] += scale * (dbox[0] + dbox[2]) * grid.sx;
    grad[1] += scale * (dbox[1] + dbox[3]) * grid.sy;
    if t[2].abs() < MAX_LOG_SIZE {
        grad[2] += scale * (dbox[2] - dbox[0]) / 2.0 * pw;
    }
    if t[3].abs() < MAX_LOG_SIZE {
        grad[3] += scale * (dbox[3] - dbox[1]) / 2.0 * ph;
    }
    for (k, g) in grad.iter().enumerate() {
        acc.grad.data[grid.at(BOX + k, b, cell)] += g;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2-image head map over a 3×3 grid, 3 classes, with varied values.
    fn head_map() -> Tensor {
        let n = 8 * 2 * 9;
        let data = (0..n)
            .map(|i| ((i * 37 % 23) as f32 / 23.0 - 0.5) * 1.6)
            .collect();
        Tensor::from_vec(&[8, 2, 3, 3], data)
    }

    fn targets() -> Vec<Vec<Target>> {
        let soft = Target {
            bbox: [1.0, 2.0, 7.0, 6.5],
            classes: vec![0.2, 0.5, 0.3],
            class_weight: 1.0,
        };
        vec![
            vec![Target::hard([3.0, 3.0, 9.0, 8.0], 2, 3), soft],
            vec![Target::hard([0.5, 0.5, 4.0, 3.0], 0, 3)],
        ]
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let cfg = LossConfig::default();
        let (targets, weights) = (targets(), [1.0, 4.0]);
        let out = head_map();
        let analytic = loss(&out, [12, 12], &targets, &weights, &cfg);
        assert!(analytic.positives >= 3);
        for i in 0..out.len() {
            let h = 1e-2;
            let (mut up, mut down) = (out.clone(), out.clone());
            up.data[i] += h;
            down.data[i] -= h;
            let numeric = (loss(&up, [12, 12], &targets, &weights, &cfg).total
                - loss(&down, [12, 12], &targets, &weights, &cfg).total)
                / (2.0 * h);
            let got = analytic.grad.data[i];
            assert!(
                (numeric - got).abs() < 2e-2 * (1.0 + got.abs()),
                "entry {i}: analytic {got} numeric {numeric}"
            );
        }
    }

    #[test]
    fn a_perfect_prediction_has_no_class_or_box_loss() {
        let target = Target::hard([2.0, 2.0, 6.0, 10.0], 1, 2);
        let mut out = Tensor::zeros(&[7, 1, 3, 3]);
        let grid = Grid::of(&out, [12, 12]);
        let cfg = LossConfig {
            centre_radius: 0.0,
            ..LossConfig::default()
        };
        // Centre (4, 6) lies in cell (1, 1) whose centre is (6, 6).
        let cell = 4;
        out.data[grid.at(BOX, 0, cell)] = -0.5;
        out.data[grid.at(BOX + 2, 0, cell)] = 1.0f32.ln();
        out.data[grid.at(BOX + 3, 0, cell)] = 2.0f32.ln();
        out.data[grid.at(CLASSES + 1, 0, cell)] = 30.0;
        let l = loss(&out, [12, 12], &[vec![target]], &[1.0], &cfg);
        assert_eq!(l.positives, 1);
        assert!(l.l1 < 1e-5 && l.giou < 1e-5 && l.class < 1e-5, "{l:?}");
        assert!(l.objectness > 0.0);
    }

    #[test]
    fn class_weight_zero_trains_boxes_only() {
        let mut t = Target::hard([2.0, 2.0, 6.0, 10.0], 1, 2);
        t.class_weight = 0.0;
        let out = Tensor::zeros(&[7, 1, 3, 3]);
        let l = loss(&out, [12, 12], &[vec![t]], &[1.0], &LossConfig::default());
        assert_eq!(l.class, 0.0);
        assert!(l.l1 > 0.0);
    }
}
