//! pipe-interp: checked program -> stage graph -> cache lookups -> parallel
//! execution -> reports; watch mode. One module per subcommand (`cmd_*`) plus one
//! per concept of the interpreter.

pub mod cache;
pub mod cmd_check;
pub mod cmd_doc;
pub mod cmd_fmt;
pub mod executor;
pub mod graph;
pub mod key;
pub mod loader;
pub mod progress;
pub mod report;
pub mod schedule;
pub mod stage_input;
pub mod stage_set;
