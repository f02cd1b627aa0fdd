//! `Param`: a named tensor a layer owns, with its gradient and the flags that
//! optimizers and fine-tuning methods read (trainable, weight decay, buffer).

use crate::tensor::Tensor;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// Multiplicative weights (linear, conv): weight decay applies.
    Weight,
    /// Biases, norm scales and shifts, embeddings: no weight decay (the
    /// project's own default, the usual practice for AdamW).
    NoDecay,
    /// State saved with the model but never optimized (BatchNorm running stats).
    Buffer,
}

#[derive(Debug, Clone)]
pub struct Param {
    pub value: Tensor,
    /// Same length as `value` for trainable params, empty otherwise.
    pub grad: Vec<f32>,
    pub kind: ParamKind,
    trainable: bool,
}

impl Param {
    pub fn new(value: Tensor, kind: ParamKind) -> Param {
        let mut p = Param {
            value,
            grad: Vec::new(),
            kind,
            trainable: false,
        };
        p.set_trainable(kind != ParamKind::Buffer);
        p
    }

    pub fn trainable(&self) -> bool {
        self.trainable
    }

    /// Freezes or unfreezes; a frozen param keeps no gradient buffer, and layers
    /// skip computing its gradient. Buffers never train.
    pub fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable && self.kind != ParamKind::Buffer;
        if self.trainable {
            self.grad.resize(self.value.len(), 0.0);
        } else {
            self.grad = Vec::new();
        }
    }

    pub fn zero_grad(&mut self) {
        self.grad.fill(0.0);
    }

    /// Adds `g` to the gradient when trainable.
    pub fn accumulate(&mut self, g: &[f32]) {
        if self.trainable {
            for (a, b) in self.grad.iter_mut().zip(g) {
                *a += b;
            }
        }
    }
}
