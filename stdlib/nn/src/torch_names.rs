//! PyTorch weight files: reads and writes a `Network`'s weights as safetensors
//! under the parameter names a PyTorch model of the same architecture has
//! (docs/weights.md lists them per family). Our Linear and Conv2d layouts are
//! PyTorch's (`[out, in]`, `[out, in/groups, kh, kw]`), so only names change.
//! It owns the name mapping and the checks that a file fits the network; it
//! must never guess a missing tensor, reshape one, or touch the layers' maths.

use crate::error::NnError;
use crate::network::Network;
use crate::param::Param;
use crate::spec::{Family, ModelSpec};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::{HashMap, HashSet};

/// PyTorch's BatchNorm counter: we keep no such state, so loading ignores it
/// and export writes it as an int64 scalar 0 (what a fresh module holds), so
/// the file has exactly the names of `model.state_dict()`.
const BN_COUNTER: &str = "num_batches_tracked";

/// `(ours, PyTorch's)` for every param and buffer, in `Network::visit` order.
pub fn name_pairs(net: &mut Network) -> Result<Vec<(String, String)>, NnError> {
    let family = net.spec.family.clone();
    let mut ours = Vec::new();
    net.visit(&mut |name, _| ours.push(name.to_string()));
    ours.into_iter()
        .map(|name| {
            let torch = torch_name(&family, &name).ok_or_else(|| {
                NnError::Weights(format!(
                    "`{name}` has no PyTorch name: {} models cannot be read from or written \
                     to PyTorch files",
                    net.spec.name()
                ))
            })?;
            Ok((name, torch))
        })
        .collect()
}

/// Overwrites every param and buffer from a PyTorch safetensors file. Nothing
/// changes unless every tensor is present as F32 with our shape and the file
/// holds nothing else (BatchNorm's `num_batches_tracked` aside).
pub fn load_torch(net: &mut Network, bytes: &[u8]) -> Result<(), NnError> {
    let pairs = name_pairs(net)?;
    let file = SafeTensors::deserialize(bytes)
        .map_err(|e| NnError::Weights(format!("not a safetensors file: {e}")))?;
    let mut shapes = Vec::new();
    net.visit(&mut |_, p| shapes.push(p.value.shape.clone()));
    for ((_, torch), shape) in pairs.iter().zip(&shapes) {
        check_tensor(&file, torch, &torch_shape(&net.spec, torch, shape))?;
    }
    check_no_extra(&file, &pairs)?;
    let mut index = 0;
    net.visit(&mut |_, p| {
        // Checked above: present, F32 and of this param's shape.
        if let Ok(view) = file.tensor(&pairs[index].1) {
            copy_f32(view.data(), p);
        }
        index += 1;
    });
    Ok(())
}

/// Every param and buffer as a PyTorch safetensors file (f32, little-endian),
/// with `num_batches_tracked` as int64 0 beside each BatchNorm: byte for byte
/// what PyTorch's `save_file(model.state_dict())` writes.
pub fn export_torch(net: &mut Network) -> Result<Vec<u8>, NnError> {
    export_torch_with(net, None)
}

