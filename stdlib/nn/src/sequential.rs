//! Composites: `Sequential` (named layers in order), `Residual` (x + f(x)) and
//! `SqueezeExcite` (channel gating of `[C, N, H, W]` images by a small MLP on
//! their global average).

use crate::activation::{Act, Activation};
use crate::init::Rng8;
use crate::layer::{arch_layer, cached, join, Layer, Mode, Tensor};
use crate::linear::Linear;
use crate::param::Param;
use crate::pool::GlobalAvgPool;
use pipe_sim::arch;

#[derive(Default)]
pub struct Sequential {
    pub layers: Vec<(String, Box<dyn Layer>)>,
}

impl Sequential {
    pub fn new() -> Sequential {
        Sequential::default()
    }

    pub fn push(&mut self, name: impl Into<String>, layer: impl Layer + 'static) {
        self.layers.push((name.into(), Box::new(layer)));
    }
}

impl Layer for Sequential {
    fn forward(&mut self, mut x: Tensor, mode: Mode) -> Tensor {
        for (_, layer) in &mut self.layers {
            x = layer.forward(x, mode);
        }
        x
    }

    fn backward(&mut self, mut dy: Tensor) -> Tensor {
        for (_, layer) in self.layers.iter_mut().rev() {
            dy = layer.backward(dy);
        }
        dy
    }

    fn visit(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param)) {
        for (name, layer) in &mut self.layers {
            layer.visit(&join(prefix, name), f);
        }
    }

    fn describe(&self, name: &str, input: &[usize], out: &mut Vec<arch::Layer>) -> Vec<usize> {
        let mut shape = input.to_vec();
        for (child, layer) in &self.layers {
            shape = layer.describe(&join(name, child), &shape, out);
        }
        shape
    }

    fn for_each_layer(&mut self, f: &mut dyn FnMut(&mut dyn Layer)) {
        f(self);
        for (_, layer) in &mut self.layers {
            layer.for_each_layer(f);
        }
    }

    fn clear_cache(&mut self) {
        self.layers.iter_mut().for_each(|(_, l)| l.clear_cache());
    }

    crate::layer_casts!();
}

/// `x + body(x)`; the body must keep the shape.
pub struct Residual {
    pub body: Sequential,
}

impl Layer for Residual {
    fn forward(&mut self, x: Tensor, mode: Mode) -> Tensor {
        let mut y = self.body.forward(x.clone(), mode);
        y.data.iter_mut().zip(&x.data).for_each(|(a, b)| *a += b);
        y
    }

    fn backward(&mut self, dy: Tensor) -> Tensor {
        let mut dx = self.body.backward(dy.clone());
        dx.data.iter_mut().zip(&dy.data).for_each(|(a, b)| *a += b);
        dx
    }

    fn visit(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param)) {
        self.body.visit(prefix, f);
    }

    fn describe(&self, name: &str, input: &[usize], out: &mut Vec<arch::Layer>) -> Vec<usize> {
        let shape = self.body.describe(name, input, out);
        let elements = shape.iter().product();
        out.push(arch_layer(
            &join(name, "add"),
            arch::Op::Elementwise { elements },
        ));
        shape
    }

    fn for_each_layer(&mut self, f: &mut dyn FnMut(&mut dyn Layer)) {
        f(self);
        self.body.for_each_layer(f);
    }

    fn clear_cache(&mut self) {
        self.body.clear_cache();
    }

    crate::layer_casts!();
}

/// Squeeze-and-excite: y = x · hardsigmoid(W₂ relu(W₁ gap(x))), per channel.
pub struct SqueezeExcite {
    pub gate: Sequential,
    pool: GlobalAvgPool,
    /// The input and the gate values `[N, C]`.
    saved: Option<(Tensor, Tensor)>,
}

impl SqueezeExcite {
    pub fn new(channels: usize, reduced: usize, rng: &mut Rng8) -> SqueezeExcite {
        let mut gate = Sequential::new();
        gate.push("fc1", Linear::new(channels, reduced, true, rng));
        gate.push("relu", Activation::new(Act::Relu));
        gate.push("fc2", Linear::new(reduced, channels, true, rng));
        gate.push("gate", Activation::new(Act::HardSigmoid));
        SqueezeExcite {
            gate,
            pool: GlobalAvgPool::new(),
            saved: None,
        }
    }
}

/// Multiplies each `[H, W]` plane of `[C, N, H, W]` by `s[n, c]`.
fn scale_planes(x: &mut Tensor, s: &[f32]) {
    let (c, n) = (x.shape[0], x.shape[1]);
    let hw = x.len() / (c * n).max(1);
    for (pi, plane) in x.data.chunks_exact_mut(hw).enumerate() {
        let g = s[(pi % n) * c + pi / n];
        plane.iter_mut().for_each(|v| *v *= g);
    }
}

impl Layer for SqueezeExcite {
    fn forward(&mut self, x: Tensor, mode: Mode) -> Tensor {
        let pooled = self.pool.forward(x.clone(), mode);
        let s = self.gate.forward(pooled, mode);
        let mut y = x.clone();
        scale_planes(&mut y, &s.data);
        if mode == Mode::Train {
            self.saved = Some((x, s));
        }
        y
    }

    fn backward(&mut self, dy: Tensor) -> Tensor {
        let (x, s) = cached(&mut self.saved, "SqueezeExcite");
        let (c, n) = (x.shape[0], x.shape[1]);
        let hw = x.len() / (c * n).max(1);
        let mut ds = Tensor::zeros(&s.shape);
        for (pi, (dp, xp)) in dy
            .data
            .chunks_exact(hw)
            .zip(x.data.chunks_exact(hw))
            .enumerate()
        {
            ds.data[(pi % n) * c + pi / n] = dp.iter().zip(xp).map(|(a, b)| a * b).sum();
        }
        let dpooled = self.gate.backward(ds);
        let mut dx = self.pool.backward(dpooled);
        let mut direct = dy;
        scale_planes(&mut direct, &s.data);
        dx.data
            .iter_mut()
            .zip(&direct.data)
            .for_each(|(a, b)| *a += b);
        dx
    }

    fn visit(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param)) {
        self.gate.visit(prefix, f);
    }

    fn describe(&self, name: &str, input: &[usize], out: &mut Vec<arch::Layer>) -> Vec<usize> {
        let pooled = self.pool.describe(&join(name, "pool"), input, out);
        self.gate.describe(name, &pooled, out);
        let elements = input.iter().product();
        out.push(arch_layer(
            &join(name, "scale"),
            arch::Op::Elementwise { elements },
        ));
        input.to_vec()
    }

    fn for_each_layer(&mut self, f: &mut dyn FnMut(&mut dyn Layer)) {
        f(self);
        self.gate.for_each_layer(f);
    }

    fn clear_cache(&mut self) {
        self.saved = None;
        self.pool.clear_cache();
        self.gate.clear_cache();
    }

    crate::layer_casts!();
}
