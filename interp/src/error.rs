//! The interpreter's typed errors at its public seams: running a file from Rust
//! (`run::run_file`), naming bindings (`graph::Graph::roots`), and assembling a
//! stage's input (`stage_input`). Each says what went wrong in words a user can
//! act on; the subcommands render them. This module only defines errors; it
//! never prints or exits.

use crate::cache::CacheError;
use crate::frontend::FrontendError;
use crate::run::RunError;

/// Why `run::run_file` produced no outcome.
#[derive(Debug, thiserror::Error)]
pub enum RunFileError {
    /// The file does not load: unreadable, diagnostics, a bad `--set`.
    #[error(transparent)]
    Load(#[from] FrontendError),
    #[error("{0}")]
    Cache(#[from] CacheError),
    /// The local thread pool could not start.
    #[error("{0}")]
    Executor(String),
    #[error(transparent)]
    Run(#[from] RunError),
}

/// A binding name the file does not define (`pipe run FILE NAME`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("no binding named `{name}` in the file{}", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
pub struct UnknownBinding {
    pub name: String,
    pub suggestion: Option<String>,
}

/// Why a node's input could not be assembled from its input nodes' outputs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputError {
    /// An input node's output is not available (it failed, or was not loaded).
    #[error("{0}")]
    Unavailable(String),
    #[error("the stage produced no output `{0}`")]
    NoSuchOutput(String),
    #[error("the stage has one output, not a field `{0}`")]
    SingleOutput(String),
}
