//! Fine-tuning methods as network configurations (which params train, which
//! norms freeze their statistics, which activations keep 1-bit masks), the
//! transfer of pre-trained weights to a network for another dataset, and the
//! backward FLOPs a configuration costs. It configures; the training loop and
//! the memory measurement live elsewhere (`train.rs`, `memory.rs`).

use crate::activation::HardSwishMask;
use crate::error::NnError;
use crate::layer::Layer;
use crate::mobiletl;
use crate::network::Network;
use crate::norm::BatchNorm2d;
use crate::spec::ModelSpec;
use crate::tensor::Tensor;
use pipe_sim::arch::Op;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Every param trains.
    Full,
    /// TinyTL-style: biases and norm shifts train, plus the classifier; weights,
    /// norm scales and norm statistics stay frozen.
    BiasOnly,
    /// Vanilla training of the top `n` blocks below the head, and the head (FT-BLKs).
    TopBlocks(usize),
    /// MobileTL on the top `n` inverted residual blocks, and the head.
    MobileTl {
        blocks: usize,
        hswish: HardSwishMask,
    },
}

/// Configures a freshly built or loaded `net` for `method`.
pub fn configure(net: &mut Network, method: Method) -> Result<(), NnError> {
    reset(net);
    match method {
        Method::Full => Ok(()),
        Method::BiasOnly => {
            let classifier = classifier_prefix(net);
            net.visit(&mut |name, p| {
                p.set_trainable(name.ends_with(".bias") || name.starts_with(&classifier))
            });
            for_each_batchnorm(net, 0, |bn| bn.freeze_stats = true);
            Ok(())
        }
        Method::TopBlocks(n) => top_blocks(net, n).map(|_| ()),
        Method::MobileTl { blocks, hswish } => {
            let first = top_blocks(net, blocks)?;
            let head = net.blocks.len() - 1;
            for block in &mut net.blocks[first..head] {
                mobiletl::convert_block(block, hswish)?;
            }
            Ok(())
        }
    }
}

/// Everything trainable, batch statistics, exact activation backward: a
/// freshly built network's state.
fn reset(net: &mut Network) {
    net.visit(&mut |_, p| p.set_trainable(true));
    for_each_batchnorm(net, 0, |bn| bn.freeze_stats = false);
}

/// Freezes every block below the top `n` body blocks (the stem/embedding and
/// the head are not counted; the head always trains). Returns the index of
/// the first trained block.
fn top_blocks(net: &mut Network, n: usize) -> Result<usize, NnError> {
    let body = net.blocks.len().saturating_sub(2);
    if n == 0 || n > body {
        return Err(NnError::Config(format!(
            "`blocks: {n}` but the model has {body} blocks between its stem and its head; pass 1 to {body}"
        )));
    }
    let first = net.blocks.len() - 1 - n;
    for (i, block) in net.blocks.iter_mut().enumerate() {
        block
            .body
            .visit(&block.name, &mut |_, p| p.set_trainable(i >= first));
    }
    Ok(first)
}

/// `head.<last layer>`: the classifier's param prefix.
fn classifier_prefix(net: &Network) -> String {
    let head = net.blocks.last();
    let last = head
        .and_then(|b| b.body.layers.last())
        .map(|(n, _)| n.as_str());
    format!(
        "{}.{}.",
        head.map_or("head", |b| b.name.as_str()),
        last.unwrap_or("fc")
    )
}

fn for_each_batchnorm(net: &mut Network, from: usize, mut f: impl FnMut(&mut BatchNorm2d)) {
    for block in &mut net.blocks[from..] {
        block.body.for_each_layer(&mut |l| {
            if let Some(bn) = l.as_any_mut().downcast_mut::<BatchNorm2d>() {
                f(bn);
            }
        });
    }
}

/// A network for `target` (same family, another input size or class count)
/// with `source`'s weights wherever names and shapes agree. Only the
/// classifier may differ in shape (it is then freshly initialised, as when a
/// pre-trained model meets new classes); any other mismatch is an error.
pub fn transfer(source: &mut Network, target: &ModelSpec) -> Result<Network, NnError> {
    let mut values: BTreeMap<String, Tensor> = BTreeMap::new();
    source.visit(&mut |name, p| {
        values.insert(name.to_string(), p.value.clone());
    });
    let mut net = Network::build(target)?;
    let classifier = classifier_prefix(&net);
    let mut result = Ok(());
    net.visit(&mut |name, p| match values.get(name) {
        Some(v) if v.shape == p.value.shape => p.value.data.copy_from_slice(&v.data),
        _ if name.starts_with(&classifier) => {}
        other => {
            if result.is_ok() {
                result = Err(NnError::Config(format!(
                    "cannot transfer `{name}`: the pre-trained model has {}, the target data needs {:?}; \
                     pre-train on images of the target's size",
                    other.map_or("no such tensor".to_string(), |v| format!("{:?}", v.shape)),
                    p.value.shape
                )));
            }
        }
    });
    result.map(|()| net)
}

/// FLOPs of one sample's backward pass as the backend runs it: every layer of
/// the blocks from the lowest trainable one up computes its input gradient
/// (2 per multiply-accumulate; attention products twice, one per operand;
/// one per element for elementwise layers), and layers with a trainable weight
/// also compute its gradient (2 per multiply-accumulate).
pub fn backward_flops(net: &mut Network) -> u64 {
    let lowest = net.lowest_trainable_block();
    let trained_blocks: BTreeSet<String> = net.blocks[lowest..]
        .iter()
        .map(|b| b.name.clone())
        .collect();
    let mut trained_weights = BTreeSet::new();
    net.visit(&mut |name, p| {
        if p.trainable() && name.ends_with("weight") {
            trained_weights.insert(name.to_string());
        }
    });
    net.arch()
        .layers
        .iter()
        .filter(|l| {
            let block = l.name.split('.').next().unwrap_or_default();
            trained_blocks.contains(block)
        })
        .map(|l| match l.op {
            Op::Elementwise { elements } => elements as u64,
            Op::Matmul { .. } => 4 * l.op.macs(),
            ref op => {
                let prefix = format!("{}.", l.name);
                let weight = trained_weights.iter().any(|w| w.starts_with(&prefix));
                2 * op.macs() * if weight { 2 } else { 1 }
            }
        })
        .sum()
}
