//! The `Model` artifact: `arch.json` (the architecture descriptor, readable by
//! the simulators, plus under the key `spec` the configuration that rebuilds
//! the network) and `weights.safetensors`, so a cached model rebuilds without
//! rerunning the stage that made it. A model without `spec` (a simulator
//! workload) has a descriptor but no network. A quantized model also keeps its
//! fake-quantization hooks under the key `quant`, beside its float weights.
//! A `model.dual_encoder` keeps, under the key `dual_encoder`, the spec that
//! rebuilds both towers; its one weights file names tensors `image.…`,
//! `text.…` and `logit_scale`, and its descriptor lists both towers' layers.

use crate::artifact::{file, Files};
use crate::StageError;
use pipe_nn::models::dual_encoder::{DualEncoder, DualEncoderSpec};
use pipe_nn::quant::QuantState;
use pipe_nn::{ModelSpec, Network, NnError};
use pipe_sim::arch::Arch;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// `arch.json`: the descriptor's JSON object, with `spec` beside its fields.
    pub arch: Vec<u8>,
    /// safetensors bytes; empty for a workload.
    pub weights: Vec<u8>,
}

/// `arch.json`: the descriptor's own fields, flattened, so a reader that wants
/// only an `Arch` decodes the same file.
#[derive(Serialize, Deserialize)]
struct ArchFile {
    #[serde(flatten)]
    arch: Arch,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spec: Option<ModelSpec>,
    /// Fake-quantization hooks by layer name (bits, scales, zero points, ranges);
    /// absent for a float model.
    #[serde(default, skip_serializing_if = "QuantState::is_empty")]
    quant: QuantState,
    /// For a `model.dual_encoder`: the spec that rebuilds both towers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dual_encoder: Option<DualEncoderSpec>,
}

/// Maps a backend error onto the stage contract.
pub fn nn_error(e: NnError) -> StageError {
    match e {
        NnError::Config(m) => StageError::Invalid(m),
        NnError::Weights(m) => StageError::Corrupt(m),
    }
}

fn arch_json(file: &ArchFile) -> Result<Vec<u8>, StageError> {
    serde_json::to_vec(file)
        .map_err(|e| StageError::Internal(format!("serializing arch.json: {e}")))
}

impl Model {
    /// Saves a trained or fresh network: its spec, descriptor and weights.
    pub fn from_network(net: &mut Network) -> Result<Model, StageError> {
        let file = ArchFile {
            arch: net.arch(),
            spec: Some(net.spec.clone()),
            quant: pipe_nn::quant::state(net),
            dual_encoder: None,
        };
        let arch = serde_json::to_vec(&file)
            .map_err(|e| StageError::Internal(format!("serializing arch.json: {e}")))?;
        Ok(Model {
            arch,
            weights: net.save_weights().map_err(nn_error)?,
        })
    }

    /// Saves both towers of a dual encoder (and its mask prompts, if any).
    pub fn from_dual_encoder(model: &mut DualEncoder) -> Result<Model, StageError> {
        let file = ArchFile {
            arch: model.arch(),
            spec: None,
            quant: QuantState::default(),
            dual_encoder: Some(model.spec.clone()),
        };
        Ok(Model {
            arch: arch_json(&file)?,
            weights: model.save_weights().map_err(nn_error)?,
        })
    }

    /// The dual encoder with its saved weights, or an error saying what this model is.
    pub fn dual_encoder(&self) -> Result<DualEncoder, StageError> {
        let file = self.arch_file()?;
        let Some(spec) = file.dual_encoder else {
            return Err(StageError::Invalid(format!(
                "model `{}` is not a `model.dual_encoder`; this stage needs an image/text pair",
                file.arch.name
            )));
        };
        DualEncoder::load(&spec, &self.weights).map_err(nn_error)
    }

    /// Whether this is a `model.dual_encoder`.
    pub fn is_dual_encoder(&self) -> bool {
        self.arch_file().is_ok_and(|f| f.dual_encoder.is_some())
    }

    fn arch_file(&self) -> Result<ArchFile, StageError> {
        serde_json::from_slice(&self.arch)
            .map_err(|e| StageError::Corrupt(format!("`arch.json`: {e}")))
    }

    /// The architecture descriptor (layer list with real shapes).
    pub fn descriptor(&self) -> Result<Arch, StageError> {
        Ok(self.arch_file()?.arch)
    }

    /// The configuration that rebuilds the network.
    pub fn spec(&self) -> Result<ModelSpec, StageError> {
        let file = self.arch_file()?;
        if file.dual_encoder.is_some() {
            return Err(StageError::Invalid(
                "a `model.dual_encoder` is two towers, not one classifier; use it with \
                 `train.contrastive`, `finetune.mask_prompt`, `finetune.full` or `eval.segment`"
                    .into(),
            ));
        }
        file.spec.ok_or_else(|| {
            StageError::Invalid(format!(
                "model `{}` is an architecture description without weights; train or evaluate a `model.*` network instead",
                self.descriptor().map(|a| a.name).unwrap_or_default()
            ))
        })
    }

    /// The network with its saved weights and quantization hooks.
    pub fn network(&self) -> Result<Network, StageError> {
        let mut net = Network::load(&self.spec()?, &self.weights).map_err(nn_error)?;
        pipe_nn::quant::apply(&mut net, &self.arch_file()?.quant).map_err(nn_error)?;
        Ok(net)
    }

    pub fn to_files(&self) -> Result<Files, StageError> {
        Ok(Files::from([
            ("arch.json".to_string(), self.arch.clone()),
            ("weights.safetensors".to_string(), self.weights.clone()),
        ]))
    }

    pub fn from_files(files: &Files) -> Result<Self, StageError> {
        Ok(Model {
            arch: file(files, "arch.json")?.to_vec(),
            weights: file(files, "weights.safetensors")?.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipe_nn::{Family, Mode, Tensor};

    fn network() -> Network {
        let spec = ModelSpec {
            family: Family::Cnn {
                channels: vec![4],
                kernel: 3,
                hidden: 0,
            },
            input: [1, 4, 4],
            classes: 3,
            dropout: 0.0,
            seed: 9,
        };
        Network::build(&spec).unwrap()
    }

    #[test]
    fn files_round_trip_to_bit_identical_outputs() {
        let mut net = network();
        let x = Tensor::from_vec(&[2, 1, 4, 4], (0..32).map(|i| i as f32 / 32.0).collect());
        let want = net.forward(x.clone(), Mode::Eval);
        let files = Model::from_network(&mut net).unwrap().to_files().unwrap();
        let model = Model::from_files(&files).unwrap();
        let got = model.network().unwrap().forward(x, Mode::Eval);
        assert_eq!(got.data, want.data);
        // Readers that want only the descriptor decode the same file as an `Arch`.
        let plain: Arch = serde_json::from_slice(&files["arch.json"]).unwrap();
        assert_eq!(plain, model.descriptor().unwrap());
    }

    #[test]
    fn a_workload_without_spec_says_it_has_no_network() {
        let arch = serde_json::to_vec(&network().arch()).unwrap();
        let model = Model {
            arch,
            weights: Vec::new(),
        };
        assert!(model.descriptor().is_ok());
        let err = model.network().err().unwrap().to_string();
        assert!(err.contains("without weights"), "{err}");
    }

    #[test]
    fn corrupt_files_are_reported() {
        let model = Model {
            arch: b"{".to_vec(),
            weights: Vec::new(),
        };
        assert!(model
            .descriptor()
            .err()
            .unwrap()
            .to_string()
            .contains("arch.json"));
    }
}