/// [`export_torch`] with string metadata in the file's header (`format: pt`
/// is added, as PyTorch's own writer does when given metadata).
pub fn export_torch_with(
    net: &mut Network,
    metadata: Option<HashMap<String, String>>,
) -> Result<Vec<u8>, NnError> {
    let pairs = name_pairs(net)?;
    let spec = net.spec.clone();
    let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    let mut index = 0;
    net.visit(&mut |_, p| {
        let bytes = p.value.data.iter().flat_map(|v| v.to_le_bytes()).collect();
        let torch = &pairs[index].1;
        let shape = torch_shape(&spec, torch, &p.value.shape);
        tensors.push((torch.clone(), Dtype::F32, shape, bytes));
        if let Some(bn) = torch.strip_suffix(".running_var") {
            tensors.push((format!("{bn}.{BN_COUNTER}"), Dtype::I64, vec![], vec![0; 8]));
        }
        index += 1;
    });
    let views = tensors
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            TensorView::new(*dtype, shape.clone(), bytes)
                .map(|v| (name.clone(), v))
                .map_err(|e| NnError::Weights(format!("`{name}`: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let metadata = metadata.map(|mut m| {
        m.insert("format".into(), "pt".into());
        m
    });
    safetensors::serialize(views, metadata).map_err(|e| NnError::Weights(e.to_string()))
}

fn check_tensor(file: &SafeTensors, torch: &str, shape: &[usize]) -> Result<(), NnError> {
    let view = file.tensor(torch).map_err(|_| {
        NnError::Weights(format!(
            "`{torch}` (shape {shape:?}) is missing; the file is of another architecture \
             or configuration"
        ))
    })?;
    if view.dtype() != Dtype::F32 {
        return Err(NnError::Weights(format!(
            "`{torch}` is {:?}; save the model as float32 (`model.float()`) first",
            view.dtype()
        )));
    }
    if view.shape() != shape {
        return Err(NnError::Weights(format!(
            "`{torch}` has shape {:?}, the configuration needs {shape:?}",
            view.shape()
        )));
    }
    Ok(())
}

/// The first (by name) tensor the network has no place for.
fn check_no_extra(file: &SafeTensors, pairs: &[(String, String)]) -> Result<(), NnError> {
    let known: HashSet<&str> = pairs.iter().map(|(_, t)| t.as_str()).collect();
    let mut names = file.names();
    names.sort();
    let extra = names.into_iter().find(|n| {
        let counter = n
            .strip_suffix(BN_COUNTER)
            .and_then(|bn| bn.strip_suffix('.'))
            .is_some_and(|bn| known.contains(format!("{bn}.running_var").as_str()));
        !known.contains(*n) && !counter
    });
    match extra {
        Some(name) => Err(NnError::Weights(format!(
            "`{name}` is not a tensor of this network; the file is of another architecture \
             or configuration"
        ))),
        None => Ok(()),
    }
}

fn copy_f32(bytes: &[u8], p: &mut Param) {
    for (v, c) in p.value.data.iter_mut().zip(bytes.chunks_exact(4)) {
        *v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    }
}

/// PyTorch's name for our `name` in a network of `family`; `None` for a
/// family or layer without one.
fn torch_name(family: &Family, name: &str) -> Option<String> {
    let (block, rest) = name.split_once('.')?;
    match family {
        Family::Mlp { .. } => mlp_name(block, rest),
        Family::Cnn { .. } => cnn_name(block, rest),
        Family::Vit { .. } => vit_name(block, rest),
        Family::MobilenetV2 {
            blocks, expansion, ..
        } => mobilenet_v2_name(block, rest, *blocks, *expansion),
        Family::MobilenetV3 {
            blocks,
            expansion,
            se,
            ..
        } => mobilenet_v3_name(
            block,
            rest,
            V3 {
                blocks: *blocks,
                expansion: *expansion,
                se: *se,
            },
        ),
        _ => None,
    }
}

/// `hidden.{i}` (an `nn.ModuleList` of `nn.Linear`) and `head`.
fn mlp_name(block: &str, rest: &str) -> Option<String> {
    let param = rest.strip_prefix("fc.")?;
    if block == "head" {
        return Some(format!("head.{param}"));
    }
    let i = block.strip_prefix("hidden")?;
    Some(format!("hidden.{i}.{param}"))
}

/// `stages.{i}.conv` / `stages.{i}.bn`, then `fc1` (the hidden layer) and `head`.
fn cnn_name(block: &str, rest: &str) -> Option<String> {
    if block == "head" {
        let (layer, param) = rest.split_once('.')?;
        return match layer {
            "fc1" => Some(format!("fc1.{param}")),
            "fc" => Some(format!("head.{param}")),
            _ => None,
        };
    }
    let i = block.strip_prefix("stage")?;
    let (layer, param) = rest.split_once('.')?;
    let torch = match layer {
        "conv" => "conv",
        "conv_bn" => "bn",
        _ => return None,
    };
    Some(format!("stages.{i}.{torch}.{param}"))
}

/// PyTorch's shape of a tensor whose data is ours unchanged (same order):
/// timm's patch embedding is a stride-`patch` Conv2d where ours is a Linear on
/// (channel, y, x) rows, and its CLS token and position embeddings carry
/// leading batch axes of 1.
fn torch_shape(spec: &ModelSpec, torch: &str, ours: &[usize]) -> Vec<usize> {
    if matches!(spec.family, Family::MobilenetV3 { .. }) && is_se_weight(torch) {
        return [ours, &[1, 1]].concat();
    }
    let Family::Vit { patch, dim, .. } = spec.family else {
        return ours.to_vec();
    };
    match torch {
        "patch_embed.proj.weight" => vec![dim, spec.input[0], patch, patch],
        "cls_token" => vec![1, 1, dim],
        "pos_embed" => [&[1], ours].concat(),
        _ => ours.to_vec(),
    }
}

/// timm's `VisionTransformer`: `patch_embed.proj`, `cls_token`, `pos_embed`,
/// `blocks.{i}.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}`, `norm`, `head`.
fn vit_name(block: &str, rest: &str) -> Option<String> {
    match (block, rest) {
        ("embed", "patch.proj.weight") => return Some("patch_embed.proj.weight".into()),
        ("embed", "patch.proj.bias") => return Some("patch_embed.proj.bias".into()),
        ("embed", "tokens.cls") => return Some("cls_token".into()),
        ("embed", "tokens.pos") => return Some("pos_embed".into()),
        ("head", _) => {
            let (layer, param) = rest.split_once('.')?;
            let torch = match layer {
                "norm" => "norm",
                "fc" => "head",
                _ => return None,
            };
            return Some(format!("{torch}.{param}"));
        }
        _ => {}
    }
    let i = block.strip_prefix("block")?;
    let (_residual, inner) = rest.split_once('.')?;
    let (layer, param) = inner.rsplit_once('.')?;
    let torch = match layer {
        "norm1" | "attn.qkv" | "attn.proj" | "norm2" => layer.to_string(),
        "fc1" | "fc2" => format!("mlp.{layer}"),
        _ => return None,
    };
    Some(format!("blocks.{i}.{torch}.{param}"))
}

/// torchvision's `MobileNetV2` layout: `features.0` the stem
/// (`Conv2dNormActivation`: `.0` conv, `.1` BatchNorm), `features.{i+1}.conv`
/// the inverted residual blocks, `features.{blocks+1}` the head convolution,
/// `classifier.1` the classifier.
fn mobilenet_v2_name(block: &str, rest: &str, blocks: usize, expansion: usize) -> Option<String> {
    let (layer, param) = rest.split_once('.')?;
    let conv_bn = |index: usize| match layer {
        "conv" => Some(format!("features.{index}.0.{param}")),
        "conv_bn" => Some(format!("features.{index}.1.{param}")),
        _ => None,
    };
    match block {
        "stem" => return conv_bn(0),
        "head" if layer == "fc" => return Some(format!("classifier.1.{param}")),
        "head" => return conv_bn(blocks + 1),
        _ => {}
    }
    let i: usize = block.strip_prefix("block")?.parse().ok()?;
    let rest = rest.strip_prefix("residual.").unwrap_or(rest);
    let (layer, param) = rest.split_once('.')?;
    // Without expansion torchvision has no expand conv, so indices shift down.
    let shift = usize::from(expansion == 1);
    let index = match layer {
        "expand" if shift == 0 => "0.0".to_string(),
        "expand_bn" if shift == 0 => "0.1".to_string(),
        "dw" => format!("{}.0", 1 - shift),
        "dw_bn" => format!("{}.1", 1 - shift),
        "project" => (2 - shift).to_string(),
        "project_bn" => (3 - shift).to_string(),
        _ => return None,
    };
    Some(format!("features.{}.conv.{index}.{param}", i + 1))
}

/// torchvision's squeeze-excite layers are 1×1 convolutions `[out, in, 1, 1]`
/// where ours are Linear `[out, in]`.
fn is_se_weight(torch: &str) -> bool {
    torch.ends_with(".fc1.weight") || torch.ends_with(".fc2.weight")
}

/// torchvision's `MobileNetV3` layout: `features.0` the stem,
/// `features.{i+1}.block.{k}` the inverted residual blocks (expand, depthwise,
/// squeeze-excite `fc1`/`fc2`, projection; each conv a `Conv2dNormActivation`
/// with `.0` conv and `.1` BatchNorm), `features.{blocks+1}` the head
/// convolution, `classifier.1` the classifier (ours has no hidden layer).
fn mobilenet_v3_name(block: &str, rest: &str, v3: V3) -> Option<String> {
    if !block.starts_with("block") {
        return mobilenet_v2_name(block, rest, v3.blocks, v3.expansion);
    }
    let i: usize = block.strip_prefix("block")?.parse().ok()?;
    let rest = rest.strip_prefix("residual.").unwrap_or(rest);
    let (layer, param) = rest.split_once('.')?;
    let expand = usize::from(v3.expansion != 1);
    // Squeeze-excite sits in the Hard-Swish blocks, every stage after the first
    // (models/mobilenet.rs).
    let se = usize::from(v3.se && i * 5 / v3.blocks.max(1) > 0);
    let index = match layer {
        "expand" if expand == 1 => "0.0".to_string(),
        "expand_bn" if expand == 1 => "0.1".to_string(),
        "dw" => format!("{expand}.0"),
        "dw_bn" => format!("{expand}.1"),
        "se" if se == 1 => (expand + 1).to_string(),
        "project" => format!("{}.0", expand + 1 + se),
        "project_bn" => format!("{}.1", expand + 1 + se),
        _ => return None,
    };
    Some(format!("features.{}.block.{index}.{param}", i + 1))
}

/// What `mobilenet_v3_name` needs of the family.
#[derive(Clone, Copy)]
struct V3 {
    blocks: usize,
    expansion: usize,
    se: bool,
}
