//! Box geometry in pixels, corners `[x1, y1, x2, y2]`: area, IoU, and the
//! generalized-IoU loss with its gradient (Rezatofighi et al. 2019).

/// A box by its corners, `x1 <= x2`, `y1 <= y2`, in pixels.
pub type Bbox = [f32; 4];

fn area(b: &Bbox) -> f32 {
    (b[2] - b[0]).max(0.0) * (b[3] - b[1]).max(0.0)
}

/// Intersection over union; 0 when both boxes are empty.
pub fn iou(a: &Bbox, b: &Bbox) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let union = area(a) + area(b) - inter;
    if union <= 0.0 {
        0.0
    } else {
        inter / union
    }
}

/// `1 − GIoU(p, t)` and its gradient with respect to `p`'s corners.
/// `p` must have positive width and height (decoded boxes always do).
pub fn giou_loss(p: &Bbox, t: &Bbox) -> (f32, [f32; 4]) {
    let (pw, ph) = (p[2] - p[0], p[3] - p[1]);
    let a_p = pw * ph;
    let a_t = area(t);
    // Intersection extent per axis, and which corner of `p` bounds it.
    let ix1 = p[0].max(t[0]);
    let ix2 = p[2].min(t[2]);
    let iy1 = p[1].max(t[1]);
    let iy2 = p[3].min(t[3]);
    let (iw, ih) = ((ix2 - ix1).max(0.0), (iy2 - iy1).max(0.0));
    let inter = iw * ih;
    let union = a_p + a_t - inter;
    // Smallest enclosing box.
    let cw = p[2].max(t[2]) - p[0].min(t[0]);
    let ch = p[3].max(t[3]) - p[1].min(t[1]);
    let c = (cw * ch).max(1e-9);
    let union = union.max(1e-9);
    let loss = 2.0 - inter / union - union / c;

    let d_ap = [-ph, -pw, ph, pw];
    let overlap = iw > 0.0 && ih > 0.0;
    let d_inter = [
        if overlap && p[0] > t[0] { -ih } else { 0.0 },
        if overlap && p[1] > t[1] { -iw } else { 0.0 },
        if overlap && p[2] < t[2] { ih } else { 0.0 },
        if overlap && p[3] < t[3] { iw } else { 0.0 },
    ];
    let d_c = [
        if p[0] < t[0] { -ch } else { 0.0 },
        if p[1] < t[1] { -cw } else { 0.0 },
        if p[2] > t[2] { ch } else { 0.0 },
        if p[3] > t[3] { cw } else { 0.0 },
    ];
    let mut grad = [0.0; 4];
    for k in 0..4 {
        let d_union = d_ap[k] - d_inter[k];
        let d_iou = (d_inter[k] * union - inter * d_union) / (union * union);
        let d_ratio = (d_union * c - union * d_c[k]) / (c * c);
        grad[k] = -d_iou - d_ratio;
    }
    (loss, grad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_known_boxes() {
        assert_eq!(iou(&[0.0, 0.0, 2.0, 2.0], &[1.0, 1.0, 3.0, 3.0]), 1.0 / 7.0);
        assert_eq!(iou(&[0.0, 0.0, 1.0, 1.0], &[2.0, 2.0, 3.0, 3.0]), 0.0);
        assert_eq!(iou(&[0.0, 0.0, 0.0, 0.0], &[0.0, 0.0, 0.0, 0.0]), 0.0);
    }

    #[test]
    fn giou_is_zero_for_equal_boxes_and_above_one_when_apart() {
        let b = [1.0, 2.0, 4.0, 6.0];
        assert!(giou_loss(&b, &b).0.abs() < 1e-6);
        let (far, _) = giou_loss(&[0.0, 0.0, 1.0, 1.0], &[3.0, 0.0, 4.0, 1.0]);
        // IoU 0, enclosing area 4, union 2: 1 − (0 − 2/4) = 1.5.
        assert!((far - 1.5).abs() < 1e-6, "{far}");
    }

    #[test]
    fn giou_gradient_matches_finite_differences() {
        let t = [2.0, 3.0, 7.0, 9.0];
        for p in [
            [1.0, 2.5, 5.0, 8.0],
            [3.0, 4.0, 6.0, 8.5],
            [8.0, 1.0, 10.0, 2.0],
            [0.5, 0.7, 9.0, 11.0],
        ] {
            let (_, grad) = giou_loss(&p, &t);
            for k in 0..4 {
                let h = 1e-3;
                let (mut up, mut down) = (p, p);
                up[k] += h;
                down[k] -= h;
                let numeric = (giou_loss(&up, &t).0 - giou_loss(&down, &t).0) / (2.0 * h);
                assert!(
                    (numeric - grad[k]).abs() < 2e-3,
                    "box {p:?} corner {k}: analytic {} numeric {numeric}",
                    grad[k]
                );
            }
        }
    }
}
