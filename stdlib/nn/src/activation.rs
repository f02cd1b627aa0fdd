//! Elementwise activations: ReLU, ReLU6, GELU (tanh form), Hard-Swish and
//! Hard-Sigmoid, on any layout. Backward recomputes the derivative from the
//! kept input, or (MobileTL) gates the gradient with a packed 1-bit mask kept
//! instead of the input: exact for ReLU and ReLU6, a documented surrogate for
//! Hard-Swish (`HardSwishMask`).
//!
//! GELU's tanh is `approx::tanh`, not libm's `tanhf`: the loops vectorize, and
//! results no longer depend on the C library's version.

use crate::approx;
use crate::avx2;
use crate::bitmask::BitMask;
use crate::error::NnError;
use crate::layer::{cached, describe_elementwise, Layer, Mode, Tensor};
use pipe_sim::arch;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Elements per parallel chunk; fixed, so results never depend on thread count.
const CHUNK: usize = 1 << 14;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Act {
    Relu,
    Relu6,
    /// The tanh approximation (PyTorch's `approximate="tanh"`).
    Gelu,
    HardSwish,
    HardSigmoid,
}

const GELU_C: f32 = 0.797_884_6; // sqrt(2/pi)
const GELU_A: f32 = 0.044_715;

impl Act {
    #[inline(always)]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Act::Relu => x.max(0.0),
            Act::Relu6 => x.clamp(0.0, 6.0),
            Act::Gelu => 0.5 * x * (1.0 + approx::tanh(GELU_C * (x + GELU_A * x * x * x))),
            Act::HardSwish => x * (x + 3.0).clamp(0.0, 6.0) / 6.0,
            Act::HardSigmoid => (x + 3.0).clamp(0.0, 6.0) / 6.0,
        }
    }

    #[inline(always)]
    pub fn derivative(self, x: f32) -> f32 {
        match self {
            Act::Relu => f32::from(x > 0.0),
            Act::Relu6 => f32::from(x > 0.0 && x < 6.0),
            Act::Gelu => {
                let t = approx::tanh(GELU_C * (x + GELU_A * x * x * x));
                0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * GELU_C * (1.0 + 3.0 * GELU_A * x * x)
            }
            Act::HardSwish => {
                if x <= -3.0 {
                    0.0
                } else if x >= 3.0 {
                    1.0
                } else {
                    (2.0 * x + 3.0) / 6.0
                }
            }
            Act::HardSigmoid => {
                if x > -3.0 && x < 3.0 {
                    1.0 / 6.0
                } else {
                    0.0
                }
            }
        }
    }
}

/// The 1-bit stand-in for Hard-Swish's derivative h'(x) (0 below −3, (2x+3)/6
/// on [−3, 3], 1 above 3) in a packed-mask backward. MobileTL says only that it
/// approximates the derivative "as a signed function"; which step it uses is not
/// published (docs/papers.md section 3), so both candidates are offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HardSwishMask {
    /// 1[x > −1.5]: the sign of h' (the project's default).
    Sign,
    /// 1[x > 0].
    Step,
}

impl Act {
    /// The bit a packed-mask backward keeps per input: the derivative itself for
    /// ReLU and ReLU6, `hswish`'s surrogate for Hard-Swish, and `None` where the
    /// derivative is not a 0/1 step (GELU, Hard-Sigmoid).
    pub fn mask_rule(self, hswish: HardSwishMask) -> Option<fn(f32) -> bool> {
        match (self, hswish) {
            (Act::Relu, _) => Some(|x| x > 0.0),
            (Act::Relu6, _) => Some(|x| x > 0.0 && x < 6.0),
            (Act::HardSwish, HardSwishMask::Sign) => Some(|x| x > -1.5),
            (Act::HardSwish, HardSwishMask::Step) => Some(|x| x > 0.0),
            (Act::Gelu | Act::HardSigmoid, _) => None,
        }
    }
}

/// `out[i] = act(x[i])`, or `out[i] = act(out[i])` in place when `x` is
/// `None`. The activation is matched once, outside the loop, so each arm's
/// loop is compiled for one function and vectorizes.
#[inline(always)]
fn apply_chunk(act: Act, out: &mut [f32], x: Option<&[f32]>) {
    #[inline(always)]
    fn run(out: &mut [f32], x: Option<&[f32]>, f: impl Fn(f32) -> f32) {
        match x {
            Some(x) => out.iter_mut().zip(x).for_each(|(o, &x)| *o = f(x)),
            None => out.iter_mut().for_each(|o| *o = f(*o)),
        }
    }
    match act {
        Act::Relu => run(out, x, |v| Act::Relu.apply(v)),
        Act::Relu6 => run(out, x, |v| Act::Relu6.apply(v)),
        Act::Gelu => run(out, x, |v| Act::Gelu.apply(v)),
        Act::HardSwish => run(out, x, |v| Act::HardSwish.apply(v)),
        Act::HardSigmoid => run(out, x, |v| Act::HardSigmoid.apply(v)),
    }
}

