//! OVSeg's mask prompt tuning (MPT), exactly as `third_party/CLIP/clip/model.py`
//! L288-362 of facebookresearch/ov-seg: a learnable `mask_embedding` of shape
//! depth × grid² × width; a patch's token mask is 1 when any pixel of the patch
//! is inside the region (`ceil(AvgPool2d(patch, patch)(mask))`); at level 0
//! (after patch embedding, before CLS and positions) masked-out patch tokens
//! are replaced by the prompts, `x·m + E[0]·(1−m)`, and after transformer block
//! d for d < depth the patch tokens (not CLS) again, `x·m + E[d]·(1−m)`. This
//! module owns the parameter and the replacement with its backward; it never
//! runs an encoder (the image tower calls it between its layers).

use crate::init::{constant, normal, uniform, Rng8};
use crate::param::{Param, ParamKind};
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// How `mask_embedding` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptInit {
    /// normal(std 0.02): the paper's training code ("mae" mode).
    Normal,
    /// Zeros: the paper's inference CLIP before weights are loaded.
    Zeros,
    /// Uniform in ±1/sqrt(width) (`vpt_random`, with the project's own bound).
    Uniform,
}

pub struct MaskPrompt {
    pub depth: usize,
    /// Patch tokens per image (grid²).
    pub tokens: usize,
    pub width: usize,
    /// `[depth, tokens, width]`.
    pub embedding: Param,
}

impl MaskPrompt {
    pub fn new(
        depth: usize,
        tokens: usize,
        width: usize,
        init: PromptInit,
        rng: &mut Rng8,
    ) -> Self {
        let shape = [depth, tokens, width];
        let embedding = match init {
            PromptInit::Normal => normal(rng, &shape, 0.02, ParamKind::NoDecay),
            PromptInit::Zeros => constant(&shape, 0.0, ParamKind::NoDecay),
            PromptInit::Uniform => {
                let bound = 1.0 / (width.max(1) as f32).sqrt();
                uniform(rng, &shape, bound, ParamKind::NoDecay)
            }
        };
        MaskPrompt {
            depth,
            tokens,
            width,
            embedding,
        }
    }

    /// `E[level]` as `[tokens · width]`.
    fn level(&self, level: usize) -> &[f32] {
        let n = self.tokens * self.width;
        &self.embedding.value.data[level * n..(level + 1) * n]
    }

    /// Replaces masked-out patch tokens of `x` (`[N, lead + tokens, width]`,
    /// `lead` = 1 when a CLS token comes first, which stays untouched) by
    /// `E[level]`: `x·m + E·(1−m)` with the binary token mask `m` `[N, tokens]`.
    pub fn replace(&self, level: usize, x: &mut Tensor, mask: &[f32], lead: usize) {
        let prompts = self.level(level);
        let (t, d) = (self.tokens, self.width);
        for (sample, m) in x
            .data
            .chunks_exact_mut((lead + t) * d)
            .zip(mask.chunks_exact(t))
        {
            for (j, &keep) in m.iter().enumerate() {
                let row = &mut sample[(lead + j) * d..(lead + j + 1) * d];
                let prompt = &prompts[j * d..(j + 1) * d];
                for (v, p) in row.iter_mut().zip(prompt) {
                    *v = *v * keep + p * (1.0 - keep);
                }
            }
        }
    }

    /// Backward of `replace`: the gradient of `x` is `dy·m` on patch rows (CLS
    /// rows pass through), and `E[level]` gathers `Σₙ dy·(1−m)`.
    pub fn replace_backward(&mut self, level: usize, dy: &mut Tensor, mask: &[f32], lead: usize) {
        let (t, d) = (self.tokens, self.width);
        let trainable = self.embedding.trainable();
        let offset = level * t * d;
        for (sample, m) in dy
            .data
            .chunks_exact_mut((lead + t) * d)
            .zip(mask.chunks_exact(t))
        {
            for (j, &keep) in m.iter().enumerate() {
                let row = &mut sample[(lead + j) * d..(lead + j + 1) * d];
                if trainable {
                    let grad = &mut self.embedding.grad[offset + j * d..offset + (j + 1) * d];
                    grad.iter_mut()
                        .zip(row.iter())
                        .for_each(|(g, v)| *g += v * (1.0 - keep));
                }
                row.iter_mut().for_each(|v| *v *= keep);
            }
        }
    }
}

/// The token mask of binary pixel masks `[N, side, side]`: 1 for a patch with
/// any pixel inside the region, else 0 (`ceil` of the patch average), `[N, grid²]`.
pub fn token_mask(masks: &[bool], side: usize, patch: usize) -> Vec<f32> {
    let grid = side / patch.max(1);
    let mut out = Vec::with_capacity(masks.len() / (side * side).max(1) * grid * grid);
    for mask in masks.chunks_exact(side * side) {
        for ty in 0..grid {
            for tx in 0..grid {
                let any = (0..patch).any(|py| {
                    (0..patch).any(|px| mask[(ty * patch + py) * side + tx * patch + px])
                });
                out.push(if any { 1.0 } else { 0.0 });
            }
        }
    }
    out
}
