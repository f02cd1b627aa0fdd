//! CLIP's symmetric InfoNCE loss between two batches of paired embeddings
//! (row i of `a` belongs with row i of `b`), with a learnable temperature
//! stored as a log logit scale, as in CLIP (`logit_scale`, initialised to
//! ln(1/0.07) and kept at most ln(100)). Gives the loss, the gradients with
//! respect to both raw (unnormalised) embedding batches and the log scale, and
//! retrieval hits both ways. Owns no encoder and no optimizer state.

use crate::matmul::{matmul, Threads, View};
use crate::param::{Param, ParamKind};
use crate::tensor::Tensor;

/// CLIP's initial logit scale: 1/0.07, stored as its logarithm.
pub const INIT_LOG_SCALE: f32 = 2.659_26;
/// CLIP clamps the logit scale at 100 (ln 100 here).
pub const MAX_LOG_SCALE: f32 = 4.605_17;

/// What one loss evaluation gives.
#[derive(Debug, Clone)]
pub struct ClipOutput {
    /// Mean of the a→b and b→a cross-entropies.
    pub loss: f32,
    /// Gradient with respect to the raw `a` rows `[N, D]`.
    pub grad_a: Tensor,
    /// Gradient with respect to the raw `b` rows `[N, D]`.
    pub grad_b: Tensor,
    /// Gradient with respect to the log logit scale.
    pub grad_log_scale: f32,
    /// Rows of `a` whose most similar `b` row is their own pair.
    pub a_to_b_correct: usize,
    /// Rows of `b` whose most similar `a` row is their own pair.
    pub b_to_a_correct: usize,
}

/// The learnable temperature as a one-element param (no weight decay), so it
/// trains with the same optimizer as the encoders.
pub struct LogitScale {
    pub param: Param,
}

impl Default for LogitScale {
    fn default() -> LogitScale {
        LogitScale::new(INIT_LOG_SCALE)
    }
}

impl LogitScale {
    pub fn new(log_scale: f32) -> LogitScale {
        LogitScale {
            param: Param::new(Tensor::from_vec(&[1], vec![log_scale]), ParamKind::NoDecay),
        }
    }

    pub fn log_scale(&self) -> f32 {
        self.param.value.data[0]
    }

    /// Keeps the scale at most 100, as CLIP does after every step.
    pub fn clamp(&mut self) {
        let v = &mut self.param.value.data[0];
        *v = v.clamp(0.0, MAX_LOG_SCALE);
    }
}

/// Rows scaled to unit L2 norm, and each row's norm (floored to avoid 0/0).
fn normalize(x: &Tensor) -> (Vec<f32>, Vec<f32>) {
    let d = x.cols().max(1);
    let mut out = x.data.clone();
    let mut norms = Vec::with_capacity(x.rows());
    for row in out.chunks_exact_mut(d) {
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-8);
        row.iter_mut().for_each(|v| *v /= norm);
        norms.push(norm);
    }
    (out, norms)
}

/// Softmax cross-entropy of each row of `logits` (`n × n`) against the diagonal:
/// adds `(softmax − onehot)·weight` to `grad` and returns the summed loss and
/// the number of rows whose arg-max is the diagonal. `stride` and `step` walk a
/// row (1, n) or a column (n, 1) of the matrix.
fn diagonal_ce(
    logits: &[f32],
    n: usize,
    (stride, step): (usize, usize),
    weight: f32,
    grad: &mut [f32],
) -> (f64, usize) {
    let (mut loss, mut correct) = (0.0f64, 0usize);
    for i in 0..n {
        let at = |j: usize| i * stride + j * step;
        let mut best = 0;
        let mut max = f32::NEG_INFINITY;
        for j in 0..n {
            if logits[at(j)] > max {
                max = logits[at(j)];
                best = j;
            }
        }
        correct += usize::from(best == i);
        let sum: f32 = (0..n).map(|j| (logits[at(j)] - max).exp()).sum();
        let log_z = max + sum.ln();
        loss += f64::from(log_z - logits[at(i)]);
        for j in 0..n {
            let p = (logits[at(j)] - log_z).exp();
            grad[at(j)] += weight * (p - if j == i { 1.0 } else { 0.0 });
        }
    }
    (loss, correct)
}

/// Gradient of unit rows `u = x/|x|` pulled back to the raw rows `x`.
fn normalize_backward(unit: &[f32], norms: &[f32], du: &mut [f32], d: usize) {
    for ((u, g), norm) in unit.chunks_exact(d).zip(du.chunks_exact_mut(d)).zip(norms) {
        let dot: f32 = u.iter().zip(g.iter()).map(|(a, b)| a * b).sum();
        for (gj, uj) in g.iter_mut().zip(u) {
            *gj = (*gj - uj * dot) / norm;
        }
    }
}

