//! Weight initialisation from a seeded generator, PyTorch's defaults: uniform
//! in ±1/sqrt(fan_in) for linear and convolution weights and biases, and a
//! truncated-free normal(0, 0.02) for transformer embeddings.

use crate::param::{Param, ParamKind};
use crate::tensor::Tensor;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

pub type Rng8 = ChaCha8Rng;

pub fn uniform(rng: &mut Rng8, shape: &[usize], bound: f32, kind: ParamKind) -> Param {
    let n = shape.iter().product();
    let data = (0..n).map(|_| rng.gen_range(-bound..=bound)).collect();
    Param::new(Tensor::from_vec(shape, data), kind)
}

pub fn normal(rng: &mut Rng8, shape: &[usize], std: f32, kind: ParamKind) -> Param {
    let n = shape.iter().product();
    let data = (0..n)
        .map(|_| {
            // Box-Muller: two uniforms to one standard normal.
            let u1: f32 = rng.gen_range(f32::EPSILON..1.0);
            let u2: f32 = rng.gen_range(0.0..1.0);
            std * (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
        })
        .collect();
    Param::new(Tensor::from_vec(shape, data), kind)
}

pub fn constant(shape: &[usize], value: f32, kind: ParamKind) -> Param {
    let n = shape.iter().product();
    Param::new(Tensor::from_vec(shape, vec![value; n]), kind)
}
