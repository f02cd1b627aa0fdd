//! The `Layer` trait: a runtime-shaped module with an explicit backward pass.
//! Forward in `Mode::Train` keeps what backward needs; `backward` returns the
//! input gradient and accumulates parameter gradients. Layers never own an
//! optimizer or a data loader.

use crate::param::Param;
use pipe_sim::arch;
use std::any::Any;

pub use crate::tensor::Tensor;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Keeps activations for backward; BatchNorm uses batch statistics, dropout drops.
    Train,
    /// Keeps nothing; BatchNorm uses running statistics, dropout is the identity.
    Eval,
}

pub trait Layer: Send + Sync {
    fn forward(&mut self, x: Tensor, mode: Mode) -> Tensor;

    /// The gradient of the input of the last `Mode::Train` forward, given the
    /// gradient of its output. Adds to the gradients of trainable params.
    fn backward(&mut self, dy: Tensor) -> Tensor;

    /// Every param (and buffer) under a dotted name relative to `prefix`.
    fn visit(&mut self, _prefix: &str, _f: &mut dyn FnMut(&str, &mut Param)) {}

    /// Appends this layer's architecture descriptor entries for one sample with
    /// per-sample `input` shape, and returns the per-sample output shape.
    fn describe(&self, name: &str, input: &[usize], out: &mut Vec<arch::Layer>) -> Vec<usize>;

    /// Calls `f` on this layer and, for composites, on every layer inside it.
    fn for_each_layer(&mut self, f: &mut dyn FnMut(&mut dyn Layer)) {
        f(self.as_layer_mut());
    }

    /// Drops what the last `Mode::Train` forward kept (after an aborted step).
    fn clear_cache(&mut self) {}

    fn as_layer_mut(&mut self) -> &mut dyn Layer;

    /// For fine-tuning and quantization passes that look for a concrete layer type.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// The descriptor entry of a float (unquantized) layer.
pub fn arch_layer(name: &str, op: arch::Op) -> arch::Layer {
    arch::Layer {
        name: name.to_string(),
        op,
        weight_bits: 32,
        act_bits: 32,
        pow2_shifts: None,
    }
}

/// `describe` for a layer that keeps its input's shape and does elementwise work
/// (norms, activations): one `Elementwise` entry over every value.
pub fn describe_elementwise(name: &str, input: &[usize], out: &mut Vec<arch::Layer>) -> Vec<usize> {
    let elements = input.iter().product();
    out.push(arch_layer(name, arch::Op::Elementwise { elements }));
    input.to_vec()
}

/// Joins a prefix and a name with a dot, skipping an empty prefix.
pub fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// The two `as_*` conversions every concrete layer implements the same way.
#[macro_export]
macro_rules! layer_casts {
    () => {
        fn as_layer_mut(&mut self) -> &mut dyn $crate::layer::Layer {
            self
        }

        fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
            self
        }
    };
}

/// Takes what a `Mode::Train` forward kept. Calling backward without one is a
/// backend bug (the training loop always runs forward first), never user input.
pub fn cached<T>(slot: &mut Option<T>, layer: &str) -> T {
    match slot.take() {
        Some(v) => v,
        None => panic!("{layer}: backward called without a Mode::Train forward"),
    }
}
