//! Artifacts: the values stages produce and consume (datasets, models, metrics,
//! tables, plots, files for the user), and how each is persisted as a set of named files in a cache
//! entry. Persistence is exact: what `from_files` rebuilds is what was saved.

use crate::dataset::Dataset;
use crate::metrics::{Metrics, Plot, Table};
use crate::model::Model;
use crate::output_file::OutputFile;
use crate::StageError;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One produced value. Cheap to clone: big payloads are behind `Arc`.
#[derive(Debug, Clone)]
pub enum Artifact {
    Dataset(Arc<Dataset>),
    Model(Arc<Model>),
    Metrics(Arc<Metrics>),
    Table(Arc<Table>),
    Plot(Arc<Plot>),
    File(Arc<OutputFile>),
}

/// Named files of one artifact, e.g. `weights.safetensors` and `arch.json`.
pub type Files = BTreeMap<String, Vec<u8>>;

impl Artifact {
    pub fn kind(&self) -> &'static str {
        match self {
            Artifact::Dataset(_) => "dataset",
            Artifact::Model(_) => "model",
            Artifact::Metrics(_) => "metrics",
            Artifact::Table(_) => "table",
            Artifact::Plot(_) => "plot",
            Artifact::File(_) => "file",
        }
    }

    pub fn to_files(&self) -> Result<Files, StageError> {
        match self {
            Artifact::Dataset(d) => d.to_files(),
            Artifact::Model(m) => m.to_files(),
            Artifact::Metrics(m) => m.to_files(),
            Artifact::Table(t) => t.to_files(),
            Artifact::Plot(p) => p.to_files(),
            Artifact::File(f) => f.to_files(),
        }
    }

    pub fn from_files(kind: &str, files: &Files) -> Result<Artifact, StageError> {
        Ok(match kind {
            "dataset" => Artifact::Dataset(Arc::new(Dataset::from_files(files)?)),
            "model" => Artifact::Model(Arc::new(Model::from_files(files)?)),
            "metrics" => Artifact::Metrics(Arc::new(Metrics::from_files(files)?)),
            "table" => Artifact::Table(Arc::new(Table::from_files(files)?)),
            "plot" => Artifact::Plot(Arc::new(Plot::from_files(files)?)),
            "file" => Artifact::File(Arc::new(OutputFile::from_files(files)?)),
            other => {
                return Err(StageError::Corrupt(format!(
                    "unknown artifact kind `{other}`"
                )))
            }
        })
    }
}

/// Reads one named file of an artifact, or says which is missing.
pub fn file<'a>(files: &'a Files, name: &str) -> Result<&'a [u8], StageError> {
    files
        .get(name)
        .map(Vec::as_slice)
        .ok_or_else(|| StageError::Corrupt(format!("missing file `{name}`")))
}

/// Reads one named JSON file of an artifact.
pub fn json_file<T: serde::de::DeserializeOwned>(
    files: &Files,
    name: &str,
) -> Result<T, StageError> {
    serde_json::from_slice(file(files, name)?)
        .map_err(|e| StageError::Corrupt(format!("`{name}`: {e}")))
}

/// Serializes a value as one JSON file.
pub fn json_bytes<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StageError> {
    serde_json::to_vec(value).map_err(|e| StageError::Internal(format!("serializing: {e}")))
}

/// f32 values as little-endian bytes, the layout of every `*.f32` file.
pub fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Reads a `*.f32` file written by `f32_bytes`; `name` is for the error.
pub fn f32_from_bytes(raw: &[u8], name: &str) -> Result<Vec<f32>, StageError> {
    if !raw.len().is_multiple_of(4) {
        return Err(StageError::Corrupt(format!(
            "`{name}` is not a whole number of f32 values"
        )));
    }
    Ok(raw
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}
