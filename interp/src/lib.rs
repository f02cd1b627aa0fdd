//! pipe-interp: checked program -> stage graph -> cache lookups -> parallel
//! execution -> reports; watch mode. One module per subcommand (`cmd_*`) plus one
//! per concept of the interpreter.

pub mod cmd_check;
pub mod cmd_doc;
pub mod cmd_fmt;
pub mod loader;
