//! `DualEncoder`: a small CLIP-like pair for OVSeg. The image tower is a ViT
//! (patch embedding, CLS + positions, pre-norm transformer blocks, then
//! `ln_post(CLS) @ proj` as CLIP); the text tower embeds word tokens, puts a
//! CLS token and positions in front, runs the same blocks and projects its CLS
//! row. Both give rows of the shared embedding width; logits are a scale times
//! the cosine. The image tower optionally carries a `MaskPrompt` (OVSeg's mask
//! prompt tuning). Weights are one safetensors file with names prefixed
//! `image.`, `text.` and `logit_scale`. This module owns the towers and their
//! files; it never decides what a region crop is (the OVSeg stages do).

use super::vit::transformer_block;
use crate::clip::INIT_LOG_SCALE;
use crate::error::NnError;
use crate::init::{normal, Rng8};
use crate::layer::{arch_layer, cached, join, Layer, Mode, Tensor};
use crate::linear::Linear;
use crate::mask_prompt::{MaskPrompt, PromptInit};
use crate::network::{params_from_safetensors, params_to_safetensors, step_params};
use crate::norm::LayerNorm;
use crate::optim::Optimizer;
use crate::param::{Param, ParamKind};
use crate::sequential::Sequential;
use crate::tokens::{ClsPosEmbed, PatchEmbed, TakeCls};
use pipe_sim::arch::{self, Arch};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

/// Everything that rebuilds a dual encoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DualEncoderSpec {
    /// Side of the square crops the image tower reads (3 channels).
    pub crop: usize,
    pub patch: usize,
    /// Transformer width of both towers.
    pub dim: usize,
    /// Width of the shared embedding.
    pub embed: usize,
    /// Image tower blocks.
    pub depth: usize,
    pub heads: usize,
    pub text_depth: usize,
    pub mlp_ratio: f32,
    /// The text tower's words; token `i` is `words[i]`, token 0 pads.
    pub words: Vec<String>,
    /// Tokens per text, padding included.
    pub context: usize,
    /// Per-channel pixel mean and standard deviation the image tower expects
    /// its input normalised with (the mean is also OVSeg's fill value).
    pub mean: [f32; 3],
    pub std: [f32; 3],
    pub seed: u64,
    /// Depth of the mask prompts when the image tower carries them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask_prompt: Option<usize>,
}

impl DualEncoderSpec {
    pub fn validate(&self) -> Result<(), NnError> {
        let bad = |m: String| Err(NnError::Config(m));
        if self.patch == 0 || !self.crop.is_multiple_of(self.patch) {
            return bad(format!(
                "`patch` {} must divide the crop side {}",
                self.patch, self.crop
            ));
        }
        if self.heads == 0 || !self.dim.is_multiple_of(self.heads) {
            return bad(format!(
                "`dim` {} must be divisible by `heads` {}",
                self.dim, self.heads
            ));
        }
        if self.words.len() < 2 || self.context == 0 {
            return bad("the text tower needs words and a context of at least one token".into());
        }
        if self.std.iter().any(|&s| s <= 0.0) {
            return bad(format!("pixel std {:?} must be positive", self.std));
        }
        if let Some(d) = self.mask_prompt {
            if d == 0 || d > self.depth {
                return bad(format!(
                    "mask prompt depth {d} must be 1..{} (the image tower's blocks)",
                    self.depth
                ));
            }
        }
        Ok(())
    }

    /// Patch tokens per crop (grid²).
    pub fn grid_tokens(&self) -> usize {
        (self.crop / self.patch).pow(2)
    }

    fn hidden(&self) -> usize {
        ((self.dim as f32 * self.mlp_ratio).round() as usize).max(1)
    }
}

/// Word tokens `[N, L]` (ids as f32) to embeddings `[N, L, D]`.
pub struct TokenEmbed {
    /// `[words, D]`.
    pub weight: Param,
    saved: Option<Tensor>,
}

impl Layer for TokenEmbed {
    fn forward(&mut self, x: Tensor, mode: Mode) -> Tensor {
        let d = self.weight.value.cols();
        let mut y = Vec::with_capacity(x.len() * d);
        for &id in &x.data {
            let id = id as usize;
            y.extend_from_slice(&self.weight.value.data[id * d..(id + 1) * d]);
        }
        let shape = [x.shape.clone(), vec![d]].concat();
        if mode == Mode::Train {
            self.saved = Some(x);
        }
        Tensor::from_vec(&shape, y)
    }

