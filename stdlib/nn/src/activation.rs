//! Elementwise activations: ReLU, ReLU6, GELU (tanh form), Hard-Swish and
//! Hard-Sigmoid, on any layout. Backward recomputes the derivative from the
//! kept input.

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
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Act::Relu => x.max(0.0),
            Act::Relu6 => x.clamp(0.0, 6.0),
            Act::Gelu => 0.5 * x * (1.0 + (GELU_C * (x + GELU_A * x * x * x)).tanh()),
            Act::HardSwish => x * (x + 3.0).clamp(0.0, 6.0) / 6.0,
            Act::HardSigmoid => (x + 3.0).clamp(0.0, 6.0) / 6.0,
        }
    }

    pub fn derivative(self, x: f32) -> f32 {
        match self {
            Act::Relu => f32::from(x > 0.0),
            Act::Relu6 => f32::from(x > 0.0 && x < 6.0),
            Act::Gelu => {
                let t = (GELU_C * (x + GELU_A * x * x * x)).tanh();
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

pub struct Activation {
    pub act: Act,
    input: Option<Tensor>,
}

impl Activation {
    pub fn new(act: Act) -> Activation {
        Activation { act, input: None }
    }
}

impl Layer for Activation {
    fn forward(&mut self, x: Tensor, mode: Mode) -> Tensor {
        let act = self.act;
        let mut y = Tensor::zeros(&x.shape);
        y.data
            .par_chunks_mut(CHUNK)
            .zip(x.data.par_chunks(CHUNK))
            .for_each(|(y, x)| y.iter_mut().zip(x).for_each(|(y, &x)| *y = act.apply(x)));
        if mode == Mode::Train {
            self.input = Some(x);
        }
        y
    }

    fn backward(&mut self, mut dy: Tensor) -> Tensor {
        let x = cached(&mut self.input, "Activation");
        let act = self.act;
        dy.data
            .par_chunks_mut(CHUNK)
            .zip(x.data.par_chunks(CHUNK))
            .for_each(|(d, x)| {
                d.iter_mut()
                    .zip(x)
                    .for_each(|(d, &x)| *d *= act.derivative(x))
            });
        dy
    }

    fn describe(&self, name: &str, input: &[usize], out: &mut Vec<arch::Layer>) -> Vec<usize> {
        describe_elementwise(name, input, out)
    }

    fn clear_cache(&mut self) {
        self.input = None;
    }

    crate::layer_casts!();
}
