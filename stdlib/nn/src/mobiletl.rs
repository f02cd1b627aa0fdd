//! MobileTL (docs/papers.md section 3) on one inverted residual block of
//! `mobilenet_v2` / `mobilenet_v3`: the two inner BatchNorms (after the
//! expansion and after the depthwise convolution) train only their shift with
//! frozen scale and statistics, so they keep no activation; the last BatchNorm
//! (after the projection) trains fully; convolution weights train; the block's
//! ReLU6 / Hard-Swish activations keep a packed 1-bit mask instead of their
//! input. It only reconfigures layers the model builder made; it never adds or
//! removes any.
//!
//! Layers are found by the names `models/mobilenet.rs` gives them (`expand`,
//! `dw`, `project`, each with `_bn` and, but for the projection, `_act`); a
//! block built otherwise is refused rather than half converted.

use crate::activation::{Activation, HardSwishMask};
use crate::error::NnError;
use crate::layer::Layer;
use crate::network::Block;
use crate::norm::BatchNorm2d;
use crate::sequential::{Residual, Sequential};

/// The inner norms MobileTL trains shift-only (no `expand_bn` at expansion 1).
pub const INNER_NORMS: [&str; 2] = ["expand_bn", "dw_bn"];
/// The activations whose backward becomes a 1-bit mask.
pub const MASKED_ACTS: [&str; 2] = ["expand_act", "dw_act"];
/// The norm that keeps training fully.
pub const LAST_NORM: &str = "project_bn";

/// The inverted residual body of a block: inside its `Residual` when it has one.
pub fn inverted_residual_mut(block: &mut Block) -> Option<&mut Sequential> {
    let is_wrapped = block.body.layers.len() == 1 && block.body.layers[0].0 == "residual";
    let body = if is_wrapped {
        &mut block.body.layers[0]
            .1
            .as_any_mut()
            .downcast_mut::<Residual>()?
            .body
    } else {
        &mut block.body
    };
    body.layers
        .iter()
        .any(|(name, _)| name == LAST_NORM)
        .then_some(body)
}

/// The layer named `name` in `seq`, if it is a `T`.
pub fn layer_mut<'a, T: Layer + 'static>(seq: &'a mut Sequential, name: &str) -> Option<&'a mut T> {
    seq.layers
        .iter_mut()
        .find(|(n, _)| n == name)
        .and_then(|(_, l)| l.as_any_mut().downcast_mut::<T>())
}

/// Converts `block` to MobileTL training: shift-only inner norms with frozen
/// statistics, a fully trained last norm, 1-bit activation masks. Conv weights
/// keep whatever trainability the caller gave them.
pub fn convert_block(block: &mut Block, hswish: HardSwishMask) -> Result<(), NnError> {
    let name = block.name.clone();
    let body = inverted_residual_mut(block).ok_or_else(|| not_irb(&name))?;
    for norm in INNER_NORMS {
        if let Some(bn) = layer_mut::<BatchNorm2d>(body, norm) {
            shift_only(bn);
        }
    }
    let last = layer_mut::<BatchNorm2d>(body, LAST_NORM).ok_or_else(|| not_irb(&name))?;
    last.freeze_stats = false;
    last.weight.set_trainable(true);
    last.bias.set_trainable(true);
    for act in MASKED_ACTS {
        if let Some(a) = layer_mut::<Activation>(body, act) {
            a.pack_backward(hswish)?;
        }
    }
    Ok(())
}

/// Frozen scale and statistics, trainable shift.
pub fn shift_only(bn: &mut BatchNorm2d) {
    bn.freeze_stats = true;
    bn.weight.set_trainable(false);
    bn.bias.set_trainable(true);
}

fn not_irb(name: &str) -> NnError {
    NnError::Config(format!(
        "block `{name}` is not an inverted residual block; finetune.mobiletl needs a `model.mobilenet_v2` or `model.mobilenet_v3`"
    ))
}
