//! Optimizers over a network's trainable params: AdamW (decoupled weight decay)
//! and SGD with momentum (L2 penalty added to the gradient, as PyTorch's SGD),
//! plus gradient clipping by global norm. Weight decay applies to
//! `ParamKind::Weight` only.

use crate::param::{Param, ParamKind};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OptimizerKind {
    /// PyTorch's defaults: betas (0.9, 0.999), eps 1e-8.
    AdamW {
        beta1: f32,
        beta2: f32,
        eps: f32,
    },
    Sgd {
        momentum: f32,
    },
}

impl OptimizerKind {
    pub fn adamw() -> OptimizerKind {
        OptimizerKind::AdamW {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// Holds per-param state in the order a network visits its params, which is
/// fixed for a network.
pub struct Optimizer {
    pub kind: OptimizerKind,
    pub weight_decay: f32,
    steps: i32,
    state: Vec<(Vec<f32>, Vec<f32>)>,
}

impl Optimizer {
    pub fn new(kind: OptimizerKind, weight_decay: f32) -> Optimizer {
        Optimizer {
            kind,
            weight_decay,
            steps: 0,
            state: Vec::new(),
        }
    }

    /// Starts an update at learning rate `lr`; call `update` on every param in
    /// visit order.
    pub fn begin(&mut self) {
        self.steps += 1;
    }

    /// Updates the `index`-th visited param (frozen params are skipped but keep
    /// their index).
    pub fn update(&mut self, index: usize, p: &mut Param, lr: f32) {
        if self.state.len() <= index {
            self.state.resize_with(index + 1, Default::default);
        }
        if !p.trainable() {
            return;
        }
        let decay = if p.kind == ParamKind::Weight {
            self.weight_decay
        } else {
            0.0
        };
        let (m, v) = &mut self.state[index];
        let n = p.value.len();
        match self.kind {
            OptimizerKind::AdamW { beta1, beta2, eps } => {
                m.resize(n, 0.0);
                v.resize(n, 0.0);
                let bc1 = 1.0 - beta1.powi(self.steps);
                let bc2 = 1.0 - beta2.powi(self.steps);
                let step = lr / bc1;
                let params = p
                    .value
                    .data
                    .iter_mut()
                    .zip(&p.grad)
                    .zip(m.iter_mut().zip(v.iter_mut()));
                for ((w, &g), (m, v)) in params {
                    *m = beta1 * *m + (1.0 - beta1) * g;
                    *v = beta2 * *v + (1.0 - beta2) * g * g;
                    *w -= lr * decay * *w;
                    *w -= step * *m / ((*v / bc2).sqrt() + eps);
                }
            }
            OptimizerKind::Sgd { momentum } => {
                m.resize(n, 0.0);
                for ((w, &g), m) in p.value.data.iter_mut().zip(&p.grad).zip(m.iter_mut()) {
                    let g = g + decay * *w;
                    // A fresh buffer is zero, so the first step is plain g, as in PyTorch.
                    *m = momentum * *m + g;
                    *w -= lr * *m;
                }
            }
        }
    }
}

/// The global L2 norm of all trainable gradients.
pub fn grad_norm<'a>(params: impl Iterator<Item = &'a Param>) -> f32 {
    params
        .filter(|p| p.trainable())
        .flat_map(|p| p.grad.iter())
        .map(|g| f64::from(*g) * f64::from(*g))
        .sum::<f64>()
        .sqrt() as f32
}

/// Factor that scales gradients of global norm `norm` down to `max_norm`
/// (1 when already within it or clipping is off).
pub fn clip_factor(norm: f32, max_norm: f32) -> f32 {
    if max_norm > 0.0 && norm > max_norm {
        max_norm / (norm + 1e-6)
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;

    fn param(w: f32, g: f32) -> Param {
        let mut p = Param::new(Tensor::from_vec(&[1], vec![w]), ParamKind::Weight);
        p.grad[0] = g;
        p
    }

    #[test]
    fn adamw_first_step_moves_by_lr_plus_decoupled_decay() {
        let mut opt = Optimizer::new(OptimizerKind::adamw(), 0.1);
        let mut p = param(2.0, 0.5);
        opt.begin();
        opt.update(0, &mut p, 0.01);
        // w·(1 − lr·wd) − lr·m̂/(√v̂ + eps), with m̂ = g and √v̂ = |g| on step 1.
        let want = 2.0 * (1.0 - 0.001) - 0.01 * 0.5 / (0.5 + 1e-8);
        assert!((p.value.data[0] - want).abs() < 1e-6, "{}", p.value.data[0]);
    }

    #[test]
    fn sgd_momentum_accumulates_velocity() {
        let mut opt = Optimizer::new(OptimizerKind::Sgd { momentum: 0.9 }, 0.0);
        let mut p = param(1.0, 1.0);
        opt.begin();
        opt.update(0, &mut p, 0.1);
        assert!((p.value.data[0] - 0.9).abs() < 1e-6);
        opt.begin();
        opt.update(0, &mut p, 0.1);
        assert!((p.value.data[0] - (0.9 - 0.1 * 1.9)).abs() < 1e-6);
    }

    #[test]
    fn frozen_params_and_buffers_never_move() {
        let mut opt = Optimizer::new(OptimizerKind::adamw(), 0.1);
        let mut p = param(1.0, 1.0);
        p.set_trainable(false);
        let mut b = Param::new(Tensor::from_vec(&[1], vec![3.0]), ParamKind::Buffer);
        opt.begin();
        opt.update(0, &mut p, 0.1);
        opt.update(1, &mut b, 0.1);
        assert_eq!((p.value.data[0], b.value.data[0]), (1.0, 3.0));
    }

    #[test]
    fn clipping_scales_down_to_the_limit_only() {
        assert_eq!(clip_factor(0.5, 1.0), 1.0);
        assert_eq!(clip_factor(5.0, 0.0), 1.0);
        assert!((clip_factor(4.0, 1.0) * 4.0 - 1.0).abs() < 1e-5);
    }
}
