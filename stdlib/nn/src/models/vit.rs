//! `vit`: patch embedding, CLS token and learned position embeddings, pre-norm
//! transformer blocks (LayerNorm, multi-head self-attention, residual;
//! LayerNorm, GELU MLP, residual), and a LayerNorm + linear head on the CLS
//! token. Each transformer block is one block.

use super::{block, Builder};
use crate::activation::{Act, Activation};
use crate::attention::MultiHeadAttention;
use crate::dropout::Dropout;
use crate::init::Rng8;
use crate::linear::Linear;
use crate::network::Block;
use crate::norm::LayerNorm;
use crate::sequential::{Residual, Sequential};
use crate::tokens::{ClsPosEmbed, PatchEmbed, TakeCls};

pub(crate) fn build(
    b: &mut Builder,
    patch: usize,
    dim: usize,
    depth: usize,
    heads: usize,
    mlp_ratio: f32,
) -> Vec<Block> {
    let [c, h, w] = b.spec.input;
    let tokens = (h / patch) * (w / patch);
    let mut embed = Sequential::new();
    embed.push("patch", PatchEmbed::new(c, patch, dim, &mut b.rng));
    embed.push("tokens", ClsPosEmbed::new(tokens, dim, &mut b.rng));
    let mut blocks = vec![block("embed", embed)];
    let hidden = ((dim as f32 * mlp_ratio).round() as usize).max(1);
    for i in 0..depth {
        let dropout = (b.spec.dropout > 0.0).then(|| (b.dropout(), b.dropout()));
        let seq = transformer_block(dim, heads, hidden, dropout, &mut b.rng);
        blocks.push(block(format!("block{i}"), seq));
    }
    let mut head = Sequential::new();
    head.push("norm", LayerNorm::new(dim));
    head.push("cls", TakeCls::default());
    head.push("fc", Linear::new(dim, b.spec.classes, true, &mut b.rng));
    blocks.push(block("head", head));
    blocks
}

/// One pre-norm transformer block on tokens `[N, T, dim]`: LayerNorm,
/// multi-head self-attention, residual; LayerNorm, GELU MLP of width `hidden`,
/// residual. `dropout` (after attention, after the MLP) when given.
pub(crate) fn transformer_block(
    dim: usize,
    heads: usize,
    hidden: usize,
    dropout: Option<(Dropout, Dropout)>,
    rng: &mut Rng8,
) -> Sequential {
    let (attn_drop, mlp_drop) = dropout.unzip();
    let mut attn = Sequential::new();
    attn.push("norm1", LayerNorm::new(dim));
    attn.push("attn", MultiHeadAttention::new(dim, heads, rng));
    if let Some(d) = attn_drop {
        attn.push("dropout", d);
    }
    let mut mlp = Sequential::new();
    mlp.push("norm2", LayerNorm::new(dim));
    mlp.push("fc1", Linear::new(dim, hidden, true, rng));
    mlp.push("act", Activation::new(Act::Gelu));
    mlp.push("fc2", Linear::new(hidden, dim, true, rng));
    if let Some(d) = mlp_drop {
        mlp.push("dropout", d);
    }
    let mut seq = Sequential::new();
    seq.push("attn", Residual { body: attn });
    seq.push("mlp", Residual { body: mlp });
    seq
}
