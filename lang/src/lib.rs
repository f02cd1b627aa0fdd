//! pipe-lang: source text -> checked program. The whole front end of `.pipe`:
//! lexing, parsing with recovery, name resolution, type and unit checking,
//! formatting and diagnostics. It performs no I/O: imported files come through
//! the `SourceLoader` trait, stage signatures through the `Catalog` trait.

pub mod ast;
pub mod catalog;
pub mod check;
pub mod codes;
pub mod diagnostic;
pub mod fold;
pub mod format;
pub mod lexer;
pub mod parser;
pub mod program;
mod relocate;
pub mod render;
pub mod span;
pub mod suggest;
pub mod types;
pub mod units;
pub mod value;

pub use check::check;
pub use format::format;
pub use parser::{parse, Parsed};
