//! `Network`: a model as named blocks (the unit of top-k fine-tuning), built
//! from a `ModelSpec`. Forward takes sample-major images `[N, C, H, W]` and
//! gives logits `[N, classes]`; backward stops below the lowest block that has
//! a trainable param. Also the model files: weights as safetensors, and the
//! architecture descriptor for the simulators.

use crate::error::NnError;
use crate::layer::{Layer, Mode, Tensor};
use crate::models;
use crate::optim::{clip_factor, grad_norm, Optimizer};
use crate::param::Param;
use crate::sequential::Sequential;
use crate::spec::ModelSpec;
use pipe_sim::arch::Arch;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub struct Block {
    pub name: String,
    pub body: Sequential,
}

pub struct Network {
    pub spec: ModelSpec,
    pub blocks: Vec<Block>,
    /// Index of the first block the last train forward kept activations for.
    lowest_trained: usize,
}

impl Network {
    /// A freshly initialised network (weights from `spec.seed`).
    pub fn build(spec: &ModelSpec) -> Result<Network, NnError> {
        spec.validate()?;
        Ok(Network {
            spec: spec.clone(),
            blocks: models::build(spec),
            lowest_trained: 0,
        })
    }

    /// Rebuilds a saved network: the spec and its safetensors weights.
    pub fn load(spec: &ModelSpec, weights: &[u8]) -> Result<Network, NnError> {
        let mut net = Network::build(spec)?;
        net.load_weights(weights)?;
        Ok(net)
    }

    /// Logits `[N, classes]` for images `[N, C, H, W]`. In `Mode::Train`,
    /// blocks below the lowest trainable one run as in evaluation and keep
    /// nothing (their params get no gradient anyway).
    pub fn forward(&mut self, x: Tensor, mode: Mode) -> Tensor {
        in_pool(|| self.forward_with(x, mode, &mut |_, block, x, m| block.body.forward(x, m)))
    }

    /// `forward` with `run(index, block, input, mode)` doing each block's
    /// forward, so a caller can observe every block (memory measurement).
    pub fn forward_with(
        &mut self,
        mut x: Tensor,
        mode: Mode,
        run: &mut dyn FnMut(usize, &mut Block, Tensor, Mode) -> Tensor,
    ) -> Tensor {
        self.lowest_trained = if mode == Mode::Train {
            self.lowest_trainable_block()
        } else {
            self.blocks.len()
        };
        for (i, block) in self.blocks.iter_mut().enumerate() {
            let m = if i >= self.lowest_trained {
                mode
            } else {
                Mode::Eval
            };
            x = run(i, block, x, m);
        }
        x
    }

    /// Backpropagates the logits' gradient down to the lowest trainable block.
    pub fn backward(&mut self, mut dy: Tensor) {
        in_pool(|| {
            for block in self.blocks[self.lowest_trained..].iter_mut().rev() {
                dy = block.body.backward(dy);
            }
        })
    }

    /// The index of the lowest block with a trainable param (the block count
    /// when everything is frozen).
    pub fn lowest_trainable_block(&mut self) -> usize {
        let mut lowest = self.blocks.len();
        for (i, block) in self.blocks.iter_mut().enumerate().rev() {
            let mut any = false;
            block.body.visit("", &mut |_, p| any |= p.trainable());
            if any {
                lowest = i;
            }
        }
        lowest
    }

    /// Every param and buffer as `block.layer.param`, in a fixed order.
    pub fn visit(&mut self, f: &mut dyn FnMut(&str, &mut Param)) {
        for block in &mut self.blocks {
            block.body.visit(&block.name, f);
        }
    }

    pub fn zero_grad(&mut self) {
        self.visit(&mut |_, p| p.zero_grad());
    }

    /// Clips gradients to `max_norm` (0: off) and applies one optimizer step at
    /// `lr`. Returns the gradient norm before clipping.
    pub fn step(&mut self, opt: &mut Optimizer, lr: f32, max_norm: f32) -> f32 {
        step_params(&mut |f| self.visit(f), opt, lr, max_norm)
    }

    /// Trainable scalar count.
    pub fn trainable_params(&mut self) -> usize {
        let mut n = 0;
        self.visit(&mut |_, p| {
            if p.trainable() {
                n += p.value.len();
            }
        });
        n
    }

    /// The architecture descriptor with real per-sample shapes.
    pub fn arch(&self) -> Arch {
        let mut layers = Vec::new();
        let mut shape = self.spec.input.to_vec();
        for block in &self.blocks {
            shape = block.body.describe(&block.name, &shape, &mut layers);
        }
        Arch {
            name: self.spec.name().to_string(),
            input: self.spec.input.to_vec(),
            layers,
        }
    }

    /// All params and buffers as safetensors bytes (f32, little-endian).
    pub fn save_weights(&mut self) -> Result<Vec<u8>, NnError> {
        params_to_safetensors(&mut |f| self.visit(f))
    }

    /// Overwrites every param and buffer from safetensors bytes; every name must
    /// be present with the same shape.
    pub fn load_weights(&mut self, bytes: &[u8]) -> Result<(), NnError> {
        params_from_safetensors(bytes, &mut |f| self.visit(f))
    }
}

