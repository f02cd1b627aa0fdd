//! Cache state in the editor: whether each binding's stage calls are cached or
//! would rerun, and why. The language server only defines what it asks
//! (`CacheStateProvider`) and shows the answers (hover, inlay hints); the `pipe`
//! binary implements the provider on its cache, so this crate never depends on
//! the interpreter. Providers read the cache; they never run a stage.

use std::collections::BTreeMap;
use std::path::Path;

/// The state of one binding's stage calls, as a person reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingState {
    /// One short line for an inlay hint: `cached (key 1a2b3c4d5e6f, 3s ago)`,
    /// `will rerun: argument `lr` changed: 0.1 -> 0.2`.
    pub summary: String,
    /// The full explanation for hover (what `pipe explain FILE NAME` prints).
    pub detail: String,
}

/// The states of a saved file's bindings, by binding name; bindings that run no
/// stage are absent.
pub type FileStates = BTreeMap<String, BindingState>;

/// Reads the cache state of the bindings of a `.pipe` file as saved on disk.
/// Called off the request thread, once per open and per save.
pub trait CacheStateProvider: Send + Sync {
    /// The states of `file`'s bindings, or one line saying why there are none
    /// (the file has errors, no cache exists yet).
    fn states(&self, file: &Path) -> Result<FileStates, String>;
}
