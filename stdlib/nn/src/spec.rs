//! `ModelSpec`: everything needed to rebuild a network (family and its
//! hyper-parameters, input shape, classes, dropout, init seed). Serialized into
//! a model's `arch.json`; `validate` rejects combinations no network has.

use crate::error::NnError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "snake_case")]
pub enum Family {
    Mlp {
        hidden: Vec<usize>,
    },
    Cnn {
        channels: Vec<usize>,
        kernel: usize,
        hidden: usize,
    },
    Vit {
        patch: usize,
        dim: usize,
        depth: usize,
        heads: usize,
        mlp_ratio: f32,
    },
    MobilenetV2 {
        width: f32,
        blocks: usize,
        expansion: usize,
    },
    MobilenetV3 {
        width: f32,
        blocks: usize,
        expansion: usize,
        se: bool,
    },
    /// An anchor-free detector (models/detector.rs) on the last feature map of
    /// `backbone`, which is any family above except `mlp` (no feature map).
    Detector {
        backbone: Box<Family>,
        head_dim: usize,
        nms_iou: f32,
        score_threshold: f32,
        max_detections: usize,
    },
    /// A weight-shared network over width multipliers (slim.rs) on a `mlp`,
    /// `cnn` or `mobilenet_v2` base; `profile` holds what was measured per
    /// width (FLOPs, latency, accuracy), empty until measured.
    Slimmable {
        base: Box<Family>,
        widths: Vec<f64>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        profile: Vec<crate::slim::WidthProfile>,
    },
    /// AVE-CLIP's multi-window temporal transformer (models/temporal.rs) over
    /// audio-visual segments; `input` is `[segments, audio_dim, visual_dim]`
    /// and `classes` counts the events plus background.
    TemporalTransformer {
        windows: Vec<usize>,
        dim: usize,
        heads: usize,
        layers: usize,
        refine: bool,
        postprocess: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    #[serde(flatten)]
    pub family: Family,
    /// One sample's shape: channels, height, width.
    pub input: [usize; 3],
    pub classes: usize,
    pub dropout: f32,
    pub seed: u64,
}

impl ModelSpec {
    pub fn name(&self) -> &'static str {
        match self.family {
            Family::Mlp { .. } => "mlp",
            Family::Cnn { .. } => "cnn",
            Family::Vit { .. } => "vit",
            Family::MobilenetV2 { .. } => "mobilenet_v2",
            Family::MobilenetV3 { .. } => "mobilenet_v3",
            Family::Detector { .. } => "detector",
            Family::Slimmable { .. } => "slimmable",
            Family::TemporalTransformer { .. } => "temporal_transformer",
        }
    }

    pub fn validate(&self) -> Result<(), NnError> {
        let [c, h, w] = self.input;
        if c == 0 || h == 0 || w == 0 {
            return Err(NnError::Config(format!("input shape {c}×{h}×{w} is empty")));
        }
        let detector = matches!(self.family, Family::Detector { .. });
        if self.classes < 2 && !(detector && self.classes == 1) {
            return Err(NnError::Config(format!(
                "the dataset has {} class(es); classification needs at least 2",
                self.classes
            )));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(NnError::Config(format!(
                "dropout {} must be in [0, 1)",
                self.dropout
            )));
        }
        match &self.family {
            Family::Mlp { hidden } => check_nonzero("hidden", hidden),
            Family::Cnn {
                channels, kernel, ..
            } => {
                check_nonzero("channels", channels)?;
                if channels.is_empty() {
                    return Err(NnError::Config(
                        "`channels` needs at least one stage".into(),
                    ));
                }
                if kernel % 2 == 0 {
                    return Err(NnError::Config(format!(
                        "`kernel` {kernel} must be odd so convolutions keep the size"
                    )));
                }
                Ok(())
            }
            Family::Vit {
                patch, dim, heads, ..
            } => {
                if h % patch != 0 || w % patch != 0 {
                    return Err(NnError::Config(format!(
                        "`patch` {patch} must divide the image size {h}×{w}; try a divisor such as {}",
                        largest_divisor(h.min(w), *patch)
                    )));
                }
                if dim % heads != 0 {
                    return Err(NnError::Config(format!(
                        "`dim` {dim} must be divisible by `heads` {heads}"
                    )));
                }
                Ok(())
            }
            Family::MobilenetV2 { width, .. } | Family::MobilenetV3 { width, .. } => {
                if *width <= 0.0 {
                    return Err(NnError::Config(format!("`width` {width} must be positive")));
                }
                Ok(())
            }
            Family::Detector { backbone, .. } => crate::models::detector::validate(self, backbone),
            Family::Slimmable {
                base,
                widths,
                profile,
            } => crate::slim::validate(self, base, widths, profile),
            Family::TemporalTransformer {
                windows,
                dim,
                heads,
                ..
            } => crate::models::temporal::validate(self, windows, *dim, *heads),
        }
    }
}

fn check_nonzero(name: &str, sizes: &[usize]) -> Result<(), NnError> {
    if sizes.contains(&0) {
        return Err(NnError::Config(format!(
            "`{name}` {sizes:?} has a zero width"
        )));
    }
    Ok(())
}

/// The largest divisor of `n` not above `at_most` (at least 1).
fn largest_divisor(n: usize, at_most: usize) -> usize {
    (1..=at_most.min(n))
        .rev()
        .find(|&d| n.is_multiple_of(d))
        .unwrap_or(1)
}
