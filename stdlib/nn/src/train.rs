//! The supervised training loop and batched inference over labelled images
//! `[N, C, H, W]`, held in memory or read batch by batch from a
//! [`SampleSource`] (a folder larger than memory). Deterministic for a seed at a
//! fixed thread count: the shuffle, augmentation and dropout all draw from
//! seeded generators, and a source yields the same values as the in-memory set
//! it stands for. The caller observes and may stop it through a per-batch
//! callback.

use crate::init::Rng8;
use crate::layer::{Mode, Tensor};
use crate::loss::{argmax, cross_entropy};
use crate::network::Network;
use crate::optim::OptimizerKind;
use crate::schedule::{Schedule, ScheduleKind};
use crate::train_loop::{run_epochs, BatchLoss};
use rand::Rng;

/// Labelled images, sample-major.
#[derive(Clone, Copy)]
pub struct Images<'a> {
    pub x: &'a [f32],
    pub y: &'a [u32],
    /// Channels, height, width of one sample.
    pub shape: [usize; 3],
}

impl Images<'_> {
    pub fn len(&self) -> usize {
        self.y.len()
    }

    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    fn sample_len(&self) -> usize {
        self.shape.iter().product()
    }
}

/// Why a source could not produce a batch (a file vanished or no longer decodes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SampleError(pub String);

/// Labelled samples that are read a batch at a time: the training loop and
/// inference see only this, so a set need not fit in memory.
pub trait SampleSource: Sync {
    fn labels(&self) -> &[u32];
    /// Channels, height, width of one sample.
    fn shape(&self) -> [usize; 3];
    /// The samples at `indices`, in that order, sample-major.
    fn read(&self, indices: &[usize]) -> Result<Vec<f32>, SampleError>;

    fn len(&self) -> usize {
        self.labels().len()
    }

    fn is_empty(&self) -> bool {
        self.labels().is_empty()
    }
}

impl SampleSource for Images<'_> {
    fn labels(&self) -> &[u32] {
        self.y
    }

    fn shape(&self) -> [usize; 3] {
        self.shape
    }

    fn read(&self, indices: &[usize]) -> Result<Vec<f32>, SampleError> {
        Ok(copy_samples(self, indices))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f32,
    pub optimizer: OptimizerKind,
    pub weight_decay: f32,
    pub schedule: ScheduleKind,
    pub warmup_epochs: usize,
    /// Global gradient-norm clip; 0 turns it off.
    pub clip: f32,
    pub label_smoothing: f32,
    pub augment: bool,
    pub seed: u64,
}