    fn backward(&mut self, dy: Tensor) -> Tensor {
        let ids = cached(&mut self.saved, "TokenEmbed");
        let d = self.weight.value.cols();
        if self.weight.trainable() {
            for (&id, row) in ids.data.iter().zip(dy.data.chunks_exact(d)) {
                let id = id as usize;
                let grad = &mut self.weight.grad[id * d..(id + 1) * d];
                grad.iter_mut().zip(row).for_each(|(g, v)| *g += v);
            }
        }
        Tensor::zeros(&ids.shape)
    }

    fn visit(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param)) {
        f(&join(prefix, "weight"), &mut self.weight);
    }

    fn describe(&self, name: &str, input: &[usize], out: &mut Vec<arch::Layer>) -> Vec<usize> {
        let shape = vec![input[0], self.weight.value.cols()];
        out.push(arch_layer(
            name,
            arch::Op::Elementwise {
                elements: shape[0] * shape[1],
            },
        ));
        shape
    }

    fn clear_cache(&mut self) {
        self.saved = None;
    }

    crate::layer_casts!();
}

/// `ln_post(CLS) @ proj` as CLIP: LayerNorm, the CLS row, a bias-free projection.
fn projection_head(dim: usize, embed: usize, rng: &mut Rng8) -> Sequential {
    let mut head = Sequential::new();
    head.push("norm", LayerNorm::new(dim));
    head.push("cls", TakeCls::default());
    head.push("proj", Linear::new(dim, embed, false, rng));
    head
}

fn blocks(spec: &DualEncoderSpec, count: usize, rng: &mut Rng8) -> Vec<Sequential> {
    (0..count)
        .map(|_| transformer_block(spec.dim, spec.heads, spec.hidden(), None, rng))
        .collect()
}

pub struct ImageTower {
    pub patch: PatchEmbed,
    pub tokens: ClsPosEmbed,
    pub blocks: Vec<Sequential>,
    pub head: Sequential,
    pub prompt: Option<MaskPrompt>,
    /// The token mask of the last train forward that used the prompts.
    saved_mask: Option<Vec<f32>>,
}

impl ImageTower {
    /// Embeddings `[N, embed]` of normalised crops `[N, 3, crop, crop]`. With
    /// prompts and a token mask `[N, grid²]`, masked-out patch tokens are
    /// replaced at level 0 and after blocks 1..depth-1 (OVSeg's MPT).
    pub fn forward(&mut self, x: Tensor, mask: Option<&[f32]>, mode: Mode) -> Tensor {
        let prompt = self.prompt.as_ref().zip(mask);
        let mut t = self.patch.forward(x, mode);
        if let Some((p, m)) = prompt {
            p.replace(0, &mut t, m, 0);
        }
        t = self.tokens.forward(t, mode);
        for (i, block) in self.blocks.iter_mut().enumerate() {
            t = block.forward(t, mode);
            if let Some((p, m)) = prompt.filter(|(p, _)| i + 1 < p.depth) {
                p.replace(i + 1, &mut t, m, 1);
            }
        }
        if mode == Mode::Train {
            self.saved_mask = prompt.map(|(_, m)| m.to_vec());
        }
        self.head.forward(t, mode)
    }

    /// Backpropagates `dy` `[N, embed]` into every trainable param.
    pub fn backward(&mut self, dy: Tensor) {
        let mask = self.saved_mask.take();
        let mut d = self.head.backward(dy);
        for (i, block) in self.blocks.iter_mut().enumerate().rev() {
            if let Some((p, m)) = self.prompt.as_mut().zip(mask.as_deref()) {
                if i + 1 < p.depth {
                    p.replace_backward(i + 1, &mut d, m, 1);
                }
            }
            d = block.backward(d);
        }
        d = self.tokens.backward(d);
        if let Some((p, m)) = self.prompt.as_mut().zip(mask.as_deref()) {
            p.replace_backward(0, &mut d, m, 0);
        }
        let mut patch_trains = false;
        self.patch
            .visit("", &mut |_, p| patch_trains |= p.trainable());
        if patch_trains {
            self.patch.backward(d);
        } else {
            self.patch.clear_cache();
        }
    }

