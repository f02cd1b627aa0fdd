//! `detector`: a small anchor-free detector on the last feature map of any
//! backbone family with one (cnn, vit, mobilenet_v2/v3). The backbone's
//! classifier head is dropped (a ViT's patch tokens are laid back out as a
//! map), and a `detect` block predicts per grid cell an objectness logit, a
//! box (centre offset from the cell centre and log size, in cell units) and
//! class logits. `Network::forward` on a detector gives that raw map
//! `[5 + classes, N, rows, cols]`; `decode` turns it into scored boxes with
//! full class distributions and non-maximum suppression, and `loss` trains it.
//! Nothing here knows about datasets or stages.

mod boxes;
mod decode;
mod loss;
mod map;

pub use boxes::{giou_loss, iou, Bbox};
pub use decode::{decode, detect, nms, PostProcess, Prediction};
pub use loss::{loss, DetLoss, LossConfig, Target};
pub use map::TokensToMap;

use super::{block, Builder};
use crate::activation::Act;
use crate::conv::{Conv2d, ConvShape};
use crate::error::NnError;
use crate::layer::Layer;
use crate::network::Block;
use crate::norm::LayerNorm;
use crate::sequential::Sequential;
use crate::spec::{Family, ModelSpec};

/// Channel of the objectness logit in the head output.
pub const OBJECTNESS: usize = 0;
/// First of the four box channels: x and y offsets of the centre from the cell
/// centre, log width and log height, all in cell units.
pub const BOX: usize = 1;
/// First class logit channel.
pub const CLASSES: usize = 5;

/// Prior probability of an object in a cell at initialisation (RetinaNet's
/// 0.01), so the focal loss starts from mostly-background predictions.
const OBJECTNESS_PRIOR: f32 = 0.01;

/// Rejects backbones without a spatial feature map and detectors nested in
/// detectors, then validates the backbone for the same input.
pub(crate) fn validate(spec: &ModelSpec, backbone: &Family) -> Result<(), NnError> {
    match backbone {
        Family::Mlp { .. } => return Err(NnError::Config(
            "a detector needs a backbone with a spatial feature map (`model.cnn`, `model.vit`, \
                 `model.mobilenet_v2` or `model.mobilenet_v3`); `model.mlp` has none"
                .into(),
        )),
        Family::Detector { .. } => {
            return Err(NnError::Config(
                "a detector's backbone cannot itself be a detector; pass the backbone network"
                    .into(),
            ))
        }
        _ => {}
    }
    if let Family::Detector {
        head_dim,
        nms_iou,
        score_threshold,
        max_detections,
        ..
    } = &spec.family
    {
        if *head_dim == 0 || *max_detections == 0 {
            return Err(NnError::Config(
                "`head_dim` and `max_detections` must be at least 1".into(),
            ));
        }
        for (name, v) in [("nms_iou", nms_iou), ("score_threshold", score_threshold)] {
            if !(0.0..=1.0).contains(v) {
                return Err(NnError::Config(format!("`{name}` {v} must be in [0, 1]")));
            }
        }
    }
    let inner = ModelSpec {
        family: backbone.clone(),
        // The backbone's classifier is dropped; any valid class count builds it.
        classes: spec.classes.max(2),
        ..spec.clone()
    };
    inner.validate()
}

/// Backbone blocks without their classifier, a ViT neck, and the `detect` head.
pub(crate) fn build(b: &mut Builder, backbone: &Family, head_dim: usize) -> Vec<Block> {
    let mut blocks = super::build_family(b, backbone);
    blocks.pop();
    if let Family::Vit { patch, dim, .. } = backbone {
        let [_, h, w] = b.spec.input;
        let mut neck = Sequential::new();
        neck.push("norm", LayerNorm::new(*dim));
        neck.push("map", TokensToMap::new(h / patch, w / patch));
        blocks.push(block("neck", neck));
    }
    let channels = feature_channels(&blocks, b.spec.input);
    blocks.push(block("detect", head(b, channels, head_dim)));
    blocks
}

/// Channels of the feature map the blocks produce for one `input` sample.
fn feature_channels(blocks: &[Block], input: [usize; 3]) -> usize {
    let mut shape = input.to_vec();
    let mut scratch = Vec::new();
    for block in blocks {
        shape = block.body.describe(&block.name, &shape, &mut scratch);
    }
    shape[0]
}

