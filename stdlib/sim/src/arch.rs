//! The architecture descriptor: a model's layer list with real shapes. The tensor
//! backend emits it for every model it builds (stored in the model's `arch.json`),
//! the simulators price it, and built-in reference workloads are written in it.
//! Plain data: no tensors, no simulation.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Arch {
    pub name: String,
    /// Input shape of one sample, e.g. `[1, 8, 8]` (C, H, W).
    pub input: Vec<usize>,
    pub layers: Vec<Layer>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    pub name: String,
    pub op: Op,
    /// Weight precision; 32 for an unquantized float model.
    pub weight_bits: u32,
    /// Activation precision; 32 for an unquantized float model.
    pub act_bits: u32,
    /// Power-of-two weights with this many shifts (LightNN-style), if quantized so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pow2_shifts: Option<u32>,
}

/// One layer's computation, for one input sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Op {
    Conv2d {
        in_ch: usize,
        out_ch: usize,
        kernel: [usize; 2],
        stride: usize,
        padding: usize,
        groups: usize,
        /// Input height and width.
        in_hw: [usize; 2],
        /// Output height and width.
        out_hw: [usize; 2],
    },
    /// A fully connected layer applied to `tokens` rows (1 for a plain MLP layer,
    /// the sequence length for a transformer projection).
    Linear {
        in_features: usize,
        out_features: usize,
        tokens: usize,
    },
    /// `count` independent (m×k)·(k×n) products with no weights (attention scores
    /// and attention-weighted values, one per head).
    Matmul {
        m: usize,
        k: usize,
        n: usize,
        count: usize,
    },
    /// Elementwise or reduction work with no multiply-accumulate array use
    /// (norms, activations, pooling, softmax): `elements` outputs.
    Elementwise { elements: usize },
}

impl Op {
    /// Multiply-accumulates for one sample.
    pub fn macs(&self) -> u64 {
        match *self {
            Op::Conv2d {
                in_ch,
                out_ch,
                kernel,
                groups,
                out_hw,
                ..
            } => {
                let per_out = (in_ch / groups.max(1)) * kernel[0] * kernel[1];
                (out_ch * out_hw[0] * out_hw[1] * per_out) as u64
            }
            Op::Linear {
                in_features,
                out_features,
                tokens,
            } => (in_features * out_features * tokens) as u64,
            Op::Matmul { m, k, n, count } => (m * k * n * count) as u64,
            Op::Elementwise { .. } => 0,
        }
    }

    /// Number of weights (parameters of the multiply-accumulate part).
    pub fn weights(&self) -> u64 {
        match *self {
            Op::Conv2d {
                in_ch,
                out_ch,
                kernel,
                groups,
                ..
            } => (out_ch * (in_ch / groups.max(1)) * kernel[0] * kernel[1]) as u64,
            Op::Linear {
                in_features,
                out_features,
                ..
            } => (in_features * out_features) as u64,
            Op::Matmul { .. } | Op::Elementwise { .. } => 0,
        }
    }
}

impl Arch {
    pub fn macs(&self) -> u64 {
        self.layers.iter().map(|l| l.op.macs()).sum()
    }

    /// Forward FLOPs for one sample (2 per multiply-accumulate plus elementwise work).
    pub fn flops(&self) -> u64 {
        self.layers
            .iter()
            .map(|l| match l.op {
                Op::Elementwise { elements } => elements as u64,
                ref op => 2 * op.macs(),
            })
            .sum()
    }
}
