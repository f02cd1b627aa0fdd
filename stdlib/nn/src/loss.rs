//! Softmax cross-entropy over rows of logits `[N, K]`, with optional label
//! smoothing; returns the mean loss, its gradient and the number of correct
//! arg-max predictions.

use crate::tensor::Tensor;

pub struct LossOutput {
    pub loss: f32,
    pub grad: Tensor,
    pub correct: usize,
}

/// Index of the largest value (the first on ties).
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

pub fn cross_entropy(logits: &Tensor, labels: &[u32], smoothing: f32) -> LossOutput {
    let k = logits.cols();
    let n = labels.len().max(1);
    let mut grad = Tensor::zeros(&logits.shape);
    let mut loss = 0.0f64;
    let mut correct = 0;
    let off = smoothing / k as f32;
    for ((row, g), &y) in logits
        .data
        .chunks_exact(k)
        .zip(grad.data.chunks_exact_mut(k))
        .zip(labels)
    {
        let y = y as usize;
        correct += usize::from(argmax(row) == y);
        let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let sum: f32 = row.iter().map(|v| (v - max).exp()).sum();
        let log_z = max + sum.ln();
        for (j, (gj, &v)) in g.iter_mut().zip(row).enumerate() {
            let target = off + if j == y { 1.0 - smoothing } else { 0.0 };
            loss -= f64::from(target * (v - log_z));
            *gj = ((v - log_z).exp() - target) / n as f32;
        }
    }
    LossOutput {
        loss: (loss / n as f64) as f32,
        grad,
        correct,
    }
}
