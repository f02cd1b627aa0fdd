//! The `Model` artifact: an architecture descriptor (JSON, readable by the
//! simulators) plus weights as safetensors, so a cached model rebuilds without
//! rerunning the stage that made it.

use crate::artifact::{file, Files};
use crate::StageError;

#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The architecture descriptor as JSON (layer list with shapes).
    pub arch: Vec<u8>,
    /// safetensors bytes.
    pub weights: Vec<u8>,
}

impl Model {
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
