//! Sandwich-rule training of a slimmable network (Yu & Huang's universally
//! slimmable networks, as Joslim trains its weight-shared models): every step
//! runs the largest width on the labels, then the smallest and `random_widths`
//! randomly drawn widths, each learning the largest width's softened outputs
//! (in-place distillation) or the labels; their gradients add up in the
//! shared weights before one optimizer step; after the last one every width's
//! batch-norm statistics are recalibrated (`slim::recalibrate`). Deterministic for a seed at a
//! fixed thread count. Never measures latency or touches files.

use crate::init::Rng8;
use crate::layer::{Mode, Tensor};
use crate::loss::{argmax, cross_entropy};
use crate::network::Network;
use crate::optim::Optimizer;
use crate::slim::recalibrate::{recalibrate, BATCH as RECALIBRATION_BATCH};
use crate::slim::{select_width, widths};
use crate::train::{classify, gather, Images, TrainConfig};
use rand::seq::SliceRandom;
use rand::SeedableRng;

#[derive(Debug, Clone, PartialEq)]
pub struct SandwichConfig {
    pub train: TrainConfig,
    /// Widths drawn per step besides the largest and smallest.
    pub random_widths: usize,
    /// In-place distillation from the largest width (else labels for all).
    pub distill: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SandwichEpoch {
    pub epoch: usize,
    /// Mean cross-entropy of the largest width on its training batches.
    pub loss: f32,
    /// Training-batch accuracy of the largest and the smallest width.
    pub accuracy_largest: f32,
    pub accuracy_smallest: f32,
    pub lr: f32,
}

/// Soft-target cross-entropy `−Σ t·log softmax(z)` (mean over rows) and its
/// gradient; `targets` are probabilities, rows of `logits.cols()`.
fn soft_cross_entropy(logits: &Tensor, targets: &[f32]) -> Tensor {
    let k = logits.cols().max(1);
    let n = (logits.len() / k).max(1) as f32;
    let mut grad = Tensor::zeros(&logits.shape);
    for ((row, t), g) in logits
        .data
        .chunks_exact(k)
        .zip(targets.chunks_exact(k))
        .zip(grad.data.chunks_exact_mut(k))
    {
        let p = softmax(row);
        for ((gj, pj), tj) in g.iter_mut().zip(p).zip(t) {
            *gj = (pj - tj) / n;
        }
    }
    grad
}

fn softmax(row: &[f32]) -> Vec<f32> {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let e: Vec<f32> = row.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = e.iter().sum();
    e.into_iter().map(|v| v / sum).collect()
}

/// The widths (indices) one step trains after the largest: the smallest, then
/// `count` draws among the widths strictly between (among all when there are none).
fn step_widths(n: usize, count: usize, rng: &mut Rng8) -> Vec<usize> {
    if n < 2 {
        return Vec::new();
    }
    let middle: Vec<usize> = (1..n - 1).collect();
    let pool: Vec<usize> = if middle.is_empty() {
        (0..n).collect()
    } else {
        middle
    };
    let mut out = vec![0];
    out.extend((0..count).filter_map(|_| pool.choose(rng).copied()));
    out
}

/// The number of widths (1 for a network that is not slimmable).
fn width_count(net: &Network) -> usize {
    widths(&net.spec).map_or(1, <[f64]>::len)
}

/// Trains `net` in place with the sandwich rule; `on_batch` runs after every
/// optimizer step and may stop training. Then recalibrates every width's
/// batch-norm statistics on the (unaugmented) training images. A network that
/// is not slimmable has one width and trains as plain supervised learning.
/// Leaves the network at its largest width.
pub fn train<E>(
    net: &mut Network,
    data: Images,
    cfg: &SandwichConfig,
    mut on_batch: impl FnMut(usize) -> Result<(), E>,
) -> Result<Vec<SandwichEpoch>, E> {
    let count = width_count(net);
    let largest = count - 1;
    let t = &cfg.train;
    let n = data.len();
    let bs = t.batch_size.clamp(1, n.max(1));
    let schedule = t.lr_schedule(n.div_ceil(bs));
    let mut opt = Optimizer::new(t.optimizer, t.weight_decay);
    let mut rng = Rng8::seed_from_u64(t.seed);
    let mut width_rng = Rng8::seed_from_u64(t.seed ^ 0x5A4D_5749_4454_4853);
    let mut order: Vec<usize> = (0..n).collect();
    let mut curve = Vec::with_capacity(t.epochs);
    let mut step = 0;
    for epoch in 0..t.epochs {
        order.shuffle(&mut rng);
        let (mut loss_sum, mut big_ok, mut small_ok) = (0.0f64, 0usize, 0usize);
        let mut lr = schedule.lr(step);
        for batch in order.chunks(bs) {
            let x = gather(data, batch, t.augment.then_some(&mut rng));
            let labels: Vec<u32> = batch.iter().map(|&i| data.y[i]).collect();
            net.zero_grad();
            select_width(net, largest);
            let logits = net.forward(x.clone(), Mode::Train);
            let out = cross_entropy(&logits, &labels, t.label_smoothing);
            net.backward(out.grad);
            loss_sum += f64::from(out.loss) * batch.len() as f64;
            big_ok += out.correct;
            let teacher: Vec<f32> = logits
                .data
                .chunks_exact(logits.cols().max(1))
                .flat_map(softmax)
                .collect();
            for (k, w) in step_widths(count, cfg.random_widths, &mut width_rng)
                .into_iter()
                .enumerate()
            {
                select_width(net, w);
                let logits = net.forward(x.clone(), Mode::Train);
                if k == 0 {
                    small_ok += correct(&logits, &labels);
                }
                let grad = if cfg.distill {
                    soft_cross_entropy(&logits, &teacher)
                } else {
                    cross_entropy(&logits, &labels, t.label_smoothing).grad
                };
                net.backward(grad);
            }
            select_width(net, largest);
            lr = schedule.lr(step);
            net.step(&mut opt, lr, t.clip);
            step += 1;
            on_batch(step)?;
        }
        let denom = n.max(1) as f32;
        curve.push(SandwichEpoch {
            epoch: epoch + 1,
            loss: (loss_sum / n.max(1) as f64) as f32,
            accuracy_largest: big_ok as f32 / denom,
            accuracy_smallest: if count > 1 {
                small_ok as f32 / denom
            } else {
                big_ok as f32 / denom
            },
            lr,
        });
    }
    recalibrate(net, data, RECALIBRATION_BATCH);
    Ok(curve)
}

fn correct(logits: &Tensor, labels: &[u32]) -> usize {
    logits
        .data
        .chunks_exact(logits.cols().max(1))
        .zip(labels)
        .filter(|(row, &y)| argmax(row) == y as usize)
        .count()
}

/// Accuracy of every width (ascending; one entry for a network that is not
/// slimmable) on labelled images, in evaluation mode; leaves the network at
/// its largest width.
pub fn accuracy_per_width(net: &mut Network, x: &[f32], y: &[u32]) -> Vec<f32> {
    let count = width_count(net);
    let mut out = Vec::with_capacity(count);
    for w in 0..count {
        select_width(net, w);
        let predicted = classify(net, x, 256);
        let ok = predicted.iter().zip(y).filter(|(p, t)| p == t).count();
        out.push(ok as f32 / y.len().max(1) as f32);
    }
    select_width(net, count - 1);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_targets_equal_to_the_prediction_give_no_gradient() {
        let logits = Tensor::from_vec(&[2, 3], vec![1.0, 2.0, 0.5, -1.0, 0.0, 3.0]);
        let targets: Vec<f32> = logits.data.chunks_exact(3).flat_map(softmax).collect();
        let g = soft_cross_entropy(&logits, &targets);
        assert!(g.data.iter().all(|v| v.abs() < 1e-6), "{:?}", g.data);
        let one_hot = [0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        let g = soft_cross_entropy(&logits, &one_hot);
        let hard = cross_entropy(&logits, &[1, 2], 0.0).grad;
        for (a, b) in g.data.iter().zip(&hard.data) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn each_step_trains_the_smallest_and_draws_from_the_middle() {
        let mut rng = Rng8::seed_from_u64(1);
        for _ in 0..20 {
            let w = step_widths(4, 2, &mut rng);
            assert_eq!(w.len(), 3);
            assert_eq!(w[0], 0);
            assert!(w[1..].iter().all(|&i| i == 1 || i == 2), "{w:?}");
        }
        assert_eq!(step_widths(2, 2, &mut rng).len(), 3);
        assert!(step_widths(1, 2, &mut rng).is_empty());
    }
}
