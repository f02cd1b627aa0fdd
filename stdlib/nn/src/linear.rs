//! `Linear`: y = x·Wᵀ + b on the last dimension of rows `[N, D]` or tokens
//! `[N, T, D]`. W is `[out, in]` like PyTorch, so weights port directly.

use crate::init::{uniform, Rng8};
use crate::layer::{arch_layer, cached, join, Layer, Mode, Tensor};
use crate::matmul::{matmul, Threads, View};
use crate::param::{Param, ParamKind};
use crate::quant::FakeQuant;
use pipe_sim::arch;

pub struct Linear {
    pub in_features: usize,
    pub out_features: usize,
    /// `[out, in]`.
    pub weight: Param,
    pub bias: Option<Param>,
    /// Fake quantization of weights and inputs (straight-through backward).
    pub quant: Option<FakeQuant>,
    input: Option<Tensor>,
}

impl Linear {
    pub fn new(in_features: usize, out_features: usize, bias: bool, rng: &mut Rng8) -> Linear {
        let bound = 1.0 / (in_features.max(1) as f32).sqrt();
        Linear {
            in_features,
            out_features,
            weight: uniform(rng, &[out_features, in_features], bound, ParamKind::Weight),
            bias: bias.then(|| uniform(rng, &[out_features], bound, ParamKind::NoDecay)),
            quant: None,
            input: None,
        }
    }
}

impl Layer for Linear {
    fn forward(&mut self, mut x: Tensor, mode: Mode) -> Tensor {
        let rows = x.len() / self.in_features;
        if let Some(q) = &self.quant {
            q.activations(&mut x.data);
        }
        let w = match &self.quant {
            Some(q) => {
                std::borrow::Cow::Owned(q.weights(&self.weight.value.data, self.out_features))
            }
            None => std::borrow::Cow::Borrowed(&self.weight.value.data),
        };
        let mut shape = x.shape.clone();
        if let Some(last) = shape.last_mut() {
            *last = self.out_features;
        }
        let mut y = Tensor::zeros(&shape);
        if let Some(b) = &self.bias {
            for row in y.data.chunks_exact_mut(self.out_features) {
                row.copy_from_slice(&b.value.data);
            }
        }
        let xv = View::rows(&x.data, rows, self.in_features);
        let wt = View::rows(&w, self.out_features, self.in_features).t();
        matmul(
            &mut y.data,
            self.out_features,
            xv,
            wt,
            self.bias.is_some(),
            Threads::Pool,
        );
        if mode == Mode::Train {
            self.input = Some(x);
        }
        y
    }

    fn backward(&mut self, dy: Tensor) -> Tensor {
        let x = cached(&mut self.input, "Linear");
        let rows = dy.len() / self.out_features;
        let dyv = View::rows(&dy.data, rows, self.out_features);
        if self.weight.trainable() {
            let xv = View::rows(&x.data, rows, self.in_features);
            matmul(
                &mut self.weight.grad,
                self.in_features,
                dyv.t(),
                xv,
                true,
                Threads::Pool,
            );
        }
        if let Some(b) = self.bias.as_mut().filter(|b| b.trainable()) {
            for row in dy.data.chunks_exact(self.out_features) {
                b.accumulate(row);
            }
        }
        let mut dx = Tensor::zeros(&x.shape);
        let w = match &self.quant {
            Some(q) => {
                std::borrow::Cow::Owned(q.weights(&self.weight.value.data, self.out_features))
            }
            None => std::borrow::Cow::Borrowed(&self.weight.value.data),
        };
        let wv = View::rows(&w, self.out_features, self.in_features);
        matmul(
            &mut dx.data,
            self.in_features,
            dyv,
            wv,
            false,
            Threads::Pool,
        );
        dx
    }

    fn visit(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param)) {
        f(&join(prefix, "weight"), &mut self.weight);
        if let Some(b) = &mut self.bias {
            f(&join(prefix, "bias"), b);
        }
    }

    fn describe(&self, name: &str, input: &[usize], out: &mut Vec<arch::Layer>) -> Vec<usize> {
        let tokens = input[..input.len().saturating_sub(1)].iter().product();
        let mut layer = arch_layer(
            name,
            arch::Op::Linear {
                in_features: self.in_features,
                out_features: self.out_features,
                tokens,
            },
        );
        if let Some(q) = &self.quant {
            q.annotate(&mut layer);
        }
        out.push(layer);
        let mut shape = input.to_vec();
        if let Some(last) = shape.last_mut() {
            *last = self.out_features;
        }
        shape
    }

    fn clear_cache(&mut self) {
        self.input = None;
    }

    crate::layer_casts!();
}
