//! pipe-lsp: the `.pipe` language server (`pipe lsp`), on lsp-server + lsp-types
//! over stdio. Diagnostics on open and on every change (the same as `pipe check`),
//! completion, hover, signature help, go to definition, references, rename,
//! document and workspace symbols, formatting (the same as `pipe fmt`), semantic
//! tokens (whole document or a range), folding ranges, quick fixes, inlay hints,
//! and the cache state of bindings through a provider the caller passes in.
//! It checks files through the front end (on a worker thread) and reads stage
//! signatures from the catalog; it never runs a stage and never writes a file.

mod analysis;
pub mod cache_state;
mod call_context;
mod capabilities;
mod check_worker;
mod code_actions;
mod completion;
mod describe;
mod diagnostics;
mod documents;
mod error;
mod folding;
mod formatting;
mod hover;
mod inlay_hints;
pub mod line_index;
mod loader;
mod navigation;
mod occurrences;
mod rename;
mod semantic_tokens;
mod server;
mod signature_help;
mod state;
mod symbols;
mod tokens;
pub mod transport;
mod uri;

pub use error::LspError;
pub use server::{serve, serve_with};

/// Serves the language server on stdin/stdout with the standard library's stage
/// catalog until the client shuts it down.
pub fn run_stdio() -> Result<(), LspError> {
    run_stdio_with(None)
}

/// `run_stdio`, showing the cache state of bindings read from `cache`.
pub fn run_stdio_with(cache: Option<&dyn cache_state::CacheStateProvider>) -> Result<(), LspError> {
    let (connection, io_threads) = transport::stdio()?;
    let served = serve_with(&connection, pipe_stdlib::Stdlib::get(), cache);
    drop(connection);
    served?;
    io_threads.join()?;
    Ok(())
}