    pub fn visit(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param)) {
        self.patch.visit(&join(prefix, "patch"), f);
        self.tokens.visit(&join(prefix, "tokens"), f);
        for (i, block) in self.blocks.iter_mut().enumerate() {
            block.visit(&join(prefix, &format!("block{i}")), f);
        }
        self.head.visit(&join(prefix, "head"), f);
        if let Some(p) = &mut self.prompt {
            f(&join(prefix, "mask_embedding"), &mut p.embedding);
        }
    }

    /// Only the encoder's own params (not the prompts).
    pub fn visit_encoder(&mut self, f: &mut dyn FnMut(&str, &mut Param)) {
        let prompt = self.prompt.take();
        self.visit("image", f);
        self.prompt = prompt;
    }

    fn describe(&self, input: &[usize], out: &mut Vec<arch::Layer>) {
        let mut shape = self.patch.describe("image.patch", input, out);
        shape = self.tokens.describe("image.tokens", &shape, out);
        for (i, block) in self.blocks.iter().enumerate() {
            shape = block.describe(&format!("image.block{i}"), &shape, out);
        }
        self.head.describe("image.head", &shape, out);
    }
}

pub struct TextTower {
    pub embed: TokenEmbed,
    pub tokens: ClsPosEmbed,
    pub blocks: Vec<Sequential>,
    pub head: Sequential,
}

impl TextTower {
    /// Embeddings `[N, embed]` of token rows `[N, context]`.
    pub fn forward(&mut self, ids: &[u32], context: usize, mode: Mode) -> Tensor {
        let n = ids.len() / context.max(1);
        let x = Tensor::from_vec(&[n, context], ids.iter().map(|&i| i as f32).collect());
        let mut t = self.embed.forward(x, mode);
        t = self.tokens.forward(t, mode);
        for block in &mut self.blocks {
            t = block.forward(t, mode);
        }
        self.head.forward(t, mode)
    }

    pub fn backward(&mut self, dy: Tensor) {
        let mut d = self.head.backward(dy);
        for block in self.blocks.iter_mut().rev() {
            d = block.backward(d);
        }
        d = self.tokens.backward(d);
        self.embed.backward(d);
    }

    pub fn visit(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Param)) {
        self.embed.visit(&join(prefix, "embed"), f);
        self.tokens.visit(&join(prefix, "tokens"), f);
        for (i, block) in self.blocks.iter_mut().enumerate() {
            block.visit(&join(prefix, &format!("block{i}")), f);
        }
        self.head.visit(&join(prefix, "head"), f);
    }

    fn describe(&self, context: usize, out: &mut Vec<arch::Layer>) {
        let mut shape = self.embed.describe("text.embed", &[context], out);
        shape = self.tokens.describe("text.tokens", &shape, out);
        for (i, block) in self.blocks.iter().enumerate() {
            shape = block.describe(&format!("text.block{i}"), &shape, out);
        }
        self.head.describe("text.head", &shape, out);
    }
}

pub struct DualEncoder {
    pub spec: DualEncoderSpec,
    pub image: ImageTower,
    pub text: TextTower,
    /// CLIP's learnable temperature as a log logit scale (trained by the
    /// contrastive loss; region classification uses OVSeg's fixed 100).
    pub logit_scale: Param,
}

/// Which parts of a dual encoder train.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trainable {
    pub image: bool,
    pub text: bool,
    pub prompt: bool,
    pub logit_scale: bool,
}

impl DualEncoder {
    /// Fresh towers from `spec.seed` (image tower first, then text tower).
    pub fn build(spec: &DualEncoderSpec) -> Result<DualEncoder, NnError> {
        spec.validate()?;
        let mut rng = Rng8::seed_from_u64(spec.seed);
        let (d, tokens) = (spec.dim, spec.grid_tokens());
        let image = ImageTower {
            patch: PatchEmbed::new(3, spec.patch, d, &mut rng),
            tokens: ClsPosEmbed::new(tokens, d, &mut rng),
            blocks: blocks(spec, spec.depth, &mut rng),
            head: projection_head(d, spec.embed, &mut rng),
            prompt: None,
            saved_mask: None,
        };
        let text = TextTower {
            embed: TokenEmbed {
                weight: normal(&mut rng, &[spec.words.len(), d], 0.02, ParamKind::NoDecay),
                saved: None,
            },
            tokens: ClsPosEmbed::new(spec.context, d, &mut rng),
            blocks: blocks(spec, spec.text_depth, &mut rng),
            head: projection_head(d, spec.embed, &mut rng),
        };
        let mut model = DualEncoder {
            spec: spec.clone(),
            image,
            text,
            logit_scale: Param::new(
                Tensor::from_vec(&[1], vec![INIT_LOG_SCALE]),
                ParamKind::NoDecay,
            ),
        };
        if let Some(depth) = spec.mask_prompt {
            // Zeros until the saved values are loaded over them.
            model.spec.mask_prompt = None;
            model.add_mask_prompt(depth, PromptInit::Zeros, 0)?;
        }
        Ok(model)
    }