/// 3×3 conv + BatchNorm + ReLU at `head_dim`, then a 1×1 conv to the
/// per-cell outputs, with the objectness bias at the prior.
fn head(b: &mut Builder, channels: usize, head_dim: usize) -> Sequential {
    let mut seq = Sequential::new();
    let hidden = ConvShape {
        in_ch: channels,
        out_ch: head_dim,
        kernel: 3,
        stride: 1,
        padding: 1,
        groups: 1,
    };
    b.conv_bn_act(&mut seq, "conv", hidden, Some(Act::Relu));
    let out = ConvShape {
        in_ch: head_dim,
        out_ch: CLASSES + b.spec.classes,
        kernel: 1,
        stride: 1,
        padding: 0,
        groups: 1,
    };
    let mut pred = Conv2d::new(out, true, &mut b.rng);
    if let Some(bias) = &mut pred.bias {
        bias.value.data[OBJECTNESS] = -((1.0 - OBJECTNESS_PRIOR) / OBJECTNESS_PRIOR).ln();
    }
    seq.push("pred", pred);
    seq
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::Mode;
    use crate::network::Network;
    use crate::tensor::Tensor;

    fn spec(backbone: Family) -> ModelSpec {
        ModelSpec {
            family: Family::Detector {
                backbone: Box::new(backbone),
                head_dim: 8,
                nms_iou: 0.5,
                score_threshold: 0.0,
                max_detections: 100,
            },
            input: [3, 16, 16],
            classes: 3,
            dropout: 0.0,
            seed: 1,
        }
    }

    fn backbones() -> Vec<(Family, [usize; 2])> {
        vec![
            (
                Family::Cnn {
                    channels: vec![4, 8],
                    kernel: 3,
                    hidden: 0,
                },
                [4, 4],
            ),
            (
                Family::Vit {
                    patch: 4,
                    dim: 8,
                    depth: 1,
                    heads: 2,
                    mlp_ratio: 1.0,
                },
                [4, 4],
            ),
            (
                Family::MobilenetV2 {
                    width: 0.25,
                    blocks: 2,
                    expansion: 2,
                },
                [8, 8],
            ),
        ]
    }

    #[test]
    fn every_spatial_backbone_gives_a_head_map_and_round_trips() {
        for (backbone, [rows, cols]) in backbones() {
            let spec = spec(backbone);
            let mut net = Network::build(&spec).unwrap();
            let x = Tensor::from_vec(
                &[2, 3, 16, 16],
                (0..1536).map(|i| (i % 7) as f32 / 7.0).collect(),
            );
            let out = net.forward(x.clone(), Mode::Eval);
            assert_eq!(
                out.shape,
                vec![CLASSES + 3, 2, rows, cols],
                "{}",
                spec.name()
            );
            let arch = net.arch();
            assert!(
                arch.layers.iter().any(|l| l.name == "detect.pred"),
                "{arch:?}"
            );
            let weights = net.save_weights().unwrap();
            let mut loaded = Network::load(&spec, &weights).unwrap();
            assert_eq!(loaded.forward(x, Mode::Eval).data, out.data);
            let json = serde_json::to_string(&spec).unwrap();
            assert_eq!(serde_json::from_str::<ModelSpec>(&json).unwrap(), spec);
        }
    }

    #[test]
    fn mlp_and_nested_detector_backbones_are_rejected() {
        let mlp = spec(Family::Mlp { hidden: vec![4] });
        let err = Network::build(&mlp).err().unwrap().to_string();
        assert!(err.contains("spatial feature map"), "{err}");
        let nested = spec(spec(backbones().remove(0).0).family);
        let err = Network::build(&nested).err().unwrap().to_string();
        assert!(err.contains("cannot itself be a detector"), "{err}");
        let mut bad_vit = spec(Family::Vit {
            patch: 5,
            dim: 8,
            depth: 1,
            heads: 2,
            mlp_ratio: 1.0,
        });
        bad_vit.seed = 2;
        let err = Network::build(&bad_vit).err().unwrap().to_string();
        assert!(err.contains("patch"), "{err}");
    }
}
