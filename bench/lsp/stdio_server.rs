//! The language server on stdin/stdout, built in the bench profile next to the
//! `lsp_latency` bench, for `bench/lsp/side_by_side.py --pipe` when a release
//! `pipe` binary is not at hand: it is `pipe lsp` without the cache-state
//! provider (no cache states in hover and inlay hints), the same checking and
//! publishing. Any arguments (the script passes `lsp`) are ignored.
//! Build: `cargo build --release -p pipe-lsp --example lsp_stdio`.

// The `pipe` binary runs on mimalloc; so does this.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), pipe_lsp::LspError> {
    pipe_lsp::run_stdio()
}