/// `d[i] *= act'(x[i])`, matched once like `apply_chunk`.
#[inline(always)]
fn gate_chunk(act: Act, d: &mut [f32], x: &[f32]) {
    #[inline(always)]
    fn run(d: &mut [f32], x: &[f32], f: impl Fn(f32) -> f32) {
        d.iter_mut().zip(x).for_each(|(d, &x)| *d *= f(x));
    }
    match act {
        Act::Relu => run(d, x, |v| Act::Relu.derivative(v)),
        Act::Relu6 => run(d, x, |v| Act::Relu6.derivative(v)),
        Act::Gelu => run(d, x, |v| Act::Gelu.derivative(v)),
        Act::HardSwish => run(d, x, |v| Act::HardSwish.derivative(v)),
        Act::HardSigmoid => run(d, x, |v| Act::HardSigmoid.derivative(v)),
    }
}

/// What a `Mode::Train` forward kept for backward.
enum Saved {
    Input(Tensor),
    Mask(BitMask),
}

pub struct Activation {
    pub act: Act,
    /// Keep a packed 1-bit mask (with this Hard-Swish surrogate) instead of the input.
    packed: Option<HardSwishMask>,
    saved: Option<Saved>,
}

impl Activation {
    pub fn new(act: Act) -> Activation {
        Activation {
            act,
            packed: None,
            saved: None,
        }
    }

    /// Switches backward to a packed 1-bit mask (MobileTL); an error for
    /// activations without a 0/1 derivative.
    pub fn pack_backward(&mut self, hswish: HardSwishMask) -> Result<(), NnError> {
        if self.act.mask_rule(hswish).is_none() {
            return Err(NnError::Config(format!(
                "{:?} has no 1-bit backward; only ReLU, ReLU6 and Hard-Swish do",
                self.act
            )));
        }
        self.packed = Some(hswish);
        Ok(())
    }

    /// The Hard-Swish surrogate when backward uses a packed mask.
    pub fn packed(&self) -> Option<HardSwishMask> {
        self.packed
    }
}

impl Layer for Activation {
    fn forward(&mut self, mut x: Tensor, mode: Mode) -> Tensor {
        let act = self.act;
        let rule = self.packed.and_then(|h| act.mask_rule(h));
        if mode == Mode::Train && rule.is_none() {
            let mut y = Tensor::zeros(&x.shape);
            y.data
                .par_chunks_mut(CHUNK)
                .zip(x.data.par_chunks(CHUNK))
                .for_each(|(y, x)| avx2::run(|| apply_chunk(act, y, Some(x))));
            self.saved = Some(Saved::Input(x));
            return y;
        }
        if let (Mode::Train, Some(keep)) = (mode, rule) {
            self.saved = Some(Saved::Mask(BitMask::pack(&x.data, keep)));
        }
        // Nothing keeps the input: overwrite it instead of allocating.
        x.data
            .par_chunks_mut(CHUNK)
            .for_each(|v| avx2::run(|| apply_chunk(act, v, None)));
        x
    }

    fn backward(&mut self, mut dy: Tensor) -> Tensor {
        let x = match cached(&mut self.saved, "Activation") {
            Saved::Input(x) => x,
            Saved::Mask(mask) => {
                mask.gate(&mut dy.data);
                return dy;
            }
        };
        let act = self.act;
        dy.data
            .par_chunks_mut(CHUNK)
            .zip(x.data.par_chunks(CHUNK))
            .for_each(|(d, x)| avx2::run(|| gate_chunk(act, d, x)));
        dy
    }

    fn describe(&self, name: &str, input: &[usize], out: &mut Vec<arch::Layer>) -> Vec<usize> {
        describe_elementwise(name, input, out)
    }

    fn clear_cache(&mut self) {
        self.saved = None;
    }

    crate::layer_casts!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gelu_matches_its_libm_form() {
        for i in -4000..=4000 {
            let x = i as f32 * 2e-3;
            let libm = 0.5 * x * (1.0 + (GELU_C * (x + GELU_A * x * x * x)).tanh());
            assert!((Act::Gelu.apply(x) - libm).abs() < 1e-6, "{x}");
        }
    }
}
