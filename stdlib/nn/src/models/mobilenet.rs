//! `mobilenet_v2` and `mobilenet_v3`, scaled down for small images: a stem
//! convolution, `blocks` inverted residual blocks (1×1 expansion, 3×3
//! depthwise, optional squeeze-excite, 1×1 projection; BatchNorm after each
//! convolution; residual when stride is 1 and channels match), and a head (1×1
//! convolution, global pooling, classifier).
//!
//! Channel plan (the project's own default, not from either paper): blocks are
//! spread over five stages of 16, 24, 32, 64 and 96 channels times `width`
//! (rounded to multiples of 8); stages 2-4 start with stride 2 while the image
//! is larger than 2×2; the stem is stride 1 below 64×64 inputs; the head
//! convolution has 4× the last stage's channels. V3 uses ReLU in the first
//! stage and Hard-Swish after it, with squeeze-excite (reduction 4) in the
//! Hard-Swish blocks when `se` is on.

use super::{block, Builder};
use crate::activation::Act;
use crate::conv::ConvShape;
use crate::linear::Linear;
use crate::network::Block;
use crate::pool::GlobalAvgPool;
use crate::reshape::ChannelMajor;
use crate::sequential::{Residual, Sequential, SqueezeExcite};

const STAGE_CHANNELS: [usize; 5] = [16, 24, 32, 64, 96];
const STEM_CHANNELS: usize = 16;
const HEAD_FACTOR: usize = 4;
const SE_REDUCTION: usize = 4;

pub(crate) struct Variant {
    width: f32,
    blocks: usize,
    expansion: usize,
    v3: bool,
    se: bool,
}

impl Variant {
    pub fn v2(width: f32, blocks: usize, expansion: usize) -> Variant {
        Variant {
            width,
            blocks,
            expansion,
            v3: false,
            se: false,
        }
    }

    pub fn v3(width: f32, blocks: usize, expansion: usize, se: bool) -> Variant {
        Variant {
            width,
            blocks,
            expansion,
            v3: true,
            se,
        }
    }

    fn channels(&self, base: usize) -> usize {
        make_divisible(base as f32 * self.width)
    }

    fn act(&self, stage: usize) -> Act {
        match (self.v3, stage) {
            (false, _) => Act::Relu6,
            (true, 0) => Act::Relu,
            (true, _) => Act::HardSwish,
        }
    }
}

/// Rounds to the nearest multiple of 8, at least 8, never more than 10% down
/// (MobileNet's `_make_divisible`).
fn make_divisible(v: f32) -> usize {
    let rounded = (((v + 4.0) / 8.0).floor() as usize * 8).max(8);
    if (rounded as f32) < 0.9 * v {
        rounded + 8
    } else {
        rounded
    }
}

pub(crate) fn build(b: &mut Builder, v: &Variant) -> Vec<Block> {
    let [c, mut h, mut w] = b.spec.input;
    let mut stem = Sequential::new();
    stem.push("layout", ChannelMajor);
    let stem_stride = if h.min(w) >= 64 { 2 } else { 1 };
    let mut ch = v.channels(STEM_CHANNELS);
    let stem_act = if v.v3 { Act::HardSwish } else { Act::Relu6 };
    b.conv_bn_act(
        &mut stem,
        "conv",
        conv(c, ch, 3, stem_stride, 1),
        Some(stem_act),
    );
    (h, w) = (out_side(h, stem_stride), out_side(w, stem_stride));
    let mut blocks = vec![block("stem", stem)];
    let stages = STAGE_CHANNELS.len();
    let mut prev_stage = usize::MAX;
    for i in 0..v.blocks {
        let stage = i * stages / v.blocks.max(1);
        let first = stage != prev_stage;
        prev_stage = stage;
        let stride = if first && (1..=3).contains(&stage) && h.min(w) > 2 {
            2
        } else {
            1
        };
        let out = v.channels(STAGE_CHANNELS[stage]);
        let body = inverted_residual(b, v, ch, out, stride, stage);
        blocks.push(block(format!("block{i}"), body));
        (h, w, ch) = (out_side(h, stride), out_side(w, stride), out);
    }
    let mut head = Sequential::new();
    let last = ch * HEAD_FACTOR;
    b.conv_bn_act(&mut head, "conv", conv(ch, last, 1, 1, 0), Some(v.act(1)));
    head.push("pool", GlobalAvgPool::new());
    if b.spec.dropout > 0.0 {
        head.push("dropout", b.dropout());
    }
    head.push("fc", Linear::new(last, b.spec.classes, true, &mut b.rng));
    blocks.push(block("head", head));
    blocks
}

fn conv(in_ch: usize, out_ch: usize, kernel: usize, stride: usize, padding: usize) -> ConvShape {
    ConvShape {
        in_ch,
        out_ch,
        kernel,
        stride,
        padding,
        groups: 1,
    }
}

fn out_side(side: usize, stride: usize) -> usize {
    (side + 2 - 3) / stride + 1
}

/// Layers `expand`, `dw`, [`se`], `project`, each conv followed by `*_bn` and
/// (except the projection) `*_act`; wrapped in a `Residual` when shapes match.
fn inverted_residual(
    b: &mut Builder,
    v: &Variant,
    in_ch: usize,
    out_ch: usize,
    stride: usize,
    stage: usize,
) -> Sequential {
    let act = v.act(stage);
    let hidden = in_ch * v.expansion;
    let mut seq = Sequential::new();
    if v.expansion != 1 {
        b.conv_bn_act(&mut seq, "expand", conv(in_ch, hidden, 1, 1, 0), Some(act));
    }
    let mut dw = conv(hidden, hidden, 3, stride, 1);
    dw.groups = hidden;
    b.conv_bn_act(&mut seq, "dw", dw, Some(act));
    if v.se && act == Act::HardSwish {
        let reduced = make_divisible(hidden as f32 / SE_REDUCTION as f32);
        seq.push("se", SqueezeExcite::new(hidden, reduced, &mut b.rng));
    }
    b.conv_bn_act(&mut seq, "project", conv(hidden, out_ch, 1, 1, 0), None);
    if stride == 1 && in_ch == out_ch {
        let mut outer = Sequential::new();
        outer.push("residual", Residual { body: seq });
        return outer;
    }
    seq
}
