//! The cache state `pipe lsp` shows on bindings: the interpreter's
//! `binding_state` (read from the cache beside the file, nothing run) handed to
//! the language server through its provider trait, so neither crate depends on
//! the other.

use pipe_lsp::cache_state::{BindingState, CacheStateProvider, FileStates};
use std::path::Path;

/// Reads cache states from the default cache directory beside each file
/// (`.pipe-cache/`), with the standard library's stages.
pub struct FromCache;

impl CacheStateProvider for FromCache {
    fn states(&self, file: &Path) -> Result<FileStates, String> {
        let states = pipe_interp::binding_state::states_of(file, pipe_stdlib::Stdlib::get())?;
        Ok(states
            .into_iter()
            .map(|(name, s)| {
                let state = BindingState {
                    summary: s.summary,
                    detail: s.detail,
                };
                (name, state)
            })
            .collect())
    }
}
