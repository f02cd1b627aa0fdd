//! The optimisation loop that supervised training stages share: per epoch a
//! seeded shuffle of the sample indices, batches of `batch_size` in that order,
//! and after each batch one optimiser step at the scheduled learning rate with
//! gradient clipping. What a batch is (its tensors, loss and backward pass) is
//! the caller's hook; the loop never reads data or computes a loss itself.
//!
//! Generator draws happen in a fixed order: the shuffle at the start of every
//! epoch, then whatever the batch hook draws (augmentation), batch by batch,
//! from the same generator. A stage that moves onto this loop keeps its
//! numbers only if its own loop drew in this order.

use crate::init::Rng8;
use crate::network::Network;
use crate::optim::Optimizer;
use crate::train::TrainConfig;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// What the batch hook reports after its backward pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchLoss {
    /// Mean loss over the batch's samples.
    pub loss: f32,
    /// Correct predictions in the batch, in whatever unit the stage counts.
    pub correct: usize,
}

/// One epoch's sums, for the stage to turn into its curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochSums {
    /// 1-based.
    pub epoch: usize,
    /// Sum over samples of the batch mean loss times the batch's size.
    pub loss_sum: f64,
    pub correct: usize,
    /// The learning rate of the epoch's last step.
    pub lr: f32,
}

/// Trains `net` for `cfg.epochs` over `n` samples. `batch` gets the network,
/// the batch's sample indices and the run's generator; it builds the batch,
/// runs forward, loss and backward, and returns the batch's loss. `on_batch`
/// runs after every optimiser step with the number of steps done; an error
/// from either hook stops training and is returned.
pub fn run_epochs<E>(
    net: &mut Network,
    n: usize,
    cfg: &TrainConfig,
    mut batch: impl FnMut(&mut Network, &[usize], &mut Rng8) -> Result<BatchLoss, E>,
    mut on_batch: impl FnMut(usize) -> Result<(), E>,
) -> Result<Vec<EpochSums>, E> {
    let bs = cfg.batch_size.clamp(1, n.max(1));
    let schedule = cfg.lr_schedule(n.div_ceil(bs));
    let mut opt = Optimizer::new(cfg.optimizer, cfg.weight_decay);
    let mut rng = Rng8::seed_from_u64(cfg.seed);
    let mut order: Vec<usize> = (0..n).collect();
    let mut sums = Vec::with_capacity(cfg.epochs);
    let mut step = 0;
    for epoch in 0..cfg.epochs {
        order.shuffle(&mut rng);
        let (mut loss_sum, mut correct) = (0.0f64, 0usize);
        let mut lr = schedule.lr(step);
        for indices in order.chunks(bs) {
            let out = batch(net, indices, &mut rng)?;
            lr = schedule.lr(step);
            net.step(&mut opt, lr, cfg.clip);
            step += 1;
            loss_sum += f64::from(out.loss) * indices.len() as f64;
            correct += out.correct;
            on_batch(step)?;
        }
        sums.push(EpochSums {
            epoch: epoch + 1,
            loss_sum,
            correct,
            lr,
        });
    }
    Ok(sums)
}