    /// Rebuilds a saved dual encoder from its spec and weights.
    pub fn load(spec: &DualEncoderSpec, weights: &[u8]) -> Result<DualEncoder, NnError> {
        let mut model = DualEncoder::build(spec)?;
        params_from_safetensors(weights, &mut |f| model.visit(f))?;
        Ok(model)
    }

    /// Gives the image tower a fresh `mask_embedding` (depth × grid² × dim),
    /// replacing any it had.
    pub fn add_mask_prompt(
        &mut self,
        depth: usize,
        init: PromptInit,
        seed: u64,
    ) -> Result<(), NnError> {
        let mut spec = self.spec.clone();
        spec.mask_prompt = Some(depth);
        spec.validate()?;
        let mut rng = Rng8::seed_from_u64(seed);
        self.image.prompt = Some(MaskPrompt::new(
            depth,
            spec.grid_tokens(),
            spec.dim,
            init,
            &mut rng,
        ));
        self.spec = spec;
        Ok(())
    }

    /// Every param as `image.…`, `text.…`, `logit_scale`, in a fixed order.
    pub fn visit(&mut self, f: &mut dyn FnMut(&str, &mut Param)) {
        self.image.visit("image", f);
        self.text.visit("text", f);
        f("logit_scale", &mut self.logit_scale);
    }

    pub fn set_trainable(&mut self, which: Trainable) {
        let prompt = self.image.prompt.take();
        self.image
            .visit("", &mut |_, p| p.set_trainable(which.image));
        self.image.prompt = prompt;
        if let Some(p) = &mut self.image.prompt {
            p.embedding.set_trainable(which.prompt);
        }
        self.text.visit("", &mut |_, p| p.set_trainable(which.text));
        self.logit_scale.set_trainable(which.logit_scale);
    }

    pub fn zero_grad(&mut self) {
        self.visit(&mut |_, p| p.zero_grad());
    }

    /// One optimizer step over the trainable params; the gradient norm before clipping.
    pub fn step(&mut self, opt: &mut Optimizer, lr: f32, max_norm: f32) -> f32 {
        step_params(&mut |f| self.visit(f), opt, lr, max_norm)
    }

    pub fn trainable_params(&mut self) -> usize {
        let mut n = 0;
        self.visit(&mut |_, p| n += if p.trainable() { p.value.len() } else { 0 });
        n
    }

    pub fn save_weights(&mut self) -> Result<Vec<u8>, NnError> {
        params_to_safetensors(&mut |f| self.visit(f))
    }

    /// Token ids `[context]` of a text given as words: unknown words are an
    /// error naming the word, texts longer than the context are refused.
    pub fn tokenize(&self, words: &[&str]) -> Result<Vec<u32>, NnError> {
        if words.len() > self.spec.context {
            return Err(NnError::Config(format!(
                "the text `{}` has {} words; the text tower reads at most {}",
                words.join(" "),
                words.len(),
                self.spec.context
            )));
        }
        let mut ids = vec![0u32; self.spec.context];
        for (slot, word) in ids.iter_mut().zip(words) {
            let id = self.spec.words.iter().position(|w| w == word).ok_or_else(|| {
                NnError::Config(format!(
                    "the word `{word}` is not in the text tower's vocabulary; build the model with `input:` a dataset that has it"
                ))
            })?;
            *slot = id as u32;
        }
        Ok(ids)
    }

    /// The descriptor: image tower layers (`image.…`) on a `[3, crop, crop]`
    /// input, then text tower layers (`text.…`) on one text.
    pub fn arch(&self) -> Arch {
        let input = vec![3, self.spec.crop, self.spec.crop];
        let mut layers = Vec::new();
        self.image.describe(&input, &mut layers);
        self.text.describe(self.spec.context, &mut layers);
        Arch {
            name: "dual_encoder".to_string(),
            input,
            layers,
        }
    }
}
