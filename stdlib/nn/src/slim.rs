//! Slimmable networks: one set of weights over several width multipliers
//! (Joslim-style, docs/papers.md section 9). Owns the width API on a `Network`
//! built from `Family::Slimmable` (choose a width, its descriptor, start from a
//! base network's weights), the per-width profile saved in the spec, and the
//! validation of slimmable specs. The layers are in `slim::layers`, the channel
//! plan in `models/slimmable.rs`, sandwich training in `slim::sandwich` (finished by
//! `slim::recalibrate`), latency
//! measurement in `slim::latency`. Never trains or times anything itself.

pub mod latency;
pub mod layers;
pub mod recalibrate;
pub mod sandwich;

use crate::error::NnError;
use crate::layer::Layer;
use crate::network::Network;
use crate::spec::{Family, ModelSpec};
use pipe_sim::arch::Arch;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What was measured for one width; saved in the spec so it travels with the
/// model. Latencies are whole nanoseconds so they save and load exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WidthProfile {
    pub width: f64,
    pub macs: u64,
    pub flops: u64,
    /// Multiply-accumulate weights active at this width.
    pub weights: u64,
    /// Median forward latency (evaluation mode) at batch 1 and batch 64.
    pub latency_b1_ns: u64,
    pub latency_b64_ns: u64,
    /// Classification accuracy at this width, once trained and evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f32>,
}

/// The label of a width in names: `0.35`, `1`.
pub fn width_label(width: f64) -> String {
    format!("{width}")
}

/// The widths of a slimmable spec, ascending; `None` for any other family.
pub fn widths(spec: &ModelSpec) -> Option<&[f64]> {
    match &spec.family {
        Family::Slimmable { widths, .. } => Some(widths),
        _ => None,
    }
}

/// The measured profile of a slimmable spec (empty when not measured).
pub fn profile(spec: &ModelSpec) -> &[WidthProfile] {
    match &spec.family {
        Family::Slimmable { profile, .. } => profile,
        _ => &[],
    }
}

/// Replaces the profile saved in a slimmable spec.
pub fn set_profile(spec: &mut ModelSpec, measured: Vec<WidthProfile>) {
    if let Family::Slimmable { profile, .. } = &mut spec.family {
        *profile = measured;
    }
}

fn not_slimmable(spec: &ModelSpec) -> NnError {
    NnError::Config(format!(
        "a `{}` network has no widths; make it with `model.slimmable(base: ...)`",
        spec.name()
    ))
}

/// Makes every slim layer run at width `index` (into the ascending widths).
pub fn set_width(net: &mut Network, index: usize) -> Result<(), NnError> {
    let count = widths(&net.spec)
        .ok_or_else(|| not_slimmable(&net.spec))?
        .len();
    if index >= count {
        return Err(NnError::Config(format!(
            "width index {index} is out of range: the network has {count} widths"
        )));
    }
    select_width(net, index);
    Ok(())
}

/// `set_width` for an index known to be in range (a no-op on other networks).
pub(crate) fn select_width(net: &mut Network, index: usize) {
    for block in &mut net.blocks {
        block.body.for_each_layer(&mut |l| layers::select(l, index));
    }
}

/// The descriptor of width `index`, named `<base>@<width>`; the network is
/// left at that width.
pub fn width_arch(net: &mut Network, index: usize) -> Result<Arch, NnError> {
    set_width(net, index)?;
    let mut arch = net.arch();
    if let Family::Slimmable { base, widths, .. } = &net.spec.family {
        arch.name = format!("{}@{}", family_name(base), width_label(widths[index]));
    }
    Ok(arch)
}

/// The base family's name of a slimmable spec (`mobilenet_v2`, ...).
pub fn base_name(spec: &ModelSpec) -> Option<&'static str> {
    match &spec.family {
        Family::Slimmable { base, .. } => Some(family_name(base)),
        _ => None,
    }
}

fn family_name(family: &Family) -> &'static str {
    ModelSpec {
        family: family.clone(),
        input: [1, 1, 1],
        classes: 2,
        dropout: 0.0,
        seed: 0,
    }
    .name()
}

/// A slimmable network over `widths` whose shared weights and every width's
/// batch-norm statistics start from `base`'s (a `mlp`, `cnn` or
/// `mobilenet_v2`); `seed` seeds its dropout.
pub fn from_base(base: &mut Network, widths: Vec<f64>, seed: u64) -> Result<Network, NnError> {
    let spec = ModelSpec {
        family: Family::Slimmable {
            base: Box::new(base.spec.family.clone()),
            widths,
            profile: Vec::new(),
        },
        input: base.spec.input,
        classes: base.spec.classes,
        dropout: base.spec.dropout,
        seed,
    };
    let mut net = Network::build(&spec)?;
    let mut values = HashMap::new();
    base.visit(&mut |name, p| {
        values.insert(name.to_string(), p.value.data.clone());
    });
    let mut missing = None;
    net.visit(&mut |name, p| {
        let shared = name.split('@').next().unwrap_or(name);
        match values.get(shared) {
            Some(v) if v.len() >= p.value.len() => {
                let n = p.value.len();
                p.value.data.copy_from_slice(&v[..n]);
            }
            _ => missing = Some(name.to_string()),
        }
    });
    match missing {
        Some(name) => Err(NnError::Weights(format!(
            "the base network has no weights for `{name}`"
        ))),
        None => Ok(net),
    }
}

/// Checks a slimmable spec: a supported base that is itself valid, widths in
/// (0, 1] ascending without repeats, a profile per width or none.
pub(crate) fn validate(
    spec: &ModelSpec,
    base: &Family,
    widths: &[f64],
    profile: &[WidthProfile],
) -> Result<(), NnError> {
    if !matches!(
        base,
        Family::Mlp { .. } | Family::Cnn { .. } | Family::MobilenetV2 { .. }
    ) {
        return Err(NnError::Config(format!(
            "`model.slimmable` supports `mlp`, `cnn` and `mobilenet_v2` bases, not `{}`",
            family_name(base)
        )));
    }
    ModelSpec {
        family: base.clone(),
        ..spec.clone()
    }
    .validate()?;
    if widths.is_empty() {
        return Err(NnError::Config("`widths` needs at least one width".into()));
    }
    if let Some(w) = widths.iter().find(|w| !(**w > 0.0 && **w <= 1.0)) {
        return Err(NnError::Config(format!(
            "width {w} is outside (0, 1]; widths are fractions of the base network's channels"
        )));
    }
    if widths.windows(2).any(|p| p[1] <= p[0]) {
        return Err(NnError::Config(format!(
            "`widths` {widths:?} must be ascending without repeats"
        )));
    }
    if !profile.is_empty() && profile.len() != widths.len() {
        return Err(NnError::Config(format!(
            "the saved profile has {} entries for {} widths",
            profile.len(),
            widths.len()
        )));
    }
    Ok(())
}

/// The channels width `width` keeps of `full` (at least one), the same
/// rounding as the simulators' `workload::slim`.
pub fn scaled(full: usize, width: f64) -> usize {
    ((full as f64 * width).round() as usize).max(1)
}

#[cfg(test)]
mod tests;
