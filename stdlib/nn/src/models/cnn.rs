//! `cnn`: per stage Conv2d + BatchNorm2d + ReLU and 2×2 max pooling (while the
//! image is at least 2×2), then global average pooling, an optional hidden
//! linear layer and the classifier. Each stage is one block.

use super::{block, Builder};
use crate::activation::{Act, Activation};
use crate::conv::ConvShape;
use crate::linear::Linear;
use crate::network::Block;
use crate::pool::{GlobalAvgPool, Pool2d, PoolKind};
use crate::reshape::ChannelMajor;
use crate::sequential::Sequential;

pub(crate) fn build(
    b: &mut Builder,
    channels: &[usize],
    kernel: usize,
    hidden: usize,
) -> Vec<Block> {
    let mut blocks = Vec::new();
    let [mut in_ch, mut h, mut w] = b.spec.input;
    for (i, &out_ch) in channels.iter().enumerate() {
        let mut seq = Sequential::new();
        if i == 0 {
            seq.push("layout", ChannelMajor);
        }
        let shape = ConvShape {
            in_ch,
            out_ch,
            kernel,
            stride: 1,
            padding: kernel / 2,
            groups: 1,
        };
        b.conv_bn_act(&mut seq, "conv", shape, Some(Act::Relu));
        if h >= 2 && w >= 2 {
            seq.push("pool", Pool2d::new(PoolKind::Max, 2, 2));
            (h, w) = (h / 2, w / 2);
        }
        blocks.push(block(format!("stage{i}"), seq));
        in_ch = out_ch;
    }
    let mut head = Sequential::new();
    head.push("pool", GlobalAvgPool::new());
    let mut width = in_ch;
    if hidden > 0 {
        head.push("fc1", Linear::new(width, hidden, true, &mut b.rng));
        head.push("act", Activation::new(Act::Relu));
        width = hidden;
    }
    if b.spec.dropout > 0.0 {
        head.push("dropout", b.dropout());
    }
    head.push("fc", Linear::new(width, b.spec.classes, true, &mut b.rng));
    blocks.push(block("head", head));
    blocks
}