/// CLIP's loss for paired rows `a`, `b` (both `[N, D]`, N ≥ 1) at logit scale
/// `exp(log_scale)`: logits = scale · cos(aᵢ, bⱼ), loss = ½(CE over rows +
/// CE over columns), each the mean over the N pairs.
pub fn clip_loss(a: &Tensor, b: &Tensor, log_scale: f32) -> ClipOutput {
    let (n, d) = (a.rows(), a.cols());
    assert_eq!(
        (b.rows(), b.cols()),
        (n, d),
        "clip_loss: paired batches of different shapes"
    );
    let (ua, na) = normalize(a);
    let (ub, nb) = normalize(b);
    let scale = log_scale.exp();
    let mut logits = vec![0.0; n * n];
    let (va, vb) = (View::rows(&ua, n, d), View::rows(&ub, n, d));
    matmul(&mut logits, n, va, vb.t(), false, Threads::Pool);
    logits.iter_mut().for_each(|v| *v *= scale);
    let weight = 0.5 / n.max(1) as f32;
    let mut g = vec![0.0; n * n];
    let (row_loss, a_to_b_correct) = diagonal_ce(&logits, n, (n, 1), weight, &mut g);
    let (col_loss, b_to_a_correct) = diagonal_ce(&logits, n, (1, n), weight, &mut g);
    let grad_log_scale = g.iter().zip(&logits).map(|(gi, li)| gi * li).sum();
    // Through logits = scale·S: dS = scale·G; dUa = dS·Ub, dUb = dSᵀ·Ua.
    g.iter_mut().for_each(|v| *v *= scale);
    let gv = View::rows(&g, n, n);
    let mut grad_a = vec![0.0; n * d];
    let mut grad_b = vec![0.0; n * d];
    matmul(&mut grad_a, d, gv, vb, false, Threads::Pool);
    matmul(&mut grad_b, d, gv.t(), va, false, Threads::Pool);
    normalize_backward(&ua, &na, &mut grad_a, d);
    normalize_backward(&ub, &nb, &mut grad_b, d);
    ClipOutput {
        loss: ((row_loss + col_loss) * f64::from(weight)) as f32,
        grad_a: Tensor::from_vec(&[n, d], grad_a),
        grad_b: Tensor::from_vec(&[n, d], grad_b),
        grad_log_scale,
        a_to_b_correct,
        b_to_a_correct,
    }
}

/// Retrieval hits both ways (a→b, b→a) for paired rows, by cosine similarity.
pub fn retrieval_hits(a: &Tensor, b: &Tensor) -> (usize, usize) {
    let out = clip_loss(a, b, 0.0);
    (out.a_to_b_correct, out.b_to_a_correct)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: usize, d: usize, seed: u32) -> Tensor {
        let data = (0..n * d)
            .map(|i| ((i as f32 + 1.0) * 0.618 + seed as f32 * 1.7).sin())
            .collect();
        Tensor::from_vec(&[n, d], data)
    }

    fn loss_at(a: &Tensor, b: &Tensor, s: f32) -> f64 {
        f64::from(clip_loss(a, b, s).loss)
    }

    fn close(analytic: f32, numeric: f64, what: &str) {
        let a = f64::from(analytic);
        let tol = 1e-2 * numeric.abs().max(a.abs()) + 1e-3;
        assert!(
            (a - numeric).abs() <= tol,
            "{what}: analytic {a} vs numeric {numeric}"
        );
    }

    #[test]
    fn gradients_match_central_differences() {
        let (a, b, s) = (batch(5, 4, 1), batch(5, 4, 2), 1.3);
        let out = clip_loss(&a, &b, s);
        let eps = 1e-3f32;
        for i in 0..a.len() {
            for (which, grad) in [(0, &out.grad_a), (1, &out.grad_b)] {
                let (mut p, mut m) = ([a.clone(), b.clone()], [a.clone(), b.clone()]);
                p[which].data[i] += eps;
                m[which].data[i] -= eps;
                let num =
                    (loss_at(&p[0], &p[1], s) - loss_at(&m[0], &m[1], s)) / (2.0 * f64::from(eps));
                close(grad.data[i], num, &format!("grad[{which}][{i}]"));
            }
        }
        let num = (loss_at(&a, &b, s + eps) - loss_at(&a, &b, s - eps)) / (2.0 * f64::from(eps));
        close(out.grad_log_scale, num, "grad_log_scale");
    }

    #[test]
    fn matched_pairs_give_low_loss_and_full_retrieval() {
        let a = batch(6, 8, 3);
        let out = clip_loss(&a, &a, MAX_LOG_SCALE);
        assert_eq!((out.a_to_b_correct, out.b_to_a_correct), (6, 6));
        let shuffled = clip_loss(&a, &batch(6, 8, 9), MAX_LOG_SCALE);
        assert!(
            out.loss < shuffled.loss,
            "{} vs {}",
            out.loss,
            shuffled.loss
        );
        // Uniform logits give ln N.
        let flat = clip_loss(&a, &a, -30.0);
        assert!((flat.loss - (6.0f32).ln()).abs() < 1e-4, "{}", flat.loss);
    }

    #[test]
    fn logit_scale_clamps_at_one_hundred() {
        let mut s = LogitScale::new(9.0);
        s.clamp();
        assert!((s.log_scale().exp() - 100.0).abs() < 1e-2);
        assert_eq!(LogitScale::default().log_scale(), INIT_LOG_SCALE);
    }
}
