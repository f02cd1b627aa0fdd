//! Implementations of `model.mlp`, `model.cnn`, `model.vit`,
//! `model.mobilenet_v2` and `model.mobilenet_v3`: read the parameters, take
//! the input shape and classes from the `input` dataset, and build a freshly
//! initialised network on the tensor backend; `model.export` writes one back
//! as PyTorch safetensors.

use crate::artifact::Artifact;
use crate::dataset::{Dataset, DatasetData};
use crate::model::{nn_error, Model};
use crate::params::Seed;
use crate::stage::{StageContext, StageError, StageInput, StageOutput};
use pipe_lang::value::Value;
use pipe_nn::{Family, ModelSpec, Network};
use std::collections::BTreeMap;
use std::sync::Arc;

pub fn mlp(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    build(
        input,
        ctx,
        Family::Mlp {
            hidden: sizes(input, "hidden")?,
        },
    )
}

pub fn cnn(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    build(
        input,
        ctx,
        Family::Cnn {
            channels: sizes(input, "channels")?,
            kernel: input.usize("kernel")?,
            hidden: input.usize("hidden")?,
        },
    )
}

pub fn vit(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    build(
        input,
        ctx,
        Family::Vit {
            patch: input.usize("patch")?,
            dim: input.usize("dim")?,
            depth: input.usize("depth")?,
            heads: input.usize("heads")?,
            mlp_ratio: input.f64("mlp_ratio")? as f32,
        },
    )
}

pub fn mobilenet_v2(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    build(
        input,
        ctx,
        Family::MobilenetV2 {
            width: input.f64("width")? as f32,
            blocks: input.usize("blocks")?,
            expansion: input.usize("expansion")?,
        },
    )
}

pub fn mobilenet_v3(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    build(
        input,
        ctx,
        Family::MobilenetV3 {
            width: input.f64("width")? as f32,
            blocks: input.usize("blocks")?,
            expansion: input.usize("expansion")?,
            se: input.bool("se")?,
        },
    )
}

/// A list-of-int parameter as layer sizes.
pub fn sizes(input: &StageInput, name: &str) -> Result<Vec<usize>, StageError> {
    let Value::List(items) = input.value(name)? else {
        return Err(StageError::Internal(format!(
            "argument `{name}` is not a list"
        )));
    };
    items
        .iter()
        .map(|v| {
            v.as_i64()
                .and_then(|i| usize::try_from(i).ok())
                .filter(|&i| i > 0)
                .ok_or_else(|| {
                    StageError::Invalid(format!("`{name}` must hold positive integers, got {v}"))
                })
        })
        .collect()
}

/// One sample's (C, H, W) and the class count: of an image set, or of a video
/// set's frames (a backbone for `model.detector`).
fn sample_shape(data: &Dataset) -> Result<([usize; 3], usize), StageError> {
    if let DatasetData::Videos(v) = &data.data {
        return Ok(([v.channels, v.height, v.width], v.classes()));
    }
    let d = data.image_view()?;
    Ok((d.shape(), d.classes()))
}

fn build(
    input: &StageInput,
    ctx: &StageContext,
    family: Family,
) -> Result<StageOutput, StageError> {
    let (shape, classes) = sample_shape(input.dataset("input")?)?;
    let spec = ModelSpec {
        family,
        input: shape,
        classes,
        dropout: input.f64("dropout")? as f32,
        seed: Seed::read(input)?,
    };
    let mut net = Network::build(&spec).map_err(nn_error)?;
    load_pytorch_weights(input, ctx, &mut net)?;
    model_output(&mut net, &[])
}

/// Overwrites the fresh weights with the `weights:` file's, when one is named.
fn load_pytorch_weights(
    input: &StageInput,
    ctx: &StageContext,
    net: &mut Network,
) -> Result<(), StageError> {
    let path = input.str("weights")?;
    if path.is_empty() {
        return Ok(());
    }
    let file = ctx.resolve(path);
    let bytes = std::fs::read(&file).map_err(|e| {
        StageError::Invalid(format!(
            "cannot read `weights` file {}: {e}",
            file.display()
        ))
    })?;
    pipe_nn::torch_names::load_torch(net, &bytes)
        .map_err(|e| StageError::Invalid(format!("{}: {e}", file.display())))
}

/// A freshly built network as a stage's `Model` output, with its size metrics
/// (`params`, `macs`) and any `extra` ones.
pub fn model_output(net: &mut Network, extra: &[(&str, f64)]) -> Result<StageOutput, StageError> {
    let mut metrics = BTreeMap::from([
        ("params".to_string(), net.trainable_params() as f64),
        ("macs".to_string(), net.arch().macs() as f64),
    ]);
    metrics.extend(extra.iter().map(|(k, v)| (k.to_string(), *v)));
    let model = Model::from_network(net)?;
    Ok(StageOutput::single(Artifact::Model(Arc::new(model))).with_metrics(&metrics))
}

/// `model.export`: the PyTorch-named safetensors of `model` (quantized weights
/// baked in), with `params` and `bytes` as metrics.
pub fn export(input: &StageInput, _ctx: &StageContext) -> Result<StageOutput, StageError> {
    let mut net = input.model("model")?.network()?;
    let bits = pipe_nn::quant::bake(&mut net);
    let mut metadata = std::collections::HashMap::from([(
        "pipe.architecture".to_string(),
        net.spec.name().to_string(),
    )]);
    if let Some((weights, activations)) = bits {
        metadata.insert("pipe.weight_bits".into(), weights);
        metadata.insert("pipe.activation_bits".into(), activations);
    }
    let bytes =
        pipe_nn::torch_names::export_torch_with(&mut net, Some(metadata)).map_err(nn_error)?;
    let metrics = BTreeMap::from([
        ("params".to_string(), net.trainable_params() as f64),
        ("bytes".to_string(), bytes.len() as f64),
    ]);
    let file = crate::output_file::OutputFile {
        extension: "safetensors".into(),
        bytes,
    };
    Ok(StageOutput::single(Artifact::File(Arc::new(file))).with_metrics(&metrics))
}
