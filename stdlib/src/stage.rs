//! The contract between the interpreter and a stage implementation: what a stage
//! receives (`StageInput`), what it returns (`StageOutput`), what it may use while
//! running (`StageContext`) and how it fails (`StageError`). A stage is a pure
//! function of its input: it reads files only through `path` parameters, and never
//! touches the cache.

use crate::artifact::Artifact;
use pipe_lang::catalog::StageSig;
use pipe_lang::value::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// An argument as a stage sees it.
#[derive(Debug, Clone)]
pub enum Input {
    Value(Value),
    Artifact(Artifact),
    /// A record of inputs (e.g. a whole `train.supervised(...)` result).
    Record(BTreeMap<String, Input>),
    /// The points of a sweep, in order: the point's binder values and its input.
    Sweep(Vec<SweepPoint>),
}

#[derive(Debug, Clone)]
pub struct SweepPoint {
    /// `pe=int8,rows=16`
    pub label: String,
    pub coords: BTreeMap<String, Value>,
    pub value: Input,
}

#[derive(Debug, Clone, Default)]
pub struct StageInput {
    /// Every parameter of the signature, defaults filled in.
    pub args: BTreeMap<String, Input>,
}

impl StageInput {
    pub fn get(&self, name: &str) -> Result<&Input, StageError> {
        self.args
            .get(name)
            .ok_or_else(|| StageError::Internal(format!("argument `{name}` was not passed")))
    }

    pub fn value(&self, name: &str) -> Result<&Value, StageError> {
        match self.get(name)? {
            Input::Value(v) => Ok(v),
            _ => Err(StageError::Internal(format!(
                "argument `{name}` is not a value"
            ))),
        }
    }

    pub fn f64(&self, name: &str) -> Result<f64, StageError> {
        self.value(name)?
            .as_f64()
            .ok_or_else(|| StageError::Internal(format!("argument `{name}` is not a number")))
    }

    pub fn usize(&self, name: &str) -> Result<usize, StageError> {
        let v = self.value(name)?;
        v.as_i64()
            .and_then(|i| usize::try_from(i).ok())
            .ok_or_else(|| {
                StageError::Invalid(format!("`{name}` must be a non-negative integer, got {v}"))
            })
    }

    pub fn u64(&self, name: &str) -> Result<u64, StageError> {
        Ok(self.usize(name)? as u64)
    }

    pub fn str(&self, name: &str) -> Result<&str, StageError> {
        self.value(name)?
            .as_str()
            .ok_or_else(|| StageError::Internal(format!("argument `{name}` is not a string")))
    }

    pub fn bool(&self, name: &str) -> Result<bool, StageError> {
        self.value(name)?
            .as_bool()
            .ok_or_else(|| StageError::Internal(format!("argument `{name}` is not a bool")))
    }

    pub fn artifact(&self, name: &str) -> Result<&Artifact, StageError> {
        match self.get(name)? {
            Input::Artifact(a) => Ok(a),
            _ => Err(StageError::Internal(format!(
                "argument `{name}` is not an artifact"
            ))),
        }
    }

    pub fn dataset(&self, name: &str) -> Result<&crate::dataset::Dataset, StageError> {
        match self.artifact(name)? {
            Artifact::Dataset(d) => Ok(d),
            other => Err(StageError::Internal(format!(
                "`{name}` is a {}, not a dataset",
                other.kind()
            ))),
        }
    }

    pub fn model(&self, name: &str) -> Result<&crate::model::Model, StageError> {
        match self.artifact(name)? {
            Artifact::Model(m) => Ok(m),
            other => Err(StageError::Internal(format!(
                "`{name}` is a {}, not a model",
                other.kind()
            ))),
        }
    }
}

/// What a stage returns: its artifact or record of artifacts, plus headline
/// numbers the run summary shows for the node.
#[derive(Debug, Clone)]
pub struct StageOutput {
    pub outputs: Outputs,
    pub metrics: BTreeMap<String, f64>,
}

#[derive(Debug, Clone)]
pub enum Outputs {
    Single(Artifact),
    Record(BTreeMap<String, Artifact>),
}

impl StageOutput {
    pub fn single(artifact: Artifact) -> Self {
        StageOutput {
            outputs: Outputs::Single(artifact),
            metrics: BTreeMap::new(),
        }
    }

    pub fn record(fields: impl IntoIterator<Item = (&'static str, Artifact)>) -> Self {
        StageOutput {
            outputs: Outputs::Record(
                fields
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
            ),
            metrics: BTreeMap::new(),
        }
    }

    pub fn with_metrics(mut self, metrics: &BTreeMap<String, f64>) -> Self {
        self.metrics
            .extend(metrics.iter().map(|(k, v)| (k.clone(), *v)));
        self
    }
}

/// Reports progress of a long stage (epochs, generations); the interpreter shows
/// a bar when stdout is a terminal.
pub trait Progress: Sync {
    fn set_total(&self, total: u64, unit: &str);
    fn advance(&self, done: u64);
}

/// A progress sink that shows nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn set_total(&self, _: u64, _: &str) {}
    fn advance(&self, _: u64) {}
}

pub struct StageContext<'a> {
    /// The directory of the `.pipe` file; `path` parameters are relative to it.
    pub base_dir: PathBuf,
    pub progress: &'a dyn Progress,
    /// Set when the run is cancelled (Ctrl-C, or watch saw the inputs change);
    /// long stages poll it between steps and return `StageError::Cancelled`.
    pub cancel: &'a AtomicBool,
}

impl StageContext<'_> {
    pub fn resolve(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    pub fn check_cancelled(&self) -> Result<(), StageError> {
        if self.cancel.load(Ordering::Relaxed) {
            Err(StageError::Cancelled)
        } else {
            Ok(())
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// A user-facing problem with an input file: names the file and what to do.
    #[error("{path}: {message}")]
    File { path: String, message: String },
    /// An argument that passed the checker but makes no sense together with others.
    #[error("{0}")]
    Invalid(String),
    #[error("stage `{0}` is not implemented yet")]
    NotImplemented(String),
    #[error("cancelled")]
    Cancelled,
    /// A stored artifact that does not decode.
    #[error("corrupt artifact: {0}")]
    Corrupt(String),
    /// A bug: the interpreter passed something the signature does not allow.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A batch a streaming dataset could not read: the message names the file.
impl From<pipe_nn::train::SampleError> for StageError {
    fn from(e: pipe_nn::train::SampleError) -> Self {
        StageError::Invalid(e.0)
    }
}

pub type RunFn = fn(&StageInput, &StageContext) -> Result<StageOutput, StageError>;

/// A signature and, once written, its implementation.
pub struct StageDef {
    pub sig: StageSig,
    pub run: Option<RunFn>,
}
