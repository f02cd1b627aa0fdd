//! Model builders: one file per family, each turning a validated `ModelSpec`
//! into named blocks. Blocks are what fine-tuning enumerates (top-k), so every
//! family ends in a `head` block holding the classifier.

mod cnn;
pub mod detector;
pub mod dual_encoder;
pub mod mae;
mod mlp;
mod mobilenet;
mod slimmable;
pub mod temporal;
mod vit;

use crate::activation::{Act, Activation};
use crate::conv::{Conv2d, ConvShape};
use crate::init::Rng8;
use crate::network::Block;
use crate::norm::BatchNorm2d;
use crate::sequential::Sequential;
use crate::spec::{Family, ModelSpec};
use rand::SeedableRng;

/// The blocks of `spec`'s network; `spec` must have passed `validate`.
pub fn build(spec: &ModelSpec) -> Vec<Block> {
    let mut b = Builder {
        rng: Rng8::seed_from_u64(spec.seed),
        dropout_seed: spec.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        spec,
    };
    build_family(&mut b, &spec.family)
}

/// The blocks of one family; a detector builds its backbone's through here
/// (validation allows no detector inside a detector, so this nests once).
pub(crate) fn build_family(b: &mut Builder, family: &Family) -> Vec<Block> {
    match family {
        Family::Mlp { hidden } => mlp::build(b, hidden),
        Family::Cnn {
            channels,
            kernel,
            hidden,
        } => cnn::build(b, channels, *kernel, *hidden),
        Family::Vit {
            patch,
            dim,
            depth,
            heads,
            mlp_ratio,
        } => vit::build(b, *patch, *dim, *depth, *heads, *mlp_ratio),
        Family::MobilenetV2 {
            width,
            blocks,
            expansion,
        } => mobilenet::build(b, &mobilenet::Variant::v2(*width, *blocks, *expansion)),
        Family::MobilenetV3 {
            width,
            blocks,
            expansion,
            se,
        } => mobilenet::build(b, &mobilenet::Variant::v3(*width, *blocks, *expansion, *se)),
        Family::Detector {
            backbone, head_dim, ..
        } => detector::build(b, backbone, *head_dim),
        Family::Slimmable { base, widths, .. } => slimmable::build(b, base, widths),
        Family::TemporalTransformer {
            windows,
            dim,
            heads,
            layers,
            refine,
            ..
        } => temporal::build(
            b,
            &temporal::Settings {
                windows,
                dim: *dim,
                heads: *heads,
                layers: *layers,
                refine: *refine,
            },
        ),
    }
}

/// Shared state while building: the init generator and per-dropout seeds.
pub(crate) struct Builder<'a> {
    pub rng: Rng8,
    dropout_seed: u64,
    pub spec: &'a ModelSpec,
}

impl Builder<'_> {
    /// A dropout layer with its own seed (each layer draws different masks).
    pub fn dropout(&mut self) -> crate::dropout::Dropout {
        self.dropout_seed = self.dropout_seed.wrapping_add(1);
        crate::dropout::Dropout::new(self.spec.dropout, self.dropout_seed)
    }

    /// Conv (no bias) + BatchNorm2d + activation, appended to `seq` as
    /// `{name}`, `{name}_bn`, `{name}_act`.
    pub fn conv_bn_act(
        &mut self,
        seq: &mut Sequential,
        name: &str,
        shape: ConvShape,
        act: Option<Act>,
    ) {
        seq.push(name, Conv2d::new(shape, false, &mut self.rng));
        seq.push(format!("{name}_bn"), BatchNorm2d::new(shape.out_ch));
        if let Some(act) = act {
            seq.push(format!("{name}_act"), Activation::new(act));
        }
    }
}

pub(crate) fn block(name: impl Into<String>, body: Sequential) -> Block {
    Block {
        name: name.into(),
        body,
    }
}
