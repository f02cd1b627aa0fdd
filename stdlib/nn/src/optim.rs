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
                for i in 0..n {
                    let g = p.grad[i];
                    m[i] = beta1 * m[i] + (1.0 - beta1) * g;
                    v[i] = beta2 * v[i] + (1.0 - beta2) * g * g;
                    let w = &mut p.value.data[i];
                    *w -= lr * decay * *w;
                    *w -= step * m[i] / ((v[i] / bc2).sqrt() + eps);
                }
            }
            OptimizerKind::Sgd { momentum } => {
                m.resize(n, 0.0);
                for i in 0..n {
                    let g = p.grad[i] + decay * p.value.data[i];
                    m[i] = if self.steps == 1 {
                        g
                    } else {
                        momentum * m[i] + g
                    };
                    p.value.data[i] -= lr * m[i];
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