impl TrainConfig {
    /// The learning rate by step for a run of `steps_per_epoch` steps an epoch:
    /// the one place a schedule is built from the optimisation settings.
    pub fn lr_schedule(&self, steps_per_epoch: usize) -> Schedule {
        Schedule {
            kind: self.schedule,
            base_lr: self.lr,
            warmup_epochs: self.warmup_epochs,
            epochs: self.epochs,
            steps_per_epoch,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochStats {
    pub epoch: usize,
    pub loss: f32,
    pub accuracy: f32,
    pub lr: f32,
}

/// Trains `net` in place. `on_batch` runs after every optimisation step with
/// the number of steps done; an error from it, or a batch the source cannot
/// read, stops training and is returned.
pub fn train<E: From<SampleError>>(
    net: &mut Network,
    data: &dyn SampleSource,
    cfg: &TrainConfig,
    on_batch: impl FnMut(usize) -> Result<(), E>,
) -> Result<Vec<EpochStats>, E> {
    let n = data.len();
    let sums = run_epochs(
        net,
        n,
        cfg,
        |net, batch, rng| {
            let samples = data.read(batch)?;
            let x = augmented(samples, data.shape(), cfg.augment.then_some(rng));
            let labels: Vec<u32> = batch.iter().map(|&i| data.labels()[i]).collect();
            net.zero_grad();
            let logits = net.forward(x, Mode::Train);
            let out = cross_entropy(&logits, &labels, cfg.label_smoothing);
            net.backward(out.grad);
            Ok(BatchLoss {
                loss: out.loss,
                correct: out.correct,
            })
        },
        on_batch,
    )?;
    Ok(sums
        .iter()
        .map(|s| EpochStats {
            epoch: s.epoch,
            loss: (s.loss_sum / n.max(1) as f64) as f32,
            accuracy: s.correct as f32 / n.max(1) as f32,
            lr: s.lr,
        })
        .collect())
}

/// The batch `[B, C, H, W]` of samples `indices`, randomly shifted (and, for
/// colour images, flipped) when a generator is given.
pub(crate) fn gather(data: Images, indices: &[usize], rng: Option<&mut Rng8>) -> Tensor {
    augmented(copy_samples(&data, indices), data.shape, rng)
}

fn copy_samples(data: &Images, indices: &[usize]) -> Vec<f32> {
    let len = data.sample_len();
    let mut x = Vec::with_capacity(indices.len() * len);
    for &i in indices {
        x.extend_from_slice(&data.x[i * len..(i + 1) * len]);
    }
    x
}

/// `x` (sample-major, `shape` each) as a batch tensor, each sample augmented
/// when a generator is given.
fn augmented(mut x: Vec<f32>, shape: [usize; 3], rng: Option<&mut Rng8>) -> Tensor {
    let len: usize = shape.iter().product();
    if let Some(rng) = rng {
        for sample in x.chunks_exact_mut(len.max(1)) {
            augment(sample, shape, rng);
        }
    }
    let [c, h, w] = shape;
    Tensor::from_vec(&[x.len() / len.max(1), c, h, w], x)
}

/// Random crop after zero padding (pad 2, or 1 below 16 pixels) and, for images
/// with 3+ channels, a horizontal flip with probability 1/2. Digits are not
/// flipped: a mirrored digit is another symbol.
fn augment(sample: &mut [f32], [c, h, w]: [usize; 3], rng: &mut Rng8) {
    let pad = if h.min(w) < 16 { 1 } else { 2 } as isize;
    let dy = rng.gen_range(-pad..=pad);
    let dx = rng.gen_range(-pad..=pad);
    let flip = c >= 3 && rng.gen_bool(0.5);
    let src = sample.to_vec();
    for ch in 0..c {
        for y in 0..h {
            for x in 0..w {
                let sy = y as isize + dy;
                let sx0 = x as isize + dx;
                let sx = if flip { w as isize - 1 - sx0 } else { sx0 };
                let inside = sy >= 0 && sy < h as isize && sx >= 0 && sx < w as isize;
                sample[(ch * h + y) * w + x] = if inside {
                    src[(ch * h + sy as usize) * w + sx as usize]
                } else {
                    0.0
                };
            }
        }
    }
}

/// Logits `[N, classes]` in evaluation mode, `batch` samples at a time.
pub fn predict(net: &mut Network, x: &[f32], batch: usize) -> Tensor {
    let [c, h, w] = net.spec.input;
    let len = c * h * w;
    let n = x.len() / len.max(1);
    let classes = net.spec.classes;
    let mut out = Vec::with_capacity(n * classes);
    for chunk in x.chunks(batch.max(1) * len) {
        let b = chunk.len() / len;
        let logits = net.forward(Tensor::from_vec(&[b, c, h, w], chunk.to_vec()), Mode::Eval);
        out.extend_from_slice(&logits.data);
    }
    Tensor::from_vec(&[n, classes], out)
}

/// Predicted class per sample.
pub fn classify(net: &mut Network, x: &[f32], batch: usize) -> Vec<u32> {
    let logits = predict(net, x, batch);
    logits
        .data
        .chunks_exact(logits.cols().max(1))
        .map(|r| argmax(r) as u32)
        .collect()
}

/// Predicted class per sample of `data`, read `batch` samples at a time: the
/// same batches, so the same classes, as [`classify`] over the set in memory.
pub fn classify_source(
    net: &mut Network,
    data: &dyn SampleSource,
    batch: usize,
) -> Result<Vec<u32>, SampleError> {
    let all: Vec<usize> = (0..data.len()).collect();
    let mut out = Vec::with_capacity(all.len());
    for chunk in all.chunks(batch.max(1)) {
        out.extend(classify(net, &data.read(chunk)?, batch));
    }
    Ok(out)
}
