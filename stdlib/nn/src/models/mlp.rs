//! `mlp`: flatten, then Linear + ReLU (+ dropout) per hidden width, then the
//! classifier. Each hidden layer is one block.

use super::{block, Builder};
use crate::activation::{Act, Activation};
use crate::linear::Linear;
use crate::network::Block;
use crate::reshape::Flatten;
use crate::sequential::Sequential;

pub(crate) fn build(b: &mut Builder, hidden: &[usize]) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut width: usize = b.spec.input.iter().product();
    for (i, &h) in hidden.iter().enumerate() {
        let mut seq = Sequential::new();
        if i == 0 {
            seq.push("flatten", Flatten::default());
        }
        seq.push("fc", Linear::new(width, h, true, &mut b.rng));
        seq.push("act", Activation::new(Act::Relu));
        if b.spec.dropout > 0.0 {
            seq.push("dropout", b.dropout());
        }
        blocks.push(block(format!("hidden{i}"), seq));
        width = h;
    }
    let mut head = Sequential::new();
    if hidden.is_empty() {
        head.push("flatten", Flatten::default());
    }
    head.push("fc", Linear::new(width, b.spec.classes, true, &mut b.rng));
    blocks.push(block("head", head));
    blocks
}
