//! pipe-lsp: the `.pipe` language server (`pipe lsp`), on lsp-server + lsp-types
//! over stdio. Diagnostics on open and on every change (the same as `pipe check`),
//! completion, hover, signature help, go to definition, references, rename,
//! document symbols, formatting (the same as `pipe fmt`), semantic tokens (whole
//! document or a range) and folding ranges.
//! It checks files through the front end and reads stage signatures from the
//! catalog; it never runs a stage and never writes a file.

mod analysis;
mod call_context;
mod capabilities;
mod completion;
mod describe;
mod diagnostics;
mod documents;
mod error;
mod folding;
mod formatting;
mod hover;
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
pub use server::serve;

/// Serves the language server on stdin/stdout with the standard library's stage
/// catalog until the client shuts it down.
pub fn run_stdio() -> Result<(), LspError> {
    let (connection, io_threads) = transport::stdio()?;
    let served = serve(&connection, pipe_stdlib::Stdlib::get());
    drop(connection);
    served?;
    io_threads.join()?;
    Ok(())
}