/// A visitor over named params: calls its argument on every param in a fixed
/// order (what `Network::visit` does), so models other than `Network` share the
/// weight files.
pub type VisitParams<'a> = dyn FnMut(&mut dyn FnMut(&str, &mut Param)) + 'a;

/// Clips the visited params' gradients to `max_norm` (0: off) and applies one
/// optimizer step at `lr`. Returns the gradient norm before clipping.
pub fn step_params(visit: &mut VisitParams, opt: &mut Optimizer, lr: f32, max_norm: f32) -> f32 {
    let mut sum = 0.0f64;
    visit(&mut |_, p| sum += f64::from(grad_norm(std::iter::once(&*p))).powi(2));
    let norm = sum.sqrt() as f32;
    let factor = clip_factor(norm, max_norm);
    opt.begin();
    let mut index = 0;
    visit(&mut |_, p| {
        if factor != 1.0 {
            p.grad.iter_mut().for_each(|g| *g *= factor);
        }
        opt.update(index, p, lr);
        index += 1;
    });
    norm
}

/// Runs `f` on a rayon pool thread while another pool thread stays awake to
/// take its parallel work. A caller outside the pool (a test, the benchmark,
/// a stage's own thread) would otherwise hand every layer's parallel loop to
/// the pool and sleep until it ends, two thread switches per layer. And a
/// worker with nothing to do falls asleep within microseconds; the next
/// layer's split then waits for it to wake, or runs alone when it does not
/// wake in time, which made sub-millisecond forwards up to twice as slow in
/// runs of many calls. So the second thread runs jobs as they appear
/// (`help_until`) until `f` returns, as OpenMP's workers spin between
/// parallel regions. Changes no result: only who runs each part.
fn in_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let done = AtomicBool::new(false);
    rayon::scope(|_| {
        let (out, ()) = rayon::join(
            || {
                // Set on return and on a panic alike: the helper must stop.
                let _stop = StopOnDrop(&done);
                f()
            },
            || help_until(&done),
        );
        out
    })
}

/// How long the helper of `in_pool` waits for work before it gives up.
const HELPER_PATIENCE: Duration = Duration::from_millis(1);

/// Runs pool jobs as they appear until `done`, or until none has appeared for
/// `HELPER_PATIENCE`. The time limit is what makes the helper safe: it must
/// never wait for a pass that cannot finish until the helper returns (rayon
/// lets a thread that waits run jobs of its own queue, this one included), so
/// it never waits long for anything.
fn help_until(done: &AtomicBool) {
    let mut last_work = Instant::now();
    while !done.load(Ordering::Acquire) {
        if rayon::yield_now() == Some(rayon::Yield::Executed) {
            last_work = Instant::now();
        } else if last_work.elapsed() > HELPER_PATIENCE {
            return;
        } else {
            std::hint::spin_loop();
        }
    }
}

/// Sets its flag when dropped.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Every visited param and buffer as safetensors bytes (f32, little-endian).
pub fn params_to_safetensors(visit: &mut VisitParams) -> Result<Vec<u8>, NnError> {
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    visit(&mut |name, p| {
        let bytes = p.value.data.iter().flat_map(|v| v.to_le_bytes()).collect();
        tensors.push((name.to_string(), p.value.shape.clone(), bytes));
    });
    let views = tensors
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(Dtype::F32, shape.clone(), bytes)
                .map(|v| (name.clone(), v))
                .map_err(|e| NnError::Weights(format!("`{name}`: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    safetensors::serialize(views, None).map_err(|e| NnError::Weights(e.to_string()))
}

/// Overwrites every visited param and buffer from safetensors bytes; every
/// name must be present with the same shape.
pub fn params_from_safetensors(bytes: &[u8], visit: &mut VisitParams) -> Result<(), NnError> {
    let file = SafeTensors::deserialize(bytes)
        .map_err(|e| NnError::Weights(format!("not a safetensors file: {e}")))?;
    let mut result = Ok(());
    visit(&mut |name, p| {
        if result.is_ok() {
            result = read_tensor(&file, name, p);
        }
    });
    result
}

fn read_tensor(file: &SafeTensors, name: &str, p: &mut Param) -> Result<(), NnError> {
    let view = file.tensor(name).map_err(|_| {
        NnError::Weights(format!(
            "`{name}` is missing; the file was saved from another configuration"
        ))
    })?;
    if view.dtype() != Dtype::F32 || view.shape() != p.value.shape.as_slice() {
        return Err(NnError::Weights(format!(
            "`{name}` is {:?} {:?}, the configuration needs F32 {:?}",
            view.dtype(),
            view.shape(),
            p.value.shape
        )));
    }
    for (v, c) in p.value.data.iter_mut().zip(view.data().chunks_exact(4)) {
        *v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    /// Passes running at once on a small pool, each with nested parallel
    /// work and each with its helper, all finish with the right result.
    #[test]
    fn concurrent_passes_with_nested_parallel_work_finish() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .expect("a test pool");
        pool.install(|| {
            (0..64usize).into_par_iter().for_each(|i| {
                let sum = in_pool(|| (0..1000usize).into_par_iter().map(|x| x * i).sum::<usize>());
                assert_eq!(sum, i * 499_500);
            });
        });
    }
}
